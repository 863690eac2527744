"""Problem 2 (3): windows cut from other digits and pasted over a '6', as a small study.

    windows = {s: sample_windows(images, others, s, 20, rng) for s in ADV_SIZES}
    rates, pastes = study_one(model, judges, six, windows, k=10, random_per_window=None, rng=rng)

A paste copies a square window of a correctly classified test digit of another class over the
'6' at a target position (the window's top-left corner), replacing the pixels there. Each
placement strategy gives (window, position) pairs: the k lowest cells of the '6's own occlusion map
for a patch of the window's size filled black or white (GUIDES), or random positions. A paste
"changes the label" when the CNN no longer says the true class; the judges (common/judges.py)
then tell an adversarial paste (most judges still say the true class) from an honest relabelling
(most give the CNN's new label). Rates carry 95% Wilson intervals (common/rates.py).
"""
from __future__ import annotations

from typing import Any, NamedTuple, Sequence

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from common.judges import JUDGE_MAJORITY
from common.occlusion import DEFAULT_CHUNK, fast_inference_copy, num_positions, occlude
from common.rates import r6, rate, versus

ADV_SIZES = (6, 8, 10)  # transplanted window sizes: the assignment's 8x8 and one smaller and larger
GUIDES = {"black-map": 0.0, "white-map": 1.0}  # guided placement: occlusion maps with these fills
STRATEGIES = (*GUIDES, "random")
MIN_WINDOW_INK = 0.1  # a source window must hold ink worth 10% of its area
BEST_SIZE = 8  # the assignment's patch size: its best paste position is compared with the attacks


def all_or_sample(items: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """All of `items` if there are at most n, else a sorted seeded sample of n without replacement.

    (P1 has its own copy, which is moving to common/sampling.py; this one joins it there.)
    """
    return items if len(items) <= n else np.sort(rng.choice(items, n, replace=False))


def correct_of_class(labels: np.ndarray, pred: np.ndarray, digit: int) -> np.ndarray:
    """Indices of the test digits of class `digit` that the model classifies correctly."""
    return np.flatnonzero((labels == digit) & (pred == digit))


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
    digits = all_or_sample(candidates, n, rng)
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
    """The CNN's and the judges' verdicts on a set of (window, position) pastes over one digit."""
    w: np.ndarray  # [B] window index
    pos: np.ndarray  # [B] flat top-left position
    label: np.ndarray  # [B] the CNN's label
    prob: np.ndarray  # [B] its probability
    judges: np.ndarray  # [B, J] judge labels; -1 where the CNN still says `digit` (judges not asked)
    digit: int  # the true class of the digit pasted over


def classify_pastes(fast: nn.Module, judges: Sequence[nn.Module], six: torch.Tensor, digit: int,
                    windows: Windows, w: np.ndarray, pos: np.ndarray,
                    chunk: int = DEFAULT_CHUNK) -> Pastes:
    """Paste in chunks; the judges see only the pastes whose CNN label is no longer `digit`."""
    label = np.empty(len(w), dtype=np.int64)
    prob = np.empty(len(w), dtype=np.float32)
    votes = np.full((len(w), len(judges)), -1, dtype=np.int64)
    for s in range(0, len(w), chunk):
        x = pasted(six, windows, torch.from_numpy(w[s:s + chunk]), torch.from_numpy(pos[s:s + chunk]))
        lab, pr = labels_of(fast, x)
        label[s:s + chunk], prob[s:s + chunk] = lab.numpy(), pr.numpy()
        changed = np.flatnonzero(lab.numpy() != digit)
        for j, judge in enumerate(judges):
            if len(changed):
                votes[s + changed, j] = labels_of(judge, x[changed])[0].numpy()
    return Pastes(w, pos, label, prob, votes, digit)


def guided_positions(model: nn.Module, six: torch.Tensor, digit: int, size: int, k: int
                     ) -> dict[str, np.ndarray]:
    """Per guide, the k flat positions with the lowest p(digit) under a patch of that size and fill."""
    out = {}
    for name, fill in GUIDES.items():
        p = occlude(model, six, patch=size, stride=1, fill=fill)[..., digit].numpy().ravel()
        out[name] = np.argsort(p, kind="stable")[:k]
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


def changed_mask(p: Pastes) -> np.ndarray:
    """The CNN's label is no longer the true class."""
    return p.label != p.digit


def adversarial_mask(p: Pastes) -> np.ndarray:
    """The CNN's label changed while at least JUDGE_MAJORITY judges still say the true class."""
    return changed_mask(p) & ((p.judges == p.digit).sum(1) >= JUDGE_MAJORITY)


def relabelled_mask(p: Pastes) -> np.ndarray:
    """The CNN's label changed and at least JUDGE_MAJORITY judges give the same new label."""
    return changed_mask(p) & ((p.judges == p.label[:, None]).sum(1) >= JUDGE_MAJORITY)


def pair_rates(p: Pastes, pairs: tuple[np.ndarray, np.ndarray], n_pos: int) -> dict[str, Any]:
    """Label-changed (and, with judges, adversarial) rates of the pastes in `pairs`, looked up in p."""
    key = pairs[0] * n_pos + pairs[1]
    lookup = dict(zip((p.w * n_pos + p.pos).tolist(), range(len(p.w))))
    sel = np.array([lookup[k] for k in key.tolist()], dtype=np.int64)
    out = {"changed": rate(int(changed_mask(p)[sel].sum()), len(sel))}
    if p.judges.shape[1]:  # judged pastes only
        out["adversarial"] = rate(int(adversarial_mask(p)[sel].sum()), len(sel))
    return out


def study_one(model: nn.Module, judges: Sequence[nn.Module], six: torch.Tensor, digit: int,
              windows: dict[int, Windows], k: int, random_per_window: int | None,
              rng: np.random.Generator) -> tuple[dict[str, Any], dict[int, Pastes]]:
    """Per window size: the rates of each placement strategy on one digit under one CNN."""
    fast = fast_inference_copy(model)
    fast_judges = [fast_inference_copy(j) for j in judges]
    rates, pastes = {}, {}
    for size, win in windows.items():
        n_pos = num_positions(28, size, 1) ** 2
        pairs = strategy_pairs(len(win.source), n_pos, guided_positions(model, six, digit, size, k),
                               random_per_window, rng)
        key = np.unique(np.concatenate([w * n_pos + pos for w, pos in pairs.values()]))
        p = classify_pastes(fast, fast_judges, six, digit, win, key // n_pos, key % n_pos)
        rates[str(size)] = {name: {**pair_rates(p, pr, n_pos),
                                   **({"positions": pr[1][:k].tolist()} if name in GUIDES else {})}
                            for name, pr in pairs.items()}
        pastes[size] = p
    return rates, pastes


def pooled(per_six: list[dict[str, Any]]) -> dict[str, Any]:
    """Sum the counts of several digits' rates (same sizes and strategies) into one rate each."""
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


def examples(p: Pastes, mask: np.ndarray, six: torch.Tensor, win: Windows, n: int
             ) -> tuple[list[dict], np.ndarray]:
    """Up to n pastes selected by `mask`, the most confident CNN label first, one per new label first:
    their records (position, source window, labels) and images [n, 28, 28]."""
    idx = np.flatnonzero(mask)
    idx = idx[np.argsort(-p.prob[idx], kind="stable")]
    seen: set[int] = set()
    firsts = [i for i in idx if not (int(p.label[i]) in seen or seen.add(int(p.label[i])))]
    chosen = np.array((firsts + [i for i in idx if i not in set(firsts)])[:n], dtype=np.int64)
    pw = num_positions(28, win.size, 1)
    images = pasted(six, win, torch.from_numpy(p.w[chosen]), torch.from_numpy(p.pos[chosen]))[:, 0]
    records = [{"position": [int(p.pos[i] // pw), int(p.pos[i] % pw)], "size": win.size,
                "source_index": int(win.source[p.w[i]]),
                "source_window": [*map(int, win.corner[p.w[i]]), win.size],
                "cnn_label": int(p.label[i]), "cnn_prob": r6(p.prob[i]),
                "judge_labels": p.judges[i].tolist()} for i in chosen]
    return records, images.numpy()


def flip_share_map(p: Pastes, size: int) -> np.ndarray:
    """[P, P]: per top-left position, the share of the pasted windows that change the CNN's label."""
    pw = num_positions(28, size, 1)
    flips = np.bincount(p.pos[changed_mask(p)], minlength=pw * pw)
    return (flips / np.maximum(np.bincount(p.pos, minlength=pw * pw), 1)).reshape(pw, pw)


def best_position(p: Pastes, size: int) -> dict[str, Any]:
    """The top-left position where the largest share of the sampled windows change the label."""
    pw = num_positions(28, size, 1)
    j = int(np.argmax(flip_share_map(p, size)))
    here = p.pos == j
    return {"size": size, "position": [j // pw, j % pw],
            **rate(int(changed_mask(p)[here].sum()), int(here.sum()))}


class Study(NamedTuple):
    """The study's results for the JSON, and the example's pastes and windows per size."""
    record: dict[str, Any]
    pastes: dict[int, Pastes]
    windows: dict[int, Windows]


def agreement(found: dict[str, dict], scopes: Sequence[str]) -> dict[str, dict[str, bool]]:
    """Per size and comparison: whether every scope in `scopes` reached the same verdict."""
    return {size: {g: len({found[sc][size][g] for sc in scopes}) == 1
                   for g in (*GUIDES, "black-vs-white")} for size in found["example"]}


def every_position(pastes: dict[int, Pastes]) -> dict[str, dict[str, Any]]:
    """Over every (window, position) paste on the example: changed, adversarial, relabelled rates."""
    return {what: {str(size): rate(int(mask(p).sum()), len(p.w)) for size, p in pastes.items()}
            for what, mask in (("changed", changed_mask), ("adversarial", adversarial_mask),
                               ("relabelled", relabelled_mask))}


def run_study(model: nn.Module, judges: Sequence[nn.Module], seed_models: dict[int, nn.Module],
              images: torch.Tensor, labels: np.ndarray, pred: np.ndarray, index: int, digit: int,
              budget: dict[str, int], rng: np.random.Generator) -> Study:
    """The study on test image `index` (a `digit`) of the test split (images [N, 1, 28, 28], true
    labels [N], the model's labels [N]).

    Windows come from correctly classified digits of other classes, budget["windows"] per size.
    On the example, every window goes to every position (random) and to the budget[
    "guided_positions"] = k guided ones, judged; the CNNs of other seeds (seed_models) and
    budget["sixes"] other correct digits get the guided positions and k random draws per window.
    """
    k = budget["guided_positions"]
    others = np.flatnonzero((labels != digit) & (pred == labels))
    windows = {s: sample_windows(images, others, s, budget["windows"], rng) for s in ADV_SIZES}
    six = images[index]
    example, pastes = study_one(model, judges, six, digit, windows, k, None, rng)
    seeds = {seed: study_one(m, [], six, digit, windows, k, k, rng)[0] for seed, m in seed_models.items()}
    candidates = correct_of_class(labels, pred, digit)
    sixes = all_or_sample(candidates[candidates != index], budget["sixes"], rng)
    population = pooled([study_one(model, judges, images[i], digit, windows, k, k, rng)[0] for i in sixes])
    found = {"example": verdicts(example), "other_sixes": verdicts(population),
             **{f"seed_{s}": verdicts(r) for s, r in seeds.items()}}
    record = {
        "design": {"sizes": list(ADV_SIZES), "windows_per_size": budget["windows"],
                   "guided_positions": k, "random_positions_per_window_elsewhere": k,
                   "other_sixes": sixes.tolist(), "min_window_ink": MIN_WINDOW_INK,
                   "guide_fills": GUIDES, "judge_majority": JUDGE_MAJORITY, "ci": "Wilson score, 95%",
                   "windows": {str(s): {"source": w.source.tolist(), "corner": w.corner.tolist()}
                               for s, w in windows.items()}},
        "rates": {"example": example, "other_sixes": population,
                  **{f"seed_{s}": r for s, r in seeds.items()}},
        "every_position": every_position(pastes),
        "verdicts": found, "agree_everywhere": agreement(found, list(found)),
        "seeds_agree": agreement(found, ["example"] + [f"seed_{s}" for s in seeds]),
        "best_position": best_position(pastes[BEST_SIZE], BEST_SIZE)}
    return Study(record, pastes, windows)
