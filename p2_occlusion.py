"""Problem 2: slide a black 8x8 patch over a '6', read what the CNN needs, and transplant patches.

Answers (1) the three occlusion maps of a correctly classified test '6' (p('6'), the highest class
probability, the predicted label) for every position of the patch; (2) which strokes of the '6'
matter: the positions where p('6') drops below 0.5, an objective split of the digit's ink into
loop / stem / top hook, and the map averaged over the correctly classified test 6s; (3) whether
windows cut from other digits and pasted over the '6' make adversarial images, as a small study:
a fixed random sample of windows (6x6, 8x8, 10x10) pasted at every position, rates with 95%
intervals, placement guided by occlusion maps against random, rechecked on other 6s and on CNNs of
two other training seeds; independent judges (3 more CNNs, an MLP) separate true adversarials from
honest relabellings; PGD and an optimised patch on the same '6' for comparison.

    .venv/bin/python p2_occlusion.py                 # the first correct '6', 8x8 black patch
    .venv/bin/python p2_occlusion.py --index 605 --patch 6 --stride 2 --fill 0.5

Where the math lives: the batched occlusion engine (masks, the batch-norm-folded CNN) is in
common/occlusion.py; the CNN, its training and checkpoints in common/cnn.py; the stroke regions,
the transplant study, the Wilson interval, PGD and the patch attack are in this file.

Map cell (r, c) is the patch whose TOP-LEFT corner is at pixel (r*stride, c*stride); the map
figures label their axes in these patch-position coordinates, and the overlay draws each cell at
the patch centre, (r*stride + (patch-1)/2, c*stride + (patch-1)/2).

Expected output (offline, mnist5k, seed 0, defaults): the '6' is test #600, the first correctly
classified 6, with p('6') above 0.95 on 3 training seeds. How many of the 441 patch positions push
p('6') below 0.5, where they are, and everything in (3) depend on the CNN's weights, which differ
between CPUs: README gives the range over 3 training seeds, and each run prints its own
(figures/p2_results.json).
Writes: figures/p2_maps.png, p2_regions.png, p2_population.png, p2_sixes_gallery.png,
p2_transplant_study.png, p2_adversarial.png, p2_attacks.png and p2_results.json; trains and caches
the judges (checkpoints/cnn-<source>-seed{1,2,3}.pt, mlp-<source>.pt; common/mlp.py) on the first run.
Runtime on 2 CPU cores, checkpoints cached: measured only on a shared, overloaded machine (load 9 on
2 cores): 236 s wall against 137 s for the previous P2 (a larger search, no judges) in the same
conditions, so about 1.7x the previous P2's 10 s on a quiet machine. About half of it is the
transplant study; its cost scales with FULL["windows"] and FULL["sixes"], not with the test set.
The first run also trains 3 judge CNNs (about 10 s each on one thread, one per core side by side)
and the MLP (about 1 s); `make` trains them before P2 starts.
"""
from __future__ import annotations

import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any, NamedTuple, Sequence

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from matplotlib import colors
from matplotlib.patches import Patch, Rectangle

from common.cli import (
    Parser,
    UserError,
    add_out_argument,
    run,
    save_figure,
    versions,
    write_json_atomic,
)
from common.cnn import add_cnn_arguments, load_cnn, pick_correct, predict_proba
from common.data import MNISTData, load_mnist, resolve_source
from common.mlp import load_mlp
from common.models import ModelSpec, ensure_models
from common.occlusion import (
    DEFAULT_CHUNK,
    check_window,
    fast_inference_copy,
    num_positions,
    occlude,
)
from common.plotting import plt

# ----------------------------------------------------------------------------- algorithm constants
SIX = 6
CRITICAL_P = 0.5  # "p('6') drops below 0.5"
INK = 0.2  # a pixel at or above this value is ink (MNIST strokes are anti-aliased 0..1)
REGIONS = ("top_hook", "stem", "loop_left", "loop_right")
POPULATION_MAX = 200  # mean map over all correct test 6s, or a seeded sample of this many
# (3) the transplant study. Sample sizes are fixed here, not tied to the test set's size.
ADV_SIZES = (6, 8, 10)  # transplanted window sizes: the assignment's 8x8 and one smaller and larger
GUIDES = {"black-map": 0.0, "white-map": 1.0}  # guided placement: occlusion maps with these fills
STRATEGIES = (*GUIDES, "random")
MIN_WINDOW_INK = 0.1  # a source window must hold ink worth 10% of its area
# windows: source windows per size, each from a different digit; guided_positions: lowest map
# cells per guide (and random draws per window where not every position is tried); sixes: other
# correct 6s in the population check.
FULL = {"population": None, "windows": 20, "guided_positions": 10, "sixes": 8}
QUICK = {"population": 6, "windows": 4, "guided_positions": 3, "sixes": 1}
JUDGE_CNNS = 3  # CNN judges: training seeds seed+1 .. seed+3, same recipe as ours
JUDGE_MAJORITY = 3  # of the 4 judges (3 CNNs and the MLP)
SEEDS_AGREE = 2  # our CNN's conclusions are rechecked on CNNs of training seeds seed+1, seed+2
Z95 = 1.959964  # two-sided 95% normal quantile
PGD_EPS, PGD_STEPS, PGD_GRID = 0.3, 40, 15  # the usual MNIST L-inf budget; steps of 2.5 eps / steps
PATCH_STEPS, PATCH_ALPHA = 100, 0.05  # the optimised patch: signed-gradient steps inside its window

INTERPRETATION = (
    "Map cell (r, c) is the patch whose top-left corner sits at pixel (r*stride, c*stride) (rows "
    "down, columns right); its centre is (patch-1)/2 pixels further. The patch replaces pixels by "
    "`fill` (0 = black, exactly, because the CNN takes pixels in [0, 1] and normalises inside). "
    "'Highest probability' is the maximum over all 10 classes, '6' included. For (3) a pasted "
    "window replaces the '6's pixels under it, background included (it occludes and adds "
    "strokes). 'Adversarial' needs more than a changed label: the CNN's label changes while at "
    "least 3 of 4 independent judges (CNNs of 3 other training seeds and an MLP) still say '6'; "
    "where most judges give the new label too, the paste is an honest relabelling. Guided "
    "target positions are the lowest cells of the '6's own occlusion map for a patch of the "
    "window's size, filled black (the assignment's map: where removing ink hurts) or white "
    "(where adding ink hurts)."
)

# ----------------------------------------------------------------------------- styling constants
GALLERY = 8  # 6s shown in the gallery of individual maps
GALLERY_EACH = 2  # adversarial and relabelled pastes shown per window size
ATTACK_NAMES = {"pgd": "PGD, ε = {eps:g}", "pgd_min": "PGD, smallest ε = {eps:.3f}",
                "patch": "optimised 8x8 patch", "transplant": "transplanted 8x8 window"}
REGION_NAMES = {"top_hook": "top hook", "stem": "stem", "loop_left": "left half of the loop",
                "loop_right": "right half of the loop", "loop": "whole loop", "hole": "hole"}
REGION_TICKS = {"top_hook": "top\nhook", "stem": "stem", "loop_left": "loop,\nleft half",
                "loop_right": "loop,\nright half", "loop": "whole\nloop"}
TAB10 = plt.get_cmap("tab10").colors
STRATEGY_COLOURS = {"black-map": "black", "white-map": TAB10[1], "random": TAB10[7]}
STRATEGY_WORDS = {"black-map": "guided by the black-patch map",
                  "white-map": "guided by the white-patch map", "random": "random"}


def r6(x: float) -> float:
    return round(float(x), 6)


def nested(a: np.ndarray, digits: int = 6) -> list:
    return np.round(a.astype(np.float64), digits).tolist()


class Problem(NamedTuple):
    """The CNN, the test split and the chosen '6'."""
    source: str
    model: torch.nn.Module
    meta: dict
    test: MNISTData
    pred: np.ndarray  # [N] the CNN's test labels
    index: int  # test index of the '6'
    clean: np.ndarray  # [10] its probabilities

    @property
    def six(self) -> torch.Tensor:  # [1, 28, 28]
        return self.test.images[self.index]

    @property
    def image(self) -> np.ndarray:  # [28, 28]
        return self.six[0].numpy()


def models_needed(seed: int) -> list[ModelSpec]:
    """The networks a run loads: our CNN, then the judges (CNNs of seeds seed+1 .. seed+JUDGE_CNNS
    and the MLP of our seed)."""
    return [ModelSpec(k) for k in range(seed, seed + 1 + JUDGE_CNNS)] + [ModelSpec(seed, 0, "mlp")]


def load_problem(data: str, seed: int, retrain: bool, checkpoints, index: int | None) -> Problem:
    """Our CNN, the test split and the '6'. Missing checkpoints (ours and the judges') train
    first, side by side, and the others are checked; --retrain retrains them all."""
    source = resolve_source(data)
    specs = models_needed(seed)
    ensure_models(source, specs, checkpoints, retrain=specs if retrain else ())
    model, meta = load_cnn(source, seed=seed, checkpoint_dir=checkpoints)
    test = load_mnist("test", source)
    probs = predict_proba(model, test.images)
    pred = probs.argmax(1)
    index = pick_correct(test.labels, pred, SIX, index)
    return Problem(source, model, meta, test, pred.numpy(), index, probs[index].numpy())


# ----------------------------------------------------------------------------- (1) the maps


def occlusion_maps(model: torch.nn.Module, image: torch.Tensor, patch: int, stride: int,
                   fill: float, true_class: int = SIX) -> dict[str, np.ndarray]:
    """p(true), max probability and label maps [P, P] for one image [1, 28, 28]."""
    probs = occlude(model, image, patch=patch, stride=stride, fill=fill).numpy()
    return {"prob_true": probs[..., true_class], "max_prob": probs.max(-1),
            "label": probs.argmax(-1), "probs": probs}


def most_damaging(prob_true: np.ndarray) -> tuple[int, int]:
    """Map cell (r, c) with the lowest p('6')."""
    return tuple(int(v) for v in np.unravel_index(int(np.argmin(prob_true)), prob_true.shape))


def patch_mask(row: int, col: int, patch: int, stride: int) -> np.ndarray:
    m = np.zeros((28, 28), dtype=bool)
    m[row * stride:row * stride + patch, col * stride:col * stride + patch] = True
    return m


def question1(problem: Problem, patch: int, stride: int, fill: float) -> dict[str, Any]:
    """The three maps, the most damaging position and the answer in words."""
    maps = occlusion_maps(problem.model, problem.six, patch, stride, fill)
    worst = most_damaging(maps["prob_true"])
    worst_image = problem.image.copy()
    worst_image[patch_mask(*worst, patch, stride)] = fill
    return {"maps": maps, "worst": worst, "worst_image": worst_image,
            "q1": answer_q1(problem.index, problem.clean, maps, patch, stride, fill)}


# ----------------------------------------------------------------------------- (2) which strokes
def components(mask: np.ndarray) -> list[np.ndarray]:
    """4-connected components of a boolean mask, each as a boolean mask, largest first."""
    seen = np.zeros_like(mask, dtype=bool)
    out = []
    h, w = mask.shape
    for y0, x0 in zip(*np.nonzero(mask)):
        if seen[y0, x0]:
            continue
        comp = np.zeros_like(seen)
        stack = [(y0, x0)]
        seen[y0, x0] = True
        while stack:
            y, x = stack.pop()
            comp[y, x] = True
            for yy, xx in ((y - 1, x), (y + 1, x), (y, x - 1), (y, x + 1)):
                if 0 <= yy < h and 0 <= xx < w and mask[yy, xx] and not seen[yy, xx]:
                    seen[yy, xx] = True
                    stack.append((yy, xx))
        out.append(comp)
    return sorted(out, key=lambda m: -int(m.sum()))


def stroke_width(ink: np.ndarray) -> int:
    """Median over ink pixels of the shorter of the horizontal and vertical ink runs through it."""
    def runs(m: np.ndarray) -> np.ndarray:
        out = np.zeros(m.shape, dtype=int)
        for i, row in enumerate(m):
            j = 0
            while j < len(row):
                if row[j]:
                    k = j
                    while k < len(row) and row[k]:
                        k += 1
                    out[i, j:k] = k - j
                    j = k
                else:
                    j += 1
        return out
    both = np.minimum(runs(ink), runs(ink.T).T)
    return max(1, int(np.median(both[ink])))


def stroke_regions(image: np.ndarray) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Split the ink of a '6' into top hook, stem and the loop's left and right halves.

    The hole is the largest background component that the border cannot reach (4-connected
    flood fill). The loop is the ink within `stroke width` pixels (Chebyshev) of the hole, split at
    the hole's centre column. The remaining ink is split at half height between its top row and
    the loop's top row: above is the top hook, below the stem. Without a closed hole (an open '6'),
    the loop is the lower half of the ink's rows and the hole stays empty.
    """
    ink = image >= INK
    holes = components(~ink)
    border = np.zeros_like(ink)
    border[0, :] = border[-1, :] = border[:, 0] = border[:, -1] = True
    inner = [h for h in holes if not (h & border).any()]
    width = stroke_width(ink)
    rows = np.arange(28)[:, None] * np.ones((1, 28), dtype=int)
    cols = rows.T
    if inner:
        hole = inner[0]
        near = F.max_pool2d(torch.from_numpy(hole.astype(np.float32))[None, None], 2 * width + 1,
                            stride=1, padding=width)[0, 0].numpy() > 0
        loop = ink & near
        split_col = float(cols[hole].mean())
        method = f"closed hole of {int(hole.sum())} px; loop = ink within {width} px of it"
    else:
        hole = np.zeros_like(ink)
        ink_rows = np.nonzero(ink.any(1))[0]
        mid = (ink_rows.min() + ink_rows.max()) / 2
        loop = ink & (rows >= mid)
        split_col = float(cols[loop].mean()) if loop.any() else 13.5
        method = "no closed hole (open loop); loop = lower half of the ink's rows"
    rest = ink & ~loop
    if rest.any() and loop.any():
        cut = (rows[rest].min() + rows[loop].min()) / 2
    else:
        cut = -1.0
    regions = {"top_hook": rest & (rows < cut), "stem": rest & (rows >= cut),
               "loop_left": loop & (cols < split_col), "loop_right": loop & (cols >= split_col)}
    info = {"method": method, "stroke_width_px": width, "ink_threshold": INK,
            "loop_split_column": r6(split_col), "hook_stem_cut_row": r6(cut),
            "hole_pixels": int(hole.sum())}
    return {**regions, "hole": hole}, info


class RegionMasks(NamedTuple):
    """Plot data of analyse_regions: the stroke masks and how many critical patches hide each pixel."""
    regions: dict[str, np.ndarray]
    cover_count: np.ndarray


class Population(NamedTuple):
    """p('6') maps of a sample of correct test 6s and how typical the example's map is."""
    indices: np.ndarray  # [N] test indices
    maps: np.ndarray  # [N, P, P]
    typicality: dict[str, Any]  # what the JSON records
    r_all: np.ndarray  # [N] each 6's correlation with the mean map of the others
    below: np.ndarray  # [N] each 6's number of positions with p('6') < CRITICAL_P


def sample_sixes(sixes: np.ndarray, n: int, quick: bool, rng: np.random.Generator) -> np.ndarray:
    """All of `sixes` if there are at most `n`, else the first n (quick) or a seeded sample of n."""
    if len(sixes) <= n:
        return sixes
    return sixes[:n] if quick else np.sort(rng.choice(sixes, n, replace=False))


def analyse_population(model: torch.nn.Module, images: torch.Tensor, indices: np.ndarray,
                       example_map: np.ndarray, example_index: int, patch: int, stride: int,
                       fill: float) -> Population:
    maps = population(model, images[indices], patch, stride, fill)
    member = int(np.flatnonzero(indices == example_index)[0]) if example_index in indices else None
    summary, r_all, below = typicality(maps, example_map, member)
    return Population(indices, maps, summary, r_all, below)


def analyse_regions(model: torch.nn.Module, image: np.ndarray, maps: dict[str, np.ndarray],
                    patch: int, stride: int, fill: float) -> tuple[dict[str, Any], RegionMasks]:
    """The positions where p('6') < 0.5, their labels, and which strokes those patches cover."""
    prob_true, label = maps["prob_true"], maps["label"]
    below = np.argwhere(prob_true < CRITICAL_P)
    fallback = len(below) == 0
    if fallback:  # a robust '6': use the 10 most damaging positions instead
        order = np.argsort(prob_true, axis=None, kind="stable")[:10]
        below = np.stack(np.unravel_index(order, prob_true.shape), 1)
    regions, info = stroke_regions(image)
    masses = {name: float(image[regions[name]].sum()) for name in REGIONS}
    shares = {name: [] for name in REGIONS}
    covered = {name: 0.0 for name in REGIONS}
    cover_count = np.zeros((28, 28), dtype=int)
    for r, c in below:
        m = patch_mask(r, c, patch, stride)
        cover_count += m
        for name in REGIONS:
            ink_here = float(image[regions[name] & m].sum())
            covered[name] += ink_here
            shares[name].append(ink_here / masses[name] if masses[name] > 0 else 0.0)
    total_covered = sum(covered.values())
    loop_mass = masses["loop_left"] + masses["loop_right"]
    loop_share = [(a * masses["loop_left"] + b * masses["loop_right"]) / loop_mass if loop_mass else 0
                  for a, b in zip(shares["loop_left"], shares["loop_right"])]
    # Causal check independent of the patch geometry: erase one region's ink and classify.
    erased = []
    names = list(REGIONS) + ["loop"]
    for name in names:
        mask = regions["loop_left"] | regions["loop_right"] if name == "loop" else regions[name]
        x = image.copy()
        x[mask] = fill
        erased.append(x)
    probs = predict_proba(model, torch.from_numpy(np.stack(erased))[:, None]).numpy()
    worst = np.unravel_index(int(np.argmin(prob_true)), prob_true.shape)
    core = cover_count == len(below)
    labels_below = Counter(int(label[r, c]) for r, c in below)
    changed = Counter(int(v) for v in label.ravel() if v != SIX)
    share_mean = {name: r6(np.mean(shares[name])) for name in REGIONS}
    share_mean["loop"] = r6(np.mean(loop_share))
    composition = {name: r6(covered[name] / total_covered if total_covered else 0)
                   for name in REGIONS}
    composition["loop"] = r6(composition["loop_left"] + composition["loop_right"])
    return {
        "threshold": CRITICAL_P,
        "fallback_lowest_10": fallback,
        "n_positions": int(prob_true.size),
        "n_below": 0 if fallback else int(len(below)),
        "positions_below": below.tolist(),
        "labels_below": {str(k): v for k, v in sorted(labels_below.items())},
        "n_label_changed": int(sum(changed.values())),
        "labels_changed": {str(k): v for k, v in sorted(changed.items())},
        "min_prob_true": r6(prob_true.min()),
        "min_position": [int(worst[0]), int(worst[1])],
        "label_at_min": int(label[worst]),
        "pixels_covered_by_any": int((cover_count > 0).sum()),
        "pixels_covered_by_all": int(core.sum()),
        "covered_by_all_box": bbox(core),
        "regions": {name: {"pixels": int(regions[name].sum()), "ink_mass": r6(masses.get(name, 0))}
                    for name in REGIONS + ("hole",)},
        "region_definition": info,
        "mean_share_of_region_ink_covered": share_mean,
        "composition_of_covered_ink": composition,
        "erase_region": {name: {"prob_true": r6(pr[SIX]), "pred": int(pr.argmax()),
                                "prob_pred": r6(pr.max())} for name, pr in zip(names, probs)},
    }, RegionMasks(regions, cover_count)


def bbox(mask: np.ndarray) -> list[int] | None:
    """[row0, col0, row1, col1] inclusive, or None for an empty mask."""
    if not mask.any():
        return None
    ys, xs = np.nonzero(mask)
    return [int(ys.min()), int(xs.min()), int(ys.max()), int(xs.max())]


def population(model: torch.nn.Module, images: torch.Tensor, patch: int, stride: int,
               fill: float) -> np.ndarray:
    """p('6') occlusion maps [N, P, P] for a batch of 6s [N, 1, 28, 28]."""
    return occlude(model, images, patch=patch, stride=stride, fill=fill)[..., SIX].numpy()


def typicality(maps: np.ndarray, example: np.ndarray, member: int | None
               ) -> tuple[dict[str, Any], np.ndarray, np.ndarray]:
    """How well each 6's map matches the mean of the others (Pearson r), and where the example sits.

    Returns the summary, each 6's r [N] and its number of positions below CRITICAL_P [N].
    """
    n = len(maps)
    total = maps.sum(0)
    flat = maps.reshape(n, -1)
    loo = (total[None] - maps).reshape(n, -1) / max(n - 1, 1)
    r_all = np.array([pearson(flat[i], loo[i]) for i in range(n)])
    ref = loo[member] if member is not None else total.ravel() / n
    r_ex = pearson(example.ravel(), ref)
    below = (maps < CRITICAL_P).reshape(n, -1).sum(1)
    ex_below = int((example < CRITICAL_P).sum())
    finite = r_all[np.isfinite(r_all)]
    pct = float((finite < r_ex).mean() * 100) if finite.size and np.isfinite(r_ex) else None
    return {"n": n, "r_example": r6(r_ex) if np.isfinite(r_ex) else None,
            "r_median": r6(np.median(finite)) if finite.size else None,
            "r_quartiles": [r6(np.percentile(finite, 25)), r6(np.percentile(finite, 75))]
            if finite.size else None,
            "example_percentile": r6(pct) if pct is not None else None,
            "below_example": ex_below, "below_median": r6(np.median(below)),
            "below_quartiles": [r6(np.percentile(below, 25)), r6(np.percentile(below, 75))],
            "share_of_6s_with_any_position_below": r6((below > 0).mean())}, r_all, below


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    if a.std() < 1e-12 or b.std() < 1e-12:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def question2(problem: Problem, maps: dict[str, np.ndarray], patch: int, stride: int, fill: float,
              budget: dict, quick: bool, rng: np.random.Generator) -> dict[str, Any]:
    """Which strokes matter: on the example (regions, erasures) and over a sample of correct 6s."""
    region, masks = analyse_regions(problem.model, problem.image, maps, patch, stride, fill)
    labels = problem.test.labels.numpy()
    sixes = np.flatnonzero((labels == SIX) & (problem.pred == SIX))
    indices = sample_sixes(sixes, budget["population"] or POPULATION_MAX, quick, rng)
    pop = analyse_population(problem.model, problem.test.images, indices, maps["prob_true"],
                             problem.index, patch, stride, fill)
    return {"region": region, "masks": masks, "population": pop,
            "q2": answer_q2(region, pop.typicality, pop.maps.mean(0))}


# ----------------------------------------------------------------------------- (3) judges
class Judge(NamedTuple):
    name: str
    model: nn.Module
    meta: dict


def load_judges(source: str, seed: int, checkpoint_dir: Path) -> list[Judge]:
    """The CNNs of seeds seed+1 .. seed+JUDGE_CNNS (the same recipe) and the MLP, from the
    checkpoints that load_problem made sure of."""
    judges = []
    for spec in models_needed(seed)[1:]:
        if spec.kind == "mlp":
            model, meta = load_mlp(source, spec.seed, False, checkpoint_dir)
            judges.append(Judge(f"MLP seed {spec.seed}", model, meta))
        else:
            model, meta = load_cnn(source, seed=spec.seed, checkpoint_dir=checkpoint_dir)
            judges.append(Judge(f"CNN seed {spec.seed}", model, meta))
    return judges


# ----------------------------------------------------------------------------- (3) transplants
def wilson(k: int, n: int, z: float = Z95) -> list[float]:
    """Wilson score interval for a binomial proportion k/n: the p with |k - np| <= z sqrt(np(1-p))."""
    if n == 0:
        return [0.0, 1.0]
    p = k / n
    d = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / d
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return [r6(max(0.0, centre - half)), r6(min(1.0, centre + half))]


def rate(k: int, n: int) -> dict[str, Any]:
    return {"k": int(k), "n": int(n), "rate": r6(k / n if n else 0.0), "ci95": wilson(int(k), int(n))}


def versus(a: dict[str, Any], b: dict[str, Any]) -> str:
    """'higher' or 'lower' when the 95% intervals of a and b are disjoint, else 'overlap'."""
    if a["ci95"][0] > b["ci95"][1]:
        return "higher"
    if a["ci95"][1] < b["ci95"][0]:
        return "lower"
    return "overlap"


class Windows(NamedTuple):
    """A fixed random sample of source windows of one size, cut from other classes' test digits."""
    size: int
    source: np.ndarray  # [W] test index of each window's digit
    corner: np.ndarray  # [W, 2] top-left (row, col) in the source digit
    patches: torch.Tensor  # [W, size, size]


def sample_windows(images: torch.Tensor, candidates: np.ndarray, size: int, n: int,
                   rng: np.random.Generator) -> Windows:
    """n digits drawn without replacement from `candidates`, and in each a random window holding ink
    worth at least MIN_WINDOW_INK of its area (the inkiest window if none does)."""
    digits = np.sort(rng.choice(candidates, min(n, len(candidates)), replace=False))
    mass = (F.avg_pool2d(images[digits], size, stride=1) * size * size)[:, 0].numpy()  # [W, P, P]
    p = mass.shape[1]
    corners = []
    for m in mass.reshape(len(digits), -1):
        eligible = np.flatnonzero(m >= MIN_WINDOW_INK * size * size)
        j = int(rng.choice(eligible)) if len(eligible) else int(np.argmax(m))
        corners.append((j // p, j % p))
    corner = np.array(corners, dtype=np.int64)
    ar = torch.arange(size)
    rows = torch.from_numpy(corner[:, 0])[:, None, None] + ar[:, None]
    cols = torch.from_numpy(corner[:, 1])[:, None, None] + ar[None, :]
    patches = images[torch.from_numpy(digits)[:, None, None], 0, rows, cols]
    return Windows(size, digits, corner, patches)


def window_pixels(size: int) -> torch.Tensor:
    """Flat pixel indices [P*P, size*size] of a size x size window at each top-left position (row-major)."""
    p = num_positions(28, size, 1)
    r, ar = torch.arange(p), torch.arange(size)
    rows = (r[:, None] + ar[None, :])[:, None, :, None]  # [P, 1, s, 1]
    cols = (r[:, None] + ar[None, :])[None, :, None, :]  # [1, P, 1, s]
    return (rows * 28 + cols).reshape(p * p, size * size)


def pasted(six: torch.Tensor, windows: Windows, w: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
    """Images [B, 1, 28, 28]: `six` [1, 28, 28] with window w[i] pasted at flat top-left position pos[i]."""
    pix = window_pixels(windows.size)
    x = six.reshape(1, 784).expand(len(w), 784).clone()
    x.scatter_(1, pix[pos], windows.patches.reshape(len(windows.patches), -1)[w])
    return x.reshape(-1, 1, 28, 28)


def labels_of(fast: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Predicted labels [B] and their probabilities [B] under a fast inference copy."""
    with torch.no_grad():
        probs = F.softmax(fast(x.contiguous(memory_format=torch.channels_last)), dim=1)
    top = probs.max(1)
    return top.indices, top.values


class Pastes(NamedTuple):
    """The CNN's and the judges' verdicts on a set of (window, position) pastes over one '6'."""
    w: np.ndarray  # [B] window index
    pos: np.ndarray  # [B] flat top-left position
    label: np.ndarray  # [B] the CNN's label
    prob: np.ndarray  # [B] its probability
    judges: np.ndarray  # [B, J] judge labels; -1 where the CNN still says '6' (judges not asked)


def classify_pastes(fast: nn.Module, judges: Sequence[nn.Module], six: torch.Tensor,
                    windows: Windows, w: np.ndarray, pos: np.ndarray,
                    chunk: int = DEFAULT_CHUNK) -> Pastes:
    """Paste in chunks; the judges see only the pastes whose CNN label is no longer '6'."""
    label = np.empty(len(w), dtype=np.int64)
    prob = np.empty(len(w), dtype=np.float32)
    votes = np.full((len(w), len(judges)), -1, dtype=np.int64)
    for s in range(0, len(w), chunk):
        x = pasted(six, windows, torch.from_numpy(w[s:s + chunk]), torch.from_numpy(pos[s:s + chunk]))
        lab, pr = labels_of(fast, x)
        label[s:s + chunk], prob[s:s + chunk] = lab.numpy(), pr.numpy()
        changed = np.flatnonzero(lab.numpy() != SIX)
        for j, judge in enumerate(judges):
            if len(changed):
                votes[s + changed, j] = labels_of(judge, x[changed])[0].numpy()
    return Pastes(w, pos, label, prob, votes)


def guided_positions(model: nn.Module, six: torch.Tensor, size: int, k: int) -> dict[str, np.ndarray]:
    """Per guide, the k flat positions with the lowest p('6') under a patch of that size and fill."""
    out = {}
    for name, fill in GUIDES.items():
        p6 = occlude(model, six, patch=size, stride=1, fill=fill)[..., SIX].numpy().ravel()
        out[name] = np.argsort(p6, kind="stable")[:k]
    return out


def strategy_pairs(n_windows: int, n_pos: int, guided: dict[str, np.ndarray], random_per_window: int | None,
                   rng: np.random.Generator) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """(window, position) pairs per strategy: every window at each guided position; "random" is every
    position (None) or `random_per_window` uniform draws per window."""
    out = {name: (np.repeat(np.arange(n_windows), len(p)), np.tile(p, n_windows))
           for name, p in guided.items()}
    if random_per_window is None:
        out["random"] = (np.repeat(np.arange(n_windows), n_pos), np.tile(np.arange(n_pos), n_windows))
    else:
        out["random"] = (np.repeat(np.arange(n_windows), random_per_window),
                         rng.integers(0, n_pos, n_windows * random_per_window))
    return out


def adversarial_mask(p: Pastes) -> np.ndarray:
    """The CNN's label changed while at least JUDGE_MAJORITY judges still say '6'."""
    return (p.label != SIX) & ((p.judges == SIX).sum(1) >= JUDGE_MAJORITY)


def relabelled_mask(p: Pastes) -> np.ndarray:
    """The CNN's label changed and at least JUDGE_MAJORITY judges give the same new label."""
    return (p.label != SIX) & ((p.judges == p.label[:, None]).sum(1) >= JUDGE_MAJORITY)


def pair_rates(p: Pastes, pairs: tuple[np.ndarray, np.ndarray], n_pos: int) -> dict[str, Any]:
    """Label-changed (and, with judges, adversarial) rates of the pastes in `pairs`, looked up in p."""
    key = pairs[0] * n_pos + pairs[1]
    lookup = dict(zip((p.w * n_pos + p.pos).tolist(), range(len(p.w))))
    sel = np.array([lookup[k] for k in key.tolist()], dtype=np.int64)
    out = {"changed": rate(int((p.label[sel] != SIX).sum()), len(sel))}
    if p.judges.shape[1]:  # judged pastes only
        out["adversarial"] = rate(int(adversarial_mask(p)[sel].sum()), len(sel))
    return out


def study_one(model: nn.Module, judges: Sequence[nn.Module], six: torch.Tensor,
              windows: dict[int, Windows], k: int, random_per_window: int | None,
              rng: np.random.Generator) -> tuple[dict[str, Any], dict[int, Pastes]]:
    """Per window size: the rates of each placement strategy on one '6' under one CNN."""
    fast = fast_inference_copy(model)
    fast_judges = [fast_inference_copy(j) for j in judges]
    rates, pastes = {}, {}
    for size, win in windows.items():
        n_pos = num_positions(28, size, 1) ** 2
        pairs = strategy_pairs(len(win.source), n_pos, guided_positions(model, six, size, k),
                               random_per_window, rng)
        key = np.unique(np.concatenate([w * n_pos + pos for w, pos in pairs.values()]))
        p = classify_pastes(fast, fast_judges, six, win, key // n_pos, key % n_pos)
        rates[str(size)] = {name: {**pair_rates(p, pr, n_pos),
                                   **({"positions": pr[1][:k].tolist()} if name in GUIDES else {})}
                            for name, pr in pairs.items()}
        pastes[size] = p
    return rates, pastes


def pooled(per_six: list[dict[str, Any]]) -> dict[str, Any]:
    """Sum the counts of several 6s' rates (same sizes and strategies) into one rate each."""
    out: dict[str, Any] = {}
    for size, by in per_six[0].items():
        out[size] = {}
        for name in by:
            out[size][name] = {what: rate(sum(r[size][name][what]["k"] for r in per_six),
                                          sum(r[size][name][what]["n"] for r in per_six))
                               for what in ("changed", "adversarial")}
    return out


def verdicts(rates: dict[str, Any]) -> dict[str, dict[str, str]]:
    """Per size: each guide's label-changed rate against random's, and black against white
    ('higher'/'lower'/'overlap')."""
    return {size: {**{g: versus(by[g]["changed"], by["random"]["changed"]) for g in GUIDES},
                   "black-vs-white": versus(by["black-map"]["changed"], by["white-map"]["changed"])}
            for size, by in rates.items()}


def examples(p: Pastes, mask: np.ndarray, six: torch.Tensor, win: Windows, n: int) -> list[dict]:
    """Up to n pastes selected by `mask`, the most confident CNN label first, one per new label first."""
    idx = np.flatnonzero(mask)
    idx = idx[np.argsort(-p.prob[idx], kind="stable")]
    seen: set[int] = set()
    firsts = [i for i in idx if not (int(p.label[i]) in seen or seen.add(int(p.label[i])))]
    chosen = (firsts + [i for i in idx if i not in set(firsts)])[:n]
    pw = num_positions(28, win.size, 1)
    out = []
    for i in chosen:
        img = pasted(six, win, torch.tensor([p.w[i]]), torch.tensor([p.pos[i]]))[0, 0]
        out.append({"image": nested(img.numpy()), "position": [int(p.pos[i] // pw), int(p.pos[i] % pw)],
                    "size": win.size, "source_index": int(win.source[p.w[i]]),
                    "source_window": [*map(int, win.corner[p.w[i]]), win.size],
                    "cnn_label": int(p.label[i]), "cnn_prob": r6(p.prob[i]),
                    "judge_labels": p.judges[i].tolist()})
    return out


# ----------------------------------------------------------------------------- (3) other attacks
def pgd(model: nn.Module, x: torch.Tensor, label: int, eps: torch.Tensor, steps: int, alpha: torch.Tensor,
        mask: torch.Tensor | None = None) -> torch.Tensor:
    """Untargeted projected gradient ascent on the cross-entropy of `label` (Madry et al. 2018).

    x [1, 1, 28, 28]; eps and alpha [B]: one attack per budget, run as a batch. Each step moves
    alpha * sign(gradient), inside `mask` only if given, then projects onto the L-infinity ball of
    radius eps around x and onto the pixel range [0, 1]. Starts at x (no random start), so it is
    deterministic. With eps = 1 and a window mask it optimises an adversarial patch.
    """
    eps, alpha = eps.view(-1, 1, 1, 1), alpha.view(-1, 1, 1, 1)
    target = torch.full((len(eps),), label)
    adv = x.expand(len(eps), -1, -1, -1).clone()
    for _ in range(steps):
        adv.requires_grad_(True)
        loss = F.cross_entropy(model(adv), target, reduction="sum")  # sum: each attack its own gradient
        (grad,) = torch.autograd.grad(loss, adv)
        step = alpha * grad.sign()
        adv = adv.detach() + (step if mask is None else step * mask)
        adv = torch.minimum(torch.maximum(adv, x - eps), x + eps).clamp(0, 1)
    return adv.detach()


def smallest_pgd_eps(model: nn.Module, x: torch.Tensor, label: int) -> float:
    """The smallest eps on a grid of PGD_GRID budgets up to PGD_EPS that flips the label, refined
    once on a second grid between the last failing and the first flipping budget (nan: none flips)."""
    lo, hi = 0.0, PGD_EPS
    for _ in range(2):
        eps = torch.linspace(lo, hi, PGD_GRID + 1)[1:]
        adv = pgd(model, x, label, eps, PGD_STEPS, 2.5 * eps / PGD_STEPS)
        with torch.no_grad():
            flips = (model(adv).argmax(1) != label).numpy()
        if not flips.any():
            return float("nan")
        j = int(np.argmax(flips))
        lo, hi = (float(eps[j - 1]) if j else lo), float(eps[j])
    return hi


def attack_row(x: torch.Tensor, adv: torch.Tensor, model: nn.Module, judges: Sequence[Judge]) -> dict:
    """Success against the CNN, the L0/L2/L-infinity size of the change, and the judges' labels."""
    delta = (adv - x).flatten()
    with torch.no_grad():
        label = int(model(adv).argmax(1))
        votes = [int(j.model(adv).argmax(1)) for j in judges]
    return {"success": label != SIX, "cnn_label": label, "l0": int((delta.abs() > 1e-6).sum()),
            "l2": r6(delta.norm()), "linf": r6(delta.abs().max()), "judge_labels": votes,
            "transfer": r6(np.mean([v != SIX for v in votes]))}


def compare_attacks(model: nn.Module, judges: Sequence[Judge], six: torch.Tensor, best: dict,
                    pastes: Pastes, windows: Windows) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """PGD at PGD_EPS and at the smallest flipping eps, the optimised patch at the best transplant
    position, and the transplants there; returns the table and the attack images for the figure."""
    x = six[None]
    eps_min = smallest_pgd_eps(model, x, SIX)
    budgets = torch.tensor([PGD_EPS] + ([eps_min] if np.isfinite(eps_min) else []))
    advs = pgd(model, x, SIX, budgets, PGD_STEPS, 2.5 * budgets / PGD_STEPS)
    r, c = best["position"]
    s = windows.size
    mask = torch.zeros(1, 1, 28, 28)
    mask[..., r:r + s, c:c + s] = 1.0
    patch = pgd(model, x, SIX, torch.tensor([1.0]), PATCH_STEPS, torch.tensor([PATCH_ALPHA]), mask)
    rows = {"pgd": {"eps": PGD_EPS, **attack_row(x, advs[:1], model, judges)},
            "pgd_min": {"eps": r6(eps_min) if np.isfinite(eps_min) else None,
                        **(attack_row(x, advs[1:], model, judges) if len(advs) > 1 else {})},
            "patch": {"size": s, "position": [r, c], "steps": PATCH_STEPS,
                      **attack_row(x, patch, model, judges)}}
    here = np.flatnonzero(pastes.pos == r * num_positions(28, s, 1) + c)
    flipped = here[pastes.label[here] != SIX]
    images = pasted(six, windows, torch.from_numpy(pastes.w[flipped]), torch.from_numpy(pastes.pos[flipped]))
    deltas = (images - x).flatten(1)
    rows["transplant"] = {
        "size": s, "position": [r, c], "success": rate(len(flipped), len(here)),
        "l0": r6(np.median((deltas.abs() > 1e-6).sum(1).numpy())) if len(flipped) else None,
        "l2": r6(np.median(deltas.norm(dim=1).numpy())) if len(flipped) else None,
        "linf": r6(np.median(deltas.abs().max(1).values.numpy())) if len(flipped) else None,
        "transfer": r6((pastes.judges[flipped] != SIX).mean()) if len(flipped) else None,
        "adversarial": rate(int(adversarial_mask(pastes)[flipped].sum()), len(flipped)),
        "statistic": "median over the sampled windows that flip the label there"}
    shown = {"pgd": advs[0, 0].numpy(), "patch": patch[0, 0].numpy()}
    if len(advs) > 1:
        shown["pgd_min"] = advs[1, 0].numpy()
    if len(flipped):
        shown["transplant"] = images[0, 0].numpy()
    return rows, shown


def flip_share_map(p: Pastes, size: int) -> np.ndarray:
    """[P, P]: per top-left position, the share of the pasted windows that change the CNN's label."""
    pw = num_positions(28, size, 1)
    flips = np.bincount(p.pos[p.label != SIX], minlength=pw * pw)
    return (flips / np.maximum(np.bincount(p.pos, minlength=pw * pw), 1)).reshape(pw, pw)


def best_position(p: Pastes, size: int) -> dict[str, Any]:
    """The top-left position where the largest share of the sampled windows change the label."""
    pw = num_positions(28, size, 1)
    j = int(np.argmax(flip_share_map(p, size)))
    here = p.pos == j
    return {"size": size, "position": [j // pw, j % pw],
            **rate(int((p.label[here] != SIX).sum()), int(here.sum()))}


def other_sixes(problem: Problem, n: int, rng: np.random.Generator) -> np.ndarray:
    """A seeded sample of n correct test 6s other than the example (all of them if fewer)."""
    labels = problem.test.labels.numpy()
    sixes = np.flatnonzero((labels == SIX) & (problem.pred == SIX) & (np.arange(len(labels)) != problem.index))
    return sixes if len(sixes) <= n else np.sort(rng.choice(sixes, n, replace=False))


def question3(problem: Problem, judges: Sequence[Judge], seed_models: dict[int, nn.Module],
              budget: dict, rng: np.random.Generator) -> dict[str, Any]:
    """Transplanted windows as a small study, and the other kinds of adversarial images."""
    test, six, k = problem.test, problem.six, budget["guided_positions"]
    labels = test.labels.numpy()
    others = np.flatnonzero((labels != SIX) & (problem.pred == labels))
    windows = {s: sample_windows(test.images, others, s, budget["windows"], rng) for s in ADV_SIZES}
    models = [j.model for j in judges]
    example, pastes = study_one(problem.model, models, six, windows, k, None, rng)
    seeds = {seed: study_one(m, [], six, windows, k, k, rng)[0] for seed, m in seed_models.items()}
    sixes = other_sixes(problem, budget["sixes"], rng)
    population = pooled([study_one(problem.model, models, test.images[i], windows, k, k, rng)[0]
                         for i in sixes])
    found = {"example": verdicts(example), "other_sixes": verdicts(population),
             **{f"seed_{s}": verdicts(r) for s, r in seeds.items()}}
    pairs = (*GUIDES, "black-vs-white")
    agree = {size: {g: len({v[size][g] for v in found.values()}) == 1 for g in pairs}
             for size in found["example"]}
    seeds_agree = {size: {g: len({found["example"][size][g]} | {found[f"seed_{s}"][size][g] for s in seeds}) == 1
                          for g in pairs} for size in found["example"]}
    best = best_position(pastes[8], 8)
    comparison, shown = compare_attacks(problem.model, judges, six, best, pastes[8], windows[8])
    true_adv, relabelled = [], []
    for size, p in pastes.items():
        true_adv += examples(p, adversarial_mask(p), six, windows[size], GALLERY_EACH)
        relabelled += examples(p, relabelled_mask(p), six, windows[size], GALLERY_EACH)
    every = {what: {str(size): rate(int(mask(p).sum()), len(p.w)) for size, p in pastes.items()}
             for what, mask in (("changed", lambda p: p.label != SIX), ("adversarial", adversarial_mask),
                                ("relabelled", relabelled_mask))}
    study = {
        "design": {"sizes": list(ADV_SIZES), "windows_per_size": budget["windows"],
                   "guided_positions": k, "random_positions_per_window_elsewhere": k,
                   "other_sixes": sixes.tolist(), "min_window_ink": MIN_WINDOW_INK,
                   "guide_fills": GUIDES, "judge_majority": JUDGE_MAJORITY, "ci": "Wilson score, 95%",
                   "windows": {str(s): {"source": w.source.tolist(), "corner": w.corner.tolist()}
                               for s, w in windows.items()}},
        "judges": [{"name": j.name, "family": type(j.model).__name__, "seed": j.meta["seed"],
                    "test_accuracy": r6(j.meta["test_accuracy"])} for j in judges],
        "rates": {"example": example, "other_sixes": population,
                  **{f"seed_{s}": r for s, r in seeds.items()}},
        "every_position": every,
        "verdicts": found, "agree_everywhere": agree, "seeds_agree": seeds_agree,
        "best_position": best,
        "flip_share_maps": {str(s): nested(flip_share_map(p, s), 4) for s, p in pastes.items()},
        "true_adversarial": true_adv, "relabelled": relabelled,
        "comparison": comparison}
    return {"study": study, "shown": shown, "windows": windows,
            "q3": answer_q3(study, problem.meta["seed"])}


# ----------------------------------------------------------------------------- answers in words
def describe_counts(counts: Counter) -> str:
    if not counts:
        return "no other label"
    return ", ".join(f"'{k}' at {v}" for k, v in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def answer_q1(index: int, clean: np.ndarray, maps: dict[str, np.ndarray], patch: int,
              stride: int, fill: float) -> str:
    pt, mp, lab = maps["prob_true"], maps["max_prob"], maps["label"]
    p = pt.shape[0]
    others = Counter(int(v) for v in lab.ravel() if v != SIX)
    k = "" if stride == 1 else stride
    return (
        f"Test image #{index} is a '6' that the CNN classifies correctly with p('6') = "
        f"{clean[SIX]:.3f}. The {patch}x{patch} patch of value {fill:g} moved with stride {stride} "
        f"has {p} x {p} = {p * p} positions; cell (r, c) of each map is the patch whose top-left "
        f"corner is at pixel (row {k}r, column {k}c). Map 1, p('6'), ranges from "
        f"{pt.min():.3f} to {pt.max():.3f} (median {np.median(pt):.3f}); map 2, the highest "
        f"probability among the 10 classes, from {mp.min():.3f} to {mp.max():.3f}; map 3 shows "
        f"label '6' at {int((lab == SIX).sum())} positions"
        + (f" and {describe_counts(others)}." if others else ", i.e. everywhere.")
        + " Most values crowd near the top of the 0-1 scale, so each probability map is also "
        "shown on a log-odds colour scale stretched between its minimum and maximum.")


def answer_q2(region: dict[str, Any], typ: dict[str, Any], mean_map: np.ndarray) -> str:
    comp, share = region["composition_of_covered_ink"], region["mean_share_of_region_ink_covered"]
    ranked = sorted(REGIONS, key=lambda n: (-comp[n], n))
    top = ranked[0]
    erase = region["erase_region"]
    if region["fallback_lowest_10"]:
        head = (f"p('6') never drops below {CRITICAL_P} (lowest {region['min_prob_true']:.3f}), so "
                f"the 10 most damaging positions stand in for the critical ones. ")
        verdict = f"No single patch is critical; the most damaging ones lean on the {REGION_NAMES[top]}."
    else:
        labels = Counter({int(k): v for k, v in region["labels_below"].items()})
        head = (f"p('6') drops below {CRITICAL_P} at {region['n_below']} of "
                f"{region['n_positions']} positions (lowest {region['min_prob_true']:.3f}, patch "
                f"top-left at {tuple(region['min_position'])}); the label there is "
                f"{describe_counts(labels)}. ")
        verdict = f"So the important part is the {REGION_NAMES[top]}."
    note = {"loop_left": " (where the stem runs into the loop)"}.get(top, "")
    weakest = min(REGIONS, key=lambda n: (erase[n]["prob_true"], n))
    agree = ("agrees" if weakest == top else
             f"ranks the strokes differently (the biggest drop is without the {REGION_NAMES[weakest]})")
    erase_txt = "; ".join(f"without the {REGION_NAMES[n]} p('6') = {erase[n]['prob_true']:.2f} "
                          f"(label '{erase[n]['pred']}')" for n in list(REGIONS) + ["loop"])
    mean_min = tuple(int(v) for v in np.unravel_index(int(np.argmin(mean_map)), mean_map.shape))
    pct = typ["example_percentile"]
    if typ["r_example"] is None or pct is None:
        typical = "its map is flat, so its correlation with the mean map is undefined"
    else:
        word = ("typical" if 20 <= pct <= 80 else "more typical than most" if pct > 80 else
                "less typical than most")
        typical = (f"its map correlates with the mean map of the other 6s at r = "
                   f"{typ['r_example']:.2f} (median over all 6s {typ['r_median']:.2f}; higher than "
                   f"for {pct:.0f}% of them), and it has {typ['below_example']} positions below "
                   f"{CRITICAL_P} against a median of {typ['below_median']:.0f}: it is {word}")
    return (
        head
        + f"Of the ink these patches hide, {100 * comp[top]:.0f}% belongs to the "
        f"{REGION_NAMES[top]}{note}, {100 * comp[ranked[1]]:.0f}% to the "
        f"{REGION_NAMES[ranked[1]]}, {100 * comp[ranked[2]]:.0f}% to the "
        f"{REGION_NAMES[ranked[2]]} and {100 * comp[ranked[3]]:.0f}% to the "
        f"{REGION_NAMES[ranked[3]]}; a critical patch hides on average "
        f"{100 * share[top]:.0f}% of the {REGION_NAMES[top]}'s ink. {verdict} Erasing whole "
        f"strokes instead (set to the fill value) {agree}: {erase_txt}. Over {typ['n']} correctly "
        f"classified test 6s the mean p('6') map reaches {mean_map.min():.3f} at its lowest, at "
        f"top-left {mean_min} (the example's lowest is at {tuple(region['min_position'])}), and "
        f"{100 * typ['share_of_6s_with_any_position_below']:.0f}% of the 6s have at least one "
        f"position below {CRITICAL_P}. As for the example, {typical}.")


def scope_name(scope: str, short: bool = False) -> str:
    """'example', 'other_sixes', 'seed_<k>' in words."""
    if scope.startswith("seed_"):
        return f"CNN seed {scope[5:]}"
    return {"example": "the example", "other_sixes": "other 6s" if short else "the other 6s"}[scope]


def ci_text(r: dict[str, Any]) -> str:
    return f"{100 * r['rate']:.1f}% [{100 * r['ci95'][0]:.1f}, {100 * r['ci95'][1]:.1f}]"


def place_words(size: str, study: dict[str, Any]) -> str:
    """One size's placement comparisons (each guide against random, black against white) on the
    example, over the other 6s and on the CNNs of the other seeds."""
    found = study["verdicts"]
    relation = {"higher": "beats", "lower": "does worse than", "overlap": "cannot be told from"}
    parts = []
    for g, (a, b) in {"black-map": ("black-map", "random"), "white-map": ("white-map", "random"),
                      "black-vs-white": ("black-map", "the white-map")}.items():
        v = {scope: by[size][g] for scope, by in found.items()}
        if len(set(v.values())) == 1:
            parts.append(f"the {a} {relation[v['example']]} {b} on the example, over the other 6s and on "
                         "the other seeds' CNNs")
        else:
            parts.append(f"the {a} against {b} is mixed: it "
                         + ", ".join(f"{relation[w]} {'it' if s != 'example' else b} "
                                     f"{'over' if s == 'other_sixes' else 'on'} {scope_name(s)}"
                                     for s, w in v.items()))
    return f"{size}x{size}: " + "; ".join(parts)


def holds_everywhere(study: dict[str, Any]) -> str:
    """The placement claims that hold on the example, over the other 6s and on every seed."""
    names = {"black-map": "the black-map beats random", "white-map": "the white-map beats random",
             "black-vs-white": "the black-map beats the white-map"}
    lower = {"black-map": "the black-map does worse than random", "white-map": "the white-map does worse than random",
             "black-vs-white": "the white-map beats the black-map"}
    found = study["verdicts"]
    claims = []
    for size, by in study["agree_everywhere"].items():
        for g, same in by.items():
            v = found["example"][size][g]
            if same and v != "overlap":
                claims.append(f"{(names if v == 'higher' else lower)[g]} at {size}x{size}")
    if not claims:
        return "No placement claim holds on the example, over the other 6s and on all 3 seeds."
    return ("Claims that hold on the example, over the other 6s and on all 3 seeds: " + "; ".join(
        sorted(claims, key=lambda c: int(c.rsplit(" ", 1)[1].split("x")[0]))) + ". The other comparisons are inconclusive or reversed on at least one of them.")


def share_words(every: dict[str, Any], size: str) -> str:
    """Of one size's label changes: how many are adversarial, honest relabellings, or split the judges."""
    n = every["changed"][size]["k"]
    if n == 0:
        return f"{size}x{size}: no paste changes the label"
    adv, rel = every["adversarial"][size]["k"], every["relabelled"][size]["k"]
    return (f"{size}x{size}: {ci_text(every['changed'][size])} of {every['changed'][size]['n']:,} pastes change "
            f"the label; of those {n:,}, {100 * adv / n:.0f}% are adversarial, {100 * rel / n:.0f}% honest "
            f"relabellings and {100 * (n - adv - rel) / n:.0f}% split the judges")


def transfer_words(cmp: dict[str, Any], n_judges: int) -> str:
    """Which kinds fool our CNN alone and which move most judges too, from the measured transfer."""
    names = {"pgd": f"PGD at ε = {PGD_EPS}", "pgd_min": "PGD at its smallest ε", "patch": "the optimised patch",
             "transplant": "the transplants (on average)"}
    rows = {k: r for k, r in cmp.items() if r.get("transfer") is not None}
    alone = [names[k] for k, r in rows.items() if r["transfer"] * n_judges < 1]
    most = [names[k] for k, r in rows.items() if r["transfer"] > 0.5]
    out = []
    if alone:
        out.append(f"{' and '.join(alone)} fool{'s' if len(alone) == 1 else ''} our CNN alone (no judge follows)")
    if most:
        out.append(f"{', '.join(most)} move most judges too, so {'it changes' if len(most) == 1 else 'they change'} "
                   "what the digit looks like to other models, not only to ours")
    return "; ".join(out) if out else "each kind moves some judges and not others"


def transplant_words(tr: dict[str, Any]) -> str:
    if tr["l0"] is None:
        return "No sampled 8x8 window flips the label there."
    return (f"The transplants at that position flip the label for {ci_text(tr['success'])} of the windows, "
            f"with median L0 = {tr['l0']:g}, L2 = {tr['l2']:.2f}, L∞ = {tr['linf']:.2f}; "
            f"{100 * tr['transfer']:.0f}% of the judges' votes on the flipping ones leave '6' too.")


def answer_q3(study: dict[str, Any], seed: int) -> str:
    d, every, cmp = study["design"], study["every_position"], study["comparison"]
    n_j = len(study["judges"])
    sizes = [str(s) for s in d["sizes"]]
    judges = ", ".join(f"{j['name']} ({100 * j['test_accuracy']:.1f}% test accuracy)" for j in study["judges"])
    pgd, pmin, patch, tr = cmp["pgd"], cmp["pgd_min"], cmp["patch"], cmp["transplant"]
    best = study["best_position"]

    def attack(name: str, row: dict) -> str:
        if not row.get("judge_labels"):
            return f"{name}: no flip"
        return (f"{name} {'flips' if row['success'] else 'does not flip'} the label (to '{row['cnn_label']}') "
                f"with L0 = {row['l0']}, L2 = {row['l2']:.2f}, L∞ = {row['linf']:.2f}; "
                f"{sum(v != SIX for v in row['judge_labels'])} of {n_j} judges follow it")

    min_eps = (f"the smallest budget that flips it is ε = {pmin['eps']:.3f}" if pmin["eps"] is not None
               else f"no budget up to ε = {PGD_EPS} flips it")
    return (
        "Terms. A paste copies a square window cut from a correctly classified test digit of another class "
        "over the '6' at a target position (the window's top-left corner), replacing the pixels there. "
        f"The sample is {d['windows_per_size']} windows per size ({', '.join(f'{s}x{s}' for s in sizes)}), drawn "
        f"at random once (seeded) and pasted at every position of the example '6'. A paste 'changes the label' "
        f"when our CNN (seed {seed}) no longer says '6'. The judges are {n_j} independent models: {judges}. A "
        f"paste is adversarial when the label changes while at least {d['judge_majority']} of the {n_j} judges still "
        f"say '6', and an honest relabelling when at least {d['judge_majority']} judges give the CNN's new label. "
        "Brackets are 95% Wilson intervals over pastes (they treat pastes as independent; pastes that share a "
        "window are not, so the true intervals are somewhat wider).\n\n"
        "Yes, transplanted windows can change the label. Over every position, "
        + "; ".join(share_words(every, s) for s in sizes) + ".\n\n"
        f"Where to paste. A guided strategy pastes at the {d['guided_positions']} positions with the lowest p('6') "
        "under a plain patch of the window's size: black (the assignment's map, where removing ink hurts) or "
        "white (where adding ink hurts); random is every position (on the example) or "
        f"{d['random_positions_per_window_elsewhere']} uniform draws per window (on {len(d['other_sixes'])} other "
        "correct 6s and on the CNNs trained with two other seeds; the rates there are in the table). A strategy "
        "beats another only where their intervals are disjoint. " + holds_everywhere(study) + " In detail, "
        + ". ".join(place_words(s, study) for s in sizes) + ".\n\n"
        f"Other kinds, on the same '6'. L0 counts the pixels changed, L2 is the Euclidean length of the change "
        f"and L∞ its largest single-pixel change (pixels in [0, 1]); transfer is the share of the judges that no "
        "longer say '6' on the attacked image. PGD (projected gradient descent under an L∞ budget ε, "
        f"{PGD_STEPS} signed-gradient steps from the '6' itself): {attack(f'at ε = {PGD_EPS}', pgd)}; "
        f"{min_eps}" + (f", where {attack('it', pmin)}" if pmin["eps"] is not None else "") + ". "
        f"An optimised {patch['size']}x{patch['size']} patch (Brown et al. 2017, here fitted to this one image) at "
        f"the best transplant position {tuple(best['position'])} (where the most sampled 8x8 windows flip the "
        f"label): {attack('it', patch)}. " + transplant_words(tr) + " How they differ: PGD spreads its change over "
        f"{100 * pgd['l0'] / 784:.0f}% of the 784 pixels with each change at most ε and needs the model's "
        f"gradients; the patch and the transplants change at most {patch['size'] ** 2} pixels, each by up to "
        "1; the patch is computed from gradients, the transplants need only forward passes and paste "
        f"real handwriting. Transfer: {transfer_words(cmp, n_j)}.")


# ----------------------------------------------------------------------------- plotting: (1) the maps
def logit_norm(values: np.ndarray) -> colors.Normalize:
    """Contrast stretch on the log-odds scale between the map's min and max (for values near 1)."""
    eps = 1e-4
    lo, hi = float(np.clip(values.min(), eps, 1 - eps)), float(np.clip(values.max(), eps, 1 - eps))
    if hi - lo < 1e-6:
        lo, hi = max(eps, lo - 1e-3), min(1 - eps, hi + 1e-3)

    def fwd(v):
        v = np.clip(v, eps, 1 - eps)
        return np.log(v / (1 - v))

    def inv(z):
        return 1 / (1 + np.exp(-z))

    return colors.FuncNorm((fwd, inv), vmin=lo, vmax=hi)


def logit_ticks(norm: colors.Normalize) -> list[float]:
    """Round probabilities inside the norm's range, at least 1/12 of the bar apart (log-odds)."""
    cands = [0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.97, 0.98,
             0.99, 0.995, 0.999]
    lo, hi = float(norm(norm.vmin)), float(norm(norm.vmax))  # 0 and 1 in colour units
    ticks = [norm.vmin, norm.vmax]
    for t in cands:
        if norm.vmin < t < norm.vmax and all(abs(float(norm(t)) - float(norm(u))) > (hi - lo) / 12
                                             for u in ticks):
            ticks.append(t)
    return sorted(ticks)


def label_cmap() -> tuple[colors.ListedColormap, colors.BoundaryNorm]:
    return colors.ListedColormap(TAB10), colors.BoundaryNorm(np.arange(-0.5, 10.5), 10)


def text_colour(rgb: Sequence[float]) -> str:
    lum = 0.2126 * rgb[0] + 0.7152 * rgb[1] + 0.0722 * rgb[2]
    return "black" if lum > 0.5 else "white"


def patch_axes(ax: plt.Axes, p: int, stride: int) -> None:
    """Label a P x P map's axes in patch-position coordinates (cells = patch top-left corners)."""
    step = 5 if p > 12 else 1
    ax.set_xticks(range(0, p, step))
    ax.set_yticks(range(0, p, step))
    s = "" if stride == 1 else f"{stride}·"
    ax.set_xlabel(f"patch column c  (top-left x = {s}c)")
    ax.set_ylabel(f"patch row r  (top-left y = {s}r)")


def draw_patch(ax: plt.Axes, row: int, col: int, size: int, colour: str = "red",
               style: str = "-") -> None:
    ax.add_patch(Rectangle((col - 0.5, row - 0.5), size, size, fill=False, ec=colour, lw=1.8,
                           ls=style))


def overlay(ax: plt.Axes, image: np.ndarray, prob: np.ndarray, patch: int, stride: int,
            title: str, contour: bool = True) -> Any:
    """A probability map drawn at the patch centres (pixel coordinates), the digit as a white outline.

    Outside the square of patch centres the digit is shown in grey.
    """
    p = prob.shape[0]
    c0 = (patch - 1) / 2
    ax.imshow(image, cmap="gray", vmin=0, vmax=1, extent=(-0.5, 27.5, 27.5, -0.5))
    half = stride / 2
    ext = (c0 - half, c0 + (p - 1) * stride + half, c0 + (p - 1) * stride + half, c0 - half)
    im = ax.imshow(prob, cmap="viridis", vmin=0, vmax=1, extent=ext)
    ax.contour(np.arange(28), np.arange(28), image, levels=[0.5], colors="white", linewidths=1.2)
    if contour and prob.min() < CRITICAL_P < prob.max():
        centres = c0 + np.arange(p) * stride
        ax.contour(centres, centres, prob, levels=[CRITICAL_P], colors="red", linewidths=1.6)
    ax.set_xlim(-0.5, 27.5)
    ax.set_ylim(27.5, -0.5)
    ax.set_title(title, fontsize=10)
    return im


def plot_maps(image: np.ndarray, maps: dict[str, np.ndarray], patch: int, stride: int,
              fill: float, index: int, clean_p: float, worst: tuple[int, int],
              worst_image: np.ndarray) -> plt.Figure:
    prob_true, max_prob, label = maps["prob_true"], maps["max_prob"], maps["label"]
    p = prob_true.shape[0]
    fig, axes = plt.subplots(2, 4, figsize=(21, 9.8), gridspec_kw={"wspace": 0.45, "hspace": 0.3})
    shade = "black" if fill == 0 else f"fill {fill:g}"

    ax = axes[0, 0]
    ax.imshow(image, cmap="gray", vmin=0, vmax=1)
    draw_patch(ax, 0, 0, patch, "red", "--")
    ax.set_title(f"test #{index}: a '6', p('6') = {clean_p:.3f}\n"
                 f"dashed: the {patch}x{patch} patch at position (0, 0)", fontsize=10)
    ax.set_xlabel("pixel column x")
    ax.set_ylabel("pixel row y")

    cell_note = "cell = patch top-left corner"
    for ax, values, name in ((axes[0, 1], prob_true, "Map 1: p('6')"),
                             (axes[0, 2], max_prob, "Map 2: highest probability (any class)")):
        im = ax.imshow(values, cmap="viridis", vmin=0, vmax=1)
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="probability (fixed 0-1 scale)")
        ax.set_title(f"{name}\nfixed 0-1 scale; {cell_note}", fontsize=10)
        patch_axes(ax, p, stride)
    axes[0, 1].plot(worst[1], worst[0], "rx", ms=9, mew=2, label="lowest p('6')")
    axes[0, 1].legend(loc="lower right", fontsize=8, framealpha=0.8)

    ax = axes[0, 3]
    cmap, norm = label_cmap()
    ax.imshow(label, cmap=cmap, norm=norm)
    counts = Counter(label.ravel().tolist())
    if p <= 30:
        fs = max(4.5, min(11.0, 140 / p))
        for r in range(p):
            for c in range(p):
                k = int(label[r, c])
                ax.text(c, r, str(k), ha="center", va="center", fontsize=fs,
                        color=text_colour(TAB10[k]))
    handles = [Patch(color=TAB10[k], label=f"'{k}': {counts[k]} cells") for k in sorted(counts)]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1), fontsize=9,
              title="predicted label\n(labels that occur)", title_fontsize=9, frameon=False)
    ax.set_title(f"Map 3: predicted label (10-colour palette)\n{cell_note}", fontsize=10)
    patch_axes(ax, p, stride)

    for ax, values, name in ((axes[1, 0], prob_true, "Map 1, contrast-stretched: p('6')"),
                             (axes[1, 1], max_prob, "Map 2, contrast-stretched")):
        lnorm = logit_norm(values)
        im = ax.imshow(values, cmap="viridis", norm=lnorm)
        cb = fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04,
                          label="probability (log-odds scale, map min to max)")
        cb.set_ticks(logit_ticks(lnorm))
        cb.ax.set_yticklabels([f"{t:.3g}" for t in logit_ticks(lnorm)])
        ax.set_title(f"{name}\nlog-odds colour scale from {lnorm.vmin:.3f} to {lnorm.vmax:.3f}",
                     fontsize=10)
        patch_axes(ax, p, stride)

    ax = axes[1, 2]
    im = overlay(ax, image, prob_true, patch, stride,
                 f"p('6') at the patch CENTRES (top-left + {(patch - 1) / 2:g} px)\n"
                 "white: the digit's outline; red: p('6') = 0.5")
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="p('6')")
    ax.set_xlabel("pixel column x")
    ax.set_ylabel("pixel row y")

    ax = axes[1, 3]
    ax.imshow(worst_image, cmap="gray", vmin=0, vmax=1)
    draw_patch(ax, worst[0] * stride, worst[1] * stride, patch, "red")
    wp = maps["probs"][worst]
    ax.set_title(f"most damaging position (r, c) = {worst} ({shade} patch)\n"
                 f"p('6') = {wp[SIX]:.3f}, label '{int(wp.argmax())}' (p = {wp.max():.3f})",
                 fontsize=10)
    ax.set_xlabel("pixel column x")
    ax.set_ylabel("pixel row y")
    fig.suptitle(f"Problem 2 (1): occlusion maps of a '6', {patch}x{patch} patch of value "
                 f"{fill:g}, stride {stride}, {p} x {p} = {p * p} positions", fontsize=13)
    return fig


# ----------------------------------------------------------------------------- plotting: (2) which strokes
def plot_regions(image: np.ndarray, region: dict[str, Any], masks: RegionMasks,
                 patch: int) -> plt.Figure:
    regions, count = masks
    fig, axes = plt.subplots(1, 3, figsize=(17, 5.2), gridspec_kw={"wspace": 0.35})
    palette = {"top_hook": TAB10[1], "stem": TAB10[2], "loop_left": TAB10[0],
               "loop_right": TAB10[9], "hole": (0.85, 0.85, 0.85)}
    rgb = np.stack([image * 0.35] * 3, -1)
    for name, colour in palette.items():
        rgb[regions[name]] = colour
    ax = axes[0]
    ax.imshow(rgb)
    share = region["mean_share_of_region_ink_covered"]
    handles = [Patch(color=palette[n], label=f"{REGION_NAMES[n]}"
                     + (f": a critical patch hides {100 * share[n]:.0f}% of it on average"
                        if n in share else "")) for n in palette]
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.1), fontsize=8.5,
              frameon=False)
    ax.set_title("Stroke regions, found from the pixels\n"
                 f"({region['region_definition']['method']})", fontsize=10)
    ax.set_xlabel("pixel column x")
    ax.set_ylabel("pixel row y")

    ax = axes[1]
    n = max(1, int(count.max()))
    im = ax.imshow(count, cmap="magma", vmin=0, vmax=n)
    ax.contour(np.arange(28), np.arange(28), image, levels=[0.5], colors="cyan", linewidths=1.2)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="number of critical patches hiding it")
    what = ("10 lowest-p('6') positions" if region["fallback_lowest_10"]
            else f"{region['n_below']} positions with p('6') < {CRITICAL_P}")
    ax.set_title(f"Pixels hidden by the critical {patch}x{patch} patches ({what})\n"
                 "cyan: the digit's outline", fontsize=10)
    ax.set_xlabel("pixel column x")
    ax.set_ylabel("pixel row y")

    ax = axes[2]
    names = list(REGIONS) + ["loop"]
    vals = [region["erase_region"][nm]["prob_true"] for nm in names]
    bars = ax.bar(range(len(names)), vals, color=[palette.get(nm, TAB10[4]) for nm in names])
    for b, nm in zip(bars, names):
        e = region["erase_region"][nm]
        ax.text(b.get_x() + b.get_width() / 2, b.get_height() + 0.02,
                f"{e['prob_true']:.2f}" + ("" if e["pred"] == SIX else
                                           f"\nnow '{e['pred']}' (p={e['prob_pred']:.2f})"),
                ha="center", va="bottom", fontsize=8.5,
                bbox={"facecolor": "white", "edgecolor": "none", "pad": 1})
    ax.axhline(CRITICAL_P, color="red", ls="--", lw=1)
    ax.set_xticks(range(len(names)), [REGION_TICKS[nm] for nm in names], fontsize=9)
    ax.set_ylim(0, 1.18)
    ax.set_ylabel("p('6') after erasing the region")
    ax.set_title("Erase one region's ink (set to the fill value)\nred dashed line: p = 0.5",
                 fontsize=10)
    fig.suptitle("Problem 2 (2): which strokes of the '6' the CNN needs", fontsize=13)
    return fig


def plot_population(mean_map: np.ndarray, frac_below: np.ndarray, mean_image: np.ndarray,
                    typ: dict[str, Any], r_all: np.ndarray, patch: int, stride: int,
                    n: int) -> plt.Figure:
    fig, axes = plt.subplots(1, 4, figsize=(22, 5.2), gridspec_kw={"wspace": 0.4})
    p = mean_map.shape[0]
    for ax, values, title, lab in (
            (axes[0], mean_map, f"mean p('6') map over {n} correct test 6s", "mean p('6')"),
            (axes[1], frac_below, f"share of the {n} 6s with p('6') < {CRITICAL_P}",
             "share of 6s")):
        im = ax.imshow(values, cmap="viridis", vmin=0, vmax=1)
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label=f"{lab} (fixed 0-1 scale)")
        ax.set_title(f"{title}\ncell = patch top-left corner", fontsize=10)
        patch_axes(ax, p, stride)
    im = overlay(axes[2], mean_image, mean_map, patch, stride,
                 "mean p('6') at the patch centres\nwhite: outline of the mean '6'; red: 0.5")
    fig.colorbar(im, ax=axes[2], fraction=0.046, pad=0.04, label="mean p('6')")
    axes[2].set_xlabel("pixel column x")
    axes[2].set_ylabel("pixel row y")
    ax = axes[3]
    ax.hist(r_all[np.isfinite(r_all)], bins=20, color=TAB10[0], alpha=0.8)
    if typ["r_example"] is not None:
        ax.axvline(typ["r_example"], color="red", lw=2,
                   label=f"the example: r = {typ['r_example']:.2f}\n"
                         f"(higher than {typ['example_percentile']:.0f}% of the 6s)")
    ax.axvline(typ["r_median"], color="black", ls="--", lw=1.2,
               label=f"median r = {typ['r_median']:.2f}")
    ax.set_xlabel("Pearson r: a 6's p('6') map vs the mean map of the other 6s")
    ax.set_ylabel("number of 6s")
    ax.legend(fontsize=8.5, loc="upper left")
    ax.set_title("Is the example typical?", fontsize=10)
    fig.suptitle(f"Problem 2 (2): beyond one example ({patch}x{patch} patch, stride {stride})",
                 fontsize=13)
    return fig


def plot_gallery(images: np.ndarray, maps: np.ndarray, indices: Sequence[int],
                 rs: Sequence[float], belows: Sequence[int], patch: int, stride: int,
                 example: int) -> plt.Figure:
    k = len(images)
    cols = min(4, k)
    rows = (k + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4.3 * cols, 4.4 * rows), squeeze=False)
    im = None
    for ax in axes.ravel()[k:]:
        ax.axis("off")
    for ax, img, m, idx, r, b in zip(axes.ravel(), images, maps, indices, rs, belows):
        tag = " (the example)" if idx == example else ""
        im = overlay(ax, img, m, patch, stride,
                     f"test #{idx}{tag}\nr = {r:.2f}, {b} positions with p('6') < {CRITICAL_P}")
        ax.set_xticks([])
        ax.set_yticks([])
    fig.colorbar(im, ax=axes, fraction=0.025, pad=0.02, label="p('6') at the patch centre")
    fig.suptitle("Problem 2 (2): individual 6s, from most to least typical map (r = correlation "
                 "with the others' mean)\np('6') drawn at the patch centres; white: the digit's "
                 "outline; red: p('6') = 0.5", fontsize=12)
    return fig


# ----------------------------------------------------------------------------- plotting: (3) transplants
def plot_transplant_study(image: np.ndarray, study: dict[str, Any]) -> plt.Figure:
    """Top: per size, the share of sampled windows that flip the label at each position of the example,
    with the guided positions. Bottom: label-changed (and adversarial) rates with 95% intervals."""
    sizes = [str(s) for s in study["design"]["sizes"]]
    rates = study["rates"]
    scopes = list(rates)
    fig, axes = plt.subplots(2, len(sizes), figsize=(6.2 * len(sizes), 10.5),
                             gridspec_kw={"hspace": 0.42, "wspace": 0.28})
    grid = {s: np.array(study["flip_share_maps"][s]) for s in sizes}
    for ax, s in zip(axes[0], sizes):
        z = int(s)
        share = grid[s]
        pw = share.shape[0]
        im = ax.imshow(share, cmap="magma", vmin=0, vmax=1)
        for g, marker in (("black-map", "s"), ("white-map", "o")):
            pos = np.array(rates["example"][s][g]["positions"])
            ax.plot(pos % pw, pos // pw, marker, ms=7, mfc="none", mew=1.6,
                    color=STRATEGY_COLOURS[g] if g != "black-map" else "cyan", label=f"{g} positions")
        if z == study["best_position"]["size"]:
            r, c = study["best_position"]["position"]
            ax.plot(c, r, "x", color="lime", ms=10, mew=2.2, label="best position")
        ax.legend(fontsize=8, loc="lower left", framealpha=0.85)
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="share of the windows that change the label")
        ax.set_title(f"{s}x{s} windows pasted over the example '6'\n(cell = window top-left corner)",
                     fontsize=10)
        patch_axes(ax, pw, 1)
    width = 0.8 / len(STRATEGIES)
    for ax, s in zip(axes[1], sizes):
        for j, st in enumerate(STRATEGIES):
            xs = np.arange(len(scopes)) + (j - (len(STRATEGIES) - 1) / 2) * width
            ch = [rates[sc][s][st]["changed"] for sc in scopes]
            vals = np.array([100 * r["rate"] for r in ch])
            err = np.array([[100 * (r["rate"] - r["ci95"][0]), 100 * (r["ci95"][1] - r["rate"])] for r in ch]).T
            ax.bar(xs, vals, width, yerr=err, capsize=3, color=STRATEGY_COLOURS[st], ecolor="tab:blue",
                   edgecolor="black", lw=0.5, label=f"{STRATEGY_WORDS[st]}: label changed")
            adv = [100 * rates[sc][s][st]["adversarial"]["rate"] if "adversarial" in rates[sc][s][st]
                   else np.nan for sc in scopes]
            ax.bar(xs, adv, width * 0.45, color="white", edgecolor="red", hatch="////", lw=0.8,
                   label="adversarial (judges still say '6')" if j == 0 else None)
        ax.set_xticks(range(len(scopes)), [scope_name(sc, short=True) for sc in scopes], fontsize=9)
        top = max(r[w]["ci95"][1] for by in rates.values() for r in by[s].values() for w in ("changed",))
        ax.set_ylim(0, min(100, 100 * top + 25))
        ax.set_ylabel("pastes (%); blue bars: 95% Wilson interval")
        ax.set_title(f"{s}x{s}: where to paste", fontsize=10)
        ax.legend(fontsize=7.5, loc="upper right")
    fig.suptitle("Problem 2 (3): windows of other digits pasted over a '6'. Top: each position on the example."
                 "\nBottom: placement strategies on the example, other 6s and CNNs of other training seeds "
                 "(red hatched: adversarial, judged for our CNN only)", fontsize=12)
    return fig


def plot_adversarial(examples_adv: list[dict], examples_rel: list[dict], judges: Sequence[str]) -> plt.Figure:
    """Top row: true adversarials (judges still say '6'); bottom row: honest relabellings."""
    k = max(len(examples_adv), len(examples_rel), 1)
    fig, axes = plt.subplots(2, k, figsize=(2.6 * k, 6.6), squeeze=False)
    for row, items in enumerate((examples_adv, examples_rel)):
        for j in range(k):
            ax = axes[row, j]
            ax.set_xticks([])
            ax.set_yticks([])
            if j >= len(items):
                ax.axis("off")
                continue
            a = items[j]
            ax.imshow(np.array(a["image"]), cmap="gray", vmin=0, vmax=1)
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
        title = ATTACK_NAMES[name].format(**row) if name.startswith("pgd") else ATTACK_NAMES[name]
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


# ----------------------------------------------------------------------------- command line
def parse_args(argv: Sequence[str] | None):
    p = Parser(description=__doc__.splitlines()[0])
    add_cnn_arguments(p, f"our CNN of --seed, the {JUDGE_CNNS} judge CNNs of the next seeds and the MLP judge")
    p.add_argument("--index", type=int, default=None,
                   help="test index of the '6' (None: the first correctly classified one)")
    p.add_argument("--patch", type=int, default=8, help="side of the square occluding patch")
    p.add_argument("--stride", type=int, default=1, help="step between patch positions")
    p.add_argument("--fill", type=float, default=0.0, help="patch pixel value, 0 = black, 1 = white")
    p.add_argument("--quick", action="store_true",
                   help="a tiny search and population, only to exercise the code in tests")
    add_out_argument(p, "folder for figures and JSON")
    args = p.parse_args(argv)
    try:
        check_window(args.patch, args.stride)
    except UserError as exc:
        p.error(str(exc))
    if not 0.0 <= args.fill <= 1.0:  # also rejects nan
        p.error(f"--fill must be a pixel value in [0, 1], got {args.fill}")
    return args


# ----------------------------------------------------------------------------- main
def gallery_picks(r_all: np.ndarray, member: int | None) -> list[int]:
    """Up to GALLERY 6s spread evenly from the most to the least typical map, the example included."""
    r_sort = np.nan_to_num(r_all, nan=-2.0)
    order = np.argsort(-r_sort, kind="stable")
    picks = order[np.unique(np.linspace(0, len(order) - 1, min(GALLERY, len(order))).round()
                            .astype(int))].tolist()
    if member is not None and member not in picks:
        picks[len(picks) // 2] = member
    return sorted(picks, key=lambda i: -r_sort[i])


def save_figures(problem: Problem, a1: dict, a2: dict, a3: dict, patch: int, stride: int,
                 fill: float, out) -> list[str]:
    image, images, index = problem.image, problem.test.images, problem.index
    maps, pop = a1["maps"], a2["population"]
    figures = {
        "maps": plot_maps(image, maps, patch, stride, fill, index, float(problem.clean[SIX]),
                          a1["worst"], a1["worst_image"]),
        "regions": plot_regions(image, a2["region"], a2["masks"], patch),
        "population": plot_population(pop.maps.mean(0), (pop.maps < CRITICAL_P).mean(0),
                                      images[pop.indices, 0].mean(0).numpy(), pop.typicality,
                                      pop.r_all, patch, stride, len(pop.indices))}
    member = int(np.flatnonzero(pop.indices == index)[0]) if index in pop.indices else None
    picks = gallery_picks(pop.r_all, member)
    figures["sixes_gallery"] = plot_gallery(images[pop.indices[picks], 0].numpy(), pop.maps[picks],
                                            pop.indices[picks].tolist(), pop.r_all[picks].tolist(),
                                            pop.below[picks].tolist(), patch, stride, index)
    study = a3["study"]
    figures["transplant_study"] = plot_transplant_study(image, study)
    figures["adversarial"] = plot_adversarial(study["true_adversarial"], study["relabelled"],
                                              [j["name"] for j in study["judges"]])
    figures["attacks"] = plot_attacks(image, a3["shown"], study["comparison"],
                                      [j["name"] for j in study["judges"]])
    for name, fig in figures.items():
        save_figure(fig, out / f"p2_{name}.png")
    return [f"p2_{name}.png" for name in figures]


def print_study(study: dict[str, Any]) -> None:
    print("\n  size  strategy    where           pastes   label changed (95% CI)   adversarial (95% CI)")
    for scope, by_size in study["rates"].items():
        for size, by in by_size.items():
            for st, r in by.items():
                ch, adv = r["changed"], r.get("adversarial")
                print(f"  {size:>2}x{size:<2} {st:<10} {scope:<13} {ch['n']:>7,}   {ci_text(ch):<24} "
                      f"{ci_text(adv) if adv else '-'}")
    for name, row in study["comparison"].items():
        print(f"  {name:<10} " + ", ".join(f"{k} {row.get(k)}" for k in ("success", "l0", "l2", "linf", "transfer")))


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    start = time.perf_counter()
    args = parse_args(argv)
    budget = QUICK if args.quick else FULL
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    problem = load_problem(args.data, args.seed, args.retrain, args.checkpoints, args.index)
    patch, stride, fill = args.patch, args.stride, args.fill
    print(f"CNN on {problem.source}: test accuracy {100 * problem.meta['test_accuracy']:.2f}%; the "
          f"'6' is test #{problem.index}, p('6') = {problem.clean[SIX]:.4f}")

    a1 = question1(problem, patch, stride, fill)
    print(f"\n(1) Occlusion maps ({patch}x{patch} patch, stride {stride}, fill {fill:g})\n{a1['q1']}")
    a2 = question2(problem, a1["maps"], patch, stride, fill, budget, args.quick, rng)
    print(f"\n(2) Which parts of the '6' matter\n{a2['q2']}")
    judges = load_judges(problem.source, args.seed, args.checkpoints)
    seed_models = {j.meta["seed"]: j.model for j in judges[:SEEDS_AGREE]}
    a3 = question3(problem, judges, seed_models, budget, rng)
    print(f"\n(3) Transplanted windows from other digits\n{a3['q3']}")
    print_study(a3["study"])
    figures = save_figures(problem, a1, a2, a3, patch, stride, fill, args.out)

    maps, pop = a1["maps"], a2["population"]
    results = {
        "data_source": problem.source, "index": problem.index, "patch": patch, "stride": stride,
        "fill": fill, "seed": args.seed, "quick": args.quick, "true_class": SIX,
        "interpretation": INTERPRETATION,
        "model": {k: problem.meta.get(k) for k in ("source", "seed", "epochs", "train_accuracy",
                                                   "test_accuracy", "label_smoothing")},
        "clean_probs": nested(problem.clean),
        "prob_true_map": nested(maps["prob_true"]), "max_prob_map": nested(maps["max_prob"]),
        "label_map": maps["label"].tolist(),
        "important_region": a2["region"],
        "population": {"indices": pop.indices.tolist(), "mean_prob_true_map": nested(pop.maps.mean(0)),
                       "share_below_map": nested((pop.maps < CRITICAL_P).mean(0)),
                       "typicality": pop.typicality},
        "adversarial_study": a3["study"],
        "answers": {"q1": a1["q1"], "q2": a2["q2"], "q3": a3["q3"]},
        "figures": figures,
        "versions": versions("torch", "numpy"),
    }
    write_json_atomic(args.out / "p2_results.json", results)
    print(f"\nwrote {args.out / 'p2_results.json'} and {len(figures)} figures in {args.out}")
    print(f"runtime: {time.perf_counter() - start:.1f} s")
    return results


if __name__ == "__main__":
    sys.exit(run(main))
