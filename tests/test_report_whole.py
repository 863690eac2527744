"""evidence.md, built from every script's real output (P1 and P2 on the tiny CNN, P4 --quick):
every sub-question opens with a short answer, the main body keeps its budget, and a field that a
renderer reads, deleted from its file, stops the build with a line naming it."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import ANSWER_WORDS, main_body_words, opening_words, without_field

from common.core.cli import ROOT

SECTIONS = [f"P1 ({n})" for n in (1, 2, 3)] + [f"P2 ({n})" for n in (1, 2, 3)] \
    + [f"P3 ({n})" for n in range(1, 6)] + [f"P4 ({n})" for n in (1, 2, 3)] + ["P5 "]
MAIN_BODY_WORDS = 4000


def build(folder: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "report", "--figures", str(folder), "--check-links"],
                          cwd=ROOT, capture_output=True, text=True)


def test_every_subquestion_opens_with_a_short_answer(every_result):
    done = build(every_result)
    assert done.returncode == 0, done.stderr
    text = (every_result / "evidence.md").read_text()
    lines = text.splitlines()
    heads = [i for i, line in enumerate(lines) if line.startswith("### ")]
    for name in SECTIONS:
        found = [i for i in heads if lines[i].startswith(f"### {name.strip()} ")]
        assert len(found) == 1, name
        body = lines[found[0] + 1:]
        first = next(line for line in body if line.strip())
        assert first.startswith("**Answer.**"), name
        assert opening_words(body) <= ANSWER_WORDS, (name, opening_words(body))
    assert main_body_words(text) <= MAIN_BODY_WORDS


@pytest.mark.parametrize("n, path", [(1, ("shift", "mechanism")), (1, ("model", "layers")),
                                     (2, ("maps_equal_cells",)), (2, ("important_region", "n_below")),
                                     (4, ("experiment2",))])
def test_deleting_a_field_a_renderer_reads_fails_naming_it(every_result, tmp_path, n, path):
    without_field(every_result, tmp_path, n, path)
    done = build(tmp_path)
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert re.search(rf"p{n}_results.json has no field '{re.escape('.'.join(path))}", done.stderr), done.stderr
