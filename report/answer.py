"""One sub-question of the published solution, as data: the question in one line, the answer in
plain words, and the figures or the table of values that show it. report/solution.py lays them out."""
from __future__ import annotations

from typing import NamedTuple


class Answer(NamedTuple):
    label: str  # "P1 (1)"
    title: str  # the section heading after the label
    question: str  # the question, in one line of our own words
    glance: str  # the answer in a few words, for the table that opens the solution
    text: str  # the answer paragraph
    figures: tuple[tuple[str, str], ...] = ()  # (file, caption)
    values: tuple[str, ...] = ()  # Markdown lines of a table of values
    evidence: tuple[int, int] = (0, 0)  # (problem, index of its section in report/pN.SECTIONS)
