"""The digits that decide a value, and the order of the tries.

Each b_new component is decided on its own, when half a unit of its last written digit is at most 5%
of that component's step LR·|∂L/∂b_i| (README, "For graders"); the fewest such digits are computed
here from tests/grade_reference.py's numbers. A value with fewer than 3 significant digits, or a b_new
that decides neither component, sends the row to a person (needs_review). The float32 window on
central differences is tried only after every known mistake, so a one-sided difference written to 5
digits stays `known_mistake`.
"""
from __future__ import annotations

import math

import grade_reference as ref
import numpy as np
import pytest
from submissions_plan import ASSIGNMENT

import grade

SHARE = 0.05  # README: a b_new component is decided when half a unit of its last digit is ≤ 5% of its step


def p3(mistake: str | None = None) -> dict[str, float]:
    n = ASSIGNMENT
    return ref.p3(np.array(n["x"]), n["b"], n["c"], n["W"], n["U"], n["V"], mistake=mistake)


def fewest_digits(b_new: float, step: float) -> int:
    """The fewest significant digits of b_new whose half unit is at most SHARE of the step."""
    exponent = math.floor(math.log10(abs(b_new)))
    return next(d for d in range(1, 17) if 0.5 * 10.0 ** (exponent - d + 1) <= SHARE * step)


def check(values: dict[str, float], b_digits: tuple[int, int] | None) -> dict[str, str]:
    """--check with L and the gradients to 5 digits and b_new to `b_digits` (None: no b_new)."""
    args = [f"{k}={values[k]:.4e}" for k in ("L", "grad_1", "grad_2")]
    if b_digits is not None:
        args += [f"b_new_{i + 1}={values[f'b_new_{i + 1}']:.{d - 1}e}" for i, d in enumerate(b_digits)]
    return grade.main(["--check", "p3", *args])["rows"][0]


@pytest.fixture(scope="module")
def right() -> dict[str, float]:
    return p3()


@pytest.fixture(scope="module")
def deciding(right: dict[str, float]) -> tuple[int, int]:
    return tuple(fewest_digits(right[f"b_new_{i}"], ref.LR * abs(right[f"grad_{i}"])) for i in (1, 2))


def test_the_fewest_deciding_digits_are_6_and_5(deciding: tuple[int, int]) -> None:
    """b₁'s step 2.0e-5 needs half a unit ≤ 1.0e-6 of a number just below 1: 6 digits (5e-7); b₂'s
    8.7e-4 needs ≤ 4.3e-5: 5 digits (5e-6)."""
    assert deciding == (6, 5)


def test_seven_digits_earn_part_4(right: dict[str, float]) -> None:
    """numpy's float32 print (7 digits) decides both components: L, (3) and (4) checked, 6 + 6 + 3."""
    g = check(right, (7, 7))
    assert (g["verdict"], g["checked"], g["score"]) == ("correct", "5", str(6 + 12 // 2 + 3))


def test_five_digits_decide_b2_only(right: dict[str, float], deciding: tuple[int, int]) -> None:
    """[-0.99998, 0.99913]: b₂ is checked and earns part (4); b₁ is left out, and the row is not sent
    to a person, since b_new decides a component."""
    g = check(right, (5, 5))
    assert (g["verdict"], g["checked"], g["score"]) == ("correct", "4", str(6 + 12 // 2 + 3))
    assert check(right, (deciding[0] - 1, deciding[1]))["checked"] == "4"


def test_a_b_new_that_decides_nothing_goes_to_a_person(right: dict[str, float], deciding: tuple[int, int]) -> None:
    g = check(right, (deciding[0] - 3, deciding[1] - 1))
    assert (g["verdict"], g["checked"]) == ("needs_review", "3")
    assert "b_new decides no component (its last digit is coarse for the step): b_new_1, b_new_2" in g["review"]


def test_two_digits_are_not_decided_and_go_to_a_person(right: dict[str, float]) -> None:
    g = grade.main(["--check", "p3", f"L={right['L']:.4e}", f"grad_1={right['grad_1']:.1e}",
                    f"grad_2={right['grad_2']:.4e}"])["rows"][0]
    assert g["verdict"] == "needs_review" and "not decided (too few digits): grad_1" in g["review"]


@pytest.mark.parametrize("fewest", [False, True])
def test_update_sign_stays_apart_at_the_deciding_digits(right: dict[str, float], fewest: bool) -> None:
    """The wrong sign of the step, b + lr·∂L/∂b, written to 7 digits or to the fewest that decide each
    of its components (both are above 1 in size, so one digit more than the right b_new's), is named."""
    wrong = p3("update_sign")
    digits = tuple(fewest_digits(wrong[f"b_new_{i}"], ref.LR * abs(right[f"grad_{i}"])) for i in (1, 2))
    assert digits == (7, 6)
    g = check(wrong, digits if fewest else (7, 7))
    assert (g["verdict"], g["mistake"], g["first_wrong"], g["checked"]) == ("known_mistake", "update_sign",
                                                                            "b_new", "5")


def test_a_one_sided_difference_is_a_known_mistake_not_the_float32_window(right: dict[str, float]) -> None:
    """One-sided differences to 5 digits lie inside the float32 window around the central ones
    (4·2^-24·|L|/ε), yet the row is named as the known mistake, tried first."""
    one = p3("one_sided_difference")
    window = 4 * 2.0 ** -24 * max(1.0, right["L"]) / ref.EPS
    assert all(abs(one[k] - right[k]) < window for k in ("grad_cd_1", "grad_cd_2"))
    g = grade.main(["--check", "p3", *(f"{k}={one[k]:.4e}" for k in ("L", "grad_cd_1", "grad_cd_2"))])["rows"][0]
    assert (g["verdict"], g["mistake"], g["first_wrong"]) == ("known_mistake", "one_sided_difference", "grad_cd")


def test_a_written_zero_is_checked_by_its_half_unit(right: dict[str, float]) -> None:
    """A hand-made row: ∂L/∂b₁ written 0.00 has no significant digit, yet it is checked by its half unit,
    0.005: the right value, about −0.00996, is further off, so grad_1 is the first wrong value and part
    (3) earns no credit while b₂ is right; 0.00000 (half unit 5e-6) is wrong too."""
    assert abs(right["grad_1"]) > 0.005
    for zero in ("0.00", "0.00000"):
        g = grade.main(["--check", "p3", f"L={right['L']:.4e}", f"grad_1={zero}", f"grad_2={right['grad_2']:.4e}"])["rows"][0]
        assert (g["verdict"], g["first_wrong"], g["checked"], g["review"]) == ("wrong", "grad", "3", "")



def test_a_written_zero_matches_within_its_half_unit(right: dict[str, float]) -> None:
    """0.0 has a half unit of 0.05, more than |∂L/∂b₁| ≈ 0.00996, so by the same rule it matches."""
    assert abs(right["grad_1"]) < 0.05
    g = grade.main(["--check", "p3", f"L={right['L']:.4e}", "grad_1=0.0", f"grad_2={right['grad_2']:.4e}"])["rows"][0]
    assert (g["verdict"], g["checked"], g["review"]) == ("correct", "3", "")


@pytest.mark.parametrize("wrong_component", [1, 2])
def test_b_new_earns_its_right_components_share_in_either_order(right: dict[str, float], wrong_component: int) -> None:
    """One component of b_new stepped the wrong way (b + lr·∂L/∂b), the other right, 8 digits each: part
    (4) earns 3 × 1/2 whichever is wrong, beside (1)'s 6 and (3)'s 12 / 2 (final values only)."""
    mixed = dict(right)
    key = f"b_new_{wrong_component}"
    mixed[key] = p3("update_sign")[key]
    g = check(mixed, (8, 8))
    assert (g["verdict"], g["first_wrong"], g["score"]) == ("wrong", "b_new", str(6 + 12 / 2 + 3 / 2))
