"""Problem 4, experiment 1: how far back a loss on the last of T steps reaches, RNN and LSTM.

One-hot protein-like sequences (20 letters). For a loss L = −log ŷ_label(τ) on the last step only,
`rnn_gradient_curve` and `lstm_gradient_curve` return ‖∂L/∂h(τ − k)‖ and the norms of each step's
term of ∂L/∂W and ∂L/∂b against the lag k; `experiment1` runs every network of one draw and
`summarise_draws` turns the draws into the numbers the answers cite (lags, tail shares, medians).
The math of the layers is common/recurrent/rnn.py's; nothing here re-derives a gradient.
"""
from __future__ import annotations

import contextlib
from typing import Any, NamedTuple, Sequence

import numpy as np

from common.recurrent.lstm import LSTMParams, lstm_backward, lstm_forward
from common.recurrent.problems import problem3_params
from common.recurrent.rnn import (
    OutputCache,
    OutputGrads,
    output_backward,
    output_forward,
    rnn_backward,
    rnn_forward,
)

ALPHABET = "ACDEFGHIKLMNPQRSTVWY"  # the 20 amino acids, one-hot index = position here
D = len(ALPHABET)
DECAY = 1e-6  # a curve has "vanished" when ‖∂L/∂h(t)‖ < DECAY · ‖∂L/∂h(τ)‖ ...
GROWTH = 1e6  # ... and "exploded" when it is above GROWTH · ‖∂L/∂h(τ)‖
FAR = 100  # "long range" = more than FAR steps before the loss
REPORT_LAGS = (1, 10, 100, 1000)  # and T − 1


def single_threaded_blas() -> contextlib.AbstractContextManager[Any]:
    """Limit OpenBLAS to one thread while the experiments run: the matrices here are small
    (H ≤ 64), and on a shared machine several BLAS threads spend their time waiting on each other."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")


def random_letters(rng: np.random.Generator, N: int, T: int) -> np.ndarray:
    """N protein-like sequences of length T, as letter indices (N, T) drawn uniformly from 20."""
    return rng.integers(0, D, size=(N, T))


def one_hot(letters: np.ndarray) -> np.ndarray:
    """Letter indices (T,) → one-hot inputs x (T, D), float64."""
    return np.eye(D)[letters]


def spectral_radius(W: np.ndarray) -> float:
    """ρ(W) = max |eigenvalue|."""
    return float(np.max(np.abs(np.linalg.eigvals(W))))


def spectral_norm(W: np.ndarray) -> float:
    """‖W‖₂ = the largest singular value; ρ(W) ≤ ‖W‖₂, equal for a normal W."""
    return float(np.linalg.norm(W, 2))


def rescale_to_spectral_radius(W: np.ndarray, rho: float) -> np.ndarray:
    """W · ρ / ρ(W): the same eigenvectors, every eigenvalue scaled so the largest modulus is ρ."""
    return W * (rho / spectral_radius(W))


def last_step_nll_backward(cache: OutputCache, label: int) -> OutputGrads:
    """Gradients of L = −log ŷ_label(τ), the last row of the output layer's ŷ, through that layer."""
    dyhat = np.zeros_like(cache.yhat)
    dyhat[-1, label] = -1.0 / cache.yhat[-1, label]  # d(−log ŷ_y)/dŷ_y
    return output_backward(dyhat, cache)


def last_step_upstream(h: np.ndarray, V: np.ndarray, c: np.ndarray, label: int) -> np.ndarray:
    """∂L/∂h(t) from the outputs (T, H) for L = −log ŷ_label(τ): zero except at t = τ."""
    return last_step_nll_backward(output_forward(h, V, c)[1], label).dh


# ---------------------------------------------------------------------------------------------
# Experiment 1: ‖∂L/∂h(t)‖ against the lag τ − t, and where ∂L/∂W comes from.
# ---------------------------------------------------------------------------------------------


class GradientCurve(NamedTuple):
    """One network's backward pass, every array indexed by lag k = τ − t (k = 0 is the last step)."""

    dh_norm: np.ndarray  # (T,) ‖∂L/∂h(τ − k)‖, total (from o and from the next step)
    dW_step: np.ndarray  # (T,) ‖step τ−k's term of ∂L/∂W‖_F = ‖∂L/∂a(t)‖ ‖h(t−1)‖
    db_step: np.ndarray  # (T,) ‖step τ−k's term of ∂L/∂b‖ = ‖∂L/∂a(t)‖ (= ∂L/∂U's for one-hot x)
    ds_norm: np.ndarray | None  # (T,) ‖∂L/∂s(τ − k)‖ for the LSTM, None for the RNN
    # (T,) LSTM: max over units i of Π_{j = τ−k+1..τ} f_i(j) = ∂s_i(τ)/∂s_i(τ−k) along the diag(f)
    # path alone (no W); 1 at k = 0. None for the RNN.
    forget_path: np.ndarray | None
    mean_local_factor: float  # RNN: mean tanh'(a) = 1 − h²; LSTM: mean forget gate f
    spectral_radius: float | None = None  # RNN: ρ(W) = max |eigenvalue|; None for the LSTM
    spectral_norm: float | None = None  # RNN: ‖W‖₂, the largest singular value; None for the LSTM


def rnn_gradient_curve(x: np.ndarray, W: np.ndarray, U: np.ndarray, b: np.ndarray, V: np.ndarray,
                       c: np.ndarray, label: int = 0) -> GradientCurve:
    """Forward eqs. 10.8-10.11 over x (T, D), back-propagate L = −log ŷ_label(τ) with rnn_backward."""
    h, cache = rnn_forward(x, np.zeros(W.shape[0]), W, U, b)
    with np.errstate(over="ignore", invalid="ignore"):  # an exploding product is a result, not an error
        g = rnn_backward(last_step_upstream(h, V, c, label), cache)
        da_norm = row_norms(g.da)
        dW_step = da_norm * np.linalg.norm(cache.h_prev, axis=1)  # ‖u vᵀ‖_F = ‖u‖ ‖v‖
    return GradientCurve(row_norms(g.dh)[::-1], dW_step[::-1], da_norm[::-1], None, None,
                         float(np.mean(1.0 - h ** 2)), spectral_radius(W), spectral_norm(W))


def lstm_gradient_curve(x: np.ndarray, p: LSTMParams, V: np.ndarray, c: np.ndarray,
                        label: int = 0) -> GradientCurve:
    """The same for the LSTM (tanh cell input); ∂L/∂W is that of the four stacked recurrent matrices."""
    h, cache = lstm_forward(x, np.zeros(p.W.shape[0]), p, "tanh")
    with np.errstate(over="ignore", invalid="ignore"):
        g = lstm_backward(last_step_upstream(h, V, c, label), cache)
        da_norm = row_norms(g.da)  # (T,) over the stacked [f, g, q, cell input] blocks
        h_prev_norm = np.linalg.norm([step.h_prev for step in cache.steps], axis=1)
    f = np.array([step.f for step in cache.steps])  # (T, H)
    log_products = np.cumsum(np.log(f[::-1]), axis=0)  # row k−1: Σ log f over the last k steps
    forget_path = np.concatenate([[1.0], np.exp(log_products.max(axis=1))])[: len(f)]
    return GradientCurve(row_norms(g.dh)[::-1], (da_norm * h_prev_norm)[::-1],
                         da_norm[::-1], row_norms(g.ds)[::-1], forget_path, float(f.mean()))


def row_norms(a: np.ndarray) -> np.ndarray:
    """Euclidean norm of each row of a (T, n), scaled by the row's largest entry first, so that a
    finite gradient of 1e200 does not overflow when squared; a row with an inf entry gives inf."""
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        scale = np.max(np.abs(a), axis=1)
        safe = np.where((scale > 0) & np.isfinite(scale), scale, 1.0)
        norms = scale * np.linalg.norm(a / safe[:, None], axis=1)
    return np.where(np.isfinite(scale), np.nan_to_num(norms), np.inf)


def first_lag(mask: np.ndarray) -> int | None:
    """The first lag where `mask` holds, or None."""
    hits = np.flatnonzero(mask)
    return int(hits[0]) if hits.size else None


def tail_share(step_norms: np.ndarray, k: int) -> float | None:
    """Σ_{lag > k} ‖term‖ / Σ_all ‖term‖: the share of a summed gradient that comes from beyond lag k.

    Uses the norms of the per-step terms (cancellation between terms cannot make it exceed 1).
    None if a term overflowed.
    """
    if not np.all(np.isfinite(step_norms)):
        return None
    return float(step_norms[k + 1:].sum() / step_norms.sum())


def finite_or_none(value: float) -> float | None:
    """A float for JSON, or None where it is inf or nan (JSON has neither)."""
    return float(value) if np.isfinite(value) else None


def within_norm_bound(ratio: np.ndarray, norm: float) -> bool:
    """Whether ‖∂L/∂h(τ − k)‖ / ‖∂L/∂h(τ)‖ ≤ ‖W‖₂^k at every lag k where the ratio is finite:
    the bound ‖Π diag(1 − h²) W‖₂ ≤ ‖W‖₂^k, compared in logs (up to rounding, 1e-9 per step)."""
    k = np.arange(len(ratio))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        logs = np.log(ratio)
    finite = np.isfinite(ratio)
    return bool(np.all(logs[finite] <= k[finite] * (np.log(norm) + 1e-9) + 1e-9))


def summarise_curve(curve: GradientCurve) -> dict[str, Any]:
    """The numbers that the answers cite, for one curve."""
    with np.errstate(over="ignore", invalid="ignore"):
        ratio = curve.dh_norm / curve.dh_norm[0]
    finite = np.isfinite(ratio)
    T = len(ratio)
    summary = {
        "lag_below_1e-6": first_lag(ratio < DECAY),
        "lag_above_1e6": first_lag(ratio > GROWTH),
        "overflow_lag": first_lag(~finite),
        "max_ratio": float(np.max(ratio[finite])),
        "ratio_at_lag": {str(k): finite_or_none(ratio[k]) for k in sorted({*REPORT_LAGS, T - 1}) if k < T},
        "share_of_dW_beyond_100": tail_share(curve.dW_step, FAR) if T > FAR else None,
        "share_of_db_beyond_100": tail_share(curve.db_step, FAR) if T > FAR else None,
    }
    if curve.ds_norm is not None:
        summary["ds_lag_below_1e-6"] = first_lag(curve.ds_norm / curve.ds_norm[0] < DECAY)
    if curve.spectral_norm is not None:
        summary |= {"spectral_radius_W": curve.spectral_radius, "spectral_norm_W": curve.spectral_norm,
                    "within_norm_bound": within_norm_bound(ratio, curve.spectral_norm)}
    if curve.forget_path is not None:
        summary["forget_path_lag_below_1e-6"] = first_lag(curve.forget_path < DECAY)
        summary["forget_path_at_lag"] = {k: finite_or_none(curve.forget_path[int(k)])
                                         for k in summary["ratio_at_lag"]}
    return summary


class Exp1Config(NamedTuple):
    T: int
    H: int
    rhos: tuple[float, ...]
    forget_biases: tuple[float, ...]
    draws: int = 3  # independent draws of the sequence and the weights
    input_scale: float = 0.5


def lstm_params(rng: np.random.Generator, H: int, forget_bias: float, input_scale: float) -> LSTMParams:
    """Random LSTM weights: every U ~ N(0, input_scale²) (H, D), every W ~ N(0, 1/H); biases 0 but b^f."""
    def u() -> np.ndarray:
        return input_scale * rng.standard_normal((H, D))

    def w() -> np.ndarray:
        return rng.standard_normal((H, H)) / np.sqrt(H)

    zero = np.zeros(H)
    return LSTMParams(b=zero, U=u(), W=w(), b_f=np.full(H, float(forget_bias)), U_f=u(), W_f=w(),
                      b_g=zero, U_g=u(), W_g=w(), b_o=zero, U_o=u(), W_o=w())


def experiment1(seed: int, cfg: Exp1Config, draw: int = 0) -> dict[str, GradientCurve]:
    """Every curve of experiment 1 for one draw of the sequence (cfg.T letters) and of the weights.
    Keys are plot labels."""
    rng = np.random.default_rng([seed, 1, draw])
    x = one_hot(random_letters(rng, 1, cfg.T)[0])
    H = cfg.H
    W_base = rng.standard_normal((H, H))  # one matrix, rescaled to each ρ: only ρ changes
    U = cfg.input_scale * rng.standard_normal((H, D))
    V = rng.standard_normal((2, H)) / np.sqrt(H)
    curves = {}
    for rho in cfg.rhos:
        W = rescale_to_spectral_radius(W_base, rho)
        curves[f"RNN ρ = {rho:g}"] = rnn_gradient_curve(x, W, U, np.zeros(H), V, np.zeros(2))
    p3 = problem3_params()
    U_p3 = cfg.input_scale * rng.standard_normal((2, D))
    curves["RNN, Problem 3's W (ρ = 2, H = 2)"] = rnn_gradient_curve(x, p3.W, U_p3, p3.b, p3.V, p3.c)
    V_lstm = rng.standard_normal((2, H)) / np.sqrt(H)
    for bf in cfg.forget_biases:
        p = lstm_params(np.random.default_rng([seed, 2, draw]), H, bf, cfg.input_scale)  # only b^f varies
        curves[f"LSTM forget bias {bf:+g}"] = lstm_gradient_curve(x, p, V_lstm, np.zeros(2))
    return curves


def median_or_none(values: Sequence[float | None]) -> float | None:
    """The median (the lower one for an even count) with None counted as +∞ ("never"), or None."""
    ordered = sorted(values, key=lambda v: np.inf if v is None else v)
    return ordered[(len(ordered) - 1) // 2]


def summarise_draws(draws: Sequence[dict[str, GradientCurve]]) -> dict[str, dict[str, Any]]:
    """Per curve: medians over the draws of the cited numbers, and every draw's own summary."""
    out = {}
    for name in draws[0]:
        each = [summarise_curve(d[name]) for d in draws]
        keys = [k for k in each[0] if k not in ("ratio_at_lag", "forget_path_at_lag", "within_norm_bound")]
        out[name] = {key: median_or_none([e[key] for e in each]) for key in keys}
        out[name]["mean_local_factor"] = float(np.mean([d[name].mean_local_factor for d in draws]))
        out[name]["draws"] = each
    return out

