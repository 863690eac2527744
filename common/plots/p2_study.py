"""Problem 2 (3)'s figures: the transplant study, the adversarial pastes and the gradient attacks;
each function returns a Figure, drawn from arrays and the results' numbers."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from common.occlusion.transplant_study import GUIDES, STRATEGIES
from common.plots.backend import plt
from common.plots.p2 import (
    ATTACK_NAMES,
    STRATEGY_COLOURS,
    STRATEGY_WORDS,
    TAB10,
    draw_patch,
    pixel_axes,
)

SCOPE_NAMES = {"example": "the example", "other_sixes": "other 6s"}
GUIDE_MARKERS = {"black-map": ("s", "cyan"), "white-map": ("o", TAB10[1])}


def flip_panel(fig: plt.Figure, ax: plt.Axes, image: np.ndarray, share: np.ndarray, size: int,
               positions: dict[str, list[int]], windows: int) -> None:
    """The share of windows that change the label, drawn at the window centres over the '6'."""
    pw = share.shape[0]
    c0 = (size - 1) / 2
    top = max(float(share.max()), 1e-3)
    ax.imshow(np.full((28, 28), 0.4), cmap="gray", vmin=0, vmax=1, extent=(-0.5, 27.5, 27.5, -0.5))
    im = ax.imshow(share, cmap="magma", vmin=0, vmax=top, extent=(c0 - 0.5, c0 + pw - 0.5, c0 + pw - 0.5, c0 - 0.5))
    ax.contour(np.arange(28), np.arange(28), image, levels=[0.5], colors="white", linewidths=1.2)
    for g, (marker, colour) in GUIDE_MARKERS.items():
        pos = np.array(positions[g])
        ax.plot(pos % pw + c0, pos // pw + c0, marker, ms=6, mfc="none", mew=1.5, color=colour,
                label=f"{STRATEGY_WORDS[g]}: its {len(pos)} positions")
    ax.set_xlim(-0.5, 27.5)
    ax.set_ylim(27.5, -0.5)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04,
                 label=f"share of the {windows} windows that change the label\n(scale 0 to this map's maximum, {top:.2f})")
    ax.set_title(f"{size}x{size} windows pasted over the example '6'\n"
                 "colour at the window centre (grey: no centre there); white: the digit", fontsize=10)
    pixel_axes(ax)


def rates_panel(ax: plt.Axes, rates: dict[str, Any], size: str) -> None:
    """Label-changed rate per strategy and scope: a dot with its 95% interval as whiskers."""
    scopes = list(rates)
    offsets = np.linspace(-0.22, 0.22, len(STRATEGIES))
    markers = {"black-map": "s", "white-map": "o", "random": "D"}
    for off, st in zip(offsets, STRATEGIES):
        ch = [rates[sc][size][st]["changed"] for sc in scopes]
        y = np.array([100 * r["rate"] for r in ch])
        err = np.array([[100 * r["rate"] - 100 * r["ci95"][0], 100 * r["ci95"][1] - 100 * r["rate"]] for r in ch]).T
        ax.errorbar(np.arange(len(scopes)) + off, y, yerr=err, fmt=markers[st], ms=6, capsize=4, lw=1.4,
                    color=STRATEGY_COLOURS[st], mec="black", mew=0.6, label=STRATEGY_WORDS[st])
    ax.set_xticks(range(len(scopes)), [SCOPE_NAMES.get(sc, "CNN " + sc.replace("_", " ")) for sc in scopes])
    ax.set_xlim(-0.5, len(scopes) - 0.5)
    ax.set_ylim(bottom=0)
    ax.grid(axis="y", alpha=0.3)
    ax.set_ylabel("pastes that change the label (%)")
    ax.set_title(f"{size}x{size}: label changed, by placement\n"
                 "whiskers: 95% interval, bootstrap over windows (and 6s)", fontsize=10)


def plot_transplant_study(image: np.ndarray, study: dict[str, Any], flip_maps: dict[str, np.ndarray]
                          ) -> plt.Figure:
    """Top: per size, where on the example the sampled windows change the label, with the guided
    positions. Bottom: the label-changed rate of each placement, per scope, with its interval."""
    sizes = [str(s) for s in study["design"]["sizes"]]
    rates = study["rates"]
    fig, axes = plt.subplots(2, len(sizes), figsize=(6.4 * len(sizes), 12),
                             gridspec_kw={"hspace": 0.55, "wspace": 0.3})
    for ax, s in zip(axes[0], sizes):
        flip_panel(fig, ax, image, flip_maps[s], int(s), {g: rates["example"][s][g]["positions"] for g in GUIDES},
                   study["design"]["windows_per_size"])
    for ax, s in zip(axes[1], sizes):
        rates_panel(ax, rates, s)
    for row, below in ((0, -0.14), (1, -0.1)):
        axes[row, len(sizes) // 2].legend(fontsize=9, loc="upper center", bbox_to_anchor=(0.5, below),
                                          ncol=3, frameon=False)
    fig.suptitle("Problem 2 (3): windows of other digits pasted over a '6'. Top: where they change our "
                 "CNN's label on the example, and where each map sends them.\nBottom: how often each "
                 "placement changes it, on the example, other 6s and CNNs of other training seeds",
                 fontsize=12)
    return fig


def plot_adversarial(examples_adv: list[dict], examples_rel: list[dict], images_adv: np.ndarray,
                     images_rel: np.ndarray, judges: Sequence[str]) -> plt.Figure:
    """Top row: true adversarials (judges still say '6'); bottom row: honest relabellings."""
    k = max(len(examples_adv), len(examples_rel), 1)
    fig, axes = plt.subplots(2, k, figsize=(2.6 * k, 6.6), squeeze=False)
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
            ax.set_title(f"CNN: '{a['cnn_label']}' (p = {a['cnn_prob']:.2f})\njudges: {votes}\n"
                         f"{a['size']}x{a['size']} from test #{a['source_index']}", fontsize=8.5)
    axes[0, 0].set_ylabel("adversarial:\njudges still say '6'", fontsize=10)
    axes[1, 0].set_ylabel("honest relabelling:\njudges agree with the CNN", fontsize=10)
    fig.suptitle("Problem 2 (3): pasted windows (orange box) that change our CNN's label. Judges, in order: "
                 + ", ".join(judges), fontsize=10.5)
    fig.tight_layout()
    return fig


def plot_attacks(image: np.ndarray, shown: dict[str, np.ndarray], comparison: dict[str, Any],
                 judges: Sequence[str]) -> plt.Figure:
    """Each kind of attack on the same '6': the image (top) and the change from the original (bottom)."""
    names = [n for n in ATTACK_NAMES if n in shown]
    fig, axes = plt.subplots(2, len(names) + 1, figsize=(3.3 * (len(names) + 1), 7.2), squeeze=False)
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
            said = f"one of {row['success']['k']} flipping windows\njudges' votes not '6': {100 * row['transfer']:.0f}%"
            what = f"medians over the {row['success']['k']}"
        else:
            said = f"CNN: '{label}'; judges: {' '.join(map(str, row['judge_labels']))}"
            what = "change"
        axes[0, j].set_title(f"{title}\n{said}", fontsize=9.5)
        im = axes[1, j].imshow(shown[name] - image, cmap="RdBu_r", vmin=-1, vmax=1)
        axes[1, j].set_title(f"{what}: L0 = {row['l0']:g},\nL2 = {row['l2']:.2f}, L∞ = {row['linf']:.2f}",
                             fontsize=9)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    fig.colorbar(im, ax=axes[1, :], fraction=0.02, pad=0.02, label="pixel change (attacked − original)")
    fig.suptitle("Problem 2 (3): other kinds of adversarial images on the same '6' (top), and the change "
                 f"from the original (bottom)\njudges, in order: {', '.join(judges)}", fontsize=11)
    return fig
