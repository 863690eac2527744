"""Gradient attacks on one digit, for comparison with the transplanted windows of Problem 2 (3).

    adv = pgd(model, x, label, eps=torch.tensor([0.3]), steps=40, alpha=torch.tensor([0.0075]))
    rows, shown = compare_attacks(model, judges, six, digit, best, pastes, windows)

`pgd` is untargeted projected gradient ascent under an L-infinity budget (Madry et al. 2018); with
eps = 1 and a window mask it optimises an adversarial patch (Brown et al. 2017, here fitted to one
image). `compare_attacks` runs both on the same digit and measures each change (L0, L2, L-infinity)
and how many judges follow it, beside the transplants at the best paste position.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from common.occlusion.engine import num_positions
from common.occlusion.judges import Judge
from common.occlusion.rates import r6, rate
from common.occlusion.transplant import (
    Pastes,
    Windows,
    adversarial_mask,
    changed_mask,
    pasted,
)

PGD_EPS, PGD_STEPS, PGD_GRID = 0.3, 40, 15  # the usual MNIST L-inf budget; steps of 2.5 eps / steps
PATCH_STEPS, PATCH_ALPHA = 100, 0.05  # the optimised patch: signed-gradient steps inside its window


def pgd(model: nn.Module, x: torch.Tensor, label: int, eps: torch.Tensor, steps: int, alpha: torch.Tensor,
        mask: torch.Tensor | None = None) -> torch.Tensor:
    """Untargeted projected gradient ascent on the cross-entropy of `label` (Madry et al. 2018).

    x [1, 1, 28, 28]; eps and alpha [B]: one attack per budget, run as a batch. Each step moves
    alpha * sign(gradient), inside `mask` only if given, then projects onto the L-infinity ball of
    radius eps around x and onto the pixel range [0, 1]. Starts at x (no random start), so it is
    deterministic. With eps = 1 and a window mask it optimises an adversarial patch.
    """
    eps, alpha = eps.view(-1, 1, 1, 1), alpha.view(-1, 1, 1, 1)
    target = torch.full((len(eps),), label)
    adv = x.expand(len(eps), -1, -1, -1).clone()
    for _ in range(steps):
        adv.requires_grad_(True)
        loss = F.cross_entropy(model(adv), target, reduction="sum")  # sum: each attack its own gradient
        (grad,) = torch.autograd.grad(loss, adv)
        step = alpha * grad.sign()
        adv = adv.detach() + (step if mask is None else step * mask)
        adv = torch.minimum(torch.maximum(adv, x - eps), x + eps).clamp(0, 1)
    return adv.detach()


def smallest_pgd_eps(model: nn.Module, x: torch.Tensor, label: int) -> float:
    """The smallest eps on a grid of PGD_GRID budgets up to PGD_EPS that flips the label, refined
    once on a second grid between the last failing and the first flipping budget (nan: none flips)."""
    lo, hi = 0.0, PGD_EPS
    for _ in range(2):
        eps = torch.linspace(lo, hi, PGD_GRID + 1)[1:]
        adv = pgd(model, x, label, eps, PGD_STEPS, 2.5 * eps / PGD_STEPS)
        with torch.no_grad():
            flips = (model(adv).argmax(1) != label).numpy()
        if not flips.any():
            return float("nan")
        j = int(np.argmax(flips))
        lo, hi = (float(eps[j - 1]) if j else lo), float(eps[j])
    return hi


def attack_row(x: torch.Tensor, adv: torch.Tensor, model: nn.Module, judges: Sequence[Judge],
               digit: int) -> dict:
    """Success against the CNN, the L0/L2/L-infinity size of the change, and the judges' labels."""
    delta = (adv - x).flatten()
    with torch.no_grad():
        label = int(model(adv).argmax(1))
        votes = [int(j.model(adv).argmax(1)) for j in judges]
    return {"success": label != digit, "cnn_label": label, "l0": int((delta.abs() > 1e-6).sum()),
            "l2": r6(delta.norm()), "linf": r6(delta.abs().max()), "judge_labels": votes,
            "transfer": r6(np.mean([v != digit for v in votes]))}


def transplant_row(x: torch.Tensor, pastes: Pastes, windows: Windows, position: list[int]
                   ) -> tuple[dict[str, Any], torch.Tensor]:
    """The sampled windows pasted at `position`: how many flip the label, the medians of their
    changes and of the judges' votes; and the flipping images [F, 1, 28, 28]."""
    r, c = position
    s = windows.size
    here = np.flatnonzero(pastes.pos == r * num_positions(28, s, 1) + c)
    flipped = here[changed_mask(pastes)[here]]
    images = pasted(x[0], windows, torch.from_numpy(pastes.w[flipped]), torch.from_numpy(pastes.pos[flipped]))
    deltas = (images - x).flatten(1)
    some = len(flipped) > 0
    return {
        "size": s, "position": [r, c], "success": rate(len(flipped), len(here)),
        "l0": r6(np.median((deltas.abs() > 1e-6).sum(1).numpy())) if some else None,
        "l2": r6(np.median(deltas.norm(dim=1).numpy())) if some else None,
        "linf": r6(np.median(deltas.abs().max(1).values.numpy())) if some else None,
        "transfer": r6((pastes.judges[flipped] != pastes.digit).mean()) if some else None,
        "adversarial": rate(int(adversarial_mask(pastes)[flipped].sum()), len(flipped)),
        "statistic": "median over label-flipping windows"}, images


def compare_attacks(model: nn.Module, judges: Sequence[Judge], six: torch.Tensor, digit: int,
                    best: dict, pastes: Pastes, windows: Windows
                    ) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """PGD at PGD_EPS and at the smallest flipping eps, the optimised patch at the best transplant
    position, and the transplants there; returns the table and the attack images [28, 28] shown."""
    x = six[None]
    eps_min = smallest_pgd_eps(model, x, digit)
    budgets = torch.tensor([PGD_EPS] + ([eps_min] if np.isfinite(eps_min) else []))
    advs = pgd(model, x, digit, budgets, PGD_STEPS, 2.5 * budgets / PGD_STEPS)
    r, c = best["position"]
    s = windows.size
    mask = torch.zeros(1, 1, 28, 28)
    mask[..., r:r + s, c:c + s] = 1.0
    patch = pgd(model, x, digit, torch.tensor([1.0]), PATCH_STEPS, torch.tensor([PATCH_ALPHA]), mask)
    rows = {"pgd": {"eps": PGD_EPS, "steps": PGD_STEPS, **attack_row(x, advs[:1], model, judges, digit)},
            "pgd_min": {"eps": r6(eps_min) if np.isfinite(eps_min) else None, "steps": PGD_STEPS,
                        "largest_eps_tried": PGD_EPS,
                        **(attack_row(x, advs[1:], model, judges, digit) if len(advs) > 1 else {})},
            "patch": {"size": s, "position": [r, c], "steps": PATCH_STEPS,
                      **attack_row(x, patch, model, judges, digit)}}
    rows["transplant"], images = transplant_row(x, pastes, windows, [r, c])
    shown = {"pgd": advs[0, 0].numpy(), "patch": patch[0, 0].numpy()}
    if len(advs) > 1:
        shown["pgd_min"] = advs[1, 0].numpy()
    if len(images):
        shown["transplant"] = images[0, 0].numpy()
    return rows, shown
