"""Where the trained networks live, the command that retrains one of them, and checkpoint I/O.

A network is named by a spec, as its file's suffix: seed<k> is checkpoints/cnn-<source>[-seed<k>].pt
(the CNN of training seed k, +-1 px augmentation), seed<k>-aug<p> the CNN trained with +-p px
shifts, mlp-seed<k> P2's MLP judge, checkpoints/mlp-<source>[-seed<k>].pt. Loading and training take
the paths from here. torch is imported inside the I/O functions only, so that the process that
hands out training jobs (common.nets.models) stays small.
"""
from __future__ import annotations

import argparse
import io
import re
from pathlib import Path
from typing import TYPE_CHECKING, Callable, NamedTuple

from common.core.cli import ROOT, UserError, command, write_atomic

if TYPE_CHECKING:
    import torch.nn as nn

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
        """The spec as common.nets.models takes it: seed<k>, seed<k>-aug<p> or mlp-seed<k>."""
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
    `.venv/bin/python -m common.nets.models --data <source> [--checkpoints DIR] --retrain <spec>`."""
    folder = Path(checkpoint_dir).resolve()
    where = [] if folder == CHECKPOINT_DIR.resolve() else ["--checkpoints", str(folder)]
    return command("-m", "common.nets.models", "--data", source, *where, "--retrain", spec.name)


def save_checkpoint(model: nn.Module, meta: dict, path: Path) -> None:
    """Atomically save the state dict and metadata (temp file in the same folder, then rename)."""
    import torch
    buf = io.BytesIO()
    torch.save({"state_dict": model.state_dict(), "meta": meta}, buf)
    write_atomic(path, buf.getvalue())


def load_checkpoint(path: Path, make_model: Callable[[], nn.Module] | None = None,
                    fix: str | None = None) -> tuple[nn.Module, dict]:
    """Load a checkpoint of a `make_model()` network (None: the CNN); any unreadable or
    incompatible file raises a one-line UserError, which names the command `fix` if given."""
    import torch

    from common.nets.cnn import CNN
    make_model = CNN if make_model is None else make_model
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
        model = make_model()
        model.load_state_dict(ckpt["state_dict"])
        meta = dict(ckpt["meta"])
    except Exception as exc:  # torch raises many types for a bad file; all mean the same here
        # First sentence only, without terminal colour codes: the message must stay one line.
        text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).strip()
        reason = type(exc).__name__ + (f": {text.splitlines()[0].split('. ')[0][:120]}" if text else "")
        raise UserError(f"checkpoint {path} is corrupt or incompatible ({reason})"
                        + (f"; run `{fix}` to replace it" if fix else "")) from None
    return model.eval(), meta


def load_checked(source: str, spec: ModelSpec, checkpoint_dir: Path,
                 make_model: Callable[[], nn.Module]) -> tuple[nn.Module, dict]:
    """The network of `spec` from its checkpoint in `checkpoint_dir`, in eval mode, with its metadata,
    which must name `source`, the spec's seed and (for a CNN) its augmentation.

    A corrupt or mismatched file is left as it is and raises a one-line UserError naming the
    command that retrains this file alone (retrain_command).
    """
    path, fix = spec.path(source, checkpoint_dir), retrain_command(source, spec, checkpoint_dir)
    model, meta = load_checkpoint(path, make_model, fix)
    want = {"source": source, "seed": spec.seed}
    if spec.kind == "cnn":
        want["augment_px"] = spec.augment_px
    for key, value in want.items():
        if meta.get(key) != value:
            raise UserError(f"checkpoint {path} has {key} {meta.get(key)!r}, not {value!r}; "
                            f"run `{fix}` to replace it")
    return model, meta
