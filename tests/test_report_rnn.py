"""report.py's P3, P4, P5 and answer-key sections: each answer inside its own section, and only there.

Inputs are synthetic results with random, recognisable values, so that a number can be traced to the
field it came from; every expected string is formatted here from those inputs.
"""
from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from helpers import sig, vec

import report


def inputs(seed: int = 1) -> dict[str, object]:
    rng = random.Random(seed)

    def v2() -> list[float]:
        return [rng.uniform(-1, 1), rng.uniform(-1, 1)]

    rows3 = [{"t": t, "dL_dyhat": v2(), "softmax_jacobian": [v2(), v2()], "dL_do": v2(), "dL_dh": v2(),
              "one_minus_h2": v2(), "dL_da": (c := v2()), "contribution_to_dL_db": c} for t in (3, 2, 1)]
    p3 = {"interpretation": "P3-INTERP", "eps": 1e-4, "lr": 0.002, "log": "e", "x": [v2() for _ in range(3)],
          "h0": [0.0, 0.0], "params": {"b": [-1.0, 1.0]}, "a": [v2() for _ in range(3)],
          "h": [v2() for _ in range(3)], "o": [v2() for _ in range(3)], "yhat": [v2() for _ in range(3)],
          "loss": 3 + rng.random(), "grad_b_central": v2(), "grad_b_bptt": v2(), "grad_b_autograd": v2(),
          "rel_error_central": 1e-9, "rel_error_autograd": 1e-16, "intermediate": rows3,
          "worked_solution": ["P3-STEP-1", "P3-STEP-2"], "b_new": v2(), "loss_new": 2 + rng.random(),
          "loss_change": -1e-4, "loss_change_first_order": -2e-4}
    keys5 = ["dL_do", "dL_dh", "dL_ds"] + [f"dL_d{n}" for n in "fgqz"] + [f"dL_da_{n}" for n in "gqz"]
    rows5 = [{"t": t, **{k: v2() for k in keys5}, "dL_da_f": (c := v2()), "contribution_to_dL_db_f": c}
             for t in (3, 2, 1)]
    biases = {"b_f": [1.0, 1.0], "b_g": [-1.0, -1.0], "b_o": [2.0, 2.0], "b": [0.0, 0.0]}
    p5 = {"cell_input_activation": "sigmoid", "interpretation": "P5-INTERP", "bias_choice": "this script's choice",
          "bias_justification": {k: f"WHY-{k}" for k in biases}, "equal_preactivations": [], "eps": 1e-4,
          "params": biases, "forward": {k: [v2() for _ in range(3)] for k in "fgqzsh"},
          "yhat": [v2() for _ in range(3)], "loss": 1 + rng.random(), "grad_b_f_bptt": v2(),
          "grad_b_f_central": v2(), "grad_b_f_autograd": v2(), "rel_error_central": 1e-10,
          "rel_error_autograd": 1e-16, "intermediate": rows5, "worked_solution": ["P5-STEP-1", "P5-STEP-2"]}
    p4 = {"answers": {"q1": "MEASURED-Q1", "q2": "MEASURED-Q2", "q3": "MEASURED-Q3"},
          "experiment2": {"cost_comparison": {"esn_test_accuracy": 0.875,
                                              "bptt": {"test_accuracy_per_epoch": [0.5, 0.625]}}}}
    key = [{"problem": "p3", "interpretation": {"log": log, "h0": [0.0, 0.0]}, "yhat3": v2(),
            "loss": rng.random(), "grad": v2(), "b_new": v2(), "loss_new": rng.random()} for log in ("e", "10")]
    key += [{"problem": "p5", "interpretation": {"cell_activation": act, "b_f": [bf, bf], **{
        k: biases[k] for k in ("b", "b_g", "b_o")}}, "yhat3": v2(), "loss": rng.random(), "grad": v2(),
             "b_new": None, "loss_new": None} for act in ("sigmoid", "tanh") for bf in (0.0, 1.0)]
    return {"p3": p3, "p4": p4, "p5": p5, "key": key,
            "timing": {"esn_readout_seconds": 0.75, "bptt_seconds": 9.5, "bptt_seconds_per_epoch": [4.5, 9.5]}}


@pytest.fixture
def built(tmp_path: Path) -> tuple[str, dict]:
    data = inputs()
    figures = tmp_path / "figures"
    figures.mkdir()
    for name in ("p3", "p4", "p5"):
        (figures / f"{name}_results.json").write_text(json.dumps(data[name]))
    (figures / "answer_key.json").write_text(json.dumps(data["key"]))
    (figures / "p4_timing.json").write_text(json.dumps(data["timing"]))
    (tmp_path / "p4_answers.md").write_text("# P4\n\n## (1) W\n\nARGUMENT-1\n\n## (2) ESN\n\nARGUMENT-2\n\n"
                                            "## (3) LSTM\n\nARGUMENT-3\n")
    report.main(["--figures", str(figures), "--readme", str(tmp_path / "README.md"),
                 "--p4-answers", str(tmp_path / "p4_answers.md")])
    return (figures / "report.md").read_text(), data


def section(text: str, start: str) -> str:
    """From the heading line that contains `start` to the next heading of any level."""
    lines = text.splitlines()
    i = next(k for k, ln in enumerate(lines) if ln.startswith("#") and start in ln)
    j = next((k for k in range(i + 1, len(lines)) if lines[k].startswith("#")), len(lines))
    return "\n".join(lines[i:j])


def test_each_p3_answer_is_in_its_own_section(built: tuple[str, dict]) -> None:
    text, data = built
    p3 = data["p3"]
    s1, s2, s3, s4, s5 = (section(text, f"P3 ({n})") for n in range(1, 6))
    assert vec(p3["yhat"][2]) in s1 and sig(p3["loss"]) in s1
    assert sig(p3["grad_b_central"][0]) in s2 and sig(p3["grad_b_bptt"][0]) not in s2
    answer3 = next(line for line in s3.splitlines() if line.startswith("**Answer.**"))
    assert vec(p3["grad_b_bptt"]) in answer3
    assert vec(p3["grad_b_central"]) not in s3  # (3) answers with BPTT, never the central differences
    assert "P3-STEP-1" in s3 and "P3-STEP-2" in s3 and "P3-STEP-1" not in s2 + s4
    for row in p3["intermediate"]:
        for key in ("dL_dyhat", "dL_do", "dL_dh", "one_minus_h2", "contribution_to_dL_db"):
            assert vec(row[key]) in s3, (key, row["t"])
    assert vec(p3["b_new"]) in s4 and vec(p3["b_new"]) not in s3 + s5
    assert sig(p3["loss_new"]) in s5 and sig(p3["loss_new"]) not in s4


def test_each_p5_answer_is_in_its_own_section(built: tuple[str, dict]) -> None:
    text, data = built
    p5 = data["p5"]
    forward, backward = section(text, "P5 Biases"), section(text, "P5 ∂L/∂b^f")
    assert sig(p5["loss"]) in forward and vec(p5["grad_b_f_bptt"]) not in forward
    assert all(f"WHY-{k}" in forward for k in p5["params"]) and "four biases differ" in forward
    assert "P5-INTERP" not in forward  # the set-up is stated once, in the interpretations
    answer = next(line for line in backward.splitlines() if line.startswith("**Answer.**"))
    assert vec(p5["grad_b_f_bptt"]) in answer and vec(p5["grad_b_f_central"]) not in backward
    assert "P5-STEP-1" in backward and "P5-STEP-2" in backward
    for row in p5["intermediate"]:
        for key in ("dL_do", "dL_dh", "dL_ds", "dL_df", "dL_dg", "dL_dq", "dL_dz",
                    "dL_da_f", "dL_da_g", "dL_da_q", "dL_da_z"):
            assert vec(row[key]) in backward, (key, row["t"])


def test_p4_argument_then_its_own_measurements(built: tuple[str, dict]) -> None:
    text, _ = built
    for n in (1, 2, 3):
        part = section(text, f"P4 ({n})")
        assert f"ARGUMENT-{n}" in part and f"MEASURED-Q{n}" in part
        assert all(f"MEASURED-Q{m}" not in part for m in (1, 2, 3) if m != n)
    cost = section(text, "P4 (2)")
    # 0.75 s of ESN: BPTT's first epoch ended at 4.5 s, so at equal time it had trained nothing
    assert "0.75 s" in cost and "had not finished its first epoch" in cost and "0.88" in cost
    assert "9.5 s" in cost and "12.7×" in cost and "reached 0.62" in cost  # 9.5 / 0.75 = 12.67


def test_answer_key_section_lists_every_row_and_marks_this_run(built: tuple[str, dict]) -> None:
    text, data = built
    key = text[text.index("## Answer key for graders"):text.index("## Interpretations")]
    for row in data["key"]:
        assert vec(row["grad"]) in key and sig(row["loss"]) in key
    p3_own = data["key"][0]  # log e, h(0) = 0: the reading of this run's p3_results.json
    assert f"**{sig(p3_own['loss'])}**" in key and f"**{sig(data['key'][1]['loss'])}**" not in key
    p5_own = data["key"][3]  # sigmoid, b^f = 1 and the script's other biases, as in p5_results.json
    assert f"**{vec(p5_own['grad'])}**" in key
    assert sum(line.count("**[") for line in key.splitlines()) == 4  # ŷ(3) and the gradient of two rows


def test_missing_answer_key_names_its_script() -> None:
    assert "`python answer_key.py`" in report.answer_key_section(None, None, None)[2]
