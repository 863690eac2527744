"""The three documents and the PDF, built from every script's real output (P1 and P2 on the tiny
CNN, P4 --quick): solution.md within its limits and in plain words, evidence.md with a section for
every sub-question the solution links, key.md naming every mistake of the catalogue, and a PDF
with the solution's text and figures."""
from __future__ import annotations

import re

import pytest
from pypdf import PdfReader

from common.grading.mistakes import CATALOGUE
from report.solution import slug

LABELS = [f"P1 ({n})" for n in (1, 2, 3)] + [f"P2 ({n})" for n in (1, 2, 3)] \
    + [f"P3 ({n})" for n in range(1, 6)] + [f"P4 ({n})" for n in (1, 2, 3)] + ["P5"]
EXEMPT = ("P3", "P5")  # their values are the answer
TERMS = ("Cohen", "effect size", "bootstrap", "percentile", "Wilson", "cosine", "untrained",
         "random-init", "null", "replicate", "margin", "squared weight", "judge")
NOT_NUMBERS = re.compile(r"^\W*('\d'|\d's?|\ds|\d+x\d+|conv\d(?:'s)?|\(\d\)|P\d)\W*$")


def numbers(text: str) -> list[str]:
    """Tokens with a digit, except a digit's name ('6'), a patch size (8x8), a layer (conv3) and a
    sub-question's label."""
    return [t for t in text.split() if re.search(r"\d", t) and not NOT_NUMBERS.match(t)]


def sections(text: str) -> dict[str, str]:
    """Each sub-question's section of solution.md, by its label."""
    parts = re.split(r"^### ", text, flags=re.M)[1:]
    return {next(label for label in LABELS if part.startswith(label + " ")): part for part in parts}


def answer_paragraph(section: str) -> str:
    return re.search(r"^\*\*Answer\.\*\* (.*)$", section, re.M).group(1)


def tables(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if line.startswith("|"))


@pytest.fixture(scope="module")
def documents(built) -> dict[str, str]:
    return {name: (built / name).read_text() for name in ("solution.md", "evidence.md", "key.md")}


def test_numbers_are_counted_as_the_limits_define_them():
    assert numbers("the '6' under an 8x8 patch in conv3 (2) fell from 0.96 to 12% at P2") == ["0.96", "12%"]
    assert numbers("the 8's loop and 0s in conv3's maps, 3 px") == ["3"]


def test_the_solution_opens_with_one_linked_line_per_subquestion(documents):
    text = documents["solution.md"]
    glance = text[text.index("## Answers at a glance"):].split("\n## ")[0]
    links = re.findall(r"^\| \[([^]]+)\]\(#([^)]+)\)", glance, re.M)
    assert [label for label, _ in links] == LABELS
    anchors = {slug(part.splitlines()[0]) for part in re.split(r"^### ", text, flags=re.M)[1:]}
    assert {anchor for _, anchor in links} <= anchors


def test_every_answer_is_short_plain_and_shown(documents):
    found = sections(documents["solution.md"])
    assert list(found) == LABELS
    for label, part in found.items():
        words = answer_paragraph(part).split()
        assert len(words) <= 80, (label, len(words))
        if not label.startswith(EXEMPT):
            assert len(numbers(" ".join(words))) <= 4, (label, numbers(" ".join(words)))
        assert "![" in part or "\n| " in part, label
        assert part.startswith(label) and "**Question.** " in part and "](evidence.md#" in part


def test_the_solution_keeps_its_budget_and_its_words(documents):
    text = documents["solution.md"]
    exempt = "".join(part for label, part in sections(text).items() if label.startswith(EXEMPT))
    assert len(text.split()) - len(tables(exempt).split()) <= 2500
    assert "<details>" not in text
    for term in TERMS:
        assert not re.search(rf"\b{re.escape(term)}", text, re.I), term


def test_the_answering_figures_are_there(documents):
    found = sections(documents["solution.md"])
    for layer in ("conv1", "conv2", "conv3"):
        assert f"p1_filters_{layer}.png" in found["P1 (1)"]
    assert len(re.findall(r"!\[[^]]*\]\(p2_adversarial[^)]*\.png\)", found["P2 (3)"])) >= 1
    assert re.search(r"\blabel", found["P2 (3)"])


def test_every_evidence_link_lands_on_a_section(documents):
    anchors = {slug(line[4:]) for line in documents["evidence.md"].splitlines() if line.startswith("### ")}
    links = re.findall(r"\]\(evidence\.md#([^)]+)\)", documents["solution.md"])
    assert len(links) == len(LABELS) and set(links) <= anchors


def test_the_key_names_every_mistake_of_the_catalogue_and_not_the_solution(documents):
    for mistake in CATALOGUE:
        assert f"`{mistake.id}`: {mistake.text}" in documents["key.md"], mistake.id
        assert mistake.id not in documents["solution.md"]
    assert "## Points and partial credit" in documents["key.md"]
    assert "Points" not in documents["solution.md"] and "partial credit" not in documents["solution.md"]


def test_the_pdf_holds_the_text_and_every_figure(built, documents):
    reader = PdfReader(built / "solution.pdf")
    assert 6 <= len(reader.pages) <= 20
    text = " ".join(page.extract_text() for page in reader.pages)
    assert "Answers at a glance" in text and "P2 (3)" in text
    images = sum(len(page.images) for page in reader.pages)
    assert images == len(set(re.findall(r"!\[[^]]*\]\(([^)]+\.png)\)", documents["solution.md"])))
