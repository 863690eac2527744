"""Problem 2: slide a black 8x8 patch over a '6', read what the CNN needs, and transplant patches.

Answers (1) the three occlusion maps of a correctly classified test '6' (p('6'), the highest class
probability, the predicted label) for every position of the patch; (2) which strokes of the '6'
matter: the positions where p('6') drops below 0.5, an objective split of the digit's ink into
loop / stem / top hook, and the map averaged over every correctly classified test '6';
(3) whether windows cut from other test digits and pasted over the '6' make "adversarial" images,
searching over source images, windows and target positions, with target positions taken from
occlusion maps (black patch, the assignment's; white patch, where added ink hurts) or at random,
at equal budget.

    .venv/bin/python p2_occlusion.py                 # the first correct '6', 8x8 black patch
    .venv/bin/python p2_occlusion.py --index 605 --patch 6 --stride 2 --fill 0.5

Where the math lives: the batched occlusion engine (masks, the batch-norm-folded CNN) is in
common/occlusion.py; the CNN and its training in common/cnn.py; the stroke regions and the
transplant search are in this file.

Map cell (r, c) is the patch whose TOP-LEFT corner is at pixel (r*stride, c*stride); the map
figures label their axes in these patch-position coordinates, and the overlay draws each cell at
the patch centre, (r*stride + (patch-1)/2, c*stride + (patch-1)/2).

Expected output (offline, mnist5k, the cached seed-0 checkpoint, defaults): the '6' is test #600,
p('6') = 0.976. (1)/(2) p('6') falls below 0.5 at 36 of the 441 positions (lowest 0.264, patch
top-left (12, 8)); the label there turns into '3' at 11 of them and stays '6' at 25. 94% of the
ink those patches hide is the left half of the loop, where the stem joins it; erasing the whole
loop makes the '6' a '1'. Over the 98 correct test 6s the mean map is lowest at nearly the same
place, and the example is typical (r = 0.84 with the others' mean map; median 0.85).
(3) 22,505 of 95,904 pastes flip the label; classes '0', '2', '3', '4', '5', '7', '8' are reached
(best p up to 0.91).
Positions from the black-patch map do worse than random ones (8x8 windows over 8 other 6s: 2.3%
vs 5.6% of pastes flip); positions from the white-patch map flip 49-64% of the pastes on the
example and 82% over the other 6s, mostly into '8' and '0'. Exact numbers: printed and in the JSON.
Writes: figures/p2_maps.png, p2_regions.png, p2_population.png, p2_sixes_gallery.png,
p2_adversarial.png, p2_search.png and p2_results.json.
Runtime on 2 CPU cores with a cached checkpoint: about 10 s wall on a quiet machine (about 2 s of
it imports; ~200,000 forward passes through the batch-norm-folded engine, most of them in the
search); --quick 4-7 s. While another job kept both cores busy the same run took up to 95 s.
"""
from __future__ import annotations

import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any, NamedTuple, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from matplotlib import colors
from matplotlib.patches import Patch, Rectangle

from common.cli import FIGURES, Parser, UserError, run, save_figure, versions, write_json_atomic
from common.cnn import add_cnn_arguments, load_cnn, pick_correct, predict_proba
from common.data import MNISTData, load_mnist, resolve_source
from common.occlusion import (DEFAULT_CHUNK, check_window, fast_inference_copy, num_positions,
                              occlude)
from common.plotting import plt

# ----------------------------------------------------------------------------- algorithm constants
SIX = 6
CRITICAL_P = 0.5  # "p('6') drops below 0.5"
INK = 0.2  # a pixel at or above this value is ink (MNIST strokes are anti-aliased 0..1)
REGIONS = ("top_hook", "stem", "loop_left", "loop_right")
POPULATION_MAX = 200  # mean map over all correct test 6s, or a seeded sample of this many
ADV_SIZES = (6, 8, 10)  # transplanted window sizes: the assignment's 8x8 and one smaller and larger
GUIDES = {"black-map": 0.0, "white-map": 1.0}  # guided search: occlusion maps with these fills
STRATEGIES = (*GUIDES, "random")
MIN_WINDOW_INK = 0.1  # a random source window must hold ink worth 10% of its area
# Search budgets: windows per source image, target positions per strategy, sources per class
# (None = all correct test digits), 6s in the mean map (None = all, up to POPULATION_MAX), and the
# guided-vs-random check on other 6s (how many, with the inkiest window of how many sources/class).
FULL = {"windows_per_source": 2, "positions": 6, "sources_per_class": None, "population": None,
        "check_sixes": 8, "check_sources_per_class": 10}
QUICK = {"windows_per_source": 2, "positions": 3, "sources_per_class": 4, "population": 6,
         "check_sixes": 1, "check_sources_per_class": 3}

INTERPRETATION = (
    "Map cell (r, c) is the patch whose top-left corner sits at pixel (r*stride, c*stride) (rows "
    "down, columns right); its centre is (patch-1)/2 pixels further. The patch replaces pixels by "
    "`fill` (0 = black, exactly, because the CNN takes pixels in [0, 1] and normalises inside). "
    "'Highest probability' is the maximum over all 10 classes, '6' included. For (3) a pasted "
    "window replaces the '6's pixels under it, background included (it occludes and adds "
    "strokes); an image counts as adversarial when the CNN's label is no longer '6'. Guided "
    "target positions are the lowest cells of the '6's own occlusion map for a patch of the "
    "window's size, filled black (the assignment's map: where removing ink hurts) or white "
    "(where adding ink hurts); random positions are drawn uniformly at the same budget."
)

# ----------------------------------------------------------------------------- styling constants
GALLERY = 8  # 6s shown in the gallery of individual maps
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


def load_problem(data: str, seed: int, retrain: bool, checkpoints, index: int | None) -> Problem:
    source = resolve_source(data)
    model, meta = load_cnn(source, retrain=retrain, seed=seed, checkpoint_dir=checkpoints)
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


# ----------------------------------------------------------------------------- (3) transplants
def paste(target: torch.Tensor, source: torch.Tensor, window: Sequence[int],
          position: Sequence[int]) -> torch.Tensor:
    """Copy source[:, r:r+s, c:c+s] (window = (r, c, s)) onto a copy of target at top-left `position`."""
    r, c, s = window
    tr, tc = position
    out = target.clone()
    out[:, tr:tr + s, tc:tc + s] = source[:, r:r + s, c:c + s]
    return out


def choose_windows(images: torch.Tensor, size: int, per_source: int,
                   rng: np.random.Generator) -> np.ndarray:
    """Source windows [M, 3] = (source position in `images`, row, col): per image its inkiest
    window plus `per_source - 1` random ones holding at least MIN_WINDOW_INK of ink."""
    mass = (F.avg_pool2d(images, size, stride=1) * size * size)[:, 0].numpy()  # [S, Pw, Pw]
    pw = mass.shape[1]
    out = []
    for i, m in enumerate(mass.reshape(len(mass), -1)):
        best = int(np.argmax(m))
        picks = [best]
        eligible = np.flatnonzero(m >= MIN_WINDOW_INK * size * size)
        eligible = eligible[eligible != best]
        extra = min(per_source - 1, len(eligible))
        if extra > 0:
            picks += rng.choice(eligible, extra, replace=False).tolist()
        out += [(i, j // pw, j % pw) for j in picks]
    return np.array(out, dtype=np.int64)


def transplant_probs(model: torch.nn.Module, six: torch.Tensor, sources: torch.Tensor,
                     windows: np.ndarray, positions: np.ndarray, size: int,
                     chunk: int = 2048) -> np.ndarray:
    """Probabilities [M, T, 10] for every (window, target position) paste onto `six` [1, 28, 28]."""
    idx = torch.from_numpy(windows)
    ar = torch.arange(size)
    rows = (idx[:, 1, None] + ar)[:, :, None]  # [M, s, 1]
    cols = (idx[:, 2, None] + ar)[:, None, :]  # [M, 1, s]
    patches = sources[idx[:, 0], 0][torch.arange(len(idx))[:, None, None], rows, cols]  # [M, s, s]
    out = np.empty((len(windows), len(positions), 10), dtype=np.float32)
    for t, (tr, tc) in enumerate(positions):
        for m0 in range(0, len(windows), chunk):
            block = patches[m0:m0 + chunk]
            x = six.expand(len(block), 1, 28, 28).clone()
            x[:, 0, tr:tr + size, tc:tc + size] = block
            out[m0:m0 + chunk, t] = predict_proba(model, x, batch=DEFAULT_CHUNK).numpy()
    return out


def ink_under(image: np.ndarray, positions: np.ndarray, size: int) -> float:
    """Mean share of the patch area that is ink (>= INK) in `image`, over top-left `positions`."""
    return float(np.mean([(image[r:r + size, c:c + size] >= INK).mean() for r, c in positions]))


def search(model: torch.nn.Module, six: torch.Tensor, sources: torch.Tensor,
           source_index: np.ndarray, windows_per_source: int, n_positions: int,
           rng: np.random.Generator) -> tuple[list[dict[str, Any]], dict[tuple[int, int], dict]]:
    """Paste source windows over `six` at guided and at random target positions, per window size.

    Each guided strategy takes the `n_positions` lowest cells of the '6's own occlusion map for a
    patch of that size, filled with black (where removing ink hurts most: the assignment's map) or
    white (where adding ink hurts most); "random" draws positions uniformly. All strategies paste
    the same windows. Returns one summary per (size, strategy) and the most confident paste per
    (size, new class).
    """
    fast = fast_inference_copy(model)
    image = six[0].numpy()
    summaries, best = [], {}
    for size in ADV_SIZES:
        windows = choose_windows(sources, size, windows_per_source, rng)
        strategies = {}
        for name, fill in GUIDES.items():
            p6 = occlude(model, six, patch=size, stride=1, fill=fill)[..., SIX].numpy()
            order = np.argsort(p6, axis=None, kind="stable")
            strategies[name] = np.stack(np.unravel_index(order[:n_positions], p6.shape), 1)
        p = num_positions(28, size, 1)
        strategies["random"] = np.stack(np.unravel_index(
            rng.choice(p * p, n_positions, replace=False), (p, p)), 1)
        for strategy, positions in strategies.items():
            probs = transplant_probs(fast, six, sources, windows, positions, size)
            pred = probs.argmax(-1)
            flip = pred != SIX
            classes = {}
            for k in sorted(set(pred[flip].tolist())):
                sel = np.argwhere(pred == k)
                pk = probs[sel[:, 0], sel[:, 1], k]
                j = int(np.argmax(pk))
                m, t = sel[j]
                classes[str(k)] = {"count": int(len(sel)), "best_prob": r6(pk[j])}
                cand = {"prob": float(pk[j]), "strategy": strategy,
                        "source_index": int(source_index[windows[m, 0]]),
                        "source_window": [int(windows[m, 1]), int(windows[m, 2]), size],
                        "target_position": [int(positions[t, 0]), int(positions[t, 1])]}
                if (size, k) not in best or cand["prob"] > best[size, k]["prob"]:
                    best[size, k] = cand
            summaries.append({
                "size": size, "strategy": strategy, "positions": positions.tolist(),
                "ink_share_under_positions": r6(ink_under(image, positions, size)),
                "mean_patch_centre": [r6(v) for v in positions.mean(0) + (size - 1) / 2],
                "n_windows": int(len(windows)), "n_candidates": int(flip.size),
                "n_flipped": int(flip.sum()), "success_rate": r6(flip.mean()),
                "windows_flipping_somewhere": int(flip.any(1).sum()),
                "mean_p6_after_paste": r6(probs[..., SIX].mean()),
                "classes": classes})
    return summaries, best


def guided_vs_random(model: torch.nn.Module, sixes: torch.Tensor, six_index: Sequence[int],
                     sources: torch.Tensor, source_index: np.ndarray, n_positions: int,
                     rng: np.random.Generator) -> dict[str, Any]:
    """The same search (inkiest window per source only) on other 6s: does the ranking hold?"""
    per_six = []
    for idx, six in zip(six_index, sixes):
        summaries, _ = search(model, six, sources, source_index, 1, n_positions, rng)
        per_six.append({"index": int(idx), **{f"{s['size']}_{s['strategy']}": s["success_rate"]
                                              for s in summaries}})
    out: dict[str, Any] = {"sixes": [int(i) for i in six_index], "n_sources": int(len(sources)),
                           "windows_per_source": 1, "positions_per_strategy": n_positions,
                           "per_six": per_six, "by_size": {}}
    for size in ADV_SIZES:
        rates = {st: np.array([row[f"{size}_{st}"] for row in per_six]) for st in STRATEGIES}
        entry = {f"{st}_mean": r6(v.mean()) for st, v in rates.items()}
        for st in GUIDES:
            entry[f"{st}_beats_random"] = int((rates[st] > rates["random"]).sum())
        entry["n"] = len(per_six)
        out["by_size"][str(size)] = entry
    return out


def first_per_class(candidates: np.ndarray, labels: np.ndarray, per_class: int | None) -> np.ndarray:
    """The first `per_class` of `candidates` for each label (all of them if None), sorted."""
    if per_class is None:
        return candidates
    return np.sort(np.concatenate([candidates[labels[candidates] == k][:per_class]
                                   for k in np.unique(labels[candidates])]))


def question3(problem: Problem, budget: dict, rng: np.random.Generator) -> dict[str, Any]:
    """Transplanted windows from other digits: the search on the example and the check on other 6s."""
    test, model, six, index = problem.test, problem.model, problem.six, problem.index
    labels = test.labels.numpy()
    sixes = np.flatnonzero((labels == SIX) & (problem.pred == SIX))
    others = np.flatnonzero((labels != SIX) & (problem.pred == labels))
    src_idx = first_per_class(others, labels, budget["sources_per_class"])
    summaries, best = search(model, six, test.images[src_idx], src_idx,
                             budget["windows_per_source"], budget["positions"], rng)
    check_sixes = [int(i) for i in sixes if i != index][:budget["check_sixes"]]
    check_src = first_per_class(others, labels, budget["check_sources_per_class"])
    check = guided_vs_random(model, test.images[check_sixes], check_sixes,
                             test.images[check_src], check_src, budget["positions"], rng)
    top_prob: dict[int, float] = {}
    for (size, k), b in best.items():
        top_prob[k] = max(top_prob.get(k, 0.0), b["prob"])
    adversarial = []
    for (size, k), b in sorted(best.items()):
        img = paste(six, test.images[b["source_index"]], b["source_window"], b["target_position"])
        pr = predict_proba(model, img[None])[0]
        if int(pr.argmax()) != k:  # a near-tie that batching resolved differently: leave it out
            continue
        adversarial.append({"target_position": b["target_position"],
                            "source_index": b["source_index"],
                            "source_label": int(test.labels[b["source_index"]]),
                            "source_window": b["source_window"], "strategy": b["strategy"],
                            "pred": k, "prob": r6(pr[k]), "prob_true": r6(pr[SIX]),
                            "best_for_class": b["prob"] == top_prob[k],
                            "image": img[0].double().tolist()})
    return {"summaries": summaries, "check": check, "adversarial": adversarial,
            "n_sources": int(len(src_idx)),
            "q3": answer_q3(summaries, adversarial, check, len(src_idx), problem.image)}


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


def where(image: np.ndarray, centre: Sequence[float]) -> str:
    """'upper right' etc.: a point's place in thirds of the digit's ink bounding box."""
    y0, x0, y1, x1 = bbox(image >= INK)
    fy, fx = (centre[0] - y0) / max(y1 - y0, 1), (centre[1] - x0) / max(x1 - x0, 1)
    vert = "upper" if fy < 1 / 3 else "lower" if fy > 2 / 3 else "middle"
    horiz = "left" if fx < 1 / 3 else "right" if fx > 2 / 3 else "centre"
    return "centre" if (vert, horiz) == ("middle", "centre") else f"{vert} {horiz}"


def answer_q3(summaries: list[dict[str, Any]], adversarial: list[dict[str, Any]],
              check: dict[str, Any], n_sources: int, image: np.ndarray) -> str:
    def run_of(size: int, strategy: str) -> dict[str, Any]:
        return next(s for s in summaries if s["size"] == size and s["strategy"] == strategy)

    per_size = "; ".join(
        f"{z}x{z}: " + ", ".join(f"{100 * run_of(z, st)['success_rate']:.1f}% {st}"
                                 for st in STRATEGIES) for z in ADV_SIZES)
    best = [a for a in adversarial if a["best_for_class"]]
    reached = ", ".join(f"'{a['pred']}' (p = {a['prob']:.2f}, {a['source_window'][2]}x"
                        f"{a['source_window'][2]})" for a in best)
    eight = sorted({int(k) for s in summaries if s["size"] == 8 for k in s["classes"]})
    n_flips = sum(s["n_flipped"] for s in summaries)
    n_total = sum(s["n_candidates"] for s in summaries)
    by = check["by_size"]
    gen = "; ".join(f"{z}x{z}: " + ", ".join(f"{100 * by[str(z)][f'{st}_mean']:.1f}% {st}"
                                              for st in STRATEGIES) for z in ADV_SIZES)
    beats = " and ".join(f"{sum(by[str(z)][f'{st}_beats_random'] for z in ADV_SIZES)} of "
                         f"{len(ADV_SIZES) * len(check['sixes'])} (size, 6) pairs for the {st}"
                         for st in GUIDES)
    runs = {st: [s for s in summaries if s["strategy"] == st] for st in STRATEGIES}
    ink = {st: np.mean([s["ink_share_under_positions"] for s in rs]) for st, rs in runs.items()}
    place = {st: where(image, np.mean([s["mean_patch_centre"] for s in rs], 0))
             for st, rs in runs.items()}
    white_classes = Counter()
    for s in runs["white-map"]:
        white_classes.update({int(k): v["count"] for k, v in s["classes"].items()})
    n_pos = len(summaries[0]["positions"])
    top_two = " and ".join(f"'{k}' ({v:,} pastes)" for k, v in white_classes.most_common(2)) \
        or "no class"
    closing = ("; a stroke across the open top of a '6' is what makes those digits, so a person "
               "might read some of these images the same way"
               if white_classes and {k for k, _ in white_classes.most_common(2)} <= {0, 8} else "")
    yes = "Yes" if best else "Not with this search budget"
    means = {st: np.mean([by[str(z)][f"{st}_mean"] for z in ADV_SIZES]) for st in STRATEGIES}

    def versus(st: str) -> str:
        g, r = means[st], means["random"]
        return ("better than random" if g > 1.1 * r + 1e-3 else
                "worse than random" if g < r / 1.1 - 1e-3 else "about as good as random")

    black = (f"The assignment's black-patch map is {versus('black-map')} as a guide: its lowest "
             f"cells (in the {place['black-map']} of the digit, {100 * ink['black-map']:.0f}% of "
             f"the patch on ink) are where removing ink hurts")
    if versus("black-map") != "better than random":
        black += ", and a pasted window brings strokes back there"
    n_check = len(check["sixes"])
    spread = max(means.values()) > 2 * min(means.values()) + 0.01
    matters = "Where the window goes matters." if spread else "Where the window goes matters little."
    return (
        f"{yes}. Pasting one window cut from a correctly classified test digit of another class "
        f"({n_sources} source images) over the '6' changed the CNN's label in {n_flips:,} of "
        f"{n_total:,} pastes. Classes reached, with the best probability of the new label: "
        f"{reached or 'none'}; with the assignment's 8x8 size alone: "
        f"{', '.join(repr(str(k)) for k in eight) or 'none'}. {matters} "
        f"With the same windows and {n_pos} target positions per strategy, the share of pastes "
        f"that flip the label is {per_size}. Over {n_check} other correct "
        f"6{'s' if n_check != 1 else ''} the mean rates are {gen}; a guided strategy beats random "
        f"in {beats}. {black}. The same occlusion engine with a white patch finds where added "
        f"ink hurts, and it is {versus('white-map')}: those cells lie in the {place['white-map']} "
        f"of the digit ({100 * ink['white-map']:.0f}% of the patch on ink, "
        f"{100 * ink['random']:.0f}% for random positions). Pastes there flip the label "
        f"{100 * means['white-map']:.0f}% of the time on average over the other 6s, and on the "
        f"example mostly into {top_two}{closing}. Unlike "
        f"gradient-based adversarial examples (FGSM/PGD), which change every pixel by a small, "
        f"norm-bounded, nearly invisible amount computed from the model's gradients, these need "
        f"only forward passes (black box), are local, and are unbounded inside the window "
        f"(pixels replaced outright), yet what is pasted is natural-looking handwriting. That is "
        f"also their limit: a pasted stroke can make the digit look like the new class to a "
        f"person as well, so only some of them are errors of the model rather than honest "
        f"relabelings; look at the gallery with that in mind, as with the transplanted objects "
        f"in 'The Elephant in the Room'.")


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
def plot_adversarial(test_images: torch.Tensor, test_labels: torch.Tensor,
                     adversarial: list[dict[str, Any]]) -> plt.Figure:
    """Per entry: the source digit with its window (top) and the '6' with the window pasted in."""
    k = len(adversarial)
    fig, axes = plt.subplots(2, max(k, 2), figsize=(2.5 * max(k, 2), 6.0), squeeze=False)
    for j, a in enumerate(adversarial):
        r, c, s = a["source_window"]
        tr, tc = a["target_position"]
        ax = axes[0, j]
        ax.imshow(test_images[a["source_index"], 0].numpy(), cmap="gray", vmin=0, vmax=1)
        draw_patch(ax, r, c, s, "orange")
        ax.set_title(f"test #{a['source_index']}, a '{int(test_labels[a['source_index']])}'\n"
                     f"{s}x{s} window at ({r}, {c})", fontsize=9)
        ax = axes[1, j]
        ax.imshow(np.array(a["image"]), cmap="gray", vmin=0, vmax=1)
        draw_patch(ax, tr, tc, s, "orange")
        ax.set_title(f"now '{a['pred']}', p = {a['prob']:.2f}\np('6') = {a['prob_true']:.2f}, "
                     f"{a['strategy']} ({tr}, {tc})", fontsize=9)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    for ax in axes[:, k:].ravel():  # unused columns (fewer than 2 classes reached)
        ax.axis("off")
    axes[0, 0].set_ylabel("source digit,\nwindow cut out", fontsize=10)
    axes[1, 0].set_ylabel("the '6' with the window\npasted at the orange box", fontsize=10)
    fig.suptitle("Problem 2 (3): the most confident transplanted-patch image for each class reached "
                 "(any window size); position = top-left (row, col)", fontsize=12)
    fig.tight_layout()
    return fig


def plot_search(summaries: list[dict[str, Any]], check: dict[str, Any]) -> plt.Figure:
    fig, axes = plt.subplots(1, 3, figsize=(23, 5.6),
                             gridspec_kw={"width_ratios": [1, 1.4, 1], "wspace": 0.3})
    sizes = sorted({s["size"] for s in summaries})
    width = 0.27
    ax = axes[0]
    for j, strategy in enumerate(STRATEGIES):
        rows = [s for s in summaries if s["strategy"] == strategy]
        xs = np.arange(len(rows)) + (j - 1) * width
        bars = ax.bar(xs, [100 * s["success_rate"] for s in rows], width,
                      color=STRATEGY_COLOURS[strategy], label=STRATEGY_WORDS[strategy])
        for b, s in zip(bars, rows):
            ax.text(b.get_x() + b.get_width() / 2, b.get_height() + 1, f"{s['n_flipped']:,}",
                    ha="center", va="bottom", fontsize=7.5, rotation=90)
    ax.set_xticks(range(len(sizes)), [f"{s}x{s}" for s in sizes])
    ax.set_xlabel("size of the pasted window")
    ax.set_ylabel("pastes that change the label (%)")
    ax.set_ylim(0, 125)
    ax.set_yticks(range(0, 101, 20))
    ax.legend(fontsize=8.5, loc="upper left")
    ax.set_title(f"The example '6': {summaries[0]['n_candidates']:,} pastes per bar, same windows\n"
                 "(number above a bar = pastes that flip the label)", fontsize=10)

    ax = axes[1]
    grid = np.full((len(summaries), 10), np.nan)
    for i, s in enumerate(summaries):
        for k, v in s["classes"].items():
            grid[i, int(k)] = v["best_prob"]
    im = ax.imshow(grid, cmap="viridis", vmin=0, vmax=1, aspect="auto")
    for i in range(grid.shape[0]):
        for k in range(10):
            if k == SIX:
                ax.text(k, i, "-", ha="center", va="center", fontsize=8, color="gray")
            elif np.isfinite(grid[i, k]):
                ax.text(k, i, f"{grid[i, k]:.2f}", ha="center", va="center", fontsize=8,
                        color="black" if grid[i, k] > 0.6 else "white")
    ax.set_xticks(range(10), [f"'{k}'" for k in range(10)])
    ax.set_yticks(range(len(summaries)),
                  [f"{s['size']}x{s['size']} {s['strategy']}" for s in summaries], fontsize=8.5)
    ax.set_xlabel("new label")
    fig.colorbar(im, ax=ax, fraction=0.03, pad=0.02, label="best probability of the new label")
    ax.set_title("The example '6': classes reached, best probability (blank = not reached)",
                 fontsize=10)

    ax = axes[2]
    by = check["by_size"]
    for j, strategy in enumerate(STRATEGIES):
        xs = np.arange(len(sizes)) + (j - 1) * width
        ax.bar(xs, [100 * by[str(s)][f"{strategy}_mean"] for s in sizes], width,
               color=STRATEGY_COLOURS[strategy], label=STRATEGY_WORDS[strategy])
    ax.set_ylim(0, 125)
    ax.set_yticks(range(0, 101, 20))
    ax.set_xticks(range(len(sizes)), [f"{s}x{s}" for s in sizes])
    ax.set_xlabel("size of the pasted window")
    ax.set_ylabel("mean success rate over the 6s (%)")
    ax.legend(fontsize=8.5, loc="upper left")
    ax.set_title(f"{len(check['sixes'])} other correct 6s: the inkiest window of each of "
                 f"{check['n_sources']} sources,\n{check['positions_per_strategy']} positions "
                 "per strategy", fontsize=10)
    fig.suptitle("Problem 2 (3): where to paste? Target positions from occlusion maps (lowest "
                 "p('6') under a black or a white patch of the window's size) vs random",
                 fontsize=12, y=1.03)
    return fig


# ----------------------------------------------------------------------------- command line
def parse_args(argv: Sequence[str] | None):
    p = Parser(description=__doc__.splitlines()[0])
    add_cnn_arguments(p)
    p.add_argument("--index", type=int, default=None,
                   help="test index of the '6' (None: the first correctly classified one)")
    p.add_argument("--patch", type=int, default=8, help="side of the square occluding patch")
    p.add_argument("--stride", type=int, default=1, help="step between patch positions")
    p.add_argument("--fill", type=float, default=0.0, help="patch pixel value, 0 = black, 1 = white")
    p.add_argument("--quick", action="store_true",
                   help="a tiny search and population, only to exercise the code in tests")
    p.add_argument("--out", type=Path, default=FIGURES, help="folder for figures and JSON")
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
    best = sorted((a for a in a3["adversarial"] if a["best_for_class"]), key=lambda a: a["pred"])
    figures["adversarial"] = plot_adversarial(images, problem.test.labels, best)
    figures["search"] = plot_search(a3["summaries"], a3["check"])
    for name, fig in figures.items():
        save_figure(fig, out / f"p2_{name}.png")
    return [f"p2_{name}.png" for name in figures]


def print_search(summaries: list[dict[str, Any]]) -> None:
    print("\n  size   strategy    pastes  flipped   rate   classes reached (best p)")
    for s in summaries:
        cls = " ".join(f"'{k}':{v['best_prob']:.2f}" for k, v in s["classes"].items())
        print(f"  {s['size']:>2}x{s['size']:<3} {s['strategy']:<9} {s['n_candidates']:>7,} "
              f"{s['n_flipped']:>8,}  {100 * s['success_rate']:5.1f}%  {cls}")


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
    a3 = question3(problem, budget, rng)
    print(f"\n(3) Transplanted windows from other digits\n{a3['q3']}")
    print_search(a3["summaries"])
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
        "adversarial": a3["adversarial"],
        "adversarial_search": {"sizes": list(ADV_SIZES), "n_sources": a3["n_sources"],
                               "windows_per_source": budget["windows_per_source"],
                               "positions_per_strategy": budget["positions"],
                               "min_window_ink": MIN_WINDOW_INK, "guide_fills": GUIDES,
                               "runs": a3["summaries"], "other_sixes": a3["check"]},
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
