"""Problem 4, experiment 2: an echo state network (eqs. 10.8-10.11 with U, W, b fixed) on a task
that needs memory: 'KDEL' or its reverse 'LEDK' planted in a random protein-like sequence.

`make_reservoir` draws the fixed U, W (rescaled to a spectral radius ρ) and b; `motif_task` makes
pairs of sequences with identical letter composition; `fit_ridge_readout` learns V, c in closed
form on the mean-pooled states; `experiment2_grid` and `echo_state_gap` are the measured grid and
the echo state check.
"""
from __future__ import annotations

from typing import Any, NamedTuple, Sequence

import numpy as np

from common.core.cli import UserError
from common.recurrent.longseq import (
    ALPHABET,
    D,
    random_letters,
    rescale_to_spectral_radius,
    spectral_norm,
)
from common.recurrent.rnn import rnn_step_forward

MOTIF, DECOY = "KDEL", "LEDK"  # the label: which of the two (same letters, opposite order) is planted
Z95 = 1.959963984540054  # the standard normal's 97.5% quantile: two-sided 95% intervals


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


def wilson_interval(correct: int, n: int, z: float = Z95) -> list[float]:
    """The Wilson score interval [low, high] of a proportion correct / n (95% for the default z):
    the p with |correct/n − p| ≤ z √(p(1 − p)/n)."""
    phat, z2 = correct / n, z * z
    centre = (phat + z2 / (2 * n)) / (1 + z2 / n)
    half = z * np.sqrt(phat * (1 - phat) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return [float(centre - half), float(centre + half)]


def readout_accuracy(features: np.ndarray, labels: np.ndarray, V: np.ndarray, c: np.ndarray) -> float:
    """Share of sequences whose largest o = c + V h̄ is the label's (= argmax of softmax(o))."""
    return float(np.mean(np.argmax(features @ V.T + c, axis=1) == labels))


class Exp2Config(NamedTuple):
    lengths: tuple[int, ...]
    rhos: tuple[float, ...]
    H: int
    train_pairs: int
    test_pairs: int
    copies: int
    lam: float = 1.0


def experiment2_grid(seed: int, cfg: Exp2Config) -> dict[str, Any]:
    """Held-out accuracy of the ESN readout for every length and spectral radius (pooled and final
    state), and each accuracy's 95% Wilson interval over the test sequences."""
    acc: dict[str, dict[str, dict[str, float]]] = {"pooled": {}, "final_state": {}}
    interval: dict[str, dict[str, dict[str, list[float]]]] = {"pooled": {}, "final_state": {}}
    n_train, n_test = 2 * cfg.train_pairs, 2 * cfg.test_pairs
    for T in cfg.lengths:
        letters, labels = motif_task(np.random.default_rng([seed, 4, T]), cfg.train_pairs + cfg.test_pairs,
                                     T, cfg.copies)
        for kind in acc:
            acc[kind][str(T)], interval[kind][str(T)] = {}, {}
        for rho in cfg.rhos:
            pooled, final = reservoir_states(letters, make_reservoir(cfg.H, rho, seed))
            for feats, kind in ((pooled, "pooled"), (final, "final_state")):
                V, c = fit_ridge_readout(feats[:n_train], labels[:n_train], cfg.lam)
                a = readout_accuracy(feats[n_train:], labels[n_train:], V, c)
                acc[kind][str(T)][f"{rho:g}"] = a
                interval[kind][str(T)][f"{rho:g}"] = wilson_interval(round(a * n_test), n_test)
    return {**acc, "interval_95": interval}


def reservoir_norms(seed: int, H: int, rhos: Sequence[float]) -> dict[str, float]:
    """‖W‖₂ of each reservoir: its W has ρ(W) = ρ, and ‖W‖₂ < 1 alone guarantees the echo state property."""
    return {f"{rho:g}": spectral_norm(make_reservoir(H, rho, seed).W) for rho in rhos}


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
