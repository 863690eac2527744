"""P4's words: the argument of p4_answers.md, each part followed by its measurements.

Reads `p4_results.json` (written by p4_experiments.py) and p4_answers.md."""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

from common.cli import ROOT
from report.md import Figures, Section

ARGUMENT = ROOT / "p4_answers.md"
LINK = re.compile(r"(!?\[[^\]]*\]\()([^)\s]+)(\))")

SCRIPT = "p4_experiments.py"
TITLE = "learning from protein sequences thousands of steps long"
FIGURES = {
    'p4_gradient_decay.png': 'P4 (1), (3): how ‖∂L/∂h(t)‖ shrinks or grows with the distance to the loss, for the RNN at several spectral radii and the LSTM at several forget-gate biases.',
    'p4_dW_share.png': 'P4 (1): the share of ∂L/∂W that comes from steps far from the loss.',
    'p4_esn.png': 'P4 (2): echo state network held-out accuracy against sequence length and spectral radius.',
}


def rebase_links(text: str, src: Path, dst: Path) -> str:
    """Rewrite relative links written from folder `src` so that they work from folder `dst`."""
    def fix(m: re.Match) -> str:
        target = m.group(2)
        if "://" in target or target.startswith(("#", "/", "mailto:")):
            return m.group(0)
        path, _, anchor = target.partition("#")
        new = Path(os.path.relpath(src / path, dst)).as_posix() + (f"#{anchor}" if anchor else "")
        return m.group(1) + new + m.group(3)
    return LINK.sub(fix, text)


def split_numbered(text: str) -> tuple[list[str], dict[int, list[str]]]:
    """Split markdown at headings (or bold lines) that name a sub-question '(n)'.

    Returns the lines before the first one (minus a leading title heading) and each part's lines,
    with the part's own heading dropped and deeper headings demoted below the report's."""
    intro: list[str] = []
    parts: dict[int, list[str]] = {}
    current = intro
    for line in text.splitlines():
        m = re.match(r"^(?:#{1,6}\s+|\*\*).*?\((\d)\)", line)
        if m:
            current = parts.setdefault(int(m.group(1)), [])
        elif re.match(r"^#\s", line) and current is intro and not any(s.strip() for s in intro):
            continue  # the document's title
        elif re.match(r"^#{1,6}\s", line):
            current.append("#### " + line.lstrip("#").strip())
        else:
            current.append(line)
    return intro, parts


def p4_cost_line(r, timing: dict) -> list[str]:
    """P4 (2) at equal time, from p4_timing.json (wall-clock, this machine) and the per-epoch accuracies."""
    cost = r["experiment2"]["cost_comparison"]
    esn, per_epoch = timing["esn_readout_seconds"], timing["bptt_seconds_per_epoch"]
    accs = cost["bptt"]["test_accuracy_per_epoch"]
    done = sum(1 for t in per_epoch if t <= esn)
    at_esn_time = ("BPTT had not finished its first epoch, so its readout was still V = 0, c = 0 (accuracy 0.5)"
                   if done == 0 else f"BPTT had finished {done} epoch(s), accuracy {accs[done - 1]:.2f}")
    return [f"**Cost at equal time** (`p4_timing.json`, wall-clock on the machine that ran it): the echo "
            f"state network's readout took {esn:.2f} s and reached {cost['esn_test_accuracy']:.2f}; in those "
            f"{esn:.2f} s {at_esn_time}. BPTT's {len(per_epoch)} epochs took {timing['bptt_seconds']:.1f} s "
            f"({timing['bptt_seconds'] / esn:.1f}× the ESN) and reached {accs[-1]:.2f}.", ""]


def argument(n: int, folder: Path) -> list[str]:
    """Part (n) of p4_answers.md, its links rewritten to work from the report's folder."""
    text = rebase_links(ARGUMENT.read_text(), ARGUMENT.parent, folder)
    return split_numbered(text)[1].get(n, [])


def part(n: int, figures: tuple[str, ...]):
    def render(r, figs: Figures) -> list[str]:
        lines = argument(n, figs.folder) + ["", f"**Measured** (`p4_results.json`). {r['answers'][f'q{n}']}", ""]
        timing = figs.folder / "p4_timing.json"
        if n == 2 and timing.is_file():
            lines += p4_cost_line(r, json.loads(timing.read_text()))
        return lines + figs.link(*(f for f in figures if f not in figs.linked))
    return render


SECTIONS = [Section("(1)", "Which parameters are hardest to learn", part(1, ("p4_gradient_decay.png", "p4_dW_share.png"))),
            Section("(2)", "The network as an echo state network", part(2, ("p4_esn.png",))),
            Section("(3)", "Why an LSTM cell helps", part(3, ()))]


def interpretations(r) -> list[str]:
    return [f"**Problem 4's experiments.** {r['interpretation']}"]
