"""A class's submissions in, grades out: the spreadsheet side of grade.py.

Input: UTF-8 CSV (a byte-order mark is tolerated), one row per student and problem, separated by
commas, or by semicolons, whose decimal commas are then read as points. `student` and `problem` (p3
or p5) are required; every other column may be missing or empty. Headers match whatever their case;
an unknown header stops the run with one line naming the closest known column (`grade.py
--template` writes them all). Cells are read as text (read_number), so that the digits a student
wrote are known: -0.0043, −0.0043 (Unicode minus), 4.3e-3 and 4.3E-03 are read; trailing zeros count
as written digits. An unreadable cell (a decimal comma in a comma-separated file, a letter in a
number) or stated choice is listed in the row's `review`: the row is graded without it and its
verdict is needs_review (grade.py adds common/grading/matching.py's Grade.review there too). Columns:
- `variant`: empty for the assignment's own numbers, or N for variant N (grade.py --make-variant N);
- values, named as common/grading/solution.py's KEYS: finals `L`, `grad_1`, `grad_2` (∂L/∂b for P3, ∂L/∂b^f
  for P5), for P3 also `grad_cd_1`, `grad_cd_2`, `b_new_1`, `b_new_2`, `L_new`; intermediates
  `<name>@<t>_<i>` (t and i from 1), e.g. `dL_da@3_1`;
- `delta_b_1`, `delta_b_2`: P3 (4) as the step b − b_new (common/grading/steps.py);
- `comment`: free text, not graded;
- stated choices (STATED): `log` (e or ln, 10, 2), `h0_1`, `h0_2` (P3), `cell_activation` (sigmoid or
  tanh) and the biases `b_f_1` … `b_2` (P5; unstated ones are this repository's).
Two rows for one student and problem are an error that names both lines.

Output (OUTPUT_COLUMNS): one row per input row. No text cell starts with =, +, -, @, a tab or a
carriage return (safe_cell prefixes a '), so a spreadsheet never runs a student's text as a formula;
a row whose student cell was neutralised says so in its note.
"""
from __future__ import annotations

import csv
import difflib
import io
import re
from typing import Mapping, NamedTuple, Sequence

from common.core.cli import UserError
from common.grading.matching import Grade
from common.grading.solution import BIAS_NAMES, KEYS, OWN, PROBLEMS, Reading
from common.grading.steps import DELTA_COLUMNS, Written

STATED = ("log", "h0_1", "h0_2", "cell_activation",
          *(f"{name}_{i}" for name in BIAS_NAMES for i in (1, 2)))
ID_COLUMNS = ("student", "problem", "variant")
FREE = ("comment",)
KNOWN = frozenset((*ID_COLUMNS, *STATED, *KEYS["p3"], *KEYS["p5"], *DELTA_COLUMNS, *FREE))
CANONICAL = {k.lower(): k for k in KNOWN}
OUTPUT_COLUMNS = ("student", "problem", "variant", "verdict", "reading", "mistake", "first_wrong", "matched",
                  "explained", "checked", "score", "out_of", "review", "note")
LOG_WORDS = {"e": "e", "ln": "e", "10": "10", "2": "2"}
ACTIVATIONS = ("sigmoid", "tanh")
NUMBER = re.compile(r"[+-]?(?:(\d+)\.?(\d*)|\.(\d+))(?:[eE]([+-]?\d+))?")  # whole, fraction, exponent
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class Submission(NamedTuple):
    line: int  # where the row ends in the file (the header is line 1)
    student: str
    problem: str
    variant: int | None
    written: dict[str, Written]  # the readable values, by KEYS name
    stated: Reading | None  # the reading the student stated, if any
    notes: tuple[str, ...]  # ignored cells
    gradable: bool  # False: the problem or the variant cannot be read
    review: tuple[str, ...] = ()  # what a person must look at: unreadable cells and stated choices


def read_number(text: str) -> Written:
    """A number as written: its value, significant digits and half a unit of its last digit.
    ValueError (with the reason) for anything else."""
    s = text.strip().replace("\u2212", "-")
    m = NUMBER.fullmatch(s)
    if m is None:
        if NUMBER.fullmatch(s.replace(",", ".", 1)):
            raise ValueError("decimal comma: write a point")
        raise ValueError("not a number")
    whole, fraction, exponent = m[1] or "", m[2] or m[3] or "", m[4]
    return Written(float(s), len((whole + fraction).lstrip("0")), 0.5 * 10.0 ** (int(exponent or 0) - len(fraction)))


def _stated(problem: str, cells: Mapping[str, str], notes: list[str]) -> Reading | None:
    """The reading the row states in STATED columns (the unstated choices are OWN's), or None."""
    def number(name: str, default: float) -> float:
        text = cells.get(name, "").strip()
        try:
            return read_number(text).value if text else default
        except ValueError as exc:
            notes.append(f"{name}={text!r} unreadable ({exc}); {default:g} used")
            return default

    change: dict[str, object] = {}
    log = cells.get("log", "").strip().lower()
    if log and log not in LOG_WORDS:
        notes.append(f"log={log!r} unreadable (e, ln, 10 or 2); ignored")
    elif log:
        change["log"] = LOG_WORDS[log]
    if problem == "p3" and any(cells.get(f"h0_{i}", "").strip() for i in (1, 2)):
        change["h0"] = tuple(number(f"h0_{i}", 0.0) for i in (1, 2))
    act = cells.get("cell_activation", "").strip().lower()
    if problem == "p5" and act and act not in ACTIVATIONS:
        notes.append(f"cell_activation={act!r} unreadable (sigmoid or tanh); ignored")
    elif problem == "p5" and act:
        change["cell_activation"] = act
    names = [f"{name}_{i}" for name in BIAS_NAMES for i in (1, 2)]
    if problem == "p5" and any(cells.get(n, "").strip() for n in names):
        own = dict(zip(names, (v for b in OWN.biases for v in b)))
        flat = [number(n, own[n]) for n in names]
        change["biases"] = tuple(tuple(flat[2 * k: 2 * k + 2]) for k in range(len(BIAS_NAMES)))
    return OWN._replace(**change) if change else None


def parse_row(line: int, cells: Mapping[str, str]) -> Submission:
    """One row of the CSV, its cells keyed by column name."""
    student, problem = cells.get("student", "").strip(), cells.get("problem", "").strip().lower()
    notes: list[str] = []
    variant_text = cells.get("variant", "").strip()
    if problem not in PROBLEMS:
        notes.append(f"not graded: problem {cells.get('problem', '')!r} is neither p3 nor p5")
    if variant_text and not variant_text.isdigit():
        notes.append(f"not graded: variant {variant_text!r} is not a whole number >= 0")
    if notes:
        return Submission(line, student, problem, None, {}, None, tuple(notes), False)
    written, review = {}, []
    for key in (*KEYS[problem], *(DELTA_COLUMNS if problem == "p3" else ())):
        text = cells.get(key, "").strip()
        try:
            if text:
                written[key] = read_number(text)
        except ValueError as exc:
            review.append(f"{key}={text!r} unreadable ({exc}); left out")
    other = [k for k in KEYS["p5" if problem == "p3" else "p3"] if k not in KEYS[problem] and cells.get(k, "").strip()]
    if other:
        notes.append(f"not {problem.upper()} values, ignored: {', '.join(other)}")
    stated = _stated(problem, cells, review)
    return Submission(line, student, problem, int(variant_text) if variant_text else None, written, stated,
                      tuple(notes), True, tuple(review))


def canonical_header(header: Sequence[str], source: str) -> list[str]:
    """The header's names as KNOWN spells them, whatever their case. UserError naming the closest
    known column for a name that is not one."""
    out = []
    for h in header:
        name = h.strip()
        if name and name.lower() not in CANONICAL:
            close = difflib.get_close_matches(name.lower(), list(CANONICAL), n=1, cutoff=0.0)
            raise UserError(f"{source}: unknown column {name}: did you mean {CANONICAL[close[0]]}? "
                            "(grade.py --template p3 --intermediates --out FILE writes every column)")
        out.append(CANONICAL.get(name.lower(), name))
    return out


def read_submissions(data: bytes, source: str) -> list[Submission]:
    """Every non-empty row of a submissions CSV. UserError for a file that is not UTF-8, has an
    unknown column, lacks `student` or `problem`, or has two rows for one student and problem."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UserError(f"{source}: not UTF-8 (byte {exc.start}); save the spreadsheet as CSV UTF-8") from None
    first = text.split("\n", 1)[0]
    semicolon = first.count(";") > first.count(",")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=";" if semicolon else ",")
    header = canonical_header(next(reader, []), source)
    missing = [c for c in ("student", "problem") if c not in header]
    if missing:
        raise UserError(f"{source}: no column {' or '.join(missing)} in the header line {header!r}")
    twice = sorted({h for h in header if header.count(h) > 1 and h})
    if twice:
        raise UserError(f"{source}: column {', '.join(twice)} appears twice in the header")
    rows = []
    for cells in reader:
        if any(c.strip() for c in cells):
            row = dict(zip(header, cells))
            if semicolon:  # decimal commas: every cell but the student's name
                row = {k: v if k in ("student", *FREE) else v.replace(",", ".") for k, v in row.items()}
            rows.append(parse_row(reader.line_num, row))
    check_duplicates(rows, source)
    return rows


def check_duplicates(rows: Sequence[Submission], source: str) -> None:
    """UserError naming both lines of the first student and problem that has two rows."""
    seen: dict[tuple[str, str], int] = {}
    for row in rows:
        if row.gradable:
            key = (row.student, row.problem)
            if key in seen:
                raise UserError(f"{source}: lines {seen[key]} and {row.line} are both student {row.student!r}, "
                                f"problem {row.problem}: one row per student and problem")
            seen[key] = row.line


def is_number(text: str) -> bool:
    return NUMBER.fullmatch(text.strip()) is not None


def safe_cell(text: str) -> str:
    """The text, prefixed with ' where a spreadsheet would read it as a formula (numbers kept)."""
    return "'" + text if text.startswith(FORMULA_START) and not is_number(text) else text


NEUTRALISED = "the student cell starts like a formula: written with a leading '"


def output_row(sub: Submission, g: Grade) -> dict[str, str]:
    """A row of the grades, every cell text and safe."""
    notes = [*sub.notes, *g.notes] + ([NEUTRALISED] if safe_cell(sub.student) != sub.student else [])
    cells = {"student": sub.student, "problem": sub.problem, "variant": "" if sub.variant is None else str(sub.variant),
             "verdict": g.verdict, "reading": g.reading, "mistake": g.mistake, "first_wrong": g.first_wrong,
             "matched": str(g.matched), "explained": str(g.explained) if g.mistake else "",
             "checked": str(g.checked), "score": f"{g.score:g}", "out_of": f"{g.out_of:g}",
             "review": "; ".join(sub.review), "note": "; ".join(notes)}
    return {k: safe_cell(v) for k, v in cells.items()}


def grades_csv(rows: Sequence[dict[str, str]], columns: Sequence[str] = OUTPUT_COLUMNS) -> bytes:
    """The grades (or the gradebook) as UTF-8 CSV with a header line."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()
