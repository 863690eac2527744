"""Benchmark 6: grade.py's work on a class of 1,000 rows with intermediates.

Two cases. On the assignment's numbers: 500 students, each a P3 and a P5 row. On their own variants:
1,000 students, each one row (P3 and P5 in turn) on its own variant, graded with `--sheets` naming a
folder of those 1,000 sheets (key-N.json holding what grade.py reads from a key: x, the parameters and
the values under every key reading). Every row gives every value of
common/grading/solution.py's KEYS (forward values, L, central differences, every intermediate of the
backward, the update, L_new) with 6 significant digits (b_new with 8), as a spreadsheet holds them.
Rows are dealt in turn: the right answer, another reading of the answer key, each catalogue mistake
under a key reading, an unknown mistake (every value of the backward scaled by 1.1 from a step on),
and forward values only (incomplete); a P3 row on a sheet whose step is too small for 8 digits of
b_new to decide either component is dealt needs_review. Timed: parsing the CSV text, reading the sheets, grading every
row with a fresh cache (the copy check against every sheet included), and writing the grades' CSV
text, i.e. all that grade.py does after its imports. No tool grades this way, so there is no peer;
before timing, every row's verdict (and mistake) must be the one it was dealt.

    .venv/bin/python -m bench --only grade         (a few minutes on 2 CPU cores; --quick: 40 rows)
    .venv/bin/python -m bench.bench_grade          one measured run of each 1,000-row case, printed
"""
from __future__ import annotations

import csv
import io
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from bench.common import OthersCPU, goal, interleaved, result, row
from common.grading.key import key_readings
from common.grading.matching import DEFAULT_RTOL, Values, is_assignment_reading
from common.grading.mistakes import PIECES, for_problem
from common.grading.rubric import DEFAULT
from common.grading.sheets import Sheets
from common.grading.solution import HEAD, KEYS, OWN, PROBLEMS, REFERENCE, Solver
from common.grading.steps import (
    B_NEW,
    STEP_SHARE,
    digit_half_unit,
    first_difference,
    step_sizes,
)
from common.grading.submissions import grades_csv, output_row, read_submissions
from common.grading.variants import draw_sheet, sheet_of
from grade import grade_rows

GOALS = {"assignment's numbers": 2.0, "own variant per row, --sheets": 5.0}  # seconds for 1,000 rows
ROWS = 1000


def dealt(i: int, problem: str) -> tuple[str, Any, Any]:
    """Student i's (verdict, reading, mistake) on one problem: the class deals them in turn."""
    readings = key_readings(problem)
    others = [r for r in readings if not is_assignment_reading(problem, r)]
    mistakes = for_problem(problem)
    kinds = ["correct"] * 4 + ["other_reading"] + ["known_mistake"] * 3 + ["wrong"] * 2 + ["incomplete"]
    kind = kinds[i % len(kinds)]
    reading = others[i % len(others)] if kind == "other_reading" else OWN
    return kind, reading, mistakes[i % len(mistakes)] if kind == "known_mistake" else None


def plan(rows: int, own_variants: bool) -> list[tuple[int, str, int | None]]:
    """(student, problem, variant) of each row: on the assignment's numbers every student hands in P3
    and P5; on own variants each student hands in one of them (in turn) on variant = the student."""
    if own_variants:
        return [(i, PROBLEMS[i % 2], i) for i in range(rows)]
    return [(i, problem, None) for i in range(rows // 2) for problem in PROBLEMS]


def student_values(i: int, problem: str, solver: Solver) -> tuple[np.ndarray, str, str]:
    """Row i's values as dealt, its verdict and its mistake id."""
    kind, reading, mistake = dealt(i, problem)
    v = solver.values(problem, reading, REFERENCE if mistake is None else PIECES[mistake.id])
    if mistake is not None and first_difference(problem, v, solver.values(problem, reading), DEFAULT_RTOL) is None:
        kind, mistake = "correct", None  # this sheet hides the mistake (update_sign when lr ∂L/∂b is tiny)
    if kind == "wrong":  # an unknown mistake: the backward scaled from some step on
        start = HEAD[problem] + 2 + i % (len(v) - HEAD[problem] - 2)
        v = np.concatenate((v[:start], 1.1 * v[start:]))
    n = HEAD[problem] - 1 if kind == "incomplete" else len(v)
    if kind != "incomplete" and problem == "p3" and not decided_step(solver, v).any():
        kind, mistake = "needs_review", None  # the step is too small for 8 digits of b_new to decide (nor update_sign)
    return v[:n], kind, mistake.id if mistake else ""


def decided_step(solver: Solver, v: np.ndarray) -> np.ndarray:
    """Whether each b_new component of a P3 row, written with 8 significant digits, is decided on the
    solver's sheet (common/grading/steps.py's rule)."""
    right = solver.values("p3", OWN)
    step = step_sizes(right[[KEYS["p3"].index("grad_1"), KEYS["p3"].index("grad_2")]])
    b_new = v[[KEYS["p3"].index(k) for k in B_NEW]]
    return digit_half_unit(b_new, 8) <= STEP_SHARE * step


def class_csv(rows: int, own_variants: bool) -> tuple[str, list[tuple[str, str]]]:
    """The class as CSV text, and each row's (verdict, mistake id) as dealt."""
    keys = list(dict.fromkeys(KEYS["p3"] + KEYS["p5"]))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=["student", "problem", "variant", *keys], lineterminator="\n")
    writer.writeheader()
    expected, solvers = [], {}
    for i, problem, variant in plan(rows, own_variants):
        solver = solvers.setdefault(variant, Solver(sheet_of(variant)))
        v, kind, mistake = student_values(i, problem, solver)
        writer.writerow({"student": f"s{i}", "problem": problem, "variant": "" if variant is None else variant,
                         **{k: f"{x:.7e}" if k.startswith("b_new") else f"{x:.5e}" for k, x in zip(KEYS[problem], v)}})
        expected.append((kind, mistake))
    return out.getvalue(), expected


def write_sheets(variants: Sequence[int], folder: Path) -> None:
    """key-N.json for each variant, holding what grade.py --sheets reads from a key: x, the parameters
    and the rows of every key reading with their values (grade.py --make-variant's key, without the
    columns the grader does not read)."""
    for n in variants:
        sheet = draw_sheet(n)
        solver = Solver(sheet)
        key = {"variant": n, "x": sheet.x.tolist(),
               "params": {k: v.tolist() for k, v in sheet.params._asdict().items()},
               "rows": [{"problem": p, "values": dict(zip(KEYS[p], solver.values(p, r).tolist()))}
                        for p in PROBLEMS for r in key_readings(p)]}
        (folder / f"key-{n}.json").write_text(json.dumps(key))


def grade_class(text: str, folder: Path | None) -> list[dict[str, str]]:
    """What grade.py does after its imports: parse, read the sheets, grade with a fresh cache (and the
    copy check against every sheet), write the grades' CSV."""
    rows = read_submissions(text.encode(), "class.csv")
    sheets = Sheets(folder, draw_sheet)
    values = Values(sheets.sheet_of, sheets.known_of)
    rows, grades = grade_rows(rows, sheets, values, DEFAULT_RTOL, DEFAULT)
    out = [output_row(s, g) for s, g in zip(rows, grades)]
    grades_csv(out)
    return out


def disagreements(expected: list[tuple[str, str]], out: list[dict[str, str]]) -> list[tuple[int, Any, Any]]:
    got = [(g["verdict"], g["mistake"]) for g in out]
    return [(i, e, g) for i, (e, g) in enumerate(zip(expected, got)) if e[0] != g[0] or not g[1].startswith(e[1])]


def case(name: str, rows: int, folder: Path) -> tuple[str, Path | None, list]:
    """The class's CSV text and its sheets folder (None on the assignment's numbers), written into
    `folder`, with the rows that the grades do not give as dealt."""
    own = name != "assignment's numbers"
    text, expected = class_csv(rows, own)
    sheets = None
    if own:
        sheets = folder / "sheets"
        sheets.mkdir(exist_ok=True)
        write_sheets([v for _, _, v in plan(rows, own)], sheets)
    return text, sheets, disagreements(expected, grade_class(text, sheets))


def run(quick: bool = False) -> dict[str, Any]:
    """The benchmark's result (bench.common.result); `quick`: 40 rows, a smoke test."""
    rows_n, repeats = (40, 3) if quick else (ROWS, 5)
    rows, detail, agree = [], {}, True
    with tempfile.TemporaryDirectory() as tmp:
        for name, limit in GOALS.items():
            text, sheets, wrong = case(name, rows_n, Path(tmp))
            agree &= not wrong
            with OthersCPU() as meter:
                timed = interleaved({"ours": lambda: grade_class(text, sheets)}, repeats=repeats, warmup=0,
                                    min_seconds=0.0)
            rows.append(row(f"{rows_n} rows, {name}", timed["ours"], None, target=f"<= {limit:g} s",
                            note=f"{len(KEYS['p3'])} P3 and {len(KEYS['p5'])} P5 values per complete row"))
            detail[name] = {"others_cpu": meter.share, "ours": timed["ours"], "disagreements": wrong[:5]}
    goals = [goal(f"{ROWS:,} rows with intermediates, {name}, in under {limit:g} s after imports on 2 cores",
                  None if quick else bool(r["ours"]["median"] <= limit), f"{r['ours']['median']:.2f} s (median of {repeats})")
             for (name, limit), r in zip(GOALS.items(), rows)]
    return result("grade", "grade.py: a class of 1,000 rows", quick, ours="common.grading.matching via grade.py's steps",
                  peer="none (no tool grades readings and mistakes)", agree=agree,
                  agreement="every row's verdict, and mistake for known_mistake, is the one it was dealt"
                            + ("" if agree else f": {sum(len(d['disagreements']) for d in detail.values())} differ"),
                  rows=rows, goals=goals,
                  notes=["Each sample grades the whole class once with a fresh cache (grade.py's run): "
                         f"median (min–max) over {repeats} samples.",
                         "Dealt in turn: 4 right, 1 other reading, 3 catalogue mistakes, 2 unknown mistakes, "
                         "1 incomplete in every 11 rows.",
                         "Other processes took " + ", ".join(f"{100 * (d['others_cpu'] or 0):.0f}% ({name})"
                                                             for name, d in detail.items())
                         + " of the CPUs while the cases were timed."],
                  config={"rows": rows_n, "rtol": DEFAULT_RTOL, "repeats": repeats}, detail=detail)


def main(argv: Sequence[str] | None = None) -> int:
    """One measured run of each 1,000-row case (after one untimed run that checks the verdicts)."""
    rows_n = int(argv[0]) if argv else ROWS
    with tempfile.TemporaryDirectory() as tmp:
        for name, limit in GOALS.items():
            text, sheets, wrong = case(name, rows_n, Path(tmp))
            t0 = time.perf_counter()
            grade_class(text, sheets)
            seconds = time.perf_counter() - t0
            print(f"{rows_n} rows, {name}: {seconds:.2f} s (goal {limit:g} s for {ROWS:,}); "
                  f"{len(wrong)} rows not graded as dealt")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
