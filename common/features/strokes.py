"""The strokes of a '0' and an '8' in their own terms, and the stroke under a conv3 cell.

A digit's holes are the background pixels that ink encloses: the background flooded from the
image's border (4-connected) leaves them out. The 8 has an upper and a lower hole, and its
crossing is the ink between them; the 0 has one hole, its open centre. The rest of the ink is
named by where it lies: the 8's upper and lower loop (above and below the crossing's middle row),
the 0's left and right side (left and right of its centre column).

A conv3 cell looks most at the centre of its receptive field: its core, the 8x8 input pixels of
discriminant.core. The stroke under the cell in a digit is the named region that fills most of the
core's pixels (with the runner-up, "crossing and lower loop", where its share is within TIE_SHARE
of the first's), or background where the named regions (ink or hole) together fill less than
NAMED_SHARE of them. This one rule decides "over background" everywhere: for a shown digit (its own
regions) and for the class (the regions' frequency maps). A cell over background in both shown
digits names no feature.

Over many digits a region is a frequency map: the share of the digits that have it at each pixel.
The whole receptive field's view of the class maps (discriminant.RF pixels a side, weighted by a
tent that is 1 at its centre and 0 at its edge) is kept as the field's coverage of each region.
"""
from __future__ import annotations

import numpy as np

from common.features.discriminant import RF, core

INK = 0.5            # a pixel of a class-mean image is ink from this value (of 1)
BACKGROUND = "background"
INK_GAP = 0.1       # mean-ink difference in a cell's core that gives one digit more ink there
NAMED_SHARE = 0.25  # the named regions' least share of a core's pixels that is not background
TIE_SHARE = 0.05    # the top two regions' shares of a core closer than this: both name the stroke
OWN, CLASS_MAP = "own pixels", "class frequency map"  # what names a shown digit's strokes


def flood(free: np.ndarray, seed: np.ndarray) -> np.ndarray:
    """The pixels of `free` [H, W] bool reachable from `seed` (within free) through 4-neighbours."""
    reached = seed & free
    while True:
        grown = reached.copy()
        grown[1:] |= reached[:-1]
        grown[:-1] |= reached[1:]
        grown[:, 1:] |= reached[:, :-1]
        grown[:, :-1] |= reached[:, 1:]
        grown &= free
        if (grown == reached).all():
            return reached
        reached = grown


def holes(ink: np.ndarray) -> list[np.ndarray]:
    """The holes of an ink mask [H, W]: background components the border's flood does not reach,
    top to bottom (by their first pixel in row-major order)."""
    border = np.zeros_like(ink)
    border[[0, -1]] = True
    border[:, [0, -1]] = True
    left = ~ink & ~flood(~ink, border)
    found = []
    while left.any():
        seed = np.zeros_like(ink)
        seed.flat[np.flatnonzero(left)[0]] = True
        found.append(flood(left, seed))
        left &= ~found[-1]
    return found


def box(mask: np.ndarray) -> list[int]:
    """[top, left, bottom, right] of a mask's pixels, inclusive."""
    rows, cols = np.nonzero(mask)
    return [int(rows.min()), int(cols.min()), int(rows.max()), int(cols.max())]


def eight_regions(ink: np.ndarray) -> dict[str, np.ndarray]:
    """An 8's named regions: its two largest holes (upper, lower), the crossing (the ink in the
    rows between them, within the columns that either hole spans) and the loops (the other ink,
    above and below the crossing's middle row)."""
    found = sorted(holes(ink), key=lambda h: -h.sum())[:2]
    if len(found) < 2:
        raise ValueError(f"the 8 has {len(found)} hole(s), not 2, at ink threshold {INK}")
    upper, lower = sorted(found, key=lambda h: box(h)[0])
    (_, l1, b1, r1), (t2, l2, _, r2) = box(upper), box(lower)
    crossing = np.zeros_like(ink)
    crossing[b1 + 1:t2, min(l1, l2):max(r1, r2) + 1] = True
    crossing &= ink
    middle = (b1 + t2) // 2
    rows = np.arange(ink.shape[0])[:, None]
    rest = ink & ~crossing
    return {"crossing": crossing, "upper hole": upper, "lower hole": lower,
            "upper loop": rest & (rows <= middle), "lower loop": rest & (rows > middle)}


def zero_regions(ink: np.ndarray) -> dict[str, np.ndarray]:
    """A 0's named regions: its largest hole (the open centre) and its ink left and right of the
    centre's middle column."""
    found = sorted(holes(ink), key=lambda h: -h.sum())
    if not found:
        raise ValueError(f"the 0 has no hole at ink threshold {INK}")
    centre = found[0]
    _, left, _, right = box(centre)
    cols = np.arange(ink.shape[1])[None, :]
    middle = (left + right) // 2
    return {"open centre": centre, "left side": ink & (cols <= middle), "right side": ink & (cols > middle)}


def digit_regions(image: np.ndarray, digit: int) -> dict[str, np.ndarray] | None:
    """The named regions of one digit [H, W] (ink: pixels from INK), None when it lacks the holes
    (a 0 with none, an 8 with fewer than 2)."""
    ink = image >= INK
    try:
        return eight_regions(ink) if digit == 8 else zero_regions(ink)
    except ValueError:
        return None


def region_frequency(images: np.ndarray, digit: int) -> tuple[dict[str, np.ndarray], int]:
    """For each named region of `digit`, the share of the digits [N, H, W] with their holes that
    have it at each pixel [H, W]; and how many digits have their holes."""
    found = [r for r in (digit_regions(img, digit) for img in images) if r is not None]
    if not found:
        raise ValueError(f"none of the {len(images)} {digit}s has the holes of a {digit}")
    return {name: np.mean([r[name] for r in found], axis=0) for name in found[0]}, len(found)


def summary(freq: np.ndarray) -> dict:
    """A region's pixels held by at least half the digits, as a box and their count, and the centre
    of its frequency map (row, col)."""
    rows, cols = np.mgrid[:freq.shape[0], :freq.shape[1]]
    held = freq >= 0.5
    return {"box": box(held) if held.any() else None, "pixels": int(held.sum()),
            "centre": [float((freq * rows).sum() / freq.sum()), float((freq * cols).sum() / freq.sum())]}


def footprint(row: int, col: int, side: int = 28) -> list[int]:
    """Conv3 cell (row, col)'s receptive field in input pixels, clipped to the image:
    [top, left, bottom, right], inclusive."""
    top, left = 4 * row - 7, 4 * col - 7
    return [max(0, top), max(0, left), min(side - 1, top + RF - 1), min(side - 1, left + RF - 1)]


def core_box(row: int, col: int, side: int = 28) -> list[int]:
    """Conv3 cell (row, col)'s core (discriminant.core) clipped to the image: [top, left, bottom,
    right], inclusive."""
    rows, cols = core(row, col)
    return [rows.start, cols.start, min(side, rows.stop) - 1, min(side, cols.stop) - 1]


def tent(row: int, col: int, side: int = 28) -> np.ndarray:
    """[side, side] weights of cell (row, col)'s receptive field: 1 at its centre, falling linearly
    to 0 at its edge (half a field away), 0 outside it."""
    centre = np.array([4 * row - 7, 4 * col - 7]) + (RF - 1) / 2
    axis = np.arange(side)
    w = [np.clip(1 - np.abs(axis - c) / (RF / 2), 0, None) for c in centre]
    return np.outer(w[0], w[1])


def field_coverage(freq: dict[str, np.ndarray], row: int, col: int) -> dict:
    """How cell (row, col)'s whole receptive field covers each region (freq: each region's mask or
    frequency map [H, W]): coverage, the tent-weighted share of each region's pixels inside the
    field (1: all of it at the field's centre); named_share, the regions' share of the tent weight."""
    w = tent(row, col, next(iter(freq.values())).shape[0])
    coverage = {name: float((w * f).sum() / f.sum()) for name, f in freq.items()}
    named = float(sum((w * f).sum() for f in freq.values()) / w.sum())
    return {"coverage": coverage, "named_share": named}


def stroke_under(regions: dict[str, np.ndarray], row: int, col: int) -> dict:
    """The named region under cell (row, col)'s core (regions: each region's mask or frequency map
    [H, W]). share: each region's share of the core's pixels (a frequency map: its mean there);
    named_share: their sum. The region with the largest share names the cell, and the runner-up
    with it ("crossing and lower loop", in the regions' order on an exact tie) when its share is
    within TIE_SHARE; 'background' when named_share is below NAMED_SHARE."""
    rows, cols = core(row, col)
    share = {name: float(np.asarray(f, dtype=np.float64)[rows, cols].mean()) for name, f in regions.items()}
    named = float(sum(share.values()))
    first, second = (sorted(share, key=lambda n: -share[n]) + [""])[:2]
    tied = bool(second) and share[first] - share[second] < TIE_SHARE
    stroke = BACKGROUND if named < NAMED_SHARE else f"{first} and {second}" if tied else first
    return {"stroke": stroke, "share": share, "named_share": named}


def ink_where(ink_zero: float, ink_eight: float, background: bool) -> str:
    """Which digit has the ink in a cell's core: 'neither' when the core is background in both
    digits (stroke_under's rule), else '0s' or '8s' (one has INK_GAP more mean ink) or 'both'."""
    if background:
        return "neither"
    if abs(ink_zero - ink_eight) < INK_GAP:
        return "both"
    return "0s" if ink_zero > ink_eight else "8s"


def feature_stroke(cell: dict) -> tuple[int, str]:
    """The stroke a cell tells the shown digits apart by, as (digit, stroke): the stroke under it in
    the digit it fires for ((8, "crossing"): it fires for the 8 at its crossing), or, where that
    digit is background, the other digit's stroke there ((0, "right side") for a cell that fires for
    the 8: it fires where the 8 lacks the 0's right side)."""
    own, other = (("zero", "eight"), ("eight", "zero"))[cell["fires_for"] == 8]
    digit = {"zero": 0, "eight": 8}
    name = own if cell[f"stroke_{own}"] != BACKGROUND else other
    return digit[name], cell[f"stroke_{name}"]


def name_cell(c: dict, shown: dict[str, dict[str, np.ndarray]], freqs: dict[str, dict[str, np.ndarray]],
              side: int) -> dict:
    """A cell with its field and core, the stroke under its core in each shown digit (`shown`: each
    digit's regions) and in each class (`freqs`: the frequency maps), the field's coverage of the
    class maps, whether it is over background in both shown digits (then no feature) and in both
    classes (then its ink is 'neither' digit's); its feature as feature_digit and feature_stroke
    (feature_stroke) and in words as feature ("8's crossing"), None for none."""
    r, col = c["row"], c["col"]
    here = {n: stroke_under(shown[n], r, col) for n in shown}
    cls = {n: stroke_under(freqs[n], r, col) for n in freqs}
    field = {n: field_coverage(freqs[n], r, col) for n in freqs}
    cell = {**c, "footprint": footprint(r, col, side), "core": core_box(r, col, side),
            **{f"stroke_{n}": u["stroke"] for n, u in here.items()},
            **{f"core_share_{n}": u["share"] for n, u in here.items()},
            **{f"class_stroke_{n}": u["stroke"] for n, u in cls.items()},
            **{f"class_named_share_{n}": u["named_share"] for n, u in cls.items()},
            **{f"stroke_coverage_{n}": u["coverage"] for n, u in field.items()},
            **{f"named_share_{n}": u["named_share"] for n, u in field.items()}}
    cell["over_background"] = all(u["stroke"] == BACKGROUND for u in here.values())
    class_background = all(u["stroke"] == BACKGROUND for u in cls.values())
    cell["ink_where"] = ink_where(c["ink_zero"], c["ink_eight"], class_background)
    digit, stroke = (None, None) if cell["over_background"] else feature_stroke(cell)
    cell.update(feature_digit=digit, feature_stroke=stroke,
                feature=None if digit is None else f"{digit}'s {stroke}")
    return cell


def describe_strokes(cells: list[dict], zeros: np.ndarray, eights: np.ndarray, shown: tuple[np.ndarray, np.ndarray]
                     ) -> tuple[dict, list[dict], list[str]]:
    """The named regions of the 0s and the 8s [N, H, W] and of the shown '0' and '8' (`shown`
    [H, W] each: their own regions, or the class maps when a shown digit lacks the holes); each cell
    named (name_cell); and the features, each once, in the cells' order."""
    freqs, regions, own = {}, {}, {}
    for name, images, digit, image in zip(("zero", "eight"), (zeros, eights), (0, 8), shown):
        freqs[name], found = region_frequency(images, digit)
        regions[name] = {"digits": len(images), "with_holes": found,
                         "regions": {k: summary(v) for k, v in freqs[name].items()}}
        own[name] = digit_regions(image, digit)
    named_from = {n: OWN if own[n] is not None else CLASS_MAP for n in own}
    named = {n: own[n] if own[n] is not None else freqs[n] for n in own}
    out = [name_cell(c, named, freqs, zeros.shape[-1]) for c in cells]
    features = list(dict.fromkeys(c["feature"] for c in out if c["feature"]))
    info = {"ink_threshold": INK, "named_share_min": NAMED_SHARE, "tie_share": TIE_SHARE, "rf": RF, "ink_gap": INK_GAP,
            "named_from": named_from, **regions}
    return info, out, features
