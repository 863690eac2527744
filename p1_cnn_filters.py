"""Problem 1: what a 3-conv CNN trained on MNIST has learned, and whether it survives 3-pixel shifts.

Answers (1) the filters of conv1-conv3 as images, (2) the conv3 feature maps of a '0' and an '8' and
the channels that tell them apart, (3) the prediction for a '1' shifted 3 pixels left and right
with clamp padding, and the accuracy of the whole test split against horizontal shift.

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
from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from common.cli import FIGURES, Parser, UserError, run, save_figure, write_json_atomic  # noqa: E402
from common.cnn import CHECKPOINT_DIR, CONV_LAYERS, capture, load_cnn, predict_proba  # noqa: E402
from common.data import MNISTData, load_mnist, shift  # noqa: E402

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


# ----------------------------------------------------------------------------- picking digits
def pick_example(data: MNISTData, probs: torch.Tensor, digit: int, index: int | None,
                 flag: str) -> int:
    """Index of a correctly classified `digit` in `data`: the first one, or `index` if valid."""
    pred = probs.argmax(1)
    if index is None:
        hits = torch.nonzero((data.labels == digit) & (pred == digit)).flatten()
        if len(hits) == 0:
            raise UserError(f"no correctly classified '{digit}' in the test split")
        return int(hits[0])
    if not 0 <= index < len(data.labels):
        raise UserError(f"{flag} {index} is outside the test split (0..{len(data.labels) - 1})")
    if int(data.labels[index]) != digit:
        raise UserError(f"{flag} {index} is a '{int(data.labels[index])}', not a '{digit}'")
    if int(pred[index]) != digit:
        raise UserError(f"{flag} {index} is a '{digit}' that the CNN misclassifies as "
                        f"'{int(pred[index])}'; pick a correctly classified one")
    return index


# ----------------------------------------------------------------------------- (1) filters
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


# ----------------------------------------------------------------------------- (2) feature maps
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


# ----------------------------------------------------------------------------- (3) shifts
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


# ----------------------------------------------------------------------------- main
def parse_args(argv: Sequence[str] | None):
    p = Parser(description=__doc__.splitlines()[0])
    p.add_argument("--data", choices=("auto", "mnist", "mnist5k"), default="auto",
                   help="MNIST source: full MNIST if available, else the bundled 5k subset")
    p.add_argument("--seed", type=int, default=0, help="seed used if the CNN has to be trained")
    p.add_argument("--retrain", action="store_true", help="train the CNN even if a checkpoint exists")
    p.add_argument("--index-zero", type=int, help="test index of the '0' (default: first correct)")
    p.add_argument("--index-eight", type=int, help="test index of the '8' (default: first correct)")
    p.add_argument("--index-one", type=int, help="test index of the '1' (default: first correct)")
    p.add_argument("--checkpoints", type=Path, default=CHECKPOINT_DIR,
                   help="folder of the cnn-<source>.pt checkpoints")
    p.add_argument("--out", type=Path, default=FIGURES, help="folder for figures and JSON")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> dict:
    args = parse_args(argv)
    torch.manual_seed(args.seed)
    model, meta = load_cnn(args.data, retrain=args.retrain, seed=args.seed,
                           checkpoint_dir=args.checkpoints)
    test = load_mnist("test", meta["source"])
    probs = predict_proba(model, test.images)
    pred = probs.argmax(1)
    idx = {"zero": pick_example(test, probs, 0, args.index_zero, "--index-zero"),
           "eight": pick_example(test, probs, 8, args.index_eight, "--index-eight"),
           "one": pick_example(test, probs, 1, args.index_one, "--index-one")}
    out = args.out
    n_params = sum(p.numel() for p in model.parameters())
    print(f"Interpretation: {INTERPRETATION}\n")
    print(f"CNN on {meta['source']}: {len(CONV_LAYERS)} conv layers, {n_params:,} parameters, "
          f"train accuracy {100 * meta['train_accuracy']:.2f}%, "
          f"test accuracy {100 * meta['test_accuracy']:.2f}%")

    # (1) filters
    print("\n(1) Filters of the first three conv layers")
    for name in CONV_LAYERS:
        w = model.get_submodule(name).weight.detach().numpy()
        fig = plot_conv1(w) if w.shape[1] == 1 else plot_mosaic(w, name)
        save_figure(fig, out / f"p1_filters_{name}.png")
        print(f"  {name}: {w.shape[0]} filters x {w.shape[1]} input channels x "
              f"{w.shape[2]}x{w.shape[3]} -> {out / f'p1_filters_{name}.png'}")

    # (2) conv3 feature maps and the channels that separate 0s from 8s
    print("\n(2) Conv3 feature maps of a '0' and an '8'")
    correct = pred == test.labels
    zeros = test.images[(test.labels == 0) & correct]
    eights = test.images[(test.labels == 8) & correct]
    # The conv3 layer's output after its batch norm and ReLU ("act3"): what the classifier sees.
    maps_zero, maps_eight = capture(model, zeros, ["act3"])["act3"], capture(model, eights, ["act3"])["act3"]
    ex = capture(model, test.images[[idx["zero"], idx["eight"]]], ["act3"])["act3"].numpy()
    d = discriminant_channels(maps_zero.mean((2, 3)), maps_eight.mean((2, 3)))
    mean0, mean8 = maps_zero.mean(0).numpy(), maps_eight.mean(0).numpy()
    ink0, ink8 = zeros.mean(0)[0].numpy(), eights.mean(0)[0].numpy()
    ranked = [describe_channel(ch, float(d[ch]), mean0[ch], mean8[ch], ink0, ink8)
              for ch in top_channels(d, TOP_CHANNELS)]
    img0, img8 = test.images[idx["zero"], 0].numpy(), test.images[idx["eight"], 0].numpy()
    save_figure(plot_feature_maps(img0, img8, ex[0], ex[1]), out / "p1_feature_maps.png")
    save_figure(plot_top_channels(img0, img8, ex[0], ex[1], mean0, mean8, ink0, ink8, ranked),
                out / "p1_discriminant_channels.png")
    n_sep = int((np.abs(d) > 1).sum())
    answer2 = (f"Yes. Over all {len(zeros)} correctly classified test 0s and {len(eights)} 8s, "
               f"{n_sep} of {len(d)} conv3 channels separate the two digits with |d| > 1. For "
               "example, " + "; ".join(best_of_each(ranked)) + ".")
    print(f"  '0' = test[{idx['zero']}], '8' = test[{idx['eight']}]; top channels by |d|:")
    for r in ranked:
        print(f"    {r['description']}")
    print(f"  Answer: {answer2}")

    # (3) shifts
    print("\n(3) The '1' shifted 3 pixels left and right (clamp padding)")
    one = test.images[idx["one"]:idx["one"] + 1]
    variants = {"original": one, "left3": shift(one, -3, 0), "right3": shift(one, 3, 0)}
    shift_result, imgs, titles = {}, [], []
    for key, img in variants.items():
        pr = predict_proba(model, img)[0]
        shift_result[key] = {"pred": int(pr.argmax()), "probs": [float(v) for v in pr]}
        imgs.append(img[0, 0].numpy())
        titles.append(f"{key}: predicted {int(pr.argmax())} (p = {pr.max():.3f})")
        print(f"  {key:8s} predicted {int(pr.argmax())}  p({int(pr.argmax())}) = {pr.max():.4f}  "
              f"p(1) = {pr[1]:.4f}")
    save_figure(plot_shift_examples(imgs, titles), out / "p1_shift.png")
    overall, per_class, shift_preds = shift_accuracy(model, test, SHIFTS)
    save_figure(plot_shift_accuracy(overall, per_class), out / "p1_shift_accuracy.png")
    changed = {dx: float((shift_preds[dx] != shift_preds[0]).double().mean()) for dx in (-3, 3)}
    unchanged = all(shift_result[k]["pred"] == 1 for k in ("left3", "right3"))
    answer3 = (f"The '1' is {'still' if unchanged else 'no longer'} classified as a 1 after a "
               f"3-pixel shift (left: {shift_result['left3']['pred']} with p = "
               f"{max(shift_result['left3']['probs']):.3f}; right: {shift_result['right3']['pred']}"
               f" with p = {max(shift_result['right3']['probs']):.3f}). Over the whole test split, "
               f"accuracy is {100 * overall[0]:.1f}% unshifted, {100 * overall[-3]:.1f}% at 3 px "
               f"left and {100 * overall[3]:.1f}% at 3 px right; a 3-pixel shift changes "
               f"{100 * changed[-3]:.1f}% (left) and {100 * changed[3]:.1f}% (right) of the "
               f"predictions, and accuracy falls to {100 * overall[-6]:.1f}% / "
               f"{100 * overall[6]:.1f}% at 6 px. Two 2x max-pools give some, not full, "
               "translation invariance; the '1' class, a thin vertical stroke, is among the "
               f"most tolerant ({100 * per_class[-3][1]:.1f}% / {100 * per_class[3][1]:.1f}% "
               "at -3 / +3 px).")
    print("  accuracy vs shift: " + "  ".join(f"{dx:+d}:{100 * a:.1f}%" for dx, a in overall.items()))
    print(f"  Answer: {answer3}")

    results = {
        "data_source": meta["source"],
        "seed": meta["seed"],
        "train_accuracy": meta["train_accuracy"],
        "test_accuracy": meta["test_accuracy"],
        "conv_layers": len(CONV_LAYERS),
        "model": {"architecture": repr(model), "parameters": n_params, "recipe": {
            k: meta[k] for k in ("epochs", "batch_size", "max_lr", "augment_px", "label_smoothing")}},
        "torch_version": meta["torch_version"],
        "examples": idx,
        "examples_chosen_by": {
            name: (f"--index-{name}" if flag is not None else
                   "the first correctly classified one in the test split")
            for name, flag in (("zero", args.index_zero), ("eight", args.index_eight),
                               ("one", args.index_one))},
        "interpretation": INTERPRETATION,
        "discriminant_channels": ranked,
        "channels_with_abs_d_above_1": n_sep,
        "shift": shift_result,
        "shift_accuracy": {str(dx): a for dx, a in overall.items()},
        "shift_accuracy_per_class": {str(dx): a for dx, a in per_class.items()},
        "shift_changed_fraction": {str(dx): v for dx, v in changed.items()},
        "answers": {"q2": answer2, "q3": answer3},
    }
    write_json_atomic(out / "p1_results.json", results)
    print(f"\nwrote {out / 'p1_results.json'} and figures/p1_*.png")
    return results


if __name__ == "__main__":
    sys.exit(run(main))
