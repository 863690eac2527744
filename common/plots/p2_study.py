"""Problem 2 (3)'s figures: the transplant study, the adversarial pastes (a few for the solution,
and the pastes the other networks read as '6' beside those they relabel) and the gradient attacks;
each function returns a Figure, drawn from arrays and the results' numbers. The figures call the
judges "other networks"."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from common.occlusion.transplant_study import GUIDES, STRATEGIES
from common.plots.backend import plt
from common.plots.p2 import (
    ATTACK_NAMES,
    REGION_NAMES,
    STRATEGY_COLOURS,
    STRATEGY_WORDS,
    draw_patch,
    linear_map,
    patch_axes,
)

SCOPE_NAMES = {"example": "our CNN,\nour '6'", "other_sixes": "our CNN,\nother 6s"}
STRATEGY_MARKERS = {"black-map": "s", "white-map": "o", "random": "D"}
GUIDE_PLACES = {"black-map": "where the black\npatch hurts most", "white-map": "where a white\npatch hurts most",
                "random": "a paste elsewhere"}
CORNERS = "map cell (r, c): the window's top-left corner at pixel (r, c), as in P2 (1)'s maps"


def scope_name(scope: str) -> str:
    """A bar group's tick: our CNN on our '6' or on other 6s, or a CNN of another training seed."""
    return SCOPE_NAMES.get(scope, "CNN of\nseed " + scope.split("_")[-1])


def mark_positions(ax: plt.Axes, positions: dict[str, list[int]], side: int) -> None:
    """Each guide's positions as hollow markers of its strategy's shape and colour, at the map cells."""
    for g, pos in positions.items():
        pos = np.array(pos)
        ax.plot(pos % side, pos // side, STRATEGY_MARKERS[g], ms=6, mfc="none", mew=1.6,
                color=STRATEGY_COLOURS[g])


def white_map_panel(fig: plt.Figure, ax: plt.Axes, white: dict[str, Any], positions: list[int]) -> None:
    """The example's occlusion map of p('6') under a white patch, as P2 (1)'s map 1 (its own linear
    range, cells at the patch's top-left corner), with the white-map guide's positions."""
    values = np.array(white["prob_true_map"])
    size = white["size"]
    linear_map(fig, ax, values, f"white-patch map: p('6') under a white {size}x{size} patch", 1)
    mark_positions(ax, {"white-map": positions}, values.shape[0])


def flip_panel(fig: plt.Figure, ax: plt.Axes, share: np.ndarray, size: int, positions: dict[str, list[int]],
               windows: int) -> None:
    """The share of windows that change the label at each map cell (the window's top-left corner),
    with each guide's positions; the title says what the colour bar counts."""
    im = ax.imshow(share, cmap="magma", vmin=0, vmax=max(float(share.max()), 1e-3))
    mark_positions(ax, positions, share.shape[0])
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04).ax.tick_params(labelsize=8)
    ax.set_title(f"{size}x{size}: share of the {windows}\nwindows that change the label", fontsize=10)
    patch_axes(ax, share.shape[0], 1)


def rates_panel(ax: plt.Axes, rates: dict[str, Any], size: str, k: int, narrow: bool) -> list:
    """Label-changed rate per strategy and scope: a dot with its 95% interval as whiskers (ticks
    tilted when `narrow`). Returns the legend's handles: one per strategy, naming the guides' k
    positions the maps mark."""
    scopes = list(rates)
    offsets = np.linspace(-0.22, 0.22, len(STRATEGIES))
    handles = []
    for off, st in zip(offsets, STRATEGIES):
        ch = [rates[sc][size][st]["changed"] for sc in scopes]
        y = np.array([100 * r["rate"] for r in ch])
        err = np.array([[100 * r["rate"] - 100 * r["ci95"][0], 100 * r["ci95"][1] - 100 * r["rate"]] for r in ch]).T
        words = (STRATEGY_WORDS[st] if st != "black-map" or not narrow else
                 "guided by the black-patch map (a patch of the window's size)")
        words += "" if st == "random" else f": its {k} lowest cells, marked on the maps"
        handles.append(ax.errorbar(np.arange(len(scopes)) + off, y, yerr=err, fmt=STRATEGY_MARKERS[st], ms=6,
                                   capsize=4, lw=1.4, color=STRATEGY_COLOURS[st], mec="black", mew=0.6,
                                   label=words))
    ax.set_xticks(range(len(scopes)), [scope_name(sc) for sc in scopes], fontsize=8,
                  rotation=35 if narrow else 0, ha="right" if narrow else "center")
    ax.set_xlim(-0.5, len(scopes) - 0.5)
    ax.set_ylim(bottom=0)
    ax.grid(axis="y", alpha=0.3)
    ax.set_ylabel("pastes that change the label (%)")
    ax.set_title(f"{size}x{size}: how often the label changes", fontsize=10)
    return handles


def plot_transplant_study(study: dict[str, Any], flip_maps: dict[str, np.ndarray], sizes: Sequence[str]
                          ) -> plt.Figure:
    """Per window size in `sizes`: where on the example the sampled windows change the label, with
    the guided positions, and the label-changed rate of each placement per scope with its 95%
    interval; map cells are top-left corners, as in P2 (1). One size: the white-patch map beside
    the share map, the rates below; several: a column each, share maps above rates. One legend."""
    rates, k, n = study["rates"], study["design"]["guided_positions"], len(sizes)
    one = n == 1
    fig = plt.figure(figsize=(10.2, 7.6) if one else (3.4 * n, 7.6))
    grid = fig.add_gridspec(2, 2 if one else n, hspace=0.4, wspace=0.45, top=0.87)
    top = [fig.add_subplot(grid[0, c]) for c in range(2 if one else n)]
    bottom = [fig.add_subplot(grid[1, :])] if one else [fig.add_subplot(grid[1, c]) for c in range(n)]
    if one:
        white_map_panel(fig, top[0], study["white_patch_map"], rates["example"][sizes[0]]["white-map"]["positions"])
    for ax, s in zip(top[1:] if one else top, sizes):
        flip_panel(fig, ax, flip_maps[s], int(s), {g: rates["example"][s][g]["positions"] for g in GUIDES},
                   study["design"]["windows_per_size"])
    handles = [rates_panel(ax, rates, s, k, not one) for ax, s in zip(bottom, sizes)][0]
    fig.legend(handles=handles, fontsize=8.5, loc="upper center", bbox_to_anchor=(0.5, 0.03), ncol=1, frameon=False)
    fig.suptitle(f"Windows of other digits pasted over the '6': where (top; {CORNERS})\nand how often (bottom; "
                 "bars: 95% range for the rate, from the counts) they change our CNN's label", fontsize=10)
    return fig


def plot_adversarial(image: np.ndarray, shown: list[dict], images: np.ndarray, source_labels: Sequence[int],
                     quarters: Sequence[str], over: str | None) -> plt.Figure:
    """The '6' and the shown pastes, each titled with our CNN's label and its probability, and
    named by the digit its window comes from and where it was pasted (the quarter of the '6' and
    the guide; the black-patch map's paste also by `over`, the stroke the words name there, as in
    REGION_NAMES); the orange box is the pasted window."""
    fig, axes = plt.subplots(1, len(shown) + 1, figsize=(2.7 * (len(shown) + 1), 3.9), squeeze=False)
    axes = axes[0]
    axes[0].imshow(image, cmap="gray", vmin=0, vmax=1)
    axes[0].set_title("the '6'", fontsize=10)
    for ax, a, img, src, quarter in zip(axes[1:], shown, images, source_labels, quarters):
        where = f"over the {REGION_NAMES[over]} ({quarter})" if over and a["guide"] == "black-map" else quarter
        ax.imshow(img, cmap="gray", vmin=0, vmax=1)
        draw_patch(ax, *a["position"], a["size"], "orange")
        ax.set_title(f"CNN: '{a['cnn_label']}' (p = {a['cnn_prob']:.2f})", fontsize=10)
        ax.set_xlabel(f"{a['size']}x{a['size']} window of a '{src}'\npasted {where},\n{GUIDE_PLACES[a['guide']]}",
                      fontsize=9)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle("Windows of other digits (orange boxes) pasted over the '6' change our CNN's label",
                 fontsize=10.5)
    return fig


def plot_judged(examples_adv: list[dict], examples_rel: list[dict], images_adv: np.ndarray,
                images_rel: np.ndarray, networks: Sequence[str]) -> plt.Figure:
    """Top row: pastes most other networks still read as '6'; bottom row: pastes they relabel as
    our CNN does."""
    k = max(len(examples_adv), len(examples_rel), 1)
    fig, axes = plt.subplots(2, k, figsize=(1.7 * k, 5.4), squeeze=False)
    for row, (items, images) in enumerate(((examples_adv, images_adv), (examples_rel, images_rel))):
        for j in range(k):
            ax = axes[row, j]
            ax.set_xticks([])
            ax.set_yticks([])
            if j >= len(items):
                ax.axis("off")
                continue
            a = items[j]
            ax.imshow(images[j], cmap="gray", vmin=0, vmax=1)
            draw_patch(ax, *a["position"], a["size"], "orange")
            votes = " ".join(str(v) for v in a["judge_labels"])
            ax.set_title(f"CNN: '{a['cnn_label']}' ({a['cnn_prob']:.2f})\nothers: {votes}\n"
                         f"{a['size']}x{a['size']}, #{a['source_index']}", fontsize=8)
    axes[0, 0].set_ylabel("others still\nread '6'", fontsize=9)
    axes[1, 0].set_ylabel("others agree\nwith our CNN", fontsize=9)
    fig.suptitle("Pastes (orange box) that change our CNN's label, and what other networks read.\n"
                 "Others, in order: " + ", ".join(networks), fontsize=9.5)
    fig.tight_layout()
    return fig


def plot_attacks(image: np.ndarray, shown: dict[str, np.ndarray], comparison: dict[str, Any],
                 judges: Sequence[str]) -> plt.Figure:
    """Each kind of attack on the same '6': the image (top) and the change from the original (bottom)."""
    names = [n for n in ATTACK_NAMES if n in shown]
    fig, axes = plt.subplots(2, len(names) + 1, figsize=(2.05 * (len(names) + 1), 5.6), squeeze=False)
    axes[0, 0].imshow(image, cmap="gray", vmin=0, vmax=1)
    axes[0, 0].set_title("the '6'", fontsize=10)
    axes[1, 0].axis("off")
    im = None
    for j, name in enumerate(names, start=1):
        row = comparison[name]
        label = row.get("cnn_label")
        axes[0, j].imshow(shown[name], cmap="gray", vmin=0, vmax=1)
        title = ATTACK_NAMES[name].format(**row)
        if label is None:  # the transplants: one flipping window shown, medians over all of them
            said = f"1 of {row['success']['k']} that change it\nothers not '6': {100 * row['transfer']:.0f}%"
            what = f"medians over the {row['success']['k']}"
        else:
            said = f"CNN: '{label}'\nothers: {' '.join(map(str, row['judge_labels']))}"
            what = "change"
        axes[0, j].set_title(f"{title}\n{said}", fontsize=8)
        im = axes[1, j].imshow(shown[name] - image, cmap="RdBu_r", vmin=-1, vmax=1)
        axes[1, j].set_title(f"{what}:\nL0 = {row['l0']:g}, L2 = {row['l2']:.2f},\nL∞ = {row['linf']:.2f}",
                             fontsize=8)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    fig.colorbar(im, ax=axes[1, :], fraction=0.03, pad=0.02, label="pixel change")
    fig.suptitle("Other attacks on the same '6' (top) and their change to it (bottom)\n"
                 f"others, in order: {', '.join(judges)}", fontsize=10)
    return fig
