"""Where the trained networks live, and the command that retrains one of them; no torch here.

A network is named by a spec, as its file's suffix: seed<k> is checkpoints/cnn-<source>[-seed<k>].pt
(the CNN of training seed k, +-1 px augmentation), seed<k>-aug<p> the CNN trained with +-p px
shifts, mlp-seed<k> P2's MLP judge, checkpoints/mlp-<source>[-seed<k>].pt. Loading (common.cnn)
and training (common.models) take the paths from here.
"""
from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import NamedTuple

from common.cli import ROOT, command

CHECKPOINT_DIR = ROOT / "checkpoints"
SPEC = re.compile(r"(mlp-)?seed(\d+)(?:-aug([0-2]))?")


def checkpoint_path(source: str, checkpoint_dir: Path = CHECKPOINT_DIR, seed: int = 0,
                    augment_px: int = 1) -> Path:
    """checkpoints/cnn-<source>[-seed<k>][-aug<p>].pt; the reference model (seed 0, ±1 px) has no suffix."""
    suffix = (f"-seed{seed}" if seed else "") + (f"-aug{augment_px}" if augment_px != 1 else "")
    return Path(checkpoint_dir) / f"cnn-{source}{suffix}.pt"


def mlp_path(source: str, checkpoint_dir: Path, seed: int) -> Path:
    """checkpoints/mlp-<source>[-seed<k>].pt: P2's MLP judge."""
    return Path(checkpoint_dir) / f"mlp-{source}{f'-seed{seed}' if seed else ''}.pt"


class ModelSpec(NamedTuple):
    """One checkpoint: the CNN of (seed, augment_px), or the MLP of seed (kind "mlp")."""
    seed: int
    augment_px: int = 1
    kind: str = "cnn"

    @property
    def name(self) -> str:
        """The spec as common.models takes it: seed<k>, seed<k>-aug<p> or mlp-seed<k>."""
        if self.kind == "mlp":
            return f"mlp-seed{self.seed}"
        return f"seed{self.seed}" + (f"-aug{self.augment_px}" if self.augment_px != 1 else "")

    def path(self, source: str, checkpoint_dir: Path = CHECKPOINT_DIR) -> Path:
        if self.kind == "mlp":
            return mlp_path(source, checkpoint_dir, self.seed)
        return checkpoint_path(source, checkpoint_dir, self.seed, self.augment_px)


def parse_spec(text: str) -> ModelSpec:
    """argparse type: seed<k>, seed<k>-aug<p> (p in 0..2) or mlp-seed<k>."""
    match = SPEC.fullmatch(text)
    if not match or (match[1] and match[3] is not None):
        raise argparse.ArgumentTypeError(
            f"expected seed<k>, seed<k>-aug<p> (p in 0..2) or mlp-seed<k>, got {text!r}")
    if match[1]:
        return ModelSpec(int(match[2]), 0, "mlp")
    return ModelSpec(int(match[2]), int(match[3]) if match[3] is not None else 1)


def retrain_command(source: str, spec: ModelSpec, checkpoint_dir: Path = CHECKPOINT_DIR) -> str:
    """The shell command that retrains `spec`'s checkpoint alone and saves it in place:
    `.venv/bin/python -m common.models --data <source> [--checkpoints DIR] --retrain <spec>`."""
    folder = Path(checkpoint_dir).resolve()
    where = [] if folder == CHECKPOINT_DIR.resolve() else ["--checkpoints", str(folder)]
    return command("-m", "common.models", "--data", source, *where, "--retrain", spec.name)
