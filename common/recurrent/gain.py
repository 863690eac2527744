"""Problem 4 (1): what sets W apart from U and b in the RNN of eqs. 10.8-10.11.

The backward product ∂L/∂h(t) = Π Wᵀ diag(1 − h(k)²) ∂L/∂h(τ) has W as its matrix, while U and b
reach it only through tanh′ = 1 − h² ∈ (0, 1]. `gain_sweep` measures the per-step gain

    λ = ln(‖∂L/∂h(τ − K)‖ / ‖∂L/∂h(τ)‖) / K     (K = cfg.lag; λ < 0 vanishes, λ > 0 explodes)

as one parameter moves with the others fixed: W's spectral radius ρ; the spread σ_U of U's entries;
the spread σ_b of b's entries (b = σ_b z, one fixed z ~ N(0, I)). With σ_U = σ_b = 0 the state stays
at h = 0 and the product is (Wᵀ)^K alone: λ is W's own gain, its largest eigenvalue's ln ρ(W)
up to a transient. Every curve comes from common.recurrent.longseq.rnn_gradient_curve.
"""
from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from common.recurrent.longseq import (
    D,
    one_hot,
    random_letters,
    rescale_to_spectral_radius,
    rnn_gradient_curve,
)


class GainConfig(NamedTuple):
    T: int  # sequence length; the loss is on the last step
    H: int
    lag: int  # K: λ is the mean ln gain per step over the last K steps
    rhos: tuple[float, ...]  # spectral radii of W in the W sweep (σ_U = input_scale, σ_b = 0)
    base_rhos: tuple[float, ...]  # W's spectral radius held fixed in the U and b sweeps
    spreads: tuple[float, ...]  # σ_U and σ_b values of the U and b sweeps
    draws: int = 3
    input_scale: float = 0.5  # σ_U where U is not swept (as in experiment 1)


def gain_per_step(dh_norm: np.ndarray, lag: int) -> float | None:
    """λ = ln(dh_norm[lag] / dh_norm[0]) / lag; None where the ratio underflowed to 0 or overflowed."""
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        ratio = dh_norm[lag] / dh_norm[0]
    return float(np.log(ratio) / lag) if 0.0 < ratio < np.inf else None


def gain_sweep(seed: int, cfg: GainConfig, draw: int = 0) -> dict[str, Any]:
    """λ for one draw of the sequence and weights: against ρ(W), and against σ_U and σ_b at each
    base ρ. Returns {"W": [λ per ρ], "U": {ρ: [λ per σ]}, "b": {ρ: [λ per σ]}} (ρ keys as "%g")."""
    rng = np.random.default_rng([seed, 7, draw])
    x = one_hot(random_letters(rng, 1, cfg.T)[0])
    H = cfg.H
    W_base = rng.standard_normal((H, H))
    z_U, z_b = rng.standard_normal((H, D)), rng.standard_normal(H)
    V, c = rng.standard_normal((2, H)) / np.sqrt(H), np.zeros(2)

    def gain(rho: float, sigma_U: float, sigma_b: float) -> float | None:
        W = rescale_to_spectral_radius(W_base, rho)
        return gain_per_step(rnn_gradient_curve(x, W, sigma_U * z_U, sigma_b * z_b, V, c).dh_norm, cfg.lag)

    return {"W": [gain(r, cfg.input_scale, 0.0) for r in cfg.rhos],
            "U": {f"{r:g}": [gain(r, s, 0.0) for s in cfg.spreads] for r in cfg.base_rhos},
            "b": {f"{r:g}": [gain(r, cfg.input_scale, s) for s in cfg.spreads] for r in cfg.base_rhos}}


def none_max(values: list[float | None]) -> float | None:
    """The largest value, None counted as −∞ (an underflowed gain); None if all are None."""
    finite = [v for v in values if v is not None]
    return max(finite) if finite else None


def summarise_gains(draws: list[dict[str, Any]], cfg: GainConfig) -> dict[str, Any]:
    """Every draw's λ, and per base ρ and draw: λ of W alone (σ_U = σ_b = 0) beside the largest λ
    with input (any σ_U > 0 of the U sweep, any σ_b of the b sweep), and ln ρ(W)."""
    zero = cfg.spreads.index(0.0)
    ceiling = {}
    for r in cfg.base_rhos:
        key = f"{r:g}"
        ceiling[key] = {
            "ln_rho": float(np.log(r)),
            "W_alone_per_draw": [d["U"][key][zero] for d in draws],
            "max_with_input_per_draw": [none_max([v for i, v in enumerate(d["U"][key]) if i != zero] + d["b"][key])
                                        for d in draws],
        }
    return {"T": cfg.T, "H": cfg.H, "lag": cfg.lag, "rhos": list(cfg.rhos), "base_rhos": list(cfg.base_rhos),
            "spreads": list(cfg.spreads), "input_scale": cfg.input_scale, "draws": list(draws),
            "ceiling": ceiling}
