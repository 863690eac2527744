"""The trained networks a run needs, named by checkpoint suffix, and trained side by side.

    python -m common.models --data mnist5k-t10k seed0 seed1 seed0-aug0 mlp-seed0

A spec names a checkpoint as its file does: seed<k> is checkpoints/cnn-<source>[-seed<k>].pt (the
CNN of training seed k, +-1 px augmentation), seed<k>-aug<p> the CNN trained with +-p px shifts,
mlp-seed<k> P2's MLP judge. The missing ones train in a pool of worker processes, one per core.
Each training runs on one thread however many run at once (common.cnn.TRAIN_THREADS), so a
checkpoint is the same whether it was trained alone, in the pool, or on a machine with more cores.
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import re
import sys
import time
from pathlib import Path
from typing import Collection, Iterable, NamedTuple, Sequence

from common.cli import ROOT, Parser, run
from common.data import SOURCES, resolve_source

# torch is imported only by the workers (through common.cnn and common.mlp, in train_one): the
# process that hands out the jobs stays small, which matters at full size (see bench_standin).
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


def train_one(source: str, spec: ModelSpec, checkpoint_dir: Path) -> tuple[str, float, float]:
    """Train and save one checkpoint; return its file name, seconds and held-out accuracy."""
    start = time.perf_counter()
    path = spec.path(source, checkpoint_dir)
    if spec.kind == "mlp":
        from common.mlp import train_and_save_mlp
        _, meta = train_and_save_mlp(source, spec.seed, path)
    else:
        from common.cnn import train_and_save
        _, meta = train_and_save(source, spec.seed, spec.augment_px, path)
    return path.name, time.perf_counter() - start, meta["test_accuracy"]


def _train_job(job: tuple[str, ModelSpec, Path]) -> tuple[str, float, float]:
    return train_one(*job)


def ensure_models(source: str, specs: Sequence[ModelSpec], checkpoint_dir: Path = CHECKPOINT_DIR,
                  retrain: Collection[ModelSpec] = (), jobs: int | None = None) -> None:
    """Train the checkpoints among `specs` that are missing or in `retrain`, side by side; the
    others are left as they are.

    A pool of `jobs` worker processes (default: one per core this process may use) takes them one
    at a time, CNNs first. With one job or one checkpoint to train, it trains in this process.
    """
    source = resolve_source(source)
    todo = sorted((spec for spec in dict.fromkeys(specs)
                   if spec in retrain or not spec.path(source, checkpoint_dir).exists()),
                  key=lambda spec: spec.kind != "cnn")  # the MLP (2 s) fills the last gap
    if not todo:
        return
    jobs = max(1, min(jobs or len(os.sched_getaffinity(0)), len(todo)))
    print(f"training {len(todo)} network{'s' * (len(todo) > 1)} on {source}, {jobs} at a time on "
          f"one thread each: {', '.join(spec.path(source, checkpoint_dir).name for spec in todo)}",
          flush=True)
    work = [(source, spec, checkpoint_dir) for spec in todo]
    if jobs == 1:
        _report(map(_train_job, work))
        return
    # spawn, not fork: a forked child would inherit torch's thread pools in whatever state they are.
    pool = multiprocessing.get_context("spawn").Pool(jobs)
    try:
        _report(pool.imap_unordered(_train_job, work))
        pool.close()  # workers exit on their own: terminating them leaks a semaphore warning
    finally:
        pool.terminate()
        pool.join()


def _report(trained: Iterable[tuple[str, float, float]]) -> None:
    for name, seconds, test_acc in trained:
        print(f"  trained {name} in {seconds:.1f} s: test acc {100 * test_acc:.2f}%", flush=True)


def main(argv: Sequence[str] | None = None) -> None:
    parser = Parser(description="Train the missing checkpoints among the named ones, side by side.")
    parser.add_argument("specs", type=parse_spec, nargs="+", metavar="SPEC",
                        help="seed<k>, seed<k>-aug<p> or mlp-seed<k> (a checkpoint's suffix)")
    parser.add_argument("--data", choices=SOURCES, default="auto", help="MNIST source")
    parser.add_argument("--checkpoints", type=Path, default=CHECKPOINT_DIR, help="checkpoint folder")
    parser.add_argument("--retrain", action="store_true", help="train them even if they exist")
    parser.add_argument("--jobs", type=int, default=None,
                        help="trainings at once (default: one per core)")
    args = parser.parse_args(argv)
    if args.jobs is not None and args.jobs < 1:
        parser.error(f"--jobs must be at least 1, got {args.jobs}")
    source = resolve_source(args.data)
    ensure_models(source, args.specs, args.checkpoints, args.specs if args.retrain else (), args.jobs)
    print(f"{len(args.specs)} checkpoints ready in {args.checkpoints}")


if __name__ == "__main__":
    sys.exit(run(main))
