"""The judges of Problem 2 (3): networks that tell an adversarial paste from an honest relabelling.

A judge is another classifier asked about a pasted image only when our CNN's label changed. They
are the CNNs of training seeds seed+1 .. seed+JUDGE_CNNS (the same architecture, recipe and training
data as ours; only the seed differs) and an MLP of seed `seed` (common/nets/mlp.py), which sees pixels
without convolutions or pooling. They are not independent of our CNN: they learnt from the same
digits, and three of them share its architecture.
"""
from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import torch.nn as nn

from common.nets.mlp import load_mlp
from common.nets.models import ModelSpec
from common.nets.training import load_cnn

JUDGE_CNNS = 3  # CNN judges: training seeds seed+1 .. seed+3, same recipe as ours
JUDGE_MAJORITY = 3  # of the 4 judges (3 CNNs and the MLP)


class Judge(NamedTuple):
    name: str  # "CNN seed 1", "MLP seed 0"
    model: nn.Module
    meta: dict  # its checkpoint's metadata (seed, test_accuracy, ...)


def judge_specs(seed: int) -> list[ModelSpec]:
    """The judges' checkpoints for our CNN of training seed `seed`: CNNs seed+1 .. seed+JUDGE_CNNS,
    then the MLP of `seed`."""
    return [ModelSpec(k) for k in range(seed + 1, seed + 1 + JUDGE_CNNS)] + [ModelSpec(seed, 0, "mlp")]


def load_judges(source: str, seed: int, checkpoint_dir: Path) -> list[Judge]:
    """The judges of `judge_specs(seed)` in eval mode, from their checkpoints (trained and saved when
    missing; a bad file is a one-line UserError from load_cnn / load_mlp)."""
    judges = []
    for spec in judge_specs(seed):
        if spec.kind == "mlp":
            model, meta = load_mlp(source, spec.seed, False, checkpoint_dir)
            judges.append(Judge(f"MLP seed {spec.seed}", model, meta))
        else:
            model, meta = load_cnn(source, seed=spec.seed, checkpoint_dir=checkpoint_dir)
            judges.append(Judge(f"CNN seed {spec.seed}", model, meta))
    return judges


def describe_judges(judges: list[Judge], ours: nn.Module) -> list[dict]:
    """What the results JSON records of each judge: name, family, whether it has our CNN's
    architecture, its training seed and data, and its test accuracy."""
    return [{"name": j.name, "family": type(j.model).__name__, "same_architecture": type(j.model) is type(ours),
             "seed": j.meta["seed"], "trained_on": j.meta["source"],
             "test_accuracy": round(float(j.meta["test_accuracy"]), 6)} for j in judges]
