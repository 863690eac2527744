"""Which conv3 cells tell 0s from 8s: Cohen's d per (channel, row, col), the cells the classifier
reads, the top cells, zeroing their channels (the ablation) and the input patches they see."""
from __future__ import annotations

from typing import NamedTuple, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from common.cnn import CNN, capture, logits_from_act3
from common.data import MNISTData

RF = 18              # receptive field of a conv3 cell: cell r sees input rows 4r-7 .. 4r+10
CENTRE = slice(12, 16)  # the central 4x4 pixels: where an 8's loops cross and a 0 has its hole
TOP_CELLS = 6        # discriminant conv3 cells described, half favouring each digit
ABLATE_DRAWS = 20    # random channel sets that the top-k ablation is compared with
TOP_PATCHES = 8      # receptive-field patches shown per top channel


def cohens_d(zero: torch.Tensor, eight: torch.Tensor) -> np.ndarray:
    """Standardised mean difference (8 minus 0) of activations [N, ...] along the first axis.

    d = (mean_8 - mean_0) / pooled std, pooled std = sqrt(((n0-1) v0 + (n8-1) v8) / (n0+n8-2)).
    """
    z, e = zero.double(), eight.double()
    n0, n8 = len(z), len(e)
    pooled = (((n0 - 1) * z.var(0) + (n8 - 1) * e.var(0)) / (n0 + n8 - 2)).sqrt()
    return ((e.mean(0) - z.mean(0)) / pooled.clamp_min(1e-12)).numpy()


def cells_reaching_classifier(size: int) -> np.ndarray:
    """[size, size] bool: the conv3 cells that the final 2x2 max-pool (floor mode) passes on.

    A cell reaches the classifier if a one-hot map with a 1 there has a nonzero pooled output.
    """
    one_hot = torch.eye(size * size).reshape(-1, 1, size, size)
    return (F.max_pool2d(one_hot, 2).flatten(1).amax(1) > 0).reshape(size, size).numpy()


def region_name(row: int, col: int, size: int) -> str:
    """Plain-words location of a cell in the size x size grid the classifier sees."""
    third = size / 3
    v = ("upper", "middle", "lower")[min(2, int(row // third))]
    h = ("left", "centre", "right")[min(2, int(col // third))]
    return "centre" if (v, h) == ("middle", "centre") else f"{v} {h}"


def core(row: int, col: int) -> tuple[slice, slice]:
    """The 8x8 input pixels around conv3 cell (row, col)'s centre (pixel 4r+1.5, 4c+1.5)."""
    return slice(max(0, 4 * row - 2), 4 * row + 6), slice(max(0, 4 * col - 2), 4 * col + 6)


def receptive_field(images: np.ndarray, row: int, col: int) -> np.ndarray:
    """The RF x RF input patch [N, RF, RF] that conv3 cell (row, col) sees, zeros outside the image."""
    pad = np.pad(images, ((0, 0), (RF, RF), (RF, RF)))
    r0, c0 = 4 * row - 7 + RF, 4 * col - 7 + RF
    return pad[:, r0:r0 + RF, c0:c0 + RF]


def top_cells(cell_d: np.ndarray, used: np.ndarray, n: int) -> list[tuple[int, int, int, float]]:
    """Each channel's best used cell (largest |d|); the n best channels, half from each sign of d."""
    best = []
    for ch in range(cell_d.shape[0]):
        masked = np.where(used, np.abs(cell_d[ch]), -1.0)
        r, c = np.unravel_index(int(np.argmax(masked)), masked.shape)
        best.append((ch, int(r), int(c), float(cell_d[ch, r, c])))
    pos = sorted((b for b in best if b[3] > 0), key=lambda b: -b[3])
    neg = sorted((b for b in best if b[3] < 0), key=lambda b: b[3])
    take = pos[:max(n // 2, n - len(neg[:n // 2]))]
    take += neg[:n - len(take)]
    return sorted(take, key=lambda b: -abs(b[3]))


def zero_channels(act3: torch.Tensor, channels: Sequence[int]) -> torch.Tensor:
    """A copy of conv3 activations [N, C, H, W] with `channels` set to 0: the ablation."""
    out = act3.clone()
    out[:, list(channels)] = 0
    return out


def margin_and_accuracy(logits: torch.Tensor, labels: torch.Tensor) -> tuple[float, float]:
    """Mean 0-vs-8 logit margin (true class minus the other of 0/8) and 10-class accuracy."""
    other = torch.where(labels == 0, 8, 0)
    margin = logits.gather(1, labels[:, None]) - logits.gather(1, other[:, None])
    return float(margin.mean()), float((logits.argmax(1) == labels).double().mean())


def ablation(model: CNN, act3: torch.Tensor, labels: torch.Tensor, channels: list[int],
             seed: int) -> dict:
    """Zero `channels` of conv3's output (after BN + ReLU, before the last pool) and, ABLATE_DRAWS
    times, as many random channels; the margin and 0/8 accuracy of the 0s and 8s `act3` comes from."""
    score = lambda chs: margin_and_accuracy(  # noqa: E731
        logits_from_act3(model, zero_channels(act3, chs)), labels)
    with torch.no_grad():
        margin_before, acc_before = score([])
        margin_after, acc_after = score(channels)
        rng = np.random.default_rng(seed)
        random = [score(rng.choice(act3.shape[1], len(channels), replace=False).tolist())
                  for _ in range(ABLATE_DRAWS)]
    return {"channels": channels, "n_digits": len(labels), "margin_before": margin_before,
            "margin_after": margin_after,
            "random_margin_after_median": float(np.median([m for m, _ in random])),
            "acc_0_8_before": acc_before, "acc_0_8_after": acc_after,
            "random_acc_0_8_after_median": float(np.median([a for _, a in random]))}


class Discriminant(NamedTuple):
    """What the discriminant analysis finds on one model, and the arrays its figures draw."""

    result: dict
    maps_ex: np.ndarray   # [2, 64, 7, 7] conv3 maps of this '0' and this '8'
    mean0: np.ndarray     # [64, 7, 7] mean over the correct test 0s
    mean8: np.ndarray


def discriminant(model: CNN, test: MNISTData, pred: torch.Tensor, pair: torch.Tensor,
                 seed: int) -> Discriminant:
    """Cohen's d per used conv3 cell over all correct test 0s and 8s; top cells; their ablation.

    pair: [2, 1, 28, 28], this '0' and this '8'.
    """
    is08 = (test.labels == 0) | (test.labels == 8)
    act, labels = capture(model, test.images[is08], ["act3"])["act3"], test.labels[is08]
    correct = pred[is08] == labels
    act0, act8 = (act[(labels == k) & correct] for k in (0, 8))
    size = act0.shape[-1]
    used = cells_reaching_classifier(size)
    cell_d = cohens_d(act0, act8)
    channel_d = cohens_d(act0[:, :, used].mean(2), act8[:, :, used].mean(2))
    mean0, mean8 = act0.mean(0).numpy(), act8.mean(0).numpy()
    cells = [{"channel": ch, "row": r, "col": c, "d": d, "region": region_name(r, c, size - 1),
              "act_zero": float(mean0[ch, r, c]), "act_eight": float(mean8[ch, r, c])}
             for ch, r, c, d in top_cells(cell_d, used, TOP_CELLS)]
    # Share of each top channel's mean activation (0s and 8s together) that falls in dropped cells.
    both = np.concatenate([act0.numpy(), act8.numpy()]).mean(0)
    dropped_share = {c["channel"]: float(both[c["channel"]][~used].sum()
                                         / max(both[c["channel"]].sum(), 1e-12)) for c in cells}
    abl = ablation(model, act, labels, [c["channel"] for c in cells], seed)
    ex = capture(model, pair, ["act3"])["act3"].numpy()
    result = {"n_zero": len(act0), "n_eight": len(act8),
              "cells_used": [[int(r), int(c)] for r, c in np.argwhere(used)],
              "cells_dropped": [[int(r), int(c)] for r, c in np.argwhere(~used)],
              "dropped_share_of_activation": {str(k): v for k, v in dropped_share.items()},
              "top_cells": cells,
              "top_channels": [{"channel": int(ch), "d": float(channel_d[ch])}
                               for ch in np.argsort(-np.abs(channel_d), kind="stable")[:TOP_CELLS]],
              "cells_with_abs_d_above_1": int((np.abs(cell_d[:, used]) > 1).sum()),
              "channels_with_abs_d_above_1": int((np.abs(channel_d) > 1).sum()),
              "ablation": abl}
    return Discriminant(result, ex, mean0, mean8)


def cell_ink(cells: list[dict], zeros: np.ndarray, eights: np.ndarray) -> None:
    """Add each cell's mean input ink in its 8x8 core for the 0s and the 8s [N, 28, 28] (in place)."""
    for cell in cells:
        rows, cols = core(cell["row"], cell["col"])
        cell.update(ink_zero=float(zeros[:, rows, cols].mean()), ink_eight=float(eights[:, rows, cols].mean()))


def ink_facts(test: MNISTData) -> dict:
    """Data facts on 0s and 8s: mean ink of the central 4x4 and the ink's width across the middle."""
    facts = {}
    for name, digit in (("zero", 0), ("eight", 8)):
        imgs = test.images[test.labels == digit, 0].numpy()
        inked = imgs[:, CENTRE, :].max(1) > 0.5  # [N, 28] columns with ink in rows 12-15
        span = [float(np.ptp(np.flatnonzero(row)) + 1) if row.any() else 0.0 for row in inked]
        facts[name] = {"centre_ink": float(imgs[:, CENTRE, CENTRE].mean()),
                       "middle_width_px": float(np.mean(span))}
    return facts


def top_patches(model: CNN, images: torch.Tensor, channels: list[int]
                ) -> dict[int, list[tuple[np.ndarray, float, int]]]:
    """For each channel, the TOP_PATCHES test patches (receptive fields) that activate it most.

    One patch per image: the image's best used cell. Returns (patch [RF, RF], activation, index).
    """
    act = capture(model, images, ["act3"])["act3"].numpy()
    used = cells_reaching_classifier(act.shape[-1])
    imgs = images[:, 0].numpy()
    out = {}
    for ch in channels:
        a = np.where(used, act[:, ch], -np.inf).reshape(len(act), -1)
        best_cell, best = a.argmax(1), a.max(1)
        picks = np.argsort(-best, kind="stable")[:TOP_PATCHES]
        out[ch] = []
        for i in picks:
            r, c = np.unravel_index(int(best_cell[i]), act.shape[-2:])
            out[ch].append((receptive_field(imgs[i:i + 1], int(r), int(c))[0], float(best[i]), int(i)))
    return out
