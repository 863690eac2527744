"""A class of 60 graded in one command, on issued sheets (--sheets), and the CLI's new modes.

The class is built here: values from tests/grade_reference.py (plain numpy) on the numbers of each
issued key file; half the students give every intermediate, half the finals. Planted: an unreadable
cell, the assignment's answers handed in on a variant, a classmate's answers, a variant never issued,
a wrong gradient carried forward, and a b_new with no update.
"""
from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import grade_reference as ref
import numpy as np
import pytest
from submissions_plan import ASSIGNMENT

import grade
from common.core.cli import run
from common.grading.rubric import DEFAULT_RUBRIC
from common.grading.solution import KEYS

ISSUED = range(1, 11)
KINDS = ("step", "carried", "no_update", "unreadable", "plain", "copied_original", "plain", "copied_classmate",
         "plain", "not_issued")


@pytest.fixture(scope="module")
def sheets(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    folder = tmp_path_factory.mktemp("sheets")
    for n in ISSUED:
        grade.main(["--make-variant", str(n), "--out-dir", str(folder)])
    return folder, {n: json.loads((folder / f"key-{n}.json").read_text()) for n in ISSUED}


def numbers(key: dict | None) -> dict:
    return ASSIGNMENT if key is None else {"x": key["x"], **key["params"]}


def p3_values(n: dict, mistake: str | None = None) -> dict[str, float]:
    return ref.p3(np.array(n["x"]), *(n[k] for k in "bcWUV"), mistake=mistake)


def student(i: int, keys: dict) -> tuple[dict[str, str], str]:
    """Student i's row and kind."""
    kind, variant = KINDS[i % 10], ISSUED[i % len(ISSUED)]
    own = numbers(keys[variant])
    source = {"copied_original": ASSIGNMENT, "copied_classmate": numbers(keys[ISSUED[(i + 1) % 10]])}.get(kind, own)
    v = p3_values(source, "W_not_transposed" if kind == "carried" else None)
    if kind == "no_update":
        v |= {"b_new_1": own["b"][0], "b_new_2": own["b"][1], "L_new": v["L"]}
    names = KEYS["p3"] if i % 2 == 0 else ["L", "grad_cd_1", "grad_cd_2", "grad_1", "grad_2", "b_new_1", "b_new_2",
                                           "L_new"]
    row = {"student": f"s{i:02d}", "problem": "p3", "variant": str(500 + i if kind == "not_issued" else variant)}
    row |= {k: f"{v[k]:.8g}" if k.startswith("b_new") else f"{v[k]:.5g}" for k in names}
    if kind == "unreadable":
        row["L"] = row["L"].replace("0", "O", 1) if "0" in row["L"] else row["L"] + "x"
    return row, kind


@pytest.fixture(scope="module")
def graded(sheets: tuple[Path, dict], tmp_path_factory: pytest.TempPathFactory) -> dict:
    folder, keys = sheets
    rows, kinds = zip(*(student(i, keys) for i in range(60)))
    header = list(dict.fromkeys(k for r in rows for k in r))
    path = tmp_path_factory.mktemp("class") / "class.csv"
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=header)
        w.writeheader()
        w.writerows(rows)
    out, book = path.with_name("grades.csv"), path.with_name("book.csv")
    grade.main([str(path), "--sheets", str(folder), "--out", str(out)])
    grade.main([str(path), "--sheets", str(folder), "--by-student", "--out", str(book)])
    read = lambda p: list(csv.DictReader(io.StringIO(p.read_text(encoding="utf-8"))))  # noqa: E731
    return {"kinds": kinds, "rows": rows, "grades": read(out), "book": read(book), "path": path, "folder": folder}


def by_kind(graded: dict, kind: str) -> list[dict[str, str]]:
    return [g for g, k in zip(graded["grades"], graded["kinds"]) if k == kind]


def test_unreadable_cells_and_unissued_variants_need_review(graded: dict) -> None:
    for kind in ("unreadable", "not_issued"):
        assert {g["verdict"] for g in by_kind(graded, kind)} == {"needs_review"}, kind
        assert all(g["review"] for g in by_kind(graded, kind))
    assert not any(g["verdict"] == "correct" and g["review"] for g in graded["grades"])


def test_copied_rows_are_other_sheet_and_name_their_source(graded: dict) -> None:
    assert {g["reading"] for g in by_kind(graded, "copied_original")} == {"the assignment's sheet"}
    for g, row, kind in zip(graded["grades"], graded["rows"], graded["kinds"]):
        if kind == "copied_classmate":
            source = ISSUED[(int(row["student"][1:]) + 1) % 10]
            assert (g["verdict"], g["reading"]) == ("other_sheet", f"variant {source}")
    assert {g["verdict"] for g in by_kind(graded, "plain")} == {"correct"}


def test_a_wrong_gradient_carried_forward_earns_parts_4_and_5(graded: dict, tmp_path: Path) -> None:
    """With the default rubric the carried rows earn (4) and (5), 6 points, over the same rubric with
    carried = 0."""
    off = tmp_path / "rubric.csv"
    off.write_text("\n".join(",".join(f[:5] + ["0"] + f[6:]) if i else ",".join(f) for i, f in
                             enumerate(line.split(",", 6) for line in DEFAULT_RUBRIC.splitlines())), encoding="utf-8")
    out = tmp_path / "g.csv"
    grade.main([str(graded["path"]), "--sheets", str(graded["folder"]), "--rubric", str(off), "--out", str(out)])
    without = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    for g, h, kind in zip(graded["grades"], without, graded["kinds"]):
        if kind == "carried":
            assert g["first_wrong"].startswith("dL_dh") or g["first_wrong"] == "grad"
            assert float(g["score"]) - float(h["score"]) == 6.0, g


def test_no_update_earns_less_than_a_real_step(graded: dict) -> None:
    step = {g["student"][1:]: float(g["score"]) for g in by_kind(graded, "step")}
    none = {g["student"][1:]: float(g["score"]) for g in by_kind(graded, "no_update")}
    assert max(none.values()) < min(step.values())


def test_by_student_gives_one_row_per_student(graded: dict) -> None:
    assert len(graded["book"]) == 60
    assert [b["student"] for b in graded["book"]] == [r["student"] for r in graded["rows"]]
    assert all(float(b["total"]) == float(b["p3_score"]) + float(b["p5_score"]) for b in graded["book"])


def one_line_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert run(lambda: grade.main(argv)) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err
    return err


def test_a_header_typo_stops_naming_the_closest_column(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "typo.csv"
    path.write_text("student,problem,L,grad1,grad_2\na,p3,3.0072,-0.00996,0.434\n", encoding="utf-8")
    assert "grad1: did you mean grad_1?" in one_line_error([str(path)], capsys)


def test_headers_any_case_and_a_semicolon_file_with_decimal_commas(tmp_path: Path) -> None:
    path = tmp_path / "semi.csv"
    path.write_text("Student;PROBLEM;l;GRAD_1;grad_2\na;p3;3,0072;-0,00996;0,434\n", encoding="utf-8")
    assert grade.main([str(path)])["rows"][0]["verdict"] == "correct"


@pytest.mark.parametrize("argv, words", [
    (["--check", "p3", "L=3.0072", "--rtol", "0.5"], "at most 0.01"),
    (["--check", "p3", "L=3.0072", "--rtol", "0"], "above 0"),
    (["--check", "p3", "L=3.0072", "--out", "/nonexistent-folder/g.csv"], "/nonexistent-folder does not exist"),
    (["--make-variant", "abc"], "the variant's number"),
    (["tests/data/submissions_example.csv", "--make-variant", "3"], "not a submissions CSV and --make-variant"),
])
def test_bad_input_is_one_line(argv: list[str], words: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        grade.main(argv)
    err = capsys.readouterr().err.strip()
    assert exc.value.code == 2 and "\n" not in err and words in err


def test_the_template_lists_every_column(tmp_path: Path) -> None:
    out = tmp_path / "t.csv"
    grade.main(["--template", "p3", "--intermediates", "--out", str(out)])
    header = out.read_text(encoding="utf-8").strip().split(",")
    assert set(KEYS["p3"]) <= set(header) and {"delta_b_1", "log", "h0_1", "student"} <= set(header)


def test_nothing_the_self_check_prints_is_a_value_of_the_key(capsys: pytest.CaptureFixture[str]) -> None:
    right = p3_values(ASSIGNMENT)
    sent = {k: f"{v * (1.01 if k == 'grad_2' else 1.0):.5g}" for k, v in right.items()}
    grade.main(["--self-check", "p3", *(f"{k}={v}" for k, v in sent.items())])
    out = capsys.readouterr().out
    assert "✗ grad_2" in out and "✓ L" in out and "first wrong step: grad" in out
    numbers = [float(t) for t in re.findall(r"-?\d+\.\d+(?:e-?\d+)?", out)]
    assert not [x for x in numbers for v in right.values() if abs(x - v) <= 1e-3 * abs(v)]


def test_a_secret_draws_a_sheet_that_the_number_alone_does_not(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_bytes(b"course secret")
    public = grade.main(["--make-variant", "4", "--out-dir", str(tmp_path / "a")])
    hidden = grade.main(["--make-variant", "4", "--secret", str(secret), "--out-dir", str(tmp_path / "b")])
    again = grade.main(["--make-variant", "4", "--secret", str(secret), "--out-dir", str(tmp_path / "c")])
    assert hidden["params"] == again["params"] and (hidden["params"], hidden["x"]) != (public["params"], public["x"])
