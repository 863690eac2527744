"""Conv filters as patterns: each 3x3 kernel matched against edges, bars, a spot and uniform
brightness, and how a multi-channel layer spreads its weight over its inputs."""
from __future__ import annotations

import numpy as np

ORIENTATIONS = (0, 45, 90, 135)  # degrees from horizontal: horizontal, rising (/), vertical, falling (\)


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


def classify_filters(weights: np.ndarray) -> list[dict]:
    """Single-input filters [O, 1, k, k]: the template each matches best (largest |cosine|), its sign
    and |cosine|, as {"filter", "kind", "orientation" (None without one), "sign", "cosine"}."""
    temps = templates(weights.shape[-1])
    result = []
    for o, w in enumerate(weights[:, 0]):
        cos = {key: float((w * t).sum() / np.linalg.norm(w)) for key, t in temps.items()}
        (kind, angle), c = max(cos.items(), key=lambda kv: abs(kv[1]))
        result.append({"filter": o, "kind": kind, "orientation": None if angle < 0 else angle,
                       "sign": 1 if c > 0 else -1, "cosine": abs(c)})
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
    """How a multi-input layer [O, I, k, k] spreads its squared weight over its inputs and kernels."""
    sq = kernel_norms(weights) ** 2
    o, i = sq.shape
    share = np.sort(sq, 1)[:, ::-1].cumsum(1) / sq.sum(1, keepdims=True)
    half = (share < 0.5).sum(1) + 1  # inputs that hold half of each filter's squared weight
    top10 = np.sort(sq.ravel())[::-1][:max(1, o * i // 10)].sum() / sq.sum()
    filter_norm = np.sqrt(sq.sum(1))
    return {"inputs": i, "kernels": o * i,
            "inputs_for_half_weight_median": int(np.median(half)),
            "inputs_for_half_weight_min": int(half.min()), "inputs_for_half_weight_max": int(half.max()),
            "top10pct_kernel_share": float(top10),
            "filter_norm_min": float(filter_norm.min()), "filter_norm_max": float(filter_norm.max()),
            "strongest_filters": [int(f) for f in np.argsort(-filter_norm, kind="stable")[:3]]}


def analyse_filters(weights: dict[str, np.ndarray], seed_conv1: dict[int, np.ndarray]) -> dict:
    """conv1's filter kinds (counted on every training seed) and the weight spread of conv2/conv3."""
    seeds = {s: kind_counts(classify_filters(w)) for s, w in seed_conv1.items()}
    layers = {name: weight_spread(w) for name, w in weights.items() if w.shape[1] > 1}
    return {"conv1": classify_filters(weights["conv1"]),
            "conv1_kinds_by_seed": {str(s): c for s, c in seeds.items()}, **layers}
