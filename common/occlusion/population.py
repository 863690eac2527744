"""Occlusion maps over many test digits of one class, and how typical one digit's map is.

    pop = analyse_population(model, images, indices, example_map, example_index, window, digit)

Each digit's p(digit) map is compared with the mean map of the others (leave-one-out Pearson r);
the example's r is placed among them, and each map's count of positions below CRITICAL_P is kept.
"""
from __future__ import annotations

from collections import Counter
from typing import Any, NamedTuple

import numpy as np
import torch
import torch.nn as nn

from common.occlusion.engine import Window, occlude
from common.occlusion.rates import r6
from common.occlusion.strokes import CRITICAL_P


class Population(NamedTuple):
    """p(digit) maps of a sample of correctly classified test digits and how typical the example is."""
    indices: np.ndarray  # [N] test indices
    maps: np.ndarray  # [N, P, P]
    typicality: dict[str, Any]  # what the JSON records
    r_all: np.ndarray  # [N] each digit's correlation with the mean map of the others
    below: np.ndarray  # [N] each digit's number of positions with p < CRITICAL_P
    new_labels: dict[str, Any]  # what the JSON records of the labels other than `digit`


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of two flat arrays; nan when either is constant."""
    if a.std() < 1e-12 or b.std() < 1e-12:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def percentiles(values: np.ndarray) -> list[float]:
    """The lower and upper quartiles."""
    return [r6(np.percentile(values, 25)), r6(np.percentile(values, 75))]


def typicality(maps: np.ndarray, example: np.ndarray, member: int | None
               ) -> tuple[dict[str, Any], np.ndarray, np.ndarray]:
    """How well each map [N, P, P] matches the mean of the others (Pearson r), and where the example
    [P, P] sits (`member`: its row in `maps`, if it is one of them).

    Returns the summary, each map's r [N] and its number of positions below CRITICAL_P [N].
    """
    n = len(maps)
    total = maps.sum(0)
    flat = maps.reshape(n, -1)
    loo = (total[None] - maps).reshape(n, -1) / max(n - 1, 1)
    r_all = np.array([pearson(flat[i], loo[i]) for i in range(n)])
    ref = loo[member] if member is not None else total.ravel() / n
    r_ex = pearson(example.ravel(), ref)
    below = (maps < CRITICAL_P).reshape(n, -1).sum(1)
    finite = r_all[np.isfinite(r_all)]
    pct = float((finite < r_ex).mean() * 100) if finite.size and np.isfinite(r_ex) else None
    return {"n": n, "r_example": r6(r_ex) if np.isfinite(r_ex) else None,
            "r_median": r6(np.median(finite)) if finite.size else None,
            "r_quartiles": percentiles(finite) if finite.size else None,
            "example_percentile": r6(pct) if pct is not None else None,
            "below_example": int((example < CRITICAL_P).sum()), "below_median": r6(np.median(below)),
            "below_quartiles": percentiles(below),
            "share_of_6s_with_any_position_below": r6((below > 0).mean())}, r_all, below


def analyse_population(model: nn.Module, images: torch.Tensor, indices: np.ndarray,
                       example_map: np.ndarray, example_index: int, window: Window,
                       digit: int) -> Population:
    """The p(digit) maps of images[indices], their typicality (the example's map included) and the
    labels other than `digit` that their label maps show."""
    probs = occlude(model, images[indices], *window)
    maps = probs[..., digit].numpy()
    member = int(np.flatnonzero(indices == example_index)[0]) if example_index in indices else None
    summary, r_all, below = typicality(maps, example_map, member)
    return Population(indices, maps, summary, r_all, below, new_labels(probs.argmax(-1).numpy(), digit))


def main_label(labels: np.ndarray, digit: int) -> int:
    """The label other than `digit` with the most cells of one label map; the smallest on a tie."""
    counts = Counter(labels[labels != digit].tolist())
    return min(counts, key=lambda v: (-counts[v], v))


def new_labels(labels: np.ndarray, digit: int) -> dict[str, Any]:
    """Over label maps [N, P, P]: cells per label other than `digit` ("cells"), the number of maps
    showing each ("digits": a map showing several labels counts under each), each map with any
    counted once under the label of most of its changed cells, the smallest label on a tie
    ("digits_by_main_label", which sums to "digits_with_any"), and how many maps show any
    ("digits_with_any"); most common first."""
    changed = labels != digit
    cells = Counter(labels[changed].tolist())
    per_map = Counter(v for m in labels for v in set(m[m != digit].tolist()))
    main = Counter(main_label(m, digit) for m in labels if (m != digit).any())
    return {"cells": {str(v): c for v, c in cells.most_common()},
            "digits": {str(v): c for v, c in per_map.most_common()},
            "digits_by_main_label": {str(v): c for v, c in main.most_common()},
            "digits_with_any": int(changed.reshape(len(labels), -1).any(1).sum())}
