"""Rates with 95% intervals, and the rounding the results JSON stores numbers with.

    rate(17, 240)  ->  {"k": 17, "n": 240, "rate": 0.070833, "ci95": [0.044..., 0.110...]}
    reps = crossed_bootstrap({"a": (k_a, n_a), "b": (k_b, n_b)}, seed=0)   # k, n: [S, W] counts

`wilson` is the Wilson score interval of a binomial proportion: right when the n trials are
independent (one paste per window). Pastes that share a window or a digit are not, so the study's
rates use `crossed_bootstrap`, which resamples the digits (rows) and the windows (columns) with
replacement, independently (Owen's pigeonhole bootstrap for a crossed design); rates compared on
the same windows share the draws, so their difference gets a paired interval (`difference`).
"""
from __future__ import annotations

from typing import Any

import numpy as np

Z95 = 1.959964  # two-sided 95% normal quantile
BOOTSTRAP_REPS = 2000


def r6(x: float) -> float:
    """A float rounded to 6 decimals, as the results JSON stores it."""
    return round(float(x), 6)


def nested(a: np.ndarray, digits: int = 6) -> list:
    """An array as nested lists of floats rounded to `digits` decimals."""
    return np.round(a.astype(np.float64), digits).tolist()


def wilson(k: int, n: int, z: float = Z95) -> list[float]:
    """Wilson score interval for a binomial proportion k/n: the p with |k - np| <= z sqrt(np(1-p))."""
    if n == 0:
        return [0.0, 1.0]
    p = k / n
    d = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / d
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return [r6(max(0.0, centre - half)), r6(min(1.0, centre + half))]


def rate(k: int, n: int) -> dict[str, Any]:
    """k of n as {"k", "n", "rate", "ci95"} (Wilson, 95%)."""
    return {"k": int(k), "n": int(n), "rate": r6(k / n if n else 0.0), "ci95": wilson(int(k), int(n))}


def crossed_bootstrap(counts: dict[str, tuple[np.ndarray, np.ndarray]], seed: int,
                      reps: int = BOOTSTRAP_REPS) -> dict[str, np.ndarray]:
    """Bootstrap replicates [reps] of each rate sum(k) / sum(n), for counts k, n [S, W] per (digit,
    window). Each replicate draws S rows and W columns with replacement, the same for every name;
    a cell's weight is (times its row was drawn) x (times its column was drawn). The draws come
    from `seed` alone, so two calls on the same units (S, W) resample them alike."""
    s, w = next(iter(counts.values()))[0].shape
    rng = np.random.default_rng(seed)
    rows = np.stack([np.bincount(r, minlength=s) for r in rng.integers(0, s, (reps, s))])  # [reps, S]
    cols = np.stack([np.bincount(c, minlength=w) for c in rng.integers(0, w, (reps, w))])  # [reps, W]
    out = {}
    for name, (k, n) in counts.items():
        num = np.einsum("bs,sw,bw->b", rows, k, cols)
        den = np.einsum("bs,sw,bw->b", rows, n, cols)
        out[name] = num / den
    return out


def percentile_ci(replicates: np.ndarray) -> list[float]:
    """The 2.5th and 97.5th percentiles of bootstrap replicates."""
    return [r6(np.percentile(replicates, 2.5)), r6(np.percentile(replicates, 97.5))]


def clustered_rate(k: np.ndarray, n: np.ndarray, replicates: np.ndarray) -> dict[str, Any]:
    """sum(k) of sum(n) as {"k", "n", "rate", "ci95"}, the interval from bootstrap replicates of
    counts k, n [S, W]. With no event at all every replicate is 0, so the interval is [0, the Wilson
    upper end for 0 of the S * W sampled cells], as if each cell were a single trial."""
    ci = percentile_ci(replicates) if k.sum() else [0.0, wilson(0, int((n > 0).sum()))[1]]
    return {"k": int(k.sum()), "n": int(n.sum()), "rate": r6(k.sum() / n.sum()), "ci95": ci}


def difference(a: np.ndarray, b: np.ndarray, estimate: float) -> dict[str, Any]:
    """Rate a - rate b from paired replicates: the estimate, its 95% interval, and "higher" or
    "lower" where the interval excludes 0, else "unclear"."""
    lo, hi = percentile_ci(a - b)
    verdict = "higher" if lo > 0 else "lower" if hi < 0 else "unclear"
    return {"difference": r6(estimate), "ci95": [lo, hi], "verdict": verdict}
