"""Problem 1 (2)'s figure of the features that tell this '0' from this '8': each chosen cell's core on
the digits, named by the stroke there, beside the channel's own conv3 map; p1_cnn_filters.py saves it."""
from __future__ import annotations

import numpy as np

from common.features.strokes import BACKGROUND, OWN
from common.plots.backend import plt
from common.plots.p1 import digit_axes, dropped_lines, hatch_cells


def words(items: list[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    return " and ".join(items) if len(items) < 3 else ", ".join(items[:-1]) + " and " + items[-1]


def core_boxes(ax: plt.Axes, cells: list[dict], digit: str) -> None:
    """Each cell's core [top, left, bottom, right] on a digit, one colour per cell, named in the
    legend by the stroke under it in that digit ('empty here' over its background)."""
    for i, c in enumerate(cells):
        top, left, bottom, right = c["core"]
        stroke = "empty here" if c[f"stroke_{digit}"] == BACKGROUND else c[f"stroke_{digit}"]
        ax.add_patch(plt.Rectangle((left - 0.5, top - 0.5), right - left + 1, bottom - top + 1, fill=False,
                                   ec=plt.get_cmap("tab10")(i), lw=2.0,
                                   label=f"channel {c['channel']} (fires for {c['fires_for']}s); here: {stroke}"))
    if cells:
        ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.08), frameon=False)


def features_title(cells: list[dict], named_from: dict[str, str]) -> str:
    """The title: the features the cells name, and which digit's strokes its class map names."""
    features = list(dict.fromkeys(f"the {c['feature']}" for c in cells))
    lead = ("What tells this '0' from this '8' in conv3: cells over " + words(features) if features else
            "None of the conv3 cells that tell 0s from 8s best sits over a stroke of this '0' or this '8'")
    average = [f"the average {d}" for d, name in ((0, "zero"), (8, "eight")) if named_from[name] != OWN]
    source = (f" ({words(average)} names the strokes: the digit lacks its holes)" if average else "")
    return f"{lead}{source}\nLeft: the centre of what each cell sees. Right: each channel's map, its cell boxed"


def channel_map_axes(ax: plt.Axes, m: np.ndarray, cell: dict, vmax: float, colour,
                     dropped: list[list[int]]) -> plt.cm.ScalarMappable:
    """One channel's 7x7 conv3 map [7, 7] on 0..vmax with its cell boxed in the cell's colour and
    the cells [row, col] the last max-pool drops hatched."""
    im = ax.imshow(m, cmap="magma", vmin=0, vmax=vmax)
    ax.add_patch(plt.Rectangle((cell["col"] - 0.5, cell["row"] - 0.5), 1, 1, fill=False, ec=colour, lw=2.5))
    hatch_cells(ax, dropped)
    ax.set(xticks=range(0, m.shape[1], 2), yticks=range(0, m.shape[0], 2))
    ax.tick_params(labelsize=8)
    return im


def plot_features(digits: tuple[np.ndarray, np.ndarray], maps: np.ndarray, cells: list[dict],
                  named_from: dict[str, str], predicted: dict[str, dict], dropped: list[list[int]]) -> plt.Figure:
    """This '0' and '8' [28, 28] with the cores of the cells the answer names on this pair, each named
    by its stroke, beside each such channel's conv3 map for both digits [2, C, 7, 7] (one scale per
    channel), the map cells [row, col] the last max-pool drops hatched; predicted: {"zero": {"pred",
    "prob"}, "eight": ...}, in each digit's title."""
    n = max(1, len(shown := [c for c in cells if c["feature"]]))
    fig = plt.figure(figsize=(3.2 + 2.2 * n, 7.6))
    grid = fig.add_gridspec(2, 1 + n, width_ratios=[1.45] + [1] * n, wspace=0.35, hspace=0.75)
    for row, (img, name, digit) in enumerate(zip(digits, ("zero", "eight"), (0, 8))):
        said = f"predicted '{predicted[name]['pred']}' (p = {predicted[name]['prob']:.2f})"
        digit_axes(ax := fig.add_subplot(grid[row, 0]), img, f"this '{digit}', {said}\neach box: the centre of what a cell sees")
        core_boxes(ax, shown, name)
    for i, c in enumerate(shown):
        vmax = max(float(maps[:, c["channel"]].max()), 1e-6)
        for row, digit in enumerate((0, 8)):
            ax = fig.add_subplot(grid[row, 1 + i])
            im = channel_map_axes(ax, maps[row, c["channel"]], c, vmax, plt.get_cmap("tab10")(i), dropped)
            ax.set_title(f"channel {c['channel']}, this '{digit}'\nfires for {c['fires_for']}s, "
                         f"cell ({c['row']}, {c['col']})", fontsize=8)
        fig.colorbar(im, ax=ax, location="bottom", shrink=0.9, pad=0.12, label="activation (both digits)")
    fig.suptitle(features_title(shown, named_from), fontsize=10, y=1.0)
    fig.text(0.5, 0.0, f"Hatched, {dropped_lines(dropped, maps.shape[-1])}: dropped by the pooling, never seen by "
             "the classifier", ha="center", fontsize=9)
    return fig
