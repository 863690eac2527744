"""Problem 4's figures, drawn from experiment 1's curves and experiment 2's accuracy grid; each
helper returns a Figure that p4_experiments.py saves."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from common.plots.backend import plt
from common.recurrent.esn import DECOY, MOTIF
from common.recurrent.longseq import DECAY, FAR, GradientCurve


def short_label(name: str) -> str:
    """'RNN ρ = 0.9' → 'ρ = 0.9', 'LSTM forget bias +3' → 'forget bias 3' (the legend title says which;
    the bias is the forget gate's b^f in every unit)."""
    return name.removeprefix("RNN ").removeprefix("RNN, ").removeprefix("LSTM ").replace("bias +", "bias ")


def log_ratio_band(curves: Sequence[GradientCurve]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pointwise median, min and max over the draws of log10(‖∂L/∂h(τ−k)‖ / ‖∂L/∂h(τ)‖), (T,) each;
    −inf where a draw underflowed to 0, +inf where it overflowed."""
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        logs = np.array([np.log10(cv.dh_norm / cv.dh_norm[0]) for cv in curves])
    logs = np.where(np.isnan(logs), np.inf, logs)
    return np.median(logs, axis=0), logs.min(axis=0), logs.max(axis=0)


def draw_decay_panel(ax: Any, draws: Sequence[dict[str, GradientCurve]], kind: str,
                     limits: tuple[float, float]) -> None:
    """One panel of plot_gradient_decay: median line and min-max band of each curve of `kind`."""
    colors = plt.get_cmap("tab10")
    lo, hi = np.log10(limits[0]), np.log10(limits[1])
    names = [n for n in draws[0] if n.startswith(kind)]
    T = len(draws[0][names[0]].dh_norm)
    lags = np.arange(T)
    for i, name in enumerate(names):
        med, low, high = log_ratio_band([d[name] for d in draws])
        shown = med > lo
        ax.fill_between(lags, 10 ** np.clip(low, lo, hi + 1), 10 ** np.clip(high, lo, hi + 1),
                        color=colors(i), alpha=0.2, lw=0)
        ax.plot(lags[shown], 10 ** np.minimum(med[shown], hi + 1), color=colors(i), lw=1.8,
                label=short_label(name) + ("" if kind == "RNN" else ": ‖∂L/∂h‖"))
        if draws[0][name].forget_path is not None:
            fp = np.median([d[name].forget_path for d in draws], axis=0)
            ax.plot(lags[fp > 0], fp[fp > 0], color=colors(i), lw=1.4, ls="--",
                    label=short_label(name) + ": diag(f) path alone")
        if np.any(med > hi):
            k = int(np.argmax(med > hi))
            ax.annotate(f"{short_label(name)} leaves the axes at lag {k}\n(median reaches "
                        f"1e{np.max(med[np.isfinite(med)]):.0f})", (k, limits[1]),
                        xytext=(k + 0.08 * T, limits[1] / 1e25), fontsize=8, color=colors(i),
                        arrowprops=dict(arrowstyle="->", color=colors(i)))
    ax.axhline(DECAY, color="black", lw=0.8, ls="--", label="1e-6 of the value at τ")
    ax.axvline(FAR, color="gray", lw=0.8, ls=":")
    ax.text(FAR + 0.01 * T, limits[0] * 1e5, f"lag {FAR}", fontsize=8, color="gray")
    ax.set_yscale("log")
    ax.set_ylim(*limits)
    ax.set_xlim(0, T - 1)
    ax.set_xlabel("lag τ − t (steps before the loss)", fontsize=9)
    ax.grid(True, which="major", alpha=0.3)
    ax.tick_params(labelsize=8)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=1 if kind == "LSTM" else 2,
              frameon=False)


def plot_gradient_decay(draws: Sequence[dict[str, GradientCurve]],
                        limits: tuple[float, float] = (1e-80, 1e80)) -> Any:
    """Two panels (RNN, LSTM) of ‖∂L/∂h(τ−k)‖ / ‖∂L/∂h(τ)‖ against the lag k, log scale: the median
    over the draws as a line, their range as a band."""
    fig, axes = plt.subplots(1, 2, figsize=(10.4, 5.6), sharey=True)
    for ax, kind in zip(axes, ("RNN", "LSTM")):
        draw_decay_panel(ax, draws, kind, limits)
    T = len(next(iter(draws[0].values())).dh_norm)
    axes[0].set_ylabel(r"$\|\partial L/\partial h(t)\| \;/\; \|\partial L/\partial h(\tau)\|$ (log scale)",
                       fontsize=9)
    axes[0].set_title("RNN: W rescaled to ρ; Problem 3's W", fontsize=10)
    biases = ", ".join(short_label(n).removeprefix("forget bias ") for n in draws[0] if n.startswith("LSTM"))
    axes[1].set_title(f"LSTM, forget-gate bias $b^f$ = {biases} in every unit", fontsize=10)
    fig.suptitle(f"Gradient of a loss on the last of T = {T} steps against the lag\n"
                 f"line: median of {len(draws)} draws; band: their range", fontsize=11, y=1.02)
    return fig


def plot_far_share(names: Sequence[str], W_shares: Sequence[Sequence[float | None]],
                   b_shares: Sequence[Sequence[float | None]], far: int, floor: float = 1e-60) -> Any:
    """One row per network: each draw's share of ∂L/∂W (dots) and of ∂L/∂b (rings) from steps more
    than `far` before the loss, on a log axis, and their median (bar). Shares below `floor` sit at
    the floor as triangles; None (an overflowed term) is left out."""
    fig, ax = plt.subplots(figsize=(10, 0.5 * len(names) + 1.6))
    rows = np.arange(len(names))[::-1]
    for row, W, b in zip(rows, W_shares, b_shares):
        for values, offset, style in ((W, 0.12, dict(marker="o", color="tab:blue")),
                                      (b, -0.12, dict(marker="o", mfc="none", color="tab:orange"))):
            v = np.array([x for x in values if x is not None], dtype=float)
            low = v < floor
            ax.plot(np.maximum(v[~low], floor), np.full((~low).sum(), row + offset), ls="none", ms=6, **style)
            ax.plot(np.full(low.sum(), floor), np.full(low.sum(), row + offset), ls="none", ms=7,
                    marker="<", color=style["color"])
            if low.any() and offset > 0:
                ax.text(floor * 30, row, f"{low.sum()} of {v.size} below {floor:.0e} (smallest {v.min():.0e})", va="center", fontsize=8.5)
            if v.size:
                ax.plot([max(np.median(v), floor)] * 2, [row + offset - 0.1, row + offset + 0.1],
                        color="black", lw=2)
    ax.plot([], [], "o", color="tab:blue", label="∂L/∂W, one dot per draw")
    ax.plot([], [], "o", mfc="none", color="tab:orange", label="∂L/∂b (= ∂L/∂U's share), one ring per draw")
    ax.plot([], [], "|", color="black", ms=10, mew=2, label="median over the draws")
    ax.plot([], [], "<", color="gray", label=f"below {floor:.0e}")
    ax.set_xscale("log")
    ax.set_xlim(floor / 10, 10.0)
    ax.set_xticks(10.0 ** np.arange(np.log10(floor), 1, 10))
    ax.minorticks_off()
    ax.set_yticks(rows, [n.replace("RNN, ", "RNN ") for n in names])
    ax.set_ylim(-0.6, len(names) - 0.4)
    ax.set_xlabel(f"share of the gradient from steps more than {far} before the loss (log scale)")
    ax.set_title(f"Where the gradients of W and b come from: the share from steps more than {far} before "
                 f"the loss\n(Σ over lags > {far} of ‖step term‖, over Σ of all; {len(W_shares[0])} draws)",
                 fontsize=11)
    ax.grid(True, axis="x", which="major", alpha=0.3)
    ax.legend(fontsize=8.5, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, frameon=False)
    return fig


def plot_gain(gain: dict[str, Any]) -> Any:
    """Three panels of the per-step gain λ of the backward product: against ρ(W); against σ_U and
    against σ_b at each fixed ρ(W), with W's own gain ln ρ(W) as a dotted ceiling. Median over the
    draws as a line, range as a band."""
    fig, axes = plt.subplots(1, 3, figsize=(10.4, 4.2), sharey=True)
    colors = plt.get_cmap("tab10")
    draws = gain["draws"]

    def band(ax: Any, x: Sequence[float], per_draw: list[list[float | None]], **style: Any) -> None:
        vals = np.array([[np.nan if v is None else v for v in d] for d in per_draw], dtype=float)
        ax.fill_between(x, np.nanmin(vals, axis=0), np.nanmax(vals, axis=0), alpha=0.2, lw=0,
                        color=style["color"])
        ax.plot(x, np.nanmedian(vals, axis=0), "o-", **style)

    band(axes[0], gain["rhos"], [d["W"] for d in draws], color="black", label=f"measured (U's entries of size {gain['input_scale']:g})")
    axes[0].plot(gain["rhos"], np.log(gain["rhos"]), ":", color="gray", label="ln ρ(W): W alone, no tanh′")
    axes[0].set_xlabel("ρ(W): W's largest eigenvalue in size", fontsize=9)
    axes[0].set_title("moving W", fontsize=10)
    for ax, p in zip(axes[1:], ("U", "b")):
        for i, r in enumerate(gain["base_rhos"]):
            key = f"{r:g}"
            band(ax, gain["spreads"], [d[p][key] for d in draws], color=colors(i), label=f"ρ(W) = {r:g}")
            ax.axhline(np.log(r), color=colors(i), ls=":", lw=1.2)
        ax.plot([], [], ":", color="gray", label="ln ρ(W): W alone")
        ax.set_xlabel(f"typical size of {p}'s entries (their spread σ_{p})", fontsize=9)
        ax.set_title(f"moving {p}, W fixed", fontsize=10)
    for ax in axes:
        ax.axhline(0.0, color="black", lw=0.8)
        ax.grid(True, alpha=0.3)
        ax.tick_params(labelsize=8)
        ax.legend(fontsize=8, loc="lower left")
    axes[0].set_ylabel(f"ln of the gradient's growth per step (last {gain['lag']} steps)\n"
                       "below 0: it fades; above 0: it grows", fontsize=9)
    fig.suptitle(f"How fast the gradient ∂L/∂h(t) fades or grows per step as W, U or b gets larger "
                 f"({gain['T']} steps, {gain['H']} units)\n"
                 f"line: median of {len(draws)} random networks; band: lowest to highest", fontsize=11, y=1.04)
    return fig


def plot_esn(grid: dict[str, Any], lengths: Sequence[int], rhos: Sequence[float], n_test: int) -> Any:
    """Held-out accuracy against spectral radius (one line per length) and against length (one per ρ)."""
    fig, axes = plt.subplots(1, 2, figsize=(10.4, 4.6))
    colors = plt.get_cmap("tab10")
    for i, T in enumerate(lengths):
        pooled = [grid["pooled"][str(T)][f"{r:g}"] for r in rhos]
        final = [grid["final_state"][str(T)][f"{r:g}"] for r in rhos]
        axes[0].plot(rhos, pooled, "o-", color=colors(i), label=f"T = {T}, average state")
        axes[0].plot(rhos, final, "x--", color=colors(i), alpha=0.6, label=f"T = {T}, last state")
    for j, r in enumerate(rhos):
        axes[1].plot(lengths, [grid["pooled"][str(T)][f"{r:g}"] for T in lengths], "o-", color=colors(j + 3),
                     label=f"ρ = {r:g}")
    for ax in axes:
        ax.axhline(0.5, color="black", lw=0.8, ls="--")
        ax.set_ylim(0.3, 1.02)
        ax.set_ylabel(f"test accuracy ({n_test} new sequences)", fontsize=9)
        ax.grid(True, alpha=0.3)
        ax.tick_params(labelsize=8)
    axes[0].text(0.25, 0.485, "chance = 0.5", ha="center", va="top", fontsize=8)
    axes[0].set_xlabel("spectral radius ρ of the fixed W", fontsize=9)
    axes[0].set_title("against ρ", fontsize=10)
    axes[0].legend(fontsize=8, loc="lower center", ncol=2)
    axes[1].set_xscale("log")
    axes[1].set_xticks(list(lengths), [str(T) for T in lengths])
    axes[1].minorticks_off()
    axes[1].set_xlabel("sequence length T (log scale)", fontsize=9)
    axes[1].set_title("against T (average state)", fontsize=10)
    axes[1].legend(fontsize=8, loc="lower left", ncol=2)
    fig.suptitle(f"Echo state network: U, W, b fixed, V, c fitted by least squares (with a small weight penalty)\n"
                 f"'{MOTIF}' or '{DECOY}' planted in random letters (only the order differs)", fontsize=11, y=1.03)
    return fig


# ---------------------------------------------------------------------------------------------
# Report and CLI.
