"""The numpy recurrent layers of Problems 3-5: forward/backward pairs with named caches, float64.

- The vanilla RNN, eqs. 10.8-10.9: rnn_step_forward/backward (one step, the tested reference) and
  rnn_forward/backward (a sequence; the backward runs the recurrence step by step and computes the
  parameter gradients as one matmul after it).
- The output head, eqs. 10.10-10.11 (o = c + V h, ŷ = softmax o): output_forward/backward.
- The assignment's loss L = (ŷ1(τ) − 0.5)² − log ŷ2(τ), natural log or log10/log2:
  custom_loss_forward/backward, and head_forward/backward (head, then loss).
- The LSTM cell, eqs. 10.40-10.44: lstm_step_forward/backward and lstm_forward/backward. The four
  pre-activations of a step are one stacked vector, blocks [f, g, q, z] of H each: forget gate,
  external input gate, output gate and the cell input z (σ as printed in eq. 10.41, or tanh). The
  state reaches h through tanh, h = tanh(s) q (10.43), or without it, h = q s (output_activation).
- Problem 3's parameters, sequence, ε and learning rate, and the models of Problems 3 and 5 (recurrence, head, loss).

Shapes: a sequence x (T, D), states h and s (T, H), outputs ŷ (T, O); W (H, H), U (H, D), V (O, H).
A step takes x (D,) and h_prev (H,), or a batch of N rows, x (N, D) and h_prev (N, H).
"""
from __future__ import annotations

import math
from typing import Callable, NamedTuple, Sequence

import numpy as np

from common.cli import UserError

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
    """Backward of output_forward given dyhat = ∂L/∂ŷ (T, O). Returns dh, dV, dc and do = ∂L/∂o."""
    return output_affine_backward(softmax_backward(dyhat, cache.yhat), cache)


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


# ---------------------------------------------------------------------------------------------
# The LSTM, eqs. 10.40-10.44.
# ---------------------------------------------------------------------------------------------

Activation = tuple[Callable[[np.ndarray], np.ndarray], Callable[[np.ndarray], np.ndarray]]


def sigmoid(a: np.ndarray) -> np.ndarray:
    """σ(a) = 1 / (1 + e^(−a)) = exp(−log(1 + e^(−a))), the second form without overflow for a ≪ 0."""
    return np.exp(-np.logaddexp(0.0, -a))


# Each activation with its derivative written in terms of its output z: σ' = z (1 − z), tanh' = 1 − z².
CELL_ACTIVATIONS: dict[str, Activation] = {
    "sigmoid": (sigmoid, lambda z: z * (1.0 - z)),
    "tanh": (np.tanh, lambda z: 1.0 - z * z),
}
# The state's activation in h(t) = act(s(t)) q(t), eq. 10.43: tanh in the book; "identity" is the
# variant without it, h = q s ("no output activation function", NOAF, in Greff et al. 2017).
OUTPUT_ACTIVATIONS: dict[str, Activation] = {
    "tanh": CELL_ACTIVATIONS["tanh"],
    "identity": (lambda s: s, np.ones_like),
}


class LSTMParams(NamedTuple):
    b: np.ndarray  # (H,)    cell input
    U: np.ndarray  # (H, D)
    W: np.ndarray  # (H, H)
    b_f: np.ndarray  # forget gate (10.40)
    U_f: np.ndarray
    W_f: np.ndarray
    b_g: np.ndarray  # external input gate (10.42)
    U_g: np.ndarray
    W_g: np.ndarray
    b_o: np.ndarray  # output gate q (10.44)
    U_o: np.ndarray
    W_o: np.ndarray


class StackedWeights(NamedTuple):
    """The four affine maps a = b + W h(t−1) + U x(t) stacked in blocks [f, g, q, z]."""

    W: np.ndarray  # (4H, H)
    U: np.ndarray  # (4H, D)
    b: np.ndarray  # (4H,)


# (bias, U, W) field names of each block, in stacking order: a_f, a_g, a_q, a_z
BLOCKS = (("b_f", "U_f", "W_f"), ("b_g", "U_g", "W_g"), ("b_o", "U_o", "W_o"), ("b", "U", "W"))
BLOCK_NAMES = ("f", "g", "q", "z")


def stack_weights(p: LSTMParams) -> StackedWeights:
    """Stack the gates' and the cell input's weights so that one matmul gives all four pre-activations."""
    blocks = [[getattr(p, name) for name in names] for names in BLOCKS]
    return StackedWeights(W=np.concatenate([W for _, _, W in blocks]),
                          U=np.concatenate([U for _, U, _ in blocks]),
                          b=np.concatenate([b for b, _, _ in blocks]))


def unstack_grads(dW: np.ndarray, dU: np.ndarray, db: np.ndarray) -> LSTMParams:
    """Split stacked gradients back into LSTMParams fields."""
    H = dW.shape[1]
    grads = {}
    for k, (b_name, U_name, W_name) in enumerate(BLOCKS):
        rows = slice(k * H, (k + 1) * H)
        grads.update({b_name: db[rows], U_name: dU[rows], W_name: dW[rows]})
    return LSTMParams(**grads)


class LSTMStepCache(NamedTuple):
    x: np.ndarray  # (D,)
    h_prev: np.ndarray  # (H,)
    s_prev: np.ndarray  # (H,)
    f: np.ndarray  # (H,) forget gate
    g: np.ndarray  # (H,) external input gate
    q: np.ndarray  # (H,) output gate
    z: np.ndarray  # (H,) cell input, σ (10.41 as printed) or tanh of its pre-activation
    s: np.ndarray  # (H,) internal state s(t)
    s_act: np.ndarray  # (H,) the state's activation in h(t) = act(s(t)) q(t): tanh(s(t)) in eq. 10.43
    s_act_grad: np.ndarray  # (H,) its derivative at s(t): 1 − tanh² s(t)
    act_grad: np.ndarray  # (4H,) derivative of each block's activation at its pre-activation
    weights: StackedWeights


class LSTMStepGrads(NamedTuple):
    dx: np.ndarray  # (D,)
    dh_prev: np.ndarray  # (H,) ∂L/∂h(t−1) through step t
    ds_prev: np.ndarray  # (H,) ∂L/∂s(t−1) through s(t)
    dW: np.ndarray  # (4H, H) stacked
    dU: np.ndarray  # (4H, D) stacked
    db: np.ndarray  # (4H,) stacked


class LSTMCache(NamedTuple):
    x: np.ndarray  # (T, D)
    steps: list[LSTMStepCache]
    weights: StackedWeights


class LSTMGrads(NamedTuple):
    dx: np.ndarray  # (T, D)
    dh0: np.ndarray  # (H,)
    params: LSTMParams  # gradients, same fields as the parameters
    dh: np.ndarray  # (T, H) total ∂L/∂h(t): from o(t) and from the pre-activations at t+1
    ds: np.ndarray  # (T, H) total ∂L/∂s(t): from h(t) and from s(t+1)
    dgates: np.ndarray  # (T, 4H) ∂L/∂[f, g, q, z](t)
    da: np.ndarray  # (T, 4H) ∂L/∂[a_f, a_g, a_q, a_z](t); block a_f is step t's share of ∂L/∂b^f

    def block(self, array: np.ndarray, name: str) -> np.ndarray:
        """Block `name` ('f', 'g', 'q' or 'z') of dgates or da, (T, H)."""
        H, k = self.dh.shape[1], BLOCK_NAMES.index(name)
        return array[:, k * H: (k + 1) * H]

    @property
    def df(self) -> np.ndarray:
        """∂L/∂f(t), (T, H)."""
        return self.block(self.dgates, "f")

    @property
    def da_f(self) -> np.ndarray:
        """∂L/∂a_f(t), the forget pre-activation's gradient (T, H): step t's contribution to ∂L/∂b^f."""
        return self.block(self.da, "f")


def lstm_step_forward(x: np.ndarray, h_prev: np.ndarray, s_prev: np.ndarray, w: StackedWeights,
                      cell_activation: str = "sigmoid",
                      output_activation: str = "tanh") -> tuple[np.ndarray, np.ndarray, LSTMStepCache]:
    """One step of eqs. 10.40-10.44. x (D,), h_prev and s_prev (H,) → h (H,), s (H,) and the cache."""
    H = h_prev.shape[0]
    act, act_grad = CELL_ACTIVATIONS[cell_activation]
    out_act, out_act_grad = OUTPUT_ACTIVATIONS[output_activation]
    a = w.b + w.W @ h_prev + w.U @ x  # the four pre-activations, blocks [f, g, q, z]
    gates = sigmoid(a[: 3 * H])
    f, g, q = gates[:H], gates[H: 2 * H], gates[2 * H:]  # (10.40), (10.42), (10.44)
    z = act(a[3 * H:])  # the cell input inside (10.41): σ as printed, tanh in most libraries
    s = f * s_prev + g * z  # (10.41)
    s_act = out_act(s)
    h = s_act * q  # (10.43)
    grad = np.concatenate((gates * (1.0 - gates), act_grad(z)))  # σ' = σ (1 − σ)
    return h, s, LSTMStepCache(x, h_prev, s_prev, f, g, q, z, s, s_act, out_act_grad(s_act), grad, w)


def lstm_cell_backward(dh: np.ndarray, ds_next: np.ndarray,
                       c: LSTMStepCache) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The part of one step's backward that the recurrence needs.

    dh: total ∂L/∂h(t); ds_next: ∂L/∂s(t) through s(t+1). Returns the total ∂L/∂s(t),
    ∂L/∂[f, g, q, z](t) (4H,) and ∂L/∂[a_f, a_g, a_q, a_z](t) (4H,).
    """
    # ∂L/∂s(t) accumulates from h(t) = tanh(s(t)) q(t), ∂h/∂s = q (1 − tanh² s), and from s(t+1)
    ds = ds_next + dh * c.q * c.s_act_grad
    dgates = np.concatenate((ds * c.s_prev,  # ∂s/∂f = s(t−1)
                             ds * c.z,  # ∂s/∂g = z, the cell input
                             dh * c.s_act,  # ∂h/∂q = tanh s
                             ds * c.g))  # ∂s/∂z = g
    return ds, dgates, dgates * c.act_grad


def lstm_step_backward(dh: np.ndarray, ds: np.ndarray, cache: LSTMStepCache) -> LSTMStepGrads:
    """Backward of one step, given dh = ∂L/∂h(t) and ds = ∂L/∂s(t) through s(t+1), both (H,)."""
    ds_total, _, da = lstm_cell_backward(dh, ds, cache)
    dx, dh_prev, dW, dU, db = recurrent_affine_backward(da, cache.x, cache.h_prev, cache.weights.W,
                                                        cache.weights.U)
    return LSTMStepGrads(dx, dh_prev, ds_total * cache.f, dW, dU, db)  # ∂s(t)/∂s(t−1) = f(t)


def lstm_forward(x: np.ndarray, h0: np.ndarray, p: LSTMParams, cell_activation: str = "sigmoid",
                 output_activation: str = "tanh") -> tuple[np.ndarray, LSTMCache]:
    """Run eqs. 10.40-10.44 over a sequence with s(0) = 0. x (T, D), h0 (H,) → h (T, H) and the cache."""
    for b_name, U_name, W_name in BLOCKS:
        check_recurrent_shapes(x, h0, getattr(p, W_name), getattr(p, U_name), getattr(p, b_name),
                               suffix=b_name[1:])
    if cell_activation not in CELL_ACTIVATIONS:
        raise UserError(f"cell activation must be one of {sorted(CELL_ACTIVATIONS)}, got {cell_activation!r}")
    if output_activation not in OUTPUT_ACTIVATIONS:
        raise UserError(f"output activation must be one of {sorted(OUTPUT_ACTIVATIONS)}, "
                        f"got {output_activation!r}")
    w = stack_weights(p)
    h = np.empty((x.shape[0], h0.shape[0]))
    steps = []
    h_prev, s_prev = h0, np.zeros_like(h0)
    for t in range(x.shape[0]):
        h_prev, s_prev, step = lstm_step_forward(x[t], h_prev, s_prev, w, cell_activation, output_activation)
        h[t] = h_prev
        steps.append(step)
    return h, LSTMCache(x, steps, w)


def lstm_backward(dh: np.ndarray, cache: LSTMCache) -> LSTMGrads:
    """BPTT through eqs. 10.40-10.44. dh (T, H): ∂L/∂h(t) from the outputs o(t) only.

    Returns the gradients of x, h0 and every parameter, and the per-step intermediates. Only the
    recurrence runs step by step; the parameter gradients are one stacked matmul after it.
    """
    check_upstream_shape(dh, (len(cache.steps), cache.weights.W.shape[1]))
    T, H = dh.shape
    dh_total, ds_total = np.empty((T, H)), np.empty((T, H))
    dgates, da = np.empty((T, 4 * H)), np.empty((T, 4 * H))
    dh_next, ds_next = np.zeros(H), np.zeros(H)  # nothing flows back from beyond τ
    for t in reversed(range(T)):
        step = cache.steps[t]
        dh_total[t] = dh[t] + dh_next  # from o(t) and from the four pre-activations at t+1
        ds_total[t], dgates[t], da[t] = lstm_cell_backward(dh_total[t], ds_next, step)
        # W_fᵀ ∂L/∂a_f + W_gᵀ ∂L/∂a_g + W_oᵀ ∂L/∂a_q + Wᵀ ∂L/∂a_z: ∂L/∂h(t−1) through time
        dh_next = da[t] @ cache.weights.W
        ds_next = ds_total[t] * step.f  # s(t) = f(t) s(t−1) + ... ⇒ ∂s(t)/∂s(t−1) = f(t)
    h_prev = np.array([step.h_prev for step in cache.steps])
    dx, dh_prev, dW, dU, db = recurrent_affine_backward(da, cache.x, h_prev, cache.weights.W,
                                                        cache.weights.U)
    return LSTMGrads(dx, dh_prev[0], unstack_grads(dW, dU, db), dh_total, ds_total, dgates, da)


# ---------------------------------------------------------------------------------------------
# Problem 3's data, and the two models: recurrence, then the head and the loss.
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


class LSTMModelCache(NamedTuple):
    lstm: LSTMCache
    out: OutputCache


def problem3_params() -> RNNParams:
    """The assignment's parameter values (fresh arrays, safe to perturb in place)."""
    return RNNParams(b=np.array([-1.0, 1.0]), c=np.array([0.5, -0.5]),
                     W=np.array([[1.0, -1.0], [0.0, 2.0]]), U=np.array([[-1.0, 0.0], [1.0, -2.0]]),
                     V=np.array([[-2.0, 1.0], [-1.0, 0.0]]))


def problem3_sequence() -> np.ndarray:
    """x(1), x(2), x(3) as the rows of a (3, 2) array."""
    return np.array([[1.0, 0.0], [0.5, 0.25], [0.0, 1.0]])


PROBLEM3_EPS = 1e-4  # Problem 3 (2): the central-difference step ε
PROBLEM3_LR = 0.002  # Problem 3 (4): the learning rate of the step on b


# Problem 5's biases, argued gate by gate in p5_lstm.py: one value per gate for every unit, and four
# different values, so that f, g, q and z are four different functions of the shared U x(t) + W h(t−1).
PROBLEM5_BIASES: dict[str, tuple[float, ...]] = {"b_f": (1.0, 1.0), "b_g": (-1.0, -1.0), "b_o": (2.0, 2.0),
                                                 "b": (0.0, 0.0)}


def problem5_params(biases: dict[str, Sequence[float]],
                    p3: RNNParams | None = None) -> tuple[LSTMParams, np.ndarray, np.ndarray]:
    """The LSTM of Problem 5: Problem 3's U and W in every gate and the cell input, the given biases
    (keys b_f, b_g, b_o, b; each (H,)), and Problem 3's V and c (those of `p3` if given)."""
    p3 = problem3_params() if p3 is None else p3
    weights = {f"{m}{k}": getattr(p3, m).copy() for m in "UW" for k in ("", "_f", "_g", "_o")}
    p = LSTMParams(**{name: np.array(biases[name], dtype=float) for name in ("b", "b_f", "b_g", "b_o")},
                   **weights)
    return p, p3.V, p3.c


def rnn_model_forward(x: np.ndarray, p: RNNParams, h0: np.ndarray | None = None,
                      log: str = "e") -> tuple[np.ndarray, float, RNNModelCache]:
    """ŷ (T, O), the loss and the cache; h(0) = 0 unless h0 (H,) is given."""
    h0 = np.zeros(p.W.shape[0]) if h0 is None else h0
    h, rnn_cache = rnn_forward(x, h0, p.W, p.U, p.b)
    yhat, loss, out_cache = head_forward(h, p.V, p.c, log)
    return yhat, loss, RNNModelCache(rnn_cache, out_cache)


def rnn_model_backward(cache: RNNModelCache, log: str = "e") -> tuple[OutputGrads, RNNGrads]:
    """Gradients of the loss: the output layer's (dV, dc, ∂L/∂o) and the recurrence's (db, dW, ...)."""
    out = head_backward(cache.out, log)
    return out, rnn_backward(out.dh, cache.rnn)


def lstm_model_forward(x: np.ndarray, p: LSTMParams, V: np.ndarray, c: np.ndarray,
                       cell_activation: str = "sigmoid",
                       log: str = "e") -> tuple[np.ndarray, float, LSTMModelCache]:
    """ŷ (T, O), the loss and the cache, with s(0) = h(0) = 0."""
    h, lstm_cache = lstm_forward(x, np.zeros(p.W.shape[0]), p, cell_activation)
    yhat, loss, out_cache = head_forward(h, V, c, log)
    return yhat, loss, LSTMModelCache(lstm_cache, out_cache)


def lstm_model_backward(cache: LSTMModelCache, log: str = "e") -> tuple[OutputGrads, LSTMGrads]:
    """Gradients of the loss: the output layer's and the LSTM's."""
    out = head_backward(cache.out, log)
    return out, lstm_backward(out.dh, cache.lstm)
