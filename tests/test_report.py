"""The report/ package: the strict view of a results file, and the build on real script output.

P3, P5 and the answer key run for real (float64, a few seconds); the expected strings are formatted
here from their JSON, never copied from the builder's output.
"""
from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import ANSWER_WORDS, main_body_words, opening_words, without_field, words

import answer_key
import p3_rnn_bptt
import p5_lstm
from common.core.cli import ROOT, UserError
from report import build
from report.fields import MissingField, Strict, load
from report.md import sig, table


@pytest.fixture(scope="module")
def rnn_results(tmp_path_factory) -> Path:
    """A figures folder holding the real p3/p5 results and answer key (no CNN problem run)."""
    folder = tmp_path_factory.mktemp("figures")
    for script in (p3_rnn_bptt, p5_lstm, answer_key):
        script.main(["--out", str(folder)])
    return folder


def build_in(folder: Path, *flags: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "report", "--figures", str(folder), *flags],
                          cwd=ROOT, capture_output=True, text=True)


def section(text: str, start: str) -> str:
    """From the heading line that contains `start` to the next heading of any level."""
    lines = text.splitlines()
    i = next(k for k, ln in enumerate(lines) if ln.startswith("#") and start in ln)
    j = next((k for k in range(i + 1, len(lines)) if lines[k].startswith("#")), len(lines))
    return "\n".join(lines[i:j])


def test_strict_view_names_the_missing_field_with_its_path_and_fix():
    r = Strict({"a": {"b": [1, {"c": 2}]}}, "p9_results.json", "python p9.py")
    assert r["a"]["b"][1]["c"] == 2 and "a" in r and "z" not in r and len(r["a"]["b"]) == 2
    with pytest.raises(MissingField, match=r"p9_results.json has no field 'a.b\[1\].d': rerun `python p9.py`"):
        r["a"]["b"][1]["d"]
    with pytest.raises(MissingField, match=r"'a.b\[2\]'"):
        r["a"]["b"][2]
    assert [x for x in r["a"]["b"]][0] == 1 and r["a"]["b"].raw == [1, {"c": 2}]
    with pytest.raises(TypeError, match="with 'in'"):
        r.get("a")


def test_load_tells_a_missing_file_from_a_broken_one(tmp_path):
    assert load(tmp_path / "p1_results.json", "python p1.py") is None
    (tmp_path / "p1_results.json").write_text('{"cut short": ')
    with pytest.raises(UserError, match=r"p1_results.json is not a readable JSON file .*rerun `python p1.py`"):
        load(tmp_path / "p1_results.json", "python p1.py")
    (tmp_path / "p1_results.json").write_text("[1, 2]")
    with pytest.raises(UserError, match="holds a JSON list, not a dict"):
        load(tmp_path / "p1_results.json", "python p1.py")


@pytest.mark.parametrize("broken", ["cut short", "list"])
def test_a_broken_results_file_is_fixed_by_the_command_it_names(rnn_results, tmp_path, broken):
    text = (rnn_results / "p3_results.json").read_text()
    (tmp_path / "p3_results.json").write_text(text[:200] if broken == "cut short" else "[1, 2]")
    done = build_in(tmp_path)
    assert done.returncode == 2 and done.stdout == "" and not (tmp_path / "evidence.md").exists()
    assert done.stderr.count("\n") == 1 and "p3_results.json" in done.stderr
    command = re.findall(r"`([^`]+)`", done.stderr)
    assert len(command) == 1 and command[0].endswith(f"p3_rnn_bptt.py --out {tmp_path}")
    assert subprocess.run(shlex.split(command[0]), cwd=ROOT, capture_output=True).returncode == 0
    assert build_in(tmp_path).returncode == 0 and (tmp_path / "evidence.md").exists()


@pytest.mark.parametrize("n, path", [(3, ("grad_b_bptt",)), (3, ("intermediate", 0, "dL_dh")),
                                     (5, ("params", "b_f")), (5, ("intermediate", 2, "dL_da_f"))])
def test_deleting_a_field_the_renderer_reads_fails_naming_it(rnn_results, tmp_path, n, path):
    without_field(rnn_results, tmp_path, n, path)
    done = build_in(tmp_path)
    dotted = re.sub(r"\.(\d+)", r"[\1]", ".".join(map(str, path)))
    assert done.returncode == 2 and f"has no field '{dotted}'" in done.stderr, done.stderr
    assert done.stderr.count("\n") == 1


def test_not_run_problems_are_named_and_the_rest_builds(rnn_results):
    done = build_in(rnn_results)
    assert done.returncode == 0, done.stderr
    for name in ("evidence.md", "solution.md"):
        text = (rnn_results / name).read_text()
        for script in ("p1_cnn_filters.py", "p2_occlusion.py", "p4_experiments.py"):
            # the command that fills this folder, not figures/
            assert f"`.venv/bin/python {script} --out {rnn_results}`" in text and script in done.stdout
        assert "## P3:" in text and "## P5:" in text
    assert "## Answer key" in (rnn_results / "key.md").read_text()


def test_rnn_sections_open_with_short_answers_carrying_the_numbers(rnn_results):
    build_in(rnn_results)
    text = (rnn_results / "evidence.md").read_text()
    p3 = json.loads((rnn_results / "p3_results.json").read_text())
    p5 = json.loads((rnn_results / "p5_results.json").read_text())
    expected = {"P3 (1)": [sig(p3["loss"], 8), sig(p3["yhat"][2])], "P3 (2)": [sig(p3["grad_b_central"][1], 8)],
                "P3 (3)": [sig(p3["grad_b_bptt"], 8)], "P3 (4)": [sig(p3["b_new"], 8)],
                "P3 (5)": [sig(p3["loss_new"], 8)], "P5 Outputs": [sig(p5["loss"], 8), sig(p5["grad_b_f_bptt"], 8)]}
    for head, numbers in expected.items():
        lines = section(text, head).splitlines()[2:]
        assert lines[0].startswith("**Answer.**"), head
        assert opening_words(lines) <= ANSWER_WORDS, head
        assert all(x in lines[0] for x in numbers), (head, numbers)


def test_p3_intermediates_appear_once_each_in_the_bptt_table(rnn_results):
    build_in(rnn_results)
    s3 = section((rnn_results / "evidence.md").read_text(), "P3 (3)")
    p3 = json.loads((rnn_results / "p3_results.json").read_text())
    for row in p3["intermediate"]:
        for key in ("dL_dyhat", "dL_do", "dL_dh", "one_minus_h2", "dL_da"):
            if any(row[key]):  # ∂L/∂ŷ(t) = ∂L/∂o(t) = 0 for t < τ repeat by construction
                assert s3.count(sig(row[key])) == 1, (key, row["t"])


def test_word_counts_skip_details_and_punctuation():
    text = "**Answer.** yes 3 | a |\n<details><summary>x</summary>\nmany words here\n</details>\nend"
    assert words(text) == 7 and main_body_words(text) == 4  # yes 3 a end
    assert opening_words(["one two", "", "| t |", "three"]) == 2
    assert opening_words(["one two", "### next", "three"]) == 2


def test_table_escapes_pipes_inside_cells():
    assert table(["|d|"], [["a|b"]])[2] == "| a\\|b |"


def test_check_links_fails_in_one_line_naming_the_missing_figure(rnn_results, tmp_path):
    for f in rnn_results.glob("*"):
        (tmp_path / f.name).write_bytes(f.read_bytes())
    assert build_in(tmp_path, "--check-links").returncode == 0
    (tmp_path / "p5_forget_bias_grad.png").unlink()
    done = build_in(tmp_path, "--check-links")
    assert done.returncode == 1 and done.stderr.count("\n") == 1
    assert "p5_forget_bias_grad.png" in done.stderr and "p3_unrolled_rnn.png" not in done.stderr


def test_readme_regions_are_replaced_and_the_rest_is_untouched(rnn_results, tmp_path):
    readme = tmp_path / "README.md"
    names = ("reference-run", "results-table", "figures-list")
    readme.write_text("KEEP-TOP\n" + "".join(f"<!-- {n}:start -->\nOLD\n<!-- {n}:end -->\nKEEP-{n}\n" for n in names))
    build.main(["--figures", str(rnn_results), "--readme", str(readme)])
    text = readme.read_text()
    p3 = json.loads((rnn_results / "p3_results.json").read_text())
    assert "OLD" not in text and "KEEP-TOP" in text and all(f"KEEP-{n}" in text for n in names)
    assert f"| P3: loss L | {sig(p3['loss'], 8)} |" in text


def test_p5_backward_steps_are_shown_for_every_t(rnn_results):
    build_in(rnn_results)
    s5 = section((rnn_results / "evidence.md").read_text(), "P5 Outputs")
    p5 = json.loads((rnn_results / "p5_results.json").read_text())
    for row in p5["intermediate"]:
        for key in ("dL_dh", "dL_ds", "dL_df", "dL_da_f", "dL_da_g", "dL_da_q", "dL_da_z"):
            if any(row[key]):
                assert sig(row[key]) in s5, (key, row["t"])
    assert all(f"{k} = {sig(p5['params'][k])}, " in s5 for k in ("b", "b_f", "b_g", "b_o"))
    assert "forget gate starts mostly open, σ(1) = 0.73" in s5 and "σ'(2) = 0.10" in s5  # 1/(1+e^-1), σ(2)σ(−2)


def key_section(text: str) -> str:
    return text[text.index("## Answer key\n"):]


def test_the_answer_key_is_a_grader_s_rubric(rnn_results, tmp_path):
    """What to accept for each model-dependent answer; grade.py's own tolerance; P3's log bases with
    h(0) stated once; part (2) in float32 beside float64 with the rounding bound; 5-digit vectors."""
    from common.grading.matching import DEFAULT_RTOL

    build_in(rnn_results)
    key = key_section((rnn_results / "key.md").read_text())
    answer_key = json.loads((rnn_results / "answer_key.json").read_text())
    rows = answer_key["readings"]
    for part in ("P1 (3)", "P2 (2), (3)", "P4 (1)", "P4 (2)", "P4 (3)"):
        assert f"**{part}**" in key
    assert "clamp padding" in key and "fix U and W; learn V and c" in key and "f ≈ 1" in key
    assert f"rtol = {DEFAULT_RTOL:g}" in key and "rtol × |right value|" in key
    assert "### P3: the base of the logarithm" in key and "| log | ŷ(3) |" in key and "h(0) = 0." in key
    e = rows[0]
    assert f"| e | {sig(e['grad_central'])} | {sig(e['grad_central_float32'])} |" in key
    assert f"{e['central_rounding_bound']['float32']:.1e}" in key and f"{e['central_rounding_bound']['float64']:.0e}" in key
    assert f"**{sig(e['grad'])}**" in key and sig(e["grad"]) == "[-0.0099614, 0.43401]"  # bold: the report's own
    # a row with another h(0) brings the column back
    for f in rnn_results.glob("*.json"):
        (tmp_path / f.name).write_text(f.read_text())
    rows[1]["interpretation"]["h0"] = [0.5, 0.0]
    (tmp_path / "answer_key.json").write_text(json.dumps(answer_key))
    build_in(tmp_path)
    assert "| log | h(0) | ŷ(3) |" in key_section((tmp_path / "key.md").read_text())


def test_an_answer_key_from_before_the_float32_row_names_its_script(rnn_results, tmp_path):
    for f in rnn_results.glob("*.json"):
        (tmp_path / f.name).write_text(f.read_text())
    answer_key = json.loads((tmp_path / "answer_key.json").read_text())
    del answer_key["readings"][0]["grad_central_float32"]
    (tmp_path / "answer_key.json").write_text(json.dumps(answer_key))
    done = build_in(tmp_path)
    assert done.returncode == 2 and "grad_central_float32" in done.stderr and "answer_key.py" in done.stderr
