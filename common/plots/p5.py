"""Problem 5's figure: each step's contribution to ∂L/∂b^f; returns a Figure, drawn from the array it is given."""
from __future__ import annotations

from typing import Any

import numpy as np

from common.core.text import sig
from common.plots.backend import plt


def plot_contributions(da_f: np.ndarray) -> Any:
    """Bar chart of each step's contribution ∂L/∂a_f(t) to ∂L/∂b^f, per unit, with the sum. da_f (T, H)."""
    T, H = da_f.shape
    labels = [f"t = {t + 1}" for t in range(T)] + [r"sum = $\partial L/\partial b^f$"]
    values = np.vstack([da_f, da_f.sum(axis=0)])
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    width = 0.8 / H
    for i in range(H):
        pos = np.arange(T + 1) + (i - (H - 1) / 2) * width
        bars = ax.bar(pos, values[:, i], width, label=rf"unit {i + 1}: $\partial L/\partial b^f_{i + 1}$")
        ax.bar_label(bars, labels=[sig(v, 3) for v in values[:, i]], fontsize=9, padding=2)
    ax.axhline(0.0, color="black", lw=0.8)
    ax.set_xticks(np.arange(T + 1), labels)
    ax.set_ylabel(r"$\partial L/\partial a_f(t)$ (forget-gate pre-activation)")
    ax.margins(y=0.15)
    ax.set_title(r"Problem 5: each step's contribution to $\partial L/\partial b^f$ (BPTT)")
    ax.legend(loc="upper left")
    return fig
