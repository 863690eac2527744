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
    ("P1 (1)", 6, "at least three conv layers (a pretrained model is allowed); training accuracy of at "
     "least 95% shown; the filters of all three layers shown as images",
     "the network 1, the accuracy 2 (none below 95% training accuracy), the filters 3 (1 per layer)"),
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
    ("P2 (3)", 7, "the pasted images shown, made by pasting patches of other digits' images over "
     "the '6', each with the label it gets; the answer follows from the student's own experiment: "
     "a 'no' backed by their own failed pastes, shown with their labels, earns full credit",
     "3 without an image; 4 if the patches are not from other digits"),
    ("P3 (1)-(5)", 30, "as the part-by-part table below: (1) 6, (2) 6, (3) 12, (4) 3, (5) 3",
     "a mistake costs once; work for (3)"),
    ("P4 (1)", 5, "W is hardest: the gradient through many steps is a product of Jacobians "
     "diag(1 − h²) W, which shrinks or grows with W's size; accept U and b with that argument",
     "4 for W by repeated multiplication by W without diag(1 − h²); 2 for W without the product; U or b "
     "without the product 2; V or c 0"),
    ("P4 (2)", 5, "fix the input and recurrent weights U and W (the reservoir); learn the readout V "
     "and c; b fixed or learned (the book fixes U and W and says nothing of b)",
     "3 if U is learned, with W fixed; 1 if W is learned"),
    ("P4 (3)", 5, "the cell state's additive self-loop, ∂s(t)/∂s(t−1) = diag(f(t)), with a forget "
     "gate near 1 passing the error back", "2 for 'gates' without the additive path"),
    ("P5", 8, "Problem 3's U and W in every gate; biases chosen with a reason (a forget bias near or "
     "above 1 keeps the state; any argued choice is accepted); ŷ(t), L and ∂L/∂b^f with the "
     "intermediates", "(1) 3, (2) 5; take 1 off (1) when the biases come without a reason. U and W only in "
     "the cell input (eq. 10.41), the gates with their own stated weights: recompute the student's stated "
     "configuration by hand (answer_key.py and p5_lstm.py take no gate weights; grade.py sends the row to "
     "a person) and match each value by the same rule as the main reading"),
)


# (sub-question, the mistake, what it costs): within each sub-question's points above.
WRITTEN_MISTAKES = (
    ("P1 (1)", "a network of fewer than three conv layers", "the network's 1"),
    ("P1 (1)", "filters of fewer than three layers shown (no conv2 or conv3 filters)", "1 of the filters' 3 per layer missing"),
    ("P1 (1)", "conv2 or conv3 filters shown as a single input slice or as a mean over inputs",
     "nothing when the answer says which view it shows; 1 of the filters' 3 when it does not"),
    ("P1 (1)", "only test accuracy reported (training accuracy is asked for)", "1 of the accuracy's 2"),
    ("P1 (1)", "training accuracy below 95%", "the accuracy's 2"),
    ("P1 (2)", "the two maps shown with no comparison", "5 (the maps earn 2)"),
    ("P1 (2)", "maps of another layer than conv3", "3 (a comparison naming strokes earns the rest)"),
    ("P1 (3)", "zero padding whose shifted images differ from the clamp's", "3"),
    ("P2 (1)", "probabilities on a fixed 0–1 scale where the change is invisible", "1 per map"),
    ("P2 (1)", "the label map on a continuous colour scale", "1"),
    ("P2 (3)", "no image of the adversarial digit", "4"),
    ("P2 (3)", "black or blank patches only, not other digits' patches", "3"),
    ("P2 (3)", "\"no\", backed by the student's own failed pastes shown with their labels", "nothing: full credit"),
    ("P4 (1)", "V or c as hardest", "all 5"),
    ("P4 (1)", "\"vanishing gradients\" without the product of Jacobians", "3"),
    ("P4 (2)", "b learned as well as V and c", "nothing"),
    ("P4 (2)", "U learned", "2"),
    ("P4 (2)", "W learned", "4"),
    ("P4 (3)", "\"the LSTM has no vanishing gradient at all\" (f < 1 still shrinks it)", "2"),
)


def written_mistakes() -> list[str]:
    """The common mistakes in the written answers of P1, P2 and P4, and the points each costs."""
    return (["## Common mistakes in the written answers", "",
             "Each costs the points given, within its sub-question's points above.", ""]
            + table(["sub-question", "mistake", "costs"], [list(row) for row in WRITTEN_MISTAKES]))


def points(r1, r2) -> list[str]:
    """The points table; P1 (2)'s features and P2 (2)'s strokes are the ones this run's CNN shows
    (r1, r2: P1's and P2's results, None when not run)."""
    features = listing([f"the {f}" for f in r1["discriminant"]["features"]]) if r1 is not None else "see evidence.md"
    strokes = (listing([f"the {REGION[s]}" for s in r2["findings"]["strokes"]["hidden"]["strokes"]])
               if r2 is not None else "see evidence.md")
    rows = [[part, pts, full.format(features=features, strokes=strokes), partial]
            for part, pts, full, partial in POINTS]
    return (["## Points and partial credit", "",
             "The assignment's 93 points (P5 is extra credit) split over the sub-questions:", ""]
            + table(["sub-question", "points", "full credit", "partial credit"], rows))


PROBLEM_POINTS = (("P1", 20), ("P2", 20), ("P3", 30), ("P4", 15), ("P5", 8))  # the assignment's; P5 extra credit


def for_students(rub, names: dict) -> list[str]:
    """The short summary a student reads first: points, one cost per mistake, digits, float32, and two
    worked examples from answer_key.json's rubric (None before answer_key.py has run)."""
    per = ", ".join(f"{p} {n}" for p, n in PROBLEM_POINTS[:-1])
    lines = ["## For students: how your work is graded", "",
             f"- Points: {per}; P5 {PROBLEM_POINTS[-1][1]} as extra credit.",
             "- A mistake costs once: later work that follows from your own numbers earns its points."]
    if rub is None:
        return lines + [""]
    rule, ln10, one = rub["match_rule"], rub["example"], rub["example_one_sided"]
    return lines + [
        f"- Write every value with 5 significant digits (at least {rule['min_digits']}); b_new with "
        f"{rule['step_digits']}, or the step b − b_new. Carry full precision; round only what you write: "
        "a 5-digit intermediate carried forward can miss the tolerance where terms cancel.",
        "- float32 code (PyTorch's default) is accepted within a band (P3 (2) below).",
        f"- Example: {names[ln10['mistake']]}, and nothing else wrong: {ln10['score']:g} of {ln10['out_of']:g}. "
        f"Part ({ln10['first_wrong_part']}) earns {ln10['first_wrong_share']:g} of its points; the later parts "
        "follow from your own L.",
        f"- Example: {names[one['mistake']]} (part ({one['first_wrong_part']})): {one['score']:g} of "
        f"{one['out_of']:g}. That part earns {one['first_wrong_share']:g} of its points; the later parts earn theirs.",
        ""]


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
             "Each entry is the worked solution with one step done wrong, named when a student's values "
             "match it. grad is ∂L/∂b (P3) or ∂L/∂b^f (P5); b_new has "
             f"{rule['step_digits']} significant digits, more than the {step['deciding_digits'][0]} and "
             f"{step['deciding_digits'][1]} that decide b₁ and b₂ (P3 (4) in the part-by-part table); the other values have 5.", ""]
            + table(["problem", "mistake", "first wrong step", "values"], body))


def build_key(answer_key, r1, r2, r3, r5, rerun: str) -> str:
    """key.md from answer_key.json (None before answer_key.py has run) and the problems' results."""
    rub = None if answer_key is None else answer_key["rubric"]
    names = {} if answer_key is None else {row["id"]: row["name"] for row in answer_key["catalogue"]}
    lines = ["# CNNs and RNNs: the key", ""] + for_students(rub, names)
    lines += points(r1, r2) + written_mistakes()
    if answer_key is None:
        return "\n".join(lines + key.section(None, None, r3, r5, rerun, {})).rstrip() + "\n"
    lines += key.section(answer_key["readings"], rub, r3, r5, rerun, names)
    lines += catalogue(answer_key["catalogue"], rub["match_rule"], rub["step"]) + [""] + key.for_graders(rub, names)
    return "\n".join(lines).rstrip() + "\n"
