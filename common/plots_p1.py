"""Problem 1's figures: each helper takes arrays (and the results it labels) and returns a Figure;
p1_cnn_filters.py saves them."""
from __future__ import annotations

import numpy as np
import torch

from common.discriminant import RF
from common.filters import kernel_norms
from common.plotting import plt


def kernel_mosaic(weights: np.ndarray) -> np.ndarray:
    """Tile k x k arrays [O, I, k, k] into one image: row o, column i holds (o, i); NaN gaps."""
    o, i, k, _ = weights.shape
    mosaic = np.full((o * (k + 1) - 1, i * (k + 1) - 1), np.nan)
    for r in range(o):
        for c in range(i):
            mosaic[r * (k + 1):r * (k + 1) + k, c * (k + 1):c * (k + 1) + k] = weights[r, c]
    return mosaic


def filter_label(f: dict) -> str:
    if f["kind"] == "bar":
        return f"{'ink' if f['sign'] > 0 else 'gap'} bar {f['orientation']}°"
    if f["kind"] == "edge":
        return f"edge {f['orientation']}°"
    return {"uniform": "bright" if f["sign"] > 0 else "dark", "spot": "spot"}[f["kind"]]


def plot_conv1(weights: np.ndarray, kinds: list[dict]) -> plt.Figure:
    """Each single-channel 3x3 conv1 kernel as its own image, weights written in, best template above."""
    n = weights.shape[0]
    lim = np.abs(weights).max()
    fig, axes = plt.subplots(2, n // 2, figsize=(n * 0.8, 4.0))
    for k, ax in enumerate(axes.flat):
        im = ax.imshow(weights[k, 0], cmap="RdBu_r", vmin=-lim, vmax=lim)
        for (r, c), v in np.ndenumerate(weights[k, 0]):
            ax.text(c, r, f"{v:.1f}", ha="center", va="center", fontsize=6)
        ax.set_title(f"filter {k}\n{filter_label(kinds[k])} ({kinds[k]['cosine']:.2f})", fontsize=7)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.colorbar(im, ax=axes, shrink=0.8, label="weight")
    fig.suptitle("conv1: 16 filters, 1 input channel, 3x3 (red +, blue -); above each: the pattern it "
                 "matches best (edge, or a bar of ink or of background, at its angle from horizontal)\n"
                 "and the |cosine| of the match; bright/dark: overall brightness, spot: a single pixel",
                 fontsize=9)
    return fig


def plot_mosaic(weights: np.ndarray, name: str) -> plt.Figure:
    """All kernels of a multi-channel conv layer: one row per filter, one column per input channel."""
    o, i, k, _ = weights.shape
    lim = np.abs(weights).max()
    mosaic = kernel_mosaic(weights)
    cmap = plt.get_cmap("RdBu_r").with_extremes(bad="black")  # separators unlike the white zero
    height = min(14.0, 2 + o * 0.2)
    fig, ax = plt.subplots(figsize=(2 + i * 0.28, height))
    im = ax.imshow(mosaic, cmap=cmap, vmin=-lim, vmax=lim, interpolation="nearest")
    step = 4 if i <= 16 else 8
    ax.set_xticks([c * (k + 1) + 1 for c in range(0, i, step)], [str(c) for c in range(0, i, step)])
    ax.set_yticks([r * (k + 1) + 1 for r in range(0, o, 4)], [str(r) for r in range(0, o, 4)])
    ax.set_xlabel("input channel (feature map of the previous layer)")
    ax.set_ylabel("filter (output channel)")
    ax.set_title(f"{name}: all {o}x{i} kernels of size {k}x{k}, every input channel shown\n"
                 "(row = filter, column = input channel; red +, blue -, white 0, black separators)")
    fig.colorbar(im, ax=ax, shrink=0.6, label="weight")
    return fig


def plot_mosaic_summary(weights: np.ndarray, name: str, summary: dict) -> plt.Figure:
    """Kernel norms [filter x input] and, enlarged, the 6 strongest kernels of the 3 strongest filters."""
    norms = kernel_norms(weights)
    o, i = norms.shape
    lim = np.abs(weights).max()
    fig = plt.figure(figsize=(13, 6))
    outer = fig.add_gridspec(1, 2, width_ratios=[1.1, 1.4], wspace=0.15)
    ax = fig.add_subplot(outer[0])
    im = ax.imshow(norms, cmap="viridis", aspect="auto", interpolation="nearest")
    ax.set_xlabel("input channel")
    ax.set_ylabel("filter (output channel)")
    ax.set_title(f"{name}: L2 norm of each 3x3 kernel\n(bright = the filter uses that input)", fontsize=10)
    fig.colorbar(im, ax=ax, shrink=0.8, label="kernel norm")
    right = outer[1].subgridspec(3, 6, hspace=0.5, wspace=0.15)
    for row, f in enumerate(summary["strongest_filters"]):
        for col, inp in enumerate(np.argsort(-norms[f], kind="stable")[:6]):
            a = fig.add_subplot(right[row, col])
            a.imshow(weights[f, inp], cmap="RdBu_r", vmin=-lim, vmax=lim)
            for (r, c), v in np.ndenumerate(weights[f, inp]):
                a.text(c, r, f"{v:.2f}", ha="center", va="center", fontsize=5.5)
            a.set_title(f"input {inp}", fontsize=7)
            a.set_xticks([])
            a.set_yticks([])
            if col == 0:
                a.set_ylabel(f"filter {f}", fontsize=9)
    fig.suptitle(f"{name} summary: which inputs each filter uses, and the strongest kernels of its "
                 f"3 largest-norm filters enlarged (red +, blue -)", fontsize=11)
    return fig


def used_box(ax: plt.Axes, r0: float, c0: float, n: int) -> None:
    """Outline the n x n cells of a tile whose top-left pixel centre is (r0, c0)."""
    ax.add_patch(plt.Rectangle((c0 - 0.5, r0 - 0.5), n, n, fill=False, ec="cyan", lw=0.6, ls="--"))


def plot_feature_maps(img0: np.ndarray, img8: np.ndarray, fm0: np.ndarray, fm8: np.ndarray,
                      n_used: int) -> plt.Figure:
    """Digit + 64-channel conv3 grid for a '0' and an '8' (shared scale), then their difference."""
    c = fm0.shape[0]
    side = int(np.ceil(np.sqrt(c)))
    vmax = max(fm0.max(), fm8.max())
    dlim = np.abs(fm8 - fm0).max()
    fig = plt.figure(figsize=(16, 6.4))
    outer = fig.add_gridspec(1, 4, width_ratios=[0.8, 3, 3, 3], wspace=0.12)
    inner_in = outer[0].subgridspec(2, 1, hspace=0.25)
    for r, (img, title) in enumerate(((img0, "input '0'"), (img8, "input '8'"))):
        a = fig.add_subplot(inner_in[r])
        a.imshow(img, cmap="gray_r", vmin=0, vmax=1)
        a.set_title(title)
        a.axis("off")
    panels = ((fm0, "conv3 activation, the '0'", "magma", 0.0, vmax),
              (fm8, "conv3 activation, the '8'", "magma", 0.0, vmax),
              (fm8 - fm0, "difference, '8' minus '0'", "PuOr_r", -dlim, dlim))
    k = fm0.shape[-1]
    for p, (maps, title, cmap, lo, hi) in enumerate(panels):
        # One image per panel: channel i sits in tile (i // side, i % side), NaN gaps between
        # tiles. One imshow draws far faster than 64 separate axes.
        padded = np.concatenate([maps, np.full((side * side - c, k, k), np.nan)])
        mosaic = kernel_mosaic(padded.reshape(side, side, k, k))
        a = fig.add_subplot(outer[p + 1])
        im = a.imshow(mosaic, cmap=plt.get_cmap(cmap).with_extremes(bad="0.6"), vmin=lo,
                      vmax=hi, interpolation="nearest")
        for i in range(c):
            a.text((i % side) * (k + 1) - 0.35, (i // side) * (k + 1) - 0.3, str(i), fontsize=6,
                   va="top", color="white" if cmap == "magma" else "black")
            used_box(a, (i // side) * (k + 1), (i % side) * (k + 1), n_used)
        a.set_xticks([])
        a.set_yticks([])
        a.set_title(title, fontsize=12)
        cb = fig.colorbar(im, ax=a, location="bottom", shrink=0.8, pad=0.03, aspect=35)
        cb.set_label("activation (same scale for both digits)" if p < 2 else
                     "activation difference (orange: stronger for the '8')")
    fig.suptitle("Conv3 feature maps after batch norm + ReLU: 64 channels of 7x7, channel number in "
                 f"each corner;\nonly the {n_used}x{n_used} cells inside each dashed box reach the "
                 "classifier (the last 2x2 max-pool drops row and column 6)", fontsize=12)
    return fig


def plot_top_cells(imgs: tuple[np.ndarray, ...], maps: tuple[np.ndarray, ...],
                   cells: list[dict]) -> plt.Figure:
    """Top discriminant cells: this '0' and '8', and the class means over the correct test 0s and 8s.

    imgs: this '0', this '8', mean 0, mean 8 [28, 28]; maps: the same four as conv3 maps [64, 7, 7].
    """
    n = len(cells)
    fig, axes = plt.subplots(n + 1, 4, figsize=(8.4, 2.0 * (n + 1)))
    cols = ("this '0'", "this '8'", "mean over test 0s", "mean over test 8s")
    for col, img in enumerate(imgs):
        ax = axes[0, col]
        ax.imshow(img, cmap="gray_r", vmin=0, vmax=1)
        ax.set_xticks(range(0, 28, 7))
        ax.set_yticks(range(0, 28, 7))
        ax.tick_params(labelsize=6)
        ax.set_title(cols[col], fontsize=10)
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
                                f"d = {cell['d']:+.2f}", fontsize=8)
        fig.colorbar(im, ax=axes[row].tolist(), shrink=0.85, pad=0.02, label="activation")
    fig.suptitle("Conv3 cells that best separate 0s from 8s (|Cohen's d|, d > 0: stronger for 8s),\n"
                 "one per channel, among the cells that reach the classifier; cyan square = the cell",
                 fontsize=10)
    return fig


def plot_top_patches(patches: dict[int, list[tuple[np.ndarray, float, int]]], cells: list[dict],
                     labels: torch.Tensor) -> plt.Figure:
    """Zeiler & Fergus style: per top channel, the test patches (receptive fields) that excite it most.

    All patches sit in one image (one row per channel, blue gaps), which draws far faster than
    one axes per patch.
    """
    rows = list(patches)
    gap = 3
    tiles = np.array([[p for p, _, _ in patches[ch]] for ch in rows])  # [channels, TOP_PATCHES, RF, RF]
    n, m = tiles.shape[:2]
    mosaic = np.full((n * (RF + gap) - gap, m * (RF + gap) - gap), np.nan)
    for i, j in np.ndindex(n, m):
        mosaic[i * (RF + gap):i * (RF + gap) + RF, j * (RF + gap):j * (RF + gap) + RF] = tiles[i, j]
    fig, ax = plt.subplots(figsize=(1.15 * m + 1.0, 1.25 * n + 0.9))
    ax.imshow(mosaic, cmap=plt.get_cmap("gray_r").with_extremes(bad="lightsteelblue"), vmin=0, vmax=1,
              interpolation="nearest")
    d = {c["channel"]: c["d"] for c in cells}
    for i, ch in enumerate(rows):
        for j, (_, act, idx) in enumerate(patches[ch]):
            ax.text(j * (RF + gap) + RF / 2 - 0.5, i * (RF + gap) - 0.8, f"'{int(labels[idx])}' {act:.1f}",
                    ha="center", va="bottom", fontsize=6.5)
    ax.set_yticks([i * (RF + gap) + RF / 2 for i in range(n)],
                  [f"ch {ch}\nd = {d[ch]:+.2f}" for ch in rows], fontsize=8)
    ax.set_xticks([])
    ax.set_title(f"The {RF}x{RF}-pixel input patches (receptive fields) that activate each top conv3 "
                 "channel most,\none per test digit, strongest first; above each: the digit's label and "
                 "the activation", fontsize=9, pad=14)
    return fig


def plot_shift_examples(images: list[np.ndarray], titles: list[str]) -> plt.Figure:
    fig, axes = plt.subplots(1, 3, figsize=(9, 3.6))
    for ax, img, title in zip(axes, images, titles):
        ax.imshow(img, cmap="gray_r", vmin=0, vmax=1)
        ax.set_title(title, fontsize=10)
        ax.set_xticks(range(0, 28, 7))
        ax.set_yticks(range(0, 28, 7))
        ax.set_xlabel("pixel column")
    axes[0].set_ylabel("pixel row")
    fig.suptitle("The '1' shifted with clamp (replicate) padding, and the CNN's prediction")
    return fig


def plot_shift_accuracy(overall: dict[int, float], per_class: dict[int, list[float]],
                        plain: dict[int, float], n: int) -> plt.Figure:
    dxs = list(overall)
    fig, ax = plt.subplots(figsize=(8, 4.8))
    cmap = plt.get_cmap("tab10")
    for k in range(10):
        acc = [100 * per_class[dx][k] for dx in dxs]
        ax.plot(dxs, acc, color=cmap(k), lw=2.5 if k == 1 else 0.9,
                alpha=1 if k == 1 else 0.55, label=f"class {k}" + (" (the '1's)" if k == 1 else ""))
    ax.plot(dxs, [100 * overall[dx] for dx in dxs], "k-o", lw=2.5, label="all, trained with ±1 px shifts")
    ax.plot(dxs, [100 * plain[dx] for dx in dxs], "k--s", lw=1.8, ms=4, mfc="white",
            label="all, trained without shifts")
    ax.axvspan(-3, 3, color="0.9", zorder=0, label="within ±3 px")
    ax.set_xlabel("horizontal shift dx in pixels (negative = left, positive = right)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_xticks(dxs)
    ax.set_ylim(0, 101)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2, loc="lower center")
    ax.set_title(f"Test accuracy against horizontal shift (clamp padding), {n} test digits")
    return fig


