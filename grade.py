"""Grade a class's Problem 3 and 5 numbers: each student's reading or known mistake, the first wrong
step, and a score from the rubric.

Commands:
  .venv/bin/python grade.py SUBMISSIONS.csv --out GRADES.csv      a class, one CSV row per student and problem
  .venv/bin/python grade.py SUBMISSIONS.csv --by-student --out BOOK.csv   one row per student: P3, P5, total
  .venv/bin/python grade.py --template p3 --intermediates --out FILE      the header row a class fills in
  .venv/bin/python grade.py --check p3 L=1.306 grad_1=-0.0043 grad_2=0.188
                                                                   one student, NAME=VALUE as the CSV's columns
  .venv/bin/python grade.py --self-check p3 L=3.0072 grad_1=-0.00996      a student's own check: ✓ or ✗ only
  .venv/bin/python grade.py --make-variant 7 --secret FILE --out-dir DIR  DIR/sheet-7.md and DIR/key-7.json
Flags:     --rtol (default 5e-5, argued in --help, at most 1e-2), --rubric FILE (the default is printed
           by --help), --sheets DIR (the issued variants, their keys' values used as given: rows on
           other variants are needs_review), --by-student, --template p3|p5 [--intermediates],
           --self-check, --make-variant N [--secret FILE] [--out-dir DIR]
Prints:    one line per row (verdict, reading, mistake, first wrong step, values matched of checked,
           score), then the count of each verdict; --check adds each value beside the reference.
Example:   tests/data/submissions_example.csv (graded in tests/test_grade.py); README, "For graders".
Runtime:   about 0.5 s of imports (--template), then, for 1,000 rows with every intermediate
           (`python -m bench.bench_grade`, 2 CPU cores shared, load 6-10): 0.75-1.4 s on the
           assignment's numbers; 3.5-6.9 s with each row on its own variant and those 1,000 sheets in
           --sheets (reading the 1,000 keys takes 1.0-1.7 s of it, json's decoding most of that).

The input and output columns are described in common/grading/submissions.py; the matching rule and
which values are decided in common/grading/steps.py; the readings and the verdicts in
common/grading/matching.py; the catalogue of mistakes in common/grading/mistakes.py; the
rubric in common/grading/rubric.py; the variants in common/grading/variants.py.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from common.core.cli import (
    FIGURES,
    Parser,
    UserError,
    run,
    writable_dir,
    writable_file,
    write_atomic,
    write_json_atomic,
)
from common.core.text import print_table
from common.grading.gradebook import (
    GRADEBOOK_COLUMNS,
    gradebook_rows,
    self_check_lines,
    template_columns,
)
from common.grading.matching import (
    DEFAULT_RTOL,
    Candidate,
    Grade,
    Values,
    grade,
    indistinguishable,
    readings_for,
)
from common.grading.mistakes import CATALOGUE, for_problem
from common.grading.rubric import DEFAULT, DEFAULT_RUBRIC, Rubric, parse_rubric
from common.grading.sheets import Sheets, sheet_name
from common.grading.solution import (
    KEYS,
    OWN,
    PROBLEMS,
    REFERENCE,
    Solver,
    assignment_sheet,
    label,
)
from common.grading.steps import FLOAT32_BAND_FACTOR, MATCH_RULE, decided, with_step
from common.grading.submissions import (
    KNOWN,
    Submission,
    grades_csv,
    output_row,
    parse_row,
    read_submissions,
)
from common.grading.variants import draw_sheet, sheet_markdown, variant_key

VERDICTS = ("other_sheet", "needs_review", "correct", "other_reading", "known_mistake", "wrong", "incomplete")
MAX_RTOL = 1e-2


def rtol_value(text: str) -> float:
    """argparse type of --rtol: a number in (0, MAX_RTOL]."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value <= MAX_RTOL:
        raise argparse.ArgumentTypeError(f"must be a number above 0 and at most {MAX_RTOL:g}, got {text!r}")
    return value


def variant_number(text: str) -> int:
    """argparse type of --make-variant: the variant's number, a whole number >= 0."""
    if not text.strip().isdigit():
        raise argparse.ArgumentTypeError(f"the variant's number must be a whole number >= 0, such as 7; got {text!r}")
    return int(text)


def out_file(text: str) -> Path:
    """argparse type of --out: a file in a folder that exists (named when it does not); a folder that
    is a file, or that cannot be written, is refused as writable_file refuses it."""
    folder = Path(text).parent
    if not folder.exists():
        raise argparse.ArgumentTypeError(f"the folder {folder} does not exist; create it first")
    return writable_file(text)


def smallest_change() -> tuple[float, str, str]:
    """(relative size, mistake id, value) of the smallest largest change that a catalogue entry makes to
    any value on the assignment's numbers, under the assignment's own reading."""
    solver, out = Solver(assignment_sheet()), []
    for problem in PROBLEMS:
        right = solver.values(problem, OWN)
        for m in for_problem(problem):
            rel = np.abs(solver.values(problem, OWN, m.change(REFERENCE)) - right) / np.maximum(np.abs(right), 1e-300)
            out.append((float(rel.max()), m.id, KEYS[problem][int(rel.argmax())]))
    return min(out)


def help_epilog() -> str:
    """The matching rule, the argument for the default rtol, the catalogue and the default rubric."""
    size, mistake, key = smallest_change()
    solver = Solver(assignment_sheet())
    hidden = [f"{m} ({p})" for p in PROBLEMS for m in indistinguishable(solver, p, DEFAULT_RTOL)]
    return "\n".join([
        f"Matching: {MATCH_RULE}.",
        "Readings: P3 with log e (the assignment's), 10 or 2 and h(0) = 0; P5 with the answer key's 12 rows "
        "(σ or tanh on the cell input, several biases); any reading a row states in its log, h0_*, "
        "cell_activation or bias columns; and P3's central differences computed in float32 (within "
        f"{FLOAT32_BAND_FACTOR:g} × the float32 rounding bound of common/grading/key.py).",
        f"Why rtol {DEFAULT_RTOL:g}: rtol only has to absorb the rounding a student carries beyond the last "
        f"digit written. The catalogue entry that changes the assignment's answers least is {mistake}: at most "
        f"{size:.1e} relative, at {key}. An rtol of {DEFAULT_RTOL:g}, half of that, keeps every entry apart "
        "from the right answer for a student who writes 5 significant digits.",
        "Entries that no 5-digit answer tells apart from the right one at the default rtol (assignment's "
        "numbers): " + (", ".join(hidden) if hidden else "none") + ".",
        "", "Catalogue of mistakes (id: what the student did):",
        *(f"  {m.id}: {m.text}" for m in CATALOGUE),
        "", "Default rubric (copy it to a file, edit, pass --rubric FILE):", DEFAULT_RUBRIC.rstrip(),
    ])


def build_parser() -> Parser:
    parser = Parser(description="Grade Problem 3 and 5 numbers: the reading or known mistake, the first "
                                "wrong step and a score, for a class (CSV) or one student (--check).",
                    formatter_class=_Formatter, epilog=help_epilog())
    parser.add_argument("submissions", nargs="?", type=Path, help="the class's CSV, one row per student and problem")
    parser.add_argument("--out", type=out_file, help="where to write the grades CSV (default: print only)")
    parser.add_argument("--check", nargs="+", metavar="ARG",
                        help="grade one student: PROBLEM then NAME=VALUE pairs named as the CSV's columns, "
                             "e.g. --check p3 L=3.0072 grad_1=-0.00996 variant=7")
    parser.add_argument("--self-check", nargs="+", metavar="ARG",
                        help="a student's check before handing in, as --check: ✓ or ✗ per value, the first "
                             "wrong step and the rule for digits, never a right value")
    parser.add_argument("--rtol", type=rtol_value, default=DEFAULT_RTOL,
                        help=f"relative tolerance of a match, in (0, {MAX_RTOL:g}] (see below)")
    parser.add_argument("--rubric", type=Path, help="rubric CSV (default: the one below)")
    parser.add_argument("--by-student", action="store_true",
                        help="write --out as a gradebook: one row per student, P3, P5 and the total")
    parser.add_argument("--sheets", type=Path, metavar="DIR",
                        help="the folder of issued variants (key-N.json); other variants are needs_review")
    parser.add_argument("--template", choices=PROBLEMS, help="write the header row of a class's CSV to --out")
    parser.add_argument("--intermediates", action="store_true", help="--template: every intermediate's column")
    parser.add_argument("--make-variant", type=variant_number, metavar="N",
                        help="write a problem sheet and its key for variant N, then stop")
    parser.add_argument("--secret", type=Path, metavar="FILE",
                        help="--make-variant: draw from the HMAC of N under this file's bytes, so that only "
                             "the secret rebuilds the sheet (grade such rows with --sheets)")
    parser.add_argument("--out-dir", type=writable_dir, default=FIGURES / "variants", help="folder for --make-variant")
    return parser


class _Formatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Defaults in the flags' help (where there is one), and the epilog's lines kept as written."""

    def _get_help_string(self, action: argparse.Action) -> str:
        return (action.help or "") if action.default is None else super()._get_help_string(action)


def check_cells(args: Sequence[str]) -> dict[str, str]:
    """--check's arguments as a CSV row: PROBLEM, then NAME=VALUE."""
    cells = {"student": "(command line)", "problem": args[0]}
    for arg in args[1:]:
        name, eq, value = arg.partition("=")
        if not eq or name not in KNOWN - {"student", "problem"}:
            raise UserError(f"--check: {arg!r} is not NAME=VALUE with a column name of the CSV, e.g. L=3.0072")
        cells[name] = value
    return cells


def grade_rows(rows: Sequence[Submission], sheets: Sheets, values: Values, rtol: float,
               rubric: Rubric) -> tuple[list[Submission], list[Grade]]:
    """Each row's grade, its verdicts tried in the order other_sheet, needs_review, then matching's;
    a row that cannot be read (problem, variant) is incomplete with 0 points. The rows come back with
    what a person must look at added to their review."""
    out_rows, grades = [], []
    for s in rows:
        if not s.gradable:
            s, g = s, Grade("incomplete", "", "", "", 0, 0, 0.0, 0.0)
        elif not sheets.is_issued(s.variant):
            s = s._replace(review=(*s.review, f"variant {s.variant} was not issued (no key-{s.variant}.json "
                                              f"in {sheets.folder})"))
            g = Grade("needs_review", "", "", "", 0, 0, 0.0, sum(p.points for (q, _), p in rubric.items()
                                                                 if q == s.problem))
        else:
            s, g = _graded(s, sheets, values, rtol, rubric)
        out_rows.append(s)
        grades.append(g)
    return out_rows, grades


EXPLAINED = ("correct", "other_reading", "known_mistake")  # every value explained on the row's own sheet


def _graded(s: Submission, sheets: Sheets, values: Values, rtol: float, rubric: Rubric) -> tuple[Submission, Grade]:
    """The row's grade on its own sheet; a row that its own sheet does not explain is checked for a copy."""
    g = grade(s.problem, s.variant, s.written, s.stated, values, rtol, rubric)
    s = s._replace(review=(*s.review, *g.review))
    if g.verdict in EXPLAINED:
        return s, g._replace(verdict="needs_review") if s.review else g
    ans = decided(s.problem, with_step(s.written, values.solver(s.variant).sheet.params.b), values.step(s.problem, s.variant))
    own = values.table(s.problem, s.variant, readings_for(s.problem, s.stated)).full(Candidate(OWN, None))
    source = sheets.copied_from(s.problem, s.variant, ans, rtol, own)
    if source != "":
        s = s._replace(review=(*s.review, f"matches {sheet_name(source)} on more values than its own sheet"))
        return s, g._replace(verdict="other_sheet", reading=sheet_name(source))
    return s, g._replace(verdict="needs_review") if s.review else g


def print_summary(rows: Sequence[Submission], grades: Sequence[Grade]) -> None:
    """One line per row, the count of each verdict, then the notes."""
    print_table(["line", "student", "problem", "variant", "verdict", "reading", "mistake", "first wrong",
                 "matched", "score"],
                [[str(s.line), s.student, s.problem, "" if s.variant is None else str(s.variant), g.verdict, g.reading,
                  g.mistake, g.first_wrong, f"{g.matched}/{g.checked}", f"{g.score:g}/{g.out_of:g}"]
                 for s, g in zip(rows, grades)])
    counts = [f"{v} {sum(g.verdict == v for g in grades)}" for v in VERDICTS]
    print(f"\n{len(grades)} rows: " + ", ".join(counts))
    for s in rows:
        for note in (*s.review, *s.notes):
            print(f"line {s.line} ({s.student}, {s.problem}): {note}")


def print_values(sub: Submission, g: Grade, values: Values) -> None:
    """--check: each value written beside the right one under the row's (preferred or closest) reading,
    and beside the catalogue entry's value for a known mistake."""
    reading = (g.best or OWN)._replace(cd_float32=False)
    table = values.table(sub.problem, sub.variant, readings_for(sub.problem, sub.stated))
    right = dict(zip(KEYS[sub.problem], table.full(Candidate(reading, None))))
    wrong = {} if g.cause is None else dict(zip(KEYS[sub.problem], table.full(Candidate(reading, g.cause))))
    print(f"\nunder {label(sub.problem, reading)}:")
    print_table(["value", "written", "digits", "right", *([g.cause.id] if g.cause else [])],
                [[k, f"{w.value:g}", str(w.digits), f"{right[k]:.8g}", *([f"{wrong[k]:.8g}"] if wrong else [])]
                 for k, w in sorted(sub.written.items(), key=lambda kw: KEYS[sub.problem].index(kw[0]))])


def make_variant(n: int, out_dir: Path, secret: bytes | None) -> dict[str, Any]:
    sheet = draw_sheet(n, secret)
    key = variant_key(n, sheet)
    write_atomic(out_dir / f"sheet-{n}.md", sheet_markdown(n, sheet).encode())
    write_json_atomic(out_dir / f"key-{n}.json", key)
    print(f"wrote {out_dir / f'sheet-{n}.md'} and {out_dir / f'key-{n}.json'}")
    return key


def check_flags(parser: Parser, args: argparse.Namespace) -> None:
    """One task per run: a CSV, --check, --self-check, --template or --make-variant."""
    tasks = [name for name, given in (("a submissions CSV", args.submissions is not None),
                                      ("--check", args.check is not None), ("--self-check", args.self_check is not None),
                                      ("--template", args.template is not None),
                                      ("--make-variant", args.make_variant is not None)) if given]
    if len(tasks) != 1:
        parser.error("give one of a submissions CSV, --check, --self-check, --template or --make-variant"
                     + (f", not {' and '.join(tasks)} together" if tasks else ""))
    if args.template and args.out is None:
        parser.error("--template needs --out FILE")
    if args.by_student and (args.submissions is None or args.out is None):
        parser.error("--by-student needs a submissions CSV and --out FILE")


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = build_parser()
    args = parser.parse_args(argv)
    check_flags(parser, args)
    if args.make_variant is not None:
        return make_variant(args.make_variant, args.out_dir, None if args.secret is None else _read(args.secret))
    if args.template:
        write_atomic(args.out, (",".join(template_columns(args.template, args.intermediates)) + "\n").encode())
        print(f"wrote {args.out}")
        return {"columns": template_columns(args.template, args.intermediates)}
    rubric = DEFAULT if args.rubric is None else parse_rubric(_read(args.rubric).decode("utf-8", "replace"),
                                                              str(args.rubric))
    one = args.check or args.self_check
    rows = [parse_row(0, check_cells(one))] if one else read_submissions(_read(args.submissions), str(args.submissions))
    if args.sheets is not None and not args.sheets.is_dir():
        raise UserError(f"--sheets: {args.sheets} is not a folder")
    sheets = Sheets(args.sheets, draw_sheet)
    values = Values(sheets.sheet_of, sheets.known_of)
    rows, grades = grade_rows(rows, sheets, values, args.rtol, rubric)
    if args.self_check:
        print("\n".join(self_check_lines(rows[0], grades[0], values, args.rtol) if rows[0].gradable
                        else [*rows[0].notes, *rows[0].review]))
        return {}
    print_summary(rows, grades)
    if args.check and rows[0].gradable:
        print_values(rows[0], grades[0], values)
    out = [output_row(s, g) for s, g in zip(rows, grades)]
    if args.out is not None:
        book = gradebook_rows(rows, out, rubric) if args.by_student else None
        write_atomic(args.out, grades_csv(out) if book is None else grades_csv(book, GRADEBOOK_COLUMNS))
        print(f"wrote {args.out}")
    return {"rows": out}


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror}") from None


if __name__ == "__main__":
    sys.exit(run(main))
