"""Problem 1 end to end on a quickly trained CNN, and its input checks."""
import json
import subprocess
import sys

import numpy as np
import pytest
import torch

import p1_cnn_filters as p1
from common.cli import ROOT
from common.cnn import (
    checkpoint_path,
    load_checkpoint,
    load_cnn,
    predict_proba,
    save_checkpoint,
)
from common.data import load_mnist


@pytest.fixture(scope="module")
def p1_checkpoints(tiny_checkpoints, tmp_path_factory):
    """tiny_checkpoints' model saved again as the seed-1 and the no-augmentation checkpoint.

    Identical weights under three names: the seed loop and the no-augmentation curve run without
    extra training, and their results must equal the reference model's.
    """
    folder = tmp_path_factory.mktemp("p1_checkpoints")
    model, meta = load_checkpoint(checkpoint_path("mnist5k-t10k", tiny_checkpoints))
    for seed, aug in ((0, 1), (1, 1), (0, 0)):
        save_checkpoint(model, {**meta, "seed": seed, "augment_px": aug},
                        checkpoint_path("mnist5k-t10k", folder, seed, aug))
    return folder


def test_p1_end_to_end_writes_valid_json(p1_checkpoints, tmp_path):
    argv = ["--data", "mnist5k-t10k", "--checkpoints", str(p1_checkpoints), "--out", str(tmp_path),
            "--seeds", "0", "1"]
    result = p1.main(argv)
    saved = json.loads((tmp_path / "p1_results.json").read_text())
    for key in ("data_source", "train_accuracy", "test_accuracy", "conv_layers", "examples",
                "shift", "discriminant", "filters", "shift_accuracy"):
        assert key in saved, key
    assert saved["data_source"] == "mnist5k-t10k" and saved["conv_layers"] == 3
    assert {"original", "left3", "right3", "no_augmentation"} <= set(saved["shift"])
    for entry in (saved["shift"][k] for k in ("original", "left3", "right3")):
        assert len(entry["probs"]) == 10 and abs(sum(entry["probs"]) - 1) < 1e-5
        assert entry["pred"] == max(range(10), key=entry["probs"].__getitem__)
    assert sorted(int(k) for k in saved["shift_accuracy"]) == list(range(-6, 7))
    assert {p.name for p in tmp_path.glob("p1_*.png")} >= {
        "p1_filters_conv1.png", "p1_filters_conv2.png", "p1_filters_conv3.png",
        "p1_filters_conv2_summary.png", "p1_filters_conv3_summary.png", "p1_top_patches.png",
        "p1_feature_maps.png", "p1_discriminant_channels.png", "p1_shift.png",
        "p1_shift_accuracy.png"}
    disc = saved["discriminant"]
    assert len(disc["cells_used"]) == 36 and [6, 6] in disc["cells_dropped"]
    assert all(c["row"] < 6 and c["col"] < 6 for c in disc["top_cells"])
    assert set(disc["ablation"]) >= {"channels", "margin_before", "margin_after",
                                     "random_margin_after_median", "acc_0_8_before", "acc_0_8_after"}
    assert len({c["words"] for c in disc["top_cells"]}) == len(disc["top_cells"])  # no shared sentence
    # The seed-1 and no-augmentation checkpoints hold the same weights: same numbers (but for the
    # random channels of the ablation baseline, drawn with the seed).
    same = lambda d: {k: v for k, v in d.items() if k != "random_margin_after_median"}  # noqa: E731
    assert same(disc["seeds"]["1"]) == same(disc["seeds"]["0"])
    assert saved["shift"]["seeds"]["1"] == saved["shift"]["seeds"]["0"]
    plain = saved["shift"]["no_augmentation"]
    assert plain["accuracy"] == {k: saved["shift_accuracy"][k] for k in ("-3", "0", "3")}
    assert plain["one"]["left3"] == saved["shift"]["left3"]
    # Same command, same numbers.
    p1.main(argv)
    assert json.loads((tmp_path / "p1_results.json").read_text()) == saved
    assert result["examples"] == saved["examples"]


def hand_shift(img: np.ndarray, dx: int) -> np.ndarray:
    """Move a [H, W] image dx columns (right if dx > 0), repeating the edge column: clamp padding."""
    out = np.empty_like(img)
    if dx > 0:
        out[:, dx:] = img[:, :-dx]
        out[:, :dx] = img[:, :1]
    else:
        out[:, :dx] = img[:, -dx:]
        out[:, dx:] = img[:, -1:]
    return out


def test_saved_left3_right3_are_the_one_moved_3_px_left_and_right(p1_checkpoints, tmp_path):
    saved = p1.main(["--data", "mnist5k-t10k", "--checkpoints", str(p1_checkpoints), "--out", str(tmp_path),
                     "--seeds", "0"])
    model, _ = load_cnn("mnist5k-t10k", checkpoint_dir=p1_checkpoints)
    one = load_mnist("test", "mnist5k-t10k").images[saved["examples"]["one"], 0].numpy()
    # A column of ink at x moves to x - 3 (left) and x + 3 (right).
    _, images = p1.classify_shifted_one(model, torch.from_numpy(one)[None, None])
    for key, dx in (("left3", -3), ("right3", 3)):
        expected = hand_shift(one, dx)
        np.testing.assert_array_equal(images[key], expected)
        probs = predict_proba(model, torch.from_numpy(expected)[None, None])[0]
        np.testing.assert_allclose(saved["shift"][key]["probs"], probs.numpy(), atol=1e-6)
    assert saved["shift"]["original"]["probs"] != saved["shift"]["left3"]["probs"]


@pytest.mark.parametrize("flag,value,message", [
    ("--index-one", "100000", "outside the test split"),
    ("--index-one", "0", "not a '1'"),
    ("--index-zero", "-5", "outside the test split"),
])
def test_bad_index_is_a_one_line_error(p1_checkpoints, tmp_path, flag, value, message):
    proc = subprocess.run(
        [sys.executable, "p1_cnn_filters.py", "--data", "mnist5k-t10k", "--checkpoints",
         str(p1_checkpoints), "--out", str(tmp_path), "--seeds", "0", flag, value],
        cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert message in proc.stderr and proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr


def test_bad_flag_value_is_rejected_by_the_parser(capsys):
    with pytest.raises(SystemExit) as exc:
        p1.main(["--data", "imagenet"])
    assert exc.value.code == 2
    assert capsys.readouterr().err.count("\n") == 1
