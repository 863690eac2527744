"""report/p1.py on P1's real output (the tiny CNN of conftest's p1_run): each sub-question opens with
a short answer, the main body keeps its budget, every channel's sentence is its own, the printed
answers are the report's, and a missing field stops the build with its name."""
import copy
import json
import re

import pytest
from helpers import ANSWER_WORDS, main_body_words, numbers_masked, opening_words

from report import p1 as words
from report.fields import MissingField, Strict
from report.md import Figures
from report.render import NOTES, problem_lines

P1_BUDGET = 900  # main-body words of the whole of P1


def render(results: dict, folder) -> str:
    r = Strict(json.loads(json.dumps(results)), "p1_results.json", "python p1_cnn_filters.py")
    return "\n".join(problem_lines(1, r, Figures(folder, NOTES)))


def sections(text: str) -> dict[str, list[str]]:
    return {part.splitlines()[0]: part.splitlines()[2:] for part in text.split("### ")[1:]}


def test_each_section_opens_with_a_short_answer_and_p1_keeps_its_budget(p1_run):
    out, results, _ = p1_run
    text = render(results, out)
    parts = sections(text)
    assert [h.split(" ")[1] for h in parts] == ["(1)", "(2)", "(3)"]
    for head, lines in parts.items():
        assert lines[0].startswith("**Answer.**"), head
        assert opening_words(lines) <= ANSWER_WORDS, head
    assert main_body_words(text) <= P1_BUDGET


def test_the_answers_carry_their_numbers(p1_run):
    out, results, _ = p1_run
    parts = list(sections(render(results, out)).values())
    d, s = results["discriminant"], results["shift"]
    assert f"{d['ablation']['margin_after']:.2f}" in parts[1][0]
    assert f"{d['ablation']['random_margin_after_median']:.2f}" in parts[1][0]
    held = sum(v["beats_random"] for v in d["seeds"].values())
    assert f"{held} of {len(d['seeds'])}" in parts[1][0]
    assert f"{100 * results['shift_accuracy']['-3']:.1f}%" in parts[2][0]
    assert f"{s['mechanism']['-3']['from_moved_features']:+.2f}" in parts[2][0]
    cos = results["filters"]["statistics"]["conv1"]["cosine_with_initial_median"].values()
    assert f"{min(cos):.2f}" in parts[0][0]


def channel_bullets(text: str) -> list[str]:
    return [ln for ln in sections(text)["P1 (2) Conv3 feature maps of a '0' and an '8'"] if ln.startswith("- ")]


def test_every_channel_has_its_own_sentence_computed_for_it(p1_run):
    out, results, _ = p1_run
    bullets = channel_bullets(render(results, out))
    cells = results["discriminant"]["top_cells"]
    masked = [numbers_masked(b) for b in bullets]
    assert len(set(masked)) == len(masked)  # channels alike but for numbers share one bullet
    for c in cells:
        mine = [b for b in bullets if re.search(rf"[Cc]hannels? (\d+, )*(\d+ and )?{c['channel']}\b", b)]
        assert len(mine) == 1, c["channel"]
        assert c["region"] in mine[0] and f"fire{'s' if mine[0].startswith('- Channel ') else ''} for {c['fires_for']}s" in mine[0]
        assert f"({c['row']}, {c['col']})" in mine[0] and f"d = {c['d_evaluated']:+.2f} held out" in mine[0]
        assert f"{c['responds_to']['majority']}s" in mine[0]


def test_channels_that_differ_only_in_numbers_share_one_sentence(p1_run):
    out, results, _ = p1_run
    planted = copy.deepcopy(results)
    cells = planted["discriminant"]["top_cells"]
    twin = copy.deepcopy(cells[0])
    twin.update(channel=99, d_evaluated=twin["d_evaluated"] + 0.5, row=twin["row"])
    cells.insert(1, twin)
    bullets = channel_bullets(render(planted, out))
    masked = [numbers_masked(b) for b in bullets]
    assert len(set(masked)) == len(masked)
    shared = [b for b in bullets if b.startswith("- Channels ") and "channel 99:" in b]
    assert len(shared) == 1 and f"channel {cells[0]['channel']}:" in shared[0]


def test_the_script_prints_the_reports_words(p1_run):
    out, results, printed = p1_run
    for head, lines in sections(render(results, out)).items():
        assert head in printed and lines[0] in printed


@pytest.mark.parametrize("path", [("discriminant", "separation"), ("filters", "null"),
                                  ("shift", "mechanism"), ("model", "pool_sides")])
def test_a_missing_field_stops_the_build_naming_it(p1_run, path):
    out, results, _ = p1_run
    broken = copy.deepcopy(results)
    del broken[path[0]][path[1]]
    with pytest.raises(MissingField, match=re.escape(".".join(path))):
        render(broken, out)
        words.header_rows(Strict(broken, "p1_results.json", "python p1_cnn_filters.py"))
