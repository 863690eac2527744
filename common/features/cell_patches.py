"""What a conv3 cell responds to: the input patches (its receptive field) of the digits that drive
one channel hardest at that cell, and their ink, position and stroke direction in numbers."""
from __future__ import annotations

import numpy as np

from common.features.discriminant import RF, receptive_field

TOP_PATCHES = 8        # patches per channel
CORE = slice(5, 13)    # the 8x8 pixels at the centre of a receptive field: the cell's own core
SIDE_PX = 2.0          # offset of the excess ink (px) beyond which it sits off the field's centre
COHERENT = 0.25        # structure-tensor coherence from which the strokes share one direction
STROKES = {0: "horizontal", 45: "rising diagonal", 90: "vertical", 135: "falling diagonal"}


def top_digits(act: np.ndarray, n: int = TOP_PATCHES) -> np.ndarray:
    """Positions of the n largest activations [N] (one channel at one cell), strongest first."""
    return np.argsort(-act, kind="stable")[:n]


def stroke_orientation(image: np.ndarray) -> tuple[float, float]:
    """Dominant stroke direction of an image [H, W] in degrees from horizontal (y up, in [0, 180))
    and its coherence in [0, 1], from the structure tensor of the pixel gradients.

    The gradient runs across a stroke, so the stroke lies at the gradient's dominant angle + 90°.
    """
    gy, gx = np.gradient(image.astype(np.float64))
    jxx, jyy, jxy = (gx * gx).sum(), (gy * gy).sum(), (gx * gy).sum()
    if jxx + jyy == 0:
        return 0.0, 0.0
    grad = 0.5 * np.degrees(np.arctan2(2 * jxy, jxx - jyy))  # image axes: y points down
    coherence = float(np.hypot(jxx - jyy, 2 * jxy) / (jxx + jyy))
    return float((-(grad + 90.0)) % 180.0), coherence


def stroke_name(angle: float, coherence: float) -> str:
    """'horizontal', 'rising diagonal', 'vertical', 'falling diagonal', or 'mixed' (no one direction)."""
    if coherence < COHERENT:
        return "mixed"
    return STROKES[min(STROKES, key=lambda a: min(abs(angle - a), 180 - abs(angle - a)))]


def side_name(dy: float, dx: float) -> str:
    """Where an offset (px, y down) from a field's centre points: 'centre', 'left', 'top right', ..."""
    v = "top" if dy < -SIDE_PX else "bottom" if dy > SIDE_PX else ""
    h = "left" if dx < -SIDE_PX else "right" if dx > SIDE_PX else ""
    return " ".join(w for w in (v, h) if w) or "centre"


def responds_to(top: np.ndarray, every_mean: np.ndarray, labels: np.ndarray) -> dict:
    """What the top patches [n, RF, RF] share, against the mean patch of every digit at the cell [RF, RF].

    polarity: 'ink' when the top patches hold more ink in the field's core than the digits at large,
    else 'background' (the activations are taken after batch norm, so its scale's sign is in them);
    ink_side: where the top patches' extra ink sits (centroid of mean(top) - mean(every), clipped at 0);
    stroke: the direction of the strokes in the top patches' mean; labels: counts per class [10].
    """
    top_mean = top.mean(0)
    excess = np.clip(top_mean - every_mean, 0.0, None)
    ys, xs = np.mgrid[:RF, :RF] - (RF - 1) / 2
    total = excess.sum()
    dy, dx = ((float((excess * ys).sum() / total), float((excess * xs).sum() / total))
              if total > 0 else (0.0, 0.0))
    angle, coherence = stroke_orientation(top_mean)
    counts = np.bincount(labels, minlength=10)
    core_top, core_every = float(top_mean[CORE, CORE].mean()), float(every_mean[CORE, CORE].mean())
    return {"core_ink_top": core_top, "core_ink_every": core_every,
            "polarity": "ink" if core_top > core_every else "background",
            "ink_offset": [dy, dx], "ink_side": side_name(dy, dx),
            "stroke_angle": angle, "stroke_coherence": coherence, "stroke": stroke_name(angle, coherence),
            "labels": counts.tolist(), "majority": int(counts.argmax()), "majority_count": int(counts.max()),
            "strongest_digits": int(counts.sum()), "unanimous": bool(counts.max() == counts.sum())}


def patches_at_cells(act3: np.ndarray, images: np.ndarray, labels: np.ndarray, cells: list[dict]
                     ) -> tuple[dict[int, dict], dict[int, list[tuple[np.ndarray, float, int]]]]:
    """For each cell {"channel", "row", "col"}: what it responds to (responds_to) over the digits
    `images` [N, 28, 28] with conv3 maps act3 [N, C, 7, 7], and its top patches for the figure as
    (patch [RF, RF], activation, position in images), strongest first."""
    described, drawn = {}, {}
    mean_image = images.mean(0, keepdims=True)  # a crop is linear: the mean of the crops is the crop of the mean
    for cell in cells:
        ch, r, c = cell["channel"], cell["row"], cell["col"]
        act = act3[:, ch, r, c]
        top = top_digits(act)
        patches = receptive_field(images[top], r, c)
        described[ch] = responds_to(patches, receptive_field(mean_image, r, c)[0], labels[top])
        drawn[ch] = [(p, float(act[i]), int(i)) for p, i in zip(patches, top)]
    return described, drawn
