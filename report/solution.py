"""figures/solution.md: the solution an instructor publishes and a student reads in ten minutes.

It opens with one line per sub-question, each linked to its section. Each section gives the
question in one line, the answer in plain words, then the figure or the table of values that shows
it, and a link to the sub-question's section of evidence.md, where the statistics are. The answers
are report/answers_cnn.py's and report/answers_rnn.py's, formatted from the results JSON.
"""
from __future__ import annotations

import re
from typing import Callable

from report import answers_cnn, answers_rnn
from report.answer import Answer
from report.md import table
from report.render import PROBLEMS, fix, section_heading

ANSWERS: tuple[tuple[int, Callable[..., Answer]], ...] = (
    (1, answers_cnn.p1_filters), (1, answers_cnn.p1_feature_maps), (1, answers_cnn.p1_shift),
    (2, answers_cnn.p2_maps), (2, answers_cnn.p2_strokes), (2, answers_cnn.p2_adversarial),
    (3, answers_rnn.p3_outputs), (3, answers_rnn.p3_central), (3, answers_rnn.p3_bptt),
    (3, answers_rnn.p3_step), (3, answers_rnn.p3_new_loss),
    (4, answers_rnn.p4_hardest), (4, answers_rnn.p4_esn), (4, answers_rnn.p4_lstm),
    (5, answers_rnn.p5_lstm),
)
EVIDENCE, PDF = "evidence.md", "solution.pdf"


def slug(heading: str) -> str:
    """The anchor GitHub and pandoc give a heading: lower case, punctuation dropped, spaces as '-'."""
    return re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")


def heading(answer: Answer) -> str:
    return f"{answer.label} {answer.title}"


def plain(caption: str) -> str:
    """A caption as an image's alt text: each Markdown link's text without its target."""
    return re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", caption)


def section(answer: Answer) -> list[str]:
    figures = [line for name, caption in answer.figures
               for line in (f"![{plain(caption)}]({name})", "", f"*{caption}*", "")]
    link = f"[The evidence for {answer.label}]({EVIDENCE}#{slug(section_heading(*answer.evidence))})"
    return ([f"### {heading(answer)}", "", f"**Question.** {answer.question}", "",
             f"**Answer.** {answer.text}", ""] + list(answer.values) + ([""] if answer.values else [])
            + figures + [link + ".", ""])


def not_run(problem: int, folder) -> list[str]:
    return [f"## P{problem}", "", f"_Not run yet: `{fix(problem, folder)}`._", ""]


def build_solution(results: dict, folder) -> str:
    """solution.md's text from the results of each problem (None where a script has not run)."""
    answers = [(n, render(results[n])) for n, render in ANSWERS if results[n] is not None]
    glance = table(["sub-question", "answer"],
                   [[f"[{a.label}](#{slug(heading(a))})", a.glance] for _, a in answers])
    lines = ["# CNNs and RNNs: the solution", "",
             f"Each answer below is in plain words, with the figure or the values that show it. The "
             f"statistics behind every claim are in [{EVIDENCE}]({EVIDENCE}). This page is also "
             f"[{PDF}]({PDF}).", "",
             "## Answers at a glance", "", *glance]
    done = {n for n, _ in answers}
    for n in PROBLEMS:
        if n not in done:
            lines += not_run(n, folder)
            continue
        lines += [f"## P{n}: {PROBLEMS[n].TITLE}", ""]
        lines += [line for m, a in answers if m == n for line in section(a)]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).rstrip() + "\n"
