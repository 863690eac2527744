"""Seeded subsets of a population: all of it, or a sorted seeded sample."""
from __future__ import annotations

import numpy as np
import torch


def all_or_sample(items: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """All of `items` if there are at most n, else a sorted sample of n of them drawn by `rng`
    without replacement."""
    return items if len(items) <= n else np.sort(rng.choice(items, n, replace=False))


def sample_indices(n: int, size: int, seed: int) -> torch.Tensor:
    """All n indices in order when n <= size, else a seeded random `size` of them, sorted: int64 [min(n, size)]."""
    return torch.from_numpy(all_or_sample(np.arange(n, dtype=np.int64), size, np.random.default_rng(seed)))
