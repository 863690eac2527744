"""The answer key: Problems 3 and 5 under every reading of the assignment a student may take, for any sheet.

Readings (key_readings): P3 with the natural log (this repository's), log10 and log2, h(0) = 0; P5
with σ (eq. 10.41 as printed) or tanh on the cell input, forget bias b^f in {0, 1, 2}, the other
biases at p5_lstm.py's choice or all zero. A row holds ŷ(3), L and the gradient asked for (P3:
∂L/∂b; P5: ∂L/∂b^f); a P3 row also b after one step, the loss there, and ∂L/∂b by central
differences (ε = 1e-4) in float64 and in float32, PyTorch's default dtype, with the rounding bound
of each (rounding_bound). Every row's
gradient is checked against torch autograd; a disagreement above TOLERANCE stops it with a UserError.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from common.core.cli import UserError
from common.core.gradcheck import numeric_gradient, rel_error
from common.grading.solution import BIAS_NAMES, KEYS, Reading, Sheet, Solver
from common.recurrent.problems import (
    PROBLEM3_EPS,
    PROBLEM3_LR,
    PROBLEM5_BIASES,
    lstm_model_backward,
    lstm_model_forward,
    problem5_params,
    rnn_model_backward,
    rnn_model_forward,
)
from common.recurrent.rnn_autograd import (
    lstm_grad_b_f,
    rnn_central_difference_float32,
    rnn_grad_b,
)

TOLERANCE = 1e-10
P3_LOGS = ("e", "10", "2")
P5_ACTIVATIONS = ("sigmoid", "tanh")
P5_FORGET_BIASES = (0.0, 1.0, 2.0)
UNIT_ROUNDOFF = {"float64": 2.0 ** -53, "float32": 2.0 ** -24}


def rounding_bound(loss: float, dtype: str) -> float:
    """The size of the rounding error in a central difference of P3's loss with ε = 1e-4: each loss is
    rounded by about u max(1, |L|) (its log term by u, its square by u |L|), and the quotient divides
    a difference of two of them by 2ε, so u max(1, |L|) / ε."""
    return UNIT_ROUNDOFF[dtype] * max(1.0, abs(loss)) / PROBLEM3_EPS


def checked(grad: np.ndarray, autograd: np.ndarray, what: str) -> list[float]:
    """grad as a list, after checking it against autograd."""
    err = rel_error(grad, autograd)
    if not err <= TOLERANCE:
        raise UserError(f"answer key: {what}: BPTT and autograd differ by {err:.1e} (relative)")
    return grad.tolist()


def p3_row(sheet: Sheet, log: str, h0: Sequence[float]) -> dict[str, Any]:
    """Problem 3 (1)-(5) for one log base and h(0), with part (2) in float64 and float32."""
    x, p, h0 = sheet.x, sheet.params, np.array(h0, dtype=float)
    yhat, loss, cache = rnn_model_forward(x, p, h0, log)
    grad = rnn_model_backward(cache, log)[1].db
    b_new = p.b - PROBLEM3_LR * grad
    # numeric_gradient perturbs p.b in place (and restores it), so the loss reads it through p
    central = numeric_gradient(lambda _b: rnn_model_forward(x, p, h0, log)[1], p.b, PROBLEM3_EPS)
    return {"problem": "p3", "interpretation": {"log": log, "h0": h0.tolist()}, "yhat3": yhat[-1].tolist(),
            "loss": loss, "grad": checked(grad, rnn_grad_b(x, p, h0, log), f"P3 log {log}"),
            "b_new": b_new.tolist(), "loss_new": rnn_model_forward(x, p._replace(b=b_new), h0, log)[1],
            "grad_central": central.tolist(),
            "grad_central_float32": rnn_central_difference_float32(x, p, h0, log, PROBLEM3_EPS).tolist(),
            "central_rounding_bound": {dtype: rounding_bound(loss, dtype) for dtype in UNIT_ROUNDOFF}}


def p5_row(sheet: Sheet, activation: str, biases: dict[str, Sequence[float]]) -> dict[str, Any]:
    """Problem 5 for one cell-input activation and set of biases."""
    p, V, c = problem5_params(biases, sheet.params)
    yhat, loss, cache = lstm_model_forward(sheet.x, p, V, c, activation)
    grad = lstm_model_backward(cache)[1].params.b_f
    interpretation = {"cell_activation": activation, **{k: [float(v) for v in biases[k]]
                                                        for k in ("b", "b_f", "b_g", "b_o")}}
    return {"problem": "p5", "interpretation": interpretation, "yhat3": yhat[-1].tolist(), "loss": loss,
            "grad": checked(grad, lstm_grad_b_f(sheet.x, p, V, c, activation), f"P5 {interpretation}"),
            "b_new": None, "loss_new": None, "grad_central": None, "grad_central_float32": None,
            "central_rounding_bound": None}


def p5_variants() -> list[dict[str, tuple[float, ...]]]:
    """b^f in {0, 1, 2}, with the other biases at the script's choice, then all zero."""
    zero = {name: (0.0, 0.0) for name in PROBLEM5_BIASES}
    return [others | {"b_f": (bf, bf)} for others in (PROBLEM5_BIASES, zero) for bf in P5_FORGET_BIASES]


def key_readings(problem: str) -> list[Reading]:
    """The readings of the key's rows, in the order of answer_key(): P3's, or P5's."""
    if problem == "p3":
        return [Reading(log=log) for log in P3_LOGS]
    return [Reading(cell_activation=act, biases=tuple(tuple(b[n]) for n in BIAS_NAMES))
            for act in P5_ACTIVATIONS for b in p5_variants()]


def answer_key(sheet: Sheet, intermediates: bool = False) -> list[dict[str, Any]]:
    """Every row, P3 first; with `intermediates`, each row also holds `values`: every named value of
    common/grading/solution.py's KEYS under the row's reading."""
    rows = [p3_row(sheet, log, (0.0, 0.0)) for log in P3_LOGS]
    rows += [p5_row(sheet, act, biases) for act in P5_ACTIVATIONS for biases in p5_variants()]
    if intermediates:
        solver = Solver(sheet)
        readings = key_readings("p3") + key_readings("p5")
        for row, reading in zip(rows, readings):
            row["values"] = dict(zip(KEYS[row["problem"]], solver.values(row["problem"], reading).tolist()))
    return rows
