"""Answer key for graders: Problems 3 and 5 under every reading of the assignment a student may take,
the catalogue of common mistakes on the assignment's numbers, and the default rubric.

Readings: P3 with the natural log (this repository's reading), log10 and log2, h(0) = 0; P5 with σ (eq.
10.41 as printed) or tanh on the cell input, forget bias b^f in {0, 1, 2}, the other biases at
p5_lstm.py's choice or all zero. Columns: ŷ(3), L, the gradient asked for (P3: ∂L/∂b; P5: ∂L/∂b^f) and,
for P3, b after one step of lr 0.002 and the loss there, and part (2)'s central differences in float64
and in float32 (PyTorch's default dtype; several percent off on b₁, because the rounding of each float32
loss, divided by 2ε, is a sizeable fraction of ∂L/∂b₁ itself). Every row's gradient is checked against
torch autograd when this runs; a disagreement above 1e-10 (relative) stops it with an error.

Command:   .venv/bin/python answer_key.py      (flags: --out figures)
Writes:    figures/answer_key.json, an object:
           readings: rows {problem, interpretation, yhat3, loss, grad, b_new, loss_new, grad_central,
             grad_central_float32, central_rounding_bound, eps, grad_central_float32_rel_diff,
             abs_grad_central_b1, float32_bound_share_of_grad_b1, float32_band_factor, float32_band}
             (P5 rows: the last eleven are null); float32_band is the width grade.py accepts around
             the float64 central differences for part (2) read in float32: float32_band_factor ×
             central_rounding_bound.float32 (common/grading/steps.py's FLOAT32_BAND_FACTOR);
           catalogue: one row per catalogue entry and problem it applies to, under the assignment's
             reading {problem, id, name, first_wrong, values {yhat3, loss, grad, grad_cd, b_new,
             loss_new}, indistinguishable} (common/grading/matching.py's `catalogue`);
           rubric: {match_rule {tolerance, half_unit, min_digits, step_digits, step_share,
             step_tolerance, step_float32_ulps, float32_unit}, rtol, parts [{problem, part, points,
             other_reading, no_work, carried, before_wrong, what}], step {lr, size, first_digit,
             half_unit_share_5, deciding_digits, float32_band} (the digits that decide each b_new
             component), example {mistake, verdict, score, out_of, first_wrong_part, carried,
             first_wrong_share} (grade.py's grade of a row whose only slip is loss_over_ln10, every
             value written), example_one_sided (the same for one_sided_difference), b_new_cases
             {b1_right_b2_wrong, b1_wrong_b2_right, b2_only: {score, points, digits}} (grade.py's score of
             P3 (4) alone), zero {written, digits, half_unit} (how a written 0.00 is checked)},
             grade.py's defaults.
           No string in it has more than 8 words: the words are report/key.py's and report/keydoc.py's.
Prints:    the readings as one table, 8 significant digits, then P3 (2) in float64 beside float32 as
           report/key.py renders it, then the catalogue
Runtime:   about 2 s on 2 CPU cores, most of it importing torch.

The rows are computed by common/grading/key.py (the math in common/recurrent/rnn.py, the autograd
cross-check and the float32 central differences in common/recurrent/rnn_autograd.py); `grade.py` grades
students against them.
"""
from __future__ import annotations

import sys
from typing import Any, Sequence

import numpy as np

from common.core.cli import Parser, add_out_argument, run, write_json_atomic
from common.core.text import print_table, sig
from common.grading.key import TOLERANCE, answer_key, key_readings
from common.grading.matching import DEFAULT_RTOL, Values, catalogue, final_values, grade
from common.grading.mistakes import PIECES
from common.grading.rubric import DEFAULT, rubric_parts
from common.grading.solution import KEYS, OWN, Sheet, Solver, assignment_sheet, label
from common.grading.steps import (
    B_NEW,
    FLOAT32_BAND_FACTOR,
    MATCH_FIELDS,
    STEP_DIGITS,
    STEP_SHARE,
    Written,
    digit_half_unit,
    float32_step_band,
)
from common.grading.submissions import read_number
from common.recurrent.problems import PROBLEM3_EPS, PROBLEM3_LR
from report.fields import wrap
from report.key import float32_table

DIGITS = 8  # every number of the printed tables


def print_rows(rows: list[dict[str, Any]]) -> None:
    """The key as one labelled table, every number with DIGITS significant digits."""
    readings = key_readings("p3") + key_readings("p5")
    print_table(["problem", "reading", "ŷ(3)", "L", "gradient (P3 ∂L/∂b, P5 ∂L/∂b^f)", "b_new", "L_new"],
                [[row["problem"], label(row["problem"], reading), sig(row["yhat3"], DIGITS),
                  sig(row["loss"], DIGITS), sig(row["grad"], DIGITS),
                  "-" if row["b_new"] is None else sig(row["b_new"], DIGITS),
                  "-" if row["loss_new"] is None else sig(row["loss_new"], DIGITS)]
                 for row, reading in zip(rows, readings)])


def with_float32_findings(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each row with what the float32 table cites (None on P5 rows): ε, float32's relative difference to
    float64 per component, |∂L/∂b1| by float64 central differences, the float32 rounding bound's share
    of it, and grade.py's float32 band: the factor and the width it accepts around the float64 values."""
    for row in rows:
        central, central32 = row["grad_central"], row["grad_central_float32"]
        p3 = central is not None
        row |= {"eps": PROBLEM3_EPS if p3 else None,
                "grad_central_float32_rel_diff": [abs(a - b) / abs(b) for a, b in zip(central32, central)] if p3
                else None,
                "abs_grad_central_b1": abs(central[0]) if p3 else None,
                "float32_bound_share_of_grad_b1": row["central_rounding_bound"]["float32"] / abs(central[0]) if p3
                else None,
                "float32_band_factor": FLOAT32_BAND_FACTOR if p3 else None,
                "float32_band": FLOAT32_BAND_FACTOR * row["central_rounding_bound"]["float32"] if p3 else None}
    return rows


def print_central(key: dict[str, Any]) -> None:
    """P3 (2) in float64 beside float32, and the band grade.py accepts, as the report renders them."""
    view = wrap(key, "answer_key.py's key", "answer_key.py")
    p3 = [row for row in view["readings"] if row["problem"] == "p3"]
    print("\n" + "\n".join(float32_table(p3, view["rubric"])).rstrip())


def print_catalogue(rows: list[dict[str, Any]]) -> None:
    """The catalogue on the assignment's numbers: each entry's first wrong step, L and gradient."""
    print()
    print_table(["problem", "mistake", "first wrong", "L", "gradient"],
                [[row["problem"], row["id"], row["first_wrong"] or "(none shows)", sig(row["values"]["loss"], DIGITS),
                  sig(row["values"]["grad"], DIGITS)] for row in rows])


def step_digits(sheet: Sheet) -> dict[str, Any]:
    """How many digits decide b_new, under the assignment's reading of P3: each component's step
    lr·|∂L/∂b|, the significant digit of b_new where the step first shows, the share of the step that
    half a unit of b_new's 5th digit is, the fewest digits whose half unit is at most STEP_SHARE of the
    step, and grade.py's float32 band around b_new."""
    v = final_values("p3", Solver(sheet).values("p3", OWN))
    b_new, size = np.array(v["b_new"]), PROBLEM3_LR * np.abs(v["grad"])
    first = np.floor(np.log10(np.abs(b_new))) - np.floor(np.log10(size)) + 1
    deciding = [next(d for d in range(1, 17) if digit_half_unit(b, d) <= STEP_SHARE * z) for b, z in zip(b_new, size)]
    return {"lr": PROBLEM3_LR, "size": size.tolist(), "first_digit": first.astype(int).tolist(),
            "half_unit_share_5": (digit_half_unit(b_new, 5) / size).tolist(), "deciding_digits": deciding,
            "float32_band": [float32_step_band(b) for b in b_new]}


EXAMPLE_MISTAKE = "loss_over_ln10"  # the key's worked example of the shares
ONE_SIDED = "one_sided_difference"  # the students' second worked example


def written(problem: str, values: np.ndarray) -> dict[str, Written]:
    """Every value of KEYS[problem] as a careful student writes it: 5 significant digits, b_new STEP_DIGITS."""
    return {k: read_number(f"{v:.{STEP_DIGITS - 1 if k in B_NEW else 4}e}") for k, v in zip(KEYS[problem], values)}


def shares_example(sheet: Sheet, mistake: str = EXAMPLE_MISTAKE) -> dict[str, Any]:
    """grade.py's default grade of a P3 row whose only slip is `mistake`, every value written."""
    values = Solver(sheet).values("p3", OWN, PIECES[mistake])
    g = grade("p3", None, written("p3", values), None, Values(lambda variant: sheet), DEFAULT_RTOL, DEFAULT)
    return {"mistake": mistake, "verdict": g.verdict, "score": g.score, "out_of": g.out_of,
            "first_wrong_part": g.credit.first_wrong, "carried": sorted(g.credit.carried),
            "first_wrong_share": DEFAULT["p3", g.credit.first_wrong].before_wrong if g.credit.partial else 0.0}


def b_new_cases(sheet: Sheet) -> dict[str, dict[str, Any]]:
    """grade.py's default score of P3 (4) alone (its points times the share of its decided components
    that are right), b_new written as each case gives it (right: the
    assignment's b_new; wrong: the same component stepped the wrong way, b + lr·∂L/∂b):
    b1_right_b2_wrong (8 digits each), b1_wrong_b2_right (8 digits each), b2_only (5 digits each, which
    decide b₂ only)."""
    solver = Solver(sheet)
    right = solver.values("p3", OWN)[[KEYS["p3"].index(k) for k in B_NEW]]
    wrong = solver.values("p3", OWN, PIECES["update_sign"])[[KEYS["p3"].index(k) for k in B_NEW]]
    cases = {"b1_right_b2_wrong": ((right[0], wrong[1]), STEP_DIGITS), "b1_wrong_b2_right": ((wrong[0], right[1]), STEP_DIGITS),
             "b2_only": (right, 5)}
    out = {}
    for name, (b_new, digits) in cases.items():
        row = {k: read_number(f"{v:.{digits - 1}e}") for k, v in zip(B_NEW, b_new)}
        g = grade("p3", None, row, None, Values(lambda variant: sheet), DEFAULT_RTOL, DEFAULT)
        out[name] = {"score": g.score, "points": DEFAULT["p3", 4].points, "digits": digits}
    return out


def zero_rule() -> dict[str, Any]:
    """How grade.py reads a written 0.00: its significant digits and the half unit it is checked by."""
    w = read_number("0.00")
    return {"written": "0.00", "digits": w.digits, "half_unit": w.half_unit}


def build_key() -> dict[str, Any]:
    """answer_key.json: the readings, the catalogue and the default rubric, on the assignment's numbers."""
    sheet = assignment_sheet()
    return {"readings": with_float32_findings(answer_key(sheet)),
            "catalogue": catalogue(Solver(sheet), DEFAULT_RTOL),
            "rubric": {"match_rule": MATCH_FIELDS, "rtol": DEFAULT_RTOL, "parts": rubric_parts(DEFAULT),
                       "step": step_digits(sheet), "example": shares_example(sheet),
                       "example_one_sided": shares_example(sheet, ONE_SIDED), "b_new_cases": b_new_cases(sheet),
                       "zero": zero_rule()}}


def build_parser() -> Parser:
    parser = Parser(description="Answer key for Problems 3 and 5 across interpretations, each row "
                                "checked against torch autograd, with the catalogue of mistakes and the rubric.")
    add_out_argument(parser, "folder for answer_key.json")
    return parser


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = build_parser().parse_args(argv)
    key = build_key()
    write_json_atomic(args.out / "answer_key.json", key)
    print_rows(key["readings"])
    print_central(key)
    print_catalogue(key["catalogue"])
    print(f"\n{len(key['readings'])} readings, each gradient equal to torch autograd within {TOLERANCE:g} "
          f"(relative), and {len(key['catalogue'])} catalogue rows; wrote {args.out / 'answer_key.json'}")
    return key


if __name__ == "__main__":
    sys.exit(run(main))
