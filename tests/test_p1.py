"""Problem 1 end to end on a quickly trained CNN: the JSON's claims recomputed independently (the
disjoint halves, the channel choice, the held-out ablation, the shift mechanism), and the input checks."""
import json
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import P1_ARGV

import p1_cnn_filters as p1
from common.core.cli import ROOT
from common.core.sampling import sample_indices
from common.features.shift_study import classify_shifted_one
from common.nets.cnn import capture, predict_proba
from common.nets.data import load_mnist, shift
from common.nets.training import load_cnn


@pytest.fixture(scope="module")
def setting(p1_run, p1_checkpoints):
    """The run's results, its model and the test split."""
    out, results, _ = p1_run
    model, _ = load_cnn("mnist5k-t10k", checkpoint_dir=p1_checkpoints)
    return results, model, load_mnist("test", "mnist5k-t10k")


def test_p1_writes_the_results_it_returns_with_every_field_the_report_needs(p1_run):
    out, result, _ = p1_run
    saved = json.loads((out / "p1_results.json").read_text())
    assert saved == json.loads(json.dumps(result))
    assert saved["data_source"] == "mnist5k-t10k" and saved["conv_layers"] == 3
    assert saved["model"]["pool_sides"] == [28, 14, 7, 3]
    assert [(c["name"], c["in"], c["out"], c["kernel"]) for c in saved["model"]["layers"]] == [
        ("conv1", 1, 16, 3), ("conv2", 16, 32, 3), ("conv3", 32, 64, 3)]
    assert {"label_smoothing", "augment_px"} <= set(saved["model"]["recipe"])
    test = load_mnist("test", "mnist5k-t10k")
    assert saved["test_per_class"] == [int((test.labels == k).sum()) for k in range(10)]
    assert sum(saved["sample_per_class"]) == saved["sample_size"] == 400
    for entry in (saved["shift"][k] for k in ("original", "left3", "right3")):
        assert len(entry["probs"]) == 10 and abs(sum(entry["probs"]) - 1) < 1e-5
        assert entry["pred"] == max(range(10), key=entry["probs"].__getitem__)
    assert sorted(int(k) for k in saved["shift_accuracy"]) == list(range(-6, 7))
    assert {p.name for p in out.glob("p1_*.png")} == {
        "p1_filters_conv1.png", "p1_filters_conv2.png", "p1_filters_conv3.png", "p1_filters_conv2_all.png",
        "p1_filters_conv3_all.png", "p1_filters_conv2_summary.png", "p1_filters_conv3_summary.png",
        "p1_top_patches.png", "p1_feature_maps.png", "p1_features.png",
        "p1_discriminant_channels.png", "p1_shift.png", "p1_shift_accuracy.png"}
    from PIL import Image
    wide = {p.name: Image.open(p).size[0] for p in out.glob("p1_*.png") if Image.open(p).size[0] > 1600}
    assert wide == {}  # dpi 150, tight bounding box: at most 1,600 px
    assert set(saved["filters"]["null"]["stats"]) == {"conv1", "conv2", "conv3"}


def test_the_seeds_that_share_weights_share_every_number_the_seed_does_not_draw(p1_run):
    # Seed 1's checkpoint holds seed 0's weights: the same shift check; its discriminant halves
    # and random channels are drawn with its own seed.
    results = p1_run[1]
    assert results["shift"]["seeds"]["1"] == results["shift"]["seeds"]["0"]
    seeds = results["discriminant"]["seeds"]
    assert seeds["1"]["test_accuracy"] == seeds["0"]["test_accuracy"]
    assert results["shift"]["no_augmentation"]["accuracy"] == {
        k: results["shift_accuracy"][k] for k in ("-3", "0", "3")}


def test_the_halves_are_disjoint_and_hold_every_correct_0_and_8(setting):
    results, model, test = setting
    abl = results["discriminant"]["ablation"]
    sel, ev = set(abl["selected_on"]), set(abl["evaluated_on"])
    pred = model(test.images).argmax(1)
    correct = {i for i in range(len(test.labels)) if int(test.labels[i]) in (0, 8) and pred[i] == test.labels[i]}
    assert not sel & ev and sel | ev == correct
    assert (len(sel), len(ev)) == (abl["n_selected"], abl["n_evaluated"])
    for k in (0, 8):  # stratified: each digit split in halves
        n_sel = sum(int(test.labels[i]) == k for i in sel)
        n_ev = sum(int(test.labels[i]) == k for i in ev)
        assert n_ev - n_sel in (0, 1)


def naive_d(a: np.ndarray, b: np.ndarray) -> float:
    pooled = np.sqrt(((len(a) - 1) * a.var(ddof=1) + (len(b) - 1) * b.var(ddof=1)) / (len(a) + len(b) - 2))
    return (b.mean() - a.mean()) / pooled


def test_the_channels_are_those_whose_vote_separates_best_on_the_selection_half(setting):
    results, model, test = setting
    sel = results["discriminant"]["ablation"]["selected_on"]
    act = capture(model, test.images[sel], ["act3"])["act3"].numpy().astype(np.float64)
    pooled = act[:, :, :6, :6].reshape(len(sel), 64, 3, 2, 3, 2).max((3, 5))  # 2x2 max-pool, floor mode
    w = model.fc.weight.detach().numpy().reshape(10, 64, 3, 3)
    labels = test.labels[sel].numpy()
    d = []
    for ch in range(64):
        vote = (pooled[:, ch] * (w[8, ch] - w[0, ch])).sum((1, 2))
        d.append(naive_d(vote[labels == 0], vote[labels == 8]))
    chosen = results["discriminant"]["ablation"]["channels"]
    assert set(chosen) == set(np.argsort(d)[::-1][:len(chosen)].tolist())
    for c in results["discriminant"]["top_cells"]:  # each vote's d is the selection half's
        assert c["vote_d"] == pytest.approx(d[c["channel"]], rel=1e-4)


def zeroed_logits(model: torch.nn.Module, images: torch.Tensor, channels: list[int]) -> torch.Tensor:
    """The full forward pass with conv3's `channels` zeroed after its ReLU, by a forward hook."""
    def hook(_module, _inp, out):
        out = out.clone()
        out[:, channels] = 0
        return out
    handle = model.act3.register_forward_hook(hook)
    try:
        with torch.no_grad():
            return model(images)
    finally:
        handle.remove()


def test_the_ablation_is_measured_on_the_evaluation_half(setting):
    results, model, test = setting
    abl = results["discriminant"]["ablation"]
    ev = abl["evaluated_on"]
    labels = test.labels[ev]
    other = torch.where(labels == 0, 8, 0)
    margin = lambda lg: float((lg.gather(1, labels[:, None]) - lg.gather(1, other[:, None])).mean())  # noqa: E731
    assert abl["margin_before"] == pytest.approx(margin(zeroed_logits(model, test.images[ev], [])), abs=1e-4)
    assert abl["margin_after"] == pytest.approx(margin(zeroed_logits(model, test.images[ev], abl["channels"])),
                                                abs=1e-4)
    assert len(abl["random_margins_after"]) >= 20
    assert abl["beats_random"] == (abl["margin_after"] < np.median(abl["random_margins_after"]))


def test_the_top_patches_are_taken_at_the_cell_of_their_channel(setting, p1_run):
    results, model, test = setting
    out = p1_run[0]
    sample = sample_indices(len(test.labels), 400, 0)
    act = capture(model, test.images[sample], ["act3"])["act3"]
    for c in results["discriminant"]["top_cells"]:
        top = torch.argsort(act[:, c["channel"], c["row"], c["col"]], descending=True, stable=True)[:8]
        counts = np.bincount(test.labels[sample][top].numpy(), minlength=10)
        assert c["responds_to"]["labels"] == counts.tolist()
    assert (out / "p1_top_patches.png").stat().st_size > 0


def test_the_shift_mechanism_adds_up_and_matches_a_position_blind_classifier(setting):
    results, model, test = setting
    sample = sample_indices(len(test.labels), 400, 0)
    images, labels = test.images[sample], test.labels[sample]
    blind = torch.nn.Linear(576, 10)
    with torch.no_grad():  # each weight replaced by its channel's mean over the 9 pooled cells
        blind.weight.copy_(model.fc.weight.reshape(10, 64, 9).mean(2, keepdim=True).expand(10, 64, 9).reshape(10, 576))
        blind.bias.copy_(model.fc.bias)
    for dx in ("-3", "3"):
        m = results["shift"]["mechanism"][dx]
        feats = [F.max_pool2d(capture(model, x, ["act3"])["act3"], 2).flatten(1)
                 for x in (images, shift(images, int(dx), 0))]
        centred = lambda z: z.gather(1, labels[:, None])[:, 0] - z.mean(1)  # noqa: E731
        with torch.no_grad():
            total = centred(model.fc(feats[1])) - centred(model.fc(feats[0]))
            strength = centred(blind(feats[1])) - centred(blind(feats[0]))
        assert m["true_logit_change"] == pytest.approx(float(total.mean()), abs=2e-4)
        assert m["from_total_strength"] == pytest.approx(float(strength.mean()), abs=2e-4)
        assert m["from_moved_features"] + m["from_total_strength"] == pytest.approx(m["true_logit_change"])


def test_same_command_same_numbers(p1_run, p1_checkpoints, tmp_path):
    out, results, _ = p1_run
    p1.main([*P1_ARGV, "--checkpoints", str(p1_checkpoints), "--out", str(tmp_path)])
    assert (tmp_path / "p1_results.json").read_text() == (out / "p1_results.json").read_text()


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


def test_saved_left3_right3_are_the_one_moved_3_px_left_and_right(setting):
    saved, model, test = setting
    one = test.images[saved["examples"]["one"], 0].numpy()
    # A column of ink at x moves to x - 3 (left) and x + 3 (right).
    _, images = classify_shifted_one(model, torch.from_numpy(one)[None, None])
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
