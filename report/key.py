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
    ("P4 (2)", "fix U and W; learn V and c, and b or not"),
    ("P4 (3)", "the additive path through s(t) with f ≈ 1"),
)


def match_rule(rule, rtol: float, zero) -> list[str]:
    """grade.py's matching rule as list items, from answer_key.json's rubric.match_rule and rubric.zero."""
    return [f"- A written value matches when it differs from the right one by at most {rule['tolerance']} "
            f"(half unit: {rule['half_unit']}; rtol = {rtol:g}).",
            f"- A value with fewer than {rule['min_digits']} significant digits is not decided: left out of the "
            "checks, neither right nor wrong; the row is `needs_review`, with a note naming the values a person "
            "must read.",
            f"- A written {zero['written']} has {zero['digits']} significant digits, yet it is checked by its half "
            f"unit: it matches a right value within {zero['half_unit']:g} and is wrong otherwise.",
            "- Each part earns its points from its decided values; a part with none earns nothing until that "
            "person decides (a row with neither L nor a gradient decided is `incomplete`)."]


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
            f"decided) and b₂'s to ± {share[1]:.1%} (decided). Part (4) earns its points times the share of its "
            "decided components that are right, in either order; a b_new that decides neither component sends the row to a person. A student may "
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
    return (f"- Example: a student whose only slip is {names[ex['mistake']]}, with every value and "
            f"intermediate written, earns {ex['score']:g} of {ex['out_of']:g} (verdict `{ex['verdict']}`): part "
            f"({ex['first_wrong_part']}) holds the first wrong step (L) and earns {ex['first_wrong_share']:g} of "
            f"its points for the right h(t) and ŷ(t) before it, and {carried} follow from their own values and "
            "are carried.")


SHARES = (
    "- For each row `grade.py` names the reading or known mistake its values follow, and the first wrong step.",
    "- Each part earns its points times a share in four cases: right under another reading of the assignment "
    "(other reading); final values right, intermediates missing (no work); the part holds the first wrong "
    "step after a right checked value (before wrong); the part follows from the student's own earlier values "
    "after the first wrong step (carried). A share of 0 turns its case off for that part. P3 (4) holding "
    "the first wrong step earns its points times the share of its decided b_new components that are right, "
    "whichever component is wrong.",
    "- Known mistake: when a row's values are one catalogue mistake's worked chain, every later part it gives "
    "is carried.",
    "- Wrong (no known mistake) in P3 (1): (2) and (3) are carried when (3)'s gradient matches (2)'s central "
    "differences (the matching rule or the float32 band); when they disagree or one is missing, "
    "`needs_review`.",
    "- A P5 row wrong in (1) is `needs_review` for its (2): P5 sheets hold no central differences.",
    "- A row whose first wrong value is an intermediate of P3 (3) or P5 (2), while that part's final "
    "gradient is right, is `needs_review`, with a note naming the value: a typo in what was written is "
    "not scored as wrong work.",
    "- P3 (4) is carried when b_new is one step of the row's own gradient: its (3) gradient, or its (2) "
    "central differences when (3) is missing; (5) when L_new is the loss at its own b_new.",
    "- Other valid sets of intermediates in P3 (3) or P5 (2) (∂L/∂o in one step without ∂L/∂ŷ, or only "
    "∂L/∂a(t) per step) earn the part's work share when a person reads them.",
    "- The float32 window is tried after every known mistake: a one-sided difference, inside it, is "
    "`one_sided_difference`. Written to 3 digits, or computed in float32, a one-sided difference can "
    "fall within the tolerance of the central one: read the formula the student wrote.",
    "- A stated non-zero h(0) is another reading when the sheet gives the `h0_1`, `h0_2` columns; by hand "
    "otherwise.")


def student_table(rub) -> list[str]:
    """P3 and P5 part by part in plain words: what to write, how many digits, what too few digits or
    a wrong step costs (`rub`: answer_key.json's rubric)."""
    rule, step = rub["match_rule"], rub["step"]
    few = f"5 (at least {rule['min_digits']}; fewer: not checked, a person reads the row)"
    share = {(p["problem"], p["part"]): p for p in rub["parts"]}
    alone = "; final values alone: {:g} of the points"
    b2 = rub["b_new_cases"]["b2_only"]
    what = {("p3", 1): ("h(1), ŷ(1), h(2), ŷ(2), h(3), ŷ(3), then L", few),
            ("p3", 2): ("∂L/∂b₁, ∂L/∂b₂ by central differences", few + "; float32 code earns it within the band below"),
            ("p3", 3): ("∂L/∂ŷ(3); for t = 3, 2, 1: ∂L/∂o(t), ∂L/∂h(t), ∂L/∂a(t); then ∂L/∂b₁, ∂L/∂b₂",
                        few + alone.format(share["p3", 3]["no_work"])),
            ("p3", 4): ("b₁, b₂ of b_new = b − lr·∂L/∂b, or the step Δb = b − b_new",
                        f"b₁ {step['deciding_digits'][0]}, b₂ {step['deciding_digits'][1]}, Δb "
                        f"{rule['min_digits']}; a component with fewer is not checked. Only b₂ decided "
                        f"({b2['digits']} digits) and right: {b2['score']:g} of {b2['points']:g}; neither: a person reads it"),
            ("p3", 5): ("L at your b_new", few + "; carried when it is the loss at your own b_new"),
            ("p5", 1): ("for t = 1, 2, 3: f, g, q, z, s, h, ŷ; then L", few),
            ("p5", 2): ("for t = 3, 2, 1: ∂L/∂o, ∂L/∂h, ∂L/∂s, ∂L/∂f, ∂L/∂g, ∂L/∂q, ∂L/∂z, ∂L/∂a_f, ∂L/∂a_g, "
                        "∂L/∂a_q, ∂L/∂a_z; then ∂L/∂b^f₁, ∂L/∂b^f₂", few + alone.format(share["p5", 2]["no_work"]))}
    rows = [[f"{p['problem'].upper()} ({p['part']})", f"{p['points']:g}", what[p["problem"], p["part"]][0],
             what[p["problem"], p["part"]][1], before_wrong(p)] for p in rub["parts"]]
    return (["### P3 and P5 part by part: what earns the points", "",
             f"Write every value with 5 significant digits (at least {rule['min_digits']}). A part earns its points "
             "when its values match; a part after your first wrong step still earns them when it follows from "
             "your own earlier values; the part that holds your first wrong step earns a share when a value "
             "before that step is right.", ""]
            + table(["part", "points", "what to write, in the order checked", "significant digits",
                     "right values before your first wrong step"], rows)
            + within_part(rub))


BY_COMPONENT = ("p3", 4)  # the part scored by its right decided components (common/grading/matching.py)


def before_wrong(part) -> str:  # noqa: ANN001 (a rubric.parts row)
    """What a part earns when it holds the first wrong step after a right value."""
    if (part["problem"], part["part"]) == BY_COMPONENT:
        return "the share of decided components right"
    return f"{part['before_wrong']:g} of the points"


def within_part(rub) -> list[str]:
    """How a part with a right and a wrong value is scored, with P3 (4)'s cases (answer_key.json's
    rubric.b_new_cases and rubric.parts)."""
    case = rub["b_new_cases"]
    right_wrong, wrong_right, b2 = case["b1_right_b2_wrong"], case["b1_wrong_b2_right"], case["b2_only"]
    share = next(p["before_wrong"] for p in rub["parts"] if (p["problem"], p["part"]) == ("p3", 1))
    return ["Within a part, values are checked in the order above; the first wrong one decides. If a value "
            f"is right and a later one wrong, the part earns {share:g} of its points; if the first is wrong, "
            "none. P3 (4) is the exception: its points times the share of its decided components that are "
            "right, whichever is wrong:", "",
            f"- b₁ right, b₂ wrong ({right_wrong['digits']} digits each): {right_wrong['score']:g} of "
            f"{right_wrong['points']:g}.",
            f"- b₁ wrong, b₂ right ({wrong_right['digits']} digits each): {wrong_right['score']:g} of "
            f"{wrong_right['points']:g}.",
            f"- b_new to {b2['digits']} digits, so only b₂ is decided, and b₂ right: {b2['score']:g} of "
            f"{b2['points']:g}.", ""]


def rubric(rub) -> list[str]:
    """What to accept where the model decides, then the students' part-by-part table (`rub`:
    answer_key.json's rubric, or None before answer_key.py has run)."""
    lines = (["Where the answer depends on the student's own model, accept:", ""]
             + [f"- **{part}**: {what}." for part, what in ACCEPT] + [""])
    return lines if rub is None else lines + student_table(rub)


def for_graders(rub, names: dict) -> list[str]:
    """grade.py's matching rule, its default rubric and its bias columns, for graders who run it
    (`rub`: answer_key.json's rubric; `names`: the catalogue's names by id)."""
    rows = [[f"{p['problem'].upper()} ({p['part']})", p["what"], f"{p['points']:g}", f"{p['other_reading']:g}",
             f"{p['no_work']:g}", "per component" if (p["problem"], p["part"]) == BY_COMPONENT else f"{p['before_wrong']:g}",
             f"{p['carried']:g}"] for p in rub["parts"]]
    return (["## For graders running grade.py", "",
             "`grade.py` reads a class's P3 and P5 numbers from a spreadsheet saved as CSV (one row per student "
             "and problem, one column per value) and grades each row by the rules below; `answer_key.py` "
             "computes this key's tables. The README, section \"For graders\", gives their commands and the "
             "columns.", ""]
            + match_rule(rub["match_rule"], rub["rtol"], rub["zero"]) + list(SHARES) + [example(rub, names), "",
               step_rule(rub["match_rule"], rub["step"]), ""]
            + table(["part", "what", "points", "other reading", "no work", "before wrong", "carried"], rows)
            + ["P5's biases: `grade.py` computes the reading for the biases a row gives in its bias columns "
               "(`b_f_1` … `b_2`, with `cell_activation`), e.g. for b^f = 3 `python grade.py --check p5 "
               "L=<the student's L> b_f_1=3 b_f_2=3`; `python p5_lstm.py --b-f 3 3` (flags `--b-f`, `--b-g`, "
               "`--b-o`, `--b`) prints that reading's ŷ(t), L and ∂L/∂b^f with every intermediate.", ""])


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
            + table(["log", "float64", "float32: one PyTorch run; other float32 code differs within the band",
                     "float32 off by", "accepted band"], off)
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
    lines = ["## Answer key", ""] + rubric(rub)
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
              "graded the same way, against the values of the student's own biases.", ""] + table(
        ["cell input", "b^f", "b^g", "b^o", "b", "ŷ(3)", "L", "∂L/∂b^f"],
        [[row["interpretation"]["cell_activation"],
          *(_vector(row["interpretation"][k]) for k in ("b_f", "b_g", "b_o", "b")), *_mark(row, own5)]
         for row in p5])
    return lines + ([] if r5 is None else [
        "", f"A student checking ∂L/∂b^f by central differences uses ε = {r5['eps']:g}, as in P3 (2).", ""])
