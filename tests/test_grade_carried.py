"""Carried credit: an error is penalised once. A row whose values are one catalogue mistake's worked
chain earns every later part it gives under the default rubric, and loses it under a rubric whose
`carried` share is 0.

Each row is every value of tests/grade_reference.py (plain numpy) with the mistake planted; each
expected score is the default rubric's points (read here with the csv module) summed by hand.
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


def cells(values: dict[str, float]) -> list[str]:
    """NAME=VALUE for --check: 5 significant digits, b_new 8 so that the step shows."""
    return [f"{k}={v:.7e}" if k.startswith("b_new") else f"{k}={v:.4e}" for k, v in values.items()]


def scored(problem: str, values: dict[str, float], rubric: Path | None = None) -> dict:
    extra = ["--rubric", str(rubric)] if rubric else []
    return grade.main(["--check", problem, *cells(values), *extra])["rows"][0]


def rubric_with_carried(tmp_path: Path, off: set[tuple[str, int]]) -> Path:
    """The default rubric with `carried` 0 on the parts `off`."""
    rows = list(csv.DictReader(io.StringIO(DEFAULT_RUBRIC)))
    for r in rows:
        if (r["problem"], int(r["part"])) in off:
            r["carried"] = "0"
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
    """L is its first wrong step (part 1); (2)-(5) are the right work on its own loss: 30 − 6 = 24.
    With carried 0 on (2) and (3) only (4) and (5) carry: 3 + 3; with carried 0 everywhere, nothing."""
    g = scored("p3", over_ln10)
    assert (g["verdict"], g["mistake"], g["first_wrong"]) == ("known_mistake", "loss_over_ln10", "L")
    total = sum(POINTS["p3", p] for p in range(1, 6))
    assert (float(g["score"]), float(g["out_of"])) == (total - POINTS["p3", 1], total) == (24.0, 30.0)
    part_2_3_off = scored("p3", over_ln10, rubric_with_carried(tmp_path, {("p3", 2), ("p3", 3)}))
    assert float(part_2_3_off["score"]) == POINTS["p3", 4] + POINTS["p3", 5] == 6.0
    all_off = scored("p3", over_ln10, rubric_with_carried(tmp_path, {("p3", p) for p in range(1, 6)}))
    assert float(all_off["score"]) == 0.0


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
    """h without tanh is wrong from h(1) on (part 1); part 2 differentiates that model correctly: 5 of 8."""
    n = ASSIGNMENT
    v = ref.p5(np.array(n["x"]), n["c"], n["W"], n["U"], n["V"], REPO_BIASES, mistake="h_without_tanh")
    g = scored("p5", v)
    assert (g["verdict"], g["mistake"], g["first_wrong"]) == ("known_mistake", "h_without_tanh", "h@1")
    assert (float(g["score"]), float(g["out_of"])) == (POINTS["p5", 2], POINTS["p5", 1] + POINTS["p5", 2]) == (5, 8)
    assert float(scored("p5", v, rubric_with_carried(tmp_path, {("p5", 2)}))["score"]) == 0.0


def test_a_wrong_row_s_later_parts_carry_nothing() -> None:
    """A gradient that is no catalogue mistake's: grade.py cannot tell whether (3) follows from the
    row's L, so a row wrong from L on earns nothing for its (made-up) (3)."""
    n = ASSIGNMENT
    v = ref.p3(np.array(n["x"]), n["b"], n["c"], n["W"], n["U"], n["V"], mistake="loss_over_ln10")
    made_up = {"L": v["L"], "grad_1": 0.25, "grad_2": -0.3125}
    g = scored("p3", made_up)
    assert g["verdict"] == "wrong" and float(g["score"]) == 0.0
