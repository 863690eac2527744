"""Carried credit: an error is penalised once. A row whose values are one catalogue mistake's worked
chain earns every later part it gives under the default rubric, and loses it under a rubric whose
`carried` share is 0.

The part that holds the first wrong step earns its `before_wrong` share (half) when one of its values
before that step is right. A `wrong` row (no catalogue mistake) whose first wrong step is in P3 (1)
carries (2) and (3) when its (3) gradient matches its own (2) central differences, and goes to a
person (needs_review) when it does not. A row whose first wrong value is an intermediate of P3 (3) or
P5 (2), with that part's final gradient right, goes to a person too.

Each row is every value of tests/grade_reference.py (plain numpy) with the mistake planted, or numbers
made up here; each expected score is the default rubric's points (read here with the csv module)
summed by hand.
"""
from __future__ import annotations

import csv
import io
from pathlib import Path

import grade_reference as ref
import numpy as np
import pytest
from submissions_plan import ASSIGNMENT, REPO_BIASES

import grade
from common.grading.rubric import DEFAULT_RUBRIC

POINTS = {(r["problem"], int(r["part"])): float(r["points"]) for r in csv.DictReader(io.StringIO(DEFAULT_RUBRIC))}
BEFORE = {(r["problem"], int(r["part"])): float(r["before_wrong"]) for r in csv.DictReader(io.StringIO(DEFAULT_RUBRIC))}


def cells(values: dict[str, float]) -> list[str]:
    """NAME=VALUE for --check: 5 significant digits, b_new 8 so that the step shows."""
    return [f"{k}={v:.7e}" if k.startswith("b_new") else f"{k}={v:.4e}" for k, v in values.items()]


def scored(problem: str, values: dict[str, float], rubric: Path | None = None) -> dict:
    extra = ["--rubric", str(rubric)] if rubric else []
    return grade.main(["--check", problem, *cells(values), *extra])["rows"][0]


def rubric_with_carried(tmp_path: Path, off: set[tuple[str, int]], column: str = "carried") -> Path:
    """The default rubric with `column` (carried) 0 on the parts `off`."""
    rows = list(csv.DictReader(io.StringIO(DEFAULT_RUBRIC)))
    for r in rows:
        if (r["problem"], int(r["part"])) in off:
            r[column] = "0"
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path = tmp_path / "rubric.csv"
    path.write_text(out.getvalue(), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def over_ln10() -> dict[str, float]:
    n = ASSIGNMENT
    return ref.p3(np.array(n["x"]), n["b"], n["c"], n["W"], n["U"], n["V"], mistake="loss_over_ln10")


def test_a_loss_over_ln10_row_loses_only_part_1(over_ln10: dict[str, float], tmp_path: Path) -> None:
    """L is its first wrong step (part 1), after right h and ŷ: half of (1)'s 6; (2)-(5) are the right
    work on its own loss: 6/2 + 6 + 12 + 3 + 3 = 27. With before_wrong 0 on (1): 24. With carried 0 on
    (2) and (3) only (4) and (5) carry: 3 + 3 + 3; with carried 0 everywhere, 3."""
    g = scored("p3", over_ln10)
    assert (g["verdict"], g["mistake"], g["first_wrong"]) == ("known_mistake", "loss_over_ln10", "L")
    total = sum(POINTS["p3", p] for p in range(1, 6))
    half_1 = BEFORE["p3", 1] * POINTS["p3", 1]
    assert (float(g["score"]), float(g["out_of"])) == (total - POINTS["p3", 1] + half_1, total) == (27.0, 30.0)
    no_half = scored("p3", over_ln10, rubric_with_carried(tmp_path, {("p3", 1)}, "before_wrong"))
    assert float(no_half["score"]) == total - POINTS["p3", 1] == 24.0
    part_2_3_off = scored("p3", over_ln10, rubric_with_carried(tmp_path, {("p3", 2), ("p3", 3)}))
    assert float(part_2_3_off["score"]) == half_1 + POINTS["p3", 4] + POINTS["p3", 5] == 9.0
    all_off = scored("p3", over_ln10, rubric_with_carried(tmp_path, {("p3", p) for p in range(1, 6)}))
    assert float(all_off["score"]) == half_1 == 3.0


def test_a_w_not_transposed_row_keeps_half_of_part_3() -> None:
    """W for Wᵀ first shows at ∂L/∂h(2), after the right t = 3 intermediates: (1) 6 + (2) 6 + half of
    (3)'s 12 + the carried (4) 3 and (5) 3 = 24."""
    n = ASSIGNMENT
    v = ref.p3(np.array(n["x"]), n["b"], n["c"], n["W"], n["U"], n["V"], mistake="W_not_transposed")
    g = scored("p3", v)
    assert (g["verdict"], g["first_wrong"]) == ("known_mistake", "dL_dh@2")
    assert float(g["score"]) == POINTS["p3", 1] + POINTS["p3", 2] + POINTS["p3", 3] / 2 + 3 + 3 == 24.0


def test_a_one_sided_difference_row_keeps_its_bptt(tmp_path: Path) -> None:
    """Part (2) wrong, (3)-(5) right and carried: 6 + 12/2 + 3 + 3 (its (3) gives final values only);
    with carried 0 on (3), that half of 12 goes."""
    n = ASSIGNMENT
    v = ref.p3(np.array(n["x"]), n["b"], n["c"], n["W"], n["U"], n["V"], mistake="one_sided_difference")
    v = {k: v[k] for k in ("L", "grad_cd_1", "grad_cd_2", "grad_1", "grad_2", "b_new_1", "b_new_2", "L_new")}
    text = [f"{k}={x:.6g}" if k.startswith("grad_cd") else c for c, (k, x) in zip(cells(v), v.items())]
    g = grade.main(["--check", "p3", *text])["rows"][0]
    assert (g["verdict"], g["first_wrong"]) == ("known_mistake", "grad_cd")
    # (3) given as final values only earns half its points (no_work), carried or not
    half_3 = POINTS["p3", 3] / 2
    assert float(g["score"]) == POINTS["p3", 1] + half_3 + POINTS["p3", 4] + POINTS["p3", 5] == 18.0
    off = rubric_with_carried(tmp_path, {("p3", 3)})
    assert float(grade.main(["--check", "p3", *text, "--rubric", str(off)])["rows"][0]["score"]) == 18.0 - half_3


def test_a_p5_h_without_tanh_row_earns_part_2(tmp_path: Path) -> None:
    """h without tanh is wrong from h(1) on (part 1), after the right gates and s(1): half of (1)'s 3;
    part 2 differentiates that model correctly: 1.5 + 5 = 6.5 of 8."""
    n = ASSIGNMENT
    v = ref.p5(np.array(n["x"]), n["c"], n["W"], n["U"], n["V"], REPO_BIASES, mistake="h_without_tanh")
    g = scored("p5", v)
    assert (g["verdict"], g["mistake"], g["first_wrong"]) == ("known_mistake", "h_without_tanh", "h@1")
    half_1 = BEFORE["p5", 1] * POINTS["p5", 1]
    assert (float(g["score"]), float(g["out_of"])) == (half_1 + POINTS["p5", 2], 8) == (6.5, 8)
    assert float(scored("p5", v, rubric_with_carried(tmp_path, {("p5", 2)}))["score"]) == half_1


LN10_L = 1.3060138  # the loss over ln 10 (tests/grade_reference.py): a wrong L, no catalogue chain below it


def test_a_wrong_row_whose_gradients_agree_carries_2_and_3() -> None:
    """L wrong (part 1) and a made-up gradient that its own central differences give to 3 digits:
    (2) 6 and (3) 12 / 2 (final values only) are carried, 12 in all; the row stays `wrong`."""
    g = grade.main(["--check", "p3", f"L={LN10_L}", "grad_cd_1=0.25001", "grad_cd_2=-0.31249",
                    "grad_1=0.25000", "grad_2=-0.31250"])["rows"][0]
    assert (g["verdict"], g["first_wrong"]) == ("wrong", "L")
    assert float(g["score"]) == POINTS["p3", 2] + POINTS["p3", 3] / 2 == 12.0


def test_a_wrong_row_whose_gradients_disagree_goes_to_a_person() -> None:
    """The same row with central differences 10% off its gradient: nothing shows that (2) and (3)
    follow, so the row is needs_review, naming them, and earns nothing until a person looks."""
    g = grade.main(["--check", "p3", f"L={LN10_L}", "grad_cd_1=0.27500", "grad_cd_2=-0.34375",
                    "grad_1=0.25000", "grad_2=-0.31250"])["rows"][0]
    assert g["verdict"] == "needs_review" and float(g["score"]) == 0.0
    assert "(2), (3) are not checked" in g["review"]


def test_a_wrong_row_without_central_differences_goes_to_a_person() -> None:
    """L wrong and a made-up (3) with no (2) to check it against: needs_review; P5, whose sheet has no
    central differences, likewise."""
    g = scored("p3", {"L": LN10_L, "grad_1": 0.25, "grad_2": -0.3125})
    assert g["verdict"] == "needs_review" and "(3) are not checked" in g["review"] and float(g["score"]) == 0.0
    p5 = scored("p5", {"L": 0.5, "grad_1": 0.25, "grad_2": -0.3125})
    assert p5["verdict"] == "needs_review" and "no central differences" in p5["review"]


@pytest.mark.parametrize("columns", [("problem", "part", "points", "other_reading", "what"),
                                     ("problem", "part", "points", "other_reading", "no_work", "carried", "what")])
def test_older_rubrics_read_with_the_default_options(over_ln10: dict[str, float], tmp_path: Path,
                                                     columns: tuple[str, ...]) -> None:
    """A 5- or 7-column rubric (without before_wrong) takes the default shares: the same 27."""
    rows = list(csv.DictReader(io.StringIO(DEFAULT_RUBRIC)))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path = tmp_path / "old.csv"
    path.write_text(out.getvalue(), encoding="utf-8")
    assert float(scored("p3", over_ln10, path)["score"]) == 27.0


def lone_typo(problem: str, name: str) -> dict:
    """Every right value of tests/grade_reference.py with the intermediate `name` alone 10% off."""
    n = ASSIGNMENT
    values = (ref.p3(np.array(n["x"]), n["b"], n["c"], n["W"], n["U"], n["V"]) if problem == "p3" else
              ref.p5(np.array(n["x"]), n["c"], n["W"], n["U"], n["V"], REPO_BIASES))
    return scored(problem, {**values, name: values[name] * 1.1})


@pytest.mark.parametrize(("problem", "name", "part"), [("p3", "dL_dyhat@3_1", 3), ("p5", "dL_ds@2_1", 2)])
def test_a_lone_wrong_intermediate_with_a_right_gradient_goes_to_a_person(problem: str, name: str, part: int) -> None:
    """A typo in one intermediate, every other value right, the final gradient included: a person
    reads it (needs_review), with a note naming the value, instead of the row scored wrong."""
    g = lone_typo(problem, name)
    assert g["verdict"] == "needs_review"
    assert f"{name} is wrong, yet part ({part})'s final gradient is right" in g["review"]
