"""What the figures show, checked against its source: the images and maps each figure draws (read
back from its AxesImages) and the labels its titles print, recomputed with numpy slicing, the JSON's
arrays or the tiny CNN run again; and the counts behind P2 (1)'s words on maps where the label does
change, and P1 (3)'s clamp padding on a '1' with ink at the border.

Figures come from the plotting functions the scripts call, with the arrays the scripts pass.
"""
from __future__ import annotations

import re

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from common.nets.checkpoints import checkpoint_path, load_checkpoint  # noqa: E402
from common.nets.data import load_mnist, shift  # noqa: E402
from common.occlusion.engine import Window  # noqa: E402
from common.occlusion.findings import equal_cells, maps_findings  # noqa: E402
from common.plots.p1 import plot_shift_examples  # noqa: E402
from common.plots.p1_features import plot_features  # noqa: E402
from common.plots.p2 import (
    REGION_NAMES,  # noqa: E402
    plot_maps,  # noqa: E402
)
from common.plots.p2_study import plot_adversarial, plot_transplant_study  # noqa: E402

SIX = 6


def drawn(fig: plt.Figure) -> list[np.ndarray]:
    """The arrays of every AxesImage of `fig`, axes in order."""
    return [np.asarray(im.get_array()) for ax in fig.axes for im in ax.get_images()]


def quoted_label(title: str) -> int:
    """The digit a title prints in quotes: "CNN: '3' (p = 0.91)" -> 3."""
    return int(re.search(r"'(\d)'", title).group(1))


def argmax(model: torch.nn.Module, image: np.ndarray) -> int:
    with torch.no_grad():
        return int(model(torch.tensor(image, dtype=torch.float32)[None, None]).argmax())


# ----------------------------------------------------------------------------- P2 (1)'s counts
def hand_made_maps() -> dict:
    """A 5 x 5 occlusion result where the label leaves '6' at three cells (two '5', one '0'); map 2
    holds the winning probability, which equals map 1 only where '6' wins."""
    rng = np.random.default_rng(0)
    p_true = rng.uniform(0.5, 1.0, (5, 5))
    label = np.full((5, 5), SIX)
    label[0, 1], label[3, 3], label[4, 0] = 5, 5, 0
    p_max = np.where(label == SIX, p_true, p_true + 0.1)
    p_true = np.where(label == SIX, p_true, p_true - 0.4)
    return {"true_class": SIX, "fill": 0.0, "prob_true_map": p_true.tolist(), "max_prob_map": p_max.tolist(),
            "label_map": label.tolist(), "maps_equal_cells": int(sum(a == b for a, b in zip(p_max.ravel(), p_true.ravel())))}


def test_maps_findings_count_only_the_cells_where_the_label_stays():
    r = hand_made_maps()
    f = maps_findings(r)
    label = np.array(r["label_map"])
    assert f["true_label_cells"] == 22
    assert [list(x) for x in f["label_cells"]] == [[6, 22], [5, 2], [0, 1]]
    assert f["maps_equal"]["everywhere"] is False
    assert f["maps_equal"]["exactly_where_true_label_wins"] is True
    changed = np.array(r["max_prob_map"])[label != SIX]
    assert f["maps_equal"]["max_prob_where_label_changes"] == {"min": changed.min(), "max": changed.max()}


def test_maps_findings_notice_a_cell_where_map_2_equals_map_1_but_the_label_changed():
    r = hand_made_maps()
    r["maps_equal_cells"] += 1  # one more equal cell than cells of '6': equality no longer tracks the label
    assert maps_findings(r)["maps_equal"]["exactly_where_true_label_wins"] is False


# ----------------------------------------------------------------------------- P1 (3)'s clamp padding
def test_shift_fills_with_the_border_pixels_as_edge_padding_does():
    one = np.zeros((28, 28), dtype=np.float32)
    one[2:26, 0:2] = 1.0  # a '1' drawn against the left border
    one[2:26, 26:28] = 0.5  # and a stroke against the right border
    padded = np.pad(one, ((0, 0), (3, 3)), mode="edge")
    for dx in (-3, 3):
        expected = padded[:, 3 - dx:31 - dx]
        got = shift(torch.tensor(one)[None, None], dx)[0, 0].numpy()
        np.testing.assert_array_equal(got, expected)


# ----------------------------------------------------------------------------- figures
def test_p1_shift_figure_draws_the_clamped_ones_and_the_models_labels(p1_run, tiny_checkpoints):
    from types import SimpleNamespace

    from tests.test_solution_facts import SOURCE, predictions, shifted_ones

    _, results, _ = p1_run
    model = load_checkpoint(checkpoint_path(SOURCE, tiny_checkpoints))[0].eval()
    test = load_mnist("test", SOURCE)
    images = shifted_ones(SimpleNamespace(test=test, test_pred=predictions(model, test.images)))
    shifts = results["shift"]
    titles = [f"{name}: predicted {shifts[key]['pred']} (p = {max(shifts[key]['probs']):.3f})"
              for key, name in (("original", "original"), ("left3", "3 px left"), ("right3", "3 px right"))]
    fig = plot_shift_examples(list(images.values()), titles)
    for shown, (key, image), ax in zip(drawn(fig), images.items(), fig.axes):
        np.testing.assert_array_equal(shown, image)
        assert int(re.search(r"predicted (\d)", ax.get_title()).group(1)) == argmax(model, image), key
    plt.close(fig)


def test_p1_features_figure_boxes_the_core_of_each_cell_that_names_a_feature(p1_run, tiny_checkpoints):
    """Each digit panel draws the shown digit and one box per cell with a feature: rows and columns
    4r-2 .. 4r+5 of its cell (r, c), clipped to the image, legend-named by the stroke there; beside
    them each such channel's own map for each digit (numpy slices of the maps passed in), on one
    colour scale per channel from 0 to its largest value over both digits, its cell (r, c) boxed;
    the title names every feature; each digit's title its class and probability from the model's own
    softmax; cells over background in both digits are not drawn."""
    _, results, _ = p1_run
    d, test = results["discriminant"], load_mnist("test", "mnist5k-t10k")
    model = load_checkpoint(checkpoint_path("mnist5k-t10k", tiny_checkpoints))[0].eval()
    digits = tuple(test.images[results["examples"][k], 0].numpy() for k in ("zero", "eight"))
    maps = np.random.default_rng(0).random((2, 64, 7, 7))
    fig = plot_features(digits, maps, d["top_cells"], d["strokes"]["named_from"], d["pair_predicted"],
                        d["cells_dropped"])
    featured = [c for c in d["top_cells"] if c["feature"] is not None]
    assert featured, "the tiny CNN's cells name no feature: nothing to check"
    for ax, img, name in zip(fig.axes[:2], digits, ("zero", "eight")):
        np.testing.assert_array_equal(ax.get_images()[0].get_array(), img)
        with torch.no_grad():
            p = torch.softmax(model(torch.tensor(img, dtype=torch.float32)[None, None]), 1)[0]
        assert f"predicted '{int(p.argmax())}' (p = {float(p.max()):.2f})" in ax.get_title(), name
        boxes = [tuple(round(v) for v in (p.get_y() + 0.5, p.get_x() + 0.5, p.get_y() + p.get_height() - 0.5,
                                          p.get_x() + p.get_width() - 0.5))
                 for p in ax.patches]
        expected = [(max(0, 4 * c["row"] - 2), max(0, 4 * c["col"] - 2), min(27, 4 * c["row"] + 5),
                     min(27, 4 * c["col"] + 5)) for c in featured]
        assert boxes == expected
        labels = [t.get_text() for t in ax.get_legend().get_texts()]
        assert [t.split(": ")[-1] for t in labels] == [
            "empty here" if c[f"stroke_{name}"] == "background" else c[f"stroke_{name}"] for c in featured]
    panels = [ax for ax in fig.axes[2:] if ax.get_images() and ax.patches]
    assert len(panels) == 2 * len(featured)
    for i, c in enumerate(featured):
        ch = c["channel"]
        top = max(maps[0, ch].max(), maps[1, ch].max())
        for k, ax in enumerate(panels[2 * i:2 * i + 2]):
            im = ax.get_images()[0]
            np.testing.assert_array_equal(im.get_array(), maps[k, ch])
            assert im.get_clim() == (0, top)
            box = ax.patches[0]
            assert (box.get_x() + 0.5, box.get_y() + 0.5, box.get_width()) == (c["col"], c["row"], 1)
            hatched = {(round(p.get_y() + 0.5), round(p.get_x() + 0.5)) for p in ax.patches[1:] if p.get_hatch()}
            assert hatched == {(r, col) for r in range(7) for col in range(7) if 6 in (r, col)}  # the pool's leftovers
            assert f"channel {ch}" in ax.get_title()
    title = fig._suptitle.get_text()
    assert all(f"the {c['feature']}" in title for c in featured)
    plt.close(fig)


def test_p2_maps_figure_draws_the_three_maps_of_the_json(p2_run):
    r = p2_run["saved"]
    maps = {k: np.array(r[f"{k}_map"]) for k in ("prob_true", "max_prob", "label")}
    image = p2_run["test"].images[r["index"], 0].numpy()
    fig = plot_maps(image, maps, Window(r["patch"], r["stride"], r["fill"]), r["index"], 0.5)
    shown = drawn(fig)
    np.testing.assert_array_equal(shown[0], image)
    for arr, key in zip(shown[1:], ("prob_true_map", "max_prob_map", "label_map")):
        np.testing.assert_array_equal(arr, np.array(r[key]))
    plt.close(fig)


def ink_quarter(six: np.ndarray, paste: dict) -> str:
    """Where a paste's centre lies in the box around the '6''s ink (pixels >= 0.2), by numpy slicing."""
    rows, cols = np.nonzero(six >= 0.2)
    centre = [v + (paste["size"] - 1) / 2 for v in paste["position"]]
    return (("upper" if centre[0] < (rows.min() + rows.max()) / 2 else "lower") + " "
            + ("left" if centre[1] < (cols.min() + cols.max()) / 2 else "right"))


def test_p2_adversarial_figure_draws_the_pastes_and_the_labels_the_cnn_gives_them(p2_run):
    r, model = p2_run["saved"], p2_run["model"].eval()
    study = r["adversarial_study"]
    shown = study["shown"]
    assert shown, "the quick run made no label-changing paste to draw"
    images = np.array([a["image"] for a in shown], dtype=np.float32).reshape(-1, 28, 28)
    six = p2_run["test"].images[r["index"], 0].numpy()
    sources = [int(p2_run["test"].labels[a["source_index"]]) for a in shown]
    over = next(iter(r["findings"]["strokes"]["hidden"]["strokes"]), None)  # the stroke the words name
    fig = plot_adversarial(six, shown, images, sources, r["findings"]["placement"]["shown_quarters"], over)
    drawn_images, axes = drawn(fig), [ax for ax in fig.axes if ax.get_images()]
    np.testing.assert_array_equal(drawn_images[0], six)
    assert len(axes) == len(shown) + 1
    size = str(study["best_position"]["size"])
    for arr, ax, a in zip(drawn_images[1:], axes[1:], shown):
        np.testing.assert_array_equal(arr, np.array(a["image"], dtype=np.float32))
        row, col = a["position"]
        k = a["size"]
        outside = np.ones((28, 28), bool)
        outside[row:row + k, col:col + k] = False  # position: the window's top-left pixel
        assert np.allclose(arr[outside], six[outside], atol=1e-6), "the paste changed pixels outside its window"
        assert not np.array_equal(arr, six), "the panel shows the clean '6'"
        assert quoted_label(ax.get_title()) == argmax(model, arr)
        named = over is not None and a["guide"] == "black-map"
        where = f"over the {REGION_NAMES[over]} ({ink_quarter(six, a)})" if named else ink_quarter(six, a)
        assert f"pasted {where}," in ax.get_xlabel()
        if a["guide"] != "random":  # at one of the guide's positions, with its most frequent new label
            pw = 28 - k + 1
            assert row * pw + col in study["rates"]["example"][size][a["guide"]]["positions"]
            counts = study["where_guides_point"][size][a["guide"]]["new_labels"]
            assert a["cnn_label"] == int(max(counts, key=lambda lab: (counts[lab], -int(lab))))
    plt.close(fig)


def test_p2_transplant_study_draws_the_white_patch_map_and_marks_its_lowest_cells(p2_run):
    """The first panel is p('6') with a white patch at each top-left cell, recomputed by numpy
    slicing and the tiny CNN; its markers sit at the k lowest cells of that map."""
    r, model = p2_run["saved"], p2_run["model"].eval()
    study = r["adversarial_study"]
    size, k = study["white_patch_map"]["size"], study["design"]["guided_positions"]
    six = p2_run["test"].images[r["index"], 0].numpy()
    side = 28 - size + 1
    batch = np.repeat(six[None], side * side, 0)
    for q in range(side * side):
        batch[q, q // side:q // side + size, q % side:q % side + size] = 1.0
    with torch.no_grad():
        expected = torch.softmax(model(torch.tensor(batch)[:, None]), 1)[:, SIX].numpy().reshape(side, side)
    flips = {str(size): np.zeros((side, side))}
    fig = plot_transplant_study(study, flips, [str(size)])
    white = drawn(fig)[0]
    np.testing.assert_allclose(white, expected, atol=1e-5)
    rows, cols = fig.axes[0].lines[0].get_ydata(), fig.axes[0].lines[0].get_xdata()
    marked = np.sort(expected[rows.astype(int), cols.astype(int)])
    np.testing.assert_allclose(marked, np.sort(expected.ravel())[:k], atol=1e-5)
    assert "top-left corner" in fig._suptitle.get_text()
    plt.close(fig)


@pytest.fixture(autouse=True)
def _no_open_figures():
    yield
    plt.close("all")


def test_the_cells_where_map_2_equals_map_1_are_counted_exactly():
    """P2 (1)'s count on maps where another class wins at some cells, against a plain loop: a looser
    comparison (rounding, a tolerance, counting every cell) gives another number."""
    rng = np.random.default_rng(3)
    p_true = rng.uniform(0.2, 0.9, (21, 21))
    p_max = p_true.copy()
    wins = rng.random((21, 21)) < 0.2  # another class wins here, by a little or by a lot
    p_max[wins] = np.minimum(p_true[wins] + rng.choice([1e-9, 1e-3, 0.3], wins.sum()), 1.0)
    expected = 0
    for r in range(21):
        for c in range(21):
            expected += p_max[r, c] == p_true[r, c]
    assert equal_cells(p_max, p_true) == expected == 441 - wins.sum()
