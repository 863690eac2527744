"""Problem 1: what a 3-conv CNN trained on MNIST has learned, and whether it survives 3-pixel shifts.

Answers (1) the filters of conv1-conv3 as images, each pattern statistic beside the same statistic
for untrained networks; (2) the conv3 feature maps of a '0' and an '8', where conv3 tells 0s from
8s, the channels that carry it (chosen on half of the correct test 0s and 8s, zeroed on the other
half against random channels) and what each responds to; (3) the prediction for a '1' shifted
3 pixels left and right with clamp padding, accuracy against shift with and without the +-1 px
training augmentation, and how much of a 3-px shift's logit change comes from features that moved
to another pooled cell. Every claim is checked on 3 training seeds (0, 1, 2).
Where things live: common/features/filters.py (1), common/features/discriminant.py and common/features/cell_patches.py (2),
common/features/shift_study.py (3), common/plots/p1.py and p1_features.py (the figures), common/nets/ (the CNN, its
recipe), common/nets/data.py (MNIST, the clamp-padded shift).

    python p1_cnn_filters.py                       # uses/trains checkpoints/cnn-<source>*.pt
    python p1_cnn_filters.py --index-one 5 --data mnist5k-t10k

Expected output (offline, mnist5k-t10k, seeds 0-2): train accuracy 99.5-99.7%, test 98.7-99.0% on the
official 10,000; conv1's filters keep cosine 0.94-0.96 with their initial weights; the 6 chosen conv3
channels lower the held-out 0-vs-8 margin more than random channels on 3 of 3 seeds; the '1' stays a
'1' shifted 3 px either way on 3 of 3 seeds; accuracy 96.7-97.6% at +-3 px, 65.6-69.7% at 6 px (seed 0).
Writes figures/p1_*.png and figures/p1_results.json, and prints the report's P1 section.
Runtime on 2 CPU cores with cached checkpoints: 14 s; the first run also trains the no-augmentation model and seeds 1 and 2
(about 10 s each on one thread, one per core side by side; `make` trains them first).
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import NamedTuple, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from common.core.cli import (
    Parser,
    add_out_argument,
    run,
    save_figure,
    versions,
    write_json_atomic,
)
from common.core.sampling import sample_indices
from common.features.cell_patches import patches_at_cells
from common.features.discriminant import (
    Discriminant,
    analyse_zero_eight,
    correct_zero_eight,
)
from common.features.filters import (
    analyse_filters,
    filter_cosines,
    initial_weights,
    input_share_curve,
)
from common.features.findings import feature_channels, p1_findings
from common.features.shift_study import (
    KEPT,
    SHIFTS,
    ShiftRun,
    accuracy_curve,
    classify_shifted_one,
    padding_check,
    per_class,
    shift_mechanism,
    shift_run,
)
from common.features.strokes import describe_strokes
from common.nets.cnn import CNN, CONV_LAYERS, capture, predict_proba
from common.nets.data import MNISTData, load_mnist, resolve_source
from common.nets.flags import (
    Example,
    add_cnn_arguments,
    first_correct,
    misclassified_warning,
    pick_example,
)
from common.nets.models import ModelSpec, ensure_models
from common.nets.sources import DESCRIPTIONS
from common.nets.training import load_cnn
from common.occlusion.engine import fast_inference_copy
from common.plots.p1 import (
    plot_conv1,
    plot_feature_maps,
    plot_layer_summary,
    plot_mosaic,
    plot_shift_accuracy,
    plot_shift_examples,
    plot_strongest_inputs,
    plot_top_cells,
    plot_top_patches,
)
from common.plots.p1_features import plot_features
from report.render import print_problem

# Test digits in the loops over shifted copies (13 shifts for the reference and the no-augmentation
# CNN, 3 for each other seed: 32 passes over each digit). 3,000 of the official 10,000 pin an
# accuracy near 97% to +-0.6 points, a class's (about 300 digits) to +-2 points (95% intervals).
SAMPLE = 3000
SEEDS = (0, 1, 2)  # training seeds on which each claim about "the CNN" is checked
DIGITS = {"zero": 0, "eight": 8, "one": 1}


class Models(NamedTuple):
    """The CNNs of a run: one per checked seed, the reference seed, and the no-augmentation CNN."""

    by_seed: dict[int, CNN]
    main: int
    no_aug: CNN
    meta: dict                # the reference checkpoint's metadata
    accuracy: dict[int, float]  # each seed's test accuracy, from its checkpoint


def predict_digits(model: CNN, data: MNISTData, digits: Sequence[int]) -> torch.Tensor:
    """Predicted classes [N] of the test digits labelled one of `digits`, -1 for the others: the
    analyses read only those (the examples, the correct 0s and 8s)."""
    keep = torch.isin(data.labels, torch.tensor(list(digits)))
    pred = torch.full_like(data.labels, -1)
    pred[keep] = predict_proba(fast_inference_copy(model), data.images[keep]).argmax(1)
    return pred


# ----------------------------------------------------------------------------- (1) filters
def question1(models: Models) -> tuple[dict, dict]:
    """(1) Every filter statistic on every seed beside untrained networks'; conv1's patterns."""
    weights = {s: conv_weights(m) for s, m in models.by_seed.items()}
    scales = {s: m.bn1.weight.detach().numpy() for s, m in models.by_seed.items()}
    filters = analyse_filters(weights, scales, models.main, CNN)
    initial = initial_weights(CNN, models.main, CONV_LAYERS)
    untrained = [initial_weights(CNN, s, CONV_LAYERS) for s in filters["null"]["init_seeds"]]
    drawn = {"weights": weights[models.main], "initial": initial["conv1"],
             "moved": filter_cosines(weights[models.main]["conv1"], initial["conv1"]),
             "share_curves": {name: (input_share_curve(weights[models.main][name]),
                                     np.stack([input_share_curve(u[name]) for u in untrained]))
                              for name in ("conv2", "conv3")}}
    return filters, drawn


# ----------------------------------------------------------------------------- (2) conv3 maps
def discriminant_summary(disc: Discriminant, test_accuracy: float) -> dict:
    """The numbers of one seed's discriminant analysis that the check over seeds compares."""
    res, abl, top = disc.result, disc.result["ablation"], disc.result["top_cells"][0]
    return {"test_accuracy": test_accuracy, "cells_with_abs_d_above_1": res["cells_with_abs_d_above_1"],
            "top_cell": [top["channel"], top["row"], top["col"], top["d"]],
            "row_share_evaluated": res["separation"]["row_share_evaluated"],
            **{k: abl[k] for k in ("channels", "n_selected", "n_evaluated", "margin_before", "margin_after",
                                   "random_margin_after_median", "beats_random", "acc_0_8_before",
                                   "acc_0_8_after")}}


def question2(models: Models, test: MNISTData, preds: dict[int, torch.Tensor], sample: MNISTData,
              pair: torch.Tensor) -> tuple[dict, Discriminant, dict]:
    """(2) The discriminant analysis on every seed; for the reference, what each chosen cell
    responds to (its top patches among the sample, taken at the cell) and the stroke under it in
    this '0' and this '8' and in the correct 0s and 8s. Drawn: the patches."""
    discs, seeds = {}, {}
    for s, m in models.by_seed.items():
        own = pair if s == models.main else test.images[[first_correct(test.labels, preds[s], k)
                                                         for k in (0, 8)]]
        discs[s] = analyse_zero_eight(m, correct_zero_eight(m, test.images, test.labels, preds[s]), own, s)
        seeds[str(s)] = discriminant_summary(discs[s], models.accuracy[s])
    disc = discs[models.main]
    act = capture(models.by_seed[models.main], sample.images, ["act3"])["act3"].numpy()
    described, patches = patches_at_cells(act, sample.images[:, 0].numpy(), sample.labels.numpy(),
                                          disc.result["top_cells"])
    cells = [{**c, "responds_to": described[c["channel"]]} for c in disc.result["top_cells"]]
    correct = [test.images[(test.labels == k) & (preds[models.main] == k), 0].numpy() for k in (0, 8)]
    strokes, cells, named = describe_strokes(cells, *correct, tuple(pair[:, 0].numpy()))
    top = predict_proba(fast_inference_copy(models.by_seed[models.main]), pair).max(1)
    predicted = {k: {"pred": int(c), "prob": float(p)} for k, c, p in zip(("zero", "eight"), top.indices, top.values)}
    return ({**disc.result, "top_cells": cells, "seeds": seeds, "strokes": strokes, "features": named,
             "pair_predicted": predicted}, disc, {"patches": patches})


# ----------------------------------------------------------------------------- (3) shifts
def shift_summary(model: CNN, run: ShiftRun, labels: torch.Tensor, one: dict) -> dict:
    """The numbers of one seed's shift check: accuracy at -3/0/+3, the '1', the mechanism."""
    acc = accuracy_curve(run)
    return {"accuracy": {str(dx): acc[dx] for dx in KEPT},
            "one": [one[k]["pred"] for k in ("original", "left3", "right3")],
            "mechanism": shift_mechanism(model, run, labels)}


def question3(models: Models, sample: MNISTData, one: torch.Tensor) -> tuple[dict, dict]:
    """(3) The shifted '1', accuracy against shift with and without augmentation, the mechanism,
    and the same check on every seed."""
    runs = {s: shift_run(fast_inference_copy(m), sample, SHIFTS if s == models.main else KEPT)
            for s, m in models.by_seed.items()}
    plain_run = shift_run(fast_inference_copy(models.no_aug), sample, SHIFTS)
    ones = {s: classify_shifted_one(m, one)[0] for s, m in models.by_seed.items()}
    model, main_run = models.by_seed[models.main], runs[models.main]
    plain_one, _ = classify_shifted_one(models.no_aug, one)
    _, images = classify_shifted_one(model, one)
    curve, plain = accuracy_curve(main_run), accuracy_curve(plain_run)
    result = {**ones[models.main], "overall": curve,
              "per_class_curve": {dx: [float(c[sample.labels == k].double().mean()) for k in range(10)]
                                  for dx, c in main_run.correct.items()},
              "per_class_pm3": per_class(main_run, sample.labels),
              "changed": {dx: float((main_run.preds[dx] != main_run.preds[0]).double().mean()) for dx in (-3, 3)},
              "padding": padding_check(one, sample.images),
              "mechanism": shift_mechanism(model, main_run, sample.labels),
              "no_augmentation": {"accuracy": {str(dx): plain[dx] for dx in KEPT},
                                  "accuracy_curve": {str(dx): a for dx, a in plain.items()}, "one": plain_one},
              "seeds": {str(s): shift_summary(m, runs[s], sample.labels, ones[s])
                        for s, m in models.by_seed.items()}}
    return result, {"one_images": images, "plain_curve": plain}


# ----------------------------------------------------------------------------- figures
class Drawn(NamedTuple):
    """Plot-only data: what the figures draw beyond the results dict."""

    filters: dict                 # weights (main seed), initial conv1, moved (cosine per filter)
    test: MNISTData
    pred: torch.Tensor
    disc: Discriminant
    patches: dict                 # patches: each cell's top patches
    sample_labels: torch.Tensor
    shifts: dict                  # one_images, plain_curve
    pair_index: tuple[int, int]   # test indices of this '0' and this '8'


def save_figures(out: Path, drawn: Drawn, filters: dict, features: dict, shifts: dict) -> None:
    weights = drawn.filters["weights"]
    save_figure(plot_conv1(weights["conv1"], drawn.filters["initial"], filters["conv1"],
                           drawn.filters["moved"]), out / "p1_filters_conv1.png")
    for name in ("conv2", "conv3"):
        save_figure(plot_strongest_inputs(weights[name], name), out / f"p1_filters_{name}.png")
        save_figure(plot_layer_summary(weights[name], name, *drawn.filters["share_curves"][name]),
                    out / f"p1_filters_{name}_summary.png")
        save_figure(plot_mosaic(weights[name], name), out / f"p1_filters_{name}_all.png")
    test, pred, disc = drawn.test, drawn.pred, drawn.disc
    imgs = [test.images[(test.labels == k) & (pred == k), 0].mean(0).numpy() for k in (0, 8)]
    ex0, ex8 = (test.images[i, 0].numpy() for i in drawn.pair_index)
    save_figure(plot_feature_maps((ex0, ex8), disc.maps_ex, disc.share, features["cells_dropped"]),
                out / "p1_feature_maps.png")
    named = {ch for g in feature_channels(features["top_cells"]) for ch in g["channels"]}
    save_figure(plot_features((ex0, ex8), disc.maps_ex, [c for c in features["top_cells"] if c["channel"] in named],
                              features["strokes"]["named_from"], features["pair_predicted"], features["cells_dropped"]),
                out / "p1_features.png")
    save_figure(plot_top_cells((ex0, ex8, *imgs), (*disc.maps_ex, disc.mean0, disc.mean8),
                               features["top_cells"]), out / "p1_discriminant_channels.png")
    save_figure(plot_top_patches(drawn.patches["patches"], features["top_cells"], drawn.sample_labels),
                out / "p1_top_patches.png")
    titles = [f"{name}: predicted {shifts[key]['pred']} (p = {max(shifts[key]['probs']):.3f})"
              for key, name in (("original", "original"), ("left3", "3 px left"), ("right3", "3 px right"))]
    save_figure(plot_shift_examples(list(drawn.shifts["one_images"].values()), titles), out / "p1_shift.png")
    save_figure(plot_shift_accuracy(shifts["overall"], drawn.shifts["plain_curve"], shifts["per_class_pm3"],
                                    len(drawn.sample_labels)), out / "p1_shift_accuracy.png")


# ----------------------------------------------------------------------------- main
def parse_args(argv: Sequence[str] | None):
    p = Parser(description=__doc__.splitlines()[0])
    add_cnn_arguments(p, "the CNN of --seed, one CNN per --seeds and the no-augmentation CNN of --seed",
                      "it picks the no-augmentation CNN of the same seed too; and it seeds every random "
                      "draw (the --sample test digits, the halves of the 0s and 8s, the ablation's random "
                      "channels)")
    for name, digit in DIGITS.items():
        p.add_argument(f"--index-{name}", type=int,
                       help=f"test index of the '{digit}' (default: the first correctly classified one; "
                            "a misclassified one is allowed, with a warning)")
    p.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS),
                   help="training seeds on which the claims about the CNN are checked "
                        "(each has its own cached checkpoint)")
    p.add_argument("--sample", type=int, default=SAMPLE,
                   help="test digits in the loops over shifted copies and the top patches: all of "
                        "them when the split is smaller, else a seeded random subset")
    add_out_argument(p, "folder for figures and JSON")
    args = p.parse_args(argv)
    if args.sample < 10:
        p.error(f"--sample must be at least 10, got {args.sample}")
    return args


def conv_weights(model: CNN) -> dict[str, np.ndarray]:
    """The kernels [O, I, k, k] of each conv layer."""
    return {name: model.get_submodule(name).weight.detach().numpy() for name in CONV_LAYERS}


def models_needed(seed: int, seeds: Sequence[int]) -> list[ModelSpec]:
    """The CNNs a run loads: the reference, one per checked seed and the no-augmentation CNN."""
    return [ModelSpec(s) for s in dict.fromkeys([seed, *seeds])] + [ModelSpec(seed, augment_px=0)]


def load_models(args) -> Models:
    """The reference CNN and its metadata, one CNN per checked seed, and the no-augmentation CNN.

    Missing checkpoints train first, side by side, and the others are checked; --retrain retrains
    them all."""
    source = resolve_source(args.data)
    specs = models_needed(args.seed, args.seeds)
    ensure_models(source, specs, args.checkpoints, retrain=specs if args.retrain else ())
    load = lambda seed, aug: load_cnn(source, seed=seed, augment_px=aug,  # noqa: E731
                                      checkpoint_dir=args.checkpoints)
    loaded = {s: load(s, 1) for s in dict.fromkeys([args.seed, *args.seeds])}
    return Models({s: m for s, (m, _) in loaded.items()}, args.seed, load(args.seed, 0)[0], loaded[args.seed][1],
                  {s: meta["test_accuracy"] for s, (_, meta) in loaded.items()})


def model_facts(model: CNN) -> dict:
    """The architecture as data: each conv layer's shape, the final linear layer's and the feature
    maps' side after each pool."""
    convs = [model.get_submodule(name) for name in CONV_LAYERS]
    acts = capture(model, torch.zeros(1, 1, 28, 28), [f"act{i + 1}" for i in range(len(convs))])
    sides = [a.shape[-1] for a in acts.values()] + [F.max_pool2d(acts[f"act{len(convs)}"], 2).shape[-1]]
    return {"parameters": sum(p.numel() for p in model.parameters()),
            "layers": [{"name": n, "in": c.in_channels, "out": c.out_channels, "kernel": c.kernel_size[0]}
                       for n, c in zip(CONV_LAYERS, convs)],
            "linear": {"in": model.fc.in_features, "out": model.fc.out_features},
            "pool_sides": sides}


def choose_examples(labels: torch.Tensor, pred: torch.Tensor, flags: dict[str, int | None]) -> dict[str, Example]:
    """The '0', '8' and '1' (keys of DIGITS): each the first test digit of its class that `pred`
    classifies correctly, or the index its --index-* flag gives (which may be misclassified)."""
    return {name: pick_example(labels, pred, digit, flags[name], f"--index-{name}") for name, digit in DIGITS.items()}


def counts(labels: torch.Tensor) -> list[int]:
    return torch.bincount(labels, minlength=10).tolist()


def assemble_results(models: Models, test: MNISTData, sample: MNISTData, chosen: dict[str, Example],
                     flagged: list[str], filters: dict, features: dict, shifts: dict, train_size: int) -> dict:
    """The results JSON: the model, the data, the examples, each sub-question's numbers and the
    findings the words rest on; train_size: the training digits (the recipe's steps follow)."""
    meta = models.meta
    recipe = {k: meta[k] for k in ("epochs", "batch_size", "max_lr", "augment_px", "threads",
                                   "label_smoothing", "optimizer") if k in meta}
    batches = -(-train_size // meta["batch_size"])  # the last batch of an epoch may be short
    recipe.update(train_size=train_size, batches_per_epoch=batches, sgd_steps=meta["epochs"] * batches)
    shift_keys = ("original", "left3", "right3", "no_augmentation", "padding", "mechanism", "per_class_pm3", "seeds")
    results = {
        "data_source": meta["source"], "train_set": DESCRIPTIONS[meta["source"]].train, "seed": meta["seed"], "seeds_checked": list(models.by_seed),
        "train_accuracy": meta["train_accuracy"], "test_accuracy": meta["test_accuracy"],
        "test_size": len(test.labels), "test_per_class": counts(test.labels),
        "sample_size": len(sample.labels), "sample_per_class": counts(sample.labels),
        "conv_layers": len(CONV_LAYERS), "model": {**model_facts(models.by_seed[models.main]), "recipe": recipe},
        "torch_version": meta["torch_version"], "versions": versions("numpy", "torch", "matplotlib"),
        "examples": {k: e.index for k, e in chosen.items()}, "examples_from_flags": flagged,
        "examples_classified_correctly": {k: e.correct for k, e in chosen.items()},
        "examples_predicted": {k: e.predicted for k, e in chosen.items()},
        "examples_first_correct": {k: e.first_correct for k, e in chosen.items()},
        "filters": filters, "discriminant": features,
        "shift": {k: shifts[k] for k in shift_keys},
        "shift_accuracy": {str(dx): a for dx, a in shifts["overall"].items()},
        "shift_accuracy_per_class": {str(dx): a for dx, a in shifts["per_class_curve"].items()},
        "shift_changed_fraction": {str(dx): v for dx, v in shifts["changed"].items()},
    }
    return {**results, "findings": p1_findings(results)}


def main(argv: Sequence[str] | None = None) -> dict:
    args = parse_args(argv)
    torch.manual_seed(args.seed)
    models = load_models(args)
    test = load_mnist("test", models.meta["source"])
    preds = {s: predict_digits(m, test, (0, 1, 8) if s == args.seed else (0, 8)) for s, m in models.by_seed.items()}
    pred = preds[args.seed]
    flags = {"zero": args.index_zero, "eight": args.index_eight, "one": args.index_one}
    chosen = choose_examples(test.labels, pred, flags)
    for name, example in chosen.items():
        if not example.correct:
            print(misclassified_warning(example, f"--index-{name}"), file=sys.stderr)
    examples = {name: e.index for name, e in chosen.items()}
    idx = sample_indices(len(test.labels), args.sample, args.seed)
    sample = MNISTData(test.images[idx], test.labels[idx], test.source)
    one = test.images[examples["one"]:examples["one"] + 1]
    pair = test.images[[examples["zero"], examples["eight"]]]

    filters, drawn1 = question1(models)
    features, disc, patches = question2(models, test, preds, sample, pair)
    shifts, drawn3 = question3(models, sample, one)

    results = assemble_results(models, test, sample, chosen, [n for n, v in flags.items() if v is not None],
                               filters, features, shifts, len(load_mnist("train", models.meta["source"]).labels))
    save_figures(args.out, Drawn(drawn1, test, pred, disc, patches, sample.labels, drawn3,
                                 (examples["zero"], examples["eight"])), filters, features, shifts)
    write_json_atomic(args.out / "p1_results.json", results)
    print_problem(1, results, args.out)
    print(f"\nwrote {args.out / 'p1_results.json'} and {args.out}/p1_*.png")
    return results


if __name__ == "__main__":
    sys.exit(run(main))
