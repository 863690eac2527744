"""Problem 1: what a 3-conv CNN trained on MNIST has learned, and whether it survives 3-pixel shifts.

Answers (1) the filters of conv1-conv3 as images, (2) the conv3 feature maps of a '0' and an '8' and
the channels that tell them apart, (3) the prediction for a '1' shifted 3 pixels left and right
with clamp padding, and the accuracy of the whole test split against horizontal shift.
The network, its training recipe and the layer capture live in common/cnn.py; MNIST loading and
the clamp-padded shift live in common/data.py. This script holds the analysis and the plots.

    python p1_cnn_filters.py                       # uses/trains checkpoints/cnn-<source>.pt
    python p1_cnn_filters.py --index-one 5 --data mnist5k

Expected output (offline, mnist5k, seed 0): train accuracy 99.7%, test 98.6%; the '1' stays a '1'
when shifted 3 px either way; test accuracy stays above 97% for shifts within +-3 px and falls
off beyond. Writes figures/p1_*.png and figures/p1_results.json.
Runtime on 2 CPU cores: about 6 s with a cached checkpoint (about 10 s more to train one).
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import NamedTuple, Sequence

import numpy as np
import torch

from common.cli import FIGURES, Parser, run, save_figure, versions, write_json_atomic
from common.cnn import (CONV_LAYERS, add_cnn_arguments, capture, load_cnn, pick_correct,
                        predict_proba)
from common.data import MNISTData, load_mnist, shift
from common.plotting import plt

SHIFTS = tuple(range(-6, 7))
INTERPRETATION = (
    "The conv3 feature maps are the third conv layer's output after its batch norm and ReLU, "
    "i.e. what the rest of the network receives (the raw convolution differs from it by a "
    "per-channel affine map and a clip at 0). Shifts use clamp (replicate) padding: a pixel "
    "shifted in from outside takes the value of the nearest valid pixel; dx > 0 moves right. "
    "Each digit is the first correctly classified one of its class in the test split unless "
    "an --index-* flag picks another.")
TOP_CHANNELS = 6
INK_GAP = 0.1  # mean-ink difference that counts as 'one digit has a stroke there'
DIGITS = {"zero": 0, "eight": 8, "one": 1}


# ----------------------------------------------------------------------------- (1)-(3) analysis
def pick_examples(labels: torch.Tensor, pred: torch.Tensor, flags: dict[str, int | None]
                  ) -> tuple[dict[str, int], dict[str, str]]:
    """Test indices of the '0', '8' and '1' (first correct one, or the --index-* flag) and why."""
    index = {name: pick_correct(labels, pred, digit, flags[name], f"--index-{name}")
             for name, digit in DIGITS.items()}
    chosen_by = {name: f"--index-{name}" if flags[name] is not None else
                 "the first correctly classified one in the test split" for name in DIGITS}
    return index, chosen_by


def conv_weights(model: torch.nn.Module) -> dict[str, np.ndarray]:
    """(1) The kernels [O, I, k, k] of each conv layer."""
    return {name: model.get_submodule(name).weight.detach().numpy() for name in CONV_LAYERS}


def discriminant_channels(pooled_zero: torch.Tensor, pooled_eight: torch.Tensor) -> np.ndarray:
    """Standardised mean difference (Cohen's d) per channel of pooled activations, 8 minus 0.

    pooled_*: [N, C] spatial means of each channel. d = (mean_8 - mean_0) / pooled std.
    """
    m0, m8 = pooled_zero.double().mean(0), pooled_eight.double().mean(0)
    v0, v8 = pooled_zero.double().var(0), pooled_eight.double().var(0)
    n0, n8 = len(pooled_zero), len(pooled_eight)
    pooled_std = (((n0 - 1) * v0 + (n8 - 1) * v8) / (n0 + n8 - 2)).sqrt()
    return ((m8 - m0) / pooled_std.clamp_min(1e-12)).numpy()


def region_name(row: int, col: int, size: int) -> str:
    """Plain-words location of a cell in a size x size map (e.g. 'upper left', 'centre')."""
    third = size / 3
    v = ("upper", "middle", "lower")[min(2, int(row // third))]
    h = ("left", "centre", "right")[min(2, int(col // third))]
    if v == "middle" and h == "centre":
        return "centre"
    return f"{v} {h}" if v != "middle" else f"middle {h}"


def describe_channel(channel: int, d: float, mean_map_zero: np.ndarray, mean_map_eight: np.ndarray,
                     ink_zero: np.ndarray, ink_eight: np.ndarray) -> dict:
    """Where a channel separates 0s from 8s, and what the digits' ink does there.

    mean_map_*: [7, 7] class-mean activation; ink_*: [28, 28] class-mean pixel value. Conv3 cell
    (r, c) is centred on input pixels 4r+1.5, 4c+1.5 (two 2x pools); the ink is averaged over the
    8x8 pixels around that point, the core of the cell's 18-pixel receptive field.
    """
    favours = 8 if d > 0 else 0
    diff = (mean_map_eight - mean_map_zero) * np.sign(d)
    r, c = (int(v) for v in np.unravel_index(int(np.argmax(diff)), diff.shape))
    rows, cols = slice(max(0, 4 * r - 2), 4 * r + 6), slice(max(0, 4 * c - 2), 4 * c + 6)
    ink0, ink8 = float(ink_zero[rows, cols].mean()), float(ink_eight[rows, cols].mean())
    where = region_name(r, c, diff.shape[0])
    text = (f"channel {channel} is active for {favours}s (d = {d:+.2f}), most at the {where} "
            f"(around pixel row {4 * r + 1.5:.0f}, column {4 * c + 1.5:.0f}), where the mean "
            f"ink is {ink8:.2f} for 8s and {ink0:.2f} for 0s")
    if abs(ink8 - ink0) >= INK_GAP:
        has, lacks = ("8s", "0s") if ink8 > ink0 else ("0s", "8s")
        text += f": it marks a place where {has} have a stroke and {lacks} do not"
        if where == "centre" and has == "8s":
            text += " (the crossing of an 8's loops is the hole of a 0)"
    else:
        text += ": both digits have similar ink there, so it reacts to the strokes' shape"
    return {"channel": channel, "d": d, "favours": favours, "peak_cell": [r, c],
            "region": where, "ink_zero": ink0, "ink_eight": ink8, "description": text}


def best_of_each(ranked: list[dict]) -> list[str]:
    """The description of the strongest channel favouring each digit."""
    return [next(r["description"] for r in ranked if r["favours"] == k)
            for k in (8, 0) if any(r["favours"] == k for r in ranked)]


def top_channels(d: np.ndarray, n: int) -> list[int]:
    """The n channels with the largest |d|, half from each sign when both signs occur."""
    pos = [int(i) for i in np.argsort(-d, kind="stable") if d[i] > 0]
    neg = [int(i) for i in np.argsort(d, kind="stable") if d[i] < 0]
    half = n // 2
    take_pos = pos[:max(half, n - len(neg[:half]))]
    take = take_pos + neg[:n - len(take_pos)]
    return sorted(take, key=lambda i: -abs(d[i]))


class FeatureMaps(NamedTuple):
    """(2) What the feature-map figures draw: the two digits, their conv3 maps, the class means."""

    img0: np.ndarray     # [28, 28] the '0'
    img8: np.ndarray     # [28, 28] the '8'
    maps0: np.ndarray    # [64, 7, 7] its conv3 maps
    maps8: np.ndarray
    mean0: np.ndarray    # [64, 7, 7] mean conv3 maps over the correct test 0s
    mean8: np.ndarray
    ink0: np.ndarray     # [28, 28] mean image of the correct test 0s
    ink8: np.ndarray


def analyse_feature_maps(model: torch.nn.Module, test: MNISTData, pred: torch.Tensor,
                         index: dict[str, int]) -> tuple[dict, FeatureMaps]:
    """(2) Rank conv3 channels by how well they separate the correct test 0s from the 8s."""
    correct = pred == test.labels
    zeros = test.images[(test.labels == 0) & correct]
    eights = test.images[(test.labels == 8) & correct]
    # The conv3 layer's output after its batch norm and ReLU ("act3"): what the classifier sees.
    maps_zero, maps_eight = capture(model, zeros, ["act3"])["act3"], capture(model, eights, ["act3"])["act3"]
    ex = capture(model, test.images[[index["zero"], index["eight"]]], ["act3"])["act3"].numpy()
    d = discriminant_channels(maps_zero.mean((2, 3)), maps_eight.mean((2, 3)))
    fm = FeatureMaps(test.images[index["zero"], 0].numpy(), test.images[index["eight"], 0].numpy(),
                     ex[0], ex[1], maps_zero.mean(0).numpy(), maps_eight.mean(0).numpy(),
                     zeros.mean(0)[0].numpy(), eights.mean(0)[0].numpy())
    ranked = [describe_channel(ch, float(d[ch]), fm.mean0[ch], fm.mean8[ch], fm.ink0, fm.ink8)
              for ch in top_channels(d, TOP_CHANNELS)]
    n_sep = int((np.abs(d) > 1).sum())
    answer = (f"Yes. Over all {len(zeros)} correctly classified test 0s and {len(eights)} 8s, "
              f"{n_sep} of {len(d)} conv3 channels separate the two digits with |d| > 1. For "
              "example, " + "; ".join(best_of_each(ranked)) + ".")
    return {"ranked": ranked, "n_sep": n_sep, "answer": answer}, fm


def shift_accuracy(model: torch.nn.Module, data: MNISTData, shifts: Sequence[int]
                   ) -> tuple[dict[int, float], dict[int, list[float]], dict[int, torch.Tensor]]:
    """Accuracy (overall and per class) and predictions of the test split shifted by dx pixels."""
    overall, per_class, preds = {}, {}, {}
    for dx in shifts:
        pred = predict_proba(model, shift(data.images, dx, 0)).argmax(1)
        correct = (pred == data.labels).double()
        overall[dx] = correct.mean().item()
        per_class[dx] = [correct[data.labels == k].mean().item() for k in range(10)]
        preds[dx] = pred
    return overall, per_class, preds


def classify_shifted_one(model: torch.nn.Module, one: torch.Tensor) -> tuple[dict, dict]:
    """(3) Prediction and probabilities of the '1' [1, 1, 28, 28] as is and shifted 3 px each way."""
    variants = {"original": one, "left3": shift(one, -3, 0), "right3": shift(one, 3, 0)}
    result = {}
    for key, img in variants.items():
        pr = predict_proba(model, img)[0]
        result[key] = {"pred": int(pr.argmax()), "probs": [float(v) for v in pr]}
    return result, {key: img[0, 0].numpy() for key, img in variants.items()}


def analyse_shift(model: torch.nn.Module, test: MNISTData, one: torch.Tensor) -> tuple[dict, dict]:
    """(3) The shifted '1', and the test split's accuracy against horizontal shift."""
    one_result, images = classify_shifted_one(model, one)
    overall, per_class, preds = shift_accuracy(model, test, SHIFTS)
    changed = {dx: float((preds[dx] != preds[0]).double().mean()) for dx in (-3, 3)}
    left, right = one_result["left3"], one_result["right3"]
    unchanged = left["pred"] == right["pred"] == 1
    answer = (f"The '1' is {'still' if unchanged else 'no longer'} classified as a 1 after a "
              f"3-pixel shift (left: {left['pred']} with p = {max(left['probs']):.3f}; right: "
              f"{right['pred']} with p = {max(right['probs']):.3f}). Over the whole test split, "
              f"accuracy is {100 * overall[0]:.1f}% unshifted, {100 * overall[-3]:.1f}% at 3 px "
              f"left and {100 * overall[3]:.1f}% at 3 px right; a 3-pixel shift changes "
              f"{100 * changed[-3]:.1f}% (left) and {100 * changed[3]:.1f}% (right) of the "
              f"predictions, and accuracy falls to {100 * overall[-6]:.1f}% / "
              f"{100 * overall[6]:.1f}% at 6 px. Two 2x max-pools give some, not full, "
              "translation invariance; the '1' class, a thin vertical stroke, is among the "
              f"most tolerant ({100 * per_class[-3][1]:.1f}% / {100 * per_class[3][1]:.1f}% "
              "at -3 / +3 px).")
    return {"one": one_result, "overall": overall, "per_class": per_class, "changed": changed,
            "answer": answer}, images


# ----------------------------------------------------------------------------- plots
def kernel_mosaic(weights: np.ndarray) -> np.ndarray:
    """Tile k x k arrays [O, I, k, k] into one image: row o, column i holds (o, i); NaN gaps."""
    o, i, k, _ = weights.shape
    mosaic = np.full((o * (k + 1) - 1, i * (k + 1) - 1), np.nan)
    for r in range(o):
        for c in range(i):
            mosaic[r * (k + 1):r * (k + 1) + k, c * (k + 1):c * (k + 1) + k] = weights[r, c]
    return mosaic


def plot_conv1(weights: np.ndarray) -> plt.Figure:
    """Each single-channel 3x3 conv1 kernel as its own image, with its weights written in."""
    n = weights.shape[0]
    lim = np.abs(weights).max()
    fig, axes = plt.subplots(2, n // 2, figsize=(n * 0.75, 3.6))
    for k, ax in enumerate(axes.flat):
        im = ax.imshow(weights[k, 0], cmap="RdBu_r", vmin=-lim, vmax=lim)
        for (r, c), v in np.ndenumerate(weights[k, 0]):
            ax.text(c, r, f"{v:.1f}", ha="center", va="center", fontsize=6)
        ax.set_title(f"filter {k}", fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.colorbar(im, ax=axes, shrink=0.8, label="weight")
    fig.suptitle("conv1: 16 filters, 1 input channel, 3x3 (red +, blue -)")
    return fig


def plot_mosaic(weights: np.ndarray, name: str) -> plt.Figure:
    """All kernels of a multi-channel conv layer: one row per filter, one column per input channel."""
    o, i, k, _ = weights.shape
    lim = np.abs(weights).max()
    mosaic = kernel_mosaic(weights)
    cmap = plt.get_cmap("RdBu_r").with_extremes(bad="white")
    height = min(14.0, 2 + o * 0.2)
    fig, ax = plt.subplots(figsize=(2 + i * 0.28, height))
    im = ax.imshow(mosaic, cmap=cmap, vmin=-lim, vmax=lim, interpolation="nearest")
    step = 4 if i <= 16 else 8
    ax.set_xticks([c * (k + 1) + 1 for c in range(0, i, step)], [str(c) for c in range(0, i, step)])
    ax.set_yticks([r * (k + 1) + 1 for r in range(0, o, 4)], [str(r) for r in range(0, o, 4)])
    ax.set_xlabel("input channel (feature map of the previous layer)")
    ax.set_ylabel("filter (output channel)")
    ax.set_title(f"{name}: all {o}x{i} kernels of size {k}x{k}, every input channel shown\n"
                 "(row = filter, column = input channel; red +, blue -)")
    fig.colorbar(im, ax=ax, shrink=0.6, label="weight")
    return fig


def plot_feature_maps(img0: np.ndarray, img8: np.ndarray, fm0: np.ndarray, fm8: np.ndarray
                      ) -> plt.Figure:
    """Digit + 64-channel conv3 grid for a '0' and an '8' (shared scale), then their difference."""
    c = fm0.shape[0]
    side = int(np.ceil(np.sqrt(c)))
    vmax = max(fm0.max(), fm8.max())
    dlim = np.abs(fm8 - fm0).max()
    fig = plt.figure(figsize=(16, 6.2))
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
        a.set_xticks([])
        a.set_yticks([])
        a.set_title(title, fontsize=12)
        cb = fig.colorbar(im, ax=a, location="bottom", shrink=0.8, pad=0.03, aspect=35)
        cb.set_label("activation (same scale for both digits)" if p < 2 else
                     "activation difference (orange: stronger for the '8')")
    fig.suptitle("Conv3 feature maps after batch norm + ReLU: 64 channels of 7x7, "
                 "channel number in each corner", fontsize=13)
    return fig


def plot_top_channels(img0: np.ndarray, img8: np.ndarray, fm0: np.ndarray, fm8: np.ndarray,
                      mean0: np.ndarray, mean8: np.ndarray, ink0: np.ndarray, ink8: np.ndarray,
                      ranked: list[dict]) -> plt.Figure:
    """Top discriminant channels: this '0' and '8', and the class means over all test 0s and 8s."""
    n = len(ranked)
    fig, axes = plt.subplots(n + 1, 4, figsize=(8.2, 2.0 * (n + 1)))
    cols = ("this '0'", "this '8'", "mean over test 0s", "mean over test 8s")
    for col, img in enumerate((img0, img8, ink0, ink8)):
        ax = axes[0, col]
        ax.imshow(img, cmap="gray_r", vmin=0, vmax=1)
        ax.set_xticks(range(0, 28, 7))
        ax.set_yticks(range(0, 28, 7))
        ax.tick_params(labelsize=6)
        ax.set_title(cols[col], fontsize=10)
    for row, info in enumerate(ranked, start=1):
        ch = info["channel"]
        maps = (fm0[ch], fm8[ch], mean0[ch], mean8[ch])
        vmax = max(m.max() for m in maps)
        for col, m in enumerate(maps):
            ax = axes[row, col]
            im = ax.imshow(m, cmap="magma", vmin=0, vmax=vmax)
            ax.set_xticks([])
            ax.set_yticks([])
        axes[row, 0].set_ylabel(f"channel {ch}\nd = {info['d']:+.2f}\nfavours {info['favours']}",
                                fontsize=9)
        fig.colorbar(im, ax=axes[row].tolist(), shrink=0.85, pad=0.02, label="activation")
    fig.suptitle("Conv3 channels that best separate 0s from 8s, ranked by |Cohen's d|\n"
                 "of the spatially averaged activation (d > 0: stronger for 8s)", fontsize=11)
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


def plot_shift_accuracy(overall: dict[int, float], per_class: dict[int, list[float]]
                        ) -> plt.Figure:
    dxs = list(overall)
    fig, ax = plt.subplots(figsize=(8, 4.8))
    cmap = plt.get_cmap("tab10")
    for k in range(10):
        acc = [100 * per_class[dx][k] for dx in dxs]
        ax.plot(dxs, acc, color=cmap(k), lw=2.5 if k == 1 else 0.9,
                alpha=1 if k == 1 else 0.55, label=f"class {k}" + (" (the '1's)" if k == 1 else ""))
    ax.plot(dxs, [100 * overall[dx] for dx in dxs], "k-o", lw=2.5, label="all test digits")
    ax.axvspan(-3, 3, color="0.9", zorder=0, label="within +-3 px")
    ax.set_xlabel("horizontal shift dx in pixels (negative = left, positive = right)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_xticks(dxs)
    ax.set_ylim(0, 101)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2, loc="lower center")
    ax.set_title("Test accuracy against horizontal shift (clamp padding)")
    return fig


def save_figures(out: Path, weights: dict[str, np.ndarray], fm: FeatureMaps, ranked: list[dict],
                 one_images: dict[str, np.ndarray], shifts: dict) -> None:
    for name, w in weights.items():
        fig = plot_conv1(w) if w.shape[1] == 1 else plot_mosaic(w, name)
        save_figure(fig, out / f"p1_filters_{name}.png")
    save_figure(plot_feature_maps(fm.img0, fm.img8, fm.maps0, fm.maps8), out / "p1_feature_maps.png")
    save_figure(plot_top_channels(fm.img0, fm.img8, fm.maps0, fm.maps8, fm.mean0, fm.mean8,
                                  fm.ink0, fm.ink8, ranked), out / "p1_discriminant_channels.png")
    titles = [f"{key}: predicted {r['pred']} (p = {max(r['probs']):.3f})"
              for key, r in shifts["one"].items()]
    save_figure(plot_shift_examples(list(one_images.values()), titles), out / "p1_shift.png")
    save_figure(plot_shift_accuracy(shifts["overall"], shifts["per_class"]),
                out / "p1_shift_accuracy.png")


# ----------------------------------------------------------------------------- main
def parse_args(argv: Sequence[str] | None):
    p = Parser(description=__doc__.splitlines()[0])
    add_cnn_arguments(p)
    for name, digit in DIGITS.items():
        p.add_argument(f"--index-{name}", type=int,
                       help=f"test index of the '{digit}' (default: first correct)")
    p.add_argument("--out", type=Path, default=FIGURES, help="folder for figures and JSON")
    return p.parse_args(argv)


def print_report(examples: dict[str, int], weights: dict[str, np.ndarray], features: dict,
                 shifts: dict) -> None:
    print("\n(1) Filters of the first three conv layers")
    for name, w in weights.items():
        print(f"  {name}: {w.shape[0]} filters x {w.shape[1]} input channels x {w.shape[2]}x{w.shape[3]}")
    print("\n(2) Conv3 feature maps of a '0' and an '8'")
    print(f"  '0' = test[{examples['zero']}], '8' = test[{examples['eight']}]; top channels by |d|:")
    for r in features["ranked"]:
        print(f"    {r['description']}")
    print(f"  Answer: {features['answer']}")
    print("\n(3) The '1' shifted 3 pixels left and right (clamp padding)")
    for key, r in shifts["one"].items():
        print(f"  {key:8s} predicted {r['pred']}  p({r['pred']}) = {max(r['probs']):.4f}  "
              f"p(1) = {r['probs'][1]:.4f}")
    print("  accuracy vs shift: " + "  ".join(f"{dx:+d}:{100 * a:.1f}%"
                                             for dx, a in shifts["overall"].items()))
    print(f"  Answer: {shifts['answer']}")


def main(argv: Sequence[str] | None = None) -> dict:
    args = parse_args(argv)
    torch.manual_seed(args.seed)
    model, meta = load_cnn(args.data, retrain=args.retrain, seed=args.seed,
                           checkpoint_dir=args.checkpoints)
    test = load_mnist("test", meta["source"])
    pred = predict_proba(model, test.images).argmax(1)
    examples, chosen_by = pick_examples(test.labels, pred, {
        "zero": args.index_zero, "eight": args.index_eight, "one": args.index_one})
    n_params = sum(p.numel() for p in model.parameters())
    print(f"Interpretation: {INTERPRETATION}\n")
    print(f"CNN on {meta['source']}: {len(CONV_LAYERS)} conv layers, {n_params:,} parameters, "
          f"train accuracy {100 * meta['train_accuracy']:.2f}%, "
          f"test accuracy {100 * meta['test_accuracy']:.2f}%")

    weights = conv_weights(model)                                              # (1)
    features, fm = analyse_feature_maps(model, test, pred, examples)           # (2)
    one = test.images[examples["one"]:examples["one"] + 1]
    shifts, one_images = analyse_shift(model, test, one)                       # (3)
    print_report(examples, weights, features, shifts)
    save_figures(args.out, weights, fm, features["ranked"], one_images, shifts)

    results = {
        "data_source": meta["source"], "seed": meta["seed"],
        "train_accuracy": meta["train_accuracy"], "test_accuracy": meta["test_accuracy"],
        "conv_layers": len(CONV_LAYERS),
        "model": {"architecture": repr(model), "parameters": n_params, "recipe": {
            k: meta[k] for k in ("epochs", "batch_size", "max_lr", "augment_px", "label_smoothing")}},
        "torch_version": meta["torch_version"], "versions": versions("numpy", "torch", "matplotlib"),
        "examples": examples, "examples_chosen_by": chosen_by, "interpretation": INTERPRETATION,
        "discriminant_channels": features["ranked"],
        "channels_with_abs_d_above_1": features["n_sep"],
        "shift": shifts["one"],
        "shift_accuracy": {str(dx): a for dx, a in shifts["overall"].items()},
        "shift_accuracy_per_class": {str(dx): a for dx, a in shifts["per_class"].items()},
        "shift_changed_fraction": {str(dx): v for dx, v in shifts["changed"].items()},
        "answers": {"q2": features["answer"], "q3": shifts["answer"]},
    }
    write_json_atomic(args.out / "p1_results.json", results)
    print(f"\nwrote {args.out / 'p1_results.json'} and {args.out}/p1_*.png")
    return results


if __name__ == "__main__":
    sys.exit(run(main))
