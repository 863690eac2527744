"""The plan of tests/data/submissions_example.csv: who each student is, what they did, and what the
grader must say about them; the numbers come from tests/grade_reference.py, never from common/.

    .venv/bin/python tests/submissions_plan.py      rewrites the CSV from this plan

Every row is a student with a planted reading and mistake (a catalogue id, an unknown one, or none);
test_grade.py checks that the committed CSV's numbers agree with the plan, then that grade.py names
each row's verdict, reading, mistake and first wrong step as planned. The cells are written as a
spreadsheet exports them: exponent notation (4.3e-3, 4.3E-03), a Unicode minus, trailing zeros, and a
byte-order mark at the start of the file.
"""
from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import grade_reference as ref
import numpy as np

CSV = Path(__file__).resolve().parent / "data" / "submissions_example.csv"

ASSIGNMENT = {"x": [[1.0, 0.0], [0.5, 0.25], [0.0, 1.0]], "b": [-1.0, 1.0], "c": [0.5, -0.5],
              "W": [[1.0, -1.0], [0.0, 2.0]], "U": [[-1.0, 0.0], [1.0, -2.0]], "V": [[-2.0, 1.0], [-1.0, 0.0]]}
# variant 3's sheet as handed out (grade.py --make-variant 3); test_grade.py checks that the draw still gives it
VARIANT_3 = {"x": [[0.75, 0.5], [0.25, -1.0], [-0.75, 0.75]], "b": [1.0, 0.0], "c": [-0.5, 0.0],
             "W": [[-1.5, 0.5], [2.0, -0.5]], "U": [[0.5, -1.0], [-1.0, 1.0]], "V": [[1.0, 1.5], [1.0, 0.0]]}
REPO_BIASES = {"b_f": [1.0, 1.0], "b_g": [-1.0, -1.0], "b_o": [2.0, 2.0], "b": [0.0, 0.0]}

FINALS = ("L", "grad_1", "grad_2")


class Student(NamedTuple):
    problem: str
    variant: int | None
    reading: dict  # keyword arguments of grade_reference.p3/p5: log, h0 / activation, biases
    mistake: str | None  # planted: a catalogue id, "float32_central", or None
    give: tuple[str, ...] | str  # the columns written, or "all" (every value), "forward", "finals+cd", ...
    verdict: str
    label: str  # the expected `reading` column
    expected_mistake: str = ""
    stated: dict | None = None  # columns stating the reading
    typed: dict | None = None  # cells written as typed here (a student's own spellings, a wrong row, a comma)
    copies: bool = False  # the values are the assignment's answers, handed in on `variant`


PLAN: dict[str, Student] = {
    "ana": Student("p3", None, {}, None, (), "correct", "log=e",
                   typed={"L": "3.0072", "grad_1": "\u22120.00996", "grad_2": "0.434", "L_new": "3.00683"}),
    "ben": Student("p3", None, {}, "loss_over_ln10", (), "needs_review", "log=e", "loss_over_ln10",
                   typed={"L": "1.306", "grad_1": "-0.0043", "grad_2": "0.188"}),
    "cai": Student("p3", None, {}, None, "all", "correct", "log=e"),
    "dev": Student("p3", None, {"log": "10"}, None, "finals+update", "other_reading", "log=10"),
    "eli": Student("p3", None, {"h0": (0.5, 0.0)}, None, "finals+cd", "other_reading", "log=e,h0=0.5 0",
                   stated={"h0_1": "0.5", "h0_2": "0"}),
    "fay": Student("p3", None, {}, "float32_central", "finals+cd", "other_reading", "log=e,cd=float32"),
    "gus": Student("p3", None, {}, "no_softmax_jacobian", "all", "known_mistake", "log=e", "no_softmax_jacobian"),
    "hal": Student("p3", None, {}, "tanh_grad_1_minus_h", "all", "known_mistake", "log=e", "tanh_grad_1_minus_h"),
    "ivy": Student("p3", None, {}, "loss_summed_over_t", "finals+cd", "known_mistake", "log=e", "loss_summed_over_t"),
    "jon": Student("p3", None, {}, "yhat_swapped", FINALS, "known_mistake", "log=e", "yhat_swapped"),
    "kim": Student("p3", None, {}, "update_sign", "finals+update", "known_mistake", "log=e", "update_sign"),
    "lee": Student("p3", None, {}, "one_sided_difference", "finals+cd", "known_mistake", "log=e",
                   "one_sided_difference"),
    "max": Student("p3", None, {}, "W_not_transposed", "all", "known_mistake", "log=e", "W_not_transposed"),
    "ned": Student("p3", None, {"log": "10"}, None, (), "wrong", "log=10",
                   typed={"L": "1.41554", "grad_1": "0.25000", "grad_2": "-0.31250"}),
    "oli": Student("p3", None, {}, None, "forward", "incomplete", "log=e;log=10;log=2"),
    "pam": Student("p3", None, {}, None, FINALS, "needs_review", "log=e", typed={"L_new": "3,00683"}),
    "=qua": Student("p3", None, {}, None, FINALS, "correct", "log=e"),
    "rio": Student("p3", 3, {}, None, "finals+cd", "correct", "log=e"),
    "sam": Student("p4", None, {}, None, (), "incomplete", "", typed={"L": "3.0072"}),
    "tia": Student("p5", None, {}, None, "all", "correct", "cell=sigmoid"),
    "uma": Student("p5", None, {"activation": "tanh"}, None, FINALS, "other_reading", "cell=tanh"),
    "val": Student("p5", None, {"biases": {"b_f": [0.5, 0.5], "b_g": [0.0, 0.0], "b_o": [1.0, 1.0], "b": [0.0, 0.0]}},
                   None, FINALS, "correct", "cell=sigmoid,b_f=0.5,b_g=0,b_o=1",
                   stated={"b_f_1": "0.5", "b_f_2": "0.5", "b_g_1": "0", "b_g_2": "0", "b_o_1": "1", "b_o_2": "1"}),
    "wes": Student("p5", None, {}, "sigmoid_grad_as_sigmoid", "all", "known_mistake", "cell=sigmoid",
                   "sigmoid_grad_as_sigmoid"),
    "xia": Student("p5", None, {}, "ds_without_carry", "all", "known_mistake", "cell=sigmoid", "ds_without_carry"),
    "yan": Student("p5", None, {}, "h_without_tanh", "forward+finals", "known_mistake", "cell=sigmoid",
                   "h_without_tanh"),
    "zed": Student("p5", None, {}, "loss_over_ln10", FINALS, "known_mistake", "cell=sigmoid", "loss_over_ln10"),
    "ada": Student("p5", 3, {}, None, "all", "correct", "cell=sigmoid"),
    "bea": Student("p3", None, {}, "V_not_transposed", "all", "known_mistake", "log=e", "V_not_transposed"),
    "dot": Student("p3", 3, {}, None, "finals+cd", "other_sheet", "the assignment's sheet", copies=True),
    "cyd": Student("p5", None, {}, "W_not_transposed", "all", "known_mistake", "cell=sigmoid", "W_not_transposed"),
}
COMMENTS = {"cai": "all steps shown", "max": "checked twice"}  # an unknown column, ignored by the grader


def numbers(variant: int | None) -> dict:
    return ASSIGNMENT if variant is None else VARIANT_3


def values(name: str, planted: bool = True) -> dict[str, float]:
    """The student's values from grade_reference: with the planted mistake (P3's part (2) in float32
    for fay), or (planted=False) the right ones under the same reading."""
    s = PLAN[name]
    n = numbers(None if s.copies else s.variant)
    x = np.array(n["x"])
    mistake = s.mistake if planted and s.mistake != "float32_central" else None
    if s.problem == "p5":
        return ref.p5(x, n["c"], n["W"], n["U"], n["V"], s.reading.get("biases", REPO_BIASES),
                      s.reading.get("activation", "sigmoid"), mistake=mistake)
    v = ref.p3(x, n["b"], n["c"], n["W"], n["U"], n["V"], s.reading.get("log", "e"), s.reading.get("h0", (0, 0)),
               mistake)
    if planted and s.mistake == "float32_central":
        v["grad_cd_1"], v["grad_cd_2"] = central_float32(n)
    return v


def central_float32(n: dict) -> tuple[float, float]:
    """P3 (2) as a torch user writes it by default: float32 tensors throughout."""
    import torch

    t = {k: torch.tensor(v, dtype=torch.float32) for k, v in n.items()}

    def loss(b: torch.Tensor) -> torch.Tensor:
        h = torch.zeros(2)
        for x_t in t["x"]:
            h = torch.tanh(b + t["W"] @ h + t["U"] @ x_t)
        y = torch.softmax(t["c"] + t["V"] @ h, dim=0)
        return (y[0] - 0.5) ** 2 - torch.log(y[1])

    eps = torch.tensor(1e-4)
    return tuple(float((loss(t["b"] + eps * e) - loss(t["b"] - eps * e)) / (2 * eps)) for e in torch.eye(2))


def columns(name: str) -> list[str]:
    """The value columns a student writes."""
    s, keys = PLAN[name], list(values(name)) if PLAN[name].problem in ("p3", "p5") else []
    forward = [k for k in keys if k.split("@")[0] in ("h", "yhat", "f", "g", "q", "z", "s")]
    give = {"all": keys, "forward": forward, "finals+cd": [*FINALS, "grad_cd_1", "grad_cd_2"],
            "finals+update": [*FINALS, "b_new_1", "b_new_2", "L_new"], "forward+finals": forward + list(FINALS)}
    return give.get(s.give, list(s.give)) if isinstance(s.give, str) else list(s.give)


STYLES = ("fixed", "exp", "EXP", "unicode", "fixed6", "fixed8")
PRECISION = {"fixed6": 6, "fixed8": 8}


def write(v: float, style: str) -> str:
    """v as a spreadsheet might export it: 5 significant digits (6 for fixed6, 8 for fixed8), trailing zeros kept."""
    if style in ("exp", "EXP"):
        text = f"{v:.4e}"
        return text.upper() if style == "EXP" else text
    text = np.format_float_positional(v, precision=PRECISION.get(style, 5), unique=False,
                                      fractional=False, trim="k")
    return text.replace("-", "\u2212") if style == "unicode" else text


def cells(name: str) -> dict[str, str]:
    """The student's CSV row."""
    s = PLAN[name]
    row = {"student": name, "problem": s.problem, "variant": "" if s.variant is None else str(s.variant)}
    if s.problem in ("p3", "p5"):
        v = values(name)
        for k, col in enumerate(columns(name)):
            # 6 digits where a catalogue entry moves a value by ~1e-4 (one-sided differences, float32)
            # 8 digits for b_new, so that the step of about 1e-5 shows
            style = "fixed6" if col.startswith("grad_cd") else "fixed8" if col.startswith("b_new") else STYLES[k % 4]
            row[col] = write(v[col], style)
    return row | (s.stated or {}) | (s.typed or {}) | ({"comment": COMMENTS[name]} if name in COMMENTS else {})


def render() -> str:
    """The whole CSV, a byte-order mark first."""
    import csv
    import io

    rows = [cells(name) for name in PLAN]
    header = list(dict.fromkeys(k for row in rows for k in row))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=header, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return "\ufeff" + out.getvalue()


if __name__ == "__main__":
    CSV.parent.mkdir(parents=True, exist_ok=True)
    CSV.write_text(render(), encoding="utf-8")
    print(f"wrote {CSV}")
