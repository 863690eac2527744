"""Grading one student's Problem 3 or 5: match what they wrote against every reading and every
catalogue mistake, then give a verdict, the first wrong step, the values matched and a score.

The matching rule, its tolerances and which values are decided are common/grading/steps.py's.

Verdicts, tried in this order, the assignment's own reading first within each:
- `correct` / `other_reading`: every checked value matches one reading (float64); correct when that
  reading is the assignment's own (P3: natural log, h(0) = 0; P5: σ on the cell input, natural log,
  any biases). All the matching readings are named.
- `known_mistake`: every checked value matches one catalogue entry (common/grading/mistakes.py) under one
  reading; `first_wrong` is the first step where that mistake changes a 5-digit answer.
- the same two with part (2) read in float32 (P3 rows that give central differences);
- `wrong`: the closest reading is the one with the most matching values (ties: the smallest median
  relative error); `first_wrong` is the student's first value that does not match it.
`incomplete` replaces the verdict of a row with neither L nor a gradient among its checked values.
Scores (common/grading/rubric.py): the points of each checked part before the first wrong step, the
before_wrong share of the part that holds it when one of its checked values before it is right
(right_before), or for P3 (4) the share of its decided b_new components that are right (components), and the carried share of each later part that follows from the row's own values
(_carried). A row goes to a person (Grade.review, grade.py's needs_review) when a value it wrote is
not decided, when its first wrong step is in (1) and its later gradient parts cannot be shown to
follow from its own values (_unchecked), or when its first wrong step is an intermediate of P3 (3)
or P5 (2) and that part's final gradient is right (lone_intermediate).
"""
from __future__ import annotations

from typing import Callable, NamedTuple, Sequence

import numpy as np

from common.grading.key import key_readings
from common.grading.mistakes import (
    PIECES,
    Candidate,
    Mistake,
    candidate_blocks,
    for_problem,
    pieces_of,
)
from common.grading.rubric import Credit, Rubric, score
from common.grading.solution import (
    HEAD,
    INDEX,
    OWN,
    PART,
    PROBLEMS,
    REFERENCE,
    STEP,
    Known,
    Reading,
    Sheet,
    Solver,
    T,
    label,
)
from common.grading.steps import (
    B_NEW,
    FINAL_GRADIENT,
    GRADIENT_PART,
    IS_CENTRAL,
    MIN_DIGITS,
    Answers,
    Written,
    components,
    decided,
    first_difference,
    fits,
    float32_band,
    lone_intermediate,
    own_b_new,
    right_before,
    step_follows,
    step_sizes,
    undecided_notes,
    with_step,
)

DEFAULT_RTOL = 5e-5
FINALS = ("L", "grad_1", "grad_2", "grad_cd_1", "grad_cd_2")  # a row without any of these is incomplete


def is_assignment_reading(problem: str, reading: Reading) -> bool:
    """Whether the reading is the assignment's own: P5 leaves the biases to the student."""
    if problem == "p3":
        return reading == OWN
    return reading.cell_activation == OWN.cell_activation and reading.log == OWN.log


KEY_READINGS = {p: sorted(key_readings(p), key=lambda r: r != OWN) for p in PROBLEMS}  # the assignment's first


def readings_for(problem: str, stated: Reading | None) -> list[Reading]:
    """The answer key's readings, the assignment's own first, then the student's stated one."""
    readings = KEY_READINGS[problem]
    return readings + ([stated] if stated is not None and stated not in readings else [])


class Grade(NamedTuple):
    verdict: str
    reading: str  # the matching readings' labels joined with ';', the preferred first (or the closest)
    mistake: str  # the matching catalogue entries' ids joined with ';'
    first_wrong: str  # a STEP name of common/grading/solution.py, or ''
    matched: int
    checked: int
    score: float
    out_of: float
    best: Reading | None = None  # the preferred (or closest) reading
    cause: Mistake | None = None  # the preferred catalogue entry, for known_mistake
    explained: int = 0  # known_mistake: the checked values that the mistake explains
    credit: Credit = Credit()  # what the score counts, part by part
    notes: tuple[str, ...] = ()  # credit given for carried work, intermediates missing
    review: tuple[str, ...] = ()  # what a person must check: grade.py marks the row needs_review


READINGS, MISTAKES = "readings", "mistakes"  # a table's two blocks of candidates


class Table:
    """The candidates of one problem, sheet and list of readings: every reading (READINGS), then every
    reading with every catalogue entry that applies (MISTAKES). Part (1) of a block's candidates is
    one matrix, computed on first use; a candidate's full values are computed when a row needs them."""

    def __init__(self, solver: Solver, problem: str, readings: Sequence[Reading]) -> None:
        self.problem, self.solver = problem, solver
        self._blocks = dict(zip((READINGS, MISTAKES), candidate_blocks(tuple(readings), for_problem(problem))))
        self.blocks = {name: block.candidates for name, block in self._blocks.items()}
        self._heads: dict[str, np.ndarray] = {}
        self._full: dict[Candidate, np.ndarray] = {}

    def heads(self, block: str) -> np.ndarray:
        """(candidates, HEAD) part-(1) values of a block: each distinct forward pass and loss once."""
        if block not in self._heads:
            b = self._blocks[block]
            forwards = [self.solver.forward(self.problem, reading, act) for reading, act in b.forwards]
            losses = np.array([p.loss(forwards[f][1], b.forwards[f][0].log) for f, p in b.losses], dtype=float)
            self._heads[block] = np.column_stack((np.stack([v for v, _ in forwards])[b.forward_of],
                                                  losses[b.loss_of]))
        return self._heads[block]

    def full(self, c: Candidate) -> np.ndarray:
        """Every value of KEYS[problem] for one candidate."""
        if c not in self._full:
            self._full[c] = self.solver.values(self.problem, c.reading, pieces_of(c))
        return self._full[c]


class Values:
    """The tables of every sheet and list of readings, computed on first use and kept.
    `sheet_of(variant)` gives a variant's numbers (None: the assignment's), `known_of(variant)` the
    right values its key holds (common/grading/sheets.py)."""

    def __init__(self, sheet_of: Callable[[int | None], Sheet],
                 known_of: Callable[[int | None], Known] = lambda variant: {}) -> None:
        self._sheet_of, self._known_of = sheet_of, known_of
        self._solvers: dict[int | None, Solver] = {}
        self._tables: dict[tuple, Table] = {}
        self._steps: dict[int | None, np.ndarray] = {}

    def solver(self, variant: int | None) -> Solver:
        if variant not in self._solvers:
            self._solvers[variant] = Solver(self._sheet_of(variant), self._known_of(variant))
        return self._solvers[variant]

    def step(self, problem: str, variant: int | None) -> np.ndarray | None:
        """P3's step sizes on the variant's sheet under the assignment's reading (steps.step_sizes); None for P5."""
        if problem != "p3":
            return None
        if variant not in self._steps:
            right = self.solver(variant).values(problem, OWN)
            self._steps[variant] = step_sizes(right[[INDEX[problem]["grad_1"], INDEX[problem]["grad_2"]]])
        return self._steps[variant]

    def table(self, problem: str, variant: int | None, readings: Sequence[Reading]) -> Table:
        key = (problem, variant, tuple(readings))
        if key not in self._tables:
            self._tables[key] = Table(self.solver(variant), problem, readings)
        return self._tables[key]


def _subset(ans: Answers, keep: np.ndarray) -> Answers:
    return Answers(ans.idx[keep], ans.value[keep], ans.half[keep])


def full_matches(table: Table, block: str, ans: Answers, rtol: float, banded: bool) -> list[Candidate]:
    """The block's candidates under which every decided value matches, in the block's order. Part (1)
    is checked first on the block's matrix; only the candidates left need their backward pass."""
    cands, early = table.blocks[block], ans.idx < HEAD[table.problem]
    ok = fits(table.problem, _subset(ans, early), table.heads(block), rtol, banded).all(axis=1) \
        if early.any() else np.ones(len(cands), dtype=bool)
    left = [c for c, k in zip(cands, ok) if k]
    if left and not early.all():
        full = np.stack([table.full(c) for c in left])
        ok = fits(table.problem, _subset(ans, ~early), full, rtol, banded).all(axis=1)
        left = [c for c, k in zip(left, ok) if k]
    return left


def grade(problem: str, variant: int | None, written: dict[str, Written], stated: Reading | None,
          values: Values, rtol: float, rubric: Rubric) -> Grade:
    """The verdict and score of one row; see the module docstring for the order of the tries."""
    b, step = values.solver(variant).sheet.params.b, values.step(problem, variant)
    written = with_step(written, b)
    ans = decided(problem, written, step)
    table = values.table(problem, variant, readings_for(problem, stated))
    banded = (False, True) if IS_CENTRAL[problem][ans.idx].any() else (False,)
    g = None
    for band in banded if len(ans.idx) else ():
        for block in (READINGS, MISTAKES):
            found = full_matches(table, block, ans, rtol, band)
            if found:
                g = _verdict(table, ans, rtol, found, band)
                break
        if g is not None:
            break
    g = _credited(table, _wrong(table, ans, rtol, banded) if g is None else g, ans, written, b, rtol, step)
    g = g._replace(review=(*g.review, *undecided_notes(written, step)))
    g = g._replace(score=score(rubric, problem, g.credit)[0], out_of=score(rubric, problem, g.credit)[1])
    finals = {INDEX[problem][k] for k in FINALS if k in INDEX[problem]}
    return g if finals & set(ans.idx.tolist()) else g._replace(verdict="incomplete")


def _credited(table: Table, g: Grade, ans: Answers, written: dict[str, Written], b: np.ndarray, rtol: float,
              step: np.ndarray | None) -> Grade:
    """The grade with its no_work parts (the gradient part without intermediates), _carried's parts
    and what a person must check (_unchecked)."""
    problem, credit, notes = table.problem, g.credit, list(g.notes)
    part = GRADIENT_PART[problem]
    shown = set(ans.idx[PART[problem][ans.idx] == part].tolist())
    if shown and shown <= FINAL_GRADIENT[problem]:
        credit = credit._replace(no_work=frozenset({part}))
        notes.append(f"part ({part}) has final values only: its intermediates earn the rest")
    carried = _carried(table, g, written, b, rtol, step)
    if carried:
        credit = credit._replace(carried=frozenset(carried))
        notes.append("carried from the row's own values: " + ", ".join(f"({p})" for p in sorted(carried)))
    review = _unchecked(problem, g, carried, written)
    return g._replace(credit=credit, notes=tuple(notes), review=(*g.review, *review))


def _carried(table: Table, g: Grade, written: dict[str, Written], b: np.ndarray, rtol: float,
             step: np.ndarray | None) -> set[int]:
    """The parts after the first wrong step that follow from the row's own values: a known mistake's
    every checked one (its values are that mistake's worked chain); a `wrong` row's P3 (2) and (3)
    after a wrong (1) when its (3) gradient matches its own (2) central differences (gradients_agree);
    and in any row P3 (4) when b_new is one step of the row's own gradient and (5) when L_new is the
    loss at the row's own b_new."""
    first = g.credit.first_wrong
    if first is None:
        return set()
    carried = {p for p in g.credit.checked if p > first} if g.verdict == "known_mistake" else set()
    if table.problem == "p3":
        if g.verdict == "wrong" and first == 1 and gradients_agree(written, rtol):
            carried |= {2, 3} & g.credit.checked
        if first <= 4 and step_follows(written, b, step):
            carried.add(4)
        if first <= 5 and _loss_follows(table, g, written, step, rtol):
            carried.add(5)
    return carried


def gradients_agree(written: dict[str, Written], rtol: float) -> bool:
    """Whether the row's P3 (3) gradient matches its own (2) central differences, component by
    component: within MATCH_RULE (the larger half unit of the two) or the float32 band from the row's L."""
    if not gradients_given(written):
        return False
    band = float32_band(written["L"].value if "L" in written else 1.0)
    return all(abs(written[g].value - written[c].value)
               <= max(written[g].half_unit, written[c].half_unit, rtol * abs(written[c].value), band)
               for g, c in (("grad_1", "grad_cd_1"), ("grad_2", "grad_cd_2")))


def _unchecked(problem: str, g: Grade, carried: set[int], written: dict[str, Written]) -> list[str]:
    """What a person must check in a `wrong` row whose first wrong step is in (1): the later gradient
    parts that grade.py cannot show to follow from the row's own values."""
    if g.verdict != "wrong" or g.credit.first_wrong != 1:
        return []
    later = sorted(({2, 3} if problem == "p3" else {2}) & g.credit.checked - carried)
    if not later:
        return []
    why = ("P5 sheets give no central differences to check ∂L/∂b^f against" if problem == "p5" else
           "its (3) gradient does not match its own (2) central differences" if gradients_given(written) else
           "it lacks (2) or (3) to check one against the other")
    return [f"after a wrong (1), parts {', '.join(f'({p})' for p in later)} are not checked: {why}"]


def gradients_given(written: dict[str, Written]) -> bool:
    """Whether the row gives both P3 gradients, (3)'s and (2)'s, with MIN_DIGITS digits."""
    return all(k in written and written[k].digits >= MIN_DIGITS for k in ("grad_1", "grad_2", "grad_cd_1", "grad_cd_2"))


def _loss_follows(table: Table, g: Grade, written: dict[str, Written], step: np.ndarray | None, rtol: float) -> bool:
    """Whether L_new is the loss at the row's own b_new, under the row's reading (and its mistake's loss)."""
    b_new = own_b_new(written, step)
    if b_new is None or "L_new" not in written or written["L_new"].digits < MIN_DIGITS:
        return False
    pieces = REFERENCE if g.cause is None else PIECES[g.cause.id]
    loss = table.solver.loss_at(g.best or OWN, pieces, b_new)
    return abs(written["L_new"].value - loss) <= max(written["L_new"].half_unit, rtol * abs(loss))


def _label(problem: str, c: Candidate, banded: bool) -> str:
    return label(problem, c.reading._replace(cd_float32=banded))


def _right_matches(table: Table, ans: Answers, reading: Reading, rtol: float, banded: bool) -> np.ndarray:
    """Whether each decided value matches the right answer under `reading`."""
    return fits(table.problem, ans, table.full(Candidate(reading, None))[None, :], rtol, banded)[0]


def _verdict(table: Table, ans: Answers, rtol: float, found: list[Candidate], banded: bool) -> Grade:
    """correct, other_reading or known_mistake, from the full matches (the preferred one first)."""
    problem, best = table.problem, found[0]
    names = list(dict.fromkeys(_label(problem, c, banded) for c in found))
    reading = best.reading._replace(cd_float32=banded)
    credit = Credit(frozenset(PART[problem][ans.idx].tolist()), None, is_assignment_reading(problem, reading))
    if best.mistake is None:
        return Grade("correct" if credit.own_reading else "other_reading", ";".join(names), "", "",
                     len(ans.idx), len(ans.idx), 0.0, 0.0, reading, credit=credit)
    ids = [c.mistake.id for c in found if c.reading == best.reading]
    first = first_difference(problem, table.full(best), table.full(Candidate(best.reading, None)), rtol)
    right = _right_matches(table, ans, best.reading, rtol, banded)
    return Grade("known_mistake", ";".join(names), ";".join(ids), "" if first is None else STEP[problem][first],
                 int(right.sum()), len(ans.idx), 0.0, 0.0, reading, best.mistake, len(ans.idx),
                 credit._replace(first_wrong=None if first is None else int(PART[problem][first]),
                                 partial=right_before(problem, ans, first),
                                 components=components(problem, ans, right, first)))


def _wrong(table: Table, ans: Answers, rtol: float, banded: Sequence[bool]) -> Grade:
    """`wrong`: the reading with the most matching values (ties: the smallest median relative error,
    then the readings' order), the student's first value that does not match it."""
    problem = table.problem
    if not len(ans.idx):
        return Grade("wrong", "", "", "", 0, 0, 0.0, 0.0)
    cands = table.blocks[READINGS]
    full = np.stack([table.full(c) for c in cands])
    rel = np.median(np.abs(ans.value - full[:, ans.idx]) / np.maximum(np.abs(full[:, ans.idx]), 1e-300), axis=1)
    ranked = [(-int(ok.sum()), rel[i], band, i, ok) for band in banded
              for i, ok in enumerate(fits(problem, ans, full, rtol, band))]
    _, _, band, i, ok = min(ranked, key=lambda r: r[:4])
    reading = cands[i].reading._replace(cd_float32=band)
    first = int(ans.idx[np.argmin(ok)]) if not ok.all() else None
    credit = Credit(frozenset(PART[problem][ans.idx].tolist()), None if first is None else int(PART[problem][first]),
                    is_assignment_reading(problem, reading), partial=right_before(problem, ans, first),
                    components=components(problem, ans, ok, first))
    return Grade("wrong", label(problem, reading), "", "" if first is None else STEP[problem][first],
                 int(ok.sum()), len(ans.idx), 0.0, 0.0, reading, credit=credit,
                 review=lone_intermediate(problem, ans, ok, first))


def indistinguishable(solver: Solver, problem: str, rtol: float) -> list[str]:
    """The catalogue entries that no 5-significant-digit answer tells apart from the right one on
    `solver`'s sheet under the assignment's own reading, at this rtol."""
    return [row["id"] for row in catalogue(solver, rtol, (problem,)) if row["indistinguishable"]]


def _final(problem: str, v: np.ndarray, names: Sequence[str]) -> list[float] | None:
    """The values `names` (a vector's components, KEYS names) of `v`, or None where the problem has none."""
    return [float(v[INDEX[problem][k]]) for k in names] if names[0] in INDEX[problem] else None


def final_values(problem: str, v: np.ndarray) -> dict[str, list[float] | float | None]:
    """ŷ(3), L, the gradient asked for, the central differences, b_new and L_new of a KEYS vector
    (None where the problem has no such value)."""
    new = _final(problem, v, ("L_new",))
    return {"yhat3": _final(problem, v, (f"yhat@{T}_1", f"yhat@{T}_2")), "loss": float(v[INDEX[problem]["L"]]),
            "grad": _final(problem, v, ("grad_1", "grad_2")), "grad_cd": _final(problem, v, ("grad_cd_1", "grad_cd_2")),
            "b_new": _final(problem, v, B_NEW), "loss_new": None if new is None else new[0]}


def catalogue(solver: Solver, rtol: float, problems: Sequence[str] = PROBLEMS) -> list[dict]:
    """One row per catalogue entry and problem it applies to, on `solver`'s sheet under the
    assignment's own reading: the entry's values, its first wrong step ('' when a 5-digit answer
    shows none) and whether it is indistinguishable from the right answer there."""
    rows = []
    for problem in problems:
        right = solver.values(problem, OWN)
        for m in for_problem(problem):
            wrong = solver.values(problem, OWN, PIECES[m.id])
            first = first_difference(problem, wrong, right, rtol)
            rows.append({"problem": problem, "id": m.id, "name": m.text,
                         "first_wrong": "" if first is None else STEP[problem][first],
                         "values": final_values(problem, wrong), "indistinguishable": first is None})
    return rows
