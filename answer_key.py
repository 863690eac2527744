"""Answer key for graders: Problems 3 and 5 under every reading of the assignment a student may take.

Rows: P3 with the natural log (this repository's reading), log10 and log2, h(0) = 0; P5 with σ (eq. 10.41
as printed) or tanh on the cell input, forget bias b^f in {0, 1, 2}, the other biases at p5_lstm.py's
choice or all zero. Columns: ŷ(3), L, the gradient asked for (P3: ∂L/∂b; P5: ∂L/∂b^f) and, for P3,
b after one step of lr 0.002 and the loss there, and part (2)'s central differences in float64 and in
float32 (PyTorch's default dtype; several percent off on b₁, because the rounding of each float32
loss, divided by 2ε, is a sizeable fraction of ∂L/∂b₁ itself). Every row's gradient is checked against torch autograd
when this runs; a disagreement above 1e-10 (relative) stops it with an error.

Command:   .venv/bin/python answer_key.py      (flags: --out figures)
Writes:    figures/answer_key.json, a list of rows {problem, interpretation, yhat3, loss, grad, b_new,
           loss_new, grad_central, grad_central_float32, central_rounding_bound} (P5 rows: the last five
           are null)
Prints:    the rows as one table, 8 significant digits, then P3 (2) in float64 beside float32
Runtime:   about 2 s on 2 CPU cores, most of it importing torch.

The rows are computed by common/grading/key.py (the math in common/recurrent/rnn.py, the autograd cross-check and the
float32 central differences in common/recurrent/rnn_autograd.py); `grade.py` grades students against them.
"""
from __future__ import annotations

import sys
from typing import Any, Sequence

from common.core.cli import Parser, add_out_argument, run, write_json_atomic
from common.core.text import print_table, sig
from common.grading.key import TOLERANCE, answer_key, key_readings
from common.grading.solution import assignment_sheet, label

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


def print_central(rows: list[dict[str, Any]]) -> None:
    """P3 (2) in float64 beside float32, and why float64 matters there."""
    p3 = [(row, reading) for row, reading in zip(rows, key_readings("p3"))]
    print("\nP3 (2): ∂L/∂b by central differences, ε = 1e-4, in float64 and in float32 (PyTorch's default)")
    print_table(["reading", "float64", "float32", "float32 off by (relative, per component)",
                 "rounding bound float64", "float32"],
                [[label("p3", reading), sig(row["grad_central"], DIGITS), sig(row["grad_central_float32"], DIGITS),
                  ", ".join(f"{abs(a - b) / abs(b):.1%}" for a, b in zip(row["grad_central_float32"],
                                                                          row["grad_central"])),
                  f"{row['central_rounding_bound']['float64']:.1e}", f"{row['central_rounding_bound']['float32']:.1e}"]
                 for row, reading in p3])
    own = p3[0][0]
    bound, g1 = own["central_rounding_bound"], abs(own["grad_central"][0])
    print(f"  Each loss is rounded by about u·max(1, |L|), and the quotient divides the difference of two by "
          f"2ε: in float32 that is {bound['float32']:.1e}, {bound['float32'] / g1:.0%} of |∂L/∂b1| = "
          f"{g1:.2g}; in float64 it is {bound['float64']:.1e}, far below the digits shown. grade.py "
          "accepts float32 values as a reading of part (2).")


def build_parser() -> Parser:
    parser = Parser(description="Answer key for Problems 3 and 5 across interpretations, each row "
                                "checked against torch autograd.")
    add_out_argument(parser, "folder for answer_key.json")
    return parser


def main(argv: Sequence[str] | None = None) -> list[dict[str, Any]]:
    args = build_parser().parse_args(argv)
    rows = answer_key(assignment_sheet())
    write_json_atomic(args.out / "answer_key.json", rows)
    print_rows(rows)
    print_central(rows)
    print(f"\n{len(rows)} rows, each gradient equal to torch autograd within {TOLERANCE:g} (relative); "
          f"wrote {args.out / 'answer_key.json'}")
    return rows


if __name__ == "__main__":
    sys.exit(run(main))
