"""The grading tests' own reference (tests/grade_reference.py, plain numpy) against torch autograd
(tests/grade_autograd.py): the right computation, and every planted mistake that is a change of the
model (so that its backward is the true backward of the changed model)."""
from __future__ import annotations

import grade_autograd as autograd
import grade_reference as ref
import numpy as np
import pytest
from submissions_plan import ASSIGNMENT, REPO_BIASES, VARIANT_3

SHEETS = {"assignment": ASSIGNMENT, "variant 3": VARIANT_3}
OTHER_BIASES = {"b_f": [0.0, 2.0], "b_g": [0.5, -0.5], "b_o": [1.0, 1.0], "b": [-1.0, 0.5]}


def assert_same(ours: dict[str, float], torch_: dict[str, float]) -> None:
    assert set(torch_) <= set(ours)
    for k, v in torch_.items():
        assert ours[k] == pytest.approx(v, rel=1e-10, abs=1e-13), k


@pytest.mark.parametrize("sheet", SHEETS)
@pytest.mark.parametrize("log, h0", [("e", (0.0, 0.0)), ("10", (0.0, 0.0)), ("2", (0.5, -0.25))])
@pytest.mark.parametrize("change", [None, "loss_over_ln10", "loss_summed_over_t", "yhat_swapped"])
def test_p3_reference_equals_autograd(sheet: str, log: str, h0: tuple, change: str | None) -> None:
    n = SHEETS[sheet]
    ours = ref.p3(np.array(n["x"]), n["b"], n["c"], n["W"], n["U"], n["V"], log, h0, change)
    assert_same(ours, autograd.p3(n["x"], n["b"], n["c"], n["W"], n["U"], n["V"], log, h0, change))


@pytest.mark.parametrize("sheet", SHEETS)
@pytest.mark.parametrize("activation, biases", [("sigmoid", REPO_BIASES), ("tanh", OTHER_BIASES)])
@pytest.mark.parametrize("change", [None, "h_without_tanh", "loss_over_ln10", "loss_summed_over_t",
                                    "yhat_swapped"])
def test_p5_reference_equals_autograd(sheet: str, activation: str, biases: dict, change: str | None) -> None:
    n = SHEETS[sheet]
    ours = ref.p5(np.array(n["x"]), n["c"], n["W"], n["U"], n["V"], biases, activation, mistake=change)
    assert_same(ours, autograd.p5(n["x"], n["c"], n["W"], n["U"], n["V"], biases, activation, change=change))


def test_the_reference_central_differences_and_update() -> None:
    """Part (2) against a difference quotient written out here, (4) and (5) from the gradient of (3)."""
    n = ASSIGNMENT
    v = ref.p3(np.array(n["x"]), n["b"], n["c"], n["W"], n["U"], n["V"])
    one = ref.p3(np.array(n["x"]), n["b"], n["c"], n["W"], n["U"], n["V"], mistake="one_sided_difference")
    sign = ref.p3(np.array(n["x"]), n["b"], n["c"], n["W"], n["U"], n["V"], mistake="update_sign")

    def L(b: list[float]) -> float:
        return ref.p3(np.array(n["x"]), b, n["c"], n["W"], n["U"], n["V"])["L"]

    for i, e in enumerate(np.eye(2), start=1):
        b = np.array(n["b"])
        assert v[f"grad_cd_{i}"] == pytest.approx((L(b + 1e-4 * e) - L(b - 1e-4 * e)) / 2e-4, rel=1e-12)
        assert one[f"grad_cd_{i}"] == pytest.approx((L(b + 1e-4 * e) - L(b)) / 1e-4, rel=1e-12)
        assert v[f"grad_{i}"] == pytest.approx(v[f"grad_cd_{i}"], rel=1e-6)
        assert v[f"b_new_{i}"] == n["b"][i - 1] - 0.002 * v[f"grad_{i}"]
        assert sign[f"b_new_{i}"] == n["b"][i - 1] + 0.002 * v[f"grad_{i}"]
    assert v["L_new"] == L([v["b_new_1"], v["b_new_2"]])


@pytest.mark.parametrize("sheet", SHEETS)
@pytest.mark.parametrize("problem", ["p3", "p5"])
@pytest.mark.parametrize("mistake", ["W_not_transposed", "V_not_transposed"])
def test_the_transpose_entries_equal_the_plain_numpy_backward(sheet: str, problem: str, mistake: str) -> None:
    """The catalogue's W and V in place of Wᵀ and Vᵀ give, value by value, what grade_reference's
    backward with W (or V) written in place of its transpose gives."""
    from common.grading.mistakes import PIECES
    from common.grading.solution import KEYS, OWN, Sheet, Solver
    from common.recurrent.problems import RNNParams

    n = SHEETS[sheet]
    x = np.array(n["x"])
    solver = Solver(Sheet(x, RNNParams(**{k: np.array(n[k], dtype=float) for k in "bcWUV"})))
    ours = dict(zip(KEYS[problem], solver.values(problem, OWN, PIECES[mistake])))
    theirs = ref.p3(x, *(n[k] for k in "bcWUV"), mistake=mistake) if problem == "p3" else \
        ref.p5(x, n["c"], n["W"], n["U"], n["V"], REPO_BIASES, mistake=mistake)
    right = ref.p3(x, *(n[k] for k in "bcWUV")) if problem == "p3" else \
        ref.p5(x, n["c"], n["W"], n["U"], n["V"], REPO_BIASES)
    assert any(abs(theirs[k] - right[k]) > 1e-6 for k in theirs)  # the mistake changes something here
    cd = {k for k in theirs if k.startswith("grad_cd")}  # difference quotients: rounding of 1e-12 / 2e-4
    assert_same(ours, {k: v for k, v in theirs.items() if k not in cd})
    assert all(ours[k] == pytest.approx(theirs[k], abs=1e-9) for k in cd)
