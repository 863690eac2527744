"""The numpy vanilla RNN of Problems 3-5 and the output head: forward/backward pairs with named
caches, float64.

- The vanilla RNN, eqs. 10.8-10.9: rnn_step_forward/backward (one step, the tested reference) and
  rnn_forward/backward (a sequence; the backward runs the recurrence step by step and computes the
  parameter gradients as one matmul after it).
- The output head, eqs. 10.10-10.11 (o = c + V h, ŷ = softmax o): output_forward/backward.
- The assignment's loss L = (ŷ1(τ) − 0.5)² − log ŷ2(τ), natural log or log10/log2:
  custom_loss_forward/backward, and head_forward/backward (head, then loss).

The LSTM is in lstm.py, the models of Problems 3 and 5 in problems.py.
Shapes: a sequence x (T, D), states h and s (T, H), outputs ŷ (T, O); W (H, H), U (H, D), V (O, H).
A step takes x (D,) and h_prev (H,), or a batch of N rows, x (N, D) and h_prev (N, H).
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from common.core.cli import UserError

# ---------------------------------------------------------------------------------------------
# Shared by both recurrences: shape checks and the backward of a = b + W h(t−1) + U x(t).
# ---------------------------------------------------------------------------------------------


def check_recurrent_shapes(x: np.ndarray, h0: np.ndarray, W: np.ndarray, U: np.ndarray,
                           b: np.ndarray, suffix: str = "") -> None:
    """Raise UserError unless x is (T, D) with T ≥ 1, h0 and b are (H,), W is (H, H), U is (H, D)."""
    if x.ndim != 2:
        raise UserError(f"x must be a (T, D) array, one row per time step; got shape {x.shape}")
    if x.shape[0] == 0:
        raise UserError("empty sequence: x has no time steps (T = 0); need T >= 1")
    if h0.ndim != 1:
        raise UserError(f"h0 must be a vector (H,); got shape {h0.shape}")
    D, H = x.shape[1], h0.shape[0]
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
    """Backward of a = b + W h_prev + U x, for one step (da (H,)) or T steps stacked (da (T, H)).

    Returns (dx, dh_prev, dW, dU, db). W, U and b are shared by every step, so with T rows their
    gradients are sums over t, each a single matmul: dW = Σ_t ∂L/∂a(t) h(t−1)ᵀ = daᵀ h_prev.
    """
    da2, x2, h_prev2 = np.atleast_2d(da, x, h_prev)
    dx = da @ U  # Uᵀ ∂L/∂a
    dh_prev = da @ W  # Wᵀ ∂L/∂a
    return dx, dh_prev, da2.T @ h_prev2, da2.T @ x2, da2.sum(axis=0)


# ---------------------------------------------------------------------------------------------
# The RNN, eqs. 10.8-10.9: a(t) = b + W h(t−1) + U x(t), h(t) = tanh(a(t)).
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
    tanh_grad: np.ndarray  # (T, H) tanh'(a(t)) = 1 − h(t)², the local derivative the backward uses


class RNNGrads(NamedTuple):
    dx: np.ndarray  # (T, D)
    dh0: np.ndarray  # (H,)
    dW: np.ndarray  # (H, H)
    dU: np.ndarray  # (H, D)
    db: np.ndarray  # (H,)
    dh: np.ndarray  # (T, H) total ∂L/∂h(t): from o(t) and from a(t+1)
    da: np.ndarray  # (T, H) ∂L/∂a(t); row t is step t's contribution to ∂L/∂b


def rnn_step_forward(x: np.ndarray, h_prev: np.ndarray, W: np.ndarray, U: np.ndarray,
                     b: np.ndarray) -> tuple[np.ndarray, RNNStepCache]:
    """One step of eqs. 10.8-10.9. x (D,) and h_prev (H,), or a batch x (N, D) and h_prev (N, H),
    → h of h_prev's shape and the step's cache (the backward takes the unbatched form)."""
    # (10.8) in the book's column form: for a batch, W h_prevᵀ is W [h_1 … h_N], one matmul for all rows
    a = b + (W @ h_prev.T).T + (U @ x.T).T
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
    return h, RNNCache(x, np.vstack([h0, h[:-1]]), a, h, W, U, 1.0 - h ** 2)  # tanh' = 1 − tanh²


def rnn_backward(dh: np.ndarray, cache: RNNCache) -> RNNGrads:
    """BPTT through eqs. 10.8-10.9. dh (T, H): ∂L/∂h(t) from the outputs o(t) only.

    Returns the gradients of x, h0, W, U, b and the per-step intermediates: the total ∂L/∂h(t) and
    ∂L/∂a(t). Only the recurrence runs step by step; the parameter gradients are one matmul after it.
    rnn_step_backward, applied from t = τ down to 1, is the reference it is tested against.
    """
    check_upstream_shape(dh, cache.h.shape)
    T, H = cache.h.shape
    tanh_grad = cache.tanh_grad  # tanh'(a(t)) = 1 − h(t)², every step at once, from the forward
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
# The output head, eqs. 10.10-10.11, and the assignment's loss.
# ---------------------------------------------------------------------------------------------

# ln of the loss's log base: log_B y = ln y / ln B. "e" divides by exactly 1.0.
LOG_BASES: dict[str, float] = {"e": 1.0, "10": math.log(10.0), "2": math.log(2.0)}


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
    dyhat: np.ndarray | None = None  # (T, O) ∂L/∂ŷ(t); None from output_affine_backward alone
    jacobian: np.ndarray | None = None  # (T, O, O) the softmax Jacobian ∂ŷ/∂o(t); None likewise


def output_forward(h: np.ndarray, V: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, OutputCache]:
    """o(t) = c + V h(t) (10.10) and ŷ(t) = softmax(o(t)) (10.11) for every step. h (T, H) → ŷ (T, O)."""
    if V.ndim != 2 or V.shape[1] != h.shape[1] or c.shape != (V.shape[0],):
        raise UserError(f"V must be (O, H) and c (O,) with H = {h.shape[1]}; "
                        f"got V {V.shape} and c {c.shape}")
    o = h @ V.T + c
    e = np.exp(o - o.max(axis=1, keepdims=True))  # softmax is unchanged by a shift; this one avoids overflow
    yhat = e / e.sum(axis=1, keepdims=True)
    return yhat, OutputCache(h, o, yhat, V)


def softmax_jacobian(yhat: np.ndarray) -> np.ndarray:
    """∂ŷ_i/∂o_j = ŷ_i (δ_ij − ŷ_j) for every step: yhat (T, O) → (T, O, O), symmetric per step."""
    return yhat[:, :, None] * (np.eye(yhat.shape[1]) - yhat[:, None, :])


def softmax_backward(dyhat: np.ndarray, yhat: np.ndarray) -> np.ndarray:
    """∂L/∂o (T, O) from ∂L/∂ŷ (T, O) through ŷ = softmax(o), every step at once."""
    # softmax Jacobian ∂ŷ_i/∂o_j = ŷ_i (δ_ij − ŷ_j), so ∂L/∂o = ŷ ⊙ (∂L/∂ŷ − ⟨∂L/∂ŷ, ŷ⟩)
    return yhat * (dyhat - np.sum(dyhat * yhat, axis=1, keepdims=True))


def output_affine_backward(do: np.ndarray, cache: OutputCache) -> OutputGrads:
    """Backward of o = c + V h given do = ∂L/∂o (T, O). Returns dh, dV, dc and do itself."""
    return OutputGrads(do @ cache.V, do.T @ cache.h, do.sum(axis=0), do)


def output_backward(dyhat: np.ndarray, cache: OutputCache) -> OutputGrads:
    """Backward of output_forward given dyhat = ∂L/∂ŷ (T, O). Returns dh, dV, dc, do = ∂L/∂o, dyhat
    itself and the softmax Jacobian J(t) at ŷ(t), with ∂L/∂o(t) = J(t)ᵀ ∂L/∂ŷ(t)."""
    grads = output_affine_backward(softmax_backward(dyhat, cache.yhat), cache)
    return grads._replace(dyhat=dyhat, jacobian=softmax_jacobian(cache.yhat))


def check_log_base(log: str) -> float:
    """ln B for the loss's log base B named by `log` ('e', '10' or '2'); UserError otherwise."""
    if log not in LOG_BASES:
        raise UserError(f"log base must be one of {sorted(LOG_BASES)}, got {log!r}")
    return LOG_BASES[log]


def custom_loss_forward(yhat: np.ndarray, log: str = "e") -> float:
    """L = (ŷ1(τ) − 0.5)² − log_B ŷ2(τ): only the last step enters. yhat (T, O) with O ≥ 2."""
    ln_base = check_log_base(log)
    if yhat.ndim != 2 or yhat.shape[1] < 2:
        raise UserError(f"the loss needs ŷ1 and ŷ2, so at least O = 2 outputs; got ŷ of shape {yhat.shape}")
    y1, y2 = yhat[-1, 0], yhat[-1, 1]
    return float((y1 - 0.5) ** 2 - np.log(y2) / ln_base)


def custom_loss_backward(yhat: np.ndarray, log: str = "e") -> np.ndarray:
    """∂L/∂ŷ (T, O): zero except at the last step."""
    dyhat = np.zeros_like(yhat)
    dyhat[-1, 0] = 2.0 * (yhat[-1, 0] - 0.5)  # d/dŷ1 (ŷ1 − 0.5)²
    dyhat[-1, 1] = -1.0 / yhat[-1, 1] / check_log_base(log)  # d/dŷ2 (−ln ŷ2 / ln B)
    return dyhat


def head_forward(h: np.ndarray, V: np.ndarray, c: np.ndarray,
                 log: str = "e") -> tuple[np.ndarray, float, OutputCache]:
    """Output layer then the custom loss, on top of any recurrence's h (T, H). Returns ŷ, L, cache."""
    yhat, cache = output_forward(h, V, c)
    return yhat, custom_loss_forward(yhat, log), cache


def head_backward(cache: OutputCache, log: str = "e") -> OutputGrads:
    """∂L/∂h(t) from the outputs, with dV, dc and ∂L/∂o(t)."""
    return output_backward(custom_loss_backward(cache.yhat, log), cache)
