"""figures/key.md: the graders' key, kept out of the students' solution.

Points per sub-question within the assignment's points per problem (P1 20, P2 20, P3 30, P4 15, P5 8
as extra credit: 93), what each answer must name, the partial credit, grade.py's rubric and the tables
of readings (report/key.py), and the catalogue of common mistakes with the values each gives on the
assignment's numbers, all from answer_key.json.
"""
from __future__ import annotations

from report import key
from report.md import listing, sig, table
from report.p2 import REGION

# (sub-question, points, full credit, partial credit). P3 and P5 split as grade.py's rubric does.
POINTS = (
    ("P1 (1)", 6, "at least three conv layers; training accuracy of at least 95% shown; the filters "
     "of all three layers shown as images", "2 each for: the network, the accuracy, the filters"),
    ("P1 (2)", 7, "the two conv3 maps shown, and features named on the digits where the maps differ "
     "(for our CNN: {features}; the 8's crossing or loops, or the 0's open centre, when the "
     "student's maps show them)",
     "4 for the maps with a comparison that names no stroke"),
    ("P1 (3)", 7, "the '1' shifted 3 px each way with clamp padding, and the prediction of each",
     "either outcome; zero fill earns full credit where it gives the clamp's images (a '1' with empty "
     "edge columns), 4 otherwise"),
    ("P2 (1)", 6, "the three maps, each legible (probabilities stretched to their range, labels "
     "as categories)", "2 per map"),
    ("P2 (2)", 7, "the strokes of the '6' whose occlusion lowers p('6'), read from the student's own "
     "maps (for our CNN: {strokes})", "3 for 'the middle' without strokes"),
    ("P2 (3)", 7, "an adversarial image must be shown, made by pasting patches of other digits' "
     "images over the '6', with the label it gets; the answer follows from the student's own "
     "experiment", "3 without an image; 4 if the patches are not from other digits"),
    ("P3 (1)-(5)", 30, "as grade.py's rubric below: (1) 6, (2) 6, (3) 12, (4) 3, (5) 3",
     "grade.py's rules: carried errors, work for (3)"),
    ("P4 (1)", 5, "W is hardest: the gradient through many steps is a product of Jacobians "
     "diag(1 − h²) W, which shrinks or grows with W's size; accept U and b with that argument",
     "2 for W without the product; U or b without the product 2; V or c 0"),
    ("P4 (2)", 5, "fix the recurrent weights W, U and b (the reservoir); learn the readout V and c",
     "3 if b or U is learned, with W fixed; 1 if W is learned"),
    ("P4 (3)", 5, "the cell state's additive self-loop, ∂s(t)/∂s(t−1) = diag(f(t)), with a forget "
     "gate near 1 passing the error back", "2 for 'gates' without the additive path"),
    ("P5", 8, "Problem 3's U and W in every gate; biases chosen with a reason (a forget bias near or "
     "above 1 keeps the state; any argued choice is accepted); ŷ(t), L and ∂L/∂b^f with the "
     "intermediates", "grade.py's rubric: (1) 3, (2) 5; take 1 off (1) when the biases come without a reason. "
     "U and W only in the cell input (eq. 10.41), the gates with their own stated weights: full marks when "
     "their ∂L/∂b^f matches their own central differences within the float32 band of P3 (2), {p5_factor} × "
     "2^-24 × max(1, |L|)/ε: {p5_band} for P5's L = {p5_loss} (ε = {p5_eps}); grade.py has no such reading (the row "
     "goes to a person), so check it by hand"),
)


# (sub-question, the mistake, what it costs): within each sub-question's points above.
WRITTEN_MISTAKES = (
    ("P1 (1)", "no conv2 or conv3 filters shown at all", "1 of the filters' 2"),
    ("P1 (3)", "zero padding whose shifted images differ from the clamp's", "3"),
    ("P2 (1)", "probabilities on a fixed 0–1 scale where the change is invisible", "1 per map"),
    ("P2 (1)", "the label map on a continuous colour scale", "1"),
    ("P2 (3)", "no image of the adversarial digit", "4"),
    ("P2 (3)", "black or blank patches only, not other digits' patches", "3"),
    ("P4 (1)", "V or c as hardest", "all 5"),
    ("P4 (1)", "\"vanishing gradients\" without the product of Jacobians", "3"),
    ("P4 (2)", "W learned", "4"),
    ("P4 (3)", "\"the LSTM has no vanishing gradient at all\" (f < 1 still shrinks it)", "2"),
)


def written_mistakes() -> list[str]:
    """The common mistakes in the written answers of P1, P2 and P4, and the points each costs."""
    return (["## Common mistakes in the written answers", "",
             "Each costs the points given, within its sub-question's points above.", ""]
            + table(["sub-question", "mistake", "costs"], [list(row) for row in WRITTEN_MISTAKES]))


def points(r1, r2, rub) -> list[str]:
    """The points table; P1 (2)'s features and P2 (2)'s strokes are the ones this run's CNN shows
    (r1, r2: P1's and P2's results, None when not run), P5's by-hand band answer_key.json's
    (`rub`: its rubric, None when not run)."""
    features = listing([f"the {f}" for f in r1["discriminant"]["features"]]) if r1 is not None else "see evidence.md"
    strokes = (listing([f"the {REGION[s]}" for s in r2["findings"]["strokes"]["hidden"]["strokes"]])
               if r2 is not None else "see evidence.md")
    hand = rub["p5_by_hand"] if rub is not None else None
    band = ({"p5_band": f"{hand['float32_band']:.1e}", "p5_loss": f"{hand['loss']:.5g}", "p5_eps": f"{hand['eps']:g}",
             "p5_factor": f"{hand['float32_band_factor']:g}"} if hand else
            {k: "(answer_key.py not run)" for k in ("p5_band", "p5_loss", "p5_eps", "p5_factor")})
    rows = [[part, pts, full.format(features=features, strokes=strokes), partial.format(**band)]
            for part, pts, full, partial in POINTS]
    return (["## Points and partial credit", "",
             "The assignment's 93 points (P5 is extra credit) split over the sub-questions:", ""]
            + table(["sub-question", "points", "full credit", "partial credit"], rows))


def _values(v) -> str:  # noqa: ANN001 (a catalogue row's values)
    """ŷ(3), L, the gradient, and for P3 the central differences, b_new and L_new, 5 significant digits."""
    cells = [f"ŷ(3) = {sig(v['yhat3'])}", f"L = {sig(v['loss'])}", f"grad = {sig(v['grad'])}"]
    if v["b_new"] is not None:
        cells += [f"central = {sig(v['grad_cd'])}", f"b_new = {sig(v['b_new'], 8)}", f"L_new = {sig(v['loss_new'])}"]
    return "; ".join(cells)


def catalogue(rows, rule, step) -> list[str]:
    """The catalogue of common mistakes, each with the values it gives on the assignment's numbers
    under the assignment's reading, and the first step a 5-digit answer shows wrong (`rule`, `step`:
    answer_key.json's rubric.match_rule and rubric.step)."""
    body = [[row["problem"].upper(), f"`{row['id']}`: {row['name']}",
             "none shows" if row["indistinguishable"] else f"`{row['first_wrong']}`", _values(row["values"])]
            for row in rows]
    return (["## Common mistakes and the values they give", "",
             "Each entry is the worked solution with one step done wrong; `grade.py` names it when a "
             "student's values match it. grad is ∂L/∂b (P3) or ∂L/∂b^f (P5); b_new has "
             f"{rule['step_digits']} significant digits, more than the {step['deciding_digits'][0]} and "
             f"{step['deciding_digits'][1]} that decide b₁ and b₂ (P3 (4) above); the other values have 5.", ""]
            + table(["problem", "mistake", "first wrong step", "values"], body))


def build_key(answer_key, r1, r2, r3, r5, rerun: str) -> str:
    """key.md from answer_key.json (None before answer_key.py has run) and the problems' results."""
    lines = ["# CNNs and RNNs: the graders' key", "",
             "For graders only; students read solution.md. `grade.py`, this repository's grading command, "
             "reads a class's P3 and P5 numbers from a spreadsheet saved as CSV (one row per student and "
             "problem, one column per value) and grades each row by the rules below; `answer_key.py`, its "
             "companion, computes the tables of this key. The repository's README, section \"For graders\", "
             "gives their commands and the spreadsheet's columns.", ""]
    lines += points(r1, r2, None if answer_key is None else answer_key["rubric"]) + written_mistakes()
    if answer_key is None:
        lines += key.section(None, None, r3, r5, rerun, {})
    else:
        names = {row["id"]: row["name"] for row in answer_key["catalogue"]}
        lines += key.section(answer_key["readings"], answer_key["rubric"], r3, r5, rerun, names)
        lines += catalogue(answer_key["catalogue"], answer_key["rubric"]["match_rule"], answer_key["rubric"]["step"])
    return "\n".join(lines).rstrip() + "\n"
