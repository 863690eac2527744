"""grade.py on the committed example class (tests/data/submissions_example.csv), and its CLI.

Every expected verdict, reading, mistake and first wrong step comes from tests/submissions_plan.py
(what each student did) and tests/grade_reference.py (the numbers, plain numpy, checked against
torch autograd in test_grade_reference.py), never from the grader's own output.
"""
from __future__ import annotations

import csv
import io
import re
from decimal import Decimal
from pathlib import Path

import grade_reference as ref
import numpy as np
import pytest
from submissions_plan import (
    ASSIGNMENT,
    CSV,
    PLAN,
    REPO_BIASES,
    VARIANT_3,
    central_float32,
    values,
)

import grade
from common.core.cli import run
from common.grading.matching import DEFAULT_RTOL, indistinguishable
from common.grading.mistakes import CATALOGUE, applies
from common.grading.rubric import DEFAULT_RUBRIC
from common.grading.solution import Solver, assignment_sheet
from common.grading.submissions import read_number

RTOL = DEFAULT_RTOL  # a parameter of the grader, not an expected value
P3_PARTS = {"h": 1, "yhat": 1, "L": 1, "grad_cd": 2, "dL_dyhat": 3, "dL_do": 3, "dL_dh": 3, "dL_da": 3, "grad": 3,
            "b_new": 4, "L_new": 5}  # the assignment's parts (1)-(5)
P5_FORWARD = {"f", "g", "q", "z", "s", "h", "yhat", "L"}  # P5: 1 = outputs and loss, 2 = ∂L/∂b^f


def written(text: str) -> tuple[float, int, float]:
    """A cell as written: value, significant digits, half a unit of the last digit."""
    d = Decimal(text.strip().replace("\u2212", "-"))
    _, digits, exponent = d.as_tuple()
    return float(d), len("".join(map(str, digits)).lstrip("0")), 0.5 * 10.0 ** exponent


def agrees(text: str, right: float, rtol: float = RTOL) -> bool:
    value, _, half = written(text)
    return abs(value - right) <= max(half, rtol * abs(right))


def five_digits(v: float) -> str:
    return f"{v:.4e}"


def eight_digits(v: float) -> str:
    return f"{v:.7e}"


def step(key: str) -> str:
    """dL_da@3_1 → dL_da@3, grad_cd_2 → grad_cd, L → L."""
    return key.rsplit("_", 1)[0] if "@" in key or key[-1].isdigit() else key


def part(problem: str, key: str) -> int:
    name = step(key).split("@")[0]
    return P3_PARTS[name] if problem == "p3" else 1 if name in P5_FORWARD else 2


def rubric_points() -> dict[tuple[str, int], float]:
    rows = csv.DictReader(io.StringIO(DEFAULT_RUBRIC))
    return {(r["problem"], int(r["part"])): float(r["points"]) for r in rows}


@pytest.fixture(scope="module")
def class_csv() -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(CSV.read_text(encoding="utf-8-sig"))))


@pytest.fixture(scope="module")
def grades(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, str]]:
    out = tmp_path_factory.mktemp("grades") / "grades.csv"
    grade.main([str(CSV), "--out", str(out)])
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    return {r["student"].lstrip("'"): r for r in rows}


def test_the_csv_is_written_as_a_spreadsheet_exports_it() -> None:
    raw = CSV.read_bytes().decode("utf-8")
    assert raw.startswith("\ufeff")  # byte-order mark
    cells = [c for row in csv.reader(io.StringIO(raw[1:])) for c in row]
    assert any("\u2212" in c for c in cells)  # Unicode minus
    assert any(re.fullmatch(r"-?\d\.\d+e-\d+", c) for c in cells)  # exponent notation
    assert any(re.fullmatch(r"-?\d\.\d+E-\d+", c) for c in cells)
    assert any(re.fullmatch(r"[\u2212-]?\d*\.\d*0", c) for c in cells)  # a trailing zero
    assert any(re.fullmatch(r"\d+,\d+", c) for c in cells)  # a decimal comma


def test_the_csv_holds_the_planned_numbers(class_csv: list[dict[str, str]]) -> None:
    """Each number agrees, to the digits written, with what the student planted in PLAN computes."""
    for row in class_csv:
        s = PLAN[row["student"]]
        if s.problem not in ("p3", "p5"):
            continue
        planned = values(row["student"])
        for key, text in row.items():
            if key not in planned or not text or re.fullmatch(r"\d+,\d+", text) or \
                    (s.verdict == "wrong" and key in (s.typed or {})):
                continue  # a decimal comma; ned's made-up gradient
            if s.mistake == "float32_central" and key.startswith("grad_cd"):
                float64 = ref.p3(np.array(ASSIGNMENT["x"]), *(ASSIGNMENT[k] for k in "bcWUV"))[key]
                assert not agrees(text, float64)  # not a float64 answer: 4% and more off on b1
                band = 4 * 2.0 ** -24 * max(1.0, planned["L"]) / 1e-4  # float32 rounding, divided by ε
                assert abs(written(text)[0] - central_float32(ASSIGNMENT)[int(key[-1]) - 1]) <= band
            else:
                assert agrees(text, planned[key], rtol=0.0), (row["student"], key, text, planned[key])


LR = 0.002  # the assignment's learning rate
NO_WORK = {("p3", 3): 0.5, ("p5", 2): 0.5}  # the default rubric's share for a gradient without intermediates


def value_agrees(cells: dict[str, str], key: str, right: float) -> bool:
    """A cell against a right value: b_new within half its last digit plus LR times half the last digit
    of the row's gradient (no rtol); any other value by the matching rule."""
    if not key.startswith("b_new"):
        return agrees(cells[key], right)
    grad = next((cells[g] for g in (f"grad_{key[-1]}", f"grad_cd_{key[-1]}") if g in cells), None)
    slack = LR * written(grad)[2] if grad else 0.0
    return abs(written(cells[key])[0] - right) <= written(cells[key])[2] + slack


def step_sizes(name: str) -> list[float]:
    """LR × |∂L/∂b| on the row's sheet under the assignment's reading (grade_reference)."""
    n = ASSIGNMENT if PLAN[name].variant is None else VARIANT_3
    right = ref.p3(np.array(n["x"]), n["b"], n["c"], n["W"], n["U"], n["V"])
    return [LR * abs(right[f"grad_{i}"]) for i in (1, 2)]


def decided_keys(name: str, planned: dict[str, float], cells: dict[str, str]) -> list[str]:
    """The values checked, in the parts' order: 3 significant digits, or a written zero (checked by its
    half unit); a b_new component when half a unit of its last digit is at most 5% of its step."""
    def ok(k: str) -> bool:
        if k.startswith("b_new"):
            return written(cells[k])[2] <= 0.05 * step_sizes(name)[int(k[-1]) - 1]
        return written(cells[k])[1] >= 3 or written(cells[k])[0] == 0
    return [k for k in planned if k in cells and ok(k)]


def carried_parts(name: str, cells: dict[str, str], first_part: int, parts: set[int]) -> set[int]:
    """A known mistake's every checked part after the first wrong one (its values are the mistake's
    own chain); P3 (4) when b_new = b − LR × the row's own gradient, (5) when L_new is the loss at
    the row's b_new (grade_reference with the planted mistake), both after the first wrong part."""
    s = PLAN[name]
    out = {p for p in parts if p > first_part} if s.expected_mistake else set()
    if s.problem != "p3" or not all(f"b_new_{i}" in cells for i in (1, 2)):
        return out
    n = ASSIGNMENT if s.variant is None else VARIANT_3
    own = [written(cells[f"grad_{i}"])[0] for i in (1, 2)] if "grad_1" in cells else None
    b_new = [written(cells[f"b_new_{i}"])[0] for i in (1, 2)]
    if own and first_part <= 4 and all(value_agrees(cells, f"b_new_{i}", n["b"][i - 1] - LR * own[i - 1])
                                       for i in (1, 2)):
        out.add(4)
    mistake = s.mistake if s.mistake != "float32_central" else None
    at_own = ref.p3(np.array(n["x"]), b_new, n["c"], n["W"], n["U"], n["V"], s.reading.get("log", "e"),
                    s.reading.get("h0", (0, 0)), mistake)["L"]
    if first_part <= 5 and "L_new" in cells and agrees(cells["L_new"], at_own):
        out.add(5)
    return out


def expected_score(name: str, cells: dict[str, str], checked: list[str], first: str | None) -> float:
    s, points = PLAN[name], rubric_points()
    first_part = 99 if first is None else part(s.problem, first)
    parts = {part(s.problem, k) for k in checked}
    carried = carried_parts(name, cells, first_part, parts)
    order = list(values(name))  # the parts' order: a checked value of first's part before first earns half
    if first is not None and any(part(s.problem, k) == first_part and order.index(k) < order.index(first)
                                 for k in checked):
        total = 0.5 * points[s.problem, first_part]
    else:
        total = 0.0
    for p in parts | carried:
        gradient = [k for k in checked if part(s.problem, k) == p]
        share = NO_WORK.get((s.problem, p), 1.0) if gradient and all(k in ("grad_1", "grad_2") for k in gradient) \
            else 1.0
        total += points[s.problem, p] * share if p < first_part or p in carried else 0.0
    return total


def expected_grade(row: dict[str, str]) -> dict[str, str]:
    """The grade of one row, computed here from PLAN and grade_reference."""
    s = PLAN[row["student"]]
    if s.problem not in ("p3", "p5"):
        return {"verdict": "incomplete", "reading": "", "mistake": "", "first_wrong": "", "matched": "0",
                "checked": "0", "score": "0"}
    if s.verdict == "other_sheet":  # graded in test_a_copied_row_names_its_source
        return {"verdict": s.verdict, "reading": s.label}
    planned = values(row["student"])
    cells = {k: v for k, v in row.items() if k in planned and v and not re.fullmatch(r"\d+,\d+", v)}
    checked = decided_keys(row["student"], planned, cells)
    right = values(row["student"], planted=False)
    if s.expected_mistake:  # where a 5-digit answer (8 for b_new) with the mistake first differs
        first = next(k for k in planned if not agrees(eight_digits(planned[k]) if k.startswith("b_new")
                                                      else five_digits(planned[k]), right[k], 0.0 if
                                                      k.startswith("b_new") else RTOL))
        matched = sum(value_agrees(cells, k, right[k]) for k in checked)
    elif s.verdict == "wrong":  # the student's first value that does not match the planned reading
        first = next(k for k in checked if not value_agrees(cells, k, right[k]))
        matched = sum(value_agrees(cells, k, right[k]) for k in checked)
    else:
        first, matched = None, len(checked)
    return {"verdict": s.verdict, "reading": s.label, "mistake": s.expected_mistake,
            "first_wrong": "" if first is None else step(first), "matched": str(matched),
            "checked": str(len(checked)), "score": f"{expected_score(row['student'], cells, checked, first):g}"}


def test_each_row_s_verdict_reading_mistake_and_first_wrong_step(class_csv: list[dict[str, str]],
                                                                  grades: dict[str, dict[str, str]]) -> None:
    assert list(grades) == list(PLAN)  # one output row per input row, in order
    for row in class_csv:
        expected = expected_grade(row)
        got = {k: grades[row["student"]][k] for k in expected}
        assert got == expected, row["student"]


def test_every_verdict_and_every_catalogue_entry_is_in_the_example(grades: dict[str, dict[str, str]]) -> None:
    assert {g["verdict"] for g in grades.values()} == set(grade.VERDICTS)
    assert {g["mistake"] for g in grades.values()} - {""} == {m.id for m in CATALOGUE}


def test_rows_on_a_variant_are_graded_against_it(grades: dict[str, dict[str, str]]) -> None:
    """rio and ada wrote variant 3's answers: right against variant 3, wrong against the assignment from
    L on, so their gradient, which nothing checks there, goes to a person."""
    for name in ("rio", "ada"):
        assert (grades[name]["variant"], grades[name]["verdict"]) == ("3", "correct")
        finals = [f"{k}={v:.6g}" for k, v in values(name).items() if k in ("L", "grad_1", "grad_2")]
        other = grade.main(["--check", PLAN[name].problem, *finals])["rows"][0]
        assert (other["verdict"], other["first_wrong"], other["score"]) == ("needs_review", "L", "0")
        assert grade.main(["--check", PLAN[name].problem, "variant=3", *finals])["rows"][0]["verdict"] == "correct"


def test_the_issue_s_two_students(grades: dict[str, dict[str, str]]) -> None:
    n = ASSIGNMENT
    right = ref.p3(np.array(n["x"]), n["b"], n["c"], n["W"], n["U"], n["V"])
    over_ln10 = ref.p3(np.array(n["x"]), n["b"], n["c"], n["W"], n["U"], n["V"], mistake="loss_over_ln10")
    assert agrees("1.306", over_ln10["L"]) and agrees("0.188", over_ln10["grad_2"])
    assert agrees("3.0072", right["L"]) and agrees("3.00683", right["L_new"]) and agrees("\u22120.00996", right["grad_1"])
    ben = grade.main(["--check", "p3", "L=1.306", "grad_1=-0.0043", "grad_2=0.188"])["rows"][0]
    # grad_1 = -0.0043 has 2 significant digits: not decided, so the row goes to a person
    assert (ben["verdict"], ben["mistake"], ben["first_wrong"]) == ("needs_review", "loss_over_ln10", "L")
    assert (grades["ben"]["verdict"], grades["ben"]["mistake"]) == ("needs_review", "loss_over_ln10")
    assert "not decided (too few digits): grad_1" in grades["ben"]["review"]
    ana = grade.main(["--check", "p3", "L=3.0072", "grad_1=-0.00996", "grad_2=0.434", "L_new=3.00683"])["rows"][0]
    assert (ana["verdict"], ana["reading"]) == ("correct", "log=e")
    assert grades["ana"]["verdict"] == "correct"


def test_a_comment_column_is_known_and_a_comma_needs_review(grades: dict[str, dict[str, str]],
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    grade.main([str(CSV)])
    assert capsys.readouterr().err == ""  # `comment` is a known free-text column
    assert "decimal comma" in grades["pam"]["review"] and grades["pam"]["verdict"] == "needs_review"
    assert grades["sam"]["note"].startswith("not graded")


def test_no_output_cell_can_run_as_a_formula(grades: dict[str, dict[str, str]]) -> None:
    assert grades["=qua"]["student"] == "'=qua"
    assert not any(v.startswith(("=", "+", "@")) for g in grades.values() for v in g.values())


@pytest.mark.parametrize("text, value, digits", [("-0.0043", -0.0043, 2), ("\u22120.0043", -0.0043, 2),
                                                 ("4.3e-3", 0.0043, 2), ("4.3E-03", 0.0043, 2),
                                                 ("0.4340", 0.434, 4), ("3.0072", 3.0072, 5), ("100", 100.0, 3)])
def test_cells_are_read_as_written(text: str, value: float, digits: int) -> None:
    w = read_number(text)
    assert (w.value, w.digits, w.half_unit) == pytest.approx((value, digits, written(text)[2]))


@pytest.mark.parametrize("text", ["3,0072", "abc", "1.2.3", "e5", ""])
def test_unreadable_cells_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        read_number(text)


def one_line_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert run(lambda: grade.main(argv)) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err
    return err


def test_two_rows_for_one_student_and_problem_name_both_lines(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "twice.csv"
    path.write_text("student,problem,L\na,p3,3.0072\nb,p3,3.0072\na,p3,3.0071\n", encoding="utf-8")
    err = one_line_error([str(path)], capsys)
    assert "lines 2 and 4" in err and "'a'" in err


def test_a_file_without_a_problem_column_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("student,L\na,3.0072\n", encoding="utf-8")
    assert "problem" in one_line_error([str(path)], capsys)


def test_an_edited_rubric_changes_the_scores(tmp_path: Path, grades: dict[str, dict[str, str]],
                                             capsys: pytest.CaptureFixture[str]) -> None:
    """dev (log=10, parts 1, 3, 4, 5) earns half of each part when another reading is worth half."""
    rubric = tmp_path / "rubric.csv"
    lines = [line.split(",", 4) for line in DEFAULT_RUBRIC.splitlines()]
    rubric.write_text("\n".join(",".join(f[:3] + ["0.5"] + f[4:]) if i else ",".join(f)
                                for i, f in enumerate(lines)), encoding="utf-8")
    out = tmp_path / "g.csv"
    grade.main([str(CSV), "--out", str(out), "--rubric", str(rubric)])
    rows = {r["student"]: r for r in csv.DictReader(io.StringIO(out.read_text(encoding="utf-8")))}
    assert float(rows["dev"]["score"]) == float(grades["dev"]["score"]) / 2
    assert rows["ana"]["score"] == grades["ana"]["score"]
    capsys.readouterr()
    rubric.write_text("\n".join(DEFAULT_RUBRIC.splitlines()[:-1]), encoding="utf-8")  # p5 part 2 missing
    assert "p5 part 2" in one_line_error([str(CSV), "--rubric", str(rubric)], capsys)


def test_every_catalogue_entry_is_told_apart_at_5_digits_by_the_default_rtol() -> None:
    """On the assignment's numbers, each planted mistake changes some value so that its 5-digit answer
    does not match the right one; with a 4x larger rtol the one-sided difference hides, and --help's
    list of indistinguishable entries says so."""
    n = ASSIGNMENT
    x = np.array(n["x"])
    p3 = ref.p3(x, n["b"], n["c"], n["W"], n["U"], n["V"])
    p5 = ref.p5(x, n["c"], n["W"], n["U"], n["V"], REPO_BIASES)
    entries = {m.id: m for m in CATALOGUE}
    for problem, right in (("p3", p3), ("p5", p5)):
        for mistake in (m for m in entries if applies(entries[m], problem)):
            wrong = ref.p3(x, n["b"], n["c"], n["W"], n["U"], n["V"], mistake=mistake) if problem == "p3" else \
                ref.p5(x, n["c"], n["W"], n["U"], n["V"], REPO_BIASES, mistake=mistake)
            assert any(not agrees(five_digits(wrong[k]), right[k]) for k in right), (problem, mistake)
    one_sided = ref.p3(x, n["b"], n["c"], n["W"], n["U"], n["V"], mistake="one_sided_difference")
    assert all(agrees(five_digits(one_sided[k]), p3[k], rtol=4 * RTOL) for k in p3)
    solver = Solver(assignment_sheet())
    assert indistinguishable(solver, "p3", 4 * RTOL) == ["one_sided_difference"]
    assert indistinguishable(solver, "p3", RTOL) == indistinguishable(solver, "p5", RTOL) == []


def test_help_argues_the_rtol_and_prints_the_default_rubric(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        grade.main(["--help"])
    out = capsys.readouterr().out
    assert DEFAULT_RUBRIC.strip() in out
    assert f"Why rtol {RTOL:g}" in out and "one_sided_difference" in out and "--check" in out
    assert "no 5-digit answer tells apart" in out and ": none." in out


def test_readme_for_graders_states_what_the_code_does() -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## For graders"):readme.index("## What each figure shows")]
    assert DEFAULT_RUBRIC.strip() in section and f"(default {DEFAULT_RTOL:.0e})".replace("e-0", "e-") in section
    assert "make key" in section and "tests/data/submissions_example.csv" in section and "--make-variant" in section
    assert all(f"`{v}`" in section or v in section for v in grade.VERDICTS)


@pytest.mark.parametrize("problem", ["p3", "p5"])
def test_each_problem_uses_exactly_the_pieces_it_declares(problem: str) -> None:
    """A piece outside USES[problem] can be broken without changing that problem's values; breaking
    one inside changes them (so `applies` tells which catalogue entries concern which problem)."""
    from common.grading.solution import OWN, REFERENCE, USES, Pieces

    def broken(name: str):  # noqa: ANN202
        if name == "output_activation":
            return "identity"
        if name in ("loss", "dloss"):
            return lambda y, log: 2.0 * getattr(REFERENCE, name)(y, log)
        if name == "difference":
            return lambda f, x, eps: 0.0 * x
        if name == "update":
            return lambda b, lr, g: b
        return lambda a, *rest: 0.5 + 0.0 * a

    solver = Solver(assignment_sheet())
    right = solver.values(problem, OWN)
    for name in Pieces._fields:
        changed = solver.values(problem, OWN, REFERENCE._replace(**{name: broken(name)}))
        assert (not np.array_equal(changed, right)) == (name in USES[problem]), name
