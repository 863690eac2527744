"""The strokes of a '6' and which of them the critical occluding patches hide.

    regions, info = stroke_regions(image)            # image [28, 28] in [0, 1]
    region, masks = analyse_regions(model, image, maps, window)

`stroke_regions` splits the digit's ink into top hook, stem and the loop's left and right halves,
from the pixels alone (the hole, the stroke width, flood fills). `analyse_regions` reads the
occlusion map of Problem 2: the positions where p('6') falls below CRITICAL_P, the labels there,
the share of each region's ink those patches hide, p('6') with each whole region erased, and for
each label the map turns to (`label_changes`), which strokes its patches hide and which of the
remaining strokes that label rests on.
"""
from __future__ import annotations

from collections import Counter
from typing import Any, NamedTuple

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from common.nets.cnn import predict_proba
from common.occlusion.engine import Window, cell_mask
from common.occlusion.rates import r6

SIX = 6
CRITICAL_P = 0.5  # "p('6') drops below 0.5"
INK = 0.2  # a pixel at or above this value is ink (MNIST strokes are anti-aliased 0..1)
REGIONS = ("top_hook", "stem", "loop_left", "loop_right")
FALLBACK = 10  # positions that stand in for the critical ones when p('6') never drops below 0.5


def components(mask: np.ndarray) -> list[np.ndarray]:
    """4-connected components of a boolean mask, each as a boolean mask, largest first."""
    seen = np.zeros_like(mask, dtype=bool)
    out = []
    h, w = mask.shape
    for y0, x0 in zip(*np.nonzero(mask)):
        if seen[y0, x0]:
            continue
        comp = np.zeros_like(seen)
        stack = [(y0, x0)]
        seen[y0, x0] = True
        while stack:
            y, x = stack.pop()
            comp[y, x] = True
            for yy, xx in ((y - 1, x), (y + 1, x), (y, x - 1), (y, x + 1)):
                if 0 <= yy < h and 0 <= xx < w and mask[yy, xx] and not seen[yy, xx]:
                    seen[yy, xx] = True
                    stack.append((yy, xx))
        out.append(comp)
    return sorted(out, key=lambda m: -int(m.sum()))


def run_lengths(mask: np.ndarray) -> np.ndarray:
    """Per True pixel, the length of the horizontal run of True pixels through it (0 elsewhere)."""
    out = np.zeros(mask.shape, dtype=int)
    for i, row in enumerate(mask):
        j = 0
        while j < len(row):
            if row[j]:
                k = j
                while k < len(row) and row[k]:
                    k += 1
                out[i, j:k] = k - j
                j = k
            else:
                j += 1
    return out


def stroke_width(ink: np.ndarray) -> int:
    """Median over ink pixels of the shorter of the horizontal and vertical ink runs through it."""
    both = np.minimum(run_lengths(ink), run_lengths(ink.T).T)
    return max(1, int(np.median(both[ink])))


def loop_and_hole(ink: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray, float, bool]:
    """The loop's ink, the hole, the column that splits the loop, and whether the hole is closed.

    The hole is the largest background component that the border cannot reach; the loop is the
    ink within `width` pixels (Chebyshev) of it, split at the hole's centre column. Without a
    closed hole the loop is the lower half of the ink's rows and the hole stays empty.
    """
    rows, cols = np.indices(ink.shape)
    border = np.zeros_like(ink)
    border[0, :] = border[-1, :] = border[:, 0] = border[:, -1] = True
    inner = [h for h in components(~ink) if not (h & border).any()]
    if inner:
        hole = inner[0]
        near = F.max_pool2d(torch.from_numpy(hole.astype(np.float32))[None, None], 2 * width + 1,
                            stride=1, padding=width)[0, 0].numpy() > 0
        return ink & near, hole, float(cols[hole].mean()), True
    ink_rows = np.nonzero(ink.any(1))[0]
    loop = ink & (rows >= (ink_rows.min() + ink_rows.max()) / 2)
    split = float(cols[loop].mean()) if loop.any() else 13.5
    return loop, np.zeros_like(ink), split, False


def stroke_regions(image: np.ndarray) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Split the ink of a '6' [28, 28] into REGIONS (boolean masks) plus its "hole".

    The loop comes from `loop_and_hole`. The remaining ink is split at half height between its top
    row and the loop's top row: above is the top hook, below the stem. Returns the masks and how
    they were found (closed hole or not, stroke width, threshold, split column, cut row, hole size).
    """
    ink = image >= INK
    width = stroke_width(ink)
    loop, hole, split_col, closed = loop_and_hole(ink, width)
    rows, cols = np.indices(ink.shape)
    rest = ink & ~loop
    cut = (rows[rest].min() + rows[loop].min()) / 2 if rest.any() and loop.any() else -1.0
    regions = {"top_hook": rest & (rows < cut), "stem": rest & (rows >= cut),
               "loop_left": loop & (cols < split_col), "loop_right": loop & (cols >= split_col)}
    info = {"closed_hole": closed, "stroke_width_px": width, "ink_threshold": INK,
            "loop_split_column": r6(split_col), "hook_stem_cut_row": r6(cut),
            "hole_pixels": int(hole.sum())}
    return {**regions, "hole": hole}, info


def bbox(mask: np.ndarray) -> list[int] | None:
    """[row0, col0, row1, col1] inclusive, or None for an empty mask."""
    if not mask.any():
        return None
    ys, xs = np.nonzero(mask)
    return [int(ys.min()), int(xs.min()), int(ys.max()), int(xs.max())]


class RegionMasks(NamedTuple):
    """Plot data of analyse_regions: the stroke masks and how many critical patches hide each pixel."""
    regions: dict[str, np.ndarray]
    cover_count: np.ndarray  # [28, 28]


class Hidden(NamedTuple):
    """What the critical patches hide, per region: ink summed over patches, and each patch's share."""
    covered: dict[str, float]  # ink of the region under the patches, summed over patches
    shares: dict[str, list[float]]  # per patch, the share of the region's ink it hides
    cover_count: np.ndarray  # [28, 28] patches covering each pixel


def critical_positions(prob_true: np.ndarray) -> tuple[np.ndarray, bool]:
    """Map cells [M, 2] with p < CRITICAL_P, or the FALLBACK lowest (and True) if there are none."""
    below = np.argwhere(prob_true < CRITICAL_P)
    if len(below):
        return below, False
    order = np.argsort(prob_true, axis=None, kind="stable")[:FALLBACK]
    return np.stack(np.unravel_index(order, prob_true.shape), 1), True


def hidden_ink(image: np.ndarray, regions: dict[str, np.ndarray], masses: dict[str, float],
               cells: np.ndarray, window: Window) -> Hidden:
    """Per region, the ink that the patches at `cells` hide (see Hidden)."""
    shares: dict[str, list[float]] = {name: [] for name in REGIONS}
    covered = {name: 0.0 for name in REGIONS}
    count = np.zeros(image.shape, dtype=int)
    for r, c in cells:
        m = cell_mask(window, r, c, image.shape[0])
        count += m
        for name in REGIONS:
            ink_here = float(image[regions[name] & m].sum())
            covered[name] += ink_here
            shares[name].append(ink_here / masses[name] if masses[name] > 0 else 0.0)
    return Hidden(covered, shares, count)


def erase_regions(model: nn.Module, image: np.ndarray, regions: dict[str, np.ndarray], fill: float
                  ) -> dict[str, dict[str, Any]]:
    """p('6'), the label and its probability with each region's ink (and the whole loop) set to fill."""
    names = list(REGIONS) + ["loop"]
    erased = []
    for name in names:
        mask = regions["loop_left"] | regions["loop_right"] if name == "loop" else regions[name]
        x = image.copy()
        x[mask] = fill
        erased.append(x)
    probs = predict_proba(model, torch.from_numpy(np.stack(erased))[:, None]).numpy()
    return {name: {"prob_true": r6(pr[SIX]), "pred": int(pr.argmax()), "prob_pred": r6(pr.max())}
            for name, pr in zip(names, probs)}


def region_shares(hidden: Hidden, masses: dict[str, float]) -> tuple[dict[str, float], dict[str, float]]:
    """Mean share of each region's own ink one critical patch hides, and each region's share of all
    the hidden ink; both with the whole loop ("loop") added."""
    loop_mass = masses["loop_left"] + masses["loop_right"]
    loop_share = [(a * masses["loop_left"] + b * masses["loop_right"]) / loop_mass if loop_mass else 0
                  for a, b in zip(hidden.shares["loop_left"], hidden.shares["loop_right"])]
    share_mean = {name: r6(np.mean(hidden.shares[name])) for name in REGIONS}
    share_mean["loop"] = r6(np.mean(loop_share))
    total = sum(hidden.covered.values())
    composition = {name: r6(hidden.covered[name] / total if total else 0) for name in REGIONS}
    composition["loop"] = r6(composition["loop_left"] + composition["loop_right"])
    return share_mean, composition


def label_changes(model: nn.Module, image: np.ndarray, maps: dict[str, np.ndarray],
                  regions: dict[str, np.ndarray], window: Window) -> dict[str, dict[str, Any]]:
    """Per label L other than '6' in the label map: its cells; per region, the mean share of the
    region's ink the patches there hide ("hidden_share") and the region's share of all the ink they
    hide ("composition", the measure of `region_shares`); the mean p(L) and p('6') there; and per
    region, the mean p(L) and the most common label when that region's ink is erased too (set to
    the fill)."""
    out = {}
    for new in sorted(set(maps["label"].ravel().tolist()) - {SIX}):
        cells = np.argwhere(maps["label"] == new)
        masks = [cell_mask(window, r, c, image.shape[0]) for r, c in cells]
        hidden = {name: r6(np.mean([image[regions[name] & m].sum() / max(image[regions[name]].sum(), 1e-12)
                                    for m in masks])) for name in REGIONS}
        covered = {name: sum(float(image[regions[name] & m].sum()) for m in masks) for name in REGIONS}
        total = sum(covered.values())
        erased = []
        for name in REGIONS:
            for m in masks:
                x = image.copy()
                x[m | regions[name]] = window.fill
                erased.append(x)
        probs = predict_proba(model, torch.from_numpy(np.stack(erased))[:, None]).numpy()
        probs = probs.reshape(len(REGIONS), len(cells), -1)
        out[str(new)] = {
            "cells": len(cells), "positions": cells.tolist(), "hidden_share": hidden,
            "composition": {name: r6(covered[name] / total if total else 0) for name in REGIONS},
            "prob_label": r6(np.mean([maps["probs"][r, c, new] for r, c in cells])),
            "prob_true": r6(np.mean([maps["prob_true"][r, c] for r, c in cells])),
            "erase_also": {name: {"prob_label": r6(pr[:, new].mean()),
                                  "label": Counter(pr.argmax(1).tolist()).most_common(1)[0][0]}
                           for name, pr in zip(REGIONS, probs)}}
    return out


def analyse_regions(model: nn.Module, image: np.ndarray, maps: dict[str, np.ndarray],
                    window: Window) -> tuple[dict[str, Any], RegionMasks]:
    """The positions where p('6') < CRITICAL_P, their labels, and which strokes those patches cover."""
    prob_true, label = maps["prob_true"], maps["label"]
    below, fallback = critical_positions(prob_true)
    regions, info = stroke_regions(image)
    masses = {name: float(image[regions[name]].sum()) for name in REGIONS}
    hidden = hidden_ink(image, regions, masses, below, window)
    share_mean, composition = region_shares(hidden, masses)
    worst = np.unravel_index(int(np.argmin(prob_true)), prob_true.shape)
    labels_below = Counter(int(label[r, c]) for r, c in below)
    changed = Counter(int(v) for v in label.ravel() if v != SIX)
    return {
        "threshold": CRITICAL_P, "fallback_lowest_10": fallback,
        "n_positions": int(prob_true.size), "n_below": 0 if fallback else int(len(below)),
        "positions_below": below.tolist(),
        "labels_below": {str(k): v for k, v in sorted(labels_below.items())},
        "n_label_changed": int(sum(changed.values())),
        "labels_changed": {str(k): v for k, v in sorted(changed.items())},
        "min_prob_true": r6(prob_true.min()), "min_position": [int(worst[0]), int(worst[1])],
        "label_at_min": int(label[worst]),
        "pixels_covered_by_any": int((hidden.cover_count > 0).sum()),
        "pixels_covered_by_all": int((hidden.cover_count == len(below)).sum()),
        "covered_by_all_box": bbox(hidden.cover_count == len(below)),
        "ink_box": bbox(image >= INK),
        "regions": {name: {"pixels": int(regions[name].sum()), "ink_mass": r6(masses.get(name, 0))}
                    for name in REGIONS + ("hole",)},
        "region_definition": info,
        "mean_share_of_region_ink_covered": share_mean,
        "composition_of_covered_ink": composition,
        "erase_region": erase_regions(model, image, regions, window.fill),
        "label_changes": label_changes(model, image, maps, regions, window),
    }, RegionMasks(regions, hidden.cover_count)
