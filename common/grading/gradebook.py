"""What grade.py writes besides the grades: the template a class fills in, the gradebook (one row per
student), and the self-check a student runs before handing in.

template_columns(problem, intermediates): the header row, in the order of the parts, with the
stated-choice columns after the values. gradebook_rows: P3's and P5's scores and verdicts side by
side, and their total, for each student as the student column gives them (first appearance order).
self_check_lines: ✓ or ✗ per value, the first wrong step and the rule for digits; no value of the
key, difference, ratio or sign is ever part of it.
"""
from __future__ import annotations

from typing import Sequence

from common.grading.matching import Grade, Values
from common.grading.rubric import Rubric
from common.grading.solution import INDEX, KEYS, OWN, PROBLEMS, STEP
from common.grading.steps import (
    DELTA_COLUMNS,
    DIGITS_RULE,
    Written,
    decided,
    fits,
    with_step,
)
from common.grading.submissions import ID_COLUMNS, STATED, Submission, safe_cell

FINAL_COLUMNS = {"p3": ("L", "grad_cd_1", "grad_cd_2", "grad_1", "grad_2", "b_new_1", "b_new_2", *DELTA_COLUMNS,
                        "L_new"),
                 "p5": ("L", "grad_1", "grad_2")}
STATED_COLUMNS = {"p3": ("log", "h0_1", "h0_2"), "p5": tuple(c for c in STATED if c not in ("h0_1", "h0_2"))}
GRADEBOOK_COLUMNS = ("student", *(f"{p}_{c}" for p in PROBLEMS for c in ("score", "out_of", "verdict")),
                     "total", "out_of", "note")


def template_columns(problem: str, intermediates: bool) -> list[str]:
    """The header row of a class's CSV for one problem."""
    if not intermediates:
        values = list(FINAL_COLUMNS[problem])
    else:
        values = list(KEYS[problem])
        if problem == "p3":
            at = values.index("L_new")
            values[at:at] = list(DELTA_COLUMNS)
    return [*ID_COLUMNS, *values, *STATED_COLUMNS[problem], "comment"]


def gradebook_rows(rows: Sequence[Submission], out: Sequence[dict[str, str]], rubric: Rubric) -> list[dict[str, str]]:
    """One row per student: each problem's score, out_of and verdict (`missing` when the class has no
    row for it), the total over both problems, and the rows' notes."""
    possible = {p: sum(part.points for (q, _), part in rubric.items() if q == p) for p in PROBLEMS}
    book: dict[str, dict[str, str]] = {}
    for sub, cells in zip(rows, out):
        entry = book.setdefault(sub.student, {"student": safe_cell(sub.student), "note": cells["note"]})
        if sub.problem in PROBLEMS:
            entry |= {f"{sub.problem}_score": cells["score"], f"{sub.problem}_verdict": cells["verdict"]}
    for entry in book.values():
        for p in PROBLEMS:
            entry.setdefault(f"{p}_score", "0")
            entry.setdefault(f"{p}_verdict", "missing")
            entry[f"{p}_out_of"] = f"{possible[p]:g}"
        entry["total"] = f"{sum(float(entry[f'{p}_score']) for p in PROBLEMS):g}"
        entry["out_of"] = f"{sum(possible.values()):g}"
    return list(book.values())


def self_check_lines(sub: Submission, g: Grade, values: Values, rtol: float) -> list[str]:
    """✓ or ✗ for each value written, against the right answer under the row's reading, then the
    first wrong step and the rule for digits. Values not decided are named as such."""
    b = values.solver(sub.variant).sheet.params.b
    written: dict[str, Written] = with_step(sub.written, b)
    ans = decided(sub.problem, written, values.step(sub.problem, sub.variant))
    reading = (g.best or OWN)._replace(cd_float32=False)
    right = values.solver(sub.variant).values(sub.problem, reading)
    ok = fits(sub.problem, ans, right[None, :], rtol, banded=bool(g.best and g.best.cd_float32))[0]
    mark = {KEYS[sub.problem][j]: "✓" if k else "✗" for j, k in zip(ans.idx.tolist(), ok)}
    lines = [f"{mark.get(k, '? (too few digits to decide)')} {k}"
             for k in sorted(written, key=KEYS[sub.problem].index)]
    wrong = [k for k in KEYS[sub.problem] if mark.get(k) == "✗"]
    lines.append(f"first wrong step: {STEP[sub.problem][INDEX[sub.problem][wrong[0]]]}" if wrong
                 else "first wrong step: none among the values given")
    lines.append(f"digits: {DIGITS_RULE}.")
    return [*lines, *sub.review]

