"""Horizontal shifts with clamp padding: a digit's prediction shifted 3 px each way, and test
accuracy against the shift, overall and per class."""
from __future__ import annotations

from typing import Sequence

import torch

from common.cnn import predict_proba
from common.data import MNISTData, shift
from common.occlusion import fast_inference_copy

SHIFTS = tuple(range(-6, 7))


def shift_accuracy(model: torch.nn.Module, data: MNISTData, shifts: Sequence[int]
                   ) -> tuple[dict[int, float], dict[int, list[float]], dict[int, torch.Tensor]]:
    """Accuracy (overall and per class) and predictions of `data` shifted by dx pixels."""
    overall, per_class, preds = {}, {}, {}
    for dx in shifts:
        pred = predict_proba(model, shift(data.images, dx, 0)).argmax(1)
        correct = (pred == data.labels).double()
        overall[dx] = correct.mean().item()
        per_class[dx] = [correct[data.labels == k].mean().item() for k in range(10)]
        preds[dx] = pred
    return overall, per_class, preds


def classify_shifted_one(model: torch.nn.Module, one: torch.Tensor) -> tuple[dict, dict]:
    """Prediction and probabilities of the '1' [1, 1, 28, 28] as is and shifted 3 px each way."""
    variants = {"original": one, "left3": shift(one, -3, 0), "right3": shift(one, 3, 0)}
    result = {}
    for key, img in variants.items():
        pr = predict_proba(model, img)[0]
        result[key] = {"pred": int(pr.argmax()), "probs": [float(v) for v in pr]}
    return result, {key: img[0, 0].numpy() for key, img in variants.items()}


def tolerance_ranking(per_class: dict[int, list[float]]) -> list[dict]:
    """Classes ranked by mean accuracy at -3 and +3 px, most tolerant first (rank ties share a rank)."""
    # Rounded so that equal counts of correct digits tie exactly, whatever the float sum order.
    tol = {k: round((per_class[-3][k] + per_class[3][k]) / 2, 9) for k in range(10)}
    order = sorted(tol, key=lambda k: (-tol[k], k))
    return [{"class": k, "accuracy_pm3": tol[k], "rank": 1 + sum(tol[j] > tol[k] for j in tol)}
            for k in order]


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


def shift_curve(model: torch.nn.Module, sample: MNISTData, one: torch.Tensor) -> dict:
    """The '1' at -3/0/+3, and accuracy against shift on the sample (used for every model)."""
    one_result, _ = classify_shifted_one(model, one)
    overall, per_class, preds = shift_accuracy(fast_inference_copy(model), sample, SHIFTS)
    return {"one": one_result, "overall": overall, "per_class": per_class, "preds": preds}


def analyse_shift(model: torch.nn.Module, no_aug: torch.nn.Module, sample: MNISTData,
                  one: torch.Tensor, seed_runs: dict[int, dict]) -> tuple[dict, dict, dict]:
    """The shifted '1', accuracy against shift with and without augmentation, and every seed's check.

    Returns the results, the '1' images (original, left3, right3) and the no-augmentation curve."""
    aug, plain = shift_curve(model, sample, one), shift_curve(no_aug, sample, one)
    _, images = classify_shifted_one(model, one)
    changed = {dx: float((aug["preds"][dx] != aug["preds"][0]).double().mean()) for dx in (-3, 3)}
    result = {"one": aug["one"], "overall": aug["overall"], "per_class": aug["per_class"],
              "changed": changed, "tolerance_ranking": tolerance_ranking(aug["per_class"]),
              "padding": padding_check(one, sample.images),
              "no_augmentation": {"accuracy": {str(dx): plain["overall"][dx] for dx in (-3, 0, 3)},
                                  "accuracy_curve": {str(dx): a for dx, a in plain["overall"].items()},
                                  "one": plain["one"]},
              "seeds": {str(s): r["shift"] for s, r in seed_runs.items()}}
    return result, images, plain["overall"]
