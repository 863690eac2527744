"""The MLP judge of Problem 2: a classifier of another family than the CNN, with its recipe and
checkpoint (checkpoints/mlp-<source>[-seed<k>].pt).

It judges whether a pasted window really turned a '6' into another digit: a network that sees
pixels without convolutions or pooling shares fewer of the CNN's blind spots than another CNN.
"""
from __future__ import annotations

from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from common.nets.checkpoints import ModelSpec, load_checked, mlp_path, save_checkpoint
from common.nets.cnn import MNIST_MEAN, MNIST_STD, accuracy
from common.nets.data import MNISTData, load_mnist
from common.nets.sources import CLASSES
from common.nets.training import TRAIN_THREADS, torch_threads

MLP_HIDDEN, MLP_EPOCHS = 256, 8


class MLP(nn.Module):
    """The judge of another family: 784 -> MLP_HIDDEN -> 10 with ReLU, pixels in [0, 1] as for the CNN."""

    def __init__(self, hidden: int = MLP_HIDDEN) -> None:
        super().__init__()
        self.hidden = nn.Linear(28 * 28, hidden)
        self.out = nn.Linear(hidden, CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = (x.flatten(1) - MNIST_MEAN) / MNIST_STD
        return self.out(F.relu(self.hidden(x)))


def train_mlp(train: MNISTData, test: MNISTData, seed: int) -> tuple[MLP, dict]:
    """Adam on cross-entropy, MLP_EPOCHS epochs of batch 64, seeded shuffling; no augmentation.
    On TRAIN_THREADS threads, as the CNNs, so the weights do not depend on the core count."""
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    model = MLP()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    with torch_threads(TRAIN_THREADS):
        for _ in range(MLP_EPOCHS):
            for batch in torch.randperm(len(train.labels), generator=gen).split(64):
                loss = F.cross_entropy(model(train.images[batch]), train.labels[batch])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
    model.eval()
    meta = {"seed": seed, "epochs": MLP_EPOCHS, "hidden": MLP_HIDDEN, "threads": TRAIN_THREADS,
            "train_accuracy": accuracy(model, train), "test_accuracy": accuracy(model, test)}
    return model, meta


def load_mlp(source: str, seed: int, retrain: bool, checkpoint_dir: Path) -> tuple[MLP, dict]:
    """The MLP judge from its checkpoint (common.nets.checkpoints.load_checked), trained and saved when missing
    or `retrain` is set."""
    path = mlp_path(source, checkpoint_dir, seed)
    if path.exists() and not retrain:
        return load_checked(source, ModelSpec(seed, 0, "mlp"), checkpoint_dir, MLP)
    print(f"training the MLP judge on {source} (seed {seed}) ...")
    return train_and_save_mlp(source, seed, path)


def train_and_save_mlp(source: str, seed: int, path: Path) -> tuple[MLP, dict]:
    """Train the MLP of (source, seed) and save it atomically to `path`."""
    model, meta = train_mlp(load_mnist("train", source), load_mnist("test", source), seed)
    meta["source"] = source
    save_checkpoint(model, meta, path)
    return model, meta
