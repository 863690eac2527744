"""Shared fixtures: a CNN trained for a few seconds on mnist5k-t10k, saved in a temporary folder; one run
of P1 and one quick run of P2 on it (for their tests and the whole report's); and a guard that the
suite leaves the repository's checkpoints/ as it found it; every script's results in one folder, and
the documents built from them."""
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from common.core.cli import ROOT
from common.nets.checkpoints import checkpoint_path, load_checkpoint, save_checkpoint
from common.nets.data import load_mnist
from common.nets.models import CHECKPOINT_DIR
from common.nets.training import train_cnn


def checkpoint_state() -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in CHECKPOINT_DIR.glob("*")} if CHECKPOINT_DIR.is_dir() else {}


@pytest.fixture(scope="session", autouse=True)
def repository_checkpoints_untouched():
    """Tests train into temporary folders; one that trains into checkpoints/ (a script run without
    --checkpoints) would also cost a full training on a fresh clone."""
    before = checkpoint_state()
    yield
    assert checkpoint_state() == before, "the test suite wrote to checkpoints/"


@pytest.fixture(scope="session")
def tiny_checkpoints(tmp_path_factory):
    """A folder holding cnn-mnist5k-t10k.pt, trained for 2 epochs (98.0% test accuracy on AVX-512).

    Scripts under test get `--data mnist5k-t10k --checkpoints <this folder>`, so they never touch the
    repository's own checkpoints/.
    """
    folder = tmp_path_factory.mktemp("checkpoints")
    train, test = load_mnist("train", "mnist5k-t10k"), load_mnist("test", "mnist5k-t10k")
    model, meta = train_cnn(train, test, seed=0, epochs=2, progress=False)
    meta["source"] = "mnist5k-t10k"
    save_checkpoint(model, meta, checkpoint_path("mnist5k-t10k", folder))
    return folder


@pytest.fixture(scope="session")
def p1_checkpoints(tiny_checkpoints, tmp_path_factory):
    """tiny_checkpoints' model saved again as the seed-1 and the no-augmentation checkpoint.

    Identical weights under three names: the seed loop and the no-augmentation curve run without
    extra training, and their results must equal the reference model's where the seed plays no part.
    """
    folder = tmp_path_factory.mktemp("p1_checkpoints")
    model, meta = load_checkpoint(checkpoint_path("mnist5k-t10k", tiny_checkpoints))
    for seed, aug in ((0, 1), (1, 1), (0, 0)):
        save_checkpoint(model, {**meta, "seed": seed, "augment_px": aug},
                        checkpoint_path("mnist5k-t10k", folder, seed, aug))
    return folder


P1_ARGV = ["--data", "mnist5k-t10k", "--seeds", "0", "1", "--sample", "400"]


@pytest.fixture(scope="session")
def p1_run(p1_checkpoints, tmp_path_factory):
    """One run of p1_cnn_filters.main on the tiny CNN (seeds 0 and 1, 400 sampled test digits):
    (its output folder, the results it returned, what it printed)."""
    import contextlib
    import io

    import p1_cnn_filters

    out = tmp_path_factory.mktemp("p1_out")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        results = p1_cnn_filters.main([*P1_ARGV, "--checkpoints", str(p1_checkpoints), "--out", str(out)])
    return out, results, printed.getvalue()


@pytest.fixture(scope="session")
def judge_checkpoints(tiny_checkpoints, tmp_path_factory):
    """The tiny seed-0 CNN plus one-epoch CNNs of seeds 1-3; p2 trains the MLP judge itself (the one
    missing checkpoint, in-process)."""
    import shutil

    folder = tmp_path_factory.mktemp("judges")
    shutil.copy(checkpoint_path("mnist5k-t10k", tiny_checkpoints), checkpoint_path("mnist5k-t10k", folder))
    train, test = load_mnist("train", "mnist5k-t10k"), load_mnist("test", "mnist5k-t10k")
    for seed in (1, 2, 3):
        model, meta = train_cnn(train, test, seed=seed, epochs=1, progress=False)
        meta["source"] = "mnist5k-t10k"
        save_checkpoint(model, meta, checkpoint_path("mnist5k-t10k", folder, seed=seed))
    return folder


@pytest.fixture(scope="session")
def p2_run(judge_checkpoints, tmp_path_factory):
    """One quick run of p2_occlusion.main on the tiny CNN and its judges, with what the tests compare
    it against."""
    import json

    import p2_occlusion as p2
    from common.nets.training import load_cnn
    from common.occlusion.judges import load_judges

    out = tmp_path_factory.mktemp("p2")
    argv = ["--quick", "--data", "mnist5k-t10k", "--checkpoints", str(judge_checkpoints), "--out", str(out)]
    result = p2.main(argv)
    saved = json.loads((out / "p2_results.json").read_text())
    model, _ = load_cnn("mnist5k-t10k", checkpoint_dir=judge_checkpoints)
    judges = [j.model for j in load_judges("mnist5k-t10k", 0, judge_checkpoints)]
    return {"argv": argv, "out": out, "result": result, "saved": saved, "model": model,
            "judges": judges, "test": load_mnist("test", "mnist5k-t10k")}


@pytest.fixture(scope="session")
def every_result(p1_run, p2_run, tmp_path_factory) -> Path:
    """Every script's results in one folder: P1 and P2 on the tiny CNN, P3, P4 --quick, P5, the key."""
    import answer_key
    import p3_rnn_bptt
    import p4_experiments
    import p5_lstm

    folder = tmp_path_factory.mktemp("every_result")
    for source in (p1_run[0], p2_run["out"]):
        for f in source.iterdir():
            shutil.copy(f, folder / f.name)
    for script, extra in ((p3_rnn_bptt, []), (p4_experiments, ["--quick"]), (p5_lstm, []), (answer_key, [])):
        script.main([*extra, "--out", str(folder)])
    return folder


@pytest.fixture(scope="session")
def built(every_result) -> Path:
    """every_result with the three documents and the PDF built by `python -m report --check-links`."""
    done = subprocess.run([sys.executable, "-m", "report", "--figures", str(every_result), "--check-links"],
                          cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return every_result
