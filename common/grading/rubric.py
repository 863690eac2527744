"""The grading rubric: the assignment's points (P3 30, P5 8) split over its parts, as a small CSV
table that a grader can copy, edit and pass to `grade.py --rubric FILE`.

Columns: problem, part, points, other_reading (the share of the part's points that another reading
earns: 1 = full marks), what; and three options, which a rubric without their columns leaves at
their defaults: no_work (the share a part earns with its final values and none of its
intermediates: half of P3 (3) and of P5 (2), all of any other part), carried (the share a part after
the first wrong step earns when it follows from the row's own values: all of P3 (2)-(5) and of P5
(2); 0 turns carried credit off for that part) and before_wrong (the share the part that holds the
first wrong step earns when one of its checked values before that step is right: half of every
part; 0 turns it off; P3 (4), whose two b_new components are checked apart, earns instead the
share of its decided components that are right, whichever is wrong). Which parts follow is common/grading/matching.py's: every later checked part
of a row whose values are one catalogue mistake's worked chain (an error is penalised once), P3 (2)
and (3) of a row whose (1) is wrong and whose (3) gradient matches its own (2), and P3 (4) and (5)
of any row whose step and new loss follow from its own gradient and b_new. Every part of both
problems appears once: P3 (1)-(5); P5 1 (the forward pass and the loss) and 2 (∂L/∂b^f). A part earns
its points when it has a checked value and comes before the part of the first wrong step, its
before_wrong share when it holds that step after a right value, or its carried share (score).
"""
from __future__ import annotations

import csv
import io
from typing import NamedTuple

import numpy as np

from common.core.cli import UserError
from common.grading.solution import PART, PROBLEMS

DEFAULT_RUBRIC = """\
problem,part,points,other_reading,no_work,carried,before_wrong,what
p3,1,6,1,1,0,0.5,ŷ(1) to ŷ(3) and the loss L
p3,2,6,1,1,1,0.5,∂L/∂b by central differences
p3,3,12,1,0.5,1,0.5,∂L/∂b by back-propagation through time with the intermediates
p3,4,3,1,1,1,0.5,b after one gradient step
p3,5,3,1,1,1,0.5,the loss at the new b
p5,1,3,1,1,0,0.5,ŷ(t) and the loss L of the LSTM
p5,2,5,1,0.5,1,0.5,∂L/∂b^f by back-propagation through time with the intermediates
"""
COLUMNS = ("problem", "part", "points", "other_reading", "what")
OPTIONS = ("no_work", "carried", "before_wrong")  # optional columns; a rubric without them takes DEFAULT's


class Part(NamedTuple):
    points: float
    other_reading: float  # share of the points that another reading earns
    what: str
    no_work: float = 1.0  # share earned with the final values and no intermediates
    carried: float = 0.0  # share earned after the first wrong step when it follows from the row's own values
    before_wrong: float = 0.0  # share the part of the first wrong step earns for right values before it


Rubric = dict[tuple[str, int], Part]


def rubric_parts(rubric: Rubric) -> list[dict]:
    """The rubric as answer_key.json stores it: one object per part, in the problems' and parts' order."""
    return [{"problem": problem, "part": part, "points": p.points, "other_reading": p.other_reading,
             "no_work": p.no_work, "carried": p.carried, "before_wrong": p.before_wrong, "what": p.what} for (problem, part), p in rubric.items()]


def _number(text: str, where: str, low: float, high: float) -> float:
    try:
        value = float(text)
    except ValueError:
        raise UserError(f"{where}: {text!r} is not a number") from None
    if not low <= value <= high:
        raise UserError(f"{where}: {text!r} must be between {low:g} and {high:g}")
    return value


def parse_rubric(text: str, source: str = "rubric", defaults: Rubric | None = None) -> Rubric:
    """The rubric in `text` (CSV with COLUMNS, and OPTIONS where given, else those of `defaults`, the
    default rubric). UserError names the line of any problem in it."""
    defaults = DEFAULT if defaults is None else defaults
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
        options = {k: _number(row[k], where, 0.0, 1.0) for k in OPTIONS if row.get(k)}
        rubric[problem, int(part)] = Part(_number(row["points"], where, 0.0, 1e6),
                                          _number(row["other_reading"], where, 0.0, 1.0), row["what"],
                                          **{k: options.get(k, getattr(defaults[problem, int(part)], k))
                                             for k in OPTIONS})
    missing = [f"{p} part {n}" for p in PROBLEMS for n in sorted(set(PART[p].tolist())) if (p, n) not in rubric]
    if missing:
        raise UserError(f"{source}: no line for {', '.join(missing)}")
    return rubric


class Credit(NamedTuple):
    """What a row shows, part by part, for `score`."""

    checked: frozenset[int] = frozenset()  # the parts with a checked value
    first_wrong: int | None = None  # the part of the first wrong step
    own_reading: bool = True
    no_work: frozenset[int] = frozenset()  # parts given as final values without their intermediates
    carried: frozenset[int] = frozenset()  # parts after the first wrong step that follow from the row's values
    partial: bool = False  # the part of the first wrong step has a right checked value before it
    components: float | None = None  # P3 (4) holding the first wrong step: its right decided components' share


def score(rubric: Rubric, problem: str, credit: Credit) -> tuple[float, float]:
    """(points earned, points possible): each part with a checked value that comes before the part of
    the first wrong step earns its points (a carried part its `carried` share, the part of the first
    wrong step its `before_wrong` share when it has a right value before that step, or, for P3 (4),
    its right decided components' share of its decided ones, in any order), times its no_work
    share when it shows no intermediates and its other_reading share under another reading."""
    parts = sorted(set(PART[problem].tolist()))
    earned = 0.0
    for p in parts:
        part = rubric[problem, p]
        before = p in credit.checked and (credit.first_wrong is None or p < credit.first_wrong)
        partial = credit.partial and p == credit.first_wrong and p in credit.checked
        by_component = p == credit.first_wrong and credit.components is not None
        share = (1.0 if before else part.carried if p in credit.carried else credit.components if by_component
                 else part.before_wrong if partial else 0.0)
        share *= (part.no_work if p in credit.no_work else 1.0) * (1.0 if credit.own_reading else part.other_reading)
        earned += part.points * share
    return float(np.round(earned, 6)), float(sum(rubric[problem, p].points for p in parts))


DEFAULT = parse_rubric(DEFAULT_RUBRIC, "the default rubric", {key: Part(0.0, 1.0, "") for key in
                                                              ((p, n) for p in PROBLEMS for n in set(PART[p].tolist()))})
