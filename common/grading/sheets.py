"""The issued sheets, and rows copied from another sheet than their own.

`grade.py --sheets DIR` names the folder of issued variants: each `key-N.json` there (written by
`grade.py --make-variant N`) is sheet N, its numbers read from the file, so that variants drawn with a
secret are graded without it. The assignment's own numbers are always a sheet (variant None). Without
--sheets every variant is drawn from its number (common/grading/variants.py), as the sheets without a
secret are.

A key's rows, written in the order of common/grading/key.py's key_readings, hold the right values under
each reading: the grader uses them (`known_of`) instead of computing them again.

A row that its own sheet does not explain (grade.py) copies another sheet (`other_sheet`) when it
matches that sheet's right answers, under the assignment's reading, on more values than its own
sheet's and on at least MIN_COPIED values.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

import numpy as np

from common.core.cli import UserError
from common.grading.key import key_readings
from common.grading.solution import (
    KEYS,
    OWN,
    PROBLEMS,
    Known,
    RNNParams,
    Sheet,
    Solver,
    assignment_sheet,
)
from common.grading.steps import Answers, fits, rtol_part

MIN_COPIED = 3


class NotIssued(Exception):
    """A variant with no sheet in the --sheets folder."""


def _sheet(key: dict, path: Path) -> Sheet:
    try:
        params = RNNParams(**{k: np.array(key["params"][k], dtype=float) for k in RNNParams._fields})
        return Sheet(np.array(key["x"], dtype=float), params)
    except (KeyError, TypeError, ValueError) as exc:
        raise UserError(f"{path}: not a key written by grade.py --make-variant ({exc})") from None


SORTED_KEYS = {p: sorted(KEYS[p]) for p in PROBLEMS}  # the order of a key that write_json_atomic wrote
FROM_SORTED = {p: np.array([SORTED_KEYS[p].index(k) for k in KEYS[p]]) for p in PROBLEMS}


def _row_values(row: dict, problem: str) -> np.ndarray | None:
    """A key row's `values` in KEYS[problem] order, or None where they are not every value of KEYS.
    Read in the file's order where that is KEYS' or sorted."""
    values = row.get("values", ())
    names = list(values)
    if names == KEYS[problem]:
        return np.array(list(values.values()), dtype=float)
    if names == SORTED_KEYS[problem]:
        return np.array(list(values.values()), dtype=float)[FROM_SORTED[problem]]
    if set(names) == set(KEYS[problem]):
        return np.array([values[k] for k in KEYS[problem]], dtype=float)
    return None


def _own_values(key: dict, problem: str) -> np.ndarray | None:
    """The key's values under the assignment's reading (its first row of the problem), or None."""
    row = next((r for r in key.get("rows", []) if r.get("problem") == problem and "values" in r), None)
    return None if row is None else np.array([row["values"][k] for k in KEYS[problem]], dtype=float)


READINGS = [(p, r) for p in PROBLEMS for r in key_readings(p)]  # the key's rows, in its order
OWN_ROWS = [(p, key_readings(p)[0]) for p in PROBLEMS]  # each problem's first row: the assignment's reading


def _known(key: dict) -> Known:
    """The right values of the key's rows under each reading, when its rows are the answer key's, in
    key_readings' order, each with every value (`values`); otherwise none."""
    rows = key.get("rows", [])
    if len(rows) != len(READINGS):
        return {}
    known = {}
    for row, (p, reading) in zip(rows, READINGS):
        values = _row_values(row, p) if row.get("problem") == p else None
        if values is None:
            return {}
        known[p, reading] = values
    return known


class Sheets:
    """The sheets rows are graded against: `folder` None draws any variant from its number."""

    def __init__(self, folder: Path | None, draw: Callable[[int], Sheet]) -> None:
        self.folder, self._draw = folder, draw
        self.issued: dict[int, Sheet] = {}
        self._known: dict[int, Known] = {}
        self._values: dict[str, dict[int | None, np.ndarray]] = {p: {} for p in PROBLEMS}
        assignment = Solver(assignment_sheet())
        for problem in PROBLEMS:
            self._values[problem][None] = assignment.values(problem, OWN)
        for path in sorted(folder.glob("key-*.json")) if folder else ():
            n = path.stem.removeprefix("key-")
            if n.isdigit():
                self._read(int(n), path)
        self._matrix = {p: (list(v), np.stack(list(v.values()))) for p, v in self._values.items()}
        self._scaled: dict[tuple[str, float], np.ndarray] = {}  # rtol_part of each matrix, per rtol

    def _read(self, n: int, path: Path) -> None:
        """Sheet n from its key: the numbers, the right values under each reading, and the values
        under the assignment's reading (computed where the key lacks them)."""
        try:
            with path.open(encoding="utf-8") as f:
                key = json.load(f)
        except (OSError, ValueError) as exc:
            raise UserError(f"{path}: cannot read the key ({exc})") from None
        self.issued[n], self._known[n] = _sheet(key, path), _known(key)
        for problem, reading in OWN_ROWS:
            own = self._known[n].get((problem, reading))
            if own is None:
                own = _own_values(key, problem)
            self._values[problem][n] = Solver(self.issued[n]).values(problem, OWN) if own is None else own

    def known_of(self, variant: int | None) -> Known:
        """The right values that the variant's key holds (none for a drawn variant or the assignment's)."""
        return self._known.get(variant, {})

    def is_issued(self, variant: int | None) -> bool:
        return variant is None or self.folder is None or variant in self.issued

    def sheet_of(self, variant: int | None) -> Sheet:
        """The numbers a row is graded against; NotIssued for a variant missing from the folder."""
        if variant is None:
            return assignment_sheet()
        if self.folder is None:
            return self._draw(variant)
        if variant not in self.issued:
            raise NotIssued(variant)
        return self.issued[variant]

    def copied_from(self, problem: str, variant: int | None, ans: Answers, rtol: float,
                    own_values: np.ndarray) -> int | None | str:
        """The sheet (a variant, or None for the assignment's) that the row copies, or "" for none;
        `own_values`: the row's own sheet's right values under the assignment's reading."""
        names, matrix = self._matrix[problem]
        if not len(ans.idx):
            return ""
        if (problem, rtol) not in self._scaled:
            self._scaled[problem, rtol] = rtol_part(problem, matrix, rtol)
        counts = fits(problem, ans, matrix, rtol, scaled=self._scaled[problem, rtol]).sum(axis=1)
        own = fits(problem, ans, own_values[None, :], rtol).sum()
        order = np.argsort(-counts, kind="stable")
        for j in order:
            if names[j] != variant:
                return names[j] if counts[j] > own and counts[j] >= MIN_COPIED else ""
        return ""


def sheet_name(variant: int | None) -> str:
    return "the assignment's sheet" if variant is None else f"variant {variant}"
