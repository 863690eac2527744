"""report.py on small synthetic results: every heading, only input numbers, missing inputs, README, links.

The inputs are written here with recognisable random values; every expected string is formatted
here from those inputs, never copied from the builder's output.
"""
from __future__ import annotations

import datetime
import json
import random
import re
import subprocess
import sys

import pytest
from helpers import sig, synthetic_p1, vec

import report
from common.cli import ROOT

SCRIPTS = {1: "p1_cnn_filters.py", 2: "p2_occlusion.py", 3: "p3_rnn_bptt.py", 4: "p4_experiments.py",
           5: "p5_lstm.py"}
HEADINGS = ["P1 (1)", "P1 (2)", "P1 (3)", "P2 (1)", "P2 (2)", "P2 (3)", "P3 (1)", "P3 (2)", "P3 (3)",
            "P3 (4)", "P3 (5)", "P4 (1)", "P4 (2)", "P4 (3)", "P5", "Interpretations we chose"]
FIGURES = ["p1_filters_conv1.png", "p1_filters_conv2.png", "p1_filters_conv3.png", "p1_feature_maps.png",
           "p1_filters_conv2_summary.png", "p1_filters_conv3_summary.png", "p1_top_patches.png",
           "p1_discriminant_channels.png", "p1_shift.png", "p1_shift_accuracy.png", "p2_maps.png",
           "p2_regions.png",
           "p2_population.png", "p2_sixes_gallery.png", "p2_transplant_study.png", "p2_adversarial.png", "p2_attacks.png",
           "p2_extra.png",
           "p3_unrolled_rnn.png", "p4_gradient_decay.png", "p4_dW_share.png", "p4_esn.png", "p4_decay.png",
           "p5_forget_bias_grad.png"]
ARCH = ("CNN(\n  (conv1): Conv2d(1, 4, kernel_size=(3, 3), stride=(1, 1))\n"
        "  (conv2): Conv2d(4, 6, kernel_size=(3, 3), stride=(1, 1))\n"
        "  (conv3): Conv2d(6, 8, kernel_size=(3, 3), stride=(1, 1))\n"
        "  (fc): Linear(in_features=72, out_features=10, bias=True)\n)")
P4_ANSWERS = """# Problem 4: written answers

Intro paragraph of the answers.

## (1) Which parameters

BODY-ONE, see ![decay](figures/p4_decay.png).

## (2) Echo state network

BODY-TWO.

### A detail

BODY-DETAIL, and [the script](p4_experiments.py).

## (3) LSTM

BODY-THREE.
"""


def synthetic_inputs(seed: int = 0) -> dict[int, dict]:
    """Results JSON for P1-P5 with the scripts' keys and random, recognisable values."""
    rng = random.Random(seed)
    u = lambda: rng.uniform(-1, 1)  # noqa: E731
    v2 = lambda: [u(), u()]  # noqa: E731
    p = lambda: rng.uniform(0.01, 0.99)  # noqa: E731
    p1 = synthetic_p1(seed, ARCH)
    ci = lambda: (lambda r: {"k": 1, "n": 10, "rate": r, "ci95": [r / 2, (1 + r) / 2]})(p())  # noqa: E731
    by_strategy = lambda: {st: {"changed": ci(), "adversarial": ci()}  # noqa: E731
                           for st in ("black-map", "white-map", "random")}
    p2 = {"data_source": "mnist5k", "interpretation": "P2-INTERPRETATION", "index": 44, "patch": 8,
          "stride": 1, "fill": 0.0, "true_class": 6,
          "clean_probs": [p() for _ in range(10)],
          "prob_true_map": [[p() for _ in range(3)] for _ in range(3)],
          "max_prob_map": [[p() for _ in range(3)] for _ in range(3)],
          "label_map": [[6, 6, 5], [6, 0, 6], [6, 6, 6]],
          "important_region": {
              "threshold": 0.5, "fallback_lowest_10": False, "n_positions": 9, "n_below": 2,
              "region_definition": {"method": "METHOD-TEXT"},
              "composition_of_covered_ink": {"loop": p(), "stem": p()},
              "mean_share_of_region_ink_covered": {"loop": p(), "stem": p()},
              "erase_region": {"loop": {"prob_true": p(), "pred": 1, "prob_pred": p()},
                               "stem": {"prob_true": p(), "pred": 6, "prob_pred": p()}}},
          "adversarial_study": {
              "rates": {scope: {"8": by_strategy()} for scope in ("example", "other_sixes", "seed_1")},
              "every_position": {what: {"8": ci()} for what in ("changed", "adversarial", "relabelled")},
              "comparison": {
                  "pgd": {"eps": 0.3, "success": True, "cnn_label": 8, "l0": 700, "l2": 1 + p(),
                          "linf": 0.3, "transfer": p()},
                  "patch": {"size": 8, "position": [2, 3], "success": True, "cnn_label": 5, "l0": 64,
                            "l2": 1 + p(), "linf": p(), "transfer": p()},
                  "transplant": {"size": 8, "position": [2, 3], "success": ci(), "l0": 30, "l2": 1 + p(),
                                 "linf": p(), "transfer": p()}}},
          "answers": {"q1": "ANSWER-P2-Q1", "q2": "ANSWER-P2-Q2", "q3": "ANSWER-P2-Q3"}}
    rows3 = [{"t": t, "dL_dyhat": v2(), "softmax_jacobian": [v2(), v2()], "dL_do": v2(), "dL_dh": v2(),
              "one_minus_h2": v2(), "dL_da": (c := v2()), "contribution_to_dL_db": c} for t in (3, 2, 1)]
    p3 = {"interpretation": "P3-INTERPRETATION", "eps": 0.0003, "lr": 0.007, "log": "e",
          "worked_solution": ["P3-WORKED-STEP"],
          "x": [v2() for _ in range(3)], "h0": [0.0, 0.0], "params": {"b": v2(), "c": v2()},
          "a": [v2() for _ in range(3)], "h": [v2() for _ in range(3)], "o": [v2() for _ in range(3)],
          "yhat": [v2() for _ in range(3)], "loss": 3 + p(), "grad_b_central": v2(), "grad_b_bptt": v2(),
          "grad_b_autograd": v2(), "rel_error_central": p() * 1e-9, "rel_error_autograd": p() * 1e-16,
          "intermediate": rows3, "b_new": v2(), "loss_new": 2 + p(), "loss_change": -p() * 1e-3,
          "loss_change_first_order": -p() * 1e-3,
          "versions": {"python": "3.99.1", "numpy": "8.7.6", "torch": "9.8.7"}}
    rows5 = [{"t": t, "dL_do": v2(), "dL_dh": v2(), "dL_ds": v2(), "dL_df": v2(), "dL_dg": v2(), "dL_dq": v2(),
              "dL_dz": v2(), "dL_da_g": v2(), "dL_da_q": v2(), "dL_da_z": v2(), "dL_da_f": (c := v2()),
              "contribution_to_dL_db_f": c} for t in (3, 2, 1)]
    p5 = {"cell_input_activation": "sigmoid", "interpretation": "P5-INTERPRETATION",
          "bias_justification": {"b_f": "BIAS-F", "b": "BIAS-B", "b_g": "BIAS-G", "b_o": "BIAS-O"},
          "bias_choice": "this script's choice", "equal_gates": [], "worked_solution": ["P5-WORKED-STEP"],
          "eps": 0.0002, "params": {"b_f": v2(), "b_g": v2(), "b_o": v2(), "b": v2()},
          "forward": {k: [v2() for _ in range(3)] for k in "fgqzsh"}, "yhat": [v2() for _ in range(3)],
          "loss": 1 + p(), "grad_b_f_bptt": v2(), "grad_b_f_central": v2(), "grad_b_f_autograd": v2(),
          "rel_error_central": p() * 1e-10, "rel_error_autograd": p() * 1e-16, "intermediate": rows5}
    p4 = {"interpretation": "P4-INTERPRETATION",
          "answers": {"q1": "P4-JSON-Q1", "q2": "P4-JSON-Q2", "q3": "P4-JSON-Q3"},
          "experiment2": {"cost_comparison": {"esn_test_accuracy": p(),
                                              "bptt": {"test_accuracy_per_epoch": [p(), p()]}}}}
    return {1: p1, 2: p2, 3: p3, 4: p4, 5: p5}


@pytest.fixture
def tree(tmp_path):
    """A tmp copy of the repository's layout: figures/ with the JSON and (empty) figures, p4_answers.md."""
    figures = tmp_path / "figures"
    figures.mkdir()
    inputs = synthetic_inputs()
    for n, data in inputs.items():
        (figures / f"p{n}_results.json").write_text(json.dumps(data))
    timing = {"bptt_seconds": 12.3456, "esn_readout_seconds": 0.4321, "bptt_seconds_per_epoch": [6.1, 12.3456]}
    (figures / "p4_timing.json").write_text(json.dumps(timing))
    for name in FIGURES:
        (figures / name).write_bytes(b"png")
    (tmp_path / "p4_answers.md").write_text(P4_ANSWERS)
    (tmp_path / "p4_experiments.py").write_text("")
    (tmp_path / "README.md").write_text("no markers here\n")
    return tmp_path, inputs


def argv(root, *extra):
    return ["--figures", str(root / "figures"), "--readme", str(root / "README.md"),
            "--p4-answers", str(root / "p4_answers.md"), *extra]


def build(root, *extra) -> str:
    report.main(argv(root, *extra))
    return (root / "figures" / "report.md").read_text()


def section(text: str, start: str, end: str | None) -> str:
    """The text from the heading line containing `start` to the next one containing `end`."""
    lines = text.splitlines()
    i = next(k for k, ln in enumerate(lines) if ln.startswith("#") and start in ln)
    j = next((k for k, ln in enumerate(lines[i + 1:], i + 1) if end and ln.startswith("#") and end in ln),
             len(lines))
    return "\n".join(lines[i:j])


def leaves(obj):
    if isinstance(obj, dict):
        for v in obj.values():
            yield from leaves(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from leaves(v)
    elif isinstance(obj, float):
        yield obj


def allowed_strings(inputs: dict[int, dict]) -> set[str]:
    """Every input float in each format a report may use."""
    out = set()
    for v in (x for data in inputs.values() for x in leaves(data)):
        out |= {sig(v), f"{v:.4f}", f"{v:.2e}", f"{v:g}", f"{100 * v:.1f}%", f"{v:+.2f}", f"{v:.2f}"}
    return out


def test_every_section_and_subquestion_heading_in_the_assignments_order(tree):
    root, _ = tree
    text = build(root)
    headings = [ln for ln in text.splitlines() if ln.startswith("#")]
    positions = []
    for h in HEADINGS:
        hits = [k for k, ln in enumerate(headings) if h in ln]
        assert hits, f"no heading with {h!r}"
        positions.append(hits[0])
    assert positions == sorted(positions)
    assert "Not available" not in text and "Not found" not in text


def test_every_precise_number_and_percentage_comes_from_the_input(tree):
    root, inputs = tree
    text = build(root, "--make-seconds", "83")
    allowed = allowed_strings(inputs)
    # tokens with 3+ decimals, an exponent or a % sign; equation numbers like 10.41 are shorter
    tokens = re.findall(r"-?\d+\.\d+(?:e[-+]\d+)?%?", text)
    precise = [t for t in tokens if t.endswith("%") or "e" in t or len(t.split(".")[1]) >= 3]
    assert len(precise) > 150
    assert [t for t in precise if t not in allowed] == []


def test_key_values_appear_formatted_in_their_sections(tree):
    root, inputs = tree
    p1, p2, p3, p5 = (inputs[n] for n in (1, 2, 3, 5))
    text = build(root, "--make-seconds", "83")
    head = section(text, "Report", "P1:")
    for expected in (datetime.date.today().isoformat(), "not full MNIST", "| Seed | 7 |", "9.8.7+test",
                     "12,345", f"{100 * p1['train_accuracy']:.1f}%", f"{100 * p1['test_accuracy']:.1f}%",
                     "83 s"):
        assert expected in head, expected
    q2 = section(text, "P1 (2)", "P1 (3)")
    assert "ANSWER-P1-Q2" in q2 and "test digit 22" in q2
    assert f"{p1['discriminant']['top_cells'][1]['d']:+.2f}" in q2
    q3 = section(text, "P1 (3)", "P2")
    assert f"{max(p1['shift']['left3']['probs']):.4f}" in q3
    assert f"{100 * p1['shift_accuracy']['-3']:.1f}%" in q3
    p2_text = section(text, "P2 (1)", "P3")
    assert f"{min(min(r) for r in p2['prob_true_map']):.4f}" in p2_text and "test digit 44" in p2_text
    assert f"{p2['clean_probs'][6]:.4f}" in p2_text and "METHOD-TEXT" in p2_text
    assert f"{p2['important_region']['erase_region']['loop']['prob_true']:.4f}" in p2_text
    p2_q3, study = section(text, "P2 (3)", "P3"), p2["adversarial_study"]
    for scope in study["rates"].values():
        for r in scope["8"].values():
            assert f"{100 * r['changed']['rate']:.1f}% [{100 * r['changed']['ci95'][0]:.1f}," in p2_q3
    for row in study["comparison"].values():
        assert f"{row['l2']:.2f}" in p2_q3 and f"{100 * row['transfer']:.1f}%" in p2_q3
    p3_text = section(text, "P3 (1)", "P4")
    for expected in (sig(p3["loss"]), sig(p3["grad_b_central"][0]),
                     vec(p3["grad_b_bptt"]), vec(p3["b_new"]), sig(p3["loss_new"]),
                     f"{p3['rel_error_central']:.2e}", vec(p3["intermediate"][2]["dL_dh"]),
                     vec(p3["yhat"][2]), sig(p3["loss_change"])):
        assert expected in p3_text, expected
    assert section(text, "P3 (5)", "P4").count(sig(p3["loss_new"])) == 1
    tables = [vec(p3[k][t]) for k in ("x", "a", "h", "o") for t in range(3)]
    tables += [vec(row[k]) for row in p3["intermediate"] for k in ("dL_do", "dL_dh", "dL_da")]
    tables += [vec(p5["forward"][k][t]) for k in "fgqzsh" for t in range(3)]
    tables += [vec(row[k]) for row in p5["intermediate"] for k in ("dL_dh", "dL_ds", "dL_df", "dL_da_f")]
    assert [v for v in tables if v not in text] == []
    p5_text = section(text, "P5", "Interpretations")
    for expected in (sig(p5["loss"]), vec(p5["grad_b_f_bptt"]), vec(p5["forward"]["s"][1]),
                     vec(p5["intermediate"][0]["dL_ds"]), f"{p5['rel_error_central']:.2e}", "BIAS-G"):
        assert expected in p5_text, expected
    notes = section(text, "Interpretations", None)
    assert "test digit 11" in notes and "test digit 44" in notes
    assert all(f"P{n}-INTERPRETATION" in notes for n in (2, 3, 4, 5))


def test_p4_comes_from_the_answers_with_links_made_relative_to_the_report(tree):
    root, _ = tree
    text = build(root)
    assert "BODY-ONE" in section(text, "P4 (1)", "P4 (2)")
    assert "BODY-TWO" in section(text, "P4 (2)", "P4 (3)")
    assert "BODY-THREE" in section(text, "P4 (3)", "P5")
    assert "](p4_decay.png)" in text and "](figures/p4_decay.png)" not in text
    assert "](../p4_experiments.py)" in text and "#### A detail" in text
    assert text.count("](p4_decay.png)") == 1  # linked by the answers, so not again as 'other'
    assert "](p2_extra.png)" in text  # a figure no sub-question claims is still linked
    assert "](p4_esn.png)" in section(text, "P4 (2)", "P4 (3)") and "12.3 s" in text
    # each part: the written argument, then the measured half from p4_results.json
    assert "P4-JSON-Q1" in section(text, "P4 (1)", "P4 (2)") and "P4-JSON-Q3" in section(text, "P4 (3)", "P5")


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5])
def test_a_missing_results_file_names_its_script_and_the_rest_still_builds(tree, n):
    root, inputs = tree
    (root / "figures" / f"p{n}_results.json").unlink()
    text = build(root)
    assert f"`python {SCRIPTS[n]}`" in text
    for h in HEADINGS:
        assert any(h in ln for ln in text.splitlines() if ln.startswith("#")), h
    other = 3 if n != 3 else 5
    assert sig(inputs[other]["loss"]) in text


def test_a_missing_key_blanks_only_its_subquestion(tree):
    root, inputs = tree
    del inputs[3]["loss_new"]
    (root / "figures" / "p3_results.json").write_text(json.dumps(inputs[3]))
    text = build(root)
    assert "'loss_new'" in section(text, "P3 (5)", "P4") and "p3_rnn_bptt.py" in section(text, "P3 (5)", "P4")
    assert vec(inputs[3]["b_new"]) in section(text, "P3 (4)", "P3 (5)")


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5])
def test_no_missing_or_null_key_crashes_the_builder(tree, n):
    root, inputs = tree
    path = root / "figures" / f"p{n}_results.json"
    for key in inputs[n]:
        for broken in ({k: v for k, v in inputs[n].items() if k != key}, {**inputs[n], key: None}):
            path.write_text(json.dumps(broken))
            text = build(root)
            assert all(h in text for h in HEADINGS), key


def test_missing_p4_answers_falls_back_to_the_scripts_short_answers(tree):
    root, _ = tree
    (root / "p4_answers.md").unlink()
    text = build(root)
    assert "`p4_answers.md` is missing" in section(text, "P4:", "P4 (1)")
    assert "P4-JSON-Q2" in section(text, "P4 (2)", "P4 (3)")


README = """# Title

Intro text, kept.

<!-- reference-run:start -->
old reference
<!-- reference-run:end -->

<!-- results-table:start -->
old table
<!-- results-table:end -->

Middle text, kept.

<!-- figures-list:start -->
old list
<!-- figures-list:end -->

Closing text, kept.
"""


def test_readme_regions_are_replaced_and_the_rest_is_untouched(tree, capsys):
    root, inputs = tree
    readme = root / "README.md"
    readme.write_text(README)
    build(root, "--make-seconds", "42")
    new = readme.read_text()
    assert "old table" not in new and "old list" not in new and "old reference" not in new
    outside = re.compile(r"<!-- (\S+):start -->.*?<!-- \1:end -->", re.DOTALL)
    assert outside.sub("X", new) == outside.sub("X", README)
    table = new.split("<!-- results-table:start -->")[1].split("<!-- results-table:end -->")[0]
    for expected in (sig(inputs[3]["loss"]), vec(inputs[3]["b_new"]), vec(inputs[5]["grad_b_f_bptt"]),
                     f"{100 * inputs[1]['shift_accuracy']['3']:.1f}%",
                     f"'{inputs[1]['shift']['left3']['pred']}' on 1 of 1 seed",
                     f"| {inputs[2]['important_region']['n_below']} |",
                     f"{100 * inputs[2]['adversarial_study']['every_position']['adversarial']['8']['rate']:.1f}%"):
        assert expected in table, expected
    assert "42 s" in (root / "figures" / "report.md").read_text().split("## P1")[0]
    listing = new.split("<!-- figures-list:start -->")[1].split("<!-- figures-list:end -->")[0]
    assert sorted(re.findall(r"\]\(figures/(p\d_\w+\.png)\)", listing)) == sorted(FIGURES)
    build(root, "--make-seconds", "42")
    assert readme.read_text() == new  # idempotent: the markers survive a rebuild


def test_readme_without_markers_is_left_alone_with_one_line(tree, capsys):
    root, _ = tree
    build(root)
    out = capsys.readouterr().out
    assert (root / "README.md").read_text() == "no markers here\n"
    lines = out.splitlines()
    assert len(lines) == 2 and "left alone" in lines[1] and "<!-- reference-run:start -->" in lines[1]


def test_without_readme_flag_the_readme_is_never_touched(tree):
    """`make` runs report.py without --readme: a tracked README must stay as it is."""
    root, _ = tree
    readme = root / "README.md"
    readme.write_text(README)
    report.main(["--figures", str(root / "figures"), "--p4-answers", str(root / "p4_answers.md")])
    assert readme.read_text() == README


def test_readme_gives_cnn_rows_as_mean_and_range_over_seed_runs(tree):
    root, inputs = tree
    readme = root / "README.md"
    readme.write_text(README)
    test_acc = [inputs[1]["test_accuracy"]]
    preds = [inputs[1]["shift"]["right3"]["pred"]]
    for k in (1, 2):  # two more seeds' P1 results, with other accuracies and one other prediction
        folder = root / f"seed{k}"
        folder.mkdir()
        r1 = synthetic_inputs(seed=k)[1]
        r1["shift"]["right3"]["pred"] = preds[0] if k == 1 else (preds[0] + 1) % 10
        test_acc.append(r1["test_accuracy"])
        preds.append(r1["shift"]["right3"]["pred"])
        (folder / "p1_results.json").write_text(json.dumps(r1))
    build(root, "--seed-runs", str(root / "seed1"), str(root / "seed2"))
    table = readme.read_text().split("<!-- results-table:start -->")[1]
    mean = sum(test_acc) / 3
    expected = f"{100 * mean:.1f}% ({100 * min(test_acc):.1f}%–{100 * max(test_acc):.1f}%)"
    assert expected in table and "3 training seeds" in table
    assert f"'{preds[0]}' on 2 of 3 seeds, '{preds[2]}' on 1 of 3 seeds" in table
    assert "3 training seeds" in readme.read_text().split("<!-- reference-run:start -->")[1]


def run_cli(root, *extra):
    return subprocess.run([sys.executable, "report.py", *argv(root, *extra)], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)


def test_check_links_passes_when_every_linked_file_exists(tree):
    proc = run_cli(tree[0], "--check-links")
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("missing", ["p3_unrolled_rnn.png", "p4_decay.png"])
def test_check_links_fails_in_one_line_naming_the_missing_figure(tree, missing):
    root, _ = tree
    (root / "figures" / missing).unlink()  # p4_decay.png is linked from p4_answers.md only
    assert run_cli(root).returncode == 0  # without the flag, a missing figure is not an error
    proc = run_cli(root, "--check-links")
    assert proc.returncode == 1
    assert proc.stderr.count("\n") == 1 and missing in proc.stderr
    assert "Traceback" not in proc.stderr


def test_bad_make_seconds_is_rejected_by_the_parser(tree):
    proc = run_cli(tree[0], "--make-seconds", "-3")
    assert proc.returncode == 2 and "--make-seconds" in proc.stderr and proc.stderr.count("\n") == 1


def test_pooling_chain_is_derived_from_the_classifier_input():
    # 8 channels x 3 x 3 = 72 inputs: 28 -> 14 -> 7 -> 3 takes three 2x2 pools.
    assert report.pooling(ARCH) == "28→14→7→3"
    two_pools = ARCH.replace("in_features=72", "in_features=392")  # 8 x 7 x 7
    assert report.pooling(two_pools) == "28→14→7"
    with pytest.raises(ValueError):
        report.pooling(ARCH.replace("in_features=72", "in_features=200"))  # 5x5: no pool chain


def test_header_states_pools_and_training_recipe(tree):
    root, inputs = tree
    inputs[1]["model"]["recipe"] = {"epochs": 3, "batch_size": 17, "max_lr": 0.25, "augment_px": 2,
                                    "label_smoothing": 0.3, "optimizer": "OPTIMISER-TEXT", "threads": 3}
    (root / "figures" / "p1_results.json").write_text(json.dumps(inputs[1]))
    head = build(root).split("## P1")[0]
    for expected in ("28→14→7→3", "2x2 max-pool", "3 epochs of batch 17", "OPTIMISER-TEXT",
                     "up to 0.25", "label smoothing 0.3", "±2 px", "on 3 threads"):
        assert expected in head, expected


def test_table_escapes_pipes_inside_cells():
    lines = report.table(["cells with |d| > 1", "x"], [["|a|", 2]])
    # Every row has exactly the header's number of unescaped separators.
    assert [len(re.findall(r"(?<!\\)\|", line)) for line in lines[:3]] == [3, 3, 3]
    assert "\\|d\\|" in lines[0]
