"""The grading rubric: the assignment's points (P3 30, P5 8) split over its parts, as a small CSV
table that a grader can copy, edit and pass to `grade.py --rubric FILE`.

Columns: problem, part, points, other_reading (the share of the part's points that another reading
earns: 1 = full marks), what. Every part of both problems appears once: P3 (1)-(5); P5 1 (the
forward pass and the loss) and 2 (∂L/∂b^f). A part earns its points when it has a checked value and
comes before the part of the first wrong step (score).
"""
from __future__ import annotations

import csv
import io
from typing import NamedTuple

import numpy as np

from common.core.cli import UserError
from common.grading.solution import PART, PROBLEMS

DEFAULT_RUBRIC = """\
problem,part,points,other_reading,what
p3,1,6,1,ŷ(t) for t = 1..3 and the loss L
p3,2,6,1,∂L/∂b by central differences
p3,3,12,1,∂L/∂b by back-propagation through time with the intermediates
p3,4,3,1,b after one gradient step
p3,5,3,1,the loss at the new b
p5,1,3,1,ŷ(t) and the loss L of the LSTM
p5,2,5,1,∂L/∂b^f by back-propagation through time with the intermediates
"""
COLUMNS = ("problem", "part", "points", "other_reading", "what")


class Part(NamedTuple):
    points: float
    other_reading: float  # share of the points that another reading earns
    what: str


Rubric = dict[tuple[str, int], Part]


def _number(text: str, where: str, low: float, high: float) -> float:
    try:
        value = float(text)
    except ValueError:
        raise UserError(f"{where}: {text!r} is not a number") from None
    if not low <= value <= high:
        raise UserError(f"{where}: {text!r} must be between {low:g} and {high:g}")
    return value


def parse_rubric(text: str, source: str = "rubric") -> Rubric:
    """The rubric in `text` (CSV with COLUMNS). UserError names the line of any problem in it."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    if reader.fieldnames is None or set(COLUMNS) - {f.strip() for f in reader.fieldnames}:
        raise UserError(f"{source}: the header must name the columns {', '.join(COLUMNS)}")
    rubric: Rubric = {}
    for row in reader:
        row = {(k or "").strip(): (v or "").strip() for k, v in row.items()}
        where = f"{source}, line {reader.line_num}"
        problem, part = row["problem"].lower(), row["part"].strip("()")
        if problem not in PROBLEMS or not part.isdigit() or int(part) not in set(PART[problem].tolist()):
            raise UserError(f"{where}: no part {row['part']!r} of problem {row['problem']!r}; the parts are "
                            + "; ".join(f"{p}: {sorted(set(PART[p].tolist()))}" for p in PROBLEMS))
        if (problem, int(part)) in rubric:
            raise UserError(f"{where}: {problem} part {part} appears twice")
        rubric[problem, int(part)] = Part(_number(row["points"], where, 0.0, 1e6),
                                          _number(row["other_reading"], where, 0.0, 1.0), row["what"])
    missing = [f"{p} part {n}" for p in PROBLEMS for n in sorted(set(PART[p].tolist())) if (p, n) not in rubric]
    if missing:
        raise UserError(f"{source}: no line for {', '.join(missing)}")
    return rubric


def score(rubric: Rubric, problem: str, checked_parts: set[int], first_wrong_part: int | None,
          own_reading: bool) -> tuple[float, float]:
    """(points earned, points possible): each part with a checked value that comes before the part of
    the first wrong step earns its points, times its other_reading share under another reading."""
    parts = sorted(set(PART[problem].tolist()))
    earned = sum(rubric[problem, p].points * (1.0 if own_reading else rubric[problem, p].other_reading)
                 for p in parts if p in checked_parts and (first_wrong_part is None or p < first_wrong_part))
    return float(np.round(earned, 6)), float(sum(rubric[problem, p].points for p in parts))


DEFAULT = parse_rubric(DEFAULT_RUBRIC, "the default rubric")
