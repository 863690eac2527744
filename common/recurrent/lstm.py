"""The numpy LSTM of Problems 4-5, eqs. 10.40-10.44: forward/backward pairs with named caches, float64.

lstm_step_forward/backward (one step, the tested reference) and lstm_forward/backward (a
sequence). The four pre-activations of a step are one stacked vector, blocks [f, g, q, z] of H
each: forget gate, external input gate, output gate and the cell input z (σ as printed in eq.
10.41, or tanh). The state reaches h through tanh, h = tanh(s) q (10.43), or without it, h = q s
(output_activation). Shapes as in rnn.py.
"""
from __future__ import annotations

from typing import Callable, NamedTuple

import numpy as np

from common.core.cli import UserError
from common.recurrent.rnn import (
    check_recurrent_shapes,
    check_upstream_shape,
    recurrent_affine_backward,
)

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
