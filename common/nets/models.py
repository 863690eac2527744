"""The trained networks a run needs, named by checkpoint suffix, trained side by side and checked.

    python -m common.nets.models --data mnist5k-t10k seed0 seed1 seed0-aug0 mlp-seed0
    python -m common.nets.models --data mnist5k-t10k --retrain seed1    # replace one checkpoint

A spec names a checkpoint as its file does (common/nets/checkpoints.py): seed<k> is
checkpoints/cnn-<source>[-seed<k>].pt, seed<k>-aug<p> the CNN trained with +-p px shifts, mlp-seed<k>
P2's MLP judge. The missing ones train in a pool of worker processes, one per core; the others
are loaded once, so that a corrupt one stops the run before any work, naming the command above.
Each training runs on one thread however many run at once (common.nets.training.TRAIN_THREADS), so a
checkpoint is the same whether it was trained alone, in the pool, or on a machine with more cores.
"""
from __future__ import annotations

import multiprocessing
import os
import sys
import time
from pathlib import Path
from typing import Collection, Iterable, Sequence

from common.core.cli import Parser, run
from common.nets.checkpoints import CHECKPOINT_DIR, ModelSpec, parse_spec
from common.nets.data import SOURCES, resolve_source

# torch is imported only by the workers (through common.nets.training and common.nets.mlp, in train_one): the
# process that hands out the jobs stays small while they train, which matters at full size (see
# bench_standin). It loads the checkpoints it did not train (check_models) after the pool is gone.


def train_one(source: str, spec: ModelSpec, checkpoint_dir: Path) -> tuple[str, float, float]:
    """Train and save one checkpoint; return its file name, seconds and held-out accuracy."""
    start = time.perf_counter()
    path = spec.path(source, checkpoint_dir)
    if spec.kind == "mlp":
        from common.nets.mlp import train_and_save_mlp
        _, meta = train_and_save_mlp(source, spec.seed, path)
    else:
        from common.nets.training import train_and_save
        _, meta = train_and_save(source, spec.seed, spec.augment_px, path)
    return path.name, time.perf_counter() - start, meta["test_accuracy"]


def _train_job(job: tuple[str, ModelSpec, Path]) -> tuple[str, float, float]:
    return train_one(*job)


def ensure_models(source: str, specs: Sequence[ModelSpec], checkpoint_dir: Path = CHECKPOINT_DIR,
                  retrain: Collection[ModelSpec] = (), jobs: int | None = None) -> None:
    """Make sure that every checkpoint among `specs` exists and loads: train those that are
    missing or in `retrain` (train_models), then load the others once (check_models).

    A file that does not load is left as it is; the one-line UserError names the command that
    retrains it alone.
    """
    source = resolve_source(source)
    specs = list(dict.fromkeys(specs))
    todo = [spec for spec in specs if spec in retrain or not spec.path(source, checkpoint_dir).exists()]
    train_models(source, todo, checkpoint_dir, jobs)
    check_models(source, [spec for spec in specs if spec not in todo], checkpoint_dir)


def train_models(source: str, specs: Sequence[ModelSpec], checkpoint_dir: Path,
                 jobs: int | None = None) -> None:
    """Train and save the checkpoints of `specs`, side by side.

    A pool of `jobs` worker processes (default: one per core this process may use) takes them one
    at a time, CNNs first. With one job or one checkpoint to train, it trains in this process.
    """
    if not specs:
        return
    todo = sorted(specs, key=lambda spec: spec.kind != "cnn")  # the MLP (2 s) fills the last gap
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


def check_models(source: str, specs: Sequence[ModelSpec], checkpoint_dir: Path) -> None:
    """Load each checkpoint of `specs` once (common.nets.checkpoints.load_checked): a corrupt or mismatched
    file is a one-line UserError naming the command that retrains it alone."""
    if not specs:
        return
    from common.nets.checkpoints import load_checked
    from common.nets.cnn import CNN
    from common.nets.mlp import MLP

    for spec in specs:
        load_checked(source, spec, checkpoint_dir, MLP if spec.kind == "mlp" else CNN)


def _report(trained: Iterable[tuple[str, float, float]]) -> None:
    for name, seconds, test_acc in trained:
        print(f"  trained {name} in {seconds:.1f} s: test acc {100 * test_acc:.2f}%", flush=True)


def main(argv: Sequence[str] | None = None) -> None:
    parser = Parser(description="Train the missing checkpoints among the named ones, side by side, "
                                "and check that the others load.")
    parser.add_argument("specs", type=parse_spec, nargs="+", metavar="SPEC",
                        help="seed<k>, seed<k>-aug<p> or mlp-seed<k> (a checkpoint's suffix)")
    parser.add_argument("--data", choices=SOURCES, default="auto", help="MNIST source")
    parser.add_argument("--checkpoints", type=Path, default=CHECKPOINT_DIR, help="checkpoint folder")
    parser.add_argument("--retrain", action="store_true",
                        help="train the named checkpoints again even if they exist, replacing them")
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
