"""Answer key for graders: Problems 3 and 5 under every reading of the assignment a student may take.

Rows: P3 with the natural log (this repository's reading), log10 and log2, h(0) = 0; P5 with σ (eq. 10.41
as printed) or tanh on the cell input, forget bias b^f in {0, 1, 2}, the other biases at p5_lstm.py's
choice or all zero. Columns: ŷ(3), L, the gradient asked for (P3: ∂L/∂b; P5: ∂L/∂b^f) and, for P3,
b after one step of lr 0.002 and the loss there. Every row's gradient is checked against torch
autograd when this runs; a disagreement above 1e-10 (relative) stops it with an error.

Command:   .venv/bin/python answer_key.py      (flags: --out figures)
Writes:    figures/answer_key.json, a list of rows {problem, interpretation, yhat3, loss, grad, b_new,
           loss_new} (P5 rows: b_new and loss_new are null)
Runtime:   about 2 s on 2 CPU cores, most of it importing torch.

The math lives in common/rnn.py, the autograd cross-check in common/rnn_autograd.py.
"""
from __future__ import annotations

import sys
from typing import Any, Sequence

import numpy as np

from common.cli import (
    Parser,
    UserError,
    add_out_argument,
    run,
    write_json_atomic,
)
from common.gradcheck import rel_error
from common.rnn import (
    PROBLEM5_BIASES,
    lstm_model_backward,
    lstm_model_forward,
    problem3_params,
    problem3_sequence,
    problem5_params,
    rnn_model_backward,
    rnn_model_forward,
)
from common.rnn_autograd import lstm_grad_b_f, rnn_grad_b

LR = 0.002  # Problem 3 (4)
TOLERANCE = 1e-10
P3_LOGS = ("e", "10", "2")
P5_ACTIVATIONS = ("sigmoid", "tanh")
P5_FORGET_BIASES = (0.0, 1.0, 2.0)


def checked(grad: np.ndarray, autograd: np.ndarray, what: str) -> list[float]:
    """grad as a list, after checking it against autograd."""
    err = rel_error(grad, autograd)
    if not err <= TOLERANCE:
        raise UserError(f"answer key: {what}: BPTT and autograd differ by {err:.1e} (relative)")
    return grad.tolist()


def p3_row(log: str, h0: Sequence[float]) -> dict[str, Any]:
    """Problem 3 (1)-(5) for one log base and h(0)."""
    x, p, h0 = problem3_sequence(), problem3_params(), np.array(h0, dtype=float)
    yhat, loss, cache = rnn_model_forward(x, p, h0, log)
    grad = rnn_model_backward(cache, log)[1].db
    b_new = p.b - LR * grad
    return {"problem": "p3", "interpretation": {"log": log, "h0": h0.tolist()}, "yhat3": yhat[-1].tolist(),
            "loss": loss, "grad": checked(grad, rnn_grad_b(x, p, h0, log), f"P3 log {log}"),
            "b_new": b_new.tolist(), "loss_new": rnn_model_forward(x, p._replace(b=b_new), h0, log)[1]}


def p5_row(activation: str, biases: dict[str, Sequence[float]]) -> dict[str, Any]:
    """Problem 5 for one cell-input activation and set of biases."""
    x = problem3_sequence()
    p, V, c = problem5_params(biases)
    yhat, loss, cache = lstm_model_forward(x, p, V, c, activation)
    grad = lstm_model_backward(cache)[1].params.b_f
    interpretation = {"cell_activation": activation, **{k: [float(v) for v in biases[k]]
                                                        for k in ("b", "b_f", "b_g", "b_o")}}
    return {"problem": "p5", "interpretation": interpretation, "yhat3": yhat[-1].tolist(), "loss": loss,
            "grad": checked(grad, lstm_grad_b_f(x, p, V, c, activation), f"P5 {interpretation}"),
            "b_new": None, "loss_new": None}


def p5_variants() -> list[dict[str, tuple[float, ...]]]:
    """b^f in {0, 1, 2}, with the other biases at the script's choice, then all zero."""
    zero = {name: (0.0, 0.0) for name in PROBLEM5_BIASES}
    return [others | {"b_f": (bf, bf)} for others in (PROBLEM5_BIASES, zero) for bf in P5_FORGET_BIASES]


def answer_key() -> list[dict[str, Any]]:
    """Every row, P3 first."""
    rows = [p3_row(log, (0.0, 0.0)) for log in P3_LOGS]
    return rows + [p5_row(act, biases) for act in P5_ACTIVATIONS for biases in p5_variants()]


def build_parser() -> Parser:
    parser = Parser(description="Answer key for Problems 3 and 5 across interpretations, each row "
                                "checked against torch autograd.")
    add_out_argument(parser, "folder for answer_key.json")
    return parser


def main(argv: Sequence[str] | None = None) -> list[dict[str, Any]]:
    args = build_parser().parse_args(argv)
    rows = answer_key()
    write_json_atomic(args.out / "answer_key.json", rows)
    for row in rows:
        print(f"{row['problem']}  {row['interpretation']}  L = {row['loss']:.8g}  grad = "
              + ", ".join(f"{g:.8g}" for g in row["grad"]))
    print(f"\n{len(rows)} rows, each gradient equal to torch autograd within {TOLERANCE:g} (relative); "
          f"wrote {args.out / 'answer_key.json'}")
    return rows


if __name__ == "__main__":
    sys.exit(run(main))
