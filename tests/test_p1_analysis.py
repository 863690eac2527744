"""P1's analysis pieces (common/filters, discriminant, shift_study, sampling) against hand
computations and naive loops, on tiny random models and data."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from helpers import random_cnn

from common import discriminant as disc
from common import filters, shift_study
from common.cnn import CNN, capture, logits_from_act3
from common.data import MNISTData
from common.sampling import sample_indices


def hand_forward(model: CNN, x: torch.Tensor, zeroed: list[int]) -> torch.Tensor:
    """The CNN's logits written out layer by layer, with conv3 channels `zeroed` after BN + ReLU."""
    h = (x - 0.1307) / 0.3081
    for conv, bn in ((model.conv1, model.bn1), (model.conv2, model.bn2), (model.conv3, model.bn3)):
        h = F.conv2d(h, conv.weight, padding=1)
        h = (h - bn.running_mean[:, None, None]) / torch.sqrt(bn.running_var[:, None, None] + bn.eps)
        h = torch.relu(h * bn.weight[:, None, None] + bn.bias[:, None, None])
        if conv is model.conv3:
            keep = torch.ones(h.shape[1])
            keep[zeroed] = 0
            h = h * keep[:, None, None]
        h = F.max_pool2d(h, 2)
    return h.flatten(1) @ model.fc.weight.T + model.fc.bias


def test_logits_from_act3_finish_the_forward_pass():
    model = random_cnn(bn_affine=True)
    x = torch.rand(5, 1, 28, 28)
    with torch.no_grad():
        np.testing.assert_allclose(logits_from_act3(model, capture(model, x, ["act3"])["act3"]),
                                   model(x), atol=1e-5)


def test_ablation_equals_a_hand_zeroed_forward():
    model = random_cnn(bn_affine=True)
    x = torch.rand(5, 1, 28, 28)
    act3 = capture(model, x, ["act3"])["act3"]
    channels = torch.argsort(act3.mean((0, 2, 3)), descending=True)[:4].tolist()  # each one matters
    assert (act3[:, channels].mean((0, 2, 3)) > 0).all()
    with torch.no_grad():
        ablated = logits_from_act3(model, disc.zero_channels(act3, channels))
        np.testing.assert_allclose(ablated, hand_forward(model, x, channels), atol=1e-4)
        assert not torch.allclose(ablated, model(x), atol=1e-3)
    assert act3[:, channels].abs().sum() > 0  # the caller's activations are left as they were


def test_margin_and_accuracy_match_a_loop():
    logits = torch.randn(6, 10, generator=torch.Generator().manual_seed(1))
    labels = torch.tensor([0, 8, 8, 0, 0, 8])
    margins = [float(logits[i, y] - logits[i, 8 if y == 0 else 0]) for i, y in enumerate(labels.tolist())]
    hits = [int(logits[i].argmax()) == y for i, y in enumerate(labels.tolist())]
    margin, acc = disc.margin_and_accuracy(logits, labels)
    assert margin == pytest.approx(np.mean(margins), abs=1e-6)
    assert acc == pytest.approx(np.mean(hits))


def test_ablation_reports_the_zeroed_margin_and_a_median_of_random_draws():
    model = random_cnn(2, bn_affine=True)
    x, labels = torch.rand(8, 1, 28, 28), torch.tensor([0, 8] * 4)
    act3 = capture(model, x, ["act3"])["act3"]
    channels = torch.argsort(act3.mean((0, 2, 3)), descending=True)[:3].tolist()
    result = disc.ablation(model, act3, labels, channels, seed=0)
    with torch.no_grad():
        logits = hand_forward(model, x, channels)
        before = hand_forward(model, x, [])
    other = torch.where(labels == 0, 8, 0)
    margin = lambda lg: float((lg.gather(1, labels[:, None])  # noqa: E731
                               - lg.gather(1, other[:, None])).mean())
    assert result["margin_after"] == pytest.approx(margin(logits), abs=1e-4)
    assert result["margin_before"] == pytest.approx(margin(before), abs=1e-4)
    assert result["channels"] == channels and result["n_digits"] == 8
    assert disc.ablation(model, act3, labels, channels, seed=0) == result  # seeded draws


def test_only_rows_and_columns_0_to_5_of_a_7x7_map_reach_the_classifier():
    used = disc.cells_reaching_classifier(7)
    expected = np.array([[r < 6 and c < 6 for c in range(7)] for r in range(7)])
    np.testing.assert_array_equal(used, expected)
    assert disc.cells_reaching_classifier(6).all()


def test_cohens_d_matches_a_loop_per_cell():
    rng = np.random.default_rng(0)
    zero, eight = rng.normal(size=(9, 2, 3, 3)), rng.normal(1.0, 2.0, size=(7, 2, 3, 3))
    d = disc.cohens_d(torch.from_numpy(zero), torch.from_numpy(eight))
    for idx in np.ndindex(2, 3, 3):
        a, b = zero[(slice(None), *idx)], eight[(slice(None), *idx)]
        pooled = np.sqrt(((len(a) - 1) * a.var(ddof=1) + (len(b) - 1) * b.var(ddof=1))
                         / (len(a) + len(b) - 2))
        assert d[idx] == pytest.approx((b.mean() - a.mean()) / pooled)


def test_cohens_d_matches_a_hand_computation():
    zero = torch.tensor([[1.0, 0.0], [3.0, 0.0]])   # channel 0: mean 2, var 2; channel 1: all 0
    eight = torch.tensor([[5.0, 1.0], [7.0, 1.0]])  # channel 0: mean 6, var 2; channel 1: all 1
    d = disc.cohens_d(zero, eight)
    assert d[0] == pytest.approx((6 - 2) / 2 ** 0.5)
    assert d[1] > 1e6  # no spread at all: the difference dominates


def test_top_cells_skip_dropped_cells_and_take_both_signs():
    d = np.zeros((4, 7, 7))
    d[0, 6, 6] = 9.0   # dropped cell: must be ignored
    d[0, 2, 3] = 1.5
    d[1, 0, 0] = -2.5
    d[2, 5, 5] = 3.0
    d[3, 1, 1] = 0.5
    cells = disc.top_cells(d, disc.cells_reaching_classifier(7), 2)
    assert cells == [(2, 5, 5, 3.0), (1, 0, 0, -2.5)]
    assert disc.top_cells(d, disc.cells_reaching_classifier(7), 3)[2] == (0, 2, 3, 1.5)


def test_receptive_field_crops_rows_4r_minus_7_to_4r_plus_10_with_zeros_outside():
    img = np.arange(28 * 28, dtype=float).reshape(1, 28, 28) + 1
    patch = disc.receptive_field(img, 0, 5)[0]
    for i in range(18):
        for j in range(18):
            r, c = -7 + i, 20 - 7 + j
            want = img[0, r, c] if 0 <= r < 28 and 0 <= c < 28 else 0.0
            assert patch[i, j] == want


def test_receptive_field_is_where_a_conv3_cell_has_gradient():
    model = random_cnn(3, bn_affine=True)
    r, c = 3, 2
    support = torch.zeros(28, 28, dtype=torch.bool)
    for seed in range(4):
        x = torch.rand(1, 1, 28, 28, generator=torch.Generator().manual_seed(seed), requires_grad=True)
        h = F.max_pool2d(model.act1(model.bn1(model.conv1(model.normalize(x)))), 2)
        h = F.max_pool2d(model.act2(model.bn2(model.conv2(h))), 2)
        model.conv3(h)[0, :, r, c].sum().backward()
        support |= x.grad[0, 0] != 0
    rows, cols = torch.nonzero(support, as_tuple=True)
    assert rows.min() == 4 * r - 7 and rows.max() == 4 * r + 10
    assert cols.min() == 4 * c - 7 and cols.max() == 4 * c + 10


@pytest.mark.parametrize("pattern,kind,angle", [
    ([[-1, -1, -1], [0, 0, 0], [1, 1, 1]], "edge", 0),
    ([[-1, 0, 1], [-1, 0, 1], [-1, 0, 1]], "edge", 90),
    ([[0, 1, 0], [0, 1, 0], [0, 1, 0]], "bar", 90),
    ([[0, 0, 1], [0, 1, 0], [1, 0, 0]], "bar", 45),
    ([[1, 0, 0], [0, 1, 0], [0, 0, 1]], "bar", 135),
    ([[0, 0, 0], [1, 1, 1], [0, 0, 0]], "bar", 0),
])
def test_filter_templates_recognise_hand_drawn_edges_and_bars(pattern, kind, angle):
    w = np.array(pattern, dtype=float)
    w = w - w.mean() if kind == "bar" else w  # a zero-mean bar, so it does not read as brightness
    f = filters.classify_filters(w[None, None])[0]
    assert (f["kind"], f["orientation"], f["sign"]) == (kind, angle, 1)
    assert f["cosine"] == pytest.approx(1.0)


def test_a_uniform_negative_filter_is_a_dark_detector():
    f = filters.classify_filters(-np.ones((1, 1, 3, 3)))[0]
    assert (f["kind"], f["sign"], f["orientation"]) == ("uniform", -1, None)


def test_kernel_summary_counts_inputs_for_half_the_weight():
    w = np.zeros((2, 4, 3, 3))
    w[0, 0] = 2.0    # filter 0: all weight on input 0 -> 1 input holds half
    w[1, :] = 1.0    # filter 1: equal weight on 4 inputs -> 2 hold half
    s = filters.weight_spread(w)
    np.testing.assert_allclose(filters.kernel_norms(w), [[6, 0, 0, 0], [3, 3, 3, 3]])
    assert s["inputs_for_half_weight_median"] == 1  # median of [1, 2] is 1.5; int() floors it
    assert s["strongest_filters"][0] == 0 and s["filter_norm_max"] == pytest.approx(6.0)


def test_tolerance_ranking_sorts_by_the_mean_at_minus_and_plus_3_with_ties():
    per_class = {-3: [0.95, 1.0, 0.85] + [0.5] * 7, 3: [0.98, 0.85, 1.0] + [0.5] * 7}
    ranking = shift_study.tolerance_ranking(per_class)
    assert [r["class"] for r in ranking[:3]] == [0, 1, 2]  # 0.965, then a tie at 0.925 (by class)
    assert [r["rank"] for r in ranking[:3]] == [1, 2, 2]
    assert ranking[3]["rank"] == 4 and ranking[3]["accuracy_pm3"] == pytest.approx(0.5)


def test_padding_check_sees_ink_in_the_border_columns():
    clean = torch.zeros(1, 1, 28, 28)
    clean[..., 5:20, 13:15] = 1.0
    inked = clean.clone()
    inked[..., 10, 27] = 0.4
    population = torch.cat([clean, inked, clean, clean])
    assert shift_study.padding_check(clean, population) == {
        "one_border_max_ink": 0.0, "clamp_equals_zero_padding": True,
        "population_share_with_border_ink": 0.25}
    assert shift_study.padding_check(inked, population)["clamp_equals_zero_padding"] is False
    moved = shift_study.zero_pad_shift(inked, -3)
    assert moved[0, 0, 10, 24] == pytest.approx(0.4) and moved[0, 0, :, 25:].sum() == 0


def test_ink_facts_are_the_centre_mean_and_the_middle_span():
    zero, eight = torch.zeros(28, 28), torch.zeros(28, 28)
    zero[4:24, 6:8] = zero[4:24, 20:22] = 1.0   # two sides: span 16 px (columns 6..21), hole
    zero[13, 2] = 0.3                           # faint noise: not ink (threshold 0.5)
    eight[12:16, 13:15] = 1.0                  # a 4x2 crossing: half the central 4x4
    data = MNISTData(torch.stack([zero, eight])[:, None], torch.tensor([0, 8]), "test")
    facts = disc.ink_facts(data)
    assert facts["zero"] == {"centre_ink": 0.0, "middle_width_px": 16.0}
    assert facts["eight"] == {"centre_ink": 0.5, "middle_width_px": 2.0}


def test_sample_indices_keep_small_splits_whole_and_subsample_large_ones():
    assert sample_indices(50, 100, 0).tolist() == list(range(50))
    idx = sample_indices(10_000, 1000, 0)
    assert len(idx) == len(set(idx.tolist())) == 1000 and idx.tolist() == sorted(idx.tolist())
    assert torch.equal(idx, sample_indices(10_000, 1000, 0))
