"""Horizontal shifts with clamp padding: a digit's prediction shifted 3 px each way, test accuracy
against the shift (overall, and per class with Wilson intervals), and where the logit change of a
3-px shift comes from.

The mechanism: the final Linear layer reads conv3's pooled map [C, 3, 3] with one weight per
(class, channel, pooled cell). Split each weight into its channel's mean over the 9 cells (a
weight that ignores position) and the rest (which sums to 0 over a channel's cells). Under a shift
the pooled features change by dP; the shared part of the weights turns dP into a change that
depends only on each channel's total over its cells (its strength), the rest into a change that is
zero unless activation moved between pooled cells. The change of the true class's logit, centred
(minus the mean logit, which softmax ignores), splits exactly into these two parts.
"""
from __future__ import annotations

import math
from typing import NamedTuple, Sequence

import torch

from common.nets.cnn import predict_proba
from common.nets.data import MNISTData, shift

SHIFTS = tuple(range(-6, 7))
KEPT = (-3, 0, 3)  # shifts whose pooled features are kept for the mechanism


def logits_and_features(model: torch.nn.Module, images: torch.Tensor, batch: int = 1000
                        ) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits [N, 10] and the final Linear layer's input [N, F] (conv3's pooled map, flattened), in
    batches without gradients; `model` is the CNN or its fast copy, both ending in `fc`."""
    feats: list[torch.Tensor] = []
    hook = model.fc.register_forward_pre_hook(lambda _m, inp: feats.append(inp[0].detach().clone()))
    try:
        with torch.no_grad():
            logits = torch.cat([model(images[i:i + batch]) for i in range(0, len(images), batch)])
    finally:
        hook.remove()
    return logits, torch.cat(feats)


class ShiftRun(NamedTuple):
    """One model on shifted copies of the sample."""

    correct: dict[int, torch.Tensor]   # dx -> bool [N]
    preds: dict[int, torch.Tensor]     # dx -> int64 [N]
    features: dict[int, torch.Tensor]  # dx in KEPT -> [N, F]


def shift_run(model: torch.nn.Module, data: MNISTData, shifts: Sequence[int]) -> ShiftRun:
    """Predictions of `data` shifted by each dx (clamp padding), and the pooled features at KEPT."""
    correct, preds, features = {}, {}, {}
    for dx in shifts:
        logits, feats = logits_and_features(model, shift(data.images, dx, 0))
        preds[dx] = logits.argmax(1)
        correct[dx] = preds[dx] == data.labels
        if dx in KEPT:
            features[dx] = feats
    return ShiftRun(correct, preds, features)


def accuracy_curve(run: ShiftRun) -> dict[int, float]:
    """Accuracy at each shift."""
    return {dx: c.double().mean().item() for dx, c in run.correct.items()}


def wilson(hits: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """Wilson score interval (95% by default) of a rate hits / n."""
    if n == 0:
        return 0.0, 1.0
    p = hits / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return min(centre - half, p), max(centre + half, p)  # the rate lies inside; rounding aside


def per_class(run: ShiftRun, labels: torch.Tensor, shifts: Sequence[int] = (-3, 3)) -> list[dict]:
    """Per class: its count and, at each shift, accuracy with its 95% Wilson interval."""
    out = []
    for k in range(10):
        mask = labels == k
        n = int(mask.sum())
        entry = {"class": k, "n": n}
        for dx in shifts:
            hits = int(run.correct[dx][mask].sum())
            low, high = wilson(hits, n)
            entry[str(dx)] = {"accuracy": hits / n if n else 0.0, "low": low, "high": high}
        out.append(entry)
    return out


def mechanism(weight: torch.Tensor, positions: int, before: torch.Tensor, after: torch.Tensor,
              labels: torch.Tensor) -> dict:
    """The centred true-class logit change from pooled features `before` -> `after` [N, C * positions]
    (fc's input order: channel-major), split into the part from features that changed pooled cell
    and the part from their total strength (module docstring); weight: fc's [K, C * positions]."""
    k = weight.shape[0]
    w = weight.detach().double()
    shared = w.reshape(k, -1, positions).mean(2, keepdim=True).expand(k, -1, positions).reshape(k, -1)
    dp = (after - before).double()
    centred = lambda z: z.gather(1, labels[:, None])[:, 0] - z.mean(1)  # noqa: E731
    total, strength = centred(dp @ w.T), centred(dp @ shared.T)
    moved = total - strength
    return {"n_digits": len(labels), "true_logit_change": float(total.mean()),
            "from_moved_features": float(moved.mean()), "from_total_strength": float(strength.mean()),
            "moved_share_of_magnitude": float(moved.abs().sum() / (moved.abs().sum() + strength.abs().sum()))}


def shift_mechanism(model: torch.nn.Module, run: ShiftRun, labels: torch.Tensor, positions: int = 9) -> dict:
    """mechanism() at -3 and +3 px against the unshifted digits, keyed "-3" and "3"."""
    return {str(dx): mechanism(model.fc.weight, positions, run.features[0], run.features[dx], labels)
            for dx in (-3, 3)}


def classify_shifted_one(model: torch.nn.Module, one: torch.Tensor) -> tuple[dict, dict]:
    """Prediction and probabilities of the '1' [1, 1, 28, 28] as is and shifted 3 px each way."""
    variants = {"original": one, "left3": shift(one, -3, 0), "right3": shift(one, 3, 0)}
    result = {}
    for key, img in variants.items():
        pr = predict_proba(model, img)[0]
        result[key] = {"pred": int(pr.argmax()), "probs": [float(v) for v in pr]}
    return result, {key: img[0, 0].numpy() for key, img in variants.items()}


def zero_pad_shift(images: torch.Tensor, dx: int) -> torch.Tensor:
    """Shift [N, C, H, W] by dx columns, filling with 0 (zero padding)."""
    out = torch.zeros_like(images)
    if dx > 0:
        out[..., dx:] = images[..., :-dx]
    else:
        out[..., :dx] = images[..., -dx:]
    return out


def padding_check(one: torch.Tensor, population: torch.Tensor) -> dict:
    """Does clamp padding differ from zero padding for a 3-px shift: ink in the 3 outer columns?"""
    border = lambda x: torch.cat([x[..., :3], x[..., -3:]], -1).flatten(1).amax(1)  # noqa: E731
    same = all(torch.equal(shift(one, dx, 0), zero_pad_shift(one, dx)) for dx in (-3, 3))
    return {"one_border_max_ink": float(border(one)[0]), "clamp_equals_zero_padding": same,
            "population_share_with_border_ink": float((border(population) > 0).double().mean())}
