"""The full-size MNIST stand-in (bench/standin.py) and the step budget of large training sets."""
from __future__ import annotations

import struct

import numpy as np

from bench.standin import bilinear, write_standin
from common.nets.data import IDX_FILES, load_mnist
from common.nets.training import default_epochs


def parse_idx(path):
    """An independent IDX reader: struct for the header, as the format's description gives it."""
    data = path.read_bytes()
    zero, kind, ndim = struct.unpack(">HBB", data[:4])
    shape = struct.unpack(f">{ndim}I", data[4:4 + 4 * ndim])
    assert zero == 0 and kind == 0x08
    return np.frombuffer(data[4 + 4 * ndim:], dtype=np.uint8).reshape(shape)


def test_standin_files_are_mnist_shaped_labelled_and_seeded(tmp_path):
    sizes = {"train": 300, "test": 100}
    raw = write_standin(tmp_path / "a", sizes)
    again = write_standin(tmp_path / "b", sizes)
    assert "NOT MNIST" in (raw / "STANDIN.txt").read_text()
    for split, (images_name, labels_name) in IDX_FILES.items():
        images, labels = parse_idx(raw / images_name), parse_idx(raw / labels_name)
        assert images.shape == (sizes[split], 28, 28) and labels.shape == (sizes[split],)
        assert set(labels.tolist()) == set(range(10))
        assert (raw / images_name).read_bytes() == (again / images_name).read_bytes()
        # The project's reader sees full MNIST of the same size, pixels in [0, 1].
        data = load_mnist(split, "mnist", tmp_path / "a")
        assert data.images.shape == (sizes[split], 1, 28, 28) and data.source == "mnist"
        np.testing.assert_array_equal(np.rint(data.images[:, 0].numpy() * 255), images)


def test_bilinear_at_integer_points_is_the_image_and_halfway_the_mean():
    img = np.arange(12, dtype=np.float64).reshape(1, 3, 4)
    ys, xs = np.meshgrid(np.arange(3.0), np.arange(4.0), indexing="ij")
    np.testing.assert_array_equal(bilinear(img, ys[None], xs[None]), img)
    # Row 0.25, column 1.5: 3/4 of row 0's mean of 1 and 2, plus 1/4 of row 1's mean of 5 and 6.
    mid = bilinear(img, np.array([[[0.25]]]), np.array([[[1.5]]]))
    assert mid[0, 0, 0] == 0.75 * 1.5 + 0.25 * 5.5
    assert bilinear(img, np.array([[[-2.0]]]), np.array([[[0.0]]]))[0, 0, 0] == 0  # outside: zero


def test_step_budget_of_large_sets():
    assert default_epochs(5_000) == 10  # mnist5k-t10k: 5,000 training digits
    assert default_epochs(60_000) == 2  # full MNIST: 2 x 938 = 1,876 steps of 64
