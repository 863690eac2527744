"""Seeded subsets of a population: all of it, or a sorted seeded sample."""
from __future__ import annotations

import numpy as np
import torch


def sample_indices(n: int, size: int, seed: int) -> torch.Tensor:
    """All n indices in order when n <= size, else a seeded random `size` of them, sorted: int64 [min(n, size)]."""
    if n <= size:
        return torch.arange(n)
    return torch.from_numpy(np.sort(np.random.default_rng(seed).choice(n, size, replace=False)))
