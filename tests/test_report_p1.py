"""report.py's P1 sections on synthetic P1 results: each answer and number in its own sub-question.

`synthetic_p1` is also the P1 input of test_report.py. Expected strings are formatted here from the
inputs, never copied from the builder's output.
"""
from __future__ import annotations

import random

import report

ARCH = ("CNN(\n  (conv1): Conv2d(1, 4, kernel_size=(3, 3), stride=(1, 1))\n"
        "  (conv2): Conv2d(4, 6, kernel_size=(3, 3), stride=(1, 1))\n"
        "  (conv3): Conv2d(6, 8, kernel_size=(3, 3), stride=(1, 1))\n)")


def synthetic_p1(seed: int = 0, arch: str = ARCH) -> dict:
    """P1 results with the script's keys and random, recognisable values."""
    rng = random.Random(seed)
    p = lambda: rng.uniform(0.01, 0.99)  # noqa: E731
    probs = lambda k: [p() / 20 if i != k else p() for i in range(10)]  # noqa: E731
    shifts = [str(dx) for dx in range(-6, 7)]
    cell = lambda ch, r, c, d, words: {  # noqa: E731
        "channel": ch, "row": r, "col": c, "d": d, "region": "centre", "act_zero": p(),
        "act_eight": p(), "ink_zero": p(), "ink_eight": p(), "words": words}
    seed_disc = lambda: {"test_accuracy": p(), "cells_with_abs_d_above_1": 41,  # noqa: E731
                         "top_cell": [9, 2, 3, 1 + p()], "margin_before": 3 + p(), "margin_after": p(),
                         "random_margin_after_median": 2 + p(), "acc_0_8_before": p(),
                         "acc_0_8_after": p()}
    one = lambda k: {"pred": k, "probs": probs(k)}  # noqa: E731
    return {
        "data_source": "mnist5k", "seed": 7, "train_accuracy": p(), "test_accuracy": p(),
        "conv_layers": 3, "torch_version": "9.8.7+test", "sample_size": 1000,
        "model": {"architecture": arch, "parameters": 12345, "recipe": {"epochs": 3}},
        "examples": {"zero": 11, "eight": 22, "one": 33},
        "filters": {"conv1_kinds_by_seed": {"0": {"edge 0": 3, "bar 90": 1},
                                            "1": {"edge 0": 2, "uniform": 2}}},
        "discriminant": {
            "top_cells": [cell(5, 1, 2, 1.0 + p(), "WORDS-A"), cell(3, 4, 0, -1.0 - p(), "WORDS-B")],
            "examples": {"zero": "EXAMPLE-ZERO", "eight": "EXAMPLE-EIGHT"},
            "cells_used": [[0, 0]] * 36, "channels_with_abs_d_above_1": 17,
            "top_channels": [{"channel": 12, "d": 1 + p()}, {"channel": 40, "d": -1 - p()}],
            "ablation": {"channels": [5, 3], "n_digits": 200},
            "seeds": {"0": seed_disc(), "1": seed_disc()}},
        "shift": {"original": one(1), "left3": one(7), "right3": one(1),
                  "no_augmentation": {"accuracy": {k: p() for k in ("-3", "0", "3")},
                                      "accuracy_curve": {dx: p() for dx in shifts},
                                      "one": {"original": one(1), "left3": one(4), "right3": one(1)}},
                  "tolerance_ranking": [{"class": k, "rank": k + 1, "accuracy_pm3": p()}
                                        for k in (3, 1, 0, 2, 4, 5, 6, 7, 8, 9)],
                  "seeds": {"0": {"accuracy": {k: p() for k in ("-3", "0", "3")}, "one": [1, 1, 7]},
                            "1": {"accuracy": {k: p() for k in ("-3", "0", "3")}, "one": [1, 1, 1]}}},
        "shift_accuracy": {dx: p() for dx in shifts},
        "shift_accuracy_per_class": {dx: [p() for _ in range(10)] for dx in shifts},
        "answers": {"q1": "ANSWER-P1-Q1", "q2": "ANSWER-P1-Q2", "q3": "ANSWER-P1-Q3"}}


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
