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
the custom loss) lives in common/rnn.py; this script holds the problem: its numbers, the printed
worked solution, the cross-checks and the figure.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from matplotlib.patches import FancyBboxPatch

from common.cli import (
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
from common.gradcheck import numeric_gradient, rel_error
from common.plotting import plt
from common.rnn import (
    LOG_BASES,
    PROBLEM3_EPS,
    PROBLEM3_LR,
    OutputGrads,
    RNNGrads,
    custom_loss_backward,
    problem3_params,
    problem3_sequence,
    rnn_model_backward,
    rnn_model_forward,
    softmax_jacobian,
)
from common.rnn_autograd import rnn_grad_b
from common.text import sig
from report.render import print_problem

LOG_NAMES = {"e": "natural (ln)", "10": "base 10", "2": "base 2"}


def interpretation(log: str) -> str:
    """The reading of the loss that this run uses (h(0) is recorded in the JSON's h0)."""
    return (f"ŷ1, ŷ2 are the first and second softmax outputs and log is {LOG_NAMES[log]}, so only ŷ(τ), "
            "τ = 3, enters the loss and ∂L/∂o(t) = 0 for t < τ. The gradient step in (4) uses the BPTT "
            "gradient of (3); all other parameters stay fixed.")


def intermediate_rows(out: OutputGrads, rnn_grads: RNNGrads, dyhat: np.ndarray, h: np.ndarray,
                      yhat: np.ndarray) -> list[dict[str, Any]]:
    """The per-step BPTT results, from t = τ down to 1 (t is 1-based, as in the book)."""
    jacobian = softmax_jacobian(yhat)
    return [{"t": t + 1, "dL_dyhat": dyhat[t].tolist(), "softmax_jacobian": jacobian[t].tolist(),
             "dL_do": out.do[t].tolist(), "dL_dh": rnn_grads.dh[t].tolist(),
             "one_minus_h2": (1.0 - h[t] ** 2).tolist(), "dL_da": rnn_grads.da[t].tolist(),
             "contribution_to_dL_db": rnn_grads.da[t].tolist()} for t in reversed(range(len(h)))]


def plot_unrolled(x: np.ndarray, h0: np.ndarray, a: np.ndarray, h: np.ndarray, yhat: np.ndarray, loss: float,
                  do: np.ndarray, dh: np.ndarray, da: np.ndarray, b: np.ndarray, log: str) -> Any:
    """Draw the unrolled RNN: forward values in black; ∂L/∂o(t), ∂L/∂h(t) and the ∂L/∂a(t) flowing
    into b (their sum is ∂L/∂b) in red. Arrays are (T, ·) as in the forward and backward passes."""
    T = len(x)
    col = [2.2 + 4.6 * t for t in range(T + 1)]  # column 0 is h(0), column t is step t
    y_x, y_h, y_o, y_b = 2.6, 5.6, 8.6, 0.5
    fig, ax = plt.subplots(figsize=(col[-1] + 4.2, 9.6))  # about 1 inch per axis unit
    ax.set_xlim(0, col[-1] + 5.0)
    ax.set_ylim(-0.2, 9.7)
    ax.axis("off")

    def box(cx: float, cy: float, text: str, w: float, hgt: float, color: str) -> None:
        ax.add_patch(FancyBboxPatch(
            (cx - w / 2, cy - hgt / 2), w, hgt, boxstyle="round,pad=0.05", fc=color, ec="black"))
        ax.text(cx, cy, text, ha="center", va="center", fontsize=10.5)

    def arrow(x0: float, y0: float, x1: float, y1: float, color: str = "black", ls: str = "-") -> None:
        ax.annotate("", (x1, y1), (x0, y0),
                    arrowprops=dict(arrowstyle="-|>", color=color, lw=1.6, ls=ls, mutation_scale=16))

    def v(arr: np.ndarray) -> str:
        return sig(arr, 4)  # 4 significant digits keep the boxes readable

    box(col[0], y_h, "h(0)\n" + v(h0), 1.9, 1.0, "#e8eef7")
    for t in range(T):
        c = col[t + 1]
        box(c, y_x, f"x({t + 1})\n{v(x[t])}", 2.1, 1.0, "#eaf5ea")
        box(c, y_h, f"a({t + 1}) = {v(a[t])}\nh({t + 1}) = {v(h[t])}\n", 3.6, 1.3, "#e8eef7")
        ax.text(c, y_h - 0.42, f"∂L/∂h({t + 1}) = {v(dh[t])}", ha="center", va="center", fontsize=10.5,
                color="tab:red")
        box(c, y_o, f"ŷ({t + 1}) = {v(yhat[t])}", 3.6, 0.8, "#fbefe2")
        arrow(c, y_x + 0.55, c, y_h - 0.7)
        ax.text(c - 0.15, (y_x + y_h) / 2, "U", ha="right", va="center", fontsize=13, style="italic")
        arrow(c, y_h + 0.7, c, y_o - 0.45)
        ax.text(c - 0.15, (y_h + y_o) / 2, "V, c, softmax", ha="right", va="center", fontsize=10.5)
        ax.text(c + 0.15, (y_h + y_o) / 2, f"∂L/∂o({t + 1})\n{v(do[t])}", ha="left", va="center",
                fontsize=10, color="tab:red")
        left = col[t] + (1.0 if t == 0 else 1.85)
        arrow(left, y_h, c - 1.85, y_h)
        ax.text((left + c - 1.85) / 2, y_h + 0.15, "W", ha="center", va="bottom", fontsize=13, style="italic")
        # backward: ∂L/∂a(t) flows into b, through a gap between the x boxes
        gx = c + 1.35
        arrow(gx, y_h - 0.7, gx, y_b + 0.45, color="tab:red", ls="--")
        ax.text(gx + 0.12, (y_x + y_h) / 2 - 0.55, f"∂L/∂a({t + 1})\n{v(da[t])}", ha="left", va="center",
                fontsize=10, color="tab:red")
    box(col[-1] + 3.4, y_o, f"L = {sig(loss, 4)}", 1.6, 0.8, "#f7e1e1")
    arrow(col[-1] + 1.85, y_o, col[-1] + 2.55, y_o)
    log_name = "log" if log == "e" else f"log{log}"
    ax.text(col[-1] + 3.4, y_o - 0.6, f"(ŷ1(3) − 0.5)² − {log_name} ŷ2(3)", ha="center", va="top", fontsize=10)
    sum_text = f"b = {v(b)}        ∂L/∂b = Σ_t ∂L/∂a(t) = {v(da.sum(axis=0))}"
    box((col[1] + col[-1]) / 2 + 1.35, y_b, sum_text, col[-1] - col[1] + 1.6, 0.8, "#f7e1e1")
    ax.text(col[0], y_b, "forward values: black\ngradients ∂L/∂·: red", ha="center", va="center", fontsize=10)
    ax.set_title(f"Problem 3: the RNN unrolled for τ = {T}, with h(0) = {v(h0)} "
                 "(values rounded to 4 significant digits)", fontsize=13)
    return fig



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
    for any other (common.cli.out_folder)."""
    return reading_folder(parser, args, "p3", ("log", "h0", "eps", "lr"))


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = build_parser()
    args = parser.parse_args(argv)
    out = output_folder(parser, args)
    x, p, h0, log = problem3_sequence(), problem3_params(), np.array(args.h0, dtype=float), args.log

    yhat, loss, cache = rnn_model_forward(x, p, h0, log)
    out_grads, rnn_grads = rnn_model_backward(cache, log)
    grad_b = rnn_grads.db
    grad_central = numeric_gradient(lambda _b: rnn_model_forward(x, p, h0, log)[1], p.b, args.eps)
    grad_autograd = rnn_grad_b(x, p, h0, log)

    b_new = p.b - args.lr * grad_b
    loss_new = rnn_model_forward(x, p._replace(b=b_new), h0, log)[1]

    results = {
        "interpretation": interpretation(log),
        "eps": args.eps,
        "lr": args.lr,
        "log": log,
        "x": x.tolist(),
        "h0": h0.tolist(),
        "params": {name: value.tolist() for name, value in p._asdict().items()},
        "a": cache.rnn.a.tolist(),
        "h": cache.rnn.h.tolist(),
        "o": cache.out.o.tolist(),
        "yhat": yhat.tolist(),
        "loss": loss,
        "grad_b_central": grad_central.tolist(),
        "grad_b_bptt": grad_b.tolist(),
        "grad_b_autograd": grad_autograd.tolist(),
        "rel_error_central": rel_error(grad_b, grad_central),
        "rel_error_autograd": rel_error(grad_b, grad_autograd),
        "grads_bptt": {"b": grad_b.tolist(), "c": out_grads.dc.tolist(), "W": rnn_grads.dW.tolist(),
                       "U": rnn_grads.dU.tolist(), "V": out_grads.dV.tolist()},
        "intermediate": intermediate_rows(out_grads, rnn_grads, custom_loss_backward(yhat, log),
                                          cache.rnn.h, yhat),
        "b_new": b_new.tolist(),
        "loss_new": loss_new,
        "loss_change": loss_new - loss,
        "loss_change_first_order": -args.lr * float(grad_b @ grad_b),
        "versions": versions("numpy", "torch"),
    }
    print_problem(3, results, out)
    warning = eps_warning(args.eps, results["rel_error_central"])
    if warning:
        print(warning, file=sys.stderr)
    write_json_atomic(out / "p3_results.json", results)
    save_figure(plot_unrolled(x, h0, cache.rnn.a, cache.rnn.h, yhat, loss, out_grads.do, rnn_grads.dh,
                              rnn_grads.da, p.b, log),
                out / "p3_unrolled_rnn.png")
    print(f"\nwrote {out / 'p3_results.json'} and {out / 'p3_unrolled_rnn.png'}")
    return results


if __name__ == "__main__":
    sys.exit(run(main))
