"""The strokes of a '0' and an '8' (holes, crossing, sides) and the stroke under a conv3 cell,
against hand-made digits whose regions are written with numpy slices and pixel counts by hand."""
from __future__ import annotations

import numpy as np
import pytest

from common.features.strokes import (
    BACKGROUND,
    CLASS_MAP,
    OWN,
    describe_strokes,
    digit_regions,
    field_coverage,
    footprint,
    holes,
    name_cell,
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
def test_the_fields_coverage_is_the_tent_weighted_share_of_each_region(row, col):
    regions = digit_regions(hand_eight(), 8)
    got = field_coverage(regions, row, col)
    assert got["coverage"] == pytest.approx({name: naive_coverage(m, row, col) for name, m in regions.items()})


def core_count(region: np.ndarray, row: int, col: int) -> tuple[int, int]:
    """(the region's pixels in the cell's core, the core's pixels): rows and columns 4r-2 .. 4r+5
    inside the image, one pixel at a time."""
    inside = total = 0
    for y in range(4 * row - 2, 4 * row + 6):
        for x in range(4 * col - 2, 4 * col + 6):
            if 0 <= y < 28 and 0 <= x < 28:
                total += 1
                inside += bool(region[y, x])
    return inside, total


@pytest.mark.parametrize("row,col", [(2, 3), (3, 3), (4, 3), (1, 3), (3, 2), (0, 2)])
def test_a_cells_stroke_is_the_region_that_fills_most_of_its_core(row, col):
    regions = digit_regions(hand_eight(), 8)
    got = stroke_under(regions, row, col)
    counts = {name: core_count(m, row, col) for name, m in regions.items()}
    expected = {name: inside / total for name, (inside, total) in counts.items()}
    assert got["share"] == pytest.approx(expected)
    named = sum(expected.values())
    first, second = sorted(expected.values(), reverse=True)[:2]
    top = [name for name, v in expected.items() if v == first] + [
        name for name, v in expected.items() if v == second and first - second < 0.05 and v != first]
    assert got["stroke"] == (BACKGROUND if named < 0.25 else " and ".join(top[:2]))


def test_two_regions_within_a_twentieth_of_the_core_both_name_the_stroke():
    # cell (2, 3)'s core is rows 6-13, columns 10-17: 20 crossing pixels against 18 of the lower loop
    # (a gap of 2/64 < 0.05) name both, the larger first; 20 against 16 (4/64 > 0.05) the crossing alone
    crossing, loop = np.zeros((28, 28), bool), np.zeros((28, 28), bool)
    crossing[6:8, 10:18] = crossing[8, 10:14] = True
    for kept, name in ((18, "crossing and lower loop"), (16, "crossing")):
        loop[:] = False
        loop.flat[np.ravel_multi_index(np.nonzero(np.pad(np.ones((4, 8), bool), ((10, 14), (10, 10)))),
                                       (28, 28))[:kept]] = True
        assert stroke_under({"lower loop": loop, "crossing": crossing}, 2, 3)["stroke"] == name


def test_the_upper_hole_is_under_the_cell_centred_on_it_and_a_corner_is_background():
    regions = digit_regions(hand_eight(), 8)
    # cell (2, 3)'s core is rows 6-13, columns 10-17: the upper hole (rows 6-9, columns 10-16) fills
    # 28 of its 64 pixels, the crossing (rows 10-12) 21, the lower hole (row 13) 7
    assert stroke_under(regions, 2, 3)["share"]["upper hole"] == 28 / 64
    assert stroke_under(regions, 2, 3)["stroke"] == "upper hole"
    assert stroke_under(regions, 0, 0)["stroke"] == BACKGROUND


def shifted(img: np.ndarray, dx: int) -> np.ndarray:
    return np.roll(img, dx, axis=1)


def test_the_shown_digits_own_pixels_name_the_cells_not_the_class_maps():
    zeros, eights = np.stack([hand_zero()] * 2), np.stack([hand_eight()] * 2)
    cells = [{"row": 2, "col": 3, "fires_for": 8, "ink_zero": 0.5, "ink_eight": 0.5}]
    # the shown 8 sits 8 px right of the class's: its upper hole fills columns 18-24, so cell (2, 3)'s
    # core (columns 10-17) holds only its ink (column 16-17 of its upper loop)
    info, out, _ = describe_strokes(cells, zeros, eights, (hand_zero(), shifted(hand_eight(), 8)))
    assert info["named_from"] == {"zero": OWN, "eight": OWN}
    assert out[0]["class_stroke_eight"] == "upper hole"
    assert out[0]["stroke_eight"] != "upper hole"


def test_a_shown_digit_without_its_holes_falls_back_to_the_class_map():
    zeros, eights = np.stack([hand_zero()] * 2), np.stack([hand_eight()] * 2)
    ring = hand_zero()
    ring[12:15, 16:20] = 0  # a gap joins the open centre to the background
    cells = [{"row": 3, "col": 3, "fires_for": 0, "ink_zero": 0.5, "ink_eight": 0.5}]
    info, out, _ = describe_strokes(cells, zeros, eights, (ring, hand_eight()))
    assert info["named_from"] == {"zero": CLASS_MAP, "eight": OWN}
    assert out[0]["stroke_zero"] == out[0]["class_stroke_zero"] == "open centre"


def test_a_cell_over_background_in_both_digits_names_no_feature():
    zeros, eights = np.stack([hand_zero()] * 2), np.stack([hand_eight()] * 2)
    cells = [{"row": 0, "col": 0, "fires_for": 8, "ink_zero": 0.0, "ink_eight": 0.0},
             {"row": 2, "col": 3, "fires_for": 8, "ink_zero": 0.2, "ink_eight": 0.5},
             {"row": 3, "col": 3, "fires_for": 0, "ink_zero": 0.3, "ink_eight": 0.35}]
    _, out, features = describe_strokes(cells, zeros, eights, (hand_zero(), hand_eight()))
    assert [c["over_background"] for c in out] == [True, False, False]
    assert out[0]["feature"] is None
    # the same rule decides 'neither' for the ink: the corner is background in both class maps
    assert [c["ink_where"] for c in out] == ["neither", "8s", "both"]
    assert features == ["8's upper hole", "0's open centre"]


def test_a_cell_empty_in_the_digit_it_fires_for_names_the_other_digits_stroke():
    right = mask((slice(6, 14), slice(10, 18)))  # fills cell (2, 3)'s whole core
    shown = {"zero": {"right side": right}, "eight": {"crossing": ~right}}
    cell = name_cell({"row": 2, "col": 3, "fires_for": 8, "ink_zero": 0.6, "ink_eight": 0.0}, shown, shown, 28)
    assert (cell["stroke_zero"], cell["stroke_eight"]) == ("right side", BACKGROUND)
    assert cell["feature"] == "0's right side"
    assert cell["core"] == [6, 10, 13, 17]
