"""Gradient checking: one centred-difference helper and one relative error (pure numpy)."""
from __future__ import annotations

from typing import Callable

import numpy as np


def numeric_gradient(f: Callable[[np.ndarray], float], x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """∂f/∂x by centred differences, (f(x + ε e_i) − f(x − ε e_i)) / 2ε for every entry i.

    `x` is perturbed in place, one entry at a time, so `f` may read it either through its
    argument or through any object that holds the same array; each entry is restored exactly.
    Returns an array of x's shape. The error is O(ε²) from truncation plus O(u·|f|/ε) from
    rounding (u ≈ 1e-16 in float64).
    """
    if x.dtype != np.float64:
        raise TypeError(f"numeric_gradient needs a float64 array, got {x.dtype}")
    grad = np.zeros_like(x)
    for ix in np.ndindex(x.shape):
        old = x[ix]
        try:
            x[ix] = old + eps
            f_plus = f(x)
            x[ix] = old - eps
            f_minus = f(x)
        finally:
            x[ix] = old
        grad[ix] = (f_plus - f_minus) / (2.0 * eps)
    return grad


def rel_error(x: np.ndarray, y: np.ndarray, floor: float = 1e-8) -> float:
    """Relative error of two arrays on the scale of the whole array: max|x − y| / max(floor, max(|x| + |y|)).

    Normalising by the array's largest entry, not entry by entry as cs231n does, keeps the
    check meaningful when some entries are ~0 (e.g. a vanishing gradient at early steps):
    their centred-difference error is set by rounding in f, not by their own size. The floor
    keeps an all-zero pair from dividing by zero.
    """
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if x.shape != y.shape:
        raise ValueError(f"rel_error: shapes differ, {x.shape} vs {y.shape}")
    if x.size == 0:
        return 0.0
    return float(np.max(np.abs(x - y)) / max(floor, float(np.max(np.abs(x) + np.abs(y)))))
