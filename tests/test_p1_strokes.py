"""The strokes of a '0' and an '8' (holes, crossing, sides) and the stroke under a conv3 cell,
against hand-made digits whose regions are written with numpy slices."""
from __future__ import annotations

import numpy as np
import pytest

from common.features.strokes import (
    BACKGROUND,
    describe_strokes,
    digit_regions,
    footprint,
    holes,
    stroke_under,
)


def hand_eight() -> np.ndarray:
    """An 8: a block of ink rows 4-21, columns 8-18, with holes at rows 6-9 and 13-19, columns 10-16."""
    img = np.zeros((28, 28))
    img[4:22, 8:19] = 1
    img[6:10, 10:17] = 0
    img[13:20, 10:17] = 0
    return img


def hand_zero() -> np.ndarray:
    """A 0: a block of ink rows 4-23, columns 8-19, with its centre open at rows 7-20, columns 11-16."""
    img = np.zeros((28, 28))
    img[4:24, 8:20] = 1
    img[7:21, 11:17] = 0
    return img


def mask(*slices: tuple[slice, slice]) -> np.ndarray:
    out = np.zeros((28, 28), dtype=bool)
    for rows, cols in slices:
        out[rows, cols] = True
    return out


def test_eight_has_two_holes_and_the_crossing_between_them():
    img = hand_eight()
    found = holes(img >= 0.5)
    assert [h.tolist() for h in found] == [mask((slice(6, 10), slice(10, 17))).tolist(),
                                           mask((slice(13, 20), slice(10, 17))).tolist()]
    regions = digit_regions(img, 8)
    assert (regions["crossing"] == mask((slice(10, 13), slice(10, 17)))).all()
    ink = img >= 0.5
    above = ink & ~mask((slice(10, 13), slice(10, 17))) & mask((slice(0, 12), slice(0, 28)))
    assert (regions["upper loop"] == above).all()
    assert (regions["lower loop"] == (ink & ~regions["crossing"] & ~above)).all()


def test_zero_has_its_open_centre_and_two_sides():
    regions = digit_regions(hand_zero(), 0)
    assert (regions["open centre"] == mask((slice(7, 21), slice(11, 17)))).all()
    ink = hand_zero() >= 0.5
    assert (regions["left side"] == (ink & mask((slice(0, 28), slice(0, 14))))).all()
    assert (regions["right side"] == (ink & mask((slice(0, 28), slice(14, 28))))).all()


def test_an_open_ring_has_no_hole():
    img = hand_zero()
    img[12:15, 16:20] = 0  # a gap through the right side joins the centre to the background
    assert holes(img >= 0.5) == []
    assert digit_regions(img, 0) is None


def test_footprint_is_the_receptive_field_clipped_to_the_image():
    # cell r sees input rows 4r-7 .. 4r+10
    assert footprint(0, 0) == [0, 0, 10, 10]
    assert footprint(3, 2) == [5, 1, 22, 18]
    assert footprint(5, 5) == [13, 13, 27, 27]


def naive_coverage(region: np.ndarray, row: int, col: int) -> float:
    """The tent-weighted share of a region's pixels in the cell's field, one pixel at a time."""
    cy, cx = 4 * row - 7 + 8.5, 4 * col - 7 + 8.5
    total = inside = 0.0
    for y in range(28):
        for x in range(28):
            if region[y, x]:
                total += 1
                inside += max(0.0, 1 - abs(y - cy) / 9) * max(0.0, 1 - abs(x - cx) / 9)
    return inside / total


@pytest.mark.parametrize("row,col", [(2, 3), (3, 3), (4, 3), (1, 3), (3, 2)])
def test_a_cells_stroke_is_the_region_its_footprint_covers_most(row, col):
    regions = digit_regions(hand_eight(), 8)
    got = stroke_under(regions, row, col)
    expected = {name: naive_coverage(m, row, col) for name, m in regions.items()}
    assert got["coverage"] == pytest.approx(expected)
    assert got["stroke"] == max(expected, key=expected.get)


def test_the_crossing_is_under_the_cell_centred_on_it_and_a_corner_is_background():
    regions = digit_regions(hand_eight(), 8)
    # cell 3's field is centred on pixel 4 * 3 + 1.5 = 13.5, a row below the crossing (rows 10-12)
    assert stroke_under(regions, 3, 3)["stroke"] == "crossing"
    assert stroke_under(regions, 0, 0)["stroke"] == BACKGROUND


def test_a_cell_over_background_in_both_digits_names_no_feature():
    zeros, eights = np.stack([hand_zero()] * 2), np.stack([hand_eight()] * 2)
    cells = [{"row": 0, "col": 0, "fires_for": 8}, {"row": 3, "col": 3, "fires_for": 8},
             {"row": 3, "col": 3, "fires_for": 0}]
    _, out, features, _ = describe_strokes(cells, zeros, eights)
    assert [c["over_background"] for c in out] == [True, False, False]
    assert out[0]["feature"] is None
    assert features == ["8's crossing", "0's open centre"]
