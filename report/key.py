"""The grader's rubric: what to accept for each model-dependent answer, grade.py's matching rule and
default rubric, and P3 and P5 under every reading a student may take, all from answer_key.json (written
by answer_key.py from grade.py's own defaults, so that the key and the command never disagree).

Vectors show 5 significant digits; the JSON keeps full precision. The readings of this report's own
P3 and P5 sections are in bold. The h(0) column is shown only when the rows' h(0) differ.
"""
from __future__ import annotations

from report.md import sig, table

SCRIPT = "answer_key.py"
ACCEPT = (  # the answers that depend on the student's own CNN or argument, and what to accept
    ("P1 (3)", "either outcome, provided the shifted digits were filled with clamp padding"),
    ("P2 (2), (3)", "any answer consistent with the student's own occlusion maps"),
    ("P4 (1)", "W; accept U and b"),
    ("P4 (2)", "fix W, U and b; learn V and c"),
    ("P4 (3)", "the additive path through s(t) with f ≈ 1"),
)


def match_rule(rule, rtol: float) -> str:
    """grade.py's matching rule in words, from answer_key.json's rubric.match_rule."""
    return (f"a written value matches when it differs from the right one by at most {rule['tolerance']} "
            f"(half unit: {rule['half_unit']}; rtol = {rtol:g}). A value written with fewer than "
            f"{rule['min_digits']} significant digits is not decided: `grade.py` leaves it out of the checks, so it "
            "is neither right nor wrong, and marks the row `needs_review` with a note naming the values a person "
            "must read. A written 0 has no significant digit, yet it is checked by the same half unit: 0.00 matches "
            "a right value within 0.005 and is wrong otherwise. Each part earns its points "
            "from its decided values; a part with none earns nothing until that person decides (a row with "
            "neither L nor a gradient decided is marked incomplete)")


ORDINAL = {1: "1st", 2: "2nd", 3: "3rd"}


def nth(n: int) -> str:
    return ORDINAL.get(n, f"{n}th")


def step_rule(rule, step) -> str:
    """How many digits decide P3 (4)'s b_new, and how `grade.py` checks it (answer_key.json's
    rubric.match_rule and rubric.step)."""
    size, first, share, decide = step["size"], step["first_digit"], step["half_unit_share_5"], step["deciding_digits"]
    return (f"**P3 (4): each component of b_new is decided on its own.** One step moves b₁ by lr·|∂L/∂b₁| = "
            f"{size[0]:.1e} and b₂ by {size[1]:.1e} (lr = {step['lr']:g}), so the step first shows in b_new's "
            f"{nth(first[0])} and {nth(first[1])} significant digits. A component is decided when half a unit of its "
            f"last written digit is at most {rule['step_share']:.0%} of its step: b₁ from {decide[0]} significant "
            f"digits, b₂ from {decide[1]}. Written to 5 digits, b_new gives b₁'s step only to ± {share[0]:.0%} (not "
            f"decided) and b₂'s to ± {share[1]:.1%} (decided). Part (4) earns its points from its decided components, "
            "like any part; a b_new that decides neither component sends the row to a person. A student may "
            f"instead give the step itself, Δb = b − b_new, with at least {rule['min_digits']} digits, which "
            "`grade.py` checks as b − Δb. A decided component matches within half a unit of its last digit plus lr "
            "times half a unit of the last digit of the student's own gradient, or within "
            f"{rule['step_float32_ulps']:g} float32 roundings, {rule['step_float32_ulps']:g} × 2^-24 × |b_new| = "
            f"{step['float32_band'][0]:.1e}, whichever is larger, never within rtol. float32 code (PyTorch's "
            f"default) stores numbers just below 1 about 2^-24 = {rule['float32_unit']:.1e} apart, so its b_new "
            "falls within that band and earns part (4).")


def example(rub, names: dict) -> str:
    """The worked example of the shares: `grade.py`'s grade of a row whose only slip is one catalogue
    mistake (answer_key.json's rubric.example; `names`: the catalogue's names by id)."""
    ex = rub["example"]
    carried = ", ".join(f"({p})" for p in ex["carried"])
    return (f"For example, a student whose only slip is {names[ex['mistake']]}, with every value and "
            f"intermediate written, earns {ex['score']:g} of {ex['out_of']:g} (verdict `{ex['verdict']}`): part "
            f"({ex['first_wrong_part']}) holds the first wrong step (L) and earns {ex['first_wrong_share']:g} of "
            f"its points for the right h(t) and ŷ(t) before it, and {carried} follow from their own values and "
            "are carried.")


SHARES = ("Its default rubric gives each part its points, times a share in four cases: the part is right under "
          "another reading of the assignment (other reading); the final values are right but the intermediates "
          "are missing (no work); the part holds the first wrong step but at least one of its checked values "
          "before that step is right (before wrong); the part comes after the first wrong step but follows from "
          "the student's own values (carried). An error is penalised once: when a student's values are one "
          "catalogue mistake's worked chain (known mistake; the catalogue is at the end of this key), every "
          "later part they give is the right work on their own earlier values and is carried. A row that is no "
          "known mistake (wrong) and whose first wrong step is in P3 (1) carries (2) and (3) when its (3) "
          "gradient matches its own (2) central differences (within the matching rule or the float32 band "
          "below); when they disagree, or one of them is missing, the row is `needs_review`. A P5 row wrong "
          "in (1) is `needs_review` for its (2), since P5 sheets hold no central differences to check it "
          "against. In any row, P3 (4) is carried when b_new is one step of the student's own gradient, and "
          "(5) when L_new is the loss at their own b_new. A share of 0 turns its case off for that part. ")
ORDER = ("The wide float32 window is tried only after every known mistake: a one-sided difference, which "
         "lies inside it, is named `one_sided_difference`, not float32 code. A student who states a non-zero "
         "h(0) is graded under that h(0) as another reading when the sheet gives the `h0_1`, `h0_2` columns, "
         "and by hand otherwise.")


def student_table(rub) -> list[str]:
    """P3 and P5 part by part in plain words: what to write, how many digits, what too few digits or
    a wrong step costs (`rub`: answer_key.json's rubric)."""
    rule, step = rub["match_rule"], rub["step"]
    few = f"5 (at least {rule['min_digits']}; fewer: not checked, a person reads the row)"
    share = {(p["problem"], p["part"]): p for p in rub["parts"]}
    alone = "; final values alone: {:g} of the points"
    what = {("p3", 1): ("h(t) and ŷ(t) for t = 1, 2, 3, and L", few),
            ("p3", 2): ("∂L/∂b by central differences", few + "; float32 code earns it within the band below"),
            ("p3", 3): ("∂L/∂b by back-propagation, with every intermediate", few + alone.format(share["p3", 3]["no_work"])),
            ("p3", 4): ("b_new = b − lr·∂L/∂b, or the step Δb = b − b_new",
                        f"b₁ {step['deciding_digits'][0]}, b₂ {step['deciding_digits'][1]}, Δb "
                        f"{rule['min_digits']}; a component with fewer is not checked, a b_new with neither "
                        "goes to a person"),
            ("p3", 5): ("L at your b_new", few + "; carried when it is the loss at your own b_new"),
            ("p5", 1): ("f, g, q, z, s, h and ŷ for t = 1, 2, 3, and L", few),
            ("p5", 2): ("∂L/∂b^f by back-propagation, with every intermediate", few + alone.format(share["p5", 2]["no_work"]))}
    rows = [[f"{p['problem'].upper()} ({p['part']})", f"{p['points']:g}", what[p["problem"], p["part"]][0],
             what[p["problem"], p["part"]][1], f"{p['before_wrong']:g} of the points"] for p in rub["parts"]]
    return (["### P3 and P5 part by part: what earns the points", "",
             f"Write every value with 5 significant digits (at least {rule['min_digits']}). A part earns its points "
             "when its values match; a part after your first wrong step still earns them when it follows from "
             "your own earlier values; the part that holds your first wrong step earns a share when a value "
             "before that step is right.", ""]
            + table(["part", "points", "what to write", "significant digits", "right values before your first wrong step"],
                    rows))


def rubric(rub, names: dict) -> list[str]:
    """What to accept where the model decides, the students' part-by-part table, then grade.py's
    matching rule and default rubric (`rub`: answer_key.json's rubric, or None before answer_key.py
    has run; `names`: the catalogue's names by id)."""
    lines = (["Where the answer depends on the student's own model, accept:", ""]
             + [f"- **{part}**: {what}." for part, what in ACCEPT] + [""])
    if rub is None:
        return lines
    rows = [[f"{p['problem'].upper()} ({p['part']})", p["what"], f"{p['points']:g}", f"{p['other_reading']:g}",
             f"{p['no_work']:g}", f"{p['before_wrong']:g}", f"{p['carried']:g}"] for p in rub["parts"]]
    return (lines + student_table(rub)
            + ["### How `grade.py` grades P3 and P5", "",
               f"**P3 and P5 numbers**, as `grade.py` checks them: {match_rule(rub['match_rule'], rub['rtol'])}. "
               "For each student `grade.py` names the reading or known mistake their values follow and "
               "the first wrong step. " + SHARES + example(rub, names), "", ORDER, "",
               step_rule(rub["match_rule"], rub["step"]), ""]
            + table(["part", "what", "points", "other reading", "no work", "before wrong", "carried"], rows))


def _vector(v) -> str:  # noqa: ANN001
    """A bias or h(0) as typed on the command line: one number when the units agree, [a, b] otherwise."""
    v = list(v)
    return f"{v[0]:g}" if len(set(v)) == 1 else "[" + ", ".join(f"{e:g}" for e in v) + "]"


def _plain(v):  # noqa: ANN001, ANN202 (a strict view or a plain JSON value)
    return v.raw if hasattr(v, "raw") else v


def _mark(row, own: dict) -> list[str]:
    """ŷ(3), L and the gradient of a row, in bold where the row's reading is `own`."""
    cells = [sig(row["yhat3"]), sig(row["loss"]), sig(row["grad"])]
    mine = all(k in row["interpretation"] and _plain(row["interpretation"][k]) == _plain(v) for k, v in own.items())
    return [f"**{c}**" for c in cells] if mine else cells


def p3_tables(p3: list, r3, rub) -> list[str]:
    """The log bases, then part (2) in float64 beside float32 (`rub`: answer_key.json's rubric)."""
    own = {"log": r3["log"], "h0": r3["h0"]} if r3 is not None else {"problem": None}
    one_h0 = len({tuple(row["interpretation"]["h0"]) for row in p3}) == 1
    lead = [f"Every row starts from h(0) = {_vector(p3[0]['interpretation']['h0'])}.", ""] if one_h0 else []
    cols = ["log", *([] if one_h0 else ["h(0)"]), "ŷ(3)", "L", "∂L/∂b", "b_new", "L_new"]
    rows = [[row["interpretation"]["log"], *([] if one_h0 else [sig(row["interpretation"]["h0"], 3)]),
             *_mark(row, own), sig(row["b_new"], 8), sig(row["loss_new"], 8)] for row in p3]
    return ["### P3: the base of the logarithm", ""] + lead + table(cols, rows) + float32_table(p3, rub)


def float32_table(p3: list, rub) -> list[str]:
    """P3 (2) in float64 beside float32, why float64 matters there (from the natural-log row), and the
    band around the float64 values that grade.py accepts (`rub`: answer_key.json's rubric)."""
    e = next(row for row in p3 if row["interpretation"]["log"] == "e")
    bound = e["central_rounding_bound"]
    off = [[row["interpretation"]["log"], sig(row["grad_central"]), sig(row["grad_central_float32"]),
            ", ".join(f"{v:.1%}" for v in row["grad_central_float32_rel_diff"]), f"± {row['float32_band']:.1e}"]
           for row in p3]
    share = next(p["other_reading"] for p in rub["parts"] if (p["problem"], p["part"]) == ("p3", 2))
    earns = "full marks" if share == 1 else f"{share:g} of its points"
    return (["### P3 (2): central differences in float64 and in float32", ""]
            + table(["log", "float64", "float32 (PyTorch's default)", "float32 off by", "`grade.py` accepts"], off)
            + [f"In float32 each loss is rounded by about u·max(1, |L|), and the quotient divides the difference "
               f"of two by 2ε (ε = {e['eps']:g}): about {bound['float32']:.1e}, "
               f"{e['float32_bound_share_of_grad_b1']:.0%} of |∂L/∂b1| = {e['abs_grad_central_b1']:.2g}. In float64 "
               f"the same bound is {bound['float64']:.0e}, so float64 gives ∂L/∂b1 to every digit shown. Other "
               "float32 code (numpy, another order of operations, a hand loop) rounds its own way: each is off "
               "by up to about this bound, so its values and PyTorch's may differ by up to twice it. `grade.py` accepts part (2) within "
               f"{e['float32_band_factor']:g} × this bound, {e['float32_band']:.1e}, of the float64 value (the "
               "last column, from each reading's own L), so float32 code in any order earns part (2) as "
               f"another reading ({earns} under the default rubric); further off is wrong.", ""])


def section(rows, rub, r3, r5, rerun: str, names: dict) -> list[str]:
    """The rubric, then P3's and P5's tables. `rows` (answer_key.json's readings) and `rub` (its
    rubric) are None when answer_key.py has not run; `names`: the catalogue's names by id."""
    lines = ["## Answer key for graders", ""] + rubric(rub, names)
    if rows is None:
        return lines + [f"_Not run yet: `{rerun}`._", ""]
    lines += ["Every gradient below was checked against torch autograd when `answer_key.py` ran. **Bold** "
              "marks the reading of this report's own P3 and P5 sections.", ""]
    lines += p3_tables([row for row in rows if row["problem"] == "p3"], r3, rub)
    p5 = [row for row in rows if row["problem"] == "p5"]
    own5 = ({"cell_activation": r5["cell_input_activation"], **{k: r5["params"][k] for k in ("b", "b_f", "b_g", "b_o")}}
            if r5 is not None else {"problem": None})
    lines += ["### P5: the cell input's activation and the biases", "",
              "The table gives the settings students most often take; any other argued choice of biases is "
              "graded the same way: `grade.py` computes the reading for the biases a row gives in its bias "
              "columns (`b_f_1` … `b_2`, with `cell_activation`) and grades the row against it, e.g. for b^f = 3 "
              "`python grade.py --check p5 L=<the student's L> b_f_1=3 b_f_2=3`; `python p5_lstm.py --b-f 3 3` "
              "(flags `--b-f`, `--b-g`, `--b-o`, `--b`) prints that reading's ŷ(t), L and ∂L/∂b^f with every "
              "intermediate.", ""] + table(
        ["cell input", "b^f", "b^g", "b^o", "b", "ŷ(3)", "L", "∂L/∂b^f"],
        [[row["interpretation"]["cell_activation"],
          *(_vector(row["interpretation"][k]) for k in ("b_f", "b_g", "b_o", "b")), *_mark(row, own5)]
         for row in p5])
    return lines
