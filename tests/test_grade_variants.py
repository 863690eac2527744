"""Per-student variants (grade.py --make-variant): every key against torch autograd, the draws' style
and fairness, and the files written."""
from __future__ import annotations

import json
from pathlib import Path

import grade_autograd as autograd
import numpy as np
import pytest
from submissions_plan import VARIANT_3

import grade
from common.grading.key import P3_LOGS
from common.grading.matching import Values
from common.grading.mistakes import PIECES
from common.grading.sheets import Sheets
from common.grading.solution import KEYS, OWN, Solver
from common.grading.variants import (
    MIN_GRAD,
    MIN_YHAT2,
    RANGES,
    degenerate,
    draw_sheet,
    sheet_markdown,
    variant_key,
)

SEEDS = range(50)


@pytest.fixture(scope="module")
def keys() -> dict[int, dict]:
    return {n: variant_key(n, draw_sheet(n)) for n in SEEDS}


def torch_values(key: dict, row: dict) -> dict[str, float]:
    x, p, interp = key["x"], key["params"], row["interpretation"]
    if row["problem"] == "p3":
        return autograd.p3(x, p["b"], p["c"], p["W"], p["U"], p["V"], interp["log"], interp["h0"])
    return autograd.p5(x, p["c"], p["W"], p["U"], p["V"], interp, interp["cell_activation"])


def test_every_variant_key_equals_torch_autograd(keys: dict[int, dict]) -> None:
    """50 variants x 15 rows: ŷ(3), L, the gradient, b_new, L_new and every intermediate of `values`."""
    for n, key in keys.items():
        assert len(key["rows"]) == 15
        for row in key["rows"]:
            want = torch_values(key, row)
            got = row["values"]
            for name, v in want.items():
                assert got[name] == pytest.approx(v, rel=1e-9, abs=1e-12), (n, row["interpretation"], name)
            np.testing.assert_allclose(row["yhat3"], [want["yhat@3_1"], want["yhat@3_2"]], rtol=1e-12)
            assert row["loss"] == pytest.approx(want["L"], rel=1e-12)
            np.testing.assert_allclose(row["grad"], [want["grad_1"], want["grad_2"]], rtol=1e-9, atol=1e-14)
            if row["problem"] == "p3":
                np.testing.assert_allclose(row["b_new"], [want["b_new_1"], want["b_new_2"]], rtol=1e-12)
                assert row["loss_new"] == pytest.approx(want["L_new"], rel=1e-12)
                np.testing.assert_allclose(row["grad_central"], row["grad"], rtol=1e-5, atol=1e-9)


def test_variants_are_drawn_in_the_assignment_s_style(keys: dict[int, dict]) -> None:
    for key in keys.values():
        p, x = key["params"], np.array(key["x"])
        assert np.all(np.abs(x) <= 1) and np.all(x * 4 == np.round(x * 4))
        for name, bound in (("W", 2), ("U", 2), ("V", 2), ("b", 1), ("c", 1)):
            a = np.array(p[name])
            assert np.all(np.abs(a) <= bound) and np.all(a * 2 == np.round(a * 2)), name
    assert len({json.dumps(k["params"]) for k in keys.values()}) == len(keys)


def test_no_variant_is_degenerate(keys: dict[int, dict]) -> None:
    """ŷ2(τ) >= 1e-3 and every gradient component >= 1e-6 in size under P3's three log bases and P5's
    two cell inputs with this repository's biases (the rule of common/grading/variants.py)."""
    repo = {"b": [0.0, 0.0], "b_f": [1.0, 1.0], "b_g": [-1.0, -1.0], "b_o": [2.0, 2.0]}
    for key in keys.values():
        rows = [r for r in key["rows"] if r["problem"] == "p3" or r["interpretation"] == {
            "cell_activation": r["interpretation"]["cell_activation"], **repo}]
        assert len(rows) == len(P3_LOGS) + 2
        assert min(r["yhat3"][1] for r in rows) >= MIN_YHAT2
        assert min(abs(g) for r in rows for g in r["grad"]) >= MIN_GRAD


def test_a_degenerate_sheet_is_recognised() -> None:
    sheet = draw_sheet(0)
    assert not degenerate(sheet)
    assert degenerate(sheet._replace(params=sheet.params._replace(c=np.array([6.0, -6.0]))))  # ŷ2 < 1e-3
    assert degenerate(sheet._replace(params=sheet.params._replace(V=np.zeros((2, 2)))))  # ∂L/∂b = 0


def test_variant_3_is_still_the_sheet_handed_out() -> None:
    sheet = draw_sheet(3)
    assert sheet.x.tolist() == VARIANT_3["x"]
    assert {k: v.tolist() for k, v in sheet.params._asdict().items()} == {k: VARIANT_3[k] for k in "bcWUV"}


def test_make_variant_writes_the_sheet_and_its_key(tmp_path: Path) -> None:
    grade.main(["--make-variant", "3", "--out-dir", str(tmp_path)])
    sheet = (tmp_path / "sheet-3.md").read_text(encoding="utf-8")
    assert sheet == sheet_markdown(3, draw_sheet(3))
    assert r"W = \begin{bmatrix} -1.5 & 0.5 \\ 2 & -0.5 \end{bmatrix}" in sheet  # VARIANT_3's W
    assert "Problem 3 (30 points)" in sheet and "Problem 5 (8 points, extra credit)" in sheet
    key = json.loads((tmp_path / "key-3.json").read_text())
    assert key["variant"] == 3 and key["x"] == VARIANT_3["x"] and len(key["rows"]) == 15
    assert set(key["indistinguishable"]) == {"p3", "p5"}
    assert {"dL_dh@2_1", "grad_cd_1", "L_new"} <= set(key["rows"][0]["values"])


def test_the_sheet_states_the_model_the_digits_and_the_ranges() -> None:
    """h(0) = 0 and the book's equations named for both problems; b_new with 8 significant digits or
    Δb in its own columns; the ranges of the draw, in the words README uses."""
    sheet = " ".join(sheet_markdown(3, draw_sheet(3)).split())
    p3, p5 = sheet.split("## Problem 5")
    assert "eqs. (10.8)–(10.11)" in p3 and "h(0) = 0" in p3 and "ε = 0.0001" in p3 and "0.002" in p3
    assert "eqs. (10.40)–(10.44)" in p5 and "h(0) = 0" in p5 and "s(0) = 0" in p5 and "∂L/∂b^f" in p5
    assert "b with 8 significant digits" in p3 and "`delta_b_1` and `delta_b_2`" in p3
    assert "quarters (multiples of 0.25) in [−1, 1]" in RANGES and "halves (multiples of 0.5) in [−2, 2]" in RANGES
    assert RANGES in sheet
    readme = " ".join((Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8").split())
    assert RANGES in readme


def test_a_key_s_values_are_read_by_reading_and_used(tmp_path: Path) -> None:
    """--sheets reads each key row's values under its reading (key_readings' order) and grades with
    them: the same numbers as computing the sheet again, and the very arrays the grader then uses."""
    grade.main(["--make-variant", "3", "--out-dir", str(tmp_path)])
    sheets = Sheets(tmp_path, draw_sheet)
    known = sheets.known_of(3)
    assert len(known) == 15 and sheets.known_of(None) == {}
    solver = Solver(draw_sheet(3))
    for (problem, reading), v in known.items():
        np.testing.assert_allclose(v, solver.values(problem, reading), rtol=1e-12, atol=1e-15)
    values = Values(sheets.sheet_of, sheets.known_of)
    assert values.solver(3).values("p5", OWN) is known["p5", OWN]
    assert values.solver(3).values("p3", OWN, PIECES["update_sign"]) is not known["p3", OWN]


@pytest.mark.parametrize("order", ["sorted", "keys", "shuffled"])
def test_a_key_s_values_are_read_in_any_order(tmp_path: Path, order: str) -> None:
    """A key row's values are read by name whatever their order in the file: sorted (as
    write_json_atomic writes them), in KEYS order (as the benchmark writes them) or shuffled."""
    grade.main(["--make-variant", "3", "--out-dir", str(tmp_path)])
    path = tmp_path / "key-3.json"
    key = json.loads(path.read_text(encoding="utf-8"))
    rng = np.random.default_rng(0)
    for row in key["rows"]:
        names = {"sorted": sorted(row["values"]), "keys": list(KEYS[row["problem"]]),
                 "shuffled": list(rng.permutation(sorted(row["values"])))}[order]
        row["values"] = {k: row["values"][k] for k in names}
    path.write_text(json.dumps(key), encoding="utf-8")
    solver = Solver(draw_sheet(3))
    known = Sheets(tmp_path, draw_sheet).known_of(3)
    assert len(known) == 15
    for (problem, reading), v in known.items():
        np.testing.assert_allclose(v, solver.values(problem, reading), rtol=1e-12, atol=1e-15)
