"""Conv filters as patterns, beside the same statistics for untrained networks.

Each k x k kernel is matched against unit-norm patterns (an edge and a one-pixel bar at 0, 45, 90
and 135 degrees, a centre spot, uniform brightness) by |cosine|. The statistics of a layer: the
share of kernels whose best pattern is an edge or a bar, the median best |cosine|, the median
share of a kernel's squared weight in the uniform pattern (its cosine squared), the median cosine
of each filter with the same filter's initial weights, and for multi-input layers how many inputs
hold half of a filter's squared weight and the share of the strongest 10% of kernels. The null is
the same statistic on untrained networks (the model's own initialisation, one per seed).
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import torch

ORIENTATIONS = (0, 45, 90, 135)  # degrees from horizontal: horizontal, rising (/), vertical, falling (\)
NULL_NETWORKS = 20               # untrained networks (initialisation seeds 0..19) behind each null
SHOWN_INPUTS = 3                 # input kernels per filter that the figures of multi-input layers show


def templates(k: int = 3) -> dict[tuple[str, int], np.ndarray]:
    """Unit-norm k x k patterns: uniform brightness, a centre spot, and a step edge and a one-pixel
    bar at 0, 45, 90 and 135 degrees (edge and bar zero-mean; edges bright on the lower/right side).

    Keys are (kind, angle), angle -1 for the two patterns without orientation."""
    rows, cols = np.mgrid[:k, :k] - (k - 1) / 2
    out = {("uniform", -1): np.ones((k, k)), ("spot", -1): np.where((rows == 0) & (cols == 0), 1.0, 0.0)}
    out[("spot", -1)] -= out[("spot", -1)].mean()
    for angle in ORIENTATIONS:
        t = np.deg2rad(angle)
        dist = cols * np.sin(t) + rows * np.cos(t)  # signed distance from a line at `angle` (y up)
        out[("edge", angle)] = np.sign(np.round(dist, 9))
        bar = (np.abs(dist) < 0.5).astype(float)
        out[("bar", angle)] = bar - bar.mean()
    return {key: t / np.linalg.norm(t) for key, t in out.items()}


def template_cosines(kernels: np.ndarray) -> tuple[list[tuple[str, int]], np.ndarray]:
    """The patterns' keys and the cosine of each kernel [N, k, k] with each pattern: [N, patterns]."""
    temps = templates(kernels.shape[-1])
    flat = kernels.reshape(len(kernels), -1).astype(np.float64)
    unit = flat / np.linalg.norm(flat, axis=1, keepdims=True)
    return list(temps), unit @ np.stack([t.ravel() for t in temps.values()]).T


def classify_filters(weights: np.ndarray, scale: np.ndarray | None = None) -> list[dict]:
    """Single-input filters [O, 1, k, k]: the pattern each matches best (largest |cosine|).

    scale: the batch-norm scale after each filter [O]; where it is negative the layer's output
    rises where the convolution falls, so the filter's sign is flipped (sign = +1: the output rises
    with the pattern as drawn, e.g. a bar of ink). Returns {"filter", "kind", "orientation" (None
    for uniform and spot), "sign", "cosine" (|cosine|)} per filter.
    """
    flip = np.ones(len(weights)) if scale is None else np.where(np.asarray(scale) < 0, -1.0, 1.0)
    keys, cos = template_cosines(weights[:, 0] * flip[:, None, None])
    result = []
    for o, row in enumerate(cos):
        j = int(np.abs(row).argmax())
        kind, angle = keys[j]
        result.append({"filter": o, "kind": kind, "orientation": None if angle < 0 else angle,
                       "sign": 1 if row[j] > 0 else -1, "cosine": float(abs(row[j]))})
    return result


def kind_counts(kinds: list[dict]) -> dict[str, int]:
    """How many filters of each kind: 'edge 90', 'bar 0', 'uniform', 'spot'."""
    names = [f"{f['kind']} {f['orientation']}" if f["orientation"] is not None else f["kind"]
             for f in kinds]
    return {n: names.count(n) for n in sorted(set(names))}


def kernel_norms(weights: np.ndarray) -> np.ndarray:
    """L2 norm of each k x k kernel of [O, I, k, k]: [O, I]."""
    return np.sqrt((weights.astype(np.float64) ** 2).sum((2, 3)))


def weight_spread(weights: np.ndarray) -> dict:
    """How a multi-input layer [O, I, k, k] spreads its squared weight over its inputs and kernels;
    shown_inputs_share_median: the share its SHOWN_INPUTS strongest inputs hold (median filter)."""
    sq = kernel_norms(weights) ** 2
    o, i = sq.shape
    share = np.sort(sq, 1)[:, ::-1].cumsum(1) / sq.sum(1, keepdims=True)
    half = (share < 0.5).sum(1) + 1  # inputs that hold half of each filter's squared weight
    top10 = np.sort(sq.ravel())[::-1][:max(1, o * i // 10)].sum() / sq.sum()
    filter_norm = np.sqrt(sq.sum(1))
    shown = min(SHOWN_INPUTS, i)
    return {"inputs": i, "kernels": o * i, "shown_inputs": shown,
            "shown_inputs_share_median": float(np.median(share[:, shown - 1])),
            "inputs_for_half_weight_median": float(np.median(half)),
            "inputs_for_half_weight_min": int(half.min()), "inputs_for_half_weight_max": int(half.max()),
            "top10pct_kernel_share": float(top10),
            "filter_norm_min": float(filter_norm.min()), "filter_norm_max": float(filter_norm.max()),
            "strongest_filters": [int(f) for f in np.argsort(-filter_norm, kind="stable")[:3]]}


def input_share_curve(weights: np.ndarray) -> np.ndarray:
    """Median over the filters of [O, I, k, k] of the share of a filter's squared weight held by its
    1, 2, ..., I strongest inputs: [I], rising to 1."""
    sq = kernel_norms(weights) ** 2
    return np.median(np.sort(sq, 1)[:, ::-1].cumsum(1) / sq.sum(1, keepdims=True), axis=0)


def filter_cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosine of each filter of `a` with the same filter of `b` (both [O, I, k, k]): [O]."""
    fa, fb = (x.reshape(len(x), -1).astype(np.float64) for x in (a, b))
    return (fa * fb).sum(1) / (np.linalg.norm(fa, axis=1) * np.linalg.norm(fb, axis=1))


def layer_statistics(weights: np.ndarray, initial: np.ndarray) -> dict[str, float]:
    """The statistics of one layer [O, I, k, k] (see the module docstring); `initial`: the weights
    the same filters started from, for the cosine with the initial weights."""
    keys, cos = template_cosines(weights.reshape(-1, *weights.shape[-2:]))
    best = np.abs(cos).argmax(1)
    stats = {"edge_or_bar_share": float(np.isin([keys[j][0] for j in best], ("edge", "bar")).mean()),
             "best_cosine_median": float(np.median(np.abs(cos).max(1))),
             "uniform_share_median": float(np.median(cos[:, keys.index(("uniform", -1))] ** 2)),
             "cosine_with_initial_median": float(np.median(filter_cosines(weights, initial)))}
    if weights.shape[1] > 1:
        spread = weight_spread(weights)
        stats.update({k: spread[k] for k in ("inputs_for_half_weight_median", "top10pct_kernel_share")})
    return stats


def initial_weights(make_model: Callable[[], torch.nn.Module], seed: int,
                    layers: Sequence[str]) -> dict[str, np.ndarray]:
    """The conv kernels of `make_model()` built after torch.manual_seed(seed): the untrained network
    that training seed `seed` starts from (common.nets.training.train_cnn seeds torch, then builds the CNN)."""
    torch.manual_seed(seed)
    model = make_model()
    return {name: model.get_submodule(name).weight.detach().numpy().copy() for name in layers}


def untrained_null(make_model: Callable[[], torch.nn.Module], layers: Sequence[str],
                   networks: int = NULL_NETWORKS) -> dict:
    """Each layer statistic over `networks` untrained networks (seeds 0..networks-1): median, min, max.

    Their 'cosine with the initial weights' pairs network s with network s + 1 (another start)."""
    nets = [initial_weights(make_model, s, layers) for s in range(networks + 1)]
    stats = {name: [layer_statistics(nets[s][name], nets[s + 1][name]) for s in range(networks)]
             for name in layers}
    return {"networks": networks, "init_seeds": list(range(networks)),
            "stats": {name: {k: {"median": float(np.median([s[k] for s in rows])),
                                 "min": float(min(s[k] for s in rows)), "max": float(max(s[k] for s in rows))}
                             for k in rows[0]} for name, rows in stats.items()}}


def against_null(trained: dict[str, dict[str, dict[str, float]]], null: dict) -> dict:
    """Per layer and statistic: 'above' or 'below' when every trained seed lies beyond the untrained
    networks' whole range on that side, else 'within'."""
    out = {}
    for name, stats in trained.items():
        out[name] = {}
        for k, by_seed in stats.items():
            lo, hi = null["stats"][name][k]["min"], null["stats"][name][k]["max"]
            vals = list(by_seed.values())
            out[name][k] = ("above" if min(vals) > hi else "below" if max(vals) < lo else "within")
    return out


def analyse_filters(seed_weights: dict[int, dict[str, np.ndarray]], conv1_scales: dict[int, np.ndarray],
                    main: int, make_model: Callable[[], torch.nn.Module]) -> dict:
    """(1) conv1's pattern per filter (seed `main`) and its kinds on every seed, conv2/conv3's weight
    spread, and every layer statistic on every seed beside the untrained null.

    seed_weights: per training seed, the conv kernels {"conv1": [O, I, k, k], ...};
    conv1_scales: per seed, the batch-norm scale after conv1 [O] (it sets each filter's polarity).
    """
    layers = list(seed_weights[main])
    trained = {name: {str(s): {} for s in seed_weights} for name in layers}
    for s, weights in seed_weights.items():
        start = initial_weights(make_model, s, layers)
        for name in layers:
            trained[name][str(s)] = layer_statistics(weights[name], start[name])
    stats = {name: {k: {s: v[k] for s, v in by_seed.items()} for k in by_seed[str(main)]}
             for name, by_seed in trained.items()}
    null = untrained_null(make_model, layers)
    main_w = seed_weights[main]
    return {"conv1": classify_filters(main_w["conv1"], conv1_scales[main]),
            "conv1_kinds_by_seed": {str(s): kind_counts(classify_filters(w["conv1"], conv1_scales[s]))
                                    for s, w in seed_weights.items()},
            **{name: weight_spread(w) for name, w in main_w.items() if w.shape[1] > 1},
            "statistics": stats, "null": null, "against_null": against_null(stats, null)}
