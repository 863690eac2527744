"""Every number and every word-deciding boolean that solution.md and key.md state, recomputed.

FACTS holds one row per results path the solution's renderers (report/solution.py with
report/answers_*.py) and the key's (report/keydoc.py, report/key.py) read: the file, the dotted path
of a field or a subtree, and a function that recomputes its value without the analysis code: from
the test images, the tiny CNN of the fixtures run again, the maps stored in the JSON, the assignment's
numbers through tests/grade_reference.py, or a plain loop over the raw arrays of the results. A row's
function returns the subtree with the keys it recomputes; the row covers exactly those leaves.

One test per document builds it with report.fields.recording() on and fails naming each numeric,
boolean or None leaf read (and each list whose length or emptiness is read) that no row covers;
another compares each row's recomputation with the results.
"""
from __future__ import annotations

import csv
import io
import json
import math
from functools import cached_property
from pathlib import Path
from typing import Any, Callable, NamedTuple

import numpy as np
import pytest
import torch
from scipy import ndimage

from common.grading.rubric import DEFAULT_RUBRIC
from common.nets.checkpoints import checkpoint_path, load_checkpoint
from common.nets.data import load_mnist
from report.build import load_results
from report.fields import load, recording
from report.keydoc import build_key
from report.solution import build_solution
from tests import grade_reference as ref

SOURCE = "mnist5k-t10k"
SIX, ONE = 6, 1
ASSIGNMENT_B = [-1.0, 1.0]  # Problem 3's b, as the assignment prints it
CLAMP_SHIFT = 3  # P1 (3): three pixels each way
RTOL, MIN_DIGITS, STEP_DIGITS = 5e-5, 3, 8  # README, "For graders": grade.py's --rtol default and digit rules
STEP_SHARE = 0.05  # README, "For graders": a b_new component is decided when half a unit is ≤ 5% of its step
FLOAT32_BAND = 4.0  # README, "For graders": float32 central differences match within 4 rounding bounds


class Sources:
    """The raw material the facts are recomputed from: the results as plain JSON, the test and
    train images, and the tiny CNN of the fixtures."""

    def __init__(self, folder: Path, checkpoints: Path, p1_checkpoints: Path) -> None:
        self.folder, self.checkpoints, self.p1_checkpoints = folder, checkpoints, p1_checkpoints
        self.r = {n: json.loads((folder / f"p{n}_results.json").read_text()) for n in range(1, 6)}
        self.key = json.loads((folder / "answer_key.json").read_text())

    @cached_property
    def model(self) -> torch.nn.Module:
        return load_checkpoint(checkpoint_path(SOURCE, self.checkpoints))[0].eval()

    @cached_property
    def test(self):  # noqa: ANN201
        return load_mnist("test", SOURCE)

    @cached_property
    def train(self):  # noqa: ANN201
        return load_mnist("train", SOURCE)

    @cached_property
    def test_pred(self) -> np.ndarray:
        return predictions(self.model, self.test.images)


def probabilities(model: torch.nn.Module, images: torch.Tensor) -> np.ndarray:
    with torch.no_grad():
        return torch.cat([torch.softmax(model(images[i:i + 1000]), 1) for i in range(0, len(images), 1000)]).numpy()


def predictions(model: torch.nn.Module, images: torch.Tensor) -> np.ndarray:
    return probabilities(model, images).argmax(1)


def accuracy(model: torch.nn.Module, data) -> float:  # noqa: ANN001
    return float((predictions(model, data.images) == data.labels.numpy()).mean())


def clamp_shift(image: np.ndarray, dx: int) -> np.ndarray:
    """The image moved dx pixels right (left when negative), each column past the edge filled with
    the nearest valid column."""
    return image[:, np.clip(np.arange(28) - dx, 0, 27)]


def shifted_ones(s: Sources) -> dict[str, np.ndarray]:
    """The first correctly classified '1' of the test split, as is and 3 px left and right."""
    labels = s.test.labels.numpy()
    index = int(np.flatnonzero((labels == ONE) & (s.test_pred == ONE))[0])
    one = s.test.images[index, 0].numpy()
    return {"original": one, "left3": clamp_shift(one, -CLAMP_SHIFT), "right3": clamp_shift(one, CLAMP_SHIFT)}


def one_probs(model: torch.nn.Module, s: Sources) -> dict[str, np.ndarray]:
    images = shifted_ones(s)
    batch = torch.tensor(np.stack(list(images.values())))[:, None].float()
    return dict(zip(images, probabilities(model, batch)))


# ----------------------------------------------------------------------------- P1
def p1_accuracies(s: Sources) -> dict[str, float]:
    return {"train_accuracy": accuracy(s.model, s.train), "test_accuracy": accuracy(s.model, s.test)}


TINY_EPOCHS = 2  # tests/conftest.py trains the tiny CNN for 2 epochs
TINY_SMOOTHING, TINY_SHIFT_PX = 0.1, 1  # and leaves train_cnn's label smoothing and ±1 px shifts on


def p1_recipe(s: Sources) -> dict[str, Any]:
    recipe = s.r[1]["model"]["recipe"]
    batches = math.ceil(len(s.train.labels) / recipe["batch_size"])
    return {"sgd_steps": TINY_EPOCHS * batches, "train_size": len(s.train.labels), "epochs": TINY_EPOCHS,
            "label_smoothing": TINY_SMOOTHING, "augment_px": TINY_SHIFT_PX}


def p1_architecture(s: Sources) -> dict[str, Any]:
    """Each conv layer's maps in and out and kernel side, from its weight tensor's shape; the linear
    layer's inputs by hand: conv3's maps times the side left after three 2x2 pools of 28, squared."""
    shapes = [s.model.get_submodule(f"conv{i}").weight.shape for i in (1, 2, 3)]
    side = 28 // 2 // 2 // 2
    return {"layers": [{"in": i, "out": o, "kernel": k} for o, i, k, _ in shapes],
            "linear": {"in": shapes[-1][0] * side * side, "out": 10}}


FULL_MNIST_TRAIN = 60000  # the MNIST training set's size, as published


def p1_full_training_set(s: Sources) -> bool:
    """Whether the CNN's training digits, loaded again, are all of MNIST's."""
    return len(s.train.labels) == FULL_MNIST_TRAIN


def p1_shift(s: Sources) -> dict[str, Any]:
    probs = one_probs(s.model, s)
    return {**{k: {"pred": int(probs[k].argmax())} for k in ("left3", "right3")}, **p1_padding(s)}


def p1_shift_findings(s: Sources) -> dict[str, Any]:
    probs = one_probs(s.model, s)
    preds = [int(p.argmax()) for p in probs.values()]
    changes = []
    for seed in s.r[1]["seeds_checked"]:
        model = load_checkpoint(checkpoint_path(SOURCE, s.p1_checkpoints, int(seed)))[0].eval()
        if [int(p.argmax()) for p in one_probs(model, s).values()] != [ONE] * 3:
            changes.append(str(seed))
    return {"prediction_unchanged_both_ways": preds == [ONE] * 3,
            "prob_of_prediction": {k: float(probs[k].max()) for k in ("left3", "right3")},
            "seeds_one_changes": changes}


def p1_conv1_start(s: Sources) -> dict[str, Any]:
    """conv1 barely moved: every seed's median cosine with its start at least 0.9, from the
    per-seed medians stored in the results."""
    medians = s.r[1]["filters"]["statistics"]["conv1"]["cosine_with_initial_median"].values()
    return {"barely_moved": min(medians) >= 0.9}


def p1_conv1_patterns(s: Sources) -> list[str]:
    """conv1's pattern statistics whose every trained seed lies beyond the untrained networks' whole
    range (their min and max), from the per-seed values and the untrained statistics stored."""
    stats, null = s.r[1]["filters"]["statistics"]["conv1"], s.r[1]["filters"]["null"]["stats"]["conv1"]
    beyond = []
    for name in ("edge_or_bar_share", "best_cosine_median", "uniform_share_median"):
        seeds, low, high = list(stats[name].values()), null[name]["min"], null[name]["max"]
        if all(v > high for v in seeds) or all(v < low for v in seeds):
            beyond.append(name)
    return beyond


def p1_discriminant_findings(s: Sources) -> dict[str, Any]:
    """The middle and bottom thirds carry most of the separation (from the per-row shares stored),
    the seeds whose chosen channels do not beat random ones, the cells over background, and the
    channels that name a feature, grouped."""
    d = s.r[1]["discriminant"]
    rows = d["separation"]["row_share_evaluated"]
    groups = p1_feature_channels(s)
    return {"middle_and_lower_thirds": {"carry_most": rows[1] + rows[2] > rows[0]},
            "seeds_not_beating_random": [k for k, v in d["seeds"].items() if not v["beats_random"]],
            **p1_cells_background(s), "feature_channels": groups, "quiet_on_pair": p1_quiet(s),
            # the answer's word budget: channels by number up to 3 of them, the other stroke up to 2 groups
            "wording": {"channels_by_number": sum(len(g["channels"]) for g in groups) <= 3,
                        "other_stroke": len(groups) <= 2}}


def p1_conv3(s: Sources, index: list[int]) -> np.ndarray:
    """The tiny CNN's conv3 output after batch norm and ReLU [N, C, 7, 7] for test digits `index`."""
    grabbed = []
    handle = s.model.act3.register_forward_hook(lambda module, args, out: grabbed.append(out))
    try:
        with torch.no_grad():
            s.model(s.test.images[index])
    finally:
        handle.remove()
    return grabbed[0].double().numpy()


def core_named(image: np.ndarray | None, row: int, col: int) -> bool:
    """Whether ink and holes (named_pixels) fill at least a quarter of cell (row, col)'s 8x8 core
    (rows and columns 4r-2 .. 4r+5); a digit without its holes counts as named."""
    rows, cols = slice(max(0, 4 * row - 2), 4 * row + 6), slice(max(0, 4 * col - 2), 4 * col + 6)
    return image is None or image[rows, cols].mean() >= 0.25


VISIBLE = 0.5  # P1 (2): a cell fires on the shown pair when their difference is half the class means', by design


def p1_pair_cells(s: Sources) -> list[tuple[dict[str, Any], int, bool]]:
    """Per chosen cell (channel, row, col as stored): the digit it fires for, from the mean activation
    of the selection half's 8s against its 0s (recomputed), and whether it fires visibly on the shown
    pair: the shown digit it fires for minus the other is at least VISIBLE of those means' difference."""
    r = s.r[1]
    index = r["discriminant"]["ablation"]["selected_on"]
    act, labels = p1_conv3(s, index), s.test.labels.numpy()[index]
    pair = p1_conv3(s, [r["examples"]["zero"], r["examples"]["eight"]])
    out = []
    for c in r["discriminant"]["top_cells"]:
        a = act[:, c["channel"], c["row"], c["col"]]
        fires = 8 if a[labels == 8].mean() > a[labels == 0].mean() else 0
        means = a[labels == fires].mean() - a[labels == 8 - fires].mean()
        here = pair[:, c["channel"], c["row"], c["col"]]  # this '0', this '8'
        out.append((c, fires, here[fires // 8] - here[1 - fires // 8] >= VISIBLE * means))
    return out


def p1_shown_named(s: Sources) -> dict[int, np.ndarray | None]:
    r = s.r[1]
    return {0: named_pixels(s.test.images[r["examples"]["zero"], 0].numpy(), 1),
            8: named_pixels(s.test.images[r["examples"]["eight"], 0].numpy(), 2)}


def p1_feature_channels(s: Sources) -> list[dict[str, Any]]:
    """The chosen cells that fire visibly on the pair (p1_pair_cells); the digit whose stroke names
    each: the digit it fires for where its core holds ink or holes, else the other where its does,
    else none; the other shown digit's stroke there None where its core is empty. Grouped with the
    stroke words stored, in the cells' order."""
    shown = p1_shown_named(s)
    groups: dict[tuple, list[int]] = {}
    for c, fires, visible in p1_pair_cells(s):
        named = [k for k in (fires, 8 - fires) if core_named(shown[k], c["row"], c["col"])]
        if named and visible:
            other = (c["stroke_eight"] if named[0] == 0 else c["stroke_zero"]) \
                if core_named(shown[8 - named[0]], c["row"], c["col"]) else None
            groups.setdefault((fires, named[0], c["feature_stroke"], other), []).append(c["channel"])
    return [{"fires_for": f, "digit": k, "own_stroke": f == k, "other_stroke": o, "channels": chs}
            for (f, k, _, o), chs in groups.items()]


def p1_quiet(s: Sources) -> int:
    """The chosen cells over a stroke of either shown digit that do not fire visibly on the pair."""
    shown = p1_shown_named(s)
    return sum(any(core_named(shown[k], c["row"], c["col"]) for k in (0, 8)) and not visible
               for c, _, visible in p1_pair_cells(s))


def p1_filter_spread(s: Sources) -> dict[str, Any]:
    """Per deeper layer of the tiny CNN: its inputs, the kernels shown per filter (3, by design), and
    the median over filters of the share of squared weight in its 3 largest kernels, by a loop."""
    out = {}
    for layer in ("conv2", "conv3"):
        w = s.model.get_submodule(layer).weight.detach().double().numpy()
        shares = [sum(sorted((k ** 2).sum() for k in f)[-SHOWN:]) / (f ** 2).sum() for f in w]
        out[layer] = {"inputs": w.shape[1], "shown_inputs": SHOWN, "shown_inputs_share_median": float(np.median(shares))}
    return out


def p1_padding(s: Sources) -> dict[str, Any]:
    """Whether clamp and zero padding give the same '1' shifted 3 px each way."""
    one = shifted_ones(s)["original"]
    zero_filled = [np.pad(one, ((0, 0), (0, CLAMP_SHIFT)))[:, CLAMP_SHIFT:],
                   np.pad(one, ((0, 0), (CLAMP_SHIFT, 0)))[:, :-CLAMP_SHIFT]]
    same = all(np.array_equal(clamp_shift(one, dx), z) for dx, z in zip((-CLAMP_SHIFT, CLAMP_SHIFT), zero_filled))
    return {"padding": {"clamp_equals_zero_padding": same}}


def p1_features(s: Sources) -> list[str]:
    """The features named under the top cells, each once, in the cells' order."""
    named = [c["feature"] for c in s.r[1]["discriminant"]["top_cells"] if c["feature"] is not None]
    return list(dict.fromkeys(named))


def p1_zero_eight_logits(s: Sources, zeroed: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """The tiny CNN's logits for the held-out correct 0s and 8s (their test indices stored in the
    results) with `zeroed` conv3 channels set to 0 after batch norm and ReLU, by a hook on the full
    forward pass; and their labels."""
    index = s.r[1]["discriminant"]["ablation"]["evaluated_on"]
    zero = lambda module, args, out: out.index_fill(1, torch.tensor(zeroed, dtype=torch.long), 0.0)  # noqa: E731
    handle = s.model.act3.register_forward_hook(zero)
    try:
        with torch.no_grad():
            logits = s.model(s.test.images[index]).numpy()
    finally:
        handle.remove()
    return logits, s.test.labels.numpy()[index]


def p1_lead(s: Sources, zeroed: list[int]) -> float:
    """The mean lead of the true digit's logit over the other of 0 and 8, one digit at a time."""
    logits, labels = p1_zero_eight_logits(s, zeroed)
    return float(np.mean([row[y] - row[8 - y] for row, y in zip(logits, labels)]))


CHOSEN = 6  # P1 (2): the channels chosen and described, by design
SHOWN = 3   # P1 (1): the input kernels shown per filter of conv2 and conv3, by design


def p1_chosen_channels(s: Sources) -> list[int]:
    """The CHOSEN channels whose vote (their term in logit 8 minus logit 0: conv3's output after
    batch norm and ReLU, max-pooled 2x2, times the final layer's weights) separates the 8s from the
    0s of the selection half (test indices stored) best: the largest standardised mean difference
    with a pooled sample standard deviation."""
    index = s.r[1]["discriminant"]["ablation"]["selected_on"]
    act = torch.from_numpy(p1_conv3(s, index))
    pooled = torch.nn.functional.max_pool2d(act, 2).flatten(2).numpy()  # [N, C, 9]
    w = s.model.fc.weight.detach().double().numpy().reshape(10, pooled.shape[1], -1)
    votes = (pooled * (w[8] - w[0])[None]).sum(2)
    labels = s.test.labels.numpy()[index]
    zero, eight = votes[labels == 0], votes[labels == 8]
    n0, n8 = len(zero), len(eight)
    sd = np.sqrt(((n0 - 1) * zero.var(0, ddof=1) + (n8 - 1) * eight.var(0, ddof=1)) / (n0 + n8 - 2))
    return [int(c) for c in np.argsort(-(eight.mean(0) - zero.mean(0)) / sd, kind="stable")[:CHOSEN]]


def p1_top_cells(s: Sources) -> list[dict[str, int]]:
    return [{"channel": c} for c in p1_chosen_channels(s)]


def p1_switch_off(s: Sources) -> dict[str, Any]:
    """The chosen channels zeroed, and as many random channels drawn 20 times with the run's seed."""
    a = s.r[1]["discriminant"]["ablation"]
    rng = np.random.default_rng(s.r[1]["seed"])
    draws = [rng.choice(64, len(a["channels"]), replace=False).tolist() for _ in range(20)]
    random = [p1_lead(s, d) for d in draws]
    median = float(np.median(random))
    after = p1_lead(s, a["channels"])
    labels, pred = s.test.labels.numpy(), s.test_pred
    correct = np.isin(labels, (0, 8)) & (pred == labels)
    return {"channels": p1_chosen_channels(s), "n_evaluated": int(correct[a["evaluated_on"]].sum()),
            "margin_before": Near(p1_lead(s, []), 1e-4), "margin_after": Near(after, 1e-4),
            "random_margin_after_median": Near(median, 1e-4), "beats_random": after < median,
            "random_margins_after": [Near(v, 1e-4) for v in random]}


def named_pixels(image: np.ndarray, holes_kept: int) -> np.ndarray:
    """A digit's ink (from 0.5) and its `holes_kept` largest holes (background that ink encloses,
    scipy's hole filling); None when it has fewer holes."""
    ink = image >= 0.5
    labels, n = ndimage.label(ndimage.binary_fill_holes(ink) & ~ink)
    if n < holes_kept:
        return None
    sizes = sorted(range(1, n + 1), key=lambda k: -(labels == k).sum())[:holes_kept]
    return ink | np.isin(labels, sizes)


def p1_cells_background(s: Sources) -> dict[str, Any]:
    """The chosen cells whose 8x8 core (rows and columns 4r-2 .. 4r+5) holds less than a quarter of
    ink or hole pixels in both the shown '0' and the shown '8'; the shown digits without their holes."""
    shown = p1_shown_named(s)
    empty = sum(not any(core_named(shown[k], c["row"], c["col"]) for k in (0, 8))
                for c in s.r[1]["discriminant"]["top_cells"])
    return {"cells_over_background": empty,
            "named_from_class_map": [name for name, k in (("zero", 0), ("eight", 8)) if shown[k] is None]}


def p1_examples_correct(s: Sources) -> dict[str, bool]:
    """Whether the tiny CNN, run again, reads each example digit as its class."""
    digits = {"zero": 0, "eight": 8, "one": ONE}
    return {k: bool(s.test_pred[s.r[1]["examples"][k]] == d) for k, d in digits.items()}


# ----------------------------------------------------------------------------- P2
def p2_six_correct(s: Sources) -> bool:
    """Whether the tiny CNN, run again, reads the '6' as a '6'."""
    return bool(s.test_pred[s.r[2]["index"]] == SIX)


def p2_maps(s: Sources) -> dict[str, Any]:
    """From the three maps stored: the cells that keep the '6', the labels of the others, and
    whether map 2 equals map 1 exactly where the label is '6'."""
    r = s.r[2]
    p_true, p_max, label = (np.array(r[k]) for k in ("prob_true_map", "max_prob_map", "label_map"))
    counts: dict[int, int] = {}
    for v in label.ravel().tolist():
        counts[v] = counts.get(v, 0) + 1
    return {"true_label_cells": int((label == SIX).sum()),
            "label_cells": [[k, v] for k, v in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))],
            "maps_equal": {"exactly_where_true_label_wins": bool(np.array_equal(p_max == p_true, label == SIX))},
            "black_patch": r["fill"] == 0}


def p2_positions(s: Sources) -> int:
    r = s.r[2]
    side = (28 - r["patch"]) // r["stride"] + 1
    return side * side


def p2_label_change(s: Sources) -> dict[str, Any]:
    """The most frequent label other than '6' in the label map, or None."""
    label = np.array(s.r[2]["label_map"])
    others = label[label != SIX]
    if not others.size:
        return {"label": None}
    values, counts = np.unique(others, return_counts=True)
    return {"label": int(values[counts.argmax()])}


def p2_placement(s: Sources) -> dict[str, Any]:
    """Each guide's new labels, most frequent first, from the counts stored per guide."""
    study = s.r[2]["adversarial_study"]
    size = str(study["best_position"]["size"])
    out = {}
    for guide, w in study["where_guides_point"][size].items():
        pairs = [[int(k), int(v)] for k, v in w["new_labels"].items()]
        pairs.sort(key=lambda kv: (-kv[1], kv[0]))
        close = len(pairs) > 1 and 4 * pairs[1][1] >= 3 * pairs[0][1]  # the second has 3/4 of the first's count
        out[guide] = {"new_labels": pairs, "named_labels": [k for k, _ in pairs[:2 if close else 1]]}
    cnns = [scope for scope in study["versus"] if scope != "other_sixes"]  # our CNN and its retrainings
    out["cnns"] = len(cnns)
    for guide in out.keys() - {"cnns"}:
        out[guide]["cnns_beating_random"] = sum(study["versus"][c][size][guide]["verdict"] == "higher"
                                                for c in cnns)
    out["size"] = s.r[2]["patch"]  # the study's headline size is the occluding patch's (--patch)
    ours = study["rates"]["example"][size]
    for guide in out.keys() - {"cnns", "size"}:
        lo, hi = study["versus"]["example"][size][guide]["ci95"]
        k, n = sum(ours[guide]["per_window"]["changed"]), sum(ours[guide]["per_window"]["n"])
        out[guide]["ours"] = {"rate": Near(k / n, 5e-7),  # the JSON keeps 6 decimals
                              "verdict": "higher" if lo > 0 else "lower" if hi < 0 else "unclear"}
    six, pw, k = s.test.images[s.r[2]["index"], 0].numpy(), 29 - int(size), int(size)
    for guide in out.keys() - {"cnns", "size"}:  # the share of ink (>= 0.2) under the guide's windows
        cells = [divmod(q, pw) for q in ours[guide]["positions"]]
        ink = np.mean([(six[r:r + k, c:c + k] >= 0.2).mean() for r, c in cells])
        threshold = s.r[2]["findings"]["placement"][guide]["over_background"]["threshold"]
        out[guide]["over_background"] = {"below": bool(ink < threshold)}
    every = study["every_position"]["changed"][size]  # random on the example: every position
    out["random"] = {"ours": {"rate": Near(every["k"] / every["n"], 5e-7)}}
    design = study["design"]
    for guide in ("black-map", "white-map"):  # every window at each of the guide's positions
        out[guide]["ours"]["n"] = design["windows_per_size"] * design["guided_positions"]
    out["shown"] = p2_shown(s, study)
    out["shown_as_black_patch"] = p2_shown_as_black_patch(s, study)
    r0, _, r1, _ = s.r[2]["important_region"]["ink_box"]
    for guide in ("black-map", "white-map"):  # upper half of the ink box, over background, new labels 0/8
        upper = study["where_guides_point"][size][guide]["centre"][0] < (r0 + r1) / 2
        named = out[guide]["named_labels"]
        out[guide]["closes_top_loop"] = upper and out[guide]["over_background"]["below"] and bool(named) \
            and all(k in (0, 8) for k in named)
    white, black = ({"rate": sum(ours[g]["per_window"]["changed"]) / sum(ours[g]["per_window"]["n"]),
                     "beats": out[g]["cnns_beating_random"]} for g in ("white-map", "black-map"))
    higher, more = white["rate"] > black["rate"], white["beats"] > black["beats"]
    out["white_against_black"] = {"rate_higher_on_ours": higher, "beats_random_on_more_cnns": more,
                                  "better": higher and more}
    return out


def p2_shown(s: Sources, study: dict[str, Any]) -> dict[str, Any]:
    """Per guide, the shown paste's source digit's class (the test labels) and the tiny CNN's label
    of its stored image, run again; None for a guide without one."""
    out: dict[str, Any] = {"black-map": None, "white-map": None}
    for a in study["shown"]:
        if a["guide"] not in out:  # the fallback paste of no guide
            continue
        image = torch.tensor(a["image"], dtype=torch.float32)[None, None]
        out[a["guide"]] = {"window_of": int(s.test.labels[a["source_index"]]),
                           "becomes": int(predictions(s.model, image)[0])}
    return out


def p2_shown_as_black_patch(s: Sources, study: dict[str, Any]) -> dict[str, bool]:
    """Per shown paste's guide: whether the tiny CNN's label of the stored paste equals its label of
    the '6' with only a black patch (numpy slice set to the fill) where the paste lies."""
    r = s.r[2]
    six = s.test.images[r["index"], 0].numpy()
    out = {}
    for a in study["shown"]:
        (row, col), k = a["position"], a["size"]
        covered = six.copy()
        covered[row:row + k, col:col + k] = r["fill"]
        images = torch.tensor(np.stack([np.array(a["image"]), covered]), dtype=torch.float32)[:, None]
        pasted, black = predictions(s.model, images)
        out[a["guide"]] = bool(pasted == black)
    return out


def p2_judged(s: Sources) -> dict[str, Any]:
    study = s.r[2]["adversarial_study"]
    size = str(study["best_position"]["size"])
    ev = study["every_position"]
    return {"adversarial_share_of_changed": ev["adversarial"][size]["k"] / ev["changed"][size]["k"],
            "partition": {"changed": p2_changed_pastes(s, study, int(size))}}


def p2_changed_pastes(s: Sources, study: dict[str, Any], size: int) -> int:
    """The pastes of the study's windows of `size` at every top-left position over the '6' that the
    tiny CNN no longer labels '6', pasted again by numpy slicing from the recorded source windows."""
    six = s.test.images[s.r[2]["index"], 0].numpy()
    side, windows = 28 - size + 1, study["design"]["windows"][str(size)]
    changed = 0
    for source, (row, col) in zip(windows["source"], windows["corner"]):
        window = s.test.images[source, 0].numpy()[row:row + size, col:col + size]
        batch = np.repeat(six[None], side * side, 0)
        for q in range(side * side):
            batch[q, q // side:q // side + size, q % side:q % side + size] = window
        changed += int((predictions(s.model, torch.tensor(batch)[:, None]) != SIX).sum())
    return changed


def p2_strokes(s: Sources) -> dict[str, Any]:
    """The strokes the critical patches hide (share of the covered ink at least the stored threshold,
    largest first) and leave (below the untouched threshold), from the stored ink shares; the seeds
    of the other CNNs whose hidden strokes are not the reference CNN's."""
    st, comp = s.r[2]["findings"]["strokes"], s.r[2]["important_region"]["composition_of_covered_ink"]
    order = ("top_hook", "stem", "loop_left", "loop_right")
    hidden = [n for n in order if comp[n] >= st["hidden"]["threshold"]]
    hidden.sort(key=lambda n: -comp[n])
    mine = set(st["hidden"]["strokes"])
    erased = s.r[2]["important_region"]["erase_region"]
    worst = None
    for name, e in erased.items():  # the region whose erasure leaves the lowest p('6'), by a loop
        if worst is None or e["prob_true"] < erased[worst]["prob_true"]:
            worst = name
    return {"hidden": {"strokes": hidden},
            "erased_most": {"region": worst, "prob_true": erased[worst]["prob_true"], "pred": erased[worst]["pred"],
                            "changes_label": erased[worst]["pred"] != SIX},
            "untouched": {"strokes": [n for n in order if comp[n] < st["untouched"]["threshold"]]},
            "seeds_differing": [k for k, v in st["other_seeds"].items() if set(v["strokes"]) != mine]}


# ----------------------------------------------------------------------------- P3, P5
def p3_reference(s: Sources, log: str = "e", h0=(0.0, 0.0)) -> dict[str, float]:  # noqa: ANN001
    p = s.r[3]["params"]
    return ref.p3(np.array(s.r[3]["x"]), ASSIGNMENT_B, p["c"], p["W"], p["U"], p["V"], log, h0)


def vec(v: dict[str, float], name: str, t: int | None = None) -> list[float]:
    return [v[f"{name}@{t}_{i}" if t is not None else f"{name}_{i}"] for i in (1, 2)]


def rel_error(x: list[float], y: list[float]) -> float:
    x, y = np.array(x), np.array(y)
    return float(np.abs(x - y).max() / max(1e-8, (np.abs(x) + np.abs(y)).max()))


class Near(NamedTuple):
    """An expected value known only to within `tol` (absolute): a float32 computation in another order."""

    value: float
    tol: float


def p3_loss_float32(s: Sources, bias: np.ndarray, log: str, h0) -> np.float32:  # noqa: ANN001
    """Problem 3's loss with every array and operation in float32."""
    p, f = s.r[3]["params"], np.float32
    W, U, V, c = (np.array(p[k], dtype=f) for k in ("W", "U", "V", "c"))
    h = np.array(h0, dtype=f)
    for x in np.array(s.r[3]["x"], dtype=f):
        h = np.tanh(bias + W @ h + U @ x)
    o = c + V @ h
    y = np.exp(o - o.max()) / np.exp(o - o.max()).sum()
    return (y[0] - f(0.5)) ** 2 - np.log(y[1]) / f(ref.LN_BASE[log])


def p3_central_float32(s: Sources, log: str, h0, bound: float) -> list[Near]:  # noqa: ANN001
    """∂L/∂b by central differences in float32, known to within two rounding bounds (each computation
    rounds its own way)."""
    b, eps, out = np.array(ASSIGNMENT_B, dtype=np.float32), np.float32(ref.EPS), []
    for i in range(2):
        e = np.zeros(2, dtype=np.float32)
        e[i] = eps
        quotient = (p3_loss_float32(s, b + e, log, h0) - p3_loss_float32(s, b - e, log, h0)) / (np.float32(2) * eps)
        out.append(Near(float(quotient), 2 * bound))
    return out


def p3_values(s: Sources) -> dict[str, Any]:
    """Problem 3 (1)-(5) by tests/grade_reference.py from the assignment's numbers."""
    v, T = p3_reference(s), len(s.r[3]["x"])
    p = s.r[3]["params"]
    h = [vec(v, "h", t) for t in range(1, T + 1)]
    prev = [[0.0, 0.0]] + h[:-1]
    a = [(np.array(ASSIGNMENT_B) + np.array(p["W"]) @ hp + np.array(p["U"]) @ x).tolist()
         for hp, x in zip(prev, s.r[3]["x"])]
    grad, central = vec(v, "grad"), vec(v, "grad_cd")
    bound32 = rounding_bounds(v["L"])["float32"]
    stored32 = s.r[3]["grad_b_central_float32"]
    return {"grad_b_central_float32": p3_central_float32(s, s.r[3]["log"], s.r[3]["h0"], bound32),
            "grad_b_central_float32_rel_diff": [abs(a - b) / abs(b) for a, b in zip(stored32, central)],
            "x": s.r[3]["x"], "a": a, "h": h, "yhat": [vec(v, "yhat", t) for t in range(1, T + 1)],
            "loss": v["L"], "eps": ref.EPS, "lr": ref.LR, "grad_b_central": central, "grad_b_bptt": grad,
            "intermediate": [{"t": t, **{k: vec(v, k, t) for k in ("dL_do", "dL_dh", "dL_da")},
                              # only ŷ(τ) enters the loss: ∂L/∂ŷ(t) is zero before τ
                              "dL_dyhat": vec(v, "dL_dyhat", t) if t == T else [0.0, 0.0],
                              "one_minus_h2": [1.0 - x * x for x in h[t - 1]]} for t in range(T, 0, -1)],
            "rel_error_central": rel_error(grad, central), "params": {"b": ASSIGNMENT_B},
            "b_new": vec(v, "b_new"), "b_step": [ref.LR * g for g in grad],
            "loss_new": v["L_new"], "loss_change": v["L_new"] - v["L"],
            "loss_change_first_order": -ref.LR * float(np.dot(grad, grad))}


def p5_values(s: Sources) -> dict[str, Any]:
    """Problem 5 by tests/grade_reference.py with Problem 3's U, W, V, c and the biases the results
    name (an input: the solution's choice)."""
    r, p3 = s.r[5], s.r[3]["params"]
    biases = {k: r["params"][k] for k in ("b_f", "b_g", "b_o", "b")}
    v = ref.p5(np.array(r["x"]), p3["c"], p3["W"], p3["U"], p3["V"], biases, r["cell_input_activation"])
    T = len(r["x"])
    grad = vec(v, "grad")
    f = lambda bf: ref.p5(np.array(r["x"]), p3["c"], p3["W"], p3["U"], p3["V"], {**biases, "b_f": bf},  # noqa: E731
                          r["cell_input_activation"])["L"]
    central = ref.gradient_by_differences(f, np.array(biases["b_f"], dtype=float), None)
    sigma = lambda a: 1.0 / (1.0 + np.exp(-np.array(a, dtype=float)))  # noqa: E731
    reading = {"f": sigma(biases["b_f"]).tolist(), "g": sigma(biases["b_g"]).tolist(),
               "q": sigma(biases["b_o"]).tolist(), "z": sigma(biases["b"]).tolist()}
    return {"forward": {k: [vec(v, k, t) for t in range(1, T + 1)] for k in "fgqzsh"},
            "bias_reading": reading,
            "default_biases": biases == {"b_f": [1.0, 1.0], "b_g": [-1.0, -1.0], "b_o": [2.0, 2.0], "b": [0.0, 0.0]},
            "loss": v["L"], "yhat": [vec(v, "yhat", t) for t in range(1, T + 1)],
            "eps": ref.EPS, "grad_b_f_bptt": grad, "grad_b_f_central": central.tolist(), "rel_error_central": rel_error(grad, central.tolist()),
            "intermediate": [{"t": t, **{k: vec(v, k, t) for k in ("dL_do", "dL_dh", "dL_ds", "dL_df", "dL_da_f",
                                                               "dL_dg", "dL_dq", "dL_dz",
                                                               "dL_da_g", "dL_da_q", "dL_da_z")},
                              # L = (ŷ₁(τ) − 0.5)² − ln ŷ₂(τ), by hand; zero before τ
                              "dL_dyhat": ([2.0 * (vec(v, "yhat", T)[0] - 0.5), -1.0 / vec(v, "yhat", T)[1]] if t == T
                                           else [0.0, 0.0])}
                             for t in range(T, 0, -1)]}


# ----------------------------------------------------------------------------- P4
def lower_median(values: list[float]) -> float:
    return sorted(values)[(len(values) - 1) // 2]


def p4_gain(s: Sources) -> dict[str, Any]:
    """Where W's median gain over the draws turns from negative to non-negative; whether U or b moved
    stays below W alone in every draw (from the per-draw gains stored)."""
    g = s.r[4]["experiment1"]["gain"]
    med = [lower_median([d["W"][i] for d in g["draws"] if d["W"][i] is not None]) for i in range(len(g["rhos"]))]
    crossing = next(([g["rhos"][i], g["rhos"][i + 1]] for i in range(len(med) - 1) if med[i] < 0 <= med[i + 1]), None)
    below = True
    for c in g["ceiling"].values():
        for w, m in zip(c["W_alone_per_draw"], c["max_with_input_per_draw"]):
            below = below and w is not None and (m is None or m < w)
    return {"crossing": crossing, "input_below_W_alone": below}


def p4_esn(s: Sources) -> dict[str, Any]:
    e2 = s.r[4]["experiment2"]
    pooled, lengths = e2["accuracy"]["pooled"], e2["lengths"]
    radii = [f"{x:g}" for x in e2["spectral_radii"] if x != 0]
    first = pooled[str(lengths[0])]
    best = radii[int(np.argmax([first[k] for k in radii]))]
    zero = [pooled[str(T)]["0"] for T in lengths] if 0 in e2["spectral_radii"] else []
    accs = [pooled[str(T)][best] for T in lengths]
    return {"best_accuracy": accs, "falls": all(a > b for a, b in zip(accs, accs[1:])),
            "memoryless_at_chance": bool(zero) and all(a == e2["chance"] for a in zero)}


def p4_forget_path(s: Sources) -> dict[str, Any]:
    """For the smallest and the largest forget bias, the lag at which the diag(f) path alone falls
    below the threshold: its largest and smallest value over the draws."""
    curves = s.r[4]["experiment1"]["curves"]
    lstm = [n for n in curves if n.startswith("LSTM")]
    lags = {n: [d["forget_path_lag_below_1e-6"] for d in curves[n]["draws"]] for n in (lstm[0], lstm[-1])}
    seen = {n: [lag for lag in v if lag is not None] for n, v in lags.items()}  # None: not within T
    return {lstm[0]: {"forget_path_lag_below_1e-6": {"max": max(seen[lstm[0]], default=None)}},
            lstm[-1]: {"forget_path_lag_below_1e-6": {"min": min(seen[lstm[-1]], default=None)}}}


def p4_reach(s: Sources) -> dict[str, Any]:
    """At the largest forget bias, whether the ratio at the last lag both exceeds 1 and spans at least
    the stored threshold's orders of magnitude over the draws."""
    e1, T = s.r[4]["experiment1"], s.r[4]["config"]["experiment1"]["T"]
    name = [n for n in e1["curves"] if n.startswith("LSTM")][-1]
    end = [d["ratio_at_lag"][str(T - 1)] for d in e1["curves"][name]["draws"]]
    end = [v for v in end if v is not None]
    threshold = s.r[4]["findings"]["reach"]["end_orders"]["threshold"]
    draws = e1["curves"][name]["draws"]
    return {"end_orders": {"grows_and_fades": max(end) > 1 and math.log10(max(end) / min(end)) >= threshold},
            "total_never_path_always": all(d["lag_below_1e-6"] is None for d in draws)
            and all(d["forget_path_lag_below_1e-6"] is not None for d in draws)}


def p4_problem3_w(s: Sources) -> dict[str, Any]:
    """Problem 3's own W: its largest lag below the threshold over the draws, and whether its units'
    mean tanh' (the forward passes' mean 1 − h², stored per curve) is below the stored threshold."""
    curves = s.r[4]["experiment1"]["curves"]
    name = next(n for n in curves if n.startswith("RNN, Problem 3"))
    lags = [d["lag_below_1e-6"] for d in curves[name]["draws"] if d["lag_below_1e-6"] is not None]
    slope = curves[name]["mean_local_factor"]
    return {"lag_below_1e-6": {"max": max(lags, default=None)},
            "saturated": slope < s.r[4]["findings"]["problem3_W"]["threshold"]}


# ----------------------------------------------------------------------------- answer_key.json
def key_readings(s: Sources) -> list[dict[str, Any]]:
    """Every reading of P3 (log base, h(0)) and of P5 (cell input, biases) by tests/grade_reference.py,
    with P3's central-difference rounding bounds."""
    out = []
    p3 = s.r[3]["params"]
    for row in s.key["readings"]:
        i = row["interpretation"]
        if row["problem"] == "p3":
            v = p3_reference(s, i["log"], i["h0"])
            central, bound = vec(v, "grad_cd"), rounding_bounds(v["L"])
            stored32 = row["grad_central_float32"]
            out.append({"yhat3": vec(v, "yhat", 3), "loss": v["L"], "grad": vec(v, "grad"), "grad_central": central,
                        "b_new": vec(v, "b_new"), "loss_new": v["L_new"], "eps": ref.EPS,
                        "abs_grad_central_b1": abs(central[0]), "central_rounding_bound": bound,
                        "float32_bound_share_of_grad_b1": bound["float32"] / abs(central[0]),
                        "grad_central_float32": p3_central_float32(s, i["log"], i["h0"], bound["float32"]),
                        "grad_central_float32_rel_diff": [abs(a - b) / abs(b) for a, b in zip(stored32, central)],
                        "float32_band_factor": FLOAT32_BAND, "float32_band": FLOAT32_BAND * bound["float32"]})
        else:
            biases = {k: i[k] for k in ("b_f", "b_g", "b_o", "b")}
            v = ref.p5(np.array(s.r[5]["x"]), p3["c"], p3["W"], p3["U"], p3["V"], biases, i["cell_activation"])
            out.append({"yhat3": vec(v, "yhat", 3), "loss": v["L"], "grad": vec(v, "grad")})
    return out


def rounding_bounds(loss: float) -> dict[str, float]:
    """A central difference's rounding error: each loss rounded by u·max(1, |L|) (u = 2^-53 in float64,
    2^-24 in float32), the difference of two divided by 2ε, so u·max(1, |L|)/ε."""
    return {dtype: u * max(1.0, abs(loss)) / ref.EPS for dtype, u in (("float64", 2.0 ** -53), ("float32", 2.0 ** -24))}


def matches(written: float, right: float, digits: int, rtol: float) -> bool:
    """README's rule: `written` (right's value to `digits` significant digits) matches when within half
    a unit of its last digit or rtol·|right|."""
    w = float(f"{written:.{digits}g}")
    half = 0.5 * 10.0 ** (math.floor(math.log10(abs(w))) - digits + 1) if w else 0.5 * 10.0 ** -digits
    return abs(w - right) <= max(half, rtol * abs(right))


def catalogue_values(s: Sources, problem: str, mistake: str | None) -> dict[str, float]:
    """Every value of P3 or P5 under the assignment's reading, with `mistake` planted."""
    p3 = s.r[3]["params"]
    if problem == "p3":
        return ref.p3(np.array(s.r[3]["x"]), ASSIGNMENT_B, p3["c"], p3["W"], p3["U"], p3["V"], mistake=mistake)
    biases = {k: s.r[5]["params"][k] for k in ("b_f", "b_g", "b_o", "b")}
    return ref.p5(np.array(s.r[5]["x"]), p3["c"], p3["W"], p3["U"], p3["V"], biases, mistake=mistake)


def key_catalogue(s: Sources) -> list[dict[str, Any]]:
    """Each catalogue entry's values by tests/grade_reference.py with the mistake planted, and whether
    every value it gives, written to 5 significant digits (b_new 8), matches the right one."""
    out = []
    for row in s.key["catalogue"]:
        right, wrong = (catalogue_values(s, row["problem"], m) for m in (None, row["id"]))
        p3 = row["problem"] == "p3"
        values = {"yhat3": vec(wrong, "yhat", 3), "loss": wrong["L"], "grad": vec(wrong, "grad"),
                  "grad_cd": vec(wrong, "grad_cd") if p3 else None, "b_new": vec(wrong, "b_new") if p3 else None,
                  "loss_new": wrong["L_new"] if p3 else None}
        same = all(matches(wrong[k], right[k], STEP_DIGITS if k.startswith("b_new") else 5, RTOL) for k in right)
        out.append({"values": values, "indistinguishable": same})
    return out


def first_place(x: float) -> int:
    """The decimal place of x's first significant digit (0.0123 -> 2), read off its fixed-point text."""
    fraction = f"{abs(x):.15f}".split(".")[1]
    return len(fraction) - len(fraction.lstrip("0")) + 1


def half_unit(x: float, digits: int) -> float:
    """Half a unit of x's `digits`-th significant digit, from the exponent of its scientific text."""
    return 0.5 * 10.0 ** (int(f"{x:.{digits - 1}e}".split("e")[1]) - digits + 1)


def key_step(s: Sources) -> dict[str, Any]:
    """P3 (4) on the assignment's numbers by tests/grade_reference.py: the step lr·|∂L/∂b|, the digit
    of b_new where it first shows, half a unit of b_new's 5th digit over the step, the fewest digits
    whose half unit is at most STEP_SHARE of the step (counted up from 1), and two float32 roundings
    (2^-24 each, relative) of b_new."""
    v = p3_reference(s)
    size = [ref.LR * abs(g) for g in vec(v, "grad")]
    b_new = vec(v, "b_new")
    return {"lr": ref.LR, "size": size,
            "first_digit": [first_place(z) - first_place(b) + 1 for z, b in zip(size, b_new)],
            "half_unit_share_5": [half_unit(b, 5) / z for b, z in zip(b_new, size)],
            "deciding_digits": [next(d for d in range(1, 17) if half_unit(b, d) <= STEP_SHARE * z)
                                for b, z in zip(b_new, size)],
            "float32_band": [2 * 2.0 ** -24 * abs(b) for b in b_new]}


def key_example(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """A P3 row whose only slip is the loss over ln 10, by hand: the loss is part (1)'s last value, after
    the right h(t) and ŷ(t), so (1) earns its before_wrong share, and the later parts, each the right
    work on the row's own loss, earn their carried share."""
    p3 = [p for p in parts if p["problem"] == "p3"]
    first = next(p for p in p3 if p["part"] == 1)
    return {"mistake": "loss_over_ln10", "verdict": "known_mistake", "first_wrong_part": 1,
            "carried": [p["part"] for p in p3 if p["part"] > 1], "first_wrong_share": first["before_wrong"],
            "score": first["points"] * first["before_wrong"] + sum(p["points"] * p["carried"] for p in p3
                                                                  if p["part"] > 1),
            "out_of": sum(p["points"] for p in p3)}


def key_one_sided(s: Sources, parts: list[dict[str, Any]]) -> dict[str, Any]:
    """A P3 row whose only slip is a one-sided difference, by hand: its ∂L/∂b₁ (tests/grade_reference.py)
    differs from the central one at 5 digits, and it is part (2)'s first value, so (2) earns nothing;
    (1) comes before it and earns its points; (3), (4), (5), the right work, earn their carried share."""
    one, right = (catalogue_values(s, "p3", m) for m in ("one_sided_difference", None))
    assert not matches(one["grad_cd_1"], right["grad_cd_1"], 5, RTOL)
    p3 = {p["part"]: p for p in parts if p["problem"] == "p3"}
    return {"first_wrong_part": 2, "first_wrong_share": 0.0, "out_of": sum(p["points"] for p in p3.values()),
            "score": p3[1]["points"] + sum(p3[n]["points"] * p3[n]["carried"] for n in (3, 4, 5))}


def key_b_new_cases(s: Sources, parts: list[dict[str, Any]]) -> dict[str, Any]:
    """P3 (4) alone, by hand: the part earns its points times the share of its decided components that
    are right, in either order: one of two at 8 digits earns half; at 5 digits b₁ is not decided
    (key_step's deciding digits), so a right b₂ alone, one of one, earns the whole part."""
    four = next(p for p in parts if (p["problem"], p["part"]) == ("p3", 4))
    assert key_step(s)["deciding_digits"] == [6, 5]
    return {"b1_right_b2_wrong": {"score": four["points"] * 1 / 2, "points": four["points"], "digits": STEP_DIGITS},
            "b1_wrong_b2_right": {"score": four["points"] * 1 / 2, "points": four["points"], "digits": STEP_DIGITS},
            "b2_only": {"score": four["points"], "points": four["points"], "digits": 5}}


def key_rubric(s: Sources) -> dict[str, Any]:
    """grade.py's defaults as README states them, the default rubric's CSV read with the csv module,
    P3 (4)'s step, its cases, the worked examples of the shares and a written 0.00."""
    parts = [{"problem": r["problem"], "part": int(r["part"]),
              **{k: float(r[k]) for k in ("points", "other_reading", "no_work", "carried", "before_wrong")}}
             for r in csv.DictReader(io.StringIO(DEFAULT_RUBRIC))]
    return {"rtol": RTOL, "match_rule": {"min_digits": MIN_DIGITS, "step_digits": STEP_DIGITS,
                                         "step_share": STEP_SHARE, "step_float32_ulps": 2.0, "float32_unit": 2.0 ** -24},
            "parts": parts, "step": key_step(s), "example": key_example(parts),
            "example_one_sided": key_one_sided(s, parts), "b_new_cases": key_b_new_cases(s, parts),
            "zero": {"digits": 0, "half_unit": 0.5 * 10.0 ** -len("00")}}  # 0.00: no non-zero digit, 2 decimals


class Fact(NamedTuple):
    file: str
    path: str  # dotted, no list indices: a field or the root of a subtree
    recompute: Callable[[Sources], Any]


def at(path: str, make: Callable[[Sources], Any]) -> Callable[[Sources], Any]:
    """`make`'s value at a dotted sub-path."""
    def pick(s: Sources) -> Any:
        value = make(s)
        for key in path.split("."):
            value = value[key]
        return value
    return pick


FACTS = (
    Fact("p1", "train_accuracy", at("train_accuracy", p1_accuracies)),
    Fact("p1", "test_accuracy", at("test_accuracy", p1_accuracies)),
    Fact("p1", "model.recipe", p1_recipe),
    Fact("p1", "model", p1_architecture),
    Fact("p1", "findings.model.full_training_set", p1_full_training_set),
    Fact("p1", "shift", p1_shift),
    Fact("p1", "filters", p1_filter_spread),
    Fact("p1", "findings.shift", p1_shift_findings),
    Fact("p1", "findings.filters.conv1_start", p1_conv1_start),
    Fact("p1", "findings.discriminant", p1_discriminant_findings),
    Fact("p1", "findings.filters.conv1_patterns_beyond_untrained", p1_conv1_patterns),
    Fact("p1", "discriminant.features", p1_features),
    Fact("p1", "discriminant.ablation", p1_switch_off),
    Fact("p1", "discriminant.top_cells", p1_top_cells),
    Fact("p1", "examples_classified_correctly", p1_examples_correct),
    Fact("p2", "classified_correctly", p2_six_correct),
    Fact("p2", "findings.maps", p2_maps),
    Fact("p2", "findings.strokes", p2_strokes),
    Fact("p2", "n_positions", p2_positions),
    Fact("p2", "findings.label_change", p2_label_change),
    Fact("p2", "findings.placement", p2_placement),
    Fact("p2", "findings.judged", p2_judged),
    Fact("p3", "", p3_values),
    Fact("p5", "", p5_values),
    Fact("p4", "findings.gain", p4_gain),
    Fact("p4", "findings.esn", p4_esn),
    Fact("p4", "findings.reach", p4_reach),
    Fact("p4", "findings.spreads", p4_forget_path),
    Fact("p4", "findings.problem3_W", p4_problem3_w),
    Fact("answer_key", "readings", key_readings),
    Fact("answer_key", "catalogue", key_catalogue),
    Fact("answer_key", "rubric", key_rubric),
)

# Inputs a reading is defined by, not values the code measured: each row of the key's tables names
# the reading (log base, h(0), cell input, biases) it was computed under, and bold marks P3's and
# P5's own reading by comparing those names.
INPUTS = (("answer_key", "readings[].interpretation"), ("p3", "h0"), ("p5", "params"),
          ("p4", "config"))  # P4's settings: the sequence length its experiments ran


def leaves(path: str, value: Any) -> set[str]:
    """Every path under `value` (containers included), list indices written []."""
    out = {path}
    if isinstance(value, dict):
        for k, v in value.items():
            out |= leaves(f"{path}.{k}" if path else k, v)
    elif isinstance(value, list):
        for v in value:
            out |= leaves(f"{path}[]", v)
    return out


def close(actual: Any, expected: Any, where: str) -> list[str]:
    """The paths where `actual` differs from `expected` (a dict compares the keys `expected` has)."""
    if isinstance(expected, dict):
        return [m for k, v in expected.items() for m in close(actual[k], v, f"{where}.{k}")]
    if isinstance(expected, list):
        if len(actual) != len(expected):
            return [f"{where}: {len(actual)} entries, recomputed {len(expected)}"]
        return [m for i, (a, e) in enumerate(zip(actual, expected)) for m in close(a, e, f"{where}[{i}]")]
    if isinstance(expected, Near):
        ok = abs(actual - expected.value) <= expected.tol
    elif isinstance(expected, float) and not isinstance(actual, bool) and actual is not None:
        ok = math.isclose(actual, expected, rel_tol=1e-6, abs_tol=1e-9)
    else:
        ok = actual == expected and type(actual) is type(expected)
    return [] if ok else [f"{where}: {actual!r}, recomputed {expected!r}"]


def value_at(data: dict, path: str) -> Any:
    for key in filter(None, path.split(".")):
        data = data[key]
    return data


def file_key(source: str) -> str:
    return Path(source).name.removesuffix("_results.json").removesuffix(".json")


@pytest.fixture(scope="module")
def sources(every_result, tiny_checkpoints, p1_checkpoints) -> Sources:
    return Sources(every_result, tiny_checkpoints, p1_checkpoints)


@pytest.fixture(scope="module")
def recomputed(sources) -> dict[tuple[str, str], Any]:
    return {(f.file, f.path): f.recompute(sources) for f in FACTS}


def solution_reads(folder: Path) -> list:
    """Every read the solution's renderers make of the results."""
    with recording() as reads:
        build_solution(load_results(folder), folder)
    return reads


def key_reads(folder: Path) -> list:
    """Every read the key's renderers make of the results and of answer_key.json."""
    results = load_results(folder)
    with recording() as reads:
        build_key(load(folder / "answer_key.json", "answer_key.py"), results[1], results[2], results[3], results[5],
                  "answer_key.py")
    return reads


def is_fact(value: Any) -> bool:
    """Numbers, booleans, None and lists (a list read whole or by its length) are facts; strings are words."""
    return not isinstance(value, str)


def uncovered(reads: list, recomputed: dict[tuple[str, str], Any]) -> list[str]:
    covered = {(file, p) for (file, path), value in recomputed.items() for p in leaves(path, value)}
    covered |= {(file, p) for file, root in INPUTS for p in (root,)}
    inputs = [(file, root) for file, root in INPUTS]
    missing = []
    for r in reads:
        file = file_key(r.source)
        if not is_fact(r.value) or (file, r.path) in covered:
            continue
        if any(file == f and (r.path == root or r.path.startswith((root + ".", root + "["))) for f, root in inputs):
            continue
        missing.append(f"{file}: {r.path}")
    return sorted(set(missing))


def test_every_fact_the_solution_reads_has_a_row(every_result, recomputed):
    missing = uncovered(solution_reads(every_result), recomputed)
    assert not missing, "facts read by solution.md without a row in FACTS: " + "; ".join(missing)


def test_every_fact_the_key_reads_has_a_row(every_result, recomputed):
    missing = uncovered(key_reads(every_result), recomputed)
    assert not missing, "facts read by key.md without a row in FACTS: " + "; ".join(missing)


@pytest.mark.parametrize("fact", FACTS, ids=lambda f: f"{f.file}:{f.path or '.'}")
def test_each_fact_is_what_its_recomputation_gives(fact, sources, recomputed):
    data = sources.key if fact.file == "answer_key" else sources.r[int(fact.file[1:])]
    wrong = close(value_at(data, fact.path), recomputed[(fact.file, fact.path)], fact.path or ".")
    assert not wrong, wrong
