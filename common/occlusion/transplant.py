"""Problem 2 (3): windows cut from other digits and pasted over a '6'; the pastes and their verdicts.

    win = sample_windows(images, others, size=8, n=20, rng=rng)
    p = classify_pastes(fast_cnn, fast_judges, six, 6, win, w, pos)      # w, pos: [B] pairs

A paste copies a square window of a correctly classified test digit of another class over the
'6' at a target position (the window's top-left corner), replacing the pixels there. A paste
"changes the label" when the CNN no longer says the true class; the judges (common/occlusion/judges.py)
then tell an adversarial paste (most judges still say the true class) from an honest relabelling
(most give the CNN's new label). The study built on them is common/occlusion/transplant_study.py.
"""
from __future__ import annotations

from typing import Any, NamedTuple, Sequence

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from common.core.sampling import all_or_sample
from common.occlusion.engine import DEFAULT_CHUNK, num_positions
from common.occlusion.judges import JUDGE_MAJORITY
from common.occlusion.rates import r6, rate

MIN_WINDOW_INK = 0.1  # a source window must hold ink worth 10% of its area


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


def changed_mask(p: Pastes) -> np.ndarray:
    """The CNN's label is no longer the true class."""
    return p.label != p.digit


def adversarial_mask(p: Pastes) -> np.ndarray:
    """The CNN's label changed while at least JUDGE_MAJORITY judges still say the true class."""
    return changed_mask(p) & ((p.judges == p.digit).sum(1) >= JUDGE_MAJORITY)


def relabelled_mask(p: Pastes) -> np.ndarray:
    """The CNN's label changed and at least JUDGE_MAJORITY judges give the same new label."""
    return changed_mask(p) & ((p.judges == p.label[:, None]).sum(1) >= JUDGE_MAJORITY)


def no_majority_mask(p: Pastes) -> np.ndarray:
    """The CNN's label changed and neither the true class nor the new label has JUDGE_MAJORITY
    judges: with the adversarial and relabelled pastes, a partition of the changed ones."""
    return changed_mask(p) & ~adversarial_mask(p) & ~relabelled_mask(p)


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
