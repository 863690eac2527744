"""Problem 2 (3) as a small study: where to paste windows of other digits over a '6', and how often
that changes the CNN's label.

    study = run_study(model, judges, seed_models, images, labels, pred, index, 6, 8, budget, rng, seed=0)

A fixed random sample of windows per size (`paste_sizes` of the occluding patch's size) is pasted over the example '6' at every
position, and at the positions each placement strategy picks: the k lowest cells of the '6's own
occlusion map for a patch of the window's size filled black or white (GUIDES: where removing ink,
or adding it, hurts most), or random ones. The same is repeated, with k random draws per window
for "random", on CNNs of other training seeds and on other correct 6s. The sampled units are the
windows (and the other 6s), so every interval resamples them (common/rates.crossed_bootstrap),
and two strategies are compared on the same windows by a paired interval of their difference.
"""
from __future__ import annotations

from collections import Counter
from typing import Any, NamedTuple, Sequence

import numpy as np
import torch
import torch.nn as nn

from common.core.sampling import all_or_sample
from common.occlusion.engine import fast_inference_copy, num_positions, occlude
from common.occlusion.judges import JUDGE_MAJORITY
from common.occlusion.rates import (
    BOOTSTRAP_REPS,
    clustered_rate,
    crossed_bootstrap,
    difference,
    nested,
    r6,
)
from common.occlusion.strokes import INK
from common.occlusion.transplant import (
    MIN_WINDOW_INK,
    Pastes,
    Windows,
    adversarial_mask,
    best_position,
    changed_mask,
    classify_pastes,
    correct_of_class,
    examples,
    no_majority_mask,
    relabelled_mask,
    sample_windows,
)

GUIDES = {"black-map": 0.0, "white-map": 1.0}  # guided placement: occlusion maps with these fills
STRATEGIES = (*GUIDES, "random")
PAIRS = {"black-map": ("black-map", "random"), "white-map": ("white-map", "random"),
         "black-vs-white": ("black-map", "white-map")}  # the comparisons: name -> (a, b), a - b


def paste_sizes(patch: int, side: int = 28) -> list[int]:
    """The pasted windows' sizes: the occluding patch's, and 2 px smaller and larger where they fit
    in 1..side. The patch's own size is the headline size: its best paste position meets the attacks."""
    return [s for s in (patch - 2, patch, patch + 2) if 1 <= s <= side]


def guide_maps(model: nn.Module, six: torch.Tensor, digit: int, size: int) -> dict[str, np.ndarray]:
    """Per guide, the occlusion map [P, P] of p(digit) under a patch of that size and the guide's fill
    (cell (r, c): the patch's top-left corner at pixel (r, c))."""
    return {name: occlude(model, six, patch=size, stride=1, fill=fill)[..., digit].numpy()
            for name, fill in GUIDES.items()}


def guided_positions(maps: dict[str, np.ndarray], k: int) -> dict[str, np.ndarray]:
    """Per guide, the k flat positions of its map with the lowest p(digit)."""
    return {name: np.argsort(m.ravel(), kind="stable")[:k] for name, m in maps.items()}


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


def window_counts(p: Pastes, pairs: tuple[np.ndarray, np.ndarray], n_pos: int, n_windows: int
                  ) -> dict[str, np.ndarray]:
    """Per window [W]: the pastes in `pairs` ("n"), those that change the label and (with judges)
    those that are adversarial; the pastes are looked up in p."""
    lookup = dict(zip((p.w * n_pos + p.pos).tolist(), range(len(p.w))))
    sel = np.array([lookup[k] for k in (pairs[0] * n_pos + pairs[1]).tolist()], dtype=np.int64)
    count = lambda mask: np.bincount(p.w[sel], weights=mask[sel], minlength=n_windows).astype(np.int64)  # noqa: E731
    out = {"n": count(np.ones(len(p.w))), "changed": count(changed_mask(p))}
    if p.judges.shape[1]:  # judged pastes only
        out["adversarial"] = count(adversarial_mask(p))
    return out


class OneDigit(NamedTuple):
    """The study on one digit under one CNN, per window size (keys are sizes as text)."""
    counts: dict[str, dict[str, dict[str, np.ndarray]]]  # size -> strategy -> window_counts
    positions: dict[str, dict[str, list[int]]]  # size -> guide -> its k flat positions
    pastes: dict[int, Pastes]  # size -> every paste made
    maps: dict[str, dict[str, np.ndarray]]  # size -> guide -> its occlusion map [P, P]


def study_one(model: nn.Module, judges: Sequence[nn.Module], six: torch.Tensor, digit: int,
              windows: dict[int, Windows], k: int, random_per_window: int | None,
              rng: np.random.Generator) -> OneDigit:
    """Each placement strategy on one digit under one CNN, per window size."""
    fast = fast_inference_copy(model)
    fast_judges = [fast_inference_copy(j) for j in judges]
    counts, positions, pastes, maps = {}, {}, {}, {}
    for size, win in windows.items():
        n_pos = num_positions(28, size, 1) ** 2
        maps[str(size)] = guide_maps(model, six, digit, size)
        guided = guided_positions(maps[str(size)], k)
        pairs = strategy_pairs(len(win.source), n_pos, guided, random_per_window, rng)
        key = np.unique(np.concatenate([w * n_pos + pos for w, pos in pairs.values()]))
        p = classify_pastes(fast, fast_judges, six, digit, win, key // n_pos, key % n_pos)
        counts[str(size)] = {name: window_counts(p, pr, n_pos, len(win.source)) for name, pr in pairs.items()}
        positions[str(size)] = {name: g.tolist() for name, g in guided.items()}
        pastes[size] = p
    return OneDigit(counts, positions, pastes, maps)


def scope_rates(per_digit: list[OneDigit], seed: int) -> tuple[dict, dict]:
    """Rates pooled over the digits of one scope, with intervals that resample digits and windows,
    and the paired comparisons of PAIRS; per size."""
    rates, versus = {}, {}
    for size in per_digit[0].counts:
        stacked = {st: {what: np.stack([d.counts[size][st][what] for d in per_digit])
                        for what in per_digit[0].counts[size][st]} for st in STRATEGIES}
        counts = {f"{st}/{what}": (c[what], c["n"]) for st, c in stacked.items() for what in c if what != "n"}
        reps = crossed_bootstrap(counts, seed)
        rates[size] = {st: {**{what: clustered_rate(c[what], c["n"], reps[f"{st}/{what}"])
                               for what in c if what != "n"},
                            "per_window": {what: v.sum(0).tolist() for what, v in c.items()}}
                       for st, c in stacked.items()}
        if len(per_digit) == 1 and size in per_digit[0].positions:
            for g, pos in per_digit[0].positions[size].items():
                rates[size][g]["positions"] = pos
        versus[size] = {name: difference(reps[f"{a}/changed"], reps[f"{b}/changed"],
                                         rates[size][a]["changed"]["rate"] - rates[size][b]["changed"]["rate"])
                        for name, (a, b) in PAIRS.items()}
    return rates, versus


def agreement(versus: dict[str, dict], scopes: Sequence[str]) -> dict[str, dict[str, bool]]:
    """Per size and comparison: whether every scope in `scopes` reached the same verdict."""
    first = versus[scopes[0]]
    return {size: {name: len({versus[sc][size][name]["verdict"] for sc in scopes}) == 1 for name in by}
            for size, by in first.items()}


def every_position(pastes: dict[int, Pastes], seed: int) -> dict[str, dict[str, Any]]:
    """Over every (window, position) paste on the example, per size: the changed, adversarial,
    relabelled and no-majority rates (the last three partition the changed pastes; intervals
    resample the windows), the new labels of the changed pastes, and the positions where at least
    one window changes the label, of all."""
    masks = {"changed": changed_mask, "adversarial": adversarial_mask, "relabelled": relabelled_mask,
             "no_majority": no_majority_mask}
    out: dict[str, dict[str, Any]] = {**{what: {} for what in masks}, "new_labels": {}}
    for size, p in pastes.items():
        w = int(p.w.max()) + 1
        n = np.bincount(p.w, minlength=w)[None]
        k = {what: np.bincount(p.w, weights=m(p), minlength=w).astype(np.int64)[None] for what, m in masks.items()}
        reps = crossed_bootstrap({what: (v, n) for what, v in k.items()}, seed)
        for what in masks:
            out[what][str(size)] = clustered_rate(k[what], n, reps[what])
        out["new_labels"][str(size)] = counter(p.label[changed_mask(p)])
        out["changed"][str(size)]["windows_with_a_change"] = int((k["changed"] > 0).sum())
        out["changed"][str(size)]["positions_with_a_change"] = int(len(np.unique(p.pos[changed_mask(p)])))
        out["changed"][str(size)]["positions"] = int(len(np.unique(p.pos)))
    return out


def counter(values: np.ndarray) -> dict[str, int]:
    """Counts of each value, keys as text, most common first."""
    return {str(v): c for v, c in Counter(values.tolist()).most_common()}


def where_guides_point(one: OneDigit, image: np.ndarray) -> dict[str, dict[str, dict[str, Any]]]:
    """Per size and guide, on the example: the centre (row, col) of its windows in pixels, the share
    of their pixels that are ink in the '6', and the new labels of the pastes there that change it."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for size, p in one.pastes.items():
        pw = num_positions(28, size, 1)
        out[str(size)] = {}
        for g, pos in one.positions[str(size)].items():
            rows, cols = np.array(pos) // pw, np.array(pos) % pw
            ink = [float((image[r:r + size, c:c + size] >= INK).mean()) for r, c in zip(rows, cols)]
            here = np.isin(p.pos, pos) & changed_mask(p)
            out[str(size)][g] = {"centre": [r6(rows.mean() + (size - 1) / 2), r6(cols.mean() + (size - 1) / 2)],
                                 "ink_share_under": r6(np.mean(ink)), "new_labels": counter(p.label[here])}
    return out


def top_label(labels: np.ndarray) -> int | None:
    """The most frequent value of `labels` (ties: the smallest), or None when there is none."""
    if not labels.size:
        return None
    values, counts = np.unique(labels, return_counts=True)
    return int(values[np.argmax(counts)])


def shown_pastes(p: Pastes, positions: dict[str, list[int]], six: torch.Tensor, win: Windows
                 ) -> tuple[list[dict], np.ndarray]:
    """The pastes the solution shows: per guide, of the pastes at its positions that give the
    guide's most frequent new label, the most confident at the position nearest the guide's mean
    position (where its windows lie on average); its record names the guide. When no guide
    changes the label, the most confident label-changing paste anywhere (guide "random"). Records
    (with their images, as evidence a reader can classify again) and images [n, 28, 28]."""
    changed = changed_mask(p)
    pw = num_positions(28, win.size, 1)
    records, images = [], []
    for g, pos in positions.items():
        here = np.isin(p.pos, pos) & changed
        label = top_label(p.label[here])
        if label is not None:
            cand = here & (p.label == label)
            cells = np.stack([p.pos // pw, p.pos % pw], 1)
            mean = np.mean([[q // pw, q % pw] for q in pos], axis=0)
            dist = np.where(cand, ((cells - mean) ** 2).sum(1), np.inf)
            recs, imgs = examples(p, cand & (dist == dist.min()), six, win, 1)
            records += [{**rec, "guide": g} for rec in recs]
            images += list(imgs)
    if not records and changed.any():
        recs, imgs = examples(p, changed, six, win, 1)
        records, images = [{**recs[0], "guide": "random"}], list(imgs)
    for rec, img in zip(records, images):
        rec["image"] = nested(img)
    return records, np.array(images, dtype=np.float32).reshape(-1, 28, 28)


class Study(NamedTuple):
    """The study's results for the JSON, and the example's pastes and windows per size. The record
    holds the example's white-patch map at the patch's size (white_patch_map; its lowest cells are
    the white-map guide's positions) and, per shown paste, the class of the digit its window is cut from."""
    record: dict[str, Any]
    pastes: dict[int, Pastes]
    windows: dict[int, Windows]
    shown: np.ndarray  # [n, 28, 28] the images of record["shown"]


def design(budget: dict[str, int], sixes: np.ndarray, windows: dict[int, Windows]) -> dict[str, Any]:
    """What the JSON records of the study's design."""
    return {"sizes": list(windows), "windows_per_size": budget["windows"],
            "guided_positions": budget["guided_positions"],
            "random_positions_per_window_elsewhere": budget["guided_positions"],
            "other_sixes": sixes.tolist(), "min_window_ink": MIN_WINDOW_INK, "guide_fills": GUIDES,
            "judge_majority": JUDGE_MAJORITY, "bootstrap_reps": BOOTSTRAP_REPS,
            "ci": {"level": 0.95, "method": "percentile bootstrap", "resampled": ["windows", "other 6s"]},
            "windows": {str(s): {"source": w.source.tolist(), "corner": w.corner.tolist()}
                        for s, w in windows.items()}}


def run_study(model: nn.Module, judges: Sequence[nn.Module], seed_models: dict[int, nn.Module],
              images: torch.Tensor, labels: np.ndarray, pred: np.ndarray, index: int, digit: int, patch: int,
              budget: dict[str, int], rng: np.random.Generator, seed: int) -> Study:
    """The study on test image `index` (a `digit`) of the test split (images [N, 1, 28, 28], true
    labels [N], the model's labels [N]) with windows of `paste_sizes(patch)`; `rng` draws the design,
    `seed` seeds the bootstrap.

    budget: "windows" per size, "guided_positions" k, "sixes" other correct digits (a sample).
    """
    k = budget["guided_positions"]
    others = np.flatnonzero((labels != digit) & (pred == labels))
    windows = {s: sample_windows(images, others, s, budget["windows"], rng) for s in paste_sizes(patch)}
    example = study_one(model, judges, images[index], digit, windows, k, None, rng)
    seeds = {f"seed_{s}": study_one(m, [], images[index], digit, windows, k, k, rng)
             for s, m in seed_models.items()}
    candidates = correct_of_class(labels, pred, digit)
    sixes = all_or_sample(candidates[candidates != index], budget["sixes"], rng)
    population = [study_one(model, judges, images[i], digit, windows, k, k, rng) for i in sixes]
    scopes = {"example": [example], "other_sixes": population, **{s: [one] for s, one in seeds.items()}}
    rates, versus = {}, {}
    for scope, per_digit in scopes.items():
        rates[scope], versus[scope] = scope_rates(per_digit, seed)
    record = {"design": design(budget, sixes, windows), "rates": rates, "versus": versus,
              "every_position": every_position(example.pastes, seed),
              "where_guides_point": where_guides_point(example, images[index, 0].numpy()),
              "agree_everywhere": agreement(versus, list(versus)),
              "seeds_agree": agreement(versus, ["example", *seeds]),
              "best_position": best_position(example.pastes[patch], patch)}
    record["shown"], shown = shown_pastes(example.pastes[patch], example.positions[str(patch)], images[index],
                                          windows[patch])
    for rec in record["shown"]:
        rec["source_label"] = int(labels[rec["source_index"]])
    record["white_patch_map"] = {"size": patch, "prob_true_map": nested(example.maps[str(patch)]["white-map"])}
    return Study(record, example.pastes, windows, shown)
