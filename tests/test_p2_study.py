"""P2(3) study helpers: the Wilson interval, PGD and the patch attack, pasting, and the judges' checkpoints.

Expected values come from independent sources: a closed form worked by hand and a brute-force scan
for the interval, torch autograd for one PGD step, plain numpy slicing for the pastes, and the
file's own bytes for the checkpoint that must be left alone.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn as nn

from common.core.cli import UserError, run
from common.nets import mlp
from common.nets.checkpoints import checkpoint_path, save_checkpoint
from common.occlusion.attacks import pgd
from common.occlusion.judges import load_judges
from common.occlusion.rates import clustered_rate, crossed_bootstrap, difference, wilson
from common.occlusion.transplant import (
    Pastes,
    Windows,
    adversarial_mask,
    pasted,
    relabelled_mask,
    sample_windows,
)
from common.occlusion.transplant_study import shown_pastes


# ----------------------------------------------------------------------------- Wilson interval
def naive_wilson(k: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """The p on a fine grid where the normal score test does not reject: |k - np| <= z sqrt(np(1-p))."""
    p = np.linspace(0, 1, 2_000_001)
    keep = np.abs(k - n * p) <= z * np.sqrt(n * p * (1 - p))
    return float(p[keep].min()), float(p[keep].max())


@pytest.mark.parametrize("k,n", [(0, 10), (3, 10), (10, 10), (17, 240), (1200, 4000)])
def test_wilson_matches_a_brute_force_inversion_of_the_score_test(k, n):
    lo, hi = wilson(k, n)
    want_lo, want_hi = naive_wilson(k, n)
    assert lo == pytest.approx(want_lo, abs=2e-6) and hi == pytest.approx(want_hi, abs=2e-6)


def test_wilson_known_case_by_hand():
    # k = 0 of n = 10: the lower end is 0 and the upper end z^2 / (n + z^2) (solve (np)^2 = z^2 np(1-p)).
    z2 = 1.959964 ** 2
    assert wilson(0, 10) == [0.0, pytest.approx(z2 / (10 + z2), abs=1e-6)]
    # k = 5 of n = 10 is symmetric about 1/2: 0.5 ± z sqrt(n/4 + z^2/4) / (n + z^2) (hand-simplified).
    half = math.sqrt(z2) * math.sqrt(10 / 4 + z2 / 4) / (10 + z2)
    assert wilson(5, 10) == [pytest.approx(0.5 - half, abs=1e-6), pytest.approx(0.5 + half, abs=1e-6)]


def naive_crossed_bootstrap(k: np.ndarray, n: np.ndarray, seed: int, reps: int) -> np.ndarray:
    """The same resampling written out: draw S row and W column indices per replicate (in the order
    crossed_bootstrap draws them) and sum the counts over every (row, column) pair drawn."""
    rng = np.random.default_rng(seed)
    s, w = k.shape
    rows, cols = rng.integers(0, s, (reps, s)), rng.integers(0, w, (reps, w))
    out = []
    for rs, cs in zip(rows, cols):
        num = sum(k[i, j] for i in rs for j in cs)
        den = sum(n[i, j] for i in rs for j in cs)
        out.append(num / den)
    return np.array(out)


def test_crossed_bootstrap_equals_resampling_written_out():
    rng = np.random.default_rng(5)
    n = rng.integers(1, 12, (4, 7))
    k = rng.binomial(n, 0.3)
    got = crossed_bootstrap({"a": (k, n)}, seed=11, reps=300)["a"]
    np.testing.assert_allclose(got, naive_crossed_bootstrap(k, n, 11, 300), rtol=1e-12)


def test_bootstrap_over_windows_is_wider_than_wilson_when_windows_differ():
    # 20 windows of 40 pastes each: 3 windows flip every paste, 17 flip none (k = 120 of 800).
    k = np.array([[40] * 3 + [0] * 17])
    n = np.full((1, 20), 40)
    reps = crossed_bootstrap({"a": (k, n)}, seed=0)["a"]
    lo, hi = clustered_rate(k, n, reps)["ci95"]
    wlo, whi = wilson(120, 800)
    assert hi - lo > 3 * (whi - wlo)  # pastes of one window are not independent
    # every window flips 6 of its 40 fixed positions: the windows do not differ, so resampling them
    # changes nothing (the positions are all of them, not a sample)
    k_flat = np.full((1, 20), 6)
    lo2, hi2 = clustered_rate(k_flat, n, crossed_bootstrap({"a": (k_flat, n)}, seed=0)["a"])["ci95"]
    assert lo2 == hi2 == 0.15


def test_no_event_interval_is_wilson_over_the_sampled_cells():
    k, n = np.zeros((2, 10), dtype=int), np.full((2, 10), 5)
    got = clustered_rate(k, n, crossed_bootstrap({"a": (k, n)}, seed=0)["a"])
    z2 = 1.959964 ** 2
    assert got["rate"] == 0 and got["ci95"] == [0.0, pytest.approx(z2 / (20 + z2), abs=1e-6)]


def test_difference_claims_an_order_only_when_its_interval_excludes_zero():
    assert difference(np.array([0.3, 0.4, 0.5]), np.array([0.1, 0.1, 0.2]), 0.25)["verdict"] == "higher"
    assert difference(np.array([0.1, 0.1]), np.array([0.3, 0.4]), -0.25)["verdict"] == "lower"
    assert difference(np.array([0.1, 0.4]), np.array([0.3, 0.2]), 0.0)["verdict"] == "unclear"


# ----------------------------------------------------------------------------- PGD and the patch
class Tiny(nn.Module):
    """A small conv net on 28x28 inputs with 10 outputs, random but fixed weights."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(1, 4, 5, stride=3)
        self.fc = nn.Linear(4 * 8 * 8, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.tanh(self.conv(x)).flatten(1))


@pytest.fixture
def tiny_and_image():
    torch.manual_seed(1)
    return Tiny().eval(), torch.rand(1, 1, 28, 28)


@pytest.mark.parametrize("eps", [0.01, 0.1, 0.3])
def test_pgd_stays_inside_its_eps_ball_and_the_pixel_range(tiny_and_image, eps):
    model, x = tiny_and_image
    budgets = torch.tensor([eps, eps / 2])
    adv = pgd(model, x, 3, budgets, steps=20, alpha=2.5 * budgets / 20)
    change = (adv - x).abs().flatten(1).max(1).values
    assert (change <= budgets + 1e-6).all()
    assert adv.min() >= 0 and adv.max() <= 1
    assert change[0] > 0.5 * eps  # it moved: the bound is active, not trivially met


def test_one_pgd_step_is_a_signed_autograd_step(tiny_and_image):
    model, x = tiny_and_image
    xr = x.clone().requires_grad_(True)
    loss = nn.functional.cross_entropy(model(xr), torch.tensor([3]))
    loss.backward()
    want = (x + 0.05 * xr.grad.sign()).clamp(x - 0.1, x + 0.1).clamp(0, 1)
    got = pgd(model, x, 3, torch.tensor([0.1]), steps=1, alpha=torch.tensor([0.05]))
    assert torch.allclose(got, want, atol=1e-7)


def test_patch_attack_changes_only_its_window(tiny_and_image):
    model, x = tiny_and_image
    mask = torch.zeros(1, 1, 28, 28)
    mask[..., 5:13, 9:17] = 1.0
    adv = pgd(model, x, 3, torch.tensor([1.0]), steps=30, alpha=torch.tensor([0.05]), mask=mask)
    inside = mask.bool().expand_as(adv)
    assert torch.equal(adv[~inside], x.expand_as(adv)[~inside])
    assert (adv[inside] != x.expand_as(adv)[inside]).any()


# ----------------------------------------------------------------------------- pastes
def test_pasted_equals_numpy_slicing():
    torch.manual_seed(2)
    six = torch.rand(1, 28, 28)
    patches = torch.rand(3, 6, 6)
    windows = Windows(6, np.array([10, 11, 12]), np.zeros((3, 2), dtype=np.int64), patches)
    pw = 28 - 6 + 1
    cases = [(0, 0, 0), (1, 5, 17), (2, 22, 22), (0, 13, 4)]
    w = torch.tensor([c[0] for c in cases])
    pos = torch.tensor([c[1] * pw + c[2] for c in cases])
    got = pasted(six, windows, w, pos)
    for i, (wi, r, c) in enumerate(cases):
        want = six[0].numpy().copy()
        want[r:r + 6, c:c + 6] = patches[wi].numpy()
        assert np.array_equal(got[i, 0].numpy(), want)


def test_sample_windows_cuts_the_recorded_window():
    torch.manual_seed(3)
    images = torch.rand(20, 1, 28, 28)
    win = sample_windows(images, np.arange(5, 20), 8, 6, np.random.default_rng(0))
    assert len(set(win.source.tolist())) == 6 and win.source.min() >= 5
    for (r, c), src, patch in zip(win.corner, win.source, win.patches):
        assert torch.equal(patch, images[src, 0, r:r + 8, c:c + 8])


def test_adversarial_needs_the_judges_majority_on_six():
    label = np.array([6, 8, 8, 8, 0])
    judges = np.array([[-1] * 4, [6, 6, 6, 8], [6, 6, 8, 8], [8, 8, 8, 6], [6, 6, 6, 6]])
    p = Pastes(np.zeros(5, int), np.zeros(5, int), label, np.ones(5), judges, 6)
    assert adversarial_mask(p).tolist() == [False, True, False, False, True]
    assert relabelled_mask(p).tolist() == [False, False, False, True, False]


def hand_pastes(label: list[int], prob: list[float], pos: list[int]) -> tuple[Pastes, Windows, torch.Tensor]:
    """Pastes of window i at flat position pos[i] (8x8, 21 positions a row) with the given verdicts."""
    n = len(label)
    torch.manual_seed(4)
    windows = Windows(8, np.arange(100, 100 + n), np.zeros((n, 2), dtype=np.int64), torch.rand(n, 8, 8))
    p = Pastes(np.arange(n), np.array(pos), np.array(label), np.array(prob), np.full((n, 1), 6), 6)
    return p, windows, torch.zeros(1, 28, 28)


def test_shown_pastes_take_each_guides_most_frequent_label_and_its_most_confident_paste():
    # black-map at positions 0, 1: labels 3, 3, 8 (and one still '6'); white-map at 44: 8, 0, 8
    label = [3, 3, 8, 6, 8, 0, 8, 5]
    prob = [0.5, 0.7, 0.9, 0.9, 0.6, 0.95, 0.8, 0.99]
    pos = [0, 1, 0, 1, 44, 44, 44, 200]
    p, win, six = hand_pastes(label, prob, pos)
    records, images = shown_pastes(p, {"black-map": [0, 1], "white-map": [44]}, six, win)
    assert [(a["guide"], a["cnn_label"], a["cnn_prob"]) for a in records] == [("black-map", 3, 0.7),
                                                                               ("white-map", 8, 0.8)]
    assert [a["position"] for a in records] == [[0, 1], [2, 2]]  # 44 = 2 * 21 + 2
    for a, img, w in zip(records, images, (1, 6)):
        want = np.zeros((28, 28), dtype=np.float32)
        r, c = a["position"]
        want[r:r + 8, c:c + 8] = win.patches[w].numpy()
        np.testing.assert_allclose(img, want, atol=1e-6)
        np.testing.assert_allclose(np.array(a["image"]), want, atol=1e-6)


def test_a_shown_paste_lies_at_the_guides_position_nearest_its_mean_position():
    # positions 0, 2, 4 of the top row: mean column 2; the paste there is the least confident '8'
    p, win, six = hand_pastes([8, 8, 8], [0.9, 0.6, 0.95], [0, 2, 4])
    records, _ = shown_pastes(p, {"white-map": [0, 2, 4]}, six, win)
    assert [(a["position"], a["cnn_prob"]) for a in records] == [([0, 2], 0.6)]


def test_shown_pastes_fall_back_to_the_most_confident_change_when_no_guide_changes_the_label():
    p, win, six = hand_pastes([6, 6, 4, 7], [0.9, 0.9, 0.6, 0.7], [0, 44, 100, 200])
    records, _ = shown_pastes(p, {"black-map": [0], "white-map": [44]}, six, win)
    assert [(a["guide"], a["cnn_label"]) for a in records] == [("random", 7)]


# ----------------------------------------------------------------------------- the MLP judge's checkpoint
@pytest.mark.parametrize("damage", ["truncate", "garbage", "wrong_shapes", "other_seed"])
def test_bad_mlp_checkpoint_is_a_one_line_error_and_is_kept(tmp_path, damage, capsys):
    path = mlp.mlp_path("mnist5k-t10k", tmp_path, 0)
    meta = {"source": "mnist5k-t10k", "seed": 1 if damage == "other_seed" else 0}
    save_checkpoint(mlp.MLP(hidden=8) if damage == "wrong_shapes" else mlp.MLP(), meta, path)
    if damage in ("truncate", "garbage"):
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2] if damage == "truncate" else b"not a checkpoint")
    before = path.read_bytes()
    with pytest.raises(UserError, match="--retrain mlp-seed0`") as err:
        mlp.load_mlp("mnist5k-t10k", 0, False, tmp_path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)
    assert path.read_bytes() == before
    status = run(lambda: mlp.load_mlp("mnist5k-t10k", 0, False, tmp_path))
    err_text = capsys.readouterr().err
    assert status == 2 and err_text.count("\n") == 1 and "Traceback" not in err_text


def test_a_corrupt_cnn_judge_checkpoint_is_a_one_line_error_and_is_kept(tmp_path):
    path = checkpoint_path("mnist5k-t10k", tmp_path, seed=1)  # the first CNN judge of seed 0
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(UserError, match="--retrain seed1`") as err:
        load_judges("mnist5k-t10k", 0, tmp_path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)
    assert path.read_bytes() == b"not a checkpoint"
