"""Problem 3: the RNN of eqs. 10.8-10.11 on a 3-step sequence, its loss, and ∂L/∂b three ways.

Answers Problem 3 (1)-(5) in order, for the assignment's parameters and sequence, with h(0) = 0 and
the natural log (--h0 and --log reproduce other readings):
(1) ŷ(t) for t = 1..3 and the custom loss L = (ŷ1(3) − 0.5)² − log ŷ2(3); (2) ∂L/∂b by central
differences; (3) ∂L/∂b by back-propagation through time, every step written out with the numbers
of t = τ, then the per-step intermediate results from t = τ down to 1 and the relative difference
to (2) and to torch autograd; (4) one gradient-descent step on b; (5) the loss with the new b
against the first-order prediction.

Command:   .venv/bin/python p3_rnn_bptt.py     (flags: --eps 1e-4, --lr 0.002, --h0 0 0, --log e, --out)
Writes:    figures/p3_results.json and figures/p3_unrolled_rnn.png (the unrolled network, annotated); a run
           with other flags writes to figures/readings/p3_<changed flags>/ unless --out says otherwise
Warns:     on stderr, when an --eps makes central differences differ from BPTT by more than 1e-3
Expected:  ŷ(1) = [0.94921601, 0.050783994], ŷ(2) = [0.95221995, 0.047780051],
           ŷ(3) = [0.94001124, 0.059988758], L = 3.0072080;
           ∂L/∂b = [-0.0099613884, 0.43400996] by central differences and
           ∂L/∂b = [-0.0099613883, 0.43400995] by BPTT (relative differences 1.6e-09 to central
           differences, 1.3e-16 to torch autograd); b_new = [-0.99998008, 0.99913198];
           L_new = 3.0068308, a change of -3.7719078e-04 against -3.7692774e-04 to first order.
Runtime:   about 2.5 s on 2 CPU cores, most of it importing torch (autograd cross-check) and matplotlib.

The math (the RNN's forward/backward pairs, the output head o = c + V h with its softmax and
the custom loss) lives in common/recurrent/rnn.py; this script holds the problem: its numbers, the printed
worked solution, the cross-checks and the figure.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, NamedTuple, Sequence

import numpy as np

from common.core.cli import (
    Parser,
    add_reading_out_argument,
    finite_float,
    positive_float,
    reading_folder,
    run,
    save_figure,
    versions,
    write_json_atomic,
)
from common.core.gradcheck import numeric_gradient, rel_error
from common.plots.backend import plt
from common.plots.p3 import plot_unrolled
from common.recurrent.problems import (
    PROBLEM3_EPS,
    PROBLEM3_LR,
    RNNModelCache,
    RNNParams,
    problem3_params,
    problem3_sequence,
    rnn_model_backward,
    rnn_model_forward,
)
from common.recurrent.rnn import LOG_BASES, OutputGrads, RNNGrads
from common.recurrent.rnn_autograd import rnn_central_difference_float32, rnn_grad_b
from report.render import print_problem


def intermediate_rows(out: OutputGrads, rnn_grads: RNNGrads, tanh_grad: np.ndarray) -> list[dict[str, Any]]:
    """The per-step BPTT results, from t = τ down to 1 (t is 1-based, as in the book), each taken from
    the backward pass: ∂L/∂ŷ, the softmax Jacobian and ∂L/∂o from the head's, 1 − h² from the cache."""
    return [{"t": t + 1, "dL_dyhat": out.dyhat[t].tolist(), "softmax_jacobian": out.jacobian[t].tolist(),
             "dL_do": out.do[t].tolist(), "dL_dh": rnn_grads.dh[t].tolist(),
             "one_minus_h2": tanh_grad[t].tolist(), "dL_da": rnn_grads.da[t].tolist(),
             "contribution_to_dL_db": rnn_grads.da[t].tolist()} for t in reversed(range(len(tanh_grad)))]


def build_parser() -> Parser:
    parser = Parser(description="Problem 3: RNN forward pass, loss, ∂L/∂b by central differences "
                                "and by BPTT, one gradient step on b.")
    parser.add_argument("--eps", type=positive_float, default=PROBLEM3_EPS, help="central-difference step ε")
    parser.add_argument("--lr", type=positive_float, default=PROBLEM3_LR, help="learning rate of the step on b")
    parser.add_argument("--h0", type=finite_float, nargs=2, default=[0.0, 0.0], metavar=("H1", "H2"),
                        help="initial state h(0)")
    parser.add_argument("--log", choices=sorted(LOG_BASES), default="e",
                        help="base of the log in the loss (e: natural)")
    add_reading_out_argument(parser, "p3")
    return parser


WARN_REL_ERROR = 1e-3  # central differences this far from BPTT (relative) print a warning


def eps_warning(eps: float, err: float) -> str | None:
    """A warning when central differences with this ε disagree with BPTT by more than WARN_REL_ERROR."""
    if not err > WARN_REL_ERROR:
        return None
    cause = ("the rounding of each loss, divided by 2ε, dominates: ε is too small" if eps < PROBLEM3_EPS else
             "the ε² truncation term dominates: ε is too large")
    return (f"warning: with ε = {eps:g}, central differences differ from BPTT by {err:.1e} (relative, more than "
            f"{WARN_REL_ERROR:g}); {cause} (the assignment's ε = {PROBLEM3_EPS:g})")


def output_folder(parser: Parser, args: Any) -> Path:
    """--out, or by default figures/ for this script's own reading and figures/readings/p3_<changed flags>/
    for any other (common.core.cli.out_folder)."""
    return reading_folder(parser, args, "p3", ("log", "h0", "eps", "lr"))


class Problem3(NamedTuple):
    """The assignment's data and this run's reading: the sequence, the parameters, h(0), the log, ε, lr."""

    x: np.ndarray
    p: RNNParams
    h0: np.ndarray
    log: str
    eps: float
    lr: float

    def loss(self, p: RNNParams) -> float:
        return rnn_model_forward(self.x, p, self.h0, self.log)[1]


def outputs(q: Problem3) -> tuple[dict[str, Any], RNNModelCache]:
    """(1) The forward pass: a(t), h(t), o(t), ŷ(t) and the loss; with the cache for (3)."""
    yhat, loss, cache = rnn_model_forward(q.x, q.p, q.h0, q.log)
    return {"a": cache.rnn.a.tolist(), "h": cache.rnn.h.tolist(), "o": cache.out.o.tolist(),
            "yhat": yhat.tolist(), "loss": loss}, cache


def central(q: Problem3) -> np.ndarray:
    """(2) ∂L/∂b by central differences (numeric_gradient perturbs q.p.b in place and restores it)."""
    return numeric_gradient(lambda _b: q.loss(q.p), q.p.b, q.eps)


def single_precision(q: Problem3, grad_central: np.ndarray) -> dict[str, Any]:
    """(2) in float32, PyTorch's default dtype, and how far each component lands from float64's
    (relative): the rounding of two nearby losses, divided by 2ε, is large beside the small ∂L/∂b₁."""
    grad32 = rnn_central_difference_float32(q.x, q.p, q.h0, q.log, q.eps)
    return {"grad_b_central_float32": grad32.tolist(),
            "grad_b_central_float32_rel_diff": (np.abs(grad32 - grad_central) / np.abs(grad_central)).tolist()}


def bptt(q: Problem3, cache: RNNModelCache, loss: float,
         grad_central: np.ndarray) -> tuple[dict[str, Any], np.ndarray, plt.Figure]:
    """(3) ∂L/∂b by BPTT with every per-step intermediate, checked against (2) and torch autograd;
    with ∂L/∂b itself and the unrolled network's figure."""
    out, rnn_grads = rnn_model_backward(cache, q.log)
    grad_b, grad_autograd = rnn_grads.db, rnn_grad_b(q.x, q.p, q.h0, q.log)
    results = {
        "grad_b_central": grad_central.tolist(),
        "grad_b_bptt": grad_b.tolist(),
        "grad_b_autograd": grad_autograd.tolist(),
        "rel_error_central": rel_error(grad_b, grad_central),
        "rel_error_autograd": rel_error(grad_b, grad_autograd),
        "grads_bptt": {"b": grad_b.tolist(), "c": out.dc.tolist(), "W": rnn_grads.dW.tolist(),
                       "U": rnn_grads.dU.tolist(), "V": out.dV.tolist()},
        "intermediate": intermediate_rows(out, rnn_grads, cache.rnn.tanh_grad),
    }
    figure = plot_unrolled(q.x, q.h0, cache.rnn.a, cache.rnn.h, cache.out.yhat, loss, out.do,
                           rnn_grads.dh, rnn_grads.da, q.p.b, q.log)
    return results, grad_b, figure


def step(q: Problem3, grad_b: np.ndarray) -> np.ndarray:
    """(4) One gradient-descent step on b: b_new = b − lr ∂L/∂b."""
    return q.p.b - q.lr * grad_b


def new_loss(q: Problem3, b_new: np.ndarray, loss: float, grad_b: np.ndarray) -> dict[str, Any]:
    """(5) The loss at b_new, whether it is lower, and its change against the first-order prediction
    −lr |∂L/∂b|² (relative difference)."""
    loss_new = q.loss(q.p._replace(b=b_new))
    change, first = loss_new - loss, -q.lr * float(grad_b @ grad_b)
    return {"loss_new": loss_new, "loss_change": change, "loss_change_first_order": first,
            "loss_lower": bool(loss_new < loss), "loss_change_rel_to_first_order": abs(change - first) / abs(first)}


def solve(q: Problem3) -> tuple[dict[str, Any], plt.Figure]:
    """Every sub-question's values as the results dict, and the unrolled network's figure."""
    forward, cache = outputs(q)
    grad_central = central(q)
    derived, grad_b, figure = bptt(q, cache, forward["loss"], grad_central)
    b_new = step(q, grad_b)
    results = {"eps": q.eps, "lr": q.lr, "log": q.log, "x": q.x.tolist(), "h0": q.h0.tolist(),
               "params": {name: value.tolist() for name, value in q.p._asdict().items()},
               **forward, **derived, **single_precision(q, grad_central), "b_new": b_new.tolist(),
               "b_step": (q.lr * grad_b).tolist(),
               **new_loss(q, b_new, forward["loss"], grad_b), "versions": versions("numpy", "torch")}
    return results, figure


def check_h0(parser: Parser, q: Problem3) -> None:
    """A one-line error (exit 2) when the first step's a(1) = b + W h(0) + U x(1) is not finite in
    float64 for --h0 (and for b ± ε of the central differences)."""
    with np.errstate(over="ignore", invalid="ignore"):
        a1 = q.p.b + q.p.W @ q.h0 + q.p.U @ q.x[0]
    if not np.all(np.isfinite(a1 + q.eps) & np.isfinite(a1 - q.eps)):
        parser.error(f"argument --h0: a(1) = b + W h(0) + U x(1) overflows float64 for h(0) = "
                     f"[{q.h0[0]:g}, {q.h0[1]:g}]; give smaller values")


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = build_parser()
    args = parser.parse_args(argv)
    out = output_folder(parser, args)
    q = Problem3(problem3_sequence(), problem3_params(), np.array(args.h0, dtype=float), args.log,
                 args.eps, args.lr)
    check_h0(parser, q)
    results, figure = solve(q)
    print_problem(3, results, out)
    warning = eps_warning(args.eps, results["rel_error_central"])
    if warning:
        print(warning, file=sys.stderr)
    write_json_atomic(out / "p3_results.json", results)
    save_figure(figure, out / "p3_unrolled_rnn.png")
    print(f"\nwrote {out / 'p3_results.json'} and {out / 'p3_unrolled_rnn.png'}")
    return results


if __name__ == "__main__":
    sys.exit(run(main))
