"""Problem 3's figure: the unrolled RNN with every value of the forward and backward pass; returns a
Figure, drawn from the arrays it is given."""
from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np
from matplotlib.patches import FancyBboxPatch

from common.core.text import sig
from common.plots.backend import plt


def draw_box(ax: plt.Axes, cx: float, cy: float, text: str, w: float, hgt: float, color: str) -> None:
    """A rounded box of width w and height hgt centred at (cx, cy), with `text` in it."""
    ax.add_patch(FancyBboxPatch(
        (cx - w / 2, cy - hgt / 2), w, hgt, boxstyle="round,pad=0.05", fc=color, ec="black"))
    ax.text(cx, cy, text, ha="center", va="center", fontsize=8.5)


def draw_arrow(ax: plt.Axes, x0: float, y0: float, x1: float, y1: float, color: str = "black",
               ls: str = "-") -> None:
    ax.annotate("", (x1, y1), (x0, y0),
                arrowprops=dict(arrowstyle="-|>", color=color, lw=1.6, ls=ls, mutation_scale=16))


def v(arr: np.ndarray) -> str:
    return sig(arr, 4)  # 4 significant digits keep the boxes readable


def plot_unrolled(x: np.ndarray, h0: np.ndarray, a: np.ndarray, h: np.ndarray, yhat: np.ndarray, loss: float,
                  do: np.ndarray, dh: np.ndarray, da: np.ndarray, b: np.ndarray, log: str) -> Any:
    """Draw the unrolled RNN: forward values in black; ∂L/∂o(t), ∂L/∂h(t), the ∂L/∂h(t + 1) reaching
    h(t) through Wᵀ diag(1 − h(t + 1)²) and the ∂L/∂a(t) flowing into b (their sum is ∂L/∂b) in red. Arrays are (T, ·) as in the forward and backward passes."""
    T = len(x)
    col = [2.2 + 4.6 * t for t in range(T + 1)]  # column 0 is h(0), column t is step t
    y_x, y_h, y_o, y_b = 2.6, 5.6, 8.6, 0.5
    fig, ax = plt.subplots(figsize=(12.6, 8.4))  # about 0.6 inch per horizontal axis unit
    ax.set_xlim(0, col[-1] + 5.0)
    ax.set_ylim(-0.2, 9.7)
    ax.axis("off")

    box, arrow = partial(draw_box, ax), partial(draw_arrow, ax)

    box(col[0], y_h, "h(0)\n" + v(h0), 2.2, 1.0, "#e8eef7")
    for t in range(T):
        c = col[t + 1]
        box(c, y_x, f"x({t + 1})\n{v(x[t])}", 2.4, 1.0, "#eaf5ea")
        box(c, y_h, f"a({t + 1}) = {v(a[t])}\nh({t + 1}) = {v(h[t])}\n\n", 3.6, 1.5, "#e8eef7")
        ax.text(c, y_h - 0.42, f"∂L/∂h({t + 1})\n{v(dh[t])}", ha="center", va="center", fontsize=8.5,
                color="tab:red")
        box(c, y_o, f"ŷ({t + 1}) = {v(yhat[t])}", 3.6, 0.8, "#fbefe2")
        arrow(c, y_x + 0.55, c, y_h - 0.7)
        ax.text(c - 0.15, (y_x + y_h) / 2, "U", ha="right", va="center", fontsize=10, style="italic")
        arrow(c, y_h + 0.7, c, y_o - 0.45)
        ax.text(c - 0.15, (y_h + y_o) / 2, "V, c,\nsoftmax", ha="right", va="center", fontsize=8)
        ax.text(c + 0.15, (y_h + y_o) / 2, f"∂L/∂o({t + 1})\n{v(do[t])}", ha="left", va="center",
                fontsize=8, color="tab:red")
        left = col[t] + (1.15 if t == 0 else 1.85)
        arrow(left, y_h, c - 1.85, y_h)
        ax.text((left + c - 1.85) / 2, y_h + 0.15, "W", ha="center", va="bottom", fontsize=10, style="italic")
        if t > 0:  # backward: ∂L/∂a(t+1) reaches h(t) through Wᵀ
            arrow(c - 1.85, y_h - 0.35, left, y_h - 0.35, color="tab:red", ls="--")
            ax.text((left + c - 1.85) / 2 + 0.3, y_h - 0.85, "Wᵀ diag(1−h²)", ha="center", va="top", fontsize=8,
                    color="tab:red")
        # backward: ∂L/∂a(t) flows into b, through a gap between the x boxes
        gx = c + 1.35
        arrow(gx, y_h - 0.7, gx, y_b + 0.45, color="tab:red", ls="--")
        ax.text(gx + 0.12, (y_x + y_h) / 2 - 0.55, f"∂L/∂a({t + 1})\n{v(da[t])}", ha="left", va="center",
                fontsize=8, color="tab:red")
    box(col[-1] + 3.4, y_o, f"L = {sig(loss, 4)}", 1.6, 0.8, "#f7e1e1")
    arrow(col[-1] + 1.85, y_o, col[-1] + 2.55, y_o)
    log_name = "log" if log == "e" else f"log{log}"
    ax.text(col[-1] + 3.4, y_o - 0.6, f"(ŷ1(3) − 0.5)² − {log_name} ŷ2(3)", ha="center", va="top", fontsize=8)
    sum_text = f"b = {v(b)}        ∂L/∂b = Σ_t ∂L/∂a(t) = {v(da.sum(axis=0))}"
    box((col[1] + col[-1]) / 2 + 1.35, y_b, sum_text, col[-1] - col[1] + 1.6, 0.8, "#f7e1e1")
    ax.text(col[0], y_b, "values: black\n∂L/∂·: red", ha="center", va="center", fontsize=8)
    ax.set_title(f"Problem 3: the RNN unrolled for τ = {T}, with h(0) = {v(h0)} "
                 "(4 significant digits)", fontsize=10)
    return fig
