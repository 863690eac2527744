"""Problem 2's figures, drawn from arrays and the results' numbers; each function returns a Figure.

Map cells are patch positions (top-left corners); `overlay` draws a map at the patch centres over
the digit instead. The solution's probability maps are stretched linearly to their own range; the
evidence shows them on a fixed 0-1 scale and on the log-odds scale between their minimum and
maximum. Label maps use tab10, one colour per class, with a legend. Digits are drawn as the data store them: white ink on black, so a black
patch (fill 0) looks like background.
"""
from __future__ import annotations

from collections import Counter
from typing import Any, Sequence

import numpy as np
from matplotlib import colors
from matplotlib.patches import Patch, Rectangle

from common.occlusion.engine import Window
from common.occlusion.strokes import CRITICAL_P, REGIONS, SIX
from common.plots.backend import plt

TAB10 = [colors.to_rgb(c) for c in colors.TABLEAU_COLORS.values()]  # tab10, class k = colour k
GALLERY = 8  # 6s shown in the gallery of individual maps
ATTACK_NAMES = {"pgd": "PGD, ε = {eps:g}", "pgd_min": "PGD, smallest ε = {eps:.3f}",
                "patch": "optimised {size}x{size} patch", "transplant": "transplanted {size}x{size} window"}
REGION_NAMES = {"top_hook": "top hook", "stem": "stem", "loop_left": "left half of the loop",
                "loop_right": "right half of the loop", "loop": "whole loop", "hole": "hole"}
REGION_TICKS = {"top_hook": "top\nhook", "stem": "stem", "loop_left": "loop,\nleft half",
                "loop_right": "loop,\nright half", "loop": "whole\nloop"}
REGION_COLOURS = {"top_hook": TAB10[1], "stem": TAB10[2], "loop_left": TAB10[0],
                  "loop_right": TAB10[9], "hole": (0.85, 0.85, 0.85)}
STRATEGY_COLOURS = {"black-map": TAB10[9], "white-map": TAB10[1], "random": TAB10[7]}
STRATEGY_WORDS = {"black-map": "guided by the black-patch map of P2 (1)",
                  "white-map": "guided by the white-patch map (where added ink hurts most)", "random": "random places"}


# ----------------------------------------------------------------------------- helpers
def logit_norm(values: np.ndarray) -> colors.Normalize:
    """Contrast stretch on the log-odds scale between the map's min and max (for values near 1)."""
    eps = 1e-4
    lo, hi = float(np.clip(values.min(), eps, 1 - eps)), float(np.clip(values.max(), eps, 1 - eps))
    if hi - lo < 1e-6:
        lo, hi = max(eps, lo - 1e-3), min(1 - eps, hi + 1e-3)

    def fwd(v):
        v = np.clip(v, eps, 1 - eps)
        return np.log(v / (1 - v))

    def inv(z):
        return 1 / (1 + np.exp(-z))

    return colors.FuncNorm((fwd, inv), vmin=lo, vmax=hi)


def logit_ticks(norm: colors.Normalize) -> list[float]:
    """Round probabilities inside the norm's range, at least 1/12 of the bar apart (log-odds)."""
    cands = [0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.97, 0.98,
             0.99, 0.995, 0.999]
    lo, hi = float(norm(norm.vmin)), float(norm(norm.vmax))  # 0 and 1 in colour units
    ticks = [norm.vmin, norm.vmax]
    for t in cands:
        if norm.vmin < t < norm.vmax and all(abs(float(norm(t)) - float(norm(u))) > (hi - lo) / 12
                                             for u in ticks):
            ticks.append(t)
    return sorted(ticks)


def label_cmap() -> tuple[colors.ListedColormap, colors.BoundaryNorm]:
    """tab10 as a 10-colour map for labels 0-9."""
    return colors.ListedColormap(TAB10), colors.BoundaryNorm(np.arange(-0.5, 10.5), 10)


def patch_axes(ax: plt.Axes, p: int, stride: int) -> None:
    """Label a P x P map's axes in patch-position coordinates (cells = patch top-left corners)."""
    step = 5 if p > 12 else 1
    ax.set_xticks(range(0, p, step))
    ax.set_yticks(range(0, p, step))
    s = "" if stride == 1 else f"{stride}·"
    ax.set_xlabel(f"patch column c  (top-left x = {s}c)")
    ax.set_ylabel(f"patch row r  (top-left y = {s}r)")


def pixel_axes(ax: plt.Axes) -> None:
    ax.set_xlabel("pixel column x")
    ax.set_ylabel("pixel row y")


def draw_patch(ax: plt.Axes, row: int, col: int, size: int, colour: str = "red",
               style: str = "-") -> None:
    """A square outline of `size` pixels with its top-left pixel at (row, col)."""
    ax.add_patch(Rectangle((col - 0.5, row - 0.5), size, size, fill=False, ec=colour, lw=1.8,
                           ls=style))


def overlay(ax: plt.Axes, image: np.ndarray, prob: np.ndarray, window: Window,
            title: str, contour: bool = True) -> Any:
    """A probability map drawn at the patch centres (pixel coordinates), the digit as a white outline.

    Outside the square of patch centres the digit is shown in grey.
    """
    p, stride = prob.shape[0], window.stride
    c0 = (window.patch - 1) / 2
    ax.imshow(image, cmap="gray", vmin=0, vmax=1, extent=(-0.5, 27.5, 27.5, -0.5))
    half = stride / 2
    ext = (c0 - half, c0 + (p - 1) * stride + half, c0 + (p - 1) * stride + half, c0 - half)
    im = ax.imshow(prob, cmap="viridis", vmin=0, vmax=1, extent=ext)
    ax.contour(np.arange(28), np.arange(28), image, levels=[0.5], colors="white", linewidths=1.2)
    if contour and prob.min() < CRITICAL_P < prob.max():
        centres = c0 + np.arange(p) * stride
        ax.contour(centres, centres, prob, levels=[CRITICAL_P], colors="red", linewidths=1.6)
    ax.set_xlim(-0.5, 27.5)
    ax.set_ylim(27.5, -0.5)
    ax.set_title(title, fontsize=10)
    return im


# ----------------------------------------------------------------------------- (1) the maps
def fixed_scale_map(fig: plt.Figure, ax: plt.Axes, values: np.ndarray, name: str, stride: int) -> None:
    im = ax.imshow(values, cmap="viridis", vmin=0, vmax=1)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="probability (0 to 1)")
    ax.set_title(f"{name}\non a fixed 0-1 scale", fontsize=10)
    patch_axes(ax, values.shape[0], stride)


def stretched_map(fig: plt.Figure, ax: plt.Axes, values: np.ndarray, name: str, stride: int) -> None:
    lnorm = logit_norm(values)
    im = ax.imshow(values, cmap="viridis", norm=lnorm)
    cb = fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="probability (log-odds scale)")
    cb.set_ticks(logit_ticks(lnorm))
    cb.ax.set_yticklabels([f"{t:.3g}" for t in logit_ticks(lnorm)])
    ax.set_title(f"{name}\non log-odds, {lnorm.vmin:.3f} to {lnorm.vmax:.3f}", fontsize=10)
    patch_axes(ax, values.shape[0], stride)


def linear_map(fig: plt.Figure, ax: plt.Axes, values: np.ndarray, name: str, stride: int) -> None:
    """A probability map on a linear colour scale from its own minimum to its maximum."""
    lo, hi = float(values.min()), float(values.max())
    im = ax.imshow(values, cmap="viridis", vmin=lo, vmax=max(hi, lo + 1e-6))
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="probability")
    ax.set_title(f"{name}\ncolours from {lo:.3f} to {hi:.3f}", fontsize=10)
    patch_axes(ax, values.shape[0], stride)


def label_map(ax: plt.Axes, label: np.ndarray, stride: int) -> None:
    """Map 3 in tab10 (one colour per class) with a legend of the labels that occur and their counts."""
    cmap, norm = label_cmap()
    ax.imshow(label, cmap=cmap, norm=norm)
    counts = Counter(label.ravel().tolist())
    handles = [Patch(color=TAB10[k], label=f"'{k}': {counts[k]} cell{'s' * (counts[k] != 1)}")
               for k in sorted(counts)]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1), fontsize=9,
              title="label", title_fontsize=9, frameon=False)
    ax.set_title("Map 3: the predicted label", fontsize=10)
    patch_axes(ax, label.shape[0], stride)


def plot_maps(image: np.ndarray, maps: dict[str, np.ndarray], window: Window, index: int,
              clean_p: float) -> plt.Figure:
    """The '6' and its three maps: the probabilities each stretched to its own range, the label in
    one colour per class."""
    patch, stride, fill = window
    p = maps["prob_true"].shape[0]
    fig, axes = plt.subplots(2, 2, figsize=(9.2, 8.6), gridspec_kw={"wspace": 0.5, "hspace": 0.42})
    ax = axes[0, 0]
    ax.imshow(image, cmap="gray", vmin=0, vmax=1)
    draw_patch(ax, 0, 0, patch, "red", "--")
    ax.set_title(f"Test digit {index}, p('6') = {clean_p:.3f}\n"
                 f"dashed: the {patch}x{patch} patch at (0, 0)", fontsize=10)
    pixel_axes(ax)
    linear_map(fig, axes[0, 1], maps["prob_true"], "Map 1: p('6')", stride)
    linear_map(fig, axes[1, 0], maps["max_prob"], "Map 2: highest probability", stride)
    label_map(axes[1, 1], maps["label"], stride)
    shade = "black" if fill == 0 else f"value {fill:g}"
    fig.suptitle(f"Occluding the '6' with a {shade} {patch}x{patch} patch, stride {stride}: {p} x {p} "
                 "positions\n(map cell (r, c): the patch's top-left corner)", fontsize=11)
    return fig


def plot_map_scales(image: np.ndarray, maps: dict[str, np.ndarray], window: Window,
                    worst: tuple[int, int], worst_image: np.ndarray) -> plt.Figure:
    """Maps 1-2 on the fixed 0-1 scale and on log-odds, map 1 over the digit, and the most damaging
    patch."""
    patch, stride, fill = window
    fig, axes = plt.subplots(2, 3, figsize=(10.4, 7.4), gridspec_kw={"wspace": 0.75, "hspace": 0.45})
    fixed_scale_map(fig, axes[0, 0], maps["prob_true"], "Map 1: p('6')", stride)
    fixed_scale_map(fig, axes[0, 1], maps["max_prob"], "Map 2: highest probability", stride)
    axes[0, 0].plot(worst[1], worst[0], "rx", ms=9, mew=2, label="lowest p('6')")
    axes[0, 0].legend(loc="lower right", fontsize=8, framealpha=0.8)
    stretched_map(fig, axes[1, 0], maps["prob_true"], "Map 1: p('6')", stride)
    stretched_map(fig, axes[1, 1], maps["max_prob"], "Map 2", stride)
    im = overlay(axes[0, 2], image, maps["prob_true"], window,
                 "p('6') at the patch centres\nwhite: the digit; red: p = 0.5")
    fig.colorbar(im, ax=axes[0, 2], fraction=0.046, pad=0.04, label="p('6')")
    pixel_axes(axes[0, 2])
    ax = axes[1, 2]
    ax.imshow(worst_image, cmap="gray", vmin=0, vmax=1)
    draw_patch(ax, worst[0] * stride, worst[1] * stride, patch, "red")
    wp = maps["probs"][worst]
    ax.set_title(f"most damaging patch, {worst}\np('6') = {wp[SIX]:.3f}, label '{int(wp.argmax())}' "
                 f"(p = {wp.max():.3f})", fontsize=10)
    pixel_axes(ax)
    shade = "black" if fill == 0 else f"value {fill:g}"
    fig.suptitle(f"The maps of the {shade} {patch}x{patch} patch on two other colour scales", fontsize=11)
    return fig


# ----------------------------------------------------------------------------- (2) which strokes
def regions_panel(ax: plt.Axes, image: np.ndarray, regions: dict[str, np.ndarray],
                  region: dict[str, Any]) -> None:
    rgb = np.stack([image * 0.35] * 3, -1)
    for name, colour in REGION_COLOURS.items():
        rgb[regions[name]] = colour
    ax.imshow(rgb)
    share = region["composition_of_covered_ink"]
    handles = [Patch(color=REGION_COLOURS[n], label=f"{REGION_NAMES[n]}"
                     + (f": {100 * share[n]:.0f}%" if n in share else ""))
               for n in REGION_COLOURS]
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.16), fontsize=9, frameon=False,
              ncol=2, title=f"share of the ink the patches with p('6') < {CRITICAL_P} hide", title_fontsize=9)
    ax.set_title("The strokes of the '6'", fontsize=10)
    pixel_axes(ax)


def erase_panel(ax: plt.Axes, region: dict[str, Any]) -> None:
    names = list(REGIONS) + ["loop"]
    vals = [region["erase_region"][nm]["prob_true"] for nm in names]
    bars = ax.bar(range(len(names)), vals, color=[REGION_COLOURS.get(nm, TAB10[4]) for nm in names])
    for b, nm in zip(bars, names):
        e = region["erase_region"][nm]
        ax.text(b.get_x() + b.get_width() / 2, b.get_height() + 0.02,
                f"{e['prob_true']:.2f}" + ("" if e["pred"] == SIX else
                                           f"\nnow '{e['pred']}' (p={e['prob_pred']:.2f})"),
                ha="center", va="bottom", fontsize=8.5,
                bbox={"facecolor": "white", "edgecolor": "none", "pad": 1})
    ax.axhline(CRITICAL_P, color="red", ls="--", lw=1)
    ax.set_xticks(range(len(names)), [REGION_TICKS[nm] for nm in names], fontsize=9)
    ax.set_ylim(0, 1.18)
    ax.set_ylabel("p('6') after erasing the region")
    ax.set_title("p('6') with one stroke's ink erased (red dashed line: p = 0.5)", fontsize=10)


def plot_regions(image: np.ndarray, region: dict[str, Any], regions: dict[str, np.ndarray],
                 cover_count: np.ndarray, patch: int) -> plt.Figure:
    """The stroke regions, the pixels the critical patches hide, and p('6') with each region erased."""
    fig = plt.figure(figsize=(10, 8.4))
    grid = fig.add_gridspec(2, 2, wspace=0.35, hspace=0.75, height_ratios=[1, 0.75])
    regions_panel(fig.add_subplot(grid[0, 0]), image, regions, region)
    ax = fig.add_subplot(grid[0, 1])
    im = ax.imshow(cover_count, cmap="magma", vmin=0, vmax=max(1, int(cover_count.max())))
    ax.contour(np.arange(28), np.arange(28), image, levels=[0.5], colors="cyan", linewidths=1.2)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="patches hiding the pixel")
    n, changed = region["n_below"], region["n_label_changed"]
    what = ("at the 10 lowest-p('6') positions" if region["fallback_lowest_10"]
            else f"at the {n} positions with p('6') < {CRITICAL_P}\n(at {changed} the label changes; at "
                 f"{n - changed}, '6' still wins)")
    ax.set_title(f"Pixels that the {patch}x{patch} patches hide {what}\ncyan: the digit", fontsize=10)
    pixel_axes(ax)
    erase_panel(fig.add_subplot(grid[1, :]), region)
    fig.suptitle("Which strokes of the '6' the CNN needs", fontsize=12)
    return fig


def typicality_panel(ax: plt.Axes, typ: dict[str, Any], r_all: np.ndarray) -> None:
    ax.hist(r_all[np.isfinite(r_all)], bins=20, color=TAB10[0], alpha=0.8)
    if typ["r_example"] is not None:
        ax.axvline(typ["r_example"], color="red", lw=2,
                   label=f"the example: r = {typ['r_example']:.2f}\n"
                         f"(higher than {typ['example_percentile']:.0f}% of the 6s)")
    ax.axvline(typ["r_median"], color="black", ls="--", lw=1.2, label=f"median r = {typ['r_median']:.2f}")
    ax.set_xlabel("r: a 6's p('6') map vs the mean map of the others")
    ax.set_ylabel("number of 6s")
    ax.legend(fontsize=8.5, loc="upper left")
    ax.set_title("Is the example typical?", fontsize=10)


def plot_population(mean_map: np.ndarray, frac_below: np.ndarray, mean_image: np.ndarray,
                    typ: dict[str, Any], r_all: np.ndarray, window: Window, n: int, total: int) -> plt.Figure:
    """The mean p('6') map over n of the `total` correct 6s, the share of them below 0.5 per cell,
    and the example's r."""
    fig, axes = plt.subplots(2, 2, figsize=(10, 9), gridspec_kw={"wspace": 0.55, "hspace": 0.45})
    axes = axes.ravel()
    p = mean_map.shape[0]
    top = max(float(frac_below.max()), 1e-3)
    for ax, values, title, lab, vmax in (
            (axes[0], mean_map, f"mean p('6') over {n} of the\n{total} correct test 6s", "mean p('6')", 1),
            (axes[1], frac_below, f"share of the {n} 6s\nwith p('6') < {CRITICAL_P}",
             f"share of 6s (0 to {top:.2f})", top)):
        im = ax.imshow(values, cmap="viridis", vmin=0, vmax=vmax)
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label=lab)
        ax.set_title(title, fontsize=10)
        patch_axes(ax, p, window.stride)
    im = overlay(axes[2], mean_image, mean_map, window,
                 "mean p('6') at the patch centres\nwhite: outline of the mean '6'; red: 0.5")
    fig.colorbar(im, ax=axes[2], fraction=0.046, pad=0.04, label="mean p('6')")
    pixel_axes(axes[2])
    typicality_panel(axes[3], typ, r_all)
    fig.suptitle(f"Beyond one example: the maps of many 6s ({window.patch}x{window.patch} patch, "
                 f"stride {window.stride})", fontsize=12)
    return fig


def gallery_picks(r_all: np.ndarray, member: int | None) -> list[int]:
    """Up to GALLERY 6s spread evenly from the most to the least typical map, the example included."""
    r_sort = np.nan_to_num(r_all, nan=-2.0)
    order = np.argsort(-r_sort, kind="stable")
    picks = order[np.unique(np.linspace(0, len(order) - 1, min(GALLERY, len(order))).round()
                            .astype(int))].tolist()
    if member is not None and member not in picks:
        picks[len(picks) // 2] = member
    return sorted(picks, key=lambda i: -r_sort[i])


def plot_gallery(images: np.ndarray, maps: np.ndarray, indices: Sequence[int],
                 rs: Sequence[float], belows: Sequence[int], window: Window,
                 example: int) -> plt.Figure:
    """Individual 6s' p('6') maps at the patch centres, from most to least typical."""
    k = len(images)
    cols = min(4, k)
    rows = (k + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(2.3 * cols, 2.6 * rows), squeeze=False)
    im = None
    for ax in axes.ravel()[k:]:
        ax.axis("off")
    for ax, img, m, idx, r, b in zip(axes.ravel(), images, maps, indices, rs, belows):
        tag = " (ours)" if idx == example else ""
        im = overlay(ax, img, m, window, f"#{idx}{tag}, r = {r:.2f}\n{b} cells below {CRITICAL_P}")
        ax.title.set_fontsize(9)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.colorbar(im, ax=axes, fraction=0.025, pad=0.02, label="p('6') at the patch centre")
    fig.suptitle("Single 6s, from the most to the least typical map (r: correlation with the\n"
                 "others' mean); p('6') at the patch centres, white: the digit, red: p('6') = 0.5",
                 fontsize=10)
    return fig


# ----------------------------------------------------------------------------- (3) transplants
