"""What tells a '0' from an '8' in conv3's output (after batch norm and ReLU), on held-out digits.

The correctly classified test 0s and 8s are split in two halves (stratified, seeded): everything
is chosen on the selection half and measured again on the evaluation half.
- Where: the final Linear layer reads conv3's pooled map [C, 3, 3]; a channel's vote at a pooled
  cell is its term in logit 8 minus logit 0 there. The 8s' mean minus the 0s' mean of the votes,
  per pooled cell, splits the separation of the two digits over the 9 cells exactly.
- Which channels: those whose vote (summed over the cells) separates the digits best (Cohen's d
  of the vote), each at its cell: the conv3 cell that reaches the classifier where the channel's
  activation separates them most.
On the evaluation half, the chosen channels are zeroed against random channel sets (the ablation).
"""
from __future__ import annotations

from typing import NamedTuple, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from common.nets.cnn import CNN, capture

RF = 18              # receptive field of a conv3 cell: cell r sees input rows 4r-7 .. 4r+10
TOP_CHANNELS = 6     # channels chosen and described
ABLATE_DRAWS = 20    # random channel sets that the chosen channels' ablation is compared with


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


def split_halves(labels: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Positions 0..N-1 in two disjoint halves, stratified by label and seeded: (selection,
    evaluation), each sorted; a class with an odd count gives its extra digit to evaluation."""
    rng = np.random.default_rng(seed)
    sel, ev = [], []
    for k in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == k))
        sel.append(idx[:len(idx) // 2])
        ev.append(idx[len(idx) // 2:])
    return np.sort(np.concatenate(sel)), np.sort(np.concatenate(ev))


def channel_votes(model: CNN, act3: torch.Tensor, a: int = 8, b: int = 0) -> torch.Tensor:
    """Each channel's term in logit a minus logit b [N, C]: sum over the pooled cells j of
    (W_a - W_b)[c, j] * maxpool(act3)[c, j], W the final Linear layer's weights [10, C * S * S]."""
    pooled = F.max_pool2d(act3, 2).flatten(2)                      # [N, C, S*S], fc's input order
    w = model.fc.weight.detach().reshape(model.fc.out_features, act3.shape[1], -1)
    return torch.einsum("ncs,cs->nc", pooled, w[a] - w[b])


def best_cells(d: np.ndarray, used: np.ndarray, n: int, sign: int) -> list[tuple[int, int]]:
    """The n used cells of a d map [H, W] with the largest sign * d, strongest first."""
    score = np.where(used, sign * d, -np.inf).ravel()
    return [tuple(int(v) for v in np.unravel_index(i, d.shape))
            for i in np.argsort(-score, kind="stable")[:n]]


def margin_and_accuracy(logits: torch.Tensor, labels: torch.Tensor) -> tuple[float, float]:
    """Mean 0-vs-8 logit margin (true class minus the other of 0/8) and 10-class accuracy."""
    other = torch.where(labels == 0, 8, 0)
    margin = logits.gather(1, labels[:, None]) - logits.gather(1, other[:, None])
    return float(margin.mean()), float((logits.argmax(1) == labels).double().mean())


def ablation(model: CNN, act3: torch.Tensor, labels: torch.Tensor, channels: list[int],
             seed: int) -> dict:
    """Zero `channels` of conv3's output (after BN + ReLU, before the last pool) and, ABLATE_DRAWS
    times, as many random channels; the margin and 0/8 accuracy of the 0s and 8s `act3` comes from.

    A zeroed channel pools to 0, so each ablation zeroes its channels in the pooled map, which is
    computed once: the same logits as zeroing them in act3 and running the rest of the network.
    """
    pooled = F.max_pool2d(act3, 2)

    def score(chs: Sequence[int]) -> tuple[float, float]:
        kept = pooled.clone()
        kept[:, list(chs)] = 0
        return margin_and_accuracy(model.fc(kept.flatten(1)), labels)

    with torch.no_grad():
        margin_before, acc_before = score([])
        margin_after, acc_after = score(channels)
        rng = np.random.default_rng(seed)
        random = [score(rng.choice(act3.shape[1], len(channels), replace=False).tolist())
                  for _ in range(ABLATE_DRAWS)]
    median = float(np.median([m for m, _ in random]))
    return {"channels": channels, "n_digits": len(labels), "margin_before": margin_before,
            "margin_after": margin_after, "random_margins_after": [m for m, _ in random],
            "random_margin_after_median": median, "beats_random": margin_after < median,
            "acc_0_8_before": acc_before, "acc_0_8_after": acc_after,
            "random_acc_0_8_after_median": float(np.median([a for _, a in random]))}


class ZeroEight(NamedTuple):
    """One model's correctly classified test 0s and 8s."""

    index: np.ndarray     # [N] their test indices
    images: np.ndarray    # [N, 28, 28]
    labels: torch.Tensor  # [N] 0 or 8
    act3: torch.Tensor    # [N, C, 7, 7] conv3 after batch norm and ReLU


class Discriminant(NamedTuple):
    """What the analysis finds on one model, and the arrays its figures draw."""

    result: dict
    maps_ex: np.ndarray   # [2, C, 7, 7] conv3 maps of this '0' and this '8'
    mean0: np.ndarray     # [C, 7, 7] mean over the selection half's 0s
    mean8: np.ndarray
    share: np.ndarray     # [3, 3] pooled_separation on the selection half


def correct_zero_eight(model: CNN, images: torch.Tensor, labels: torch.Tensor,
                       pred: torch.Tensor) -> ZeroEight:
    """The test 0s and 8s that `model` (predictions `pred`) classifies correctly, with their conv3 maps."""
    idx = torch.nonzero(((labels == 0) | (labels == 8)) & (pred == labels)).flatten()
    return ZeroEight(idx.numpy(), images[idx, 0].numpy(), labels[idx],
                     capture(model, images[idx], ["act3"])["act3"])


def split_d(act: torch.Tensor, labels: torch.Tensor, rows: np.ndarray) -> np.ndarray:
    """Cohen's d (8 minus 0) of `act` [N, ...] over the digits at positions `rows`."""
    a, y = act[torch.from_numpy(rows)], labels[torch.from_numpy(rows)]
    return cohens_d(a[y == 0], a[y == 8])


def pooled_separation(model: CNN, data: ZeroEight, rows: np.ndarray) -> np.ndarray:
    """Where conv3's pooled map separates the 8s from the 0s at positions `rows`, as the classifier
    reads it: per pooled cell j, the 8s' mean minus the 0s' mean of sum_c (W_8 - W_0)[c, j] P[c, j],
    as a share of the sum over the cells [S, S]. The cells' terms add up to the 8s' mean minus the
    0s' mean of logit 8 - logit 0 (the bias cancels)."""
    pooled = F.max_pool2d(data.act3, 2)
    n, c, side, _ = pooled.shape
    w = model.fc.weight.detach().reshape(model.fc.out_features, c, side, side)
    votes = torch.einsum("ncij,cij->nij", pooled, w[8] - w[0]).double()
    r = torch.from_numpy(rows)
    v, y = votes[r], data.labels[r]
    sep = v[y == 8].mean(0) - v[y == 0].mean(0)
    return (sep / sep.sum()).numpy()


def chosen_channels(model: CNN, data: ZeroEight, sel: np.ndarray, ev: np.ndarray, used: np.ndarray,
                    means: tuple[np.ndarray, np.ndarray]) -> tuple[list[dict], np.ndarray]:
    """The TOP_CHANNELS channels whose vote separates 8s from 0s best on the selection half, each at
    its cell (largest |d| of its activation among the used cells) with the mean input ink of the 0s
    and of the 8s in the cell's 8x8 core; and every cell's d [C, 7, 7].

    means: the selection half's mean conv3 map of the 0s and of the 8s [C, 7, 7]."""
    vote_d = split_d(channel_votes(model, data.act3), data.labels, sel)
    cell_d, cell_d_ev = split_d(data.act3, data.labels, sel), split_d(data.act3, data.labels, ev)
    m0, m8 = means
    is0 = (data.labels == 0).numpy()
    cells = []
    for ch in np.argsort(-vote_d, kind="stable")[:TOP_CHANNELS]:
        r, c = best_cells(np.abs(cell_d[ch]), used, 1, 1)[0]
        d = float(cell_d[ch, r, c])
        rows, cols = core(r, c)
        cells.append({"channel": int(ch), "row": r, "col": c, "region": region_name(r, c, used.shape[0] - 1),
                      "fires_for": 8 if d > 0 else 0, "d": d, "d_evaluated": float(cell_d_ev[ch, r, c]),
                      "vote_d": float(vote_d[ch]), "act_zero": float(m0[ch, r, c]),
                      "act_eight": float(m8[ch, r, c]), "bn_scale": float(model.bn3.weight[ch].detach()),
                      "ink_zero": float(data.images[is0][:, rows, cols].mean()),
                      "ink_eight": float(data.images[~is0][:, rows, cols].mean())})
    return cells, cell_d


def pair_agreement(maps: np.ndarray, cells: list[dict]) -> dict:
    """How many chosen cells put this '0' and this '8' (conv3 maps [2, C, H, W]) on their own
    digit's side of the midpoint between the two class means."""
    side8 = [[m[c["channel"], c["row"], c["col"]] > (c["act_zero"] + c["act_eight"]) / 2
              for c in cells] for m in maps]
    for_eight = [c["fires_for"] == 8 for c in cells]
    return {"zero": int(sum(s != f for s, f in zip(side8[0], for_eight))),
            "eight": int(sum(s == f for s, f in zip(side8[1], for_eight))), "of": len(cells)}


def analyse_zero_eight(model: CNN, data: ZeroEight, pair: torch.Tensor, seed: int) -> Discriminant:
    """The map cells, the chosen channels and their ablation on the held-out half (see the module
    docstring); pair: this '0' and this '8' [2, 1, 28, 28], drawn and checked against the means."""
    sel, ev = split_halves(data.labels.numpy(), seed)
    used = cells_reaching_classifier(data.act3.shape[-1])
    share = pooled_separation(model, data, sel)
    share_ev = pooled_separation(model, data, ev)
    y = data.labels[torch.from_numpy(sel)]
    mean0, mean8 = (data.act3[torch.from_numpy(sel)][y == k].mean(0).numpy() for k in (0, 8))
    cells, cell_d = chosen_channels(model, data, sel, ev, used, (mean0, mean8))
    ev_t = torch.from_numpy(ev)
    abl = ablation(model, data.act3[ev_t], data.labels[ev_t], [c["channel"] for c in cells], seed)
    abl.update(selected_on=data.index[sel].tolist(), evaluated_on=data.index[ev].tolist(),
               n_selected=len(sel), n_evaluated=len(ev))
    ex = capture(model, pair, ["act3"])["act3"].numpy()
    cells = [{**c, "pair_zero": float(ex[0, c["channel"], c["row"], c["col"]]),
              "pair_eight": float(ex[1, c["channel"], c["row"], c["col"]])} for c in cells]
    result = {"n_zero": int((data.labels == 0).sum()), "n_eight": int((data.labels == 8).sum()),
              "cells_used": [[int(r), int(c)] for r, c in np.argwhere(used)],
              "cells_dropped": [[int(r), int(c)] for r, c in np.argwhere(~used)],
              "separation": {"share": share.tolist(), "share_evaluated": share_ev.tolist(),
                             "row_share": share.sum(1).tolist(), "row_share_evaluated": share_ev.sum(1).tolist()},
              "top_cells": cells,
              "cells_with_abs_d_above_1": int((np.abs(cell_d[:, used]) > 1).sum()),
              "ablation": abl, "pair": pair_agreement(ex, cells)}
    return Discriminant(result, ex, mean0, mean8, share)
