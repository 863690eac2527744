"""P1(1)'s filter statistics (common/features/filters.py) against hand-drawn patterns, naive loops over
kernels, and untrained networks drawn here."""
import numpy as np
import pytest
import torch

from common.features import filters
from common.nets.cnn import CNN
from common.nets.data import MNISTData, load_mnist
from common.nets.training import train_cnn


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


def test_a_negative_batch_norm_scale_flips_a_filters_polarity():
    bar = np.array([[0, 1, 0], [0, 1, 0], [0, 1, 0]], dtype=float)
    w = np.stack([bar - bar.mean(), -np.ones((3, 3))])[:, None]
    plain = filters.classify_filters(w)
    flipped = filters.classify_filters(w, np.array([-0.9, 1.2]))
    assert [f["sign"] for f in plain] == [1, -1] and [f["sign"] for f in flipped] == [-1, -1]
    assert (flipped[1]["kind"], flipped[1]["orientation"]) == ("uniform", None)


def test_weight_spread_counts_inputs_for_half_the_weight():
    w = np.zeros((2, 4, 3, 3))
    w[0, 0] = 2.0    # filter 0: all weight on input 0 -> 1 input holds half
    w[1, :] = 1.0    # filter 1: equal weight on 4 inputs -> 2 hold half
    s = filters.weight_spread(w)
    np.testing.assert_allclose(filters.kernel_norms(w), [[6, 0, 0, 0], [3, 3, 3, 3]])
    assert s["inputs_for_half_weight_median"] == 1.5 and (s["inputs"], s["kernels"]) == (4, 8)
    assert s["strongest_filters"][0] == 0 and s["filter_norm_max"] == pytest.approx(6.0)
    # the 3 shown inputs hold all of filter 0's weight and 3 of filter 1's 4 equal parts
    assert (s["shown_inputs"], s["shown_inputs_share_median"]) == (3, pytest.approx((1.0 + 0.75) / 2))
    # filter 0 holds all in 1 input, filter 1 a quarter per input: the median of two is their mean
    np.testing.assert_allclose(filters.input_share_curve(w), [0.625, 0.75, 0.875, 1.0])


def naive_statistics(w: np.ndarray, start: np.ndarray) -> dict[str, float]:
    """layer_statistics written as loops over kernels and filters."""
    temps = filters.templates(3)
    best, share, kinds = [], [], []
    for kernel in w.reshape(-1, 3, 3):
        cos = {key: float((kernel * t).sum() / np.linalg.norm(kernel)) for key, t in temps.items()}
        key = max(cos, key=lambda k: abs(cos[k]))
        best.append(abs(cos[key]))
        kinds.append(key[0])
        share.append(cos[("uniform", -1)] ** 2)
    moved = [float(a.ravel() @ b.ravel() / np.linalg.norm(a) / np.linalg.norm(b)) for a, b in zip(w, start)]
    out = {"edge_or_bar_share": np.mean([k in ("edge", "bar") for k in kinds]),
           "best_cosine_median": np.median(best), "uniform_share_median": np.median(share),
           "cosine_with_initial_median": np.median(moved)}
    if w.shape[1] > 1:
        sq = (w ** 2).sum((2, 3))
        half = [next(k + 1 for k in range(len(row)) if np.sort(row)[::-1][:k + 1].sum() >= row.sum() / 2)
                for row in sq]
        out["inputs_for_half_weight_median"] = np.median(half)
        out["top10pct_kernel_share"] = np.sort(sq.ravel())[::-1][:sq.size // 10].sum() / sq.sum()
    return out


def untrained(seed: int) -> dict[str, np.ndarray]:
    torch.manual_seed(seed)
    model = CNN()
    return {n: model.get_submodule(n).weight.detach().numpy().astype(np.float64) for n in ("conv1", "conv2")}


def test_the_untrained_null_is_each_statistic_over_networks_drawn_here():
    null = filters.untrained_null(CNN, ("conv1", "conv2"), networks=3)
    nets = [untrained(s) for s in range(4)]
    for name in ("conv1", "conv2"):
        rows = [naive_statistics(nets[s][name], nets[s + 1][name]) for s in range(3)]
        for k, v in null["stats"][name].items():
            values = [r[k] for r in rows]
            assert v["median"] == pytest.approx(np.median(values), abs=1e-6), (name, k)
            assert (v["min"], v["max"]) == (pytest.approx(min(values), abs=1e-6), pytest.approx(max(values), abs=1e-6))
    assert null["init_seeds"] == [0, 1, 2]


def test_initial_weights_are_where_training_starts():
    """A training with a learning rate of 0 leaves the conv weights where train_cnn started them."""
    train = load_mnist("train", "mnist5k-t10k")
    small = MNISTData(train.images[:512], train.labels[:512], train.source)
    model, _ = train_cnn(small, small, seed=3, epochs=1, max_lr=0.0, progress=False)
    start = filters.initial_weights(CNN, 3, ("conv1", "conv3"))
    for name, w in start.items():
        np.testing.assert_array_equal(model.get_submodule(name).weight.detach().numpy(), w)


def test_against_null_needs_every_seed_beyond_the_whole_range():
    null = {"stats": {"convX": {"a": {"min": 0.2, "max": 0.4}, "b": {"min": 0.2, "max": 0.4},
                                "c": {"min": 0.2, "max": 0.4}}}}
    trained = {"convX": {"a": {"0": 0.5, "1": 0.6}, "b": {"0": 0.1, "1": 0.15}, "c": {"0": 0.5, "1": 0.3}}}
    assert filters.against_null(trained, null) == {"convX": {"a": "above", "b": "below", "c": "within"}}
