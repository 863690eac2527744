"""Benchmark 6: grade.py's work on a class of 1,000 rows with intermediates.

The class: 500 students, each a P3 and a P5 row giving every value of common/grading/solution.py's KEYS
(forward values, L, central differences, every intermediate of the backward, the update, L_new) with
6 significant digits, as a spreadsheet holds them. Rows are dealt in turn: the right answer, another
reading of the answer key, each catalogue mistake under a key reading, an unknown mistake (every value
of the backward scaled by 1.1 from a step on), and forward values only (incomplete). Timed: parsing
the CSV text, grading every row with a fresh cache, and writing the grades' CSV text, i.e. all that
grade.py does after its imports, apart from the file system. Two cases: everyone on the assignment's
numbers (the goal), and everyone on their own variant (each row then computes its sheet's answers).
No tool grades this way, so there is no peer; before timing, every row's verdict (and mistake) must be
the one it was dealt.

    .venv/bin/python -m bench --only grade      (about 1 minute on 2 CPU cores; --quick: 40 rows)
"""
from __future__ import annotations

import csv
import io
from typing import Any

import numpy as np

from bench.common import OthersCPU, goal, interleaved, result, row
from common.grading.key import key_readings
from common.grading.matching import (
    DEFAULT_RTOL,
    Values,
    first_difference,
    grade,
    is_assignment_reading,
)
from common.grading.mistakes import PIECES, for_problem
from common.grading.rubric import DEFAULT
from common.grading.solution import HEAD, KEYS, OWN, PROBLEMS, REFERENCE, Solver
from common.grading.submissions import grades_csv, output_row, read_submissions
from common.grading.variants import sheet_of

GOAL_SECONDS = 2.0
STUDENTS = 500


def dealt(i: int, problem: str) -> tuple[str, Any, Any]:
    """Student i's (verdict, reading, mistake) on one problem: the class deals them in turn."""
    readings = key_readings(problem)
    others = [r for r in readings if not is_assignment_reading(problem, r)]
    mistakes = for_problem(problem)
    kinds = ["correct"] * 4 + ["other_reading"] + ["known_mistake"] * 3 + ["wrong"] * 2 + ["incomplete"]
    kind = kinds[i % len(kinds)]
    reading = others[i % len(others)] if kind == "other_reading" else OWN
    return kind, reading, mistakes[i % len(mistakes)] if kind == "known_mistake" else None


def class_csv(students: int, own_variants: bool) -> tuple[str, list[tuple[str, str]]]:
    """The class as CSV text, and each row's (verdict, mistake id) as dealt."""
    keys = list(dict.fromkeys(KEYS["p3"] + KEYS["p5"]))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=["student", "problem", "variant", *keys], lineterminator="\n")
    writer.writeheader()
    expected = []
    for i in range(students):
        variant = i if own_variants else None
        solver = Solver(sheet_of(variant))
        for problem in PROBLEMS:
            kind, reading, mistake = dealt(i, problem)
            v = solver.values(problem, reading, REFERENCE if mistake is None else PIECES[mistake.id])
            if mistake is not None and first_difference(v, solver.values(problem, reading), DEFAULT_RTOL) is None:
                kind, mistake = "correct", None  # this sheet hides the mistake (update_sign when lr ∂L/∂b is tiny)
            if kind == "wrong":  # an unknown mistake: the backward scaled from some step on
                start = HEAD[problem] + 2 + i % (len(v) - HEAD[problem] - 2)
                v = np.concatenate((v[:start], 1.1 * v[start:]))
            n = HEAD[problem] - 1 if kind == "incomplete" else len(v)
            writer.writerow({"student": f"s{i}", "problem": problem, "variant": "" if variant is None else variant,
                             **{k: f"{x:.5e}" for k, x in zip(KEYS[problem][:n], v[:n])}})
            expected.append((kind, mistake.id if mistake else ""))
    return out.getvalue(), expected


def grade_class(text: str) -> list[dict[str, str]]:
    """What grade.py does after its imports: parse, grade with a fresh cache, write the grades' CSV."""
    rows, _ = read_submissions(text.encode(), "class.csv")
    values = Values(sheet_of)
    out = [output_row(s, grade(s.problem, s.variant, s.written, s.stated, values, DEFAULT_RTOL, DEFAULT))
           for s in rows]
    grades_csv(out)
    return out


def run(quick: bool = False) -> dict[str, Any]:
    """The benchmark's result (bench.common.result); `quick`: 20 students, a smoke test."""
    students, repeats = (20, 3) if quick else (STUDENTS, 5)
    rows, detail, agree = [], {}, True
    for case, own in (("assignment's numbers", False), ("own variant per student", True)):
        text, expected = class_csv(students, own)
        got = [(g["verdict"], g["mistake"]) for g in grade_class(text)]
        wrong = [(i, e, g) for i, (e, g) in enumerate(zip(expected, got)) if e[0] != g[0] or not g[1].startswith(e[1])]
        agree &= not wrong
        with OthersCPU() as meter:
            timed = interleaved({"ours": lambda: grade_class(text)}, repeats=repeats, warmup=0, min_seconds=0.0)
        rows.append(row(f"{2 * students} rows, {case}", timed["ours"], None,
                        target=f"<= {GOAL_SECONDS:g} s" if not own else None,
                        note=f"{len(KEYS['p3'])} P3 and {len(KEYS['p5'])} P5 values per complete row"))
        detail[case] = {"others_cpu": meter.share, "ours": timed["ours"], "disagreements": wrong[:5]}
    median = rows[0]["ours"]["median"]
    goals = [goal(f"{2 * STUDENTS:,} rows with intermediates in under {GOAL_SECONDS:g} s after imports on 2 cores",
                  None if quick else bool(median <= GOAL_SECONDS),
                  f"{median:.2f} s (median of {repeats}) on the assignment's numbers; "
                  f"{rows[1]['ours']['median']:.2f} s with a variant per student")]
    return result("grade", "grade.py: a class of 1,000 rows", quick, ours="common.grading.matching via grade.py's steps",
                  peer="none (no tool grades readings and mistakes)", agree=agree,
                  agreement="every row's verdict, and mistake for known_mistake, is the one it was dealt"
                            + ("" if agree else f": {sum(len(d['disagreements']) for d in detail.values())} differ"),
                  rows=rows, goals=goals,
                  notes=["Each sample grades the whole class once with a fresh cache (grade.py's run): "
                         f"median (min–max) over {repeats} samples.",
                         "Dealt in turn: 4 right, 1 other reading, 3 catalogue mistakes, 2 unknown mistakes, "
                         "1 incomplete in every 11 rows.",
                         "Other processes took " + ", ".join(f"{100 * (d['others_cpu'] or 0):.0f}% ({case})"
                                                             for case, d in detail.items())
                         + " of the CPUs while the cases were timed."],
                  config={"students": students, "rows": 2 * students, "rtol": DEFAULT_RTOL, "repeats": repeats},
                  detail=detail)
