"""P3 (2) in float32: grade.py accepts central differences from any float32 code, not only PyTorch's.

The float32 values here come from a plain numpy loop written in another order than torch's (each
pre-activation summed term by term, last index first; the softmax's denominator added the other way
round), so they round differently from tests/submissions_plan.py's torch values; every other value
of the row is tests/grade_reference.py's (float64). The band is 4 float32 rounding bounds,
u·max(1, |L|)/ε with u = 2^-24, around the float64 central difference (README, "For graders").
"""
from __future__ import annotations

import csv
import io

import grade_reference as ref
import numpy as np
import pytest
from submissions_plan import ASSIGNMENT, central_float32

import grade
from common.grading.rubric import DEFAULT_RUBRIC

F = np.float32
P3_POINTS = sum(float(r["points"]) for r in csv.DictReader(io.StringIO(DEFAULT_RUBRIC)) if r["problem"] == "p3")


def loss_float32(b: np.ndarray, log: str) -> np.float32:
    """Problem 3's loss in float32, every sum written out with the last index first."""
    W, U, V, c, X = (np.array(ASSIGNMENT[k], dtype=F) for k in ("W", "U", "V", "c", "x"))
    h = np.zeros(2, dtype=F)
    for x in X:
        a = np.zeros(2, dtype=F)
        for i in range(2):
            s = F(0)
            for j in (1, 0):
                s = s + U[i, j] * x[j]
            for j in (1, 0):
                s = s + W[i, j] * h[j]
            a[i] = s + b[i]
        h = np.tanh(a)
    o = np.array([c[i] + V[i, 1] * h[1] + V[i, 0] * h[0] for i in range(2)], dtype=F)
    e = np.exp(o)
    y = e / (e[1] + e[0])
    return (y[0] - F(0.5)) * (y[0] - F(0.5)) - np.log(y[1]) / F(ref.LN_BASE[log])


def central_numpy_float32(log: str) -> list[float]:
    b, eps, out = np.array(ASSIGNMENT["b"], dtype=F), F(ref.EPS), []
    for i in range(2):
        e = np.zeros(2, dtype=F)
        e[i] = eps
        out.append(float((loss_float32(b + e, log) - loss_float32(b - e, log)) / (F(2) * eps)))
    return out


def float64_values(log: str) -> dict[str, float]:
    n = ASSIGNMENT
    return ref.p3(np.array(n["x"]), n["b"], n["c"], n["W"], n["U"], n["V"], log)


def six_digits(v: float) -> float:
    return float(f"{v:.6g}")


def test_numpy_float32_differs_from_torch_s_and_from_float64() -> None:
    """The row below tests the band: its values are neither torch's float32 ones nor float64's."""
    mine, torch32, right = central_numpy_float32("e"), central_float32(ASSIGNMENT), float64_values("e")
    assert all(abs(six_digits(m) - t) > 1e-4 for m, t in zip(mine, torch32))  # ~1.2e-3 apart
    band = 4 * 2.0 ** -24 * max(1.0, right["L"]) / ref.EPS
    for i, m in enumerate(mine):
        r = right[f"grad_cd_{i + 1}"]
        assert 5e-5 * abs(r) < abs(m - r) <= band  # outside the float64 matching rule, inside the band


@pytest.mark.parametrize("log", ["e", "10", "2"])
def test_numpy_float32_central_differences_earn_full_marks(log: str) -> None:
    v = float64_values(log)
    v["grad_cd_1"], v["grad_cd_2"] = central_numpy_float32(log)
    cells = [f"{k}={x:.7e}" if k.startswith("b_new") else f"{k}={x:.6g}" if k.startswith("grad_cd")
             else f"{k}={x:.4e}" for k, x in v.items()]
    g = grade.main(["--check", "p3", *cells])["rows"][0]
    assert (g["verdict"], g["reading"].split(";")[0]) == ("other_reading", f"log={log},cd=float32")
    assert (float(g["score"]), float(g["out_of"])) == (P3_POINTS, P3_POINTS) == (30.0, 30.0)


def b_new_float32(log: str) -> list[float]:
    """P3 (4) in float32: b − lr·g with b, lr and the gradient g (float64's, rounded) all float32."""
    v = float64_values(log)
    g = np.array([v["grad_1"], v["grad_2"]], dtype=F)
    return [float(x) for x in np.array(ASSIGNMENT["b"], dtype=F) - F(ref.LR) * g]


def eight_digits(v: float) -> float:
    return float(f"{v:.8g}")


def test_float32_b_new_is_outside_half_a_unit_of_float64_s() -> None:
    """The row below tests the float32 band on b_new: written to 8 digits, its b₁ is not float64's."""
    right = float64_values("e")
    off = [abs(eight_digits(m) - right[f"b_new_{i + 1}"]) for i, m in enumerate(b_new_float32("e"))]
    assert off[0] > 0.5e-8  # beyond half a unit of the 8th digit (b ≈ 1)
    assert all(o <= 2 * 2.0 ** -24 for o in off)  # within two float32 roundings near 1


@pytest.mark.parametrize("log", ["e", "10", "2"])
def test_float32_b_new_earns_part_4(log: str) -> None:
    v = float64_values(log)
    v["b_new_1"], v["b_new_2"] = b_new_float32(log)
    cells = [f"{k}={x:.8g}" if k.startswith("b_new") else f"{k}={x:.5g}" for k, x in v.items()]
    g = grade.main(["--check", "p3", *cells])["rows"][0]
    verdict = "correct" if log == "e" else "other_reading"
    assert (g["verdict"], g["reading"].split(";")[0]) == (verdict, f"log={log}")
    assert (float(g["score"]), float(g["out_of"])) == (P3_POINTS, P3_POINTS)
