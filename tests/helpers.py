"""Helpers shared by several test modules: a random CNN of the Problem 1 architecture, and the
8-significant-digit formatting that the report's expected strings are built with."""
from __future__ import annotations

import torch

from common.cnn import CNN


def random_cnn(seed: int = 0, bn_affine: bool = False) -> CNN:
    """The Problem 1 architecture with random weights and non-trivial batch-norm statistics, in
    eval mode; `bn_affine` also randomises the batch norms' scale and shift."""
    torch.manual_seed(seed)
    model = CNN()
    for bn in (model.bn1, model.bn2, model.bn3):
        bn.running_mean.uniform_(-0.5, 0.5)
        bn.running_var.uniform_(0.5, 2.0)
        if bn_affine:
            bn.weight.data.uniform_(0.5, 1.5)
            bn.bias.data.uniform_(-0.2, 0.2)
    return model.eval()


def sig(v: float) -> str:
    return f"{float(v) + 0.0:#.8g}"


def vec(v: list) -> str:
    return "[" + ", ".join(sig(e) for e in v) + "]"
