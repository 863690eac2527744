"""P1(3)'s shift study (common/features/shift_study.py) against full forward passes, loops and hand formulas."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from helpers import random_cnn

from common.core.sampling import all_or_sample, sample_indices
from common.features import shift_study as ss
from common.nets.cnn import capture
from common.nets.data import MNISTData, shift
from common.occlusion.engine import fast_inference_copy


@pytest.mark.parametrize("fast", [False, True])
def test_logits_and_features_are_the_forward_pass_and_conv3s_pooled_map(fast):
    model = random_cnn(1, bn_affine=True)
    x = torch.rand(7, 1, 28, 28)
    logits, feats = ss.logits_and_features(fast_inference_copy(model) if fast else model, x, batch=3)
    with torch.no_grad():
        np.testing.assert_allclose(logits, model(x), atol=1e-4)
    np.testing.assert_allclose(feats, F.max_pool2d(capture(model, x, ["act3"])["act3"], 2).flatten(1), atol=1e-4)


def test_the_mechanism_splits_the_change_with_position_blind_weights():
    """Hand-made pooled features: a feature that moves to another cell changes the logits only
    through the position-specific part of the weights; one that grows in place, through both."""
    torch.manual_seed(0)
    weight = torch.randn(3, 2 * 4)  # 3 classes, 2 channels x 4 pooled cells
    before = torch.zeros(2, 8)
    before[:, 0] = 1.0                        # channel 0 active in cell 0
    after = before.clone()
    after[0, 0], after[0, 1] = 0.0, 1.0       # digit 0: the feature moves to cell 1
    after[1, 0] = 3.0                         # digit 1: the feature triples in place
    labels = torch.tensor([2, 1])
    m = ss.mechanism(weight, 4, before, after, labels)
    w = weight.reshape(3, 2, 4)
    centred = lambda z, k: float(z[k] - z.mean())  # noqa: E731
    moved0 = centred(w[:, 0, 1] - w[:, 0, 0], 2)       # the whole change of digit 0
    grow_total = centred(2 * w[:, 0, 0], 1)
    grow_strength = centred(2 * w[:, 0].mean(1), 1)    # a blind weight sees only the total
    assert m["true_logit_change"] == pytest.approx((moved0 + grow_total) / 2, abs=1e-6)
    assert m["from_total_strength"] == pytest.approx((0.0 + grow_strength) / 2, abs=1e-6)
    assert m["from_moved_features"] == pytest.approx((moved0 + grow_total - grow_strength) / 2, abs=1e-6)
    parts = abs(moved0) + abs(grow_total - grow_strength)
    assert m["moved_share_of_magnitude"] == pytest.approx(parts / (parts + abs(grow_strength)), abs=1e-6)


def test_wilson_interval_solves_its_quadratic():
    z = 1.959964
    for hits, n in ((95, 100), (300, 300), (0, 40), (17, 23)):
        p = hits / n
        # (p - q)^2 = z^2 q (1 - q) / n  <=>  (1 + z^2/n) q^2 - (2p + z^2/n) q + p^2 = 0
        roots = sorted(np.roots([1 + z * z / n, -(2 * p + z * z / n), p * p]).real)
        assert ss.wilson(hits, n) == (pytest.approx(roots[0], abs=1e-9), pytest.approx(roots[1], abs=1e-9))


def test_shift_run_and_per_class_match_a_loop():
    model = random_cnn(2, bn_affine=True)
    images, labels = torch.rand(40, 1, 28, 28), torch.arange(40) % 10
    run = ss.shift_run(model, MNISTData(images, labels, "test"), (-3, 0, 3))
    classes = ss.per_class(run, labels)
    with torch.no_grad():
        for dx in (-3, 3):
            pred = [int(model(shift(images[i:i + 1], dx, 0)).argmax()) for i in range(40)]
            for k in range(10):
                hits = sum(pred[i] == k for i in range(40) if labels[i] == k)
                assert classes[k]["n"] == 4 and classes[k][str(dx)]["accuracy"] == hits / 4
    assert set(run.features) == {-3, 0, 3}


def test_sample_indices_keep_small_splits_whole_and_subsample_large_ones():
    assert sample_indices(50, 100, 0).tolist() == list(range(50))
    idx = sample_indices(10_000, 1000, 0)
    assert len(idx) == len(set(idx.tolist())) == 1000 and idx.tolist() == sorted(idx.tolist())
    assert torch.equal(idx, sample_indices(10_000, 1000, 0))


def test_all_or_sample_draws_from_the_generator_it_is_given():
    items = np.array([3, 8, 15, 21, 40, 57, 60])
    assert all_or_sample(items, 7, np.random.default_rng(0)) is items
    rng = np.random.default_rng(5)
    first, second = all_or_sample(items, 4, rng), all_or_sample(items, 4, rng)
    for drawn in (first, second):
        assert len(set(drawn.tolist())) == 4 and set(drawn.tolist()) <= set(items.tolist())
        assert drawn.tolist() == sorted(drawn.tolist())
    replay = np.random.default_rng(5)
    replay.choice(7, 4, replace=False)  # the first draw, by position
    assert second.tolist() == sorted(items[replay.choice(7, 4, replace=False)].tolist())


def test_padding_check_sees_ink_in_the_border_columns():
    clean = torch.zeros(1, 1, 28, 28)
    clean[..., 5:20, 13:15] = 1.0
    inked = clean.clone()
    inked[..., 10, 27] = 0.4
    population = torch.cat([clean, inked, clean, clean])
    assert ss.padding_check(clean, population) == {
        "one_border_max_ink": 0.0, "clamp_equals_zero_padding": True,
        "population_share_with_border_ink": 0.25}
    assert ss.padding_check(inked, population)["clamp_equals_zero_padding"] is False
    moved = ss.zero_pad_shift(inked, -3)
    assert moved[0, 0, 10, 24] == pytest.approx(0.4) and moved[0, 0, :, 25:].sum() == 0
