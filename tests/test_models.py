"""The checkpoints a run needs (common/nets/models.py): spec names, training side by side in a pool of
processes, and weights that do not depend on the thread count.

The expected weights come from a second, independent run: the same recipe in this process on one
thread. The Makefile's list is checked against what the scripts themselves load.
"""
from __future__ import annotations

import re
import subprocess
import sys

import pytest
import torch

import p1_cnn_filters as p1
import p2_occlusion as p2
from common.core.cli import ROOT
from common.nets import checkpoints, mlp, training
from common.nets.data import MNISTData, load_mnist
from common.nets.models import ModelSpec, ensure_models, parse_spec


@pytest.fixture(scope="module")
def small():
    """512 training and 64 held-out digits: enough for 8 optimizer steps of 64."""
    train, test = load_mnist("train", "mnist5k-t10k"), load_mnist("test", "mnist5k-t10k")
    return (MNISTData(train.images[:512], train.labels[:512], train.source),
            MNISTData(test.images[:64], test.labels[:64], test.source))


def same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.mark.parametrize("text, spec", [
    ("seed0", ModelSpec(0)), ("seed12", ModelSpec(12, 1)), ("seed0-aug0", ModelSpec(0, 0)),
    ("seed3-aug2", ModelSpec(3, 2)), ("mlp-seed0", ModelSpec(0, 0, "mlp")),
    ("mlp-seed4", ModelSpec(4, 0, "mlp")),
])
def test_specs_parse_to_their_checkpoints(text, spec, tmp_path):
    assert parse_spec(text) == spec and spec.name == text  # name: what common.nets.models takes back
    want = (mlp.mlp_path("mnist5k-t10k", tmp_path, spec.seed) if spec.kind == "mlp"
            else checkpoints.checkpoint_path("mnist5k-t10k", tmp_path, spec.seed, spec.augment_px))
    assert spec.path("mnist5k-t10k", tmp_path) == want


@pytest.mark.parametrize("text", ["seed", "seed-1", "seed0-aug3", "mlp-seed0-aug0", "cnn-seed0", "Seed0", "seed0 "])
def test_bad_specs_are_a_one_line_error(text):
    proc = subprocess.run([sys.executable, "-m", "common.nets.models", "--data", "mnist5k-t10k", text],
                          cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.count("\n") == 1 and "seed<k>" in proc.stderr


def test_training_gives_the_same_weights_on_one_or_two_threads(small):
    """oneDNN sums a convolution's weight gradient over per-thread parts, so without the pinning
    in train_cnn the weights after 8 steps differ between 1 and 2 threads (by 0.04 here)."""
    before = torch.get_num_threads()
    try:
        models = []
        for threads in (1, 2):
            torch.set_num_threads(threads)
            models.append(training.train_cnn(*small, seed=0, epochs=1, progress=False)[0])
            assert torch.get_num_threads() == threads  # the caller's setting is restored
    finally:
        torch.set_num_threads(before)
    assert same_weights(*models)


def test_the_pool_trains_what_is_missing_as_a_lone_training_would(tmp_path, capsys):
    """Two MLP judges (about 1 s each) trained in the pool of 2 processes equal the same recipe run
    here; an existing checkpoint is left as it is unless it is in `retrain`."""
    specs = [ModelSpec(0, 0, "mlp"), ModelSpec(1, 0, "mlp")]
    ensure_models("mnist5k-t10k", specs, tmp_path, jobs=2)
    assert "2 at a time" in capsys.readouterr().out
    train, test = load_mnist("train", "mnist5k-t10k"), load_mnist("test", "mnist5k-t10k")
    for spec in specs:
        pooled, meta = mlp.load_mlp("mnist5k-t10k", spec.seed, False, tmp_path)
        alone, _ = mlp.train_mlp(train, test, spec.seed)
        assert meta["source"] == "mnist5k-t10k" and meta["seed"] == spec.seed
        assert same_weights(pooled, alone)

    path = specs[0].path("mnist5k-t10k", tmp_path)
    before = path.stat().st_mtime_ns
    ensure_models("mnist5k-t10k", specs, tmp_path, jobs=2)
    assert path.stat().st_mtime_ns == before and capsys.readouterr().out == ""
    ensure_models("mnist5k-t10k", specs, tmp_path, retrain=specs[:1], jobs=2)
    assert path.stat().st_mtime_ns != before
    assert "training 1 network on" in capsys.readouterr().out


def test_makefile_trains_every_checkpoint_the_scripts_load():
    """make trains MODELS up front; P1 and P2 must find all of theirs there (none trained later)."""
    makefile = (ROOT / "Makefile").read_text()
    listed = {parse_spec(t) for t in re.search(r"^MODELS := (.+)$", makefile, re.M)[1].split()}
    needed = set(p1.models_needed(0, p1.SEEDS)) | set(p2.models_needed(0))
    assert listed == needed
