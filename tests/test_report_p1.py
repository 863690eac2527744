"""report.py's P1 sections on synthetic P1 results (tests/helpers.py's synthetic_p1): each answer and
number in its own sub-question. Expected strings are formatted here from the inputs, never copied
from the builder's output.
"""
from __future__ import annotations

from helpers import synthetic_p1

import report


def render(tmp_path, fn, r):
    return "\n".join(fn(r, report.Figures(tmp_path)))


def test_filters_section_has_the_answer_the_kind_counts_per_seed_and_every_figure(tmp_path):
    r = synthetic_p1()
    text = render(tmp_path, report.p1_filters, r)
    assert "ANSWER-P1-Q1" in text
    assert "| edge 0° | 3 | 2 |" in text and "| uniform | 0 | 2 |" in text
    for name in ("p1_filters_conv1.png", "p1_filters_conv2.png", "p1_filters_conv2_summary.png",
                 "p1_filters_conv3.png", "p1_filters_conv3_summary.png"):
        assert f"]({name})" in text
    assert "p1_filters_conv1_summary.png" not in text


def test_feature_map_section_has_each_cell_its_words_the_examples_and_the_ablation(tmp_path):
    r = synthetic_p1()
    text = render(tmp_path, report.p1_feature_maps, r)
    assert "ANSWER-P1-Q2" in text and "test digit 11" in text and "test digit 22" in text
    for c in r["discriminant"]["top_cells"]:
        assert f"| {c['channel']} | ({c['row']}, {c['col']}) | centre | {c['d']:+.2f} |" in text
        assert f"- {c['words']}." in text
    assert "EXAMPLE-ZERO" in text and "EXAMPLE-EIGHT" in text
    top = r["discriminant"]["top_channels"]
    assert (f"over the 36 cells that reach the classifier), 17 channels have |d| > 1; the strongest are "
            f"12 (d = {top[0]['d']:+.2f}), 40 (d = {top[1]['d']:+.2f}).") in text
    for s, v in r["discriminant"]["seeds"].items():
        row = (f"| {s} | {100 * v['test_accuracy']:.1f}% | 41 | ch 9 at (2, 3), d = {v['top_cell'][3]:+.2f} | "
               f"{v['margin_before']:.2f} | {v['margin_after']:.2f} | {v['random_margin_after_median']:.2f} | "
               f"{100 * v['acc_0_8_before']:.1f}% → {100 * v['acc_0_8_after']:.1f}% |")
        assert row in text
    assert "p1_top_patches.png" in text
    assert "(seed 7: 5, 3)" in text and "over all 200 test 0s and 8s" in text
    header = next(ln for ln in text.splitlines() if ln.startswith("| seed | test acc."))
    assert header.replace("\\|", "").count("|") == 9  # 8 columns: no bare | inside a cell


def test_shift_section_has_both_models_the_ranking_and_the_seeds(tmp_path):
    r = synthetic_p1()
    text = render(tmp_path, report.p1_shift, r)
    s = r["shift"]
    assert "ANSWER-P1-Q3" in text and "test digit 33" in text
    left = s["left3"]
    assert (f"| 3 px left | 7 | {max(left['probs']):.4f} | {left['probs'][1]:.4f} | 4 | "
            f"{s['no_augmentation']['one']['left3']['probs'][1]:.4f} |") in text
    assert "| all, no aug. | " + " | ".join(
        f"{100 * s['no_augmentation']['accuracy_curve'][str(dx)]:.1f}%" for dx in range(-6, 7)) + " |" in text
    assert "| class | 3 | 1 | 0 | 2 |" in text
    for seed, v in s["seeds"].items():
        acc = " / ".join(f"{100 * v['accuracy'][k]:.1f}%" for k in ("-3", "0", "3"))
        assert f"| {seed} | {acc} | {' / '.join(map(str, v['one']))} |" in text
