"""Output folders: every script refuses one it cannot write with one line and exit status 2, at
parse time, before any work; common.core.cli.writable_dir is the check."""
from __future__ import annotations

import argparse
import importlib

import pytest

from common.core.cli import ROOT, Parser, add_out_argument, writable_dir, writable_file

# Every script at the top level takes an output folder (or file: grade.py's --out); the report's
# is the folder it reads too.
SCRIPTS = sorted([p.stem for p in ROOT.glob("*.py")] + ["report.build"])  # `python -m report`
FLAG = {"report.build": "--figures"}


def test_writable_dir_creates_a_missing_folder_and_returns_it(tmp_path):
    folder = tmp_path / "a" / "b"
    assert writable_dir(str(folder)) == folder and folder.is_dir()
    assert list(folder.iterdir()) == []  # the probe leaves nothing behind


@pytest.mark.parametrize("rel", ["file", "file/out", "file/deeper/out"])
def test_writable_dir_refuses_a_regular_file_and_any_path_below_one(tmp_path, rel):
    """Below a regular file no folder can be made, even by root (a read-only mode would not stop root)."""
    (tmp_path / "file").write_text("x")
    with pytest.raises(argparse.ArgumentTypeError, match=r"cannot write to folder .* \(Not a directory\)"):
        writable_dir(str(tmp_path / rel))


def test_writable_file_checks_its_folder_and_refuses_a_folder(tmp_path):
    (tmp_path / "file").write_text("x")
    assert writable_file(str(tmp_path / "new" / "grades.csv")) == tmp_path / "new" / "grades.csv"
    assert (tmp_path / "new").is_dir() and not (tmp_path / "new" / "grades.csv").exists()
    with pytest.raises(argparse.ArgumentTypeError,
                       match=f"cannot write to folder {tmp_path / 'file'} \\(Not a directory\\)"):
        writable_file(str(tmp_path / "file" / "grades.csv"))
    with pytest.raises(argparse.ArgumentTypeError, match="is a folder"):
        writable_file(str(tmp_path / "new"))


def test_the_default_folder_is_checked_too(tmp_path, capsys):
    """argparse applies a type to a string default only: add_out_argument passes one."""
    (tmp_path / "file").write_text("x")
    parser = Parser(prog="demo")
    add_out_argument(parser, "folder", default=tmp_path / "file" / "out")
    with pytest.raises(SystemExit) as exc:
        parser.parse_args([])
    assert exc.value.code == 2 and "cannot write to folder" in capsys.readouterr().err


def test_every_script_is_covered():
    assert {"p1_cnn_filters", "p2_occlusion", "p3_rnn_bptt", "p4_experiments", "p5_lstm",
            "answer_key", "report.build"} <= set(SCRIPTS)


@pytest.mark.parametrize("name", SCRIPTS)
def test_an_unwritable_out_is_one_line_and_exit_2_before_any_work(name, tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    bad = tmp_path / "file" / "out"
    main = importlib.import_module(name).main
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        main([FLAG.get(name, "--out"), str(bad)])
    captured = capsys.readouterr()
    assert exc.value.code == 2
    # grade.py's --out is a file: then the folder named is the one below the regular file.
    assert captured.err.count("\n") == 1 and "cannot write to folder" in captured.err
    assert str(tmp_path / "file") in captured.err and "(Not a directory)" in captured.err
    assert captured.out == ""  # nothing ran: no data line, no training, no results
    assert list(tmp_path.iterdir()) == [tmp_path / "file"]
