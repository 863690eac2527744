"""Problem 4's figures, drawn from experiment 1's curves and experiment 2's accuracy grid; each
helper returns a Figure that p4_experiments.py saves."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from common.esn import DECOY, MOTIF
from common.longseq import DECAY, FAR, GradientCurve, tail_share_curve
from common.plotting import plt


def short_label(name: str) -> str:
    """'RNN ρ = 0.9' → 'ρ = 0.9', 'LSTM forget bias +3' → 'forget bias +3' (the legend title says which)."""
    return name.removeprefix("RNN ").removeprefix("RNN, ").removeprefix("LSTM ")


def plot_gradient_decay(draws: Sequence[dict[str, GradientCurve]],
                        limits: tuple[float, float] = (1e-80, 1e80)) -> Any:
    """Two panels (RNN, LSTM) of ‖∂L/∂h(τ−k)‖ / ‖∂L/∂h(τ)‖ against the lag k, on a log scale.

    The first draw is drawn solid and labelled, the others thin. Values above `limits` leave the
    axes; where the first draw does, its largest value is written at the edge.
    """
    fig, axes = plt.subplots(1, 2, figsize=(14, 5.6), sharey=True)
    colors = plt.get_cmap("tab10")
    T = len(next(iter(draws[0].values())).dh_norm)
    lags = np.arange(T)
    for ax, kind in zip(axes, ("RNN", "LSTM")):
        names = [n for n in draws[0] if n.startswith(kind)]
        for i, name in enumerate(names):
            for d, curves in enumerate(draws):
                cv = curves[name]
                first = d == 0
                with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                    ratio = cv.dh_norm / cv.dh_norm[0]
                keep = (ratio > 0) & np.isfinite(ratio)  # exact zeros (float64 underflow) cannot be drawn on a log axis
                ax.plot(lags[keep], np.minimum(ratio[keep], limits[1] * 10), color=colors(i),
                        lw=1.6 if first else 0.7, alpha=1.0 if first else 0.45,
                        label=short_label(name) + ("" if kind == "RNN" else ": ‖∂L/∂h‖") if first else None)
                if cv.forget_path is not None:
                    fp = cv.forget_path
                    ax.plot(lags[fp > 0], fp[fp > 0], color=colors(i), lw=1.2 if first else 0.6, ls="--",
                            alpha=1.0 if first else 0.45,
                            label=short_label(name) + ": diag(f) path alone, max_i Π f_i" if first else None)
                if first and ratio[keep].max() > limits[1]:
                    k = int(np.argmax(ratio > limits[1]))
                    ax.annotate(f"{name}: off the scale from lag {k},\nup to {ratio[keep].max():.0e}",
                                (k, limits[1]), xytext=(k + 0.05 * T, limits[1] / 1e15), fontsize=8.5,
                                color=colors(i), arrowprops=dict(arrowstyle="->", color=colors(i)))
        ax.axhline(DECAY, color="black", lw=0.8, ls="--")
        # below the line, where no curve of this seed passes (RNN: just right of the steep curves)
        x_text, align = (0.16 * T, "left") if kind == "RNN" else (0.99 * T, "right")
        ax.text(x_text, DECAY / 10, "1e-6 of the value at τ", ha=align, va="top", fontsize=9)
        ax.axvline(FAR, color="gray", lw=0.8, ls=":")
        ax.text(FAR + 0.01 * T, limits[0] * 1e5, f"lag {FAR}", fontsize=9, color="gray")
        ax.set_yscale("log")
        ax.set_ylim(*limits)
        ax.set_xlim(0, T - 1)
        ax.set_xlabel("lag τ − t (steps before the loss)")
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(fontsize=9, loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=2, frameon=False,
                  title="RNN: ‖∂L/∂h(t)‖ / ‖∂L/∂h(τ)‖" if kind == "RNN" else "LSTM", title_fontsize=9)
    axes[0].set_ylabel(r"$\|\partial L/\partial h(t)\| \;/\; \|\partial L/\partial h(\tau)\|$ (log scale)")
    axes[0].set_title("Vanilla RNN, W rescaled to spectral radius ρ; and Problem 3's W")
    axes[1].set_title("LSTM, forget-gate bias 0, +1, +3 (dashed: the diag(f) path alone)")
    fig.suptitle(f"Experiment 1: gradient of a loss on the last step, back through T = {T} one-hot protein "
                 f"letters; {len(draws)} draws (first solid, others thin); a curve stops where it underflows "
                 "to 0", fontsize=11.5)
    return fig


def plot_dW_share(draws: Sequence[dict[str, GradientCurve]], floor: float = 1e-60) -> Any:
    """Share of ∂L/∂W (Σ of per-step term norms) from lags > k, against k, log scale; first draw
    solid and labelled with its value at k = FAR, the others thin."""
    fig, ax = plt.subplots(figsize=(10, 5.4))
    colors = plt.get_cmap("tab10")
    for i, name in enumerate(draws[0]):
        for d, curves in enumerate(draws):
            cv = curves[name]
            if not np.all(np.isfinite(cv.dW_step)):
                continue
            share = tail_share_curve(cv.dW_step)
            k = np.arange(len(share))
            keep = share > 0
            label = f"{name}: {share[FAR]:.1e}" if d == 0 and len(share) > FAR else None
            ax.plot(k[keep], share[keep], color=colors(i), ls=":" if name.startswith("LSTM") else "-",
                    lw=1.6 if d == 0 else 0.7, alpha=1.0 if d == 0 else 0.45, label=label)
    ax.axvline(FAR, color="gray", lw=0.8, ls="--")
    ax.set_yscale("log")
    ax.set_ylim(floor, 30.0)
    ax.set_xlim(0, None)
    ax.set_xlabel("k (steps before the loss)")
    ax.set_ylabel(r"share of $\partial L/\partial W$ from steps with lag > k (log scale)")
    ax.set_title(r"Experiment 1: where $\partial L/\partial W = \Sigma_t\, \partial L/\partial a(t)\, h(t-1)^\top$"
                 r" comes from" "\n" r"share = $\Sigma_{\mathrm{lag}>k}\,\|$step term$\|_F\, /\, \Sigma_{\mathrm{all}}\,"
                 r"\|$step term$\|_F$; LSTM dotted (its 4 stacked W's)", fontsize=11)
    ax.legend(fontsize=8.5, loc="center left", bbox_to_anchor=(1.01, 0.5),
              title=f"share beyond k = {FAR} (first draw)", title_fontsize=9)
    ax.grid(True, which="major", alpha=0.3)
    return fig


def plot_esn(grid: dict[str, Any], lengths: Sequence[int], rhos: Sequence[float], n_test: int) -> Any:
    """Held-out accuracy against spectral radius (one line per length) and against length (one per ρ)."""
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.8))
    colors = plt.get_cmap("tab10")
    for i, T in enumerate(lengths):
        pooled = [grid["pooled"][str(T)][f"{r:g}"] for r in rhos]
        final = [grid["final_state"][str(T)][f"{r:g}"] for r in rhos]
        axes[0].plot(rhos, pooled, "o-", color=colors(i), label=f"T = {T}, pooled states h̄")
        axes[0].plot(rhos, final, "x--", color=colors(i), alpha=0.6, label=f"T = {T}, final state h(τ)")
    for j, r in enumerate(rhos):
        axes[1].plot(lengths, [grid["pooled"][str(T)][f"{r:g}"] for T in lengths], "o-", color=colors(j + 3),
                     label=f"ρ = {r:g}")
    for ax in axes:
        ax.axhline(0.5, color="black", lw=0.8, ls="--")
        ax.set_ylim(0.3, 1.02)
        ax.set_ylabel(f"held-out accuracy ({n_test} sequences)")
        ax.grid(True, alpha=0.3)
    axes[0].text(0.25, 0.485, "chance = 0.5", ha="center", va="top", fontsize=9)
    axes[0].set_xlabel("spectral radius ρ of the fixed W")
    axes[0].set_title("Accuracy against spectral radius")
    axes[0].legend(fontsize=8, loc="lower center", ncol=2)
    axes[1].set_xscale("log")
    axes[1].set_xticks(list(lengths), [str(T) for T in lengths])
    axes[1].minorticks_off()
    axes[1].set_xlabel("sequence length T (log scale)")
    axes[1].set_title("Accuracy against sequence length (pooled states)")
    axes[1].legend(fontsize=8, loc="lower left", ncol=2)
    fig.suptitle(f"Experiment 2: echo state network, only V, c trained (ridge); task: '{MOTIF}' vs "
                 f"'{DECOY}' planted in a random sequence (same letters, only the order differs)", fontsize=11)
    return fig


# ---------------------------------------------------------------------------------------------
# Report and CLI.
