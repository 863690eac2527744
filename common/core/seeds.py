"""One result over several training seeds, summarised for README's reference run: the mean and
range of a number, and how many seeds give each value of a label."""
from __future__ import annotations

from collections import Counter
from typing import Any, Sequence


def spread(values: Sequence[float]) -> dict[str, float]:
    """{"n", "mean", "low", "high"} of the values (one per seed)."""
    return {"n": len(values), "mean": sum(values) / len(values), "low": min(values), "high": max(values)}


def agreement(values: Sequence[Any]) -> list[list[Any]]:
    """[[value, seeds giving it], ...], the most common first (ties in order of first appearance)."""
    return [[value, count] for value, count in Counter(values).most_common()]
