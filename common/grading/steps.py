"""The matching rule's tolerances, and Problem 3 (4) checked as a step and (5) at the row's own b_new.

A written value w matches a reference value r when

    |w − r| ≤ max(half a unit of w's last written digit, rtol·|r|)

(MATCH_RULE); central differences under a float32 reading of part (2) also match within
FLOAT32_BAND_FACTOR × common.grading.key.rounding_bound(L, "float32"), the rounding that a float32 loss
carries into a quotient with ε = 1e-4. A value written with fewer than MIN_DIGITS significant digits
is not decided and is left out of `checked`; a written zero (0.00: no significant digit) is decided
and matched like any value, so 0.00 matches a right value within its half unit, 0.005, and is wrong
otherwise.

One step moves b by lr ∂L/∂b, about 2e-5 and 9e-4 on the assignment's numbers, so each component of
b_new is decided on its own: when half a unit of its last written digit is at most STEP_SHARE of that
component's step |lr·∂L/∂b_i| on the row's sheet (the assignment's reading). Seven significant digits
decide both components there, five decide b₂ only. A row may instead give the step itself,
Δb = b − b_new, in `delta_b_1` and `delta_b_2` (MIN_DIGITS are enough there): `with_step` turns them
into b_new on the row's sheet.

A decided b_new is matched within half a unit of its last digit plus lr times half a unit of the
gradient the row wrote (the rounding a student carries from their own gradient), or within
FLOAT32_STEP_ULPS units of float32 rounding, FLOAT32_STEP_ULPS × 2^-24 × |b_new| (float32_step_band: b −
lr·g computed in float32 is rounded once to float32, half a unit in the last place near 1 is 2^-24
relative, and b and g carry their own rounding), whichever is larger; never within rtol·|b_new|.
`step_follows` checks Δb against lr times the row's own gradient, the one of its part (3), or (2)
where (3) is absent: a wrong gradient carried forward correctly earns part (4) (and part (5) when
L_new is the loss at the row's own b_new) under the rubric's `carried` share.

Within a part: `right_before` (a right value before the first wrong one), `components` (P3 (4)'s
share of right decided components) and `lone_intermediate` (a wrong intermediate beside a right final
gradient, for a person).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from common.grading.key import UNIT_ROUNDOFF, rounding_bound
from common.grading.solution import INDEX, KEYS, PART
from common.recurrent.problems import PROBLEM3_LR

FLOAT32_BAND_FACTOR = 4.0
MIN_DIGITS = 3
STEP_DIGITS = 8  # the digits the key writes b_new with and the sheets ask for
STEP_SHARE = 0.05  # a b_new component is decided when half a unit of its last digit is at most this share of its step
FLOAT32_UNIT = UNIT_ROUNDOFF["float32"]  # float32's unit roundoff: half its spacing, relative
FLOAT32_STEP_ULPS = 2.0
DELTA_COLUMNS = ("delta_b_1", "delta_b_2")
B_NEW = ("b_new_1", "b_new_2")
GRADIENTS = (("grad_1", "grad_2"), ("grad_cd_1", "grad_cd_2"))  # part (3), then part (2)
DIGITS_RULE = (f"write every value with 5 significant digits (at least {MIN_DIGITS}), and b_new with "
               f"{STEP_DIGITS} (or the step b − b_new in delta_b_1, delta_b_2), so that one step of about "
               "1e-5 shows")
MATCH_RULE = ("a value matches when it is within half a unit of the last digit written, or within a "
              f"relative rtol, whichever is larger; values with fewer than {MIN_DIGITS} significant digits are "
              f"not decided; each b_new component is decided when half a unit of its last digit is at most "
              f"{STEP_SHARE:.0%} of its step lr·|∂L/∂b|, and matches within half a unit or float32's rounding, never rtol")
MATCH_FIELDS = {"tolerance": "max(half unit, rtol × |right value|)", "half_unit": "half a unit of the last digit written",
                "min_digits": MIN_DIGITS, "step_digits": STEP_DIGITS, "step_share": STEP_SHARE,
                "step_tolerance": "max(half unit, float32 band), never rtol",
                "step_float32_ulps": FLOAT32_STEP_ULPS, "float32_unit": FLOAT32_UNIT}  # MATCH_RULE as answer_key.json stores it


class Written(NamedTuple):
    """A number as a student wrote it."""

    value: float
    digits: int  # significant digits written (leading zeros not counted, trailing zeros counted)
    half_unit: float  # half a unit of the last digit written


class Answers(NamedTuple):
    """A row's decided values, in KEYS order: their indices into KEYS[problem], values and half units."""

    idx: np.ndarray
    value: np.ndarray
    half: np.ndarray


def step_sizes(grad: np.ndarray) -> np.ndarray:
    """One step's size per component, |lr·∂L/∂b_i|, from a sheet's right gradient."""
    return PROBLEM3_LR * np.abs(np.asarray(grad, dtype=float))


def is_decided(key: str, w: Written, step: np.ndarray | None) -> bool:
    """Whether a written value is decided: MIN_DIGITS significant digits, or a written zero; a b_new
    component, half a unit of its last digit at most STEP_SHARE of its step (never, without the sheet's
    `step`)."""
    if key in B_NEW:
        return step is not None and w.half_unit <= STEP_SHARE * step[B_NEW.index(key)]
    return w.digits >= MIN_DIGITS or w.value == 0


def undecided(written: dict[str, Written], step: np.ndarray | None) -> list[str]:
    """The written values a person must read (undecided_notes words them): those is_decided leaves out, and
    b_new when it is written and decides neither component."""
    short = [k for k, w in written.items() if k not in B_NEW and not is_decided(k, w, step)]
    given = [k for k in B_NEW if k in written]
    return short + (given if given and not any(is_decided(k, written[k], step) for k in given) else [])


def undecided_notes(written: dict[str, Written], step: np.ndarray | None) -> list[str]:
    """undecided's values as review notes: too few digits, and a b_new too coarse for the step."""
    names = undecided(written, step)
    short, coarse = [k for k in names if k not in B_NEW], [k for k in names if k in B_NEW]
    return ([f"not decided (too few digits): {', '.join(short)}"] if short else []) + \
        ([f"b_new decides no component (its last digit is coarse for the step): {', '.join(coarse)}"] if coarse else [])


def decided(problem: str, written: dict[str, Written], step: np.ndarray | None) -> Answers:
    """The decided values (is_decided), in the order of KEYS[problem], each with its tolerance floor
    (step_half). `step`: the sheet's step_sizes, None for P5."""
    keys = sorted((INDEX[problem][k], k) for k, w in written.items()
                  if k in INDEX[problem] and is_decided(k, w, step))
    return Answers(np.array([j for j, _ in keys], dtype=int), np.array([written[k].value for _, k in keys]),
                   np.array([step_half(written, k) for _, k in keys]))


CENTRAL = {p: [INDEX[p][k] for k in ("grad_cd_1", "grad_cd_2") if k in INDEX[p]] for p in INDEX}
STEPS = {p: [INDEX[p][k] for k in B_NEW if k in INDEX[p]] for p in INDEX}  # b_new: matched without rtol
IS_CENTRAL = {p: np.isin(np.arange(len(KEYS[p])), CENTRAL[p]) for p in INDEX}  # the same as masks over KEYS
IS_STEP = {p: np.isin(np.arange(len(KEYS[p])), STEPS[p]) for p in INDEX}


def rtol_part(problem: str, ref: np.ndarray, rtol: float, idx: np.ndarray | slice = slice(None)) -> np.ndarray:
    """rtol·|r| of the values `idx` (KEYS[problem] indices) of each row of `ref`, 0 for b_new: the
    part of MATCH_RULE's tolerance that depends on the right value."""
    return rtol * np.abs(ref[:, idx]) * ~IS_STEP[problem][idx]


def float32_band(loss: float) -> float:
    """The float32 band of central differences around the float64 ones, from the loss L."""
    return FLOAT32_BAND_FACTOR * rounding_bound(loss, "float32")


def tolerance(problem: str, ans: Answers, ref: np.ndarray, rtol: float, banded: bool,
              scaled: np.ndarray | None = None) -> np.ndarray:
    """(candidates, values) tolerances of the decided values `ans` against the rows of `ref` (each a
    candidate's values, at least through ans's largest index): MATCH_RULE, and with `banded` the
    float32 band on central differences, from each candidate's own L. `scaled`: rtol_part of every
    value of `ref`, where the caller keeps it."""
    tol = np.maximum(ans.half, rtol_part(problem, ref, rtol, ans.idx) if scaled is None else scaled[:, ans.idx])
    cd = IS_CENTRAL[problem][ans.idx]
    if banded and cd.any():
        band = np.array([float32_band(L) for L in ref[:, INDEX[problem]["L"]]])
        tol[:, cd] = np.maximum(tol[:, cd], band[:, None])
    return tol


def fits(problem: str, ans: Answers, ref: np.ndarray, rtol: float, banded: bool = False,
         scaled: np.ndarray | None = None) -> np.ndarray:
    """(candidates, values): whether each decided value matches each row of `ref` (`scaled` as in tolerance)."""
    return np.abs(ans.value - ref[:, ans.idx]) <= tolerance(problem, ans, ref, rtol, banded, scaled)


def digit_half_unit(v: np.ndarray, digits: int | np.ndarray) -> np.ndarray:
    """Half a unit of the `digits`-th significant digit of each value (0 for 0)."""
    mag = np.abs(v)
    return np.where(mag > 0, 0.5 * 10.0 ** (np.floor(np.log10(np.where(mag > 0, mag, 1.0))) + 1 - digits), 0.0)


def first_difference(problem: str, wrong: np.ndarray, right: np.ndarray, rtol: float) -> int | None:
    """The index of the first value where an answer computed as `wrong`, written with 5 significant
    digits (b_new with STEP_DIGITS), does not match `right` (MATCH_RULE), or None where every value would."""
    step = IS_STEP[problem]
    half = digit_half_unit(wrong, np.where(step, STEP_DIGITS, 5))
    differs = np.abs(wrong - right) > np.maximum(half, rtol * np.abs(right) * ~step)
    return int(np.argmax(differs)) if differs.any() else None


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


def step_follows(written: dict[str, Written], b: np.ndarray, step: np.ndarray | None) -> bool | None:
    """Whether every decided b_new component is one step of lr times the row's own gradient from b;
    None when the row has no decided b_new or no gradient."""
    grad = own_gradient(written)
    shown = [i for i, k in enumerate(B_NEW) if k in written and is_decided(k, written[k], step)]
    if grad is None or not shown:
        return None
    return all(abs((b[i] - written[B_NEW[i]].value) - PROBLEM3_LR * grad[i].value) <= step_half(written, B_NEW[i])
               for i in shown)


def own_b_new(written: dict[str, Written], step: np.ndarray | None) -> np.ndarray | None:
    """The row's b_new where both components are decided, else None."""
    if all(k in written and is_decided(k, written[k], step) for k in B_NEW):
        return np.array([written[k].value for k in B_NEW])
    return None


GRADIENT_PART = {"p3": 3, "p5": 2}  # the part whose intermediates are its work
FINAL_GRADIENT = {p: {INDEX[p]["grad_1"], INDEX[p]["grad_2"]} for p in INDEX}


COMPONENT_PART = {"p3": 4}  # the part scored by its right decided components: b_new's two


def components(problem: str, ans: Answers, ok: np.ndarray, first: int | None) -> float | None:
    """When the first wrong value (KEYS index `first`) is in COMPONENT_PART, the share of that part's
    decided values that match (`ok`, per decided value), whichever component is wrong; else None."""
    if first is None or PART[problem][first] != COMPONENT_PART.get(problem):
        return None
    mine = PART[problem][ans.idx] == PART[problem][first]
    return float(ok[mine].sum() / mine.sum()) if mine.any() else None


def right_before(problem: str, ans: Answers, first: int | None) -> bool:
    """Whether the part of the first wrong value (KEYS index `first`) has a checked value before it."""
    part = PART[problem]
    return first is not None and bool(((ans.idx < first) & (part[ans.idx] == part[first])).any())

def lone_intermediate(problem: str, ans: Answers, ok: np.ndarray, first: int | None) -> tuple[str, ...]:
    """A note for a person when the first wrong value (KEYS index `first`) is an intermediate of
    GRADIENT_PART and that part's final gradient is decided and right (`ok`, per decided value): a
    slip in what was written, not in the work; otherwise none."""
    if first is None or PART[problem][first] != GRADIENT_PART[problem] or first in FINAL_GRADIENT[problem]:
        return ()
    finals = np.isin(ans.idx, list(FINAL_GRADIENT[problem]))
    if finals.sum() < len(FINAL_GRADIENT[problem]) or not ok[finals].all():
        return ()
    return (f"{KEYS[problem][first]} is wrong, yet part ({GRADIENT_PART[problem]})'s final gradient is right",)
