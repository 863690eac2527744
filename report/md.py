"""Markdown pieces the renderers share: tables, folded blocks, the answer paragraph, numbers, figures."""
from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import Path
from typing import Any, Callable, NamedTuple

LINK = re.compile(r"(!?\[[^\]]*\]\()([^)\s]+)(\))")  # a Markdown link or image: (prefix)(target)(")")


def sig(v: Any, digits: int = 5) -> str:
    """A number or (nested) vector with `digits` significant digits: [-0.0099614, 0.43401]."""
    if isinstance(v, Sequence) and not isinstance(v, str):
        return "[" + ", ".join(sig(e, digits) for e in v) + "]"
    return f"{float(v) + 0.0:#.{digits}g}"  # trailing zeros kept; + 0.0 turns −0.0 into 0.0


def pct(v: Any, digits: int = 1) -> str:
    return f"{100 * float(v):.{digits}f}%"


def prob(v: Any) -> str:
    return f"{float(v):.3f}"


def listing(items: Sequence[str], last: str = "and") -> str:
    """'a', 'a and b', 'a, b and c' (`last` joins the final two)."""
    items = list(items)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + f" {last} " + items[-1]


NUMBER_WORDS = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")


def in_words(n: int) -> str:
    """A small count as a word ('three'); larger ones as digits."""
    return NUMBER_WORDS[n] if n in range(len(NUMBER_WORDS)) else f"{n:,}"


def coords(v: Sequence[int]) -> str:
    return "(" + ", ".join(map(str, v)) + ")"


def table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    """A Markdown table; a '|' inside a cell (as in |d|) is escaped so it does not split the cell."""
    def cells(row: Sequence[Any]) -> str:
        return "| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |"
    return [cells(header), "|" + " --- |" * len(header)] + [cells(row) for row in rows] + [""]


def answer(text: str) -> list[str]:
    """The opening paragraph a grader marks."""
    return [f"**Answer.** {text}", ""]


def details(summary: str, lines: Sequence[str]) -> list[str]:
    """A folded block: method, per-seed tables, population statistics."""
    return [f"<details><summary>{summary}</summary>", "", *lines, "", "</details>", ""]


@dataclass
class Figures:
    """The figure folder, what each figure shows, and the figures linked so far (in report order).

    With `terminal=True`, a link is one line naming the file, for the scripts' printed answers."""

    folder: Path
    notes: Mapping[str, str] = field(default_factory=dict)
    terminal: bool = False
    linked: dict[str, None] = field(default_factory=dict)  # an ordered set

    def note(self, name: str) -> str:
        """One line on what a figure shows: its note, or its name in words."""
        problem, _, what = name.removesuffix(".png").partition("_")
        return self.notes.get(name) or f"P{problem[1:]}: {what.replace('_', ' ')}."

    def link(self, *names: str) -> list[str]:
        """Caption and image for each name (linked even if absent, so --check-links catches it)."""
        self.linked.update(dict.fromkeys(names))
        if self.terminal:
            return [f"(figure: {self.folder.name}/{n})" for n in names] + [""]
        return [line for n in names for line in (f"_`{n}`: {self.note(n)}_", "", f"![{n}]({n})", "")]

    def matching(self, pattern: str) -> list[str]:
        """The figures with a note whose names match `pattern` and that exist, in the notes' order."""
        return [n for n in self.notes if fnmatch(n, pattern) and (self.folder / n).exists()]

    def rest(self, n: int) -> list[str]:
        """Every pN_*.png not linked yet, folded, so that no figure is left out of the report."""
        names = [m for m in self.matching(f"p{n}_*.png") if m not in self.linked]
        return details(f"P{n}: other figures", self.link(*names)) if names and not self.terminal else []


class Section(NamedTuple):
    """One sub-question: its label ('(1)'), its title, and the function that renders it."""

    label: str
    title: str
    render: Callable[[Any, Figures], list[str]]
