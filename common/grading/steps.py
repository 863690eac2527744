"""Problem 3 (4) checked as a step, and (5) at the row's own b_new.

One step moves b by lr ∂L/∂b, about 2e-5 and 9e-4 on the assignment's numbers, so a b_new tells a
step from no step only when it is written with STEP_DIGITS significant digits; with fewer it is not
decided. A row may instead give the step itself, Δb = b − b_new, in `delta_b_1` and `delta_b_2`
(MIN_DIGITS are enough there): `with_step` turns them into b_new on the row's sheet.

A b_new is matched within half a unit of its last digit plus lr times half a unit of the gradient
the row wrote (the rounding a student carries from their own gradient), or within FLOAT32_STEP_ULPS
units of float32 rounding, FLOAT32_STEP_ULPS × 2^-24 × |b_new| (float32_step_band: b − lr·g computed
in float32 is rounded once to float32, half a unit in the last place near 1 is 2^-24 relative, and b
and g carry their own rounding), whichever is larger; never within rtol·|b_new|.
`step_follows` checks Δb against lr times the row's own gradient, the one of its part (3), or (2)
where (3) is absent: a wrong gradient carried forward correctly earns part (4) (and part (5) when
L_new is the loss at the row's own b_new) under the rubric's `carried` share.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from common.recurrent.problems import PROBLEM3_LR

MIN_DIGITS = 3
STEP_DIGITS = 8
FLOAT32_UNIT = 2.0 ** -24  # float32's unit roundoff: half its spacing, relative
FLOAT32_STEP_ULPS = 2.0
DELTA_COLUMNS = ("delta_b_1", "delta_b_2")
B_NEW = ("b_new_1", "b_new_2")
GRADIENTS = (("grad_1", "grad_2"), ("grad_cd_1", "grad_cd_2"))  # part (3), then part (2)
DIGITS_RULE = (f"write every value with 5 significant digits (at least {MIN_DIGITS}), and b_new with "
               f"{STEP_DIGITS} (or the step b − b_new in delta_b_1, delta_b_2), so that one step of about "
               "1e-5 shows")


class Written(NamedTuple):
    """A number as a student wrote it."""

    value: float
    digits: int  # significant digits written (leading zeros not counted, trailing zeros counted)
    half_unit: float  # half a unit of the last digit written


def min_digits(key: str) -> int:
    """The significant digits a value needs to be decided."""
    return STEP_DIGITS if key in B_NEW else MIN_DIGITS


def with_step(written: dict[str, Written], b: np.ndarray) -> dict[str, Written]:
    """The row's values, with b_new_i = b_i − delta_b_i where the row gives Δb and not b_new."""
    out = {k: w for k, w in written.items() if k not in DELTA_COLUMNS}
    for i, (delta, new) in enumerate(zip(DELTA_COLUMNS, B_NEW)):
        if delta in written and new not in written and written[delta].digits >= MIN_DIGITS:
            d = written[delta]
            out[new] = Written(float(b[i]) - d.value, STEP_DIGITS, d.half_unit)
    return out


def own_gradient(written: dict[str, Written]) -> list[Written] | None:
    """The gradient the row's part (3) gives, or its part (2) where (3) is absent; None without either."""
    for names in GRADIENTS:
        if all(n in written and written[n].digits >= MIN_DIGITS for n in names):
            return [written[n] for n in names]
    return None


def float32_step_band(b_new: float) -> float:
    """The float32 rounding a b_new computed in float32 may carry: FLOAT32_STEP_ULPS × 2^-24 × |b_new|."""
    return FLOAT32_STEP_ULPS * FLOAT32_UNIT * abs(b_new)


def step_half(written: dict[str, Written], key: str) -> float:
    """The tolerance of a decided b_new: half a unit of its last digit plus lr times half a unit of
    the row's own gradient's last digit, or its float32_step_band where larger; any other value's
    half unit as written."""
    w = written[key]
    if key not in B_NEW:
        return w.half_unit
    grad = own_gradient(written)
    carried = w.half_unit + (PROBLEM3_LR * grad[B_NEW.index(key)].half_unit if grad else 0.0)
    return max(carried, float32_step_band(w.value))


def step_follows(written: dict[str, Written], b: np.ndarray) -> bool | None:
    """Whether every decided b_new is one step of lr times the row's own gradient from b; None when
    the row has no decided b_new or no gradient."""
    grad = own_gradient(written)
    shown = [i for i, k in enumerate(B_NEW) if k in written and written[k].digits >= STEP_DIGITS]
    if grad is None or not shown:
        return None
    return all(abs((b[i] - written[B_NEW[i]].value) - PROBLEM3_LR * grad[i].value) <= step_half(written, B_NEW[i])
               for i in shown)


def own_b_new(written: dict[str, Written], b: np.ndarray) -> np.ndarray | None:
    """The row's b_new where both components are decided, else None."""
    if all(k in written and written[k].digits >= STEP_DIGITS for k in B_NEW):
        return np.array([written[k].value for k in B_NEW])
    return None
