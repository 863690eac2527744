"""Problem 1's figures: each helper takes arrays (and the results it labels) and returns a Figure;
p1_cnn_filters.py saves them. Digits are drawn as MNIST stores them: white ink on black."""
from __future__ import annotations

import numpy as np
import torch

from common.features.discriminant import RF
from common.features.filters import SHOWN_INPUTS, kernel_norms
from common.plots.backend import plt

INK = "gray"  # 0 = black background, 1 = white ink


def digit_axes(ax: plt.Axes, img: np.ndarray, title: str) -> None:
    """A 28x28 digit, white ink on black, with pixel ticks every 7."""
    ax.imshow(img, cmap=INK, vmin=0, vmax=1)
    ax.set_xticks(range(0, 28, 7))
    ax.set_yticks(range(0, 28, 7))
    ax.tick_params(labelsize=8)
    ax.set_title(title, fontsize=9)


def pattern_label(f: dict) -> str:
    """A filter's best pattern in the report's words: 'edge 45°', 'bar 0°, ink', 'uniform, dark'."""
    polarity = "ink" if f["sign"] > 0 else "dark"
    if f["kind"] == "edge":
        return f"edge {f['orientation']}°"
    if f["kind"] == "bar":
        return f"bar {f['orientation']}°, {polarity}"
    return f"{f['kind']}, {polarity}"


def kernel_mosaic(weights: np.ndarray) -> np.ndarray:
    """Tile k x k arrays [O, I, k, k] into one image: row o, column i holds (o, i); NaN gaps."""
    o, i, k, _ = weights.shape
    mosaic = np.full((o * (k + 1) - 1, i * (k + 1) - 1), np.nan)
    for r in range(o):
        for c in range(i):
            mosaic[r * (k + 1):r * (k + 1) + k, c * (k + 1):c * (k + 1) + k] = weights[r, c]
    return mosaic


def plot_conv1(weights: np.ndarray, initial: np.ndarray, kinds: list[dict], moved: np.ndarray) -> plt.Figure:
    """conv1's filters [O, 1, k, k] (weights written in) and, below each, its initial weights."""
    n = weights.shape[0]
    half = n // 2
    lim = max(np.abs(weights).max(), np.abs(initial).max())
    fig, axes = plt.subplots(4, half, figsize=(half * 1.3, 9.8), gridspec_kw={"wspace": 0.3, "hspace": 0.8})
    fig.subplots_adjust(left=0.02, right=0.86)
    for k in range(n):
        top, low = axes[2 * (k // half), k % half], axes[2 * (k // half) + 1, k % half]
        im = top.imshow(weights[k, 0], cmap="RdBu_r", vmin=-lim, vmax=lim)
        for (r, c), v in np.ndenumerate(weights[k, 0]):
            top.text(c, r, f"{v:.1f}", ha="center", va="center", fontsize=8)
        top.set_title(f"filter {k}\n{pattern_label(kinds[k])}\nalike: {kinds[k]['cosine']:.2f}", fontsize=8)
        low.imshow(initial[k, 0], cmap="RdBu_r", vmin=-lim, vmax=lim)
        low.set_title(f"its start\nalike: {moved[k]:.2f}", fontsize=8)
        for ax in (top, low):
            ax.set_xticks([])
            ax.set_yticks([])
    fig.colorbar(im, ax=axes, shrink=0.7, fraction=0.04, label="weight (red +, blue −)")
    fig.suptitle("conv1's 16 filters (3x3, one input) after training (rows 1 and 3), each above the same filter "
                 "at the start of training.\nEach number says how alike two shapes are: 1 = the same shape, "
                 "0 = nothing in common.\nAbove a trained filter: the pattern it looks most like, and how "
                 "alike; ink: it responds to white ink, dark: to black.\nAbove its start: how alike the trained "
                 "filter still is to it", fontsize=10)
    return fig


def plot_mosaic(weights: np.ndarray, name: str) -> plt.Figure:
    """All kernels of a multi-channel conv layer: one row per filter, one column per input channel."""
    o, i, k, _ = weights.shape
    lim = np.abs(weights).max()
    cmap = plt.get_cmap("RdBu_r").with_extremes(bad="black")  # separators unlike the white zero
    fig, ax = plt.subplots(figsize=(2 + i * 0.28, min(14.0, 2 + o * 0.2)))
    im = ax.imshow(kernel_mosaic(weights), cmap=cmap, vmin=-lim, vmax=lim, interpolation="nearest")
    step = 4 if i <= 16 else 8
    ax.set_xticks([c * (k + 1) + 1 for c in range(0, i, step)], [str(c) for c in range(0, i, step)])
    ax.set_yticks([r * (k + 1) + 1 for r in range(0, o, 4)], [str(r) for r in range(0, o, 4)])
    ax.set_xlabel("input channel (feature map of the previous layer)")
    ax.set_ylabel("filter (output channel)")
    ax.set_title(f"{name}: all {o}x{i} kernels of size {k}x{k}\n"
                 "(row = filter, column = input channel; red +, blue −, white 0, black separators)")
    fig.colorbar(im, ax=ax, shrink=0.6, label="weight")
    return fig


def norm_heatmap(ax: plt.Axes, norms: np.ndarray, name: str, fig: plt.Figure) -> None:
    """Kernel norms [filters x inputs] with a tick at every channel, labelled every 4th."""
    o, i = norms.shape
    im = ax.imshow(norms, cmap="viridis", aspect="auto", interpolation="nearest")
    for axis, n in ((ax.xaxis, i), (ax.yaxis, o)):
        axis.set_ticks(range(n), minor=True)
        axis.set_ticks(range(0, n, 4))
    ax.tick_params(labelsize=8)
    ax.set_xlabel("input channel")
    ax.set_ylabel("filter (output channel)")
    ax.set_title(f"{name}: L2 norm of each 3x3 kernel\n(bright: the filter uses that input)", fontsize=10)
    fig.colorbar(im, ax=ax, shrink=0.8, label="kernel L2 norm (scale fits this layer)")


def share_axes(ax: plt.Axes, trained: np.ndarray, untrained: np.ndarray, name: str) -> None:
    """Share of a filter's squared weight in its k strongest inputs (the median filter): trained against
    each untrained network."""
    k = np.arange(1, len(trained) + 1)
    for i, curve in enumerate(untrained):
        ax.plot(k, 100 * curve, color="0.7", lw=0.8, label=f"{len(untrained)} networks as initialised" if i == 0 else None)
    ax.plot(k, 100 * trained, "k-o", ms=3, lw=1.8, label="trained")
    ax.axhline(50, color="tab:red", lw=0.8, ls="--", label="half the weight")
    ax.set_xticks(k[::2] if len(k) > 16 else k)
    ax.tick_params(labelsize=8)
    ax.set_xlabel("its k strongest inputs")
    ax.set_ylabel("share of a filter's weight energy (%)")
    ax.set_ylim(0, 101)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title(f"{name}: how much of a filter's weight\nits strongest inputs hold (typical filter)", fontsize=10)


def plot_layer_summary(weights: np.ndarray, name: str, trained_share: np.ndarray,
                       untrained_share: np.ndarray) -> plt.Figure:
    """A multi-input layer [O, I, k, k] in numbers: which inputs each filter uses (kernel norms) and
    how much weight its strongest inputs hold, trained and as initialised (curves [I] and [n, I])."""
    fig = plt.figure(figsize=(10.5, 5))
    outer = fig.add_gridspec(1, 2, width_ratios=[1.0, 0.9], wspace=0.35)
    norm_heatmap(fig.add_subplot(outer[0]), kernel_norms(weights), name, fig)
    share_axes(fig.add_subplot(outer[1]), trained_share, untrained_share, name)
    fig.suptitle(f"{name} in numbers: which of its {weights.shape[1]} inputs each of its {weights.shape[0]} "
                 "filters uses,\nand how concentrated that use is, trained and as initialised", fontsize=10)
    return fig


def strongest_inputs(weights: np.ndarray, n: int = SHOWN_INPUTS) -> tuple[np.ndarray, np.ndarray]:
    """Each filter's n strongest input kernels (largest L2 norm, strongest first): their input
    channels [O, n] and the kernels [O, n, k, k]."""
    inputs = np.argsort(-kernel_norms(weights), axis=1, kind="stable")[:, :n]
    return inputs, np.take_along_axis(weights, inputs[:, :, None, None], axis=1)


def plot_strongest_inputs(weights: np.ndarray, name: str, per_row: int = 6) -> plt.Figure:
    """Each filter of a multi-input layer [O, I, k, k] as its SHOWN_INPUTS strongest input kernels
    side by side (each outlined, a gap between them), per_row filters a row, each labelled with its
    number and those input channels."""
    inputs, kernels = strongest_inputs(weights)
    o, n, k, _ = kernels.shape
    rows = -(-o // per_row)
    lim = np.abs(kernels).max()
    gap = 1.5
    fig, axes = plt.subplots(rows, per_row, figsize=(12.0, 1.0 * rows + 1.0), squeeze=False,
                             gridspec_kw={"wspace": 0.3, "hspace": 0.6})
    cmap = plt.get_cmap("RdBu_r")
    for f, ax in enumerate(axes.flat):
        ax.set_axis_off()
        if f >= o:
            continue
        for j in range(n):
            x0 = j * (k + gap) - 0.5
            im = ax.imshow(kernels[f, j], cmap=cmap, vmin=-lim, vmax=lim, interpolation="nearest",
                           extent=(x0, x0 + k, k - 0.5, -0.5))
            ax.add_patch(plt.Rectangle((x0, -0.5), k, k, fill=False, ec="0.25", lw=0.8))
        ax.set_xlim(-0.7, n * (k + gap) - gap - 0.3)
        ax.set_ylim(k - 0.3, -0.7)
        ax.set_title(f"filter {f}", fontsize=8)
        ax.text((n * (k + gap) - gap) / 2 - 0.5, k + 0.1, "from " + ", ".join(map(str, inputs[f])),
                ha="center", va="top", fontsize=8)
    fig.colorbar(im, ax=axes, shrink=0.6, label="weight (red +, blue −)")
    fig.suptitle(f"{name}: each of its {o} filters shown by its {n} strongest input kernels ({k}x{k}, "
                 f"largest first),\nthe rest of its {weights.shape[1]} inputs weigh less; "
                 "below each: the input channels they read", fontsize=10)
    return fig


def hatch_cells(ax: plt.Axes, cells: list[list[int]], r0: float = 0, c0: float = 0) -> None:
    """Grey hatching over the map cells [row, col] of a tile whose top-left pixel centre is (r0, c0)."""
    for r, c in cells:
        ax.add_patch(plt.Rectangle((c0 + c - 0.5, r0 + r - 0.5), 1, 1, fill=False, hatch="////", ec="0.6", lw=0))


def dropped_lines(cells: list[list[int]], side: int) -> str:
    """The whole rows and columns of a side x side map that `cells` cover: 'row and column 6'."""
    rows = [r for r in range(side) if all([r, c] in cells for c in range(side))]
    cols = [c for c in range(side) if all([r, c] in cells for r in range(side))]
    name = lambda word, ks: f"{word}{'s' if len(ks) > 1 else ''} {', '.join(map(str, ks))}"  # noqa: E731
    return " and ".join(name(w, ks) for w, ks in (("row", rows), ("column", cols)) if ks)


def channel_grid(fig: plt.Figure, spec, maps: np.ndarray, title: str, cmap: str, limits: tuple[float, float],
                 dropped: list[list[int]], label: str) -> None:
    """64 channel maps [C, k, k] as one image (tile i at (i // side, i % side)), numbered, the cells
    the last max-pool drops hatched in each."""
    c, k = maps.shape[0], maps.shape[-1]
    side = int(np.ceil(np.sqrt(c)))
    padded = np.concatenate([maps, np.full((side * side - c, k, k), np.nan)])
    a = fig.add_subplot(spec)
    im = a.imshow(kernel_mosaic(padded.reshape(side, side, k, k)),
                  cmap=plt.get_cmap(cmap).with_extremes(bad="0.6"), vmin=limits[0], vmax=limits[1],
                  interpolation="nearest")
    for i in range(c):
        a.text((i % side) * (k + 1) - 0.35, (i // side) * (k + 1) - 0.3, str(i), fontsize=8,
               va="top", color="white" if cmap == "magma" else "black")
        hatch_cells(a, dropped, (i // side) * (k + 1), (i % side) * (k + 1))
    a.set_xticks([])
    a.set_yticks([])
    a.set_title(title, fontsize=10)
    fig.colorbar(im, ax=a, location="bottom", shrink=0.8, pad=0.03, aspect=35).set_label(label)


def share_map_axes(fig: plt.Figure, ax: plt.Axes, share: np.ndarray) -> None:
    """Each pooled cell's share of the 0-vs-8 separation [S, S], written in as percentages."""
    im = ax.imshow(100 * share, cmap="viridis", vmin=min(0.0, 100 * share.min()), vmax=100 * share.max())
    for (r, c), v in np.ndenumerate(share):
        ax.text(c, r, f"{round(100 * v) + 0:d}%", ha="center", va="center", fontsize=9,
                color="black" if v > 0.6 * share.max() else "white")
    ax.set_xticks(range(len(share)), ["left", "centre", "right"], fontsize=8)
    ax.set_yticks(range(len(share)), ["upper", "middle", "lower"], fontsize=8)
    ax.set_title("how much each region counts\nwhen the classifier tells\n8s from 0s", fontsize=9)
    fig.colorbar(im, ax=ax, location="bottom", pad=0.2, shrink=0.7, aspect=30, label="share (%)")


def plot_feature_maps(digits: tuple[np.ndarray, np.ndarray], maps: np.ndarray, share: np.ndarray,
                      dropped: list[list[int]]) -> plt.Figure:
    """This '0' and '8' [28, 28] with their conv3 maps [2, C, 7, 7] (shared scale) and difference,
    where the pooled map separates all correct test 8s from 0s (share [S, S]), and the map cells
    [row, col] the last max-pool drops hatched."""
    fm0, fm8 = maps
    vmax, dlim = max(fm0.max(), fm8.max()), np.abs(fm8 - fm0).max()
    fig = plt.figure(figsize=(10.4, 11.6))
    outer = fig.add_gridspec(2, 2, wspace=0.1, hspace=0.2)
    left = outer[0, 0].subgridspec(2, 2, hspace=0.45, wspace=0.4)
    for r, (img, title) in enumerate(zip(digits, ("input '0'", "input '8'"))):
        digit_axes(fig.add_subplot(left[0, r]), img, title)
    share_map_axes(fig, fig.add_subplot(left[1, :]), share)
    channel_grid(fig, outer[0, 1], fm0, "conv3 activation, this '0'", "magma", (0.0, vmax), dropped,
                 "activation (same scale for both digits)")
    channel_grid(fig, outer[1, 0], fm8, "conv3 activation, this '8'", "magma", (0.0, vmax), dropped,
                 "activation (same scale for both digits)")
    channel_grid(fig, outer[1, 1], fm8 - fm0, "difference, '8' minus '0'", "PuOr_r", (-dlim, dlim), dropped,
                 "activation difference (orange: stronger for the '8')")
    fig.suptitle("Conv3 feature maps after batch norm + ReLU: 64 channels of 7x7, channel number in each "
                 f"corner;\nhatched: {dropped_lines(dropped, fm0.shape[-1])}, dropped by the pooling, never seen "
                 "by the classifier.\nTop left, below the digits: how much each "
                 "region of conv3's map adds to the classifier's preference for '8' over '0',\n"
                 "in % of the gap between the 8s and the 0s it gets right (half of the test digits)", fontsize=10)
    return fig


def plot_top_cells(imgs: tuple[np.ndarray, ...], maps: tuple[np.ndarray, ...], cells: list[dict]) -> plt.Figure:
    """The chosen channels' maps for this '0' and '8' and the class means, the cell boxed.

    imgs: this '0', this '8', mean 0, mean 8 [28, 28]; maps: the same four as conv3 maps [C, 7, 7].
    """
    n = len(cells)
    fig, axes = plt.subplots(n + 1, 4, figsize=(8.4, 2.0 * (n + 1)), layout="constrained")
    for col, (img, title) in enumerate(zip(imgs, ("this '0'", "this '8'", "mean of test 0s",
                                                   "mean of test 8s"))):
        digit_axes(axes[0, col], img, title)
    for row, cell in enumerate(cells, start=1):
        ch = cell["channel"]
        vmax = max(m[ch].max() for m in maps)
        for col, m in enumerate(maps):
            ax = axes[row, col]
            im = ax.imshow(m[ch], cmap="magma", vmin=0, vmax=vmax)
            ax.add_patch(plt.Rectangle((cell["col"] - 0.5, cell["row"] - 0.5), 1, 1, fill=False,
                                       ec="cyan", lw=1.5))
            ax.set_xticks([])
            ax.set_yticks([])
        axes[row, 0].set_ylabel(f"channel {ch}\ncell ({cell['row']}, {cell['col']})\n"
                                f"fires for {cell['fires_for']}s\nd = {cell['d']:+.2f}", fontsize=8)
        fig.colorbar(im, ax=axes[row].tolist(), shrink=0.85, label="activation")
    fig.suptitle("The chosen conv3 channels (their vote separates 8s from 0s best), each at its cell "
                 "(cyan),\nwhere its activation separates them most (d: the gap in standard deviations, "
                 "d > 0: stronger for 8s); "
                 "means over the selection half", fontsize=10)
    return fig


def plot_top_patches(patches: dict[int, list[tuple[np.ndarray, float, int]]], cells: list[dict],
                     labels: torch.Tensor) -> plt.Figure:
    """Per chosen channel, the receptive-field patches of the test digits that drive it hardest at its
    cell, all in one image (one row per channel, blue gaps): far faster than one axes per patch."""
    rows, gap = [c["channel"] for c in cells], 3
    tiles = np.array([[p for p, _, _ in patches[ch]] for ch in rows])  # [channels, patches, RF, RF]
    n, m = tiles.shape[:2]
    mosaic = np.full((n * (RF + gap) - gap, m * (RF + gap) - gap), np.nan)
    for i, j in np.ndindex(n, m):
        mosaic[i * (RF + gap):i * (RF + gap) + RF, j * (RF + gap):j * (RF + gap) + RF] = tiles[i, j]
    fig, ax = plt.subplots(figsize=(1.25 * m + 1.6, 1.35 * n + 0.9))
    ax.imshow(mosaic, cmap=plt.get_cmap(INK).with_extremes(bad="lightsteelblue"), vmin=0, vmax=1,
              interpolation="nearest")
    for i, ch in enumerate(rows):
        for j, (_, act, idx) in enumerate(patches[ch]):
            ax.text(j * (RF + gap) + RF / 2 - 0.5, i * (RF + gap) - 0.8, f"'{int(labels[idx])}' {act:.1f}",
                    ha="center", va="bottom", fontsize=8)
    ax.set_yticks([i * (RF + gap) + RF / 2 for i in range(n)],
                  [f"ch {c['channel']} at ({c['row']}, {c['col']})\nfires for {c['fires_for']}s"
                   for c in cells], fontsize=8)
    ax.set_xticks([])
    ax.set_title(f"For each chosen conv3 channel, the {m} test digits that drive it hardest AT ITS CELL: the "
                 f"{RF}x{RF}-pixel patch that the cell sees,\nstrongest first; above each: the digit's label "
                 "and the activation", fontsize=9, pad=14)
    return fig


def plot_shift_examples(images: list[np.ndarray], titles: list[str]) -> plt.Figure:
    fig, axes = plt.subplots(1, 3, figsize=(9, 3.6))
    for ax, img, title in zip(axes, images, titles):
        digit_axes(ax, img, title)
        ax.set_xlabel("pixel column")
    axes[0].set_ylabel("pixel row")
    fig.suptitle("The '1' shifted with clamp padding (the nearest valid pixel), and the CNN's prediction")
    return fig


def plot_shift_accuracy(curve: dict[int, float], plain: dict[int, float], per_class: list[dict],
                        n: int) -> plt.Figure:
    """Accuracy against shift with and without the augmentation; per class at -3 and +3 px with
    their 95% intervals as bars."""
    dxs = list(curve)
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(12, 4.6), width_ratios=[1.25, 1])
    ax.axvspan(-3, 3, color="0.92", zorder=0, label="within ±3 px")
    ax.plot(dxs, [100 * curve[dx] for dx in dxs], "k-o", lw=2.2, label="trained with ±1 px shifts")
    ax.plot(dxs, [100 * plain[dx] for dx in dxs], "--s", color="tab:red", lw=1.8, ms=5,
            label="trained without shifts")
    ax.set_xlabel("horizontal shift dx in pixels (negative = left)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_xticks(dxs)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower center")
    ax.set_title(f"{n:,} test digits against shift (clamp padding)", fontsize=10)
    classes = np.array([e["class"] for e in per_class])
    for dx, offset, marker, colour in (("-3", -0.15, "<", "tab:blue"), ("3", 0.15, ">", "tab:orange")):
        acc = np.array([100 * e[dx]["accuracy"] for e in per_class])
        err = np.array([[100 * e[dx]["accuracy"] - 100 * e[dx]["low"] for e in per_class],
                        [100 * e[dx]["high"] - 100 * e[dx]["accuracy"] for e in per_class]])
        bx.errorbar(classes + offset, acc, yerr=err, fmt=marker, color=colour, ms=6, capsize=3, lw=1,
                    label=f"shifted 3 px {'left' if dx == '-3' else 'right'}")
    bx.set_xticks(classes)
    bx.set_xlabel("class")
    bx.set_ylabel("accuracy (%)")
    bx.grid(alpha=0.3, axis="y")
    bx.legend(fontsize=8, loc="lower left")
    sizes = sorted({e["n"] for e in per_class})
    size = f"{sizes[0]}" if len(sizes) == 1 else f"{sizes[0]}-{sizes[-1]}"
    bx.set_title(f"Per class at ±3 px ({size} digits per class;\nbars: where the accuracy on all such digits "
                 "likely lies)", fontsize=10)
    return fig
