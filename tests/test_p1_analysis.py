"""P1(2)'s pieces (common/features/discriminant.py, common/features/cell_patches.py) against hand computations, naive
loops and full forward passes, on tiny random models and real digits."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from helpers import random_cnn

from common.features import cell_patches as cp
from common.features import discriminant as disc
from common.nets.cnn import CNN, capture
from common.nets.data import load_mnist


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


@pytest.fixture(scope="module")
def digits():
    """The first 300 official test digits: real strokes for the activation-based tests."""
    test = load_mnist("test", "mnist5k-t10k")
    return test.images[:300], test.labels[:300]


def test_margin_and_accuracy_match_a_loop():
    logits = torch.randn(6, 10, generator=torch.Generator().manual_seed(1))
    labels = torch.tensor([0, 8, 8, 0, 0, 8])
    margins = [float(logits[i, y] - logits[i, 8 if y == 0 else 0]) for i, y in enumerate(labels.tolist())]
    hits = [int(logits[i].argmax()) == y for i, y in enumerate(labels.tolist())]
    margin, acc = disc.margin_and_accuracy(logits, labels)
    assert margin == pytest.approx(np.mean(margins), abs=1e-6)
    assert acc == pytest.approx(np.mean(hits))


def test_ablation_reports_the_zeroed_margin_and_every_random_draw():
    model = random_cnn(2, bn_affine=True)
    x, labels = torch.rand(8, 1, 28, 28), torch.tensor([0, 8] * 4)
    act3 = capture(model, x, ["act3"])["act3"]
    channels = torch.argsort(act3.mean((0, 2, 3)), descending=True)[:3].tolist()  # each one matters
    result = disc.ablation(model, act3, labels, channels, seed=0)
    other = torch.where(labels == 0, 8, 0)
    margin = lambda lg: float((lg.gather(1, labels[:, None])  # noqa: E731
                               - lg.gather(1, other[:, None])).mean())
    with torch.no_grad():
        assert result["margin_after"] == pytest.approx(margin(hand_forward(model, x, channels)), abs=1e-4)
        assert result["margin_before"] == pytest.approx(margin(hand_forward(model, x, [])), abs=1e-4)
        rng = np.random.default_rng(0)
        draws = [margin(hand_forward(model, x, rng.choice(64, 3, replace=False).tolist())) for _ in range(20)]
    np.testing.assert_allclose(result["random_margins_after"], draws, atol=1e-4)
    assert result["random_margin_after_median"] == pytest.approx(np.median(draws), abs=1e-4)
    assert result["channels"] == channels and result["n_digits"] == 8
    assert result["margin_after"] != pytest.approx(result["margin_before"])


def test_only_rows_and_columns_0_to_5_of_a_7x7_map_reach_the_classifier():
    used = disc.cells_reaching_classifier(7)
    expected = np.array([[r < 6 and c < 6 for c in range(7)] for r in range(7)])
    np.testing.assert_array_equal(used, expected)
    assert disc.cells_reaching_classifier(6).all()


def bumped(out: torch.Tensor, r: int, c: int) -> torch.Tensor:
    """`out` [N, C, H, W] with 100 added at cell (r, c) of every channel."""
    out = out.clone()
    out[:, :, r, c] += 100.0
    return out


def test_conv3_row_6_and_column_6_never_reach_the_logits(digits):
    """A large bump in every channel of conv3's output (after batch norm and ReLU) at one cell, by a
    hook on the full forward pass: the logits stay equal exactly when the cell is in row 6 or column
    6 of the 7x7 map (the 2x2 pool windows cover rows and columns 0-5), and the figures hatch those."""
    model, x = random_cnn(), digits[0][:4]
    with torch.no_grad():
        base = model(x)
    unchanged = set()
    for r in range(7):
        for c in range(7):
            handle = model.act3.register_forward_hook(lambda module, args, out, r=r, c=c: bumped(out, r, c))
            with torch.no_grad():
                if torch.equal(model(x), base):
                    unchanged.add((r, c))
            handle.remove()
    assert unchanged == {(r, c) for r in range(7) for c in range(7) if r == 6 or c == 6}
    assert {(r, c) for r, c in np.argwhere(~disc.cells_reaching_classifier(7))} == unchanged


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


def test_split_halves_are_disjoint_stratified_and_seeded():
    labels = np.array([0] * 7 + [8] * 10)
    sel, ev = disc.split_halves(labels, 3)
    assert not set(sel) & set(ev) and sorted([*sel, *ev]) == list(range(17))
    assert [(labels[sel] == k).sum() for k in (0, 8)] == [3, 5]  # the odd 0 goes to evaluation
    assert [(labels[ev] == k).sum() for k in (0, 8)] == [4, 5]
    assert list(sel) == sorted(sel) and list(ev) == sorted(ev)
    again, _ = disc.split_halves(labels, 3)
    other, _ = disc.split_halves(labels, 4)
    assert list(again) == list(sel) and list(other) != list(sel)


def test_the_votes_of_all_channels_add_up_to_logit_8_minus_logit_0():
    model = random_cnn(4, bn_affine=True)
    x = torch.rand(6, 1, 28, 28)
    act3 = capture(model, x, ["act3"])["act3"]
    votes = disc.channel_votes(model, act3)
    with torch.no_grad():
        logits = model(x)
    bias = model.fc.bias[8] - model.fc.bias[0]
    np.testing.assert_allclose(votes.sum(1) + bias.detach(), logits[:, 8] - logits[:, 0], atol=1e-4)


def test_pooled_separation_is_a_loop_over_the_cells_and_adds_up_to_the_logit_gap():
    model = random_cnn(5, bn_affine=True)
    test = load_mnist("test", "mnist5k-t10k")
    keep = (test.labels == 0) | (test.labels == 8)
    images, labels = test.images[keep][:60], test.labels[keep][:60]
    data = disc.ZeroEight(np.arange(60), images[:, 0].numpy(), labels, capture(model, images, ["act3"])["act3"])
    rows = np.arange(0, 60, 2)
    share = disc.pooled_separation(model, data, rows)
    act = data.act3[rows].numpy().astype(np.float64)
    w = model.fc.weight.detach().numpy().reshape(10, 64, 3, 3)
    y = labels[rows].numpy()
    sep = np.zeros((3, 3))
    for i in range(3):
        for j in range(3):
            cell = act[:, :, 2 * i:2 * i + 2, 2 * j:2 * j + 2].max((2, 3))  # the 2x2 pool of cell (i, j)
            vote = cell @ (w[8, :, i, j] - w[0, :, i, j])
            sep[i, j] = vote[y == 8].mean() - vote[y == 0].mean()
    np.testing.assert_allclose(share, sep / sep.sum(), atol=1e-5)
    with torch.no_grad():
        gap = (model(images[rows])[:, 8] - model(images[rows])[:, 0]).numpy()
    assert sep.sum() == pytest.approx(gap[y == 8].mean() - gap[y == 0].mean(), abs=1e-4)


def test_best_cells_take_the_used_cells_with_the_largest_signed_value():
    d = np.zeros((7, 7))
    d[6, 6], d[2, 3], d[0, 0], d[5, 5] = 9.0, 1.5, -2.5, 3.0  # (6, 6) is dropped by the pool
    used = disc.cells_reaching_classifier(7)
    assert disc.best_cells(d, used, 2, 1) == [(5, 5), (2, 3)]
    assert disc.best_cells(d, used, 1, -1) == [(0, 0)]


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


def stroke(angle: int) -> np.ndarray:
    """A one-pixel line through the centre of an 18x18 image at `angle` degrees (y up)."""
    img = np.zeros((18, 18))
    for t in np.linspace(-8, 8, 200):
        x = 8.5 + t * np.cos(np.deg2rad(angle))
        y = 8.5 - t * np.sin(np.deg2rad(angle))
        img[int(round(y)), int(round(x))] = 1.0
    return img


@pytest.mark.parametrize("angle,name", [(0, "horizontal"), (45, "rising diagonal"), (90, "vertical"),
                                        (135, "falling diagonal")])
def test_stroke_orientation_names_hand_drawn_lines(angle, name):
    found, coherence = cp.stroke_orientation(stroke(angle))
    assert cp.stroke_name(found, coherence) == name
    assert cp.stroke_name(found, 0.0) == "mixed"


@pytest.mark.parametrize("dy,dx,name", [(0, 0, "centre"), (-3, 0, "top"), (0, 4, "right"),
                                        (3, -3, "bottom left"), (1, 1.5, "centre")])
def test_side_name_points_from_the_field_centre(dy, dx, name):
    assert cp.side_name(dy, dx) == name


def test_responds_to_finds_ink_left_of_centre_in_the_top_patches():
    top = np.zeros((4, 18, 18))
    top[:, 2:16, 3:5] = 1.0  # a vertical stroke left of the centre
    every = np.full((18, 18), 0.1)
    t = cp.responds_to(top, every, np.array([8, 8, 8, 3]))
    assert (t["stroke"], t["ink_side"], t["majority"], t["majority_count"]) == ("vertical", "left", 8, 3)
    assert t["polarity"] == "background"  # the stroke misses the field's 8x8 core (columns 5-12)
    top[:, :, 8:10] = 1.0
    assert cp.responds_to(top, every, np.zeros(4, dtype=int))["polarity"] == "ink"


def test_patches_at_cells_take_the_strongest_digits_at_the_cell_and_the_mean_of_every_crop():
    rng = np.random.default_rng(0)
    images, act3 = rng.random((30, 28, 28)), rng.random((30, 4, 7, 7))
    labels = rng.integers(0, 10, 30)
    cells = [{"channel": 2, "row": 1, "col": 4}]
    described, drawn = cp.patches_at_cells(act3, images, labels, cells)
    order = sorted(range(30), key=lambda i: -act3[i, 2, 1, 4])[:cp.TOP_PATCHES]
    assert [i for _, _, i in drawn[2]] == order
    np.testing.assert_array_equal(drawn[2][0][0], disc.receptive_field(images[order[:1]], 1, 4)[0])
    every = np.mean([disc.receptive_field(images[i:i + 1], 1, 4)[0] for i in range(30)], axis=0)
    top = np.mean([p for p, _, _ in drawn[2]], axis=0)
    assert described[2]["core_ink_every"] == pytest.approx(every[5:13, 5:13].mean())
    assert described[2]["core_ink_top"] == pytest.approx(top[5:13, 5:13].mean())
    assert described[2]["labels"] == np.bincount(labels[order], minlength=10).tolist()


def test_polarity_follows_the_sign_of_batch_norms_scale(digits):
    """The polarity is read from activations after batch norm: negating a channel's scale and shift
    makes it fire where the raw convolution is low, and its strongest digits carry less ink at the
    cell than before."""
    images, labels = digits
    model = random_cnn(6, bn_affine=True)
    ch, cell = 5, [{"channel": 5, "row": 3, "col": 3}]
    ink = []
    for flip in (1.0, -1.0):
        with torch.no_grad():
            model.bn3.weight[ch] *= flip
            model.bn3.bias[ch] *= flip
        act = capture(model, images, ["act3"])["act3"].numpy()
        ink.append(cp.patches_at_cells(act, images[:, 0].numpy(), labels.numpy(), cell)[0][ch])
    assert {ink[0]["polarity"], ink[1]["polarity"]} == {"ink", "background"}
    assert (ink[0]["core_ink_top"] - ink[0]["core_ink_every"]) * (ink[1]["core_ink_top"] - ink[1]["core_ink_every"]) < 0
