"""Problem 3: the RNN of eqs. 10.8-10.11 on a 3-step sequence, its loss, and ∂L/∂b three ways.

Answers Problem 3 (1)-(5) in order, for the assignment's parameters and sequence, with h(0) = 0:
(1) ŷ(t) for t = 1..3 and the custom loss L = (ŷ1(3) − 0.5)² − log ŷ2(3); (2) ∂L/∂b by central
differences; (3) ∂L/∂b by back-propagation through time, with the per-step intermediate results
from t = τ down to 1 and the relative difference to (2) and to torch autograd; (4) one
gradient-descent step on b; (5) the loss with the new b against the first-order prediction.

Command:   .venv/bin/python p3_rnn_bptt.py            (flags: --eps 1e-4, --lr 0.002, --out figures)
Writes:    figures/p3_results.json and figures/p3_unrolled_rnn.png (the unrolled network, annotated)
Expected:  ŷ(1) = [0.94921601, 0.050783994], ŷ(2) = [0.95221995, 0.047780051],
           ŷ(3) = [0.94001124, 0.059988758], L = 3.0072080;
           ∂L/∂b = [-0.0099613884, 0.43400996] by central differences and
           ∂L/∂b = [-0.0099613883, 0.43400995] by BPTT (relative differences 1.6e-09 to central
           differences, 1.3e-16 to torch autograd); b_new = [-0.99998008, 0.99913198];
           L_new = 3.0068308, a change of -3.7719078e-04 against -3.7692774e-04 to first order.
Runtime:   about 2.5 s on 2 CPU cores, most of it importing torch (autograd cross-check) and matplotlib.

The numpy functions are general (any T, D, H, float64) and are reused by p5_lstm.py and
p4_experiments.py: rnn_step_forward/backward and rnn_forward/backward for eqs. 10.8-10.9, the
output layer output_forward/backward for eqs. 10.10-10.11, and the assignment's loss
custom_loss_forward/backward. Shapes: x (T, D), h (T, H), ŷ (T, O); W (H, H), U (H, D), V (O, H).
"""
from __future__ import annotations

import platform
import sys
from importlib.metadata import version
from pathlib import Path
from typing import Any, NamedTuple, Sequence

import numpy as np

from common.cli import (FIGURES, Parser, UserError, positive_float, run, save_figure,
                        write_json_atomic)
from common.gradcheck import numeric_gradient, rel_error

INTERPRETATION = (
    "h(0) = 0 (the book leaves it open). ŷ1, ŷ2 are the first and second softmax outputs and log is "
    "natural, so only ŷ(τ), τ = 3, enters the loss and ∂L/∂o(t) = 0 for t < τ. The gradient step in "
    "(4) uses the BPTT gradient of (3); all other parameters stay fixed."
)


# ---------------------------------------------------------------------------------------------
# The recurrence, eqs. 10.8-10.9: a(t) = b + W h(t−1) + U x(t), h(t) = tanh(a(t)).
# ---------------------------------------------------------------------------------------------


class RNNStepCache(NamedTuple):
    x: np.ndarray  # (D,)   x(t)
    h_prev: np.ndarray  # (H,)   h(t−1)
    a: np.ndarray  # (H,)   a(t)
    h: np.ndarray  # (H,)   h(t)
    W: np.ndarray  # (H, H)
    U: np.ndarray  # (H, D)


class RNNStepGrads(NamedTuple):
    dx: np.ndarray  # (D,)
    dh_prev: np.ndarray  # (H,)   ∂L/∂h(t−1) through a(t) only
    dW: np.ndarray  # (H, H)
    dU: np.ndarray  # (H, D)
    db: np.ndarray  # (H,)
    da: np.ndarray  # (H,)   ∂L/∂a(t)


class RNNCache(NamedTuple):
    x: np.ndarray  # (T, D)
    h_prev: np.ndarray  # (T, H) row t is h(t−1); row 0 is h(0)
    a: np.ndarray  # (T, H)
    h: np.ndarray  # (T, H)
    W: np.ndarray  # (H, H)
    U: np.ndarray  # (H, D)


class RNNGrads(NamedTuple):
    dx: np.ndarray  # (T, D)
    dh0: np.ndarray  # (H,)
    dW: np.ndarray  # (H, H)
    dU: np.ndarray  # (H, D)
    db: np.ndarray  # (H,)
    dh: np.ndarray  # (T, H) total ∂L/∂h(t): from o(t) and from a(t+1)
    da: np.ndarray  # (T, H) ∂L/∂a(t); row t is step t's contribution to ∂L/∂b


def check_recurrent_shapes(x: np.ndarray, h0: np.ndarray, W: np.ndarray, U: np.ndarray,
                           b: np.ndarray, suffix: str = "") -> None:
    """Raise UserError unless x is (T, D) with T ≥ 1, h0 and b are (H,), W is (H, H), U is (H, D)."""
    if x.ndim != 2:
        raise UserError(f"x must be a (T, D) array, one row per time step; got shape {x.shape}")
    if x.shape[0] == 0:
        raise UserError("empty sequence: x has no time steps (T = 0); need T >= 1")
    if h0.ndim != 1:
        raise UserError(f"h0 must be a vector (H,); got shape {h0.shape}")
    (T, D), H = x.shape, h0.shape[0]
    expected = {f"W{suffix}": (W, (H, H)), f"U{suffix}": (U, (H, D)), f"b{suffix}": (b, (H,))}
    for name, (array, shape) in expected.items():
        if array.shape != shape:
            raise UserError(f"{name} has shape {array.shape}, expected {shape} "
                            f"for input size D = {D} and hidden size H = {H}")


def check_upstream_shape(dh: np.ndarray, shape: tuple[int, ...]) -> None:
    """Raise UserError unless the upstream gradient ∂L/∂h has the forward output's shape (T, H)."""
    if dh.shape != shape:
        raise UserError(f"dh must have the shape of h, {shape}; got {dh.shape}")


def recurrent_affine_backward(da: np.ndarray, x: np.ndarray, h_prev: np.ndarray, W: np.ndarray,
                              U: np.ndarray) -> tuple[np.ndarray, ...]:
    """Backward of a = b + W h_prev + U x, for one step (da (H,)) or all steps stacked (da (T, H)).

    Returns (dx, dh_prev, dW, dU, db). W, U and b are shared by every step, so with T rows their
    gradients are sums over t, each a single matmul: dW = Σ_t ∂L/∂a(t) h(t−1)ᵀ = daᵀ h_prev.
    """
    da2, x2, h_prev2 = np.atleast_2d(da, x, h_prev)
    dx = da @ U  # Uᵀ ∂L/∂a
    dh_prev = da @ W  # Wᵀ ∂L/∂a
    return dx, dh_prev, da2.T @ h_prev2, da2.T @ x2, da2.sum(axis=0)


def rnn_step_forward(x: np.ndarray, h_prev: np.ndarray, W: np.ndarray, U: np.ndarray,
                     b: np.ndarray) -> tuple[np.ndarray, RNNStepCache]:
    """One step of eqs. 10.8-10.9. x (D,), h_prev (H,) → h (H,) and the step's cache."""
    a = b + W @ h_prev + U @ x  # (10.8)
    h = np.tanh(a)  # (10.9)
    return h, RNNStepCache(x, h_prev, a, h, W, U)


def rnn_step_backward(dh: np.ndarray, cache: RNNStepCache) -> RNNStepGrads:
    """Backward of one step, given dh = ∂L/∂h(t) (H,). Returns dx, dh_prev, dW, dU, db and da."""
    da = dh * (1.0 - cache.h ** 2)  # tanh'(a) = 1 − tanh²(a) = 1 − h²
    return RNNStepGrads(*recurrent_affine_backward(da, cache.x, cache.h_prev, cache.W, cache.U), da)


def rnn_forward(x: np.ndarray, h0: np.ndarray, W: np.ndarray, U: np.ndarray,
                b: np.ndarray) -> tuple[np.ndarray, RNNCache]:
    """Run eqs. 10.8-10.9 over a sequence. x (T, D), h0 (H,) → h (T, H) and the cache."""
    check_recurrent_shapes(x, h0, W, U, b)
    T, H = x.shape[0], h0.shape[0]
    a, h = np.empty((T, H)), np.empty((T, H))
    h_prev = h0
    for t in range(T):
        h_prev, step = rnn_step_forward(x[t], h_prev, W, U, b)
        a[t], h[t] = step.a, step.h
    return h, RNNCache(x, np.vstack([h0, h[:-1]]), a, h, W, U)


def rnn_backward(dh: np.ndarray, cache: RNNCache) -> RNNGrads:
    """BPTT through eqs. 10.8-10.9. dh (T, H): ∂L/∂h(t) from the outputs o(t) only.

    Returns the gradients of x, h0, W, U, b and the per-step intermediates: the total ∂L/∂h(t) and
    ∂L/∂a(t). Only the recurrence runs step by step; the parameter gradients are one matmul after it.
    """
    check_upstream_shape(dh, cache.h.shape)
    T, H = cache.h.shape
    tanh_grad = 1.0 - cache.h ** 2  # tanh'(a(t)) = 1 − h(t)², every step at once
    dh_total, da = np.empty((T, H)), np.empty((T, H))
    dh_next = np.zeros(H)  # h(τ) feeds no a(τ+1)
    for t in reversed(range(T)):
        # ∂L/∂h(t) accumulates from o(t) and from a(t+1) = b + W h(t) + U x(t+1) (eq. 10.21)
        dh_total[t] = dh[t] + dh_next
        da[t] = dh_total[t] * tanh_grad[t]  # ∂L/∂a(t) = diag(1 − h(t)²) ∂L/∂h(t)
        dh_next = da[t] @ cache.W  # Wᵀ ∂L/∂a(t): the part of ∂L/∂h(t−1) that comes through time
    dx, dh_prev, dW, dU, db = recurrent_affine_backward(da, cache.x, cache.h_prev, cache.W, cache.U)
    return RNNGrads(dx, dh_prev[0], dW, dU, db, dh_total, da)


# ---------------------------------------------------------------------------------------------
# The output layer, eqs. 10.10-10.11, and the assignment's loss. Shared with p5_lstm.py.
# ---------------------------------------------------------------------------------------------


class OutputCache(NamedTuple):
    h: np.ndarray  # (T, H)
    o: np.ndarray  # (T, O)
    yhat: np.ndarray  # (T, O)
    V: np.ndarray  # (O, H)


class OutputGrads(NamedTuple):
    dh: np.ndarray  # (T, H)
    dV: np.ndarray  # (O, H)
    dc: np.ndarray  # (O,)
    do: np.ndarray  # (T, O) ∂L/∂o(t)


def output_forward(h: np.ndarray, V: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, OutputCache]:
    """o(t) = c + V h(t) (10.10) and ŷ(t) = softmax(o(t)) (10.11) for every step. h (T, H) → ŷ (T, O)."""
    if V.ndim != 2 or V.shape[1] != h.shape[1] or c.shape != (V.shape[0],):
        raise UserError(f"V must be (O, H) and c (O,) with H = {h.shape[1]}; "
                        f"got V {V.shape} and c {c.shape}")
    o = h @ V.T + c
    e = np.exp(o - o.max(axis=1, keepdims=True))  # softmax is unchanged by a shift; this one avoids overflow
    yhat = e / e.sum(axis=1, keepdims=True)
    return yhat, OutputCache(h, o, yhat, V)


def output_backward(dyhat: np.ndarray, cache: OutputCache) -> OutputGrads:
    """Backward of output_forward given dyhat = ∂L/∂ŷ (T, O). Returns dh, dV, dc and do = ∂L/∂o."""
    y = cache.yhat
    # softmax Jacobian ∂ŷ_i/∂o_j = ŷ_i (δ_ij − ŷ_j), so ∂L/∂o = ŷ ⊙ (∂L/∂ŷ − ⟨∂L/∂ŷ, ŷ⟩)
    do = y * (dyhat - np.sum(dyhat * y, axis=1, keepdims=True))
    return OutputGrads(do @ cache.V, do.T @ cache.h, do.sum(axis=0), do)


def custom_loss_forward(yhat: np.ndarray) -> float:
    """L = (ŷ1(τ) − 0.5)² − log ŷ2(τ): only the last step enters. yhat (T, O) with O ≥ 2."""
    if yhat.ndim != 2 or yhat.shape[1] < 2:
        raise UserError(f"the loss needs ŷ1 and ŷ2, so at least O = 2 outputs; got ŷ of shape {yhat.shape}")
    y1, y2 = yhat[-1, 0], yhat[-1, 1]
    return float((y1 - 0.5) ** 2 - np.log(y2))


def custom_loss_backward(yhat: np.ndarray) -> np.ndarray:
    """∂L/∂ŷ (T, O): zero except at the last step."""
    dyhat = np.zeros_like(yhat)
    dyhat[-1, 0] = 2.0 * (yhat[-1, 0] - 0.5)  # d/dŷ1 (ŷ1 − 0.5)²
    dyhat[-1, 1] = -1.0 / yhat[-1, 1]  # d/dŷ2 (−log ŷ2)
    return dyhat


def head_forward(h: np.ndarray, V: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, float, OutputCache]:
    """Output layer then the custom loss, on top of any recurrence's h (T, H). Returns ŷ, L, cache."""
    yhat, cache = output_forward(h, V, c)
    return yhat, custom_loss_forward(yhat), cache


def head_backward(cache: OutputCache) -> OutputGrads:
    """∂L/∂h(t) from the outputs, with dV, dc and ∂L/∂o(t)."""
    return output_backward(custom_loss_backward(cache.yhat), cache)


# ---------------------------------------------------------------------------------------------
# Problem 3's network: the RNN, the output layer and the loss, with h(0) = 0.
# ---------------------------------------------------------------------------------------------


class RNNParams(NamedTuple):
    b: np.ndarray  # (H,)
    c: np.ndarray  # (O,)
    W: np.ndarray  # (H, H)
    U: np.ndarray  # (H, D)
    V: np.ndarray  # (O, H)


class RNNModelCache(NamedTuple):
    rnn: RNNCache
    out: OutputCache


def problem3_params() -> RNNParams:
    """The assignment's parameter values (fresh arrays, safe to perturb in place)."""
    return RNNParams(b=np.array([-1.0, 1.0]), c=np.array([0.5, -0.5]),
                     W=np.array([[1.0, -1.0], [0.0, 2.0]]), U=np.array([[-1.0, 0.0], [1.0, -2.0]]),
                     V=np.array([[-2.0, 1.0], [-1.0, 0.0]]))


def problem3_sequence() -> np.ndarray:
    """x(1), x(2), x(3) as the rows of a (3, 2) array."""
    return np.array([[1.0, 0.0], [0.5, 0.25], [0.0, 1.0]])


def rnn_model_forward(x: np.ndarray, p: RNNParams) -> tuple[np.ndarray, float, RNNModelCache]:
    """ŷ (T, O), the loss and the cache, with h(0) = 0."""
    h, rnn_cache = rnn_forward(x, np.zeros(p.W.shape[0]), p.W, p.U, p.b)
    yhat, loss, out_cache = head_forward(h, p.V, p.c)
    return yhat, loss, RNNModelCache(rnn_cache, out_cache)


def rnn_model_backward(cache: RNNModelCache) -> tuple[OutputGrads, RNNGrads]:
    """Gradients of the loss: the output layer's (dV, dc, ∂L/∂o) and the recurrence's (db, dW, ...)."""
    out = head_backward(cache.out)
    return out, rnn_backward(out.dh, cache.rnn)


def autograd_grad_b(x: np.ndarray, p: RNNParams) -> np.ndarray:
    """Cross-check only: ∂L/∂b from torch autograd, on eqs. 10.8-10.11 and the loss rewritten in torch."""
    import torch

    t = {name: torch.tensor(value, dtype=torch.float64) for name, value in p._asdict().items()}
    b = t["b"].requires_grad_()
    h = torch.zeros_like(b)
    for x_t in torch.tensor(x, dtype=torch.float64):
        h = torch.tanh(b + t["W"] @ h + t["U"] @ x_t)
    y = torch.softmax(t["c"] + t["V"] @ h, dim=0)
    ((y[0] - 0.5) ** 2 - torch.log(y[1])).backward()
    return b.grad.numpy()


# ---------------------------------------------------------------------------------------------
# Report: printing, JSON and the figure.
# ---------------------------------------------------------------------------------------------


def fmt(v: Any, digits: int = 8) -> str:
    """A number or vector with `digits` significant digits, trailing zeros kept: [-2.0000000, 0.96402758]."""
    if np.ndim(v) == 0:
        return f"{float(v) + 0.0:#.{digits}g}"  # + 0.0 turns −0.0 into 0.0
    return "[" + ", ".join(fmt(e, digits) for e in v) + "]"


def print_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Print left-aligned columns."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  " + "  ".join(str(cell).ljust(w) for cell, w in zip(row, widths)).rstrip())


def intermediate_rows(do: np.ndarray, dh: np.ndarray, da: np.ndarray) -> list[dict[str, Any]]:
    """The per-step BPTT results, from t = τ down to 1 (t is 1-based, as in the book)."""
    return [{"t": t + 1, "dL_do": do[t].tolist(), "dL_dh": dh[t].tolist(), "dL_da": da[t].tolist(),
             "contribution_to_dL_db": da[t].tolist()} for t in reversed(range(len(da)))]


def print_report(r: dict[str, Any]) -> None:
    """Print the answers to Problem 3 (1)-(5) from the results dict."""
    print("Problem 3: RNN of eqs. 10.8-10.11, loss L = (ŷ1(τ) − 0.5)² − log ŷ2(τ), τ = 3")
    print(f"Interpretation: {r['interpretation']}\n")
    print("(1) Outputs and loss")
    print_table(["t", "x(t)", "a(t)", "h(t)", "ŷ(t)"],
                [[str(t + 1), fmt(r["x"][t]), fmt(r["a"][t]), fmt(r["h"][t]), fmt(r["yhat"][t])]
                 for t in range(len(r["yhat"]))])
    print(f"  L = {fmt(r['loss'])}\n")
    print(f"(2) ∂L/∂b by central differences, ε = {r['eps']:g}: (L(b + ε e_i) − L(b − ε e_i)) / 2ε")
    print(f"  ∂L/∂b1 = {fmt(r['grad_b_central'][0])}, ∂L/∂b2 = {fmt(r['grad_b_central'][1])}\n")
    print("(3) ∂L/∂b by back-propagation through time, from t = τ down to 1")
    print("  ∂L/∂h(t) = Vᵀ ∂L/∂o(t) + Wᵀ ∂L/∂a(t+1),  ∂L/∂a(t) = (1 − h(t)²) ⊙ ∂L/∂h(t),"
          "  ∂L/∂b = Σ_t ∂L/∂a(t)")
    print_table(["t", "∂L/∂o(t)", "∂L/∂h(t)", "∂L/∂a(t) = contribution to ∂L/∂b"],
                [[str(row["t"]), fmt(row["dL_do"]), fmt(row["dL_dh"]), fmt(row["contribution_to_dL_db"])]
                 for row in r["intermediate"]])
    print(f"  sum over t: ∂L/∂b = {fmt(r['grad_b_bptt'])}")
    print(f"  relative difference to (2), central differences: {r['rel_error_central']:.2e}")
    print(f"  relative difference to torch autograd:           {r['rel_error_autograd']:.2e}")
    print(f"  (the same backward pass gives ∂L/∂c = {fmt(r['grads_bptt']['c'])}, "
          f"∂L/∂W, ∂L/∂U, ∂L/∂V: see the JSON)\n")
    print(f"(4) One gradient-descent step on b, lr = {r['lr']:g}: b ← b − lr ∂L/∂b")
    print(f"  b_new = {fmt(r['b_new'])}\n")
    print("(5) Loss with the new b")
    print(f"  L_new = {fmt(r['loss_new'])}")
    print(f"  change L_new − L = {fmt(r['loss_change'])}; first-order prediction −lr |∂L/∂b|² = "
          f"{fmt(r['loss_change_first_order'])}")


def plot_unrolled(x: np.ndarray, a: np.ndarray, h: np.ndarray, yhat: np.ndarray, loss: float,
                  do: np.ndarray, dh: np.ndarray, da: np.ndarray, b: np.ndarray) -> Any:
    """Draw the unrolled RNN: forward values in black; ∂L/∂o(t), ∂L/∂h(t) and the ∂L/∂a(t) flowing
    into b (their sum is ∂L/∂b) in red. Arrays are (T, ·) as in the forward and backward passes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    T = len(x)
    col = [2.2 + 4.6 * t for t in range(T + 1)]  # column 0 is h(0), column t is step t
    y_x, y_h, y_o, y_b = 2.6, 5.6, 8.6, 0.5
    fig, ax = plt.subplots(figsize=(col[-1] + 4.2, 9.6))  # about 1 inch per axis unit
    ax.set_xlim(0, col[-1] + 5.0)
    ax.set_ylim(-0.2, 9.7)
    ax.axis("off")

    def box(cx: float, cy: float, text: str, w: float, hgt: float, color: str) -> None:
        ax.add_patch(matplotlib.patches.FancyBboxPatch(
            (cx - w / 2, cy - hgt / 2), w, hgt, boxstyle="round,pad=0.05", fc=color, ec="black"))
        ax.text(cx, cy, text, ha="center", va="center", fontsize=10.5)

    def arrow(x0: float, y0: float, x1: float, y1: float, color: str = "black", ls: str = "-") -> None:
        ax.annotate("", (x1, y1), (x0, y0),
                    arrowprops=dict(arrowstyle="-|>", color=color, lw=1.6, ls=ls, mutation_scale=16))

    def v(arr: np.ndarray) -> str:
        return fmt(arr, 4)  # 4 significant digits keep the boxes readable

    box(col[0], y_h, "h(0)\n" + v(np.zeros(h.shape[1])), 1.9, 1.0, "#e8eef7")
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
    box(col[-1] + 3.4, y_o, f"L = {fmt(loss, 4)}", 1.6, 0.8, "#f7e1e1")
    arrow(col[-1] + 1.85, y_o, col[-1] + 2.55, y_o)
    ax.text(col[-1] + 3.4, y_o - 0.6, "(ŷ1(3) − 0.5)² − log ŷ2(3)", ha="center", va="top", fontsize=10)
    sum_text = f"b = {v(b)}        ∂L/∂b = Σ_t ∂L/∂a(t) = {v(da.sum(axis=0))}"
    box((col[1] + col[-1]) / 2 + 1.35, y_b, sum_text, col[-1] - col[1] + 1.6, 0.8, "#f7e1e1")
    ax.text(col[0], y_b, "forward values: black\ngradients ∂L/∂·: red", ha="center", va="center", fontsize=10)
    ax.set_title("Problem 3: the RNN unrolled for τ = 3, with h(0) = 0 "
                 "(values rounded to 4 significant digits)", fontsize=13)
    return fig



def build_parser() -> Parser:
    parser = Parser(description="Problem 3: RNN forward pass, loss, ∂L/∂b by central differences "
                                "and by BPTT, one gradient step on b.")
    parser.add_argument("--eps", type=positive_float, default=1e-4, help="central-difference step ε")
    parser.add_argument("--lr", type=positive_float, default=0.002, help="learning rate of the step on b")
    parser.add_argument("--out", type=Path, default=FIGURES, help="folder for the JSON and the figure")
    return parser


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = build_parser().parse_args(argv)
    x, p = problem3_sequence(), problem3_params()

    yhat, loss, cache = rnn_model_forward(x, p)
    out_grads, rnn_grads = rnn_model_backward(cache)
    grad_b = rnn_grads.db
    grad_central = numeric_gradient(lambda _b: rnn_model_forward(x, p)[1], p.b, args.eps)
    grad_autograd = autograd_grad_b(x, p)

    b_new = p.b - args.lr * grad_b
    loss_new = rnn_model_forward(x, p._replace(b=b_new))[1]

    results = {
        "interpretation": INTERPRETATION,
        "eps": args.eps,
        "lr": args.lr,
        "x": x.tolist(),
        "h0": [0.0] * len(p.b),
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
        "intermediate": intermediate_rows(out_grads.do, rnn_grads.dh, rnn_grads.da),
        "b_new": b_new.tolist(),
        "loss_new": loss_new,
        "loss_change": loss_new - loss,
        "loss_change_first_order": -args.lr * float(grad_b @ grad_b),
        "versions": {"python": platform.python_version(), "numpy": version("numpy"),
                     "torch": version("torch")},
    }
    print_report(results)
    write_json_atomic(args.out / "p3_results.json", results)
    save_figure(plot_unrolled(x, cache.rnn.a, cache.rnn.h, yhat, loss, out_grads.do, rnn_grads.dh,
                              rnn_grads.da, p.b),
                args.out / "p3_unrolled_rnn.png")
    print(f"\nwrote {args.out / 'p3_results.json'} and {args.out / 'p3_unrolled_rnn.png'}")
    return results


if __name__ == "__main__":
    sys.exit(run(main))
