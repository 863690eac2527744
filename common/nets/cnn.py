"""The Problem 1 CNN: its architecture, inference in batches and layer capture.

The recipe that trains it is in common/nets/training.py; checkpoint files in checkpoints.py.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from common.core.cli import UserError
from common.nets.data import MNISTData
from common.nets.sources import CLASSES

MNIST_MEAN, MNIST_STD = 0.1307, 0.3081
CONV_LAYERS = ("conv1", "conv2", "conv3")


def smoothing_target(smoothing: float, classes: int = CLASSES) -> float:
    """The probability of the true class that cross-entropy with label smoothing trains towards:
    1 - smoothing for the label, plus its share of the smoothing spread over all classes."""
    return 1 - smoothing + smoothing / classes


class CNN(nn.Module):
    """Three conv blocks and a linear classifier. Input: pixels in [0, 1], [N, 1, 28, 28].

    conv1 1->16 (28x28) -> pool -> conv2 16->32 (14x14) -> pool -> conv3 32->64 (7x7) -> pool
    -> linear 576->10 logits. Each conv is followed by batch norm and ReLU. The input
    normalisation is part of the model, so a black pixel (0) is a black pixel to every caller.
    """

    def __init__(self, widths: Sequence[int] = (16, 32, 64)) -> None:
        super().__init__()
        c1, c2, c3 = widths
        self.register_buffer("mean", torch.tensor(MNIST_MEAN))
        self.register_buffer("std", torch.tensor(MNIST_STD))
        # No conv bias: the batch norm that follows each conv has its own shift.
        self.conv1 = nn.Conv2d(1, c1, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c1)
        self.act1 = nn.ReLU()
        self.conv2 = nn.Conv2d(c1, c2, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c2)
        self.act2 = nn.ReLU()
        self.conv3 = nn.Conv2d(c2, c3, 3, padding=1, bias=False)
        self.bn3 = nn.BatchNorm2d(c3)
        self.act3 = nn.ReLU()  # named modules, so capture() can read each layer's activation
        self.fc = nn.Linear(c3 * 3 * 3, CLASSES)

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.normalize(x)
        x = F.max_pool2d(self.act1(self.bn1(self.conv1(x))), 2)  # 28 -> 14
        x = F.max_pool2d(self.act2(self.bn2(self.conv2(x))), 2)  # 14 -> 7
        x = F.max_pool2d(self.act3(self.bn3(self.conv3(x))), 2)  # 7 -> 3
        return self.fc(x.flatten(1))


def predict_proba(model: nn.Module, images: torch.Tensor, batch: int = 1000) -> torch.Tensor:
    """Softmax probabilities [N, 10] for images [N, 1, 28, 28], in batches, without gradients."""
    with torch.no_grad():
        return torch.cat([F.softmax(model(images[i:i + batch]), dim=1)
                          for i in range(0, len(images), batch)])


def accuracy(model: nn.Module, data: MNISTData, batch: int = 1000) -> float:
    """Fraction of `data` that `model` (in eval mode) classifies correctly."""
    return (predict_proba(model, data.images, batch).argmax(1) == data.labels).double().mean().item()


def capture(model: nn.Module, images: torch.Tensor, layers: Sequence[str] = CONV_LAYERS
            ) -> dict[str, torch.Tensor]:
    """Outputs of the named submodules for a batch, via forward hooks.

    "conv3" gives the raw convolution output [N, 64, 7, 7]; "act3" the same layer after its
    batch norm and ReLU, which is what the rest of the network sees.
    """
    outputs: dict[str, torch.Tensor] = {}
    handles = []
    for name in layers:
        try:
            module = model.get_submodule(name)
        except AttributeError:
            raise UserError(f"the model has no layer named {name!r}") from None
        handles.append(module.register_forward_hook(
            lambda _m, _inp, out, name=name: outputs.__setitem__(name, out.detach().clone())))
    try:
        with torch.no_grad():
            model(images)
    finally:
        for h in handles:
            h.remove()
    return outputs
