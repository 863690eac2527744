"""Problem 4: the evidence behind the written answers (p4_answers.md) about long protein sequences.

Answers, with measurements on protein-like sequences (one-hot over the 20 amino-acid letters):
(1) which parameters of eqs. 10.8-10.11 are hardest to learn: experiment 1 back-propagates a loss on
    the last step only through T = 2,000 steps and measures ‖∂L/∂h(t)‖ against the lag τ − t, for the
    vanilla RNN with W rescaled to several spectral radii and with Problem 3's W, and for the LSTM
    with forget-gate bias 0, +1, +3; it also measures the share of ∂L/∂W (and ∂L/∂b, ∂L/∂U) that
    comes from steps more than 100 back;
(2) which weights an echo state network fixes: experiment 2 keeps U, W, b fixed and random (W rescaled
    to a spectral radius ρ), learns only V, c by ridge regression on mean-pooled states, and reports
    held-out accuracy against sequence length and ρ, and the cost against BPTT on all weights;
(3) why an LSTM helps: experiment 1's LSTM curves.

Command:   .venv/bin/python p4_experiments.py      (flags: --seed 0, --epochs 3, --out figures, --quick)
Writes:    figures/p4_results.json (deterministic), figures/p4_timing.json (wall-clock seconds),
           figures/p4_gradient_decay.png, figures/p4_dW_share.png, figures/p4_esn.png
Expected (seed 0; 3 draws of sequence and weights per curve in experiment 1, H = 64, T = 2,000):
  Lag τ − t at which ‖∂L/∂h(t)‖ falls below 1e-6 of ‖∂L/∂h(τ)‖ (range over the draws):
    RNN ρ = 0.5: 15-16, ρ = 0.9: 34-40, ρ = 1.0: 44-54, ρ = 1.5: 162-1258 (edge of chaos),
    ρ = 3: never (it grows: 1.0e184 to 3.7e240 at lag 1,999, no float64 overflow),
    Problem 3's W (ρ = 2, H = 2, both units saturated, mean 1 − h² = 0.014): 4-5;
    LSTM forget bias 0: 31-38, +1: 94-112, +3: never (3.6e-5 to 2.3e3 at lag 1,999).
  Median share of ∂L/∂W from more than 100 steps back: 6e-40, 1e-17, 7e-14 for RNN ρ = 0.5, 0.9, 1;
    1.8e-3 for ρ = 1.5; 1.0 for ρ = 3; LSTM +0: 2e-16, +1: 1.3e-5, +3: 1.0.
  Experiment 2, 'KDEL' vs its reverse 'LEDK' planted 8 times (same composition within a pair),
    reservoir H = 48, 150 train / 150 test sequences; held-out accuracy, mean-pooled states:
    ρ = 0.9: 0.90 (T = 1,000), 0.75 (2,000), 0.69 (5,000); ρ = 0 (no memory): exactly 0.50;
    final state only: 0.49-0.52. Same T = 1,000 data: ESN readout 0.90; BPTT on all weights (Adam,
    from the ESN's U, W, b) 0.50 after each of its 3 epochs, training loss still 0.700 (ln 2 = 0.693).
    The seconds of each (and so the comparison at equal time) are in p4_timing.json.
Runtime:   about 10 s on 2 idle CPU cores; --quick: about 2 s. BLAS is limited to one thread (see
           single_threaded_blas).

The math of the RNN and the LSTM (rnn_forward/backward, rnn_step_forward, lstm_forward/backward, the
output layer) lives in common/rnn.py; nothing here re-derives their gradients.
"""
from __future__ import annotations

import argparse
import contextlib
import sys
import time
from pathlib import Path
from typing import Any, NamedTuple, Sequence

import numpy as np

from common.cli import (
    Parser,
    UserError,
    add_out_argument,
    run,
    save_figure,
    versions,
    write_json_atomic,
)
from common.plotting import plt
from common.rnn import (
    LSTMParams,
    OutputCache,
    OutputGrads,
    lstm_backward,
    lstm_forward,
    output_backward,
    output_forward,
    problem3_params,
    rnn_backward,
    rnn_forward,
    rnn_step_forward,
)

ALPHABET = "ACDEFGHIKLMNPQRSTVWY"  # the 20 amino acids, one-hot index = position here
D = len(ALPHABET)
DECAY = 1e-6  # a curve has "vanished" when ‖∂L/∂h(t)‖ < DECAY · ‖∂L/∂h(τ)‖ ...
GROWTH = 1e6  # ... and "exploded" when it is above GROWTH · ‖∂L/∂h(τ)‖
FAR = 100  # "long range" = more than FAR steps before the loss
REPORT_LAGS = (1, 10, 100, 1000)  # and T − 1
MOTIF, DECOY = "KDEL", "LEDK"  # the label: which of the two (same letters, opposite order) is planted

INTERPRETATION = (
    "Protein-like sequences: letters drawn uniformly from the 20 amino acids, one-hot inputs x(t), "
    "h(0) = s(0) = 0, float64. Experiment 1's loss is the cross-entropy of ŷ(τ) = softmax(c + V h(τ)) "
    "for class 0 at the last step only (the curves are normalised by their value at τ, so this choice "
    "only sets the direction of ∂L/∂h(τ)). Random recurrent matrices are one Gaussian matrix rescaled to "
    "each spectral radius ρ; U ~ N(0, 0.5²), b = 0, V ~ N(0, 1/H), c = 0. Problem 3's W (2×2, "
    "eigenvalues 1 and 2) is used with Problem 3's b, V, c and a seeded random U of shape (2, 20), "
    "N(0, 0.5²), since Problem 3's U has only 2 input columns. The LSTM (p5_lstm.py) uses tanh on the "
    "cell input (as most libraries; the book prints σ) and ∂s(t)/∂s(t−1) = diag(f(t)) either way; its "
    "U's ~ N(0, 0.5²), W's ~ N(0, 1/H), all biases 0 except the forget gate's. Experiment 2's ESN "
    "classifies a sequence by o = c + V h̄ with h̄ the mean of h(t) over t (= the mean of the per-step "
    "outputs o(t)), V and c fitted by ridge regression to one-hot labels on standardised h̄ (λ = 1), "
    "then folded back so that o = c + V h̄ on the raw h̄. Its reservoir: U ~ N(0, 0.5²), b ~ N(0, 0.5²) "
    "(b ≠ 0 so that tanh mixes neighbouring inputs), W ~ N(0, 1) rescaled to ρ. Experiment 1 repeats "
    "every curve for independent draws of the sequence and of all weights; the JSON gives medians and "
    "each draw. The BPTT baseline trains W, U, b, V, c from the ESN's U, W, b and V = 0, c = 0 with "
    "Adam on minibatches of 10, loss −log softmax(c + V h̄)_y."
)


# ---------------------------------------------------------------------------------------------
# Shared helpers: BLAS threads, sequences, spectral radius, the last-step loss.
# ---------------------------------------------------------------------------------------------


def single_threaded_blas() -> contextlib.AbstractContextManager[Any]:
    """Limit OpenBLAS to one thread while the experiments run.

    The matrices here are small (H = 64); on a busy 2-core machine OpenBLAS's threads wait on each
    other and a (64 × 1000) @ (1000 × 64) product took 80 ms instead of 0.6 ms.
    """
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


def rnn_gradient_curve(x: np.ndarray, W: np.ndarray, U: np.ndarray, b: np.ndarray, V: np.ndarray,
                       c: np.ndarray, label: int = 0) -> GradientCurve:
    """Forward eqs. 10.8-10.11 over x (T, D), back-propagate L = −log ŷ_label(τ) with rnn_backward."""
    h, cache = rnn_forward(x, np.zeros(W.shape[0]), W, U, b)
    with np.errstate(over="ignore", invalid="ignore"):  # an exploding product is a result, not an error
        g = rnn_backward(last_step_upstream(h, V, c, label), cache)
        da_norm = row_norms(g.da)
        dW_step = da_norm * np.linalg.norm(cache.h_prev, axis=1)  # ‖u vᵀ‖_F = ‖u‖ ‖v‖
    return GradientCurve(row_norms(g.dh)[::-1], dW_step[::-1], da_norm[::-1], None, None,
                         float(np.mean(1.0 - h ** 2)))


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


def tail_share_curve(step_norms: np.ndarray) -> np.ndarray:
    """tail_share for every k = 0 .. T−1 (T,), from one reversed cumulative sum."""
    beyond = np.concatenate([np.cumsum(step_norms[::-1])[::-1][1:], [0.0]])  # Σ_{lag > k}
    return beyond / step_norms.sum()


def finite_or_none(value: float) -> float | None:
    """A float for JSON, or None where it is inf or nan (JSON has neither)."""
    return float(value) if np.isfinite(value) else None


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
    if curve.forget_path is not None:
        summary["forget_path_lag_below_1e-6"] = first_lag(curve.forget_path < DECAY)
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
        keys = [k for k in each[0] if k != "ratio_at_lag"]  # the LSTM has two more
        out[name] = {key: median_or_none([e[key] for e in each]) for key in keys}
        out[name]["mean_local_factor"] = float(np.mean([d[name].mean_local_factor for d in draws]))
        out[name]["draws"] = each
    return out


def lag_range(s: dict[str, Any]) -> str:
    """'14-16' or '179-1258' or 'never' over the draws."""
    lags = [e["lag_below_1e-6"] for e in s["draws"]]
    if all(v is None for v in lags):
        return "never"
    low, high = min(v for v in lags if v is not None), max(np.inf if v is None else v for v in lags)
    return (f"{low}" if low == high else f"{low}-{high if np.isfinite(high) else 'never'}")


# ---------------------------------------------------------------------------------------------
# Experiment 2: an echo state network on a motif task that needs memory.
# ---------------------------------------------------------------------------------------------


class Reservoir(NamedTuple):
    """The ESN's fixed part of eqs. 10.8-10.9. Read-only arrays: the readout cannot change them."""

    W: np.ndarray  # (H, H), rescaled to spectral radius rho
    U: np.ndarray  # (H, D)
    b: np.ndarray  # (H,)
    rho: float


def make_reservoir(H: int, rho: float, seed: int, input_scale: float = 0.5,
                   bias_scale: float = 0.5) -> Reservoir:
    """Random U ~ N(0, input_scale²), b ~ N(0, bias_scale²) and W ~ N(0, 1) rescaled to ρ(W) = rho.

    The same seed gives the same U, b and the same W up to the factor rho. b ≠ 0 makes tanh locally
    non-odd, so h(t) carries products of x(t) and earlier inputs (order, not just composition).
    """
    if H < 1 or rho < 0:
        raise UserError(f"a reservoir needs H >= 1 and spectral radius >= 0; got H = {H}, rho = {rho}")
    rng = np.random.default_rng([seed, 3])
    W = rescale_to_spectral_radius(rng.standard_normal((H, H)), rho)
    U = input_scale * rng.standard_normal((H, D))
    b = bias_scale * rng.standard_normal(H)
    for array in (W, U, b):
        array.flags.writeable = False
    return Reservoir(W, U, b, float(rho))


def motif_task(rng: np.random.Generator, n_pairs: int, T: int, copies: int) -> tuple[np.ndarray, np.ndarray]:
    """Pairs of sequences (2 n_pairs, T) and labels (2 n_pairs,): 1 = MOTIF planted, 0 = DECOY planted.

    Both sequences of a pair share the random background and the `copies` positions; one gets MOTIF,
    the other its reverse. So the two have exactly the same letter composition: only the order of
    neighbouring letters, i.e. memory of the previous steps, separates the classes. Rows 2i, 2i+1
    are a pair (label 1, then 0).
    """
    m = len(MOTIF)
    if copies < 1 or copies * m > T:
        raise UserError(f"cannot plant {copies} non-overlapping copies of a {m}-letter motif "
                        f"in T = {T} letters")
    motif, decoy = (np.array([ALPHABET.index(a) for a in s]) for s in (MOTIF, DECOY))
    letters = np.empty((2 * n_pairs, T), dtype=np.int64)
    for i in range(n_pairs):
        background = random_letters(rng, 1, T)[0]
        starts = rng.choice(T // m, size=copies, replace=False) * m  # non-overlapping slots
        for row, pattern in ((2 * i, motif), (2 * i + 1, decoy)):
            letters[row] = background
            for s in starts:
                letters[row, s:s + m] = pattern
    labels = np.tile([1, 0], n_pairs)
    return letters, labels


def sequence_states(letters: np.ndarray, W: np.ndarray, U: np.ndarray,
                    b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Run eqs. 10.8-10.9 over N sequences at once. letters (N, T) → mean-pooled h̄ (N, H), final h(τ) (N, H).

    Calls rnn_step_forward with one row per sequence (x (N, D), h (N, H)), so one matmul advances
    all N sequences.
    """
    N, T = letters.shape
    eye = np.eye(D)
    h, total = np.zeros((N, W.shape[0])), np.zeros((N, W.shape[0]))
    for t in range(T):
        h, _ = rnn_step_forward(eye[letters[:, t]], h, W, U, b)
        total += h
    return total / T, h


def reservoir_states(letters: np.ndarray, res: Reservoir) -> tuple[np.ndarray, np.ndarray]:
    """The fixed reservoir's mean-pooled and final states (N, H) for letters (N, T)."""
    return sequence_states(letters, res.W, res.U, res.b)


def pooled_states_per_sequence(letters: np.ndarray, W: np.ndarray, U: np.ndarray,
                               b: np.ndarray) -> np.ndarray:
    """h̄ (N, H) from rnn_forward one sequence at a time: the code path that BPTT uses too."""
    return np.array([rnn_forward(one_hot(seq), np.zeros(W.shape[0]), W, U, b)[0].mean(axis=0)
                     for seq in letters])


def fit_ridge_readout(features: np.ndarray, labels: np.ndarray, lam: float = 1.0,
                      n_classes: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """V (O, H), c (O,) minimising Σ_n ‖y_n − (c + V h̄_n)‖² + λ ‖V diag(σ)‖², y_n one-hot.

    Convex with a closed form: on standardised features z = (h̄ − μ)/σ, with centred targets,
    V_z = Yᵀ Z (Zᵀ Z + λ I)⁻¹; then V = V_z diag(1/σ), c = ȳ − V μ, so o = c + V h̄ on the raw h̄.
    """
    mu, sigma = features.mean(axis=0), features.std(axis=0) + 1e-12
    Z = (features - mu) / sigma
    Y = np.eye(n_classes)[labels]
    y_mean = Y.mean(axis=0)
    V_z = np.linalg.solve(Z.T @ Z + lam * np.eye(Z.shape[1]), Z.T @ (Y - y_mean)).T
    V = V_z / sigma
    return V, y_mean - V @ mu


def accuracy(features: np.ndarray, labels: np.ndarray, V: np.ndarray, c: np.ndarray) -> float:
    """Share of sequences whose largest o = c + V h̄ is the label's (= argmax of softmax(o))."""
    return float(np.mean(np.argmax(features @ V.T + c, axis=1) == labels))


def train_esn(letters: np.ndarray, labels: np.ndarray, res: Reservoir,
              lam: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Train only the readout V, c on the reservoir's pooled states. U, W, b are read, never written."""
    pooled, _ = reservoir_states(letters, res)
    return fit_ridge_readout(pooled, labels, lam)


class Exp2Config(NamedTuple):
    lengths: tuple[int, ...]
    rhos: tuple[float, ...]
    H: int
    train_pairs: int
    test_pairs: int
    copies: int
    lam: float = 1.0


def experiment2_grid(seed: int, cfg: Exp2Config) -> dict[str, Any]:
    """Held-out accuracy of the ESN readout for every length and spectral radius (pooled and final state)."""
    pooled_acc: dict[str, dict[str, float]] = {}
    final_acc: dict[str, dict[str, float]] = {}
    n_train = 2 * cfg.train_pairs
    for T in cfg.lengths:
        letters, labels = motif_task(np.random.default_rng([seed, 4, T]), cfg.train_pairs + cfg.test_pairs,
                                     T, cfg.copies)
        pooled_acc[str(T)], final_acc[str(T)] = {}, {}
        for rho in cfg.rhos:
            res = make_reservoir(cfg.H, rho, seed)
            pooled, final = reservoir_states(letters, res)
            for feats, table in ((pooled, pooled_acc), (final, final_acc)):
                V, c = fit_ridge_readout(feats[:n_train], labels[:n_train], cfg.lam)
                table[str(T)][f"{rho:g}"] = accuracy(feats[n_train:], labels[n_train:], V, c)
    return {"pooled": pooled_acc, "final_state": final_acc}


def echo_state_gap(seed: int, T: int, H: int, rhos: Sequence[float]) -> dict[str, dict[str, float]]:
    """‖h_A(t) − h_B(t)‖ / √H for one sequence run from h_A(0) = 0 and h_B(0) ~ U(−1, 1).

    The echo state property: the state should forget where it started and depend on the input only.
    """
    rng = np.random.default_rng([seed, 5])
    letters = np.repeat(random_letters(rng, 1, T), 2, axis=0)  # the same sequence twice, one per column
    h0_b = rng.uniform(-1.0, 1.0, size=H)
    gaps = {}
    for rho in rhos:
        res = make_reservoir(H, rho, seed)
        h = np.stack([np.zeros(H), h0_b])  # (2, H): one row per start
        gap_at = {}
        for t in range(T):
            h, _ = rnn_step_forward(np.eye(D)[letters[:, t]], h, res.W, res.U, res.b)
            if t + 1 in (10, 100, T):
                gap_at[str(t + 1)] = float(np.linalg.norm(h[0] - h[1]) / np.sqrt(H))
        gaps[f"{rho:g}"] = gap_at
    return gaps


class AdamState(NamedTuple):
    m: dict[str, np.ndarray]
    v: dict[str, np.ndarray]


def adam_step(params: dict[str, np.ndarray], grads: dict[str, np.ndarray], state: AdamState, step: int,
              lr: float, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8) -> None:
    """One Adam update of every parameter, in place (step counts from 1)."""
    for k in params:
        state.m[k][...] = beta1 * state.m[k] + (1 - beta1) * grads[k]
        state.v[k][...] = beta2 * state.v[k] + (1 - beta2) * grads[k] ** 2
        m_hat, v_hat = state.m[k] / (1 - beta1 ** step), state.v[k] / (1 - beta2 ** step)
        params[k] -= lr * m_hat / (np.sqrt(v_hat) + eps)


def bptt_sequence_grads(letters: np.ndarray, label: int,
                        params: dict[str, np.ndarray]) -> tuple[float, dict[str, np.ndarray]]:
    """Loss −log softmax(c + V h̄)_label, h̄ = mean_t h(t), for one sequence (T,), and its gradients
    for W, U, b, V, c by BPTT through rnn_forward/rnn_backward and output layer."""
    H = params["W"].shape[0]
    h, cache = rnn_forward(one_hot(letters), np.zeros(H), params["W"], params["U"], params["b"])
    yhat, out_cache = output_forward(h.mean(axis=0, keepdims=True), params["V"], params["c"])
    out = last_step_nll_backward(out_cache, label)  # ŷ has one row, for h̄
    # h̄ = (1/T) Σ_t h(t), so ∂L/∂h(t) = ∂L/∂h̄ / T at every step
    g = rnn_backward(np.broadcast_to(out.dh / len(h), h.shape), cache)
    return float(-np.log(yhat[0, label])), {"W": g.dW, "U": g.dU, "b": g.db, "V": out.dV, "c": out.dc}


class BPTTRun(NamedTuple):
    params: dict[str, np.ndarray]
    train_loss: list[float]  # mean training loss of each epoch
    test_accuracy: list[float]  # after each epoch
    seconds: list[float]  # training time up to the end of each epoch (the evaluations not counted)


def bptt_train(letters: np.ndarray, labels: np.ndarray, test: tuple[np.ndarray, np.ndarray], res: Reservoir,
               epochs: int, lr: float, batch: int, seed: int) -> BPTTRun:
    """Train all of W, U, b, V, c with BPTT and Adam on the mean loss of each minibatch, starting from
    the ESN's U, W, b and V = 0, c = 0; after each epoch, the held-out accuracy on `test` (letters, labels)."""
    H = res.W.shape[0]
    params = {"W": res.W.copy(), "U": res.U.copy(), "b": res.b.copy(), "V": np.zeros((2, H)), "c": np.zeros(2)}
    state = AdamState({k: np.zeros_like(v) for k, v in params.items()},
                      {k: np.zeros_like(v) for k, v in params.items()})
    order_rng = np.random.default_rng([seed, 6])
    run_ = BPTTRun(params, [], [], [])
    step, elapsed = 0, 0.0
    for _ in range(epochs):
        start = time.perf_counter()
        order, total = order_rng.permutation(len(letters)), 0.0
        for first in range(0, len(order), batch):
            chunk = order[first:first + batch]
            grads = {k: np.zeros_like(v) for k, v in params.items()}
            for n in chunk:
                loss, g = bptt_sequence_grads(letters[n], int(labels[n]), params)
                total += loss
                for k in grads:
                    grads[k] += g[k] / len(chunk)
            step += 1
            adam_step(params, grads, state, step, lr)
        elapsed += time.perf_counter() - start
        run_.seconds.append(elapsed)
        run_.train_loss.append(total / len(letters))
        pooled, _ = sequence_states(test[0], params["W"], params["U"], params["b"])
        run_.test_accuracy.append(accuracy(pooled, test[1], params["V"], params["c"]))
    return run_


def compare_costs(seed: int, cfg: Exp2Config, T: int, rho: float, epochs: int, lr: float,
                  batch: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """ESN readout against BPTT on all weights, same data (length T), same start, same numpy code path.

    Returns the deterministic results and the wall-clock seconds (kept apart: they vary run to run).
    """
    letters, labels = motif_task(np.random.default_rng([seed, 4, T]), cfg.train_pairs + cfg.test_pairs,
                                 T, cfg.copies)
    n_train = 2 * cfg.train_pairs
    train, test = (letters[:n_train], labels[:n_train]), (letters[n_train:], labels[n_train:])
    res = make_reservoir(cfg.H, rho, seed)

    start = time.perf_counter()
    V, c = fit_ridge_readout(pooled_states_per_sequence(train[0], res.W, res.U, res.b), train[1], cfg.lam)
    esn_seconds = time.perf_counter() - start
    esn_acc = accuracy(reservoir_states(test[0], res)[0], test[1], V, c)

    bptt = bptt_train(*train, test, res, epochs, lr, batch, seed)
    results = {
        "T": T, "spectral_radius": rho, "train_sequences": n_train, "test_sequences": len(test[1]),
        "esn_test_accuracy": esn_acc,
        "bptt": {"epochs": epochs, "optimizer": f"Adam, lr {lr:g}, minibatch {batch}",
                 "init": "the ESN's U, W, b; V = 0, c = 0", "train_loss_per_epoch": bptt.train_loss,
                 "test_accuracy_per_epoch": bptt.test_accuracy, "test_accuracy": bptt.test_accuracy[-1],
                 "first_epoch_above_chance": first_epoch_above_chance(bptt.test_accuracy, len(test[1])),
                 "test_loss_at_start": float(np.log(2.0))},
    }
    return results, {"esn_readout_seconds": esn_seconds, "bptt_seconds": bptt.seconds[-1],
                     "bptt_seconds_per_epoch": bptt.seconds}


def first_epoch_above_chance(accuracies: Sequence[float], n_test: int) -> int | None:
    """The first epoch (1-based) whose held-out accuracy is above chance by more than two standard
    errors of a coin on n_test sequences, 2·√(0.25/n); None if none is."""
    margin = 2.0 * np.sqrt(0.25 / n_test)
    hits = [e + 1 for e, acc in enumerate(accuracies) if acc > 0.5 + margin]
    return hits[0] if hits else None


# ---------------------------------------------------------------------------------------------
# Figures.
# ---------------------------------------------------------------------------------------------


def short_label(name: str) -> str:
    """'RNN ρ = 0.9' → 'ρ = 0.9', 'LSTM forget bias +3' → 'forget bias +3' (the legend title says which)."""
    return name.removeprefix("RNN ").removeprefix("RNN, ").removeprefix("LSTM ")


def plot_gradient_decay(draws: Sequence[dict[str, GradientCurve]],
                        limits: tuple[float, float] = (1e-80, 1e80)) -> Any:
    """Two panels (RNN, LSTM) of ‖∂L/∂h(τ−k)‖ / ‖∂L/∂h(τ)‖ against the lag k, on a log scale.

    The first draw is drawn solid and labelled, the others thin. Values above `limits` leave the
    axes; where the first draw does, its largest value is written at the edge.
    """
    fig, axes = plt.subplots(1, 2, figsize=(14, 5.6), sharey=True)
    colors = plt.get_cmap("tab10")
    T = len(next(iter(draws[0].values())).dh_norm)
    lags = np.arange(T)
    for ax, kind in zip(axes, ("RNN", "LSTM")):
        names = [n for n in draws[0] if n.startswith(kind)]
        for i, name in enumerate(names):
            for d, curves in enumerate(draws):
                cv = curves[name]
                first = d == 0
                with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                    ratio = cv.dh_norm / cv.dh_norm[0]
                keep = (ratio > 0) & np.isfinite(ratio)  # exact zeros (float64 underflow) cannot be drawn on a log axis
                ax.plot(lags[keep], np.minimum(ratio[keep], limits[1] * 10), color=colors(i),
                        lw=1.6 if first else 0.7, alpha=1.0 if first else 0.45,
                        label=short_label(name) + ("" if kind == "RNN" else ": ‖∂L/∂h‖") if first else None)
                if cv.forget_path is not None:
                    fp = cv.forget_path
                    ax.plot(lags[fp > 0], fp[fp > 0], color=colors(i), lw=1.2 if first else 0.6, ls="--",
                            alpha=1.0 if first else 0.45,
                            label=short_label(name) + ": diag(f) path alone, max_i Π f_i" if first else None)
                if first and ratio[keep].max() > limits[1]:
                    k = int(np.argmax(ratio > limits[1]))
                    ax.annotate(f"{name}: off the scale from lag {k},\nup to {ratio[keep].max():.0e}",
                                (k, limits[1]), xytext=(k + 0.05 * T, limits[1] / 1e15), fontsize=8.5,
                                color=colors(i), arrowprops=dict(arrowstyle="->", color=colors(i)))
        ax.axhline(DECAY, color="black", lw=0.8, ls="--")
        # below the line, where no curve of this seed passes (RNN: just right of the steep curves)
        x_text, align = (0.16 * T, "left") if kind == "RNN" else (0.99 * T, "right")
        ax.text(x_text, DECAY / 10, "1e-6 of the value at τ", ha=align, va="top", fontsize=9)
        ax.axvline(FAR, color="gray", lw=0.8, ls=":")
        ax.text(FAR + 0.01 * T, limits[0] * 1e5, f"lag {FAR}", fontsize=9, color="gray")
        ax.set_yscale("log")
        ax.set_ylim(*limits)
        ax.set_xlim(0, T - 1)
        ax.set_xlabel("lag τ − t (steps before the loss)")
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(fontsize=9, loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=2, frameon=False,
                  title="RNN: ‖∂L/∂h(t)‖ / ‖∂L/∂h(τ)‖" if kind == "RNN" else "LSTM", title_fontsize=9)
    axes[0].set_ylabel(r"$\|\partial L/\partial h(t)\| \;/\; \|\partial L/\partial h(\tau)\|$ (log scale)")
    axes[0].set_title("Vanilla RNN, W rescaled to spectral radius ρ; and Problem 3's W")
    axes[1].set_title("LSTM, forget-gate bias 0, +1, +3 (dashed: the diag(f) path alone)")
    fig.suptitle(f"Experiment 1: gradient of a loss on the last step, back through T = {T} one-hot protein "
                 f"letters; {len(draws)} draws (first solid, others thin); a curve stops where it underflows "
                 "to 0", fontsize=11.5)
    return fig


def plot_dW_share(draws: Sequence[dict[str, GradientCurve]], floor: float = 1e-60) -> Any:
    """Share of ∂L/∂W (Σ of per-step term norms) from lags > k, against k, log scale; first draw
    solid and labelled with its value at k = FAR, the others thin."""
    fig, ax = plt.subplots(figsize=(10, 5.4))
    colors = plt.get_cmap("tab10")
    for i, name in enumerate(draws[0]):
        for d, curves in enumerate(draws):
            cv = curves[name]
            if not np.all(np.isfinite(cv.dW_step)):
                continue
            share = tail_share_curve(cv.dW_step)
            k = np.arange(len(share))
            keep = share > 0
            label = f"{name}: {share[FAR]:.1e}" if d == 0 and len(share) > FAR else None
            ax.plot(k[keep], share[keep], color=colors(i), ls=":" if name.startswith("LSTM") else "-",
                    lw=1.6 if d == 0 else 0.7, alpha=1.0 if d == 0 else 0.45, label=label)
    ax.axvline(FAR, color="gray", lw=0.8, ls="--")
    ax.set_yscale("log")
    ax.set_ylim(floor, 30.0)
    ax.set_xlim(0, None)
    ax.set_xlabel("k (steps before the loss)")
    ax.set_ylabel(r"share of $\partial L/\partial W$ from steps with lag > k (log scale)")
    ax.set_title(r"Experiment 1: where $\partial L/\partial W = \Sigma_t\, \partial L/\partial a(t)\, h(t-1)^\top$"
                 r" comes from" "\n" r"share = $\Sigma_{\mathrm{lag}>k}\,\|$step term$\|_F\, /\, \Sigma_{\mathrm{all}}\,"
                 r"\|$step term$\|_F$; LSTM dotted (its 4 stacked W's)", fontsize=11)
    ax.legend(fontsize=8.5, loc="center left", bbox_to_anchor=(1.01, 0.5),
              title=f"share beyond k = {FAR} (first draw)", title_fontsize=9)
    ax.grid(True, which="major", alpha=0.3)
    return fig


def plot_esn(grid: dict[str, Any], lengths: Sequence[int], rhos: Sequence[float], n_test: int) -> Any:
    """Held-out accuracy against spectral radius (one line per length) and against length (one per ρ)."""
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.8))
    colors = plt.get_cmap("tab10")
    for i, T in enumerate(lengths):
        pooled = [grid["pooled"][str(T)][f"{r:g}"] for r in rhos]
        final = [grid["final_state"][str(T)][f"{r:g}"] for r in rhos]
        axes[0].plot(rhos, pooled, "o-", color=colors(i), label=f"T = {T}, pooled states h̄")
        axes[0].plot(rhos, final, "x--", color=colors(i), alpha=0.6, label=f"T = {T}, final state h(τ)")
    for j, r in enumerate(rhos):
        axes[1].plot(lengths, [grid["pooled"][str(T)][f"{r:g}"] for T in lengths], "o-", color=colors(j + 3),
                     label=f"ρ = {r:g}")
    for ax in axes:
        ax.axhline(0.5, color="black", lw=0.8, ls="--")
        ax.set_ylim(0.3, 1.02)
        ax.set_ylabel(f"held-out accuracy ({n_test} sequences)")
        ax.grid(True, alpha=0.3)
    axes[0].text(0.25, 0.485, "chance = 0.5", ha="center", va="top", fontsize=9)
    axes[0].set_xlabel("spectral radius ρ of the fixed W")
    axes[0].set_title("Accuracy against spectral radius")
    axes[0].legend(fontsize=8, loc="lower center", ncol=2)
    axes[1].set_xscale("log")
    axes[1].set_xticks(list(lengths), [str(T) for T in lengths])
    axes[1].minorticks_off()
    axes[1].set_xlabel("sequence length T (log scale)")
    axes[1].set_title("Accuracy against sequence length (pooled states)")
    axes[1].legend(fontsize=8, loc="lower left", ncol=2)
    fig.suptitle(f"Experiment 2: echo state network, only V, c trained (ridge); task: '{MOTIF}' vs "
                 f"'{DECOY}' planted in a random sequence (same letters, only the order differs)", fontsize=11)
    return fig


# ---------------------------------------------------------------------------------------------
# Report and CLI.
# ---------------------------------------------------------------------------------------------


def spread(values: Sequence[float], fmt: str = ".1e") -> str:
    """'a' or 'a to b' for the smallest and largest of some numbers."""
    low, high = min(values), max(values)
    return format(low, fmt) if format(low, fmt) == format(high, fmt) else f"{low:{fmt}} to {high:{fmt}}"


def build_answers(e1: dict[str, dict[str, Any]], e2: dict[str, Any], T1: int) -> dict[str, str]:
    """The measured half of each answer, every number and comparison read from the results (the
    argument itself is in p4_answers.md; the report prints both)."""
    draws = len(next(iter(e1.values()))["draws"])
    last = str(T1 - 1)

    def short(name: str) -> str:
        return name.replace("RNN ", "").replace("LSTM ", "")

    def lag(name: str) -> str:
        return f"{short(name)}: {lag_range(e1[name])}"

    def ratio_at_end(name: str) -> str:
        return spread([d["ratio_at_lag"][last] for d in e1[name]["draws"] if d["ratio_at_lag"][last] is not None])

    def share(name: str, key: str = "share_of_dW_beyond_100") -> str:
        v = e1[name][key]
        return "overflow" if v is None else format(v, ".1e")

    rnn = [k for k in e1 if k.startswith("RNN")]
    lstm = [k for k in e1 if k.startswith("LSTM")]
    p3 = next(k for k in rnn if "Problem 3" in k)
    rhos = {k: float(k.split("= ")[1]) for k in rnn if k != p3}
    smallest, largest = min(rhos, key=rhos.get), max(rhos, key=rhos.get)
    p3_lags = [d["lag_below_1e-6"] for d in e1[p3]["draws"]]
    small_lags = [d["lag_below_1e-6"] for d in e1[smallest]["draws"]]
    q1 = (f"Loss on the last of T = {T1} steps, {draws} draws; lag τ − t at which ‖∂L/∂h(t)‖ falls below 1e-6 · "
          "‖∂L/∂h(τ)‖: " + "; ".join(lag(k) for k in rnn) + ". Median share of ∂L/∂W from more than "
          f"{FAR} steps back: " + "; ".join(f"{short(k)}: {share(k)}" for k in rnn)
          + " (of ∂L/∂b and ∂L/∂U, whose per-step terms have equal norms for one-hot x: "
          + "; ".join(f"{short(k)}: {share(k, 'share_of_db_beyond_100')}" for k in rnn) + ").")
    edge = [k for k in rnn if k != p3 and 1.0 < rhos[k] < rhos[largest]]
    for k in edge:
        lags = [d["lag_below_1e-6"] for d in e1[k]["draws"]]
        if None not in lags and max(lags) >= 2 * min(lags):
            q1 += (f" At {short(k)} the same ρ gives lags from {min(lags)} to {max(lags)} across the draws: "
                   "near the edge of chaos the gradient's behaviour hangs on details of W, the bifurcations "
                   "behind gradient cliffs.")
    if None not in p3_lags and None not in small_lags and max(p3_lags) < min(small_lags):
        q1 += (f" Problem 3's W has ρ = 2, yet its gradient vanishes by lag {max(p3_lags)}, sooner than at "
               f"{short(smallest)} ({min(small_lags)}): both units saturate, mean 1 − h² = "
               f"{e1[p3]['mean_local_factor']:.3f}, so a large ρ does not by itself mean an explosion.")

    grid, lengths, rhos2 = e2["accuracy"]["pooled"], e2["lengths"], e2["spectral_radii"]
    final = [v for row in e2["accuracy"]["final_state"].values() for v in row.values()]
    cost = e2["cost_comparison"]
    bptt = cost["bptt"]
    gap_t = "100" if "100" in next(iter(e2["echo_state_gap"].values())) else None
    above = bptt["first_epoch_above_chance"]
    q2 = (f"Held-out accuracy ({e2['test_sequences']} sequences, chance 0.5), mean-pooled states, ρ = "
          + ", ".join(f"{r:g}" for r in rhos2) + ": "
          + "; ".join(f"T = {T}: " + ", ".join(f"{grid[str(T)][f'{r:g}']:.2f}" for r in rhos2) for T in lengths)
          + ". The final state alone gives " + spread(final, ".2f") + " over every ρ and T"
          + ("" if gap_t is None else ": two runs from different h(0) differ by "
             + ", ".join(f"{g[gap_t]:.0e} (ρ = {r})" for r, g in e2["echo_state_gap"].items() if r != "0")
             + f" after {gap_t} steps")
          + f". Same T = {cost['T']} data: the ESN's readout {cost['esn_test_accuracy']:.2f}; BPTT on all weights, "
          f"held-out accuracy after each of its {bptt['epochs']} epochs "
          + ", ".join(f"{a:.2f}" for a in bptt["test_accuracy_per_epoch"])
          + (f", above chance from epoch {above}" if above else
             ", never above chance by more than two standard errors")
          + f" (training loss {bptt['train_loss_per_epoch'][-1]:.3f} at the end, ln 2 = 0.693).")

    def forget_path(name: str) -> str:
        lags = [d["forget_path_lag_below_1e-6"] for d in e1[name]["draws"]]
        return "never" if None in lags else (f"{min(lags)}" if min(lags) == max(lags) else f"{min(lags)}-{max(lags)}")

    q3 = (f"Lag at which ‖∂L/∂h(t)‖ falls below 1e-6 ({draws} draws): " + "; ".join(
              f"{lag(k)}, mean f {e1[k]['mean_local_factor']:.2f}, share of ∂L/∂W beyond {FAR} {share(k)}"
              for k in lstm)
          + ". The diag(f) path alone (best unit) falls below 1e-6 at lag "
          + ", ".join(f"{forget_path(k)} ({short(k)})" for k in lstm) + ".")
    full_share = [k for k in (*lstm, largest) if e1[k]["share_of_dW_beyond_100"] is not None
                  and e1[k]["share_of_dW_beyond_100"] > 0.5]
    lstm_full = [k for k in full_share if k in lstm]
    if lstm_full and largest in full_share:
        k = lstm_full[-1]
        q3 += (f" {k} and the RNN at {short(largest)} both draw most of ∂L/∂W from beyond lag {FAR} "
               f"({share(k)} and {share(largest)}), for opposite reasons: at lag {last} the LSTM's ‖∂L/∂h‖ is "
               f"{ratio_at_end(k)} of its value at τ, the RNN's {ratio_at_end(largest)}. The LSTM's far "
               "letters contribute on the scale of the near ones, which is what a long-range task needs; the "
               "RNN's far past swamps the gradient, which then points wherever the distant letters say.")
    return {"q1": q1, "q2": q2, "q3": q3}


def print_report(r: dict[str, Any], timing: dict[str, float]) -> None:
    e1, e2 = r["experiment1"]["curves"], r["experiment2"]
    cfg1 = r["config"]["experiment1"]
    T1 = cfg1["T"]
    print(f"Problem 4, experiment 1: loss on the last of T = {T1} steps, H = {cfg1['H']}, "
          f"{cfg1['draws']} draws of sequence and weights")
    print("  lag τ − t at which ‖∂L/∂h(t)‖ < 1e-6 ‖∂L/∂h(τ)‖ (each draw), median share of ∂L/∂W and "
          "∂L/∂b from lags > 100, mean 1 − h² (RNN) or mean f (LSTM)")
    print(f"  {'network':36s} {'lag per draw':>22s} {'dW >100':>9s} {'db >100':>9s} {'1−h² / f':>9s}")
    for name, s in e1.items():
        lags = ", ".join("never" if e["lag_below_1e-6"] is None else str(e["lag_below_1e-6"]) for e in s["draws"])
        cells = ["ovf" if v is None else f"{v:.1e}" for v in (s["share_of_dW_beyond_100"], s["share_of_db_beyond_100"])]
        print(f"  {name:36s} {lags:>22s} {cells[0]:>9s} {cells[1]:>9s} {s['mean_local_factor']:9.3f}")
    for name, s in e1.items():
        if "forget_path_lag_below_1e-6" in s:
            print(f"  {name}: the diag(f) path alone, max_i Π f_i, falls below 1e-6 at lag "
                  + ", ".join(str(e["forget_path_lag_below_1e-6"]) for e in s["draws"]))
    for name, s in e1.items():
        grew = [e["max_ratio"] for e in s["draws"] if e["lag_below_1e-6"] is None]
        if grew:
            print(f"  {name}: never below 1e-6 in {len(grew)} draw(s); largest ratio "
                  + ", ".join(f"{g:.1e}" for g in grew)
                  + (" (no float64 overflow)" if all(e["overflow_lag"] is None for e in s["draws"]) else ""))
    print(f"\nExperiment 2: ESN, '{MOTIF}' vs '{DECOY}' x {e2['copies']}, H = {e2['H']}, "
          f"{e2['train_sequences']} train / {e2['test_sequences']} test sequences; held-out accuracy")
    for kind in ("pooled", "final_state"):
        label = {"pooled": "readout on mean-pooled states", "final_state": "readout on the final state h(τ)"}[kind]
        print(f"  {label:34s}" + "  ".join(f"ρ={r:<5g}" for r in e2["spectral_radii"]))
        for T in e2["lengths"]:
            row = e2["accuracy"][kind][str(T)]
            print(f"    T = {T:<28d}" + "  ".join(f"{row[f'{r:g}']:<7.2f}" for r in e2["spectral_radii"]))
    print("  echo state check, ‖h_A(t) − h_B(t)‖/√H from h(0) = 0 and h(0) ~ U(−1, 1), same input:")
    for rho, gaps in e2["echo_state_gap"].items():
        print(f"    ρ = {rho:<5s} " + ", ".join(f"t = {t}: {g:.1e}" for t, g in gaps.items()))
    cost = e2["cost_comparison"]
    print(f"  cost on the same T = {cost['T']} data, ρ = {cost['spectral_radius']:g}, "
          f"{cost['train_sequences']} training sequences (same numpy rnn_forward, one sequence at a time):")
    print(f"    ESN readout (one forward pass + ridge solve): {timing['esn_readout_seconds']:.2f} s, "
          f"test accuracy {cost['esn_test_accuracy']:.2f}")
    print(f"    BPTT, all weights, {cost['bptt']['epochs']} epochs ({cost['bptt']['optimizer']}): "
          f"{timing['bptt_seconds']:.2f} s ({timing['bptt_seconds'] / timing['esn_readout_seconds']:.1f}x), "
          f"train loss per epoch {', '.join(f'{v:.4f}' for v in cost['bptt']['train_loss_per_epoch'])} "
          f"(ln 2 = 0.6931), test accuracy per epoch "
          f"{', '.join(f'{v:.2f}' for v in cost['bptt']['test_accuracy_per_epoch'])}")


def nonnegative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {text}")
    return value


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {text}")
    return value


def build_parser() -> Parser:
    parser = Parser(description="Problem 4: vanishing/exploding gradients over 2,000 steps (RNN, LSTM) "
                                "and an echo state network on long protein-like sequences.")
    parser.add_argument("--seed", type=nonnegative_int, default=0, help="seed of every random draw")
    parser.add_argument("--epochs", type=positive_int, default=3, help="BPTT epochs in the cost comparison")
    add_out_argument(parser, "folder for the JSON files and figures")
    parser.add_argument("--quick", action="store_true", help="tiny sizes (for tests): T = 300, short ESN runs")
    return parser


def configs(quick: bool) -> tuple[Exp1Config, Exp2Config]:
    rhos1, biases = (0.5, 0.9, 1.0, 1.5, 3.0), (0.0, 1.0, 3.0)
    rhos2 = (0.0, 0.5, 0.9, 0.99, 1.2)
    if quick:
        return (Exp1Config(T=300, H=16, rhos=rhos1, forget_biases=biases, draws=2),
                Exp2Config(lengths=(100, 200), rhos=rhos2, H=16, train_pairs=15, test_pairs=10, copies=4))
    return (Exp1Config(T=2000, H=64, rhos=rhos1, forget_biases=biases),
            Exp2Config(lengths=(1000, 2000, 5000), rhos=rhos2, H=48, train_pairs=75, test_pairs=75, copies=8))


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = build_parser().parse_args(argv)
    with single_threaded_blas():
        return run_experiments(args.seed, args.epochs, args.out, args.quick)


def run_experiments(seed: int, epochs: int, out: Path, quick: bool) -> dict[str, Any]:
    """Both experiments, the figures and the JSON files; returns the results dict."""
    started = time.perf_counter()
    cfg1, cfg2 = configs(quick)
    bptt_lr, bptt_batch, cost_rho = 0.01, 10, 0.9

    draws = [experiment1(seed, cfg1, d) for d in range(cfg1.draws)]
    e1 = summarise_draws(draws)

    grid = experiment2_grid(seed, cfg2)
    gaps = echo_state_gap(seed, max(cfg2.lengths), cfg2.H, cfg2.rhos)
    cost, timing = compare_costs(seed, cfg2, cfg2.lengths[0], cost_rho, epochs, bptt_lr, bptt_batch)

    e2 = {"task": (f"binary: was '{MOTIF}' (label 1) or its reverse '{DECOY}' (label 0) planted {cfg2.copies} "
                   "times in a uniform random sequence; each pair of sequences shares background and "
                   "positions, so composition is identical and only order separates the classes"),
          "copies": cfg2.copies, "H": cfg2.H, "ridge_lambda": cfg2.lam, "lengths": list(cfg2.lengths),
          "spectral_radii": list(cfg2.rhos), "train_sequences": 2 * cfg2.train_pairs,
          "test_sequences": 2 * cfg2.test_pairs, "chance": 0.5, "accuracy": grid,
          "echo_state_gap": gaps, "cost_comparison": cost}
    results = {
        "interpretation": INTERPRETATION,
        "config": {"seed": seed, "quick": quick, "experiment1": cfg1._asdict(),
                   "experiment2": cfg2._asdict(), "bptt_epochs": epochs, "bptt_lr": bptt_lr,
                   "bptt_batch": bptt_batch},
        "experiment1": {"loss": "−log ŷ_0(τ), last step only", "threshold": DECAY,
                        "summary": "per curve: medians over the draws (None = never), then each draw",
                        "curves": e1},
        "experiment2": e2,
        "versions": versions("numpy"),
    }
    results["answers"] = build_answers(e1, e2, cfg1.T)

    save_figure(plot_gradient_decay(draws), out / "p4_gradient_decay.png")
    save_figure(plot_dW_share(draws), out / "p4_dW_share.png")
    save_figure(plot_esn(grid, cfg2.lengths, cfg2.rhos, 2 * cfg2.test_pairs), out / "p4_esn.png")
    write_json_atomic(out / "p4_results.json", results)
    timing = {**timing, "bptt_over_esn": timing["bptt_seconds"] / timing["esn_readout_seconds"],
              "total_seconds": time.perf_counter() - started, "quick": quick,
              "note": "wall-clock seconds on this machine; they vary from run to run"}
    write_json_atomic(out / "p4_timing.json", timing)
    print_report(results, timing)
    print(f"\nwrote {out}/p4_results.json, p4_timing.json, p4_gradient_decay.png, p4_dW_share.png, "
          f"p4_esn.png in {timing['total_seconds']:.1f} s")
    return results


if __name__ == "__main__":
    sys.exit(run(main))
