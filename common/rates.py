"""Rates with 95% intervals, and the rounding the results JSON stores numbers with.

    rate(17, 240)  ->  {"k": 17, "n": 240, "rate": 0.070833, "ci95": [0.044..., 0.110...]}

`wilson` is the Wilson score interval of a binomial proportion (it treats the n trials as
independent); `versus` orders two rates only where their intervals are disjoint.
"""
from __future__ import annotations

from typing import Any

import numpy as np

Z95 = 1.959964  # two-sided 95% normal quantile


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


def versus(a: dict[str, Any], b: dict[str, Any]) -> str:
    """'higher' or 'lower' when the 95% intervals of a and b are disjoint, else 'overlap'."""
    if a["ci95"][0] > b["ci95"][1]:
        return "higher"
    if a["ci95"][1] < b["ci95"][0]:
        return "lower"
    return "overlap"
