"""One problem's answers as Markdown, for the report and for the script that computed them.

Each module report/pN.py exposes SCRIPT, TITLE, FIGURES (a note per figure), SECTIONS (one
`Section` per sub-question) and `interpretations(r)`. The scripts print their answers with
`print_problem(N, results, out)`, so the terminal and the report say the same words.
"""
from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType

from common.core.cli import FIGURES, PYTHON
from report import p1, p2, p3, p4, p5
from report.fields import Strict
from report.md import Figures

PROBLEMS: dict[int, ModuleType] = {1: p1, 2: p2, 3: p3, 4: p4, 5: p5}
NOTES = {name: note for module in PROBLEMS.values() for name, note in module.FIGURES.items()}


def command(script: str, folder: Path = FIGURES) -> str:
    """The command that runs `script` with its results going to `folder`."""
    out = "" if Path(folder).resolve() == FIGURES.resolve() else f" --out {folder}"
    return f"{PYTHON} {script}{out}"


def fix(n: int, folder: Path = FIGURES) -> str:
    """The command that rewrites problem n's results in `folder`."""
    return command(PROBLEMS[n].SCRIPT, folder)


def section_heading(n: int, index: int) -> str:
    """The heading text of problem n's sub-question `index` in evidence.md: 'P1 (1) Filters of ...'."""
    section = PROBLEMS[n].SECTIONS[index]
    return " ".join(filter(None, (f"P{n}", section.label, section.title)))


def problem_lines(n: int, r, figs: Figures) -> list[str]:
    """Problem n's section: a heading, then each sub-question's heading and its rendered lines."""
    module = PROBLEMS[n]
    lines = [f"## P{n}: {module.TITLE}", ""]
    for index, section in enumerate(module.SECTIONS):
        lines += [f"### {section_heading(n, index)}", ""]
        lines += section.render(r, figs)
    return lines + figs.rest(n)


def print_problem(n: int, results: dict, out: Path = FIGURES) -> None:
    """Print problem n's answers from `results` exactly as the report renders them from its JSON file."""
    r = Strict(json.loads(json.dumps(results)), f"{PROBLEMS[n].SCRIPT}'s results", fix(n, out))
    print("\n".join(problem_lines(n, r, Figures(Path(out), NOTES, terminal=True))).rstrip())
