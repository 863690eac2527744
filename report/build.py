"""Build the three documents and the PDF from the results JSON, and README's results.

- figures/solution.md: what an instructor publishes and a student reads (report/solution.py);
- figures/evidence.md: every statistic, interval and per-seed table behind it (report/p1.py ...);
- figures/key.md: the graders' key (report/keydoc.py, report/key.py);
- figures/solution.pdf: solution.md set as a PDF (report/pdf.py).

Reads only figures/pN_results.json, figures/answer_key.json, p4_answers.md and the figure files (it
never runs a model). A results file that does not exist yet is reported as not run; one that exists
but is not valid JSON, or lacks a field a renderer reads, stops the build with one line naming the
file, the field and the command that rewrites it.

Command:   .venv/bin/python -m report [--check-links]                              (make runs it last)
           --figures DIR (figures/);  --readme README.md --seed-runs figures/seed1 figures/seed2   (make readme)
Exit:      0; 2 with one line on stderr for a broken results file or a missing field;
           1 when --check-links finds a linked file that does not exist.
Runtime:   under a second on 2 CPU cores (JSON and text only, no torch).
"""
from __future__ import annotations

import datetime
import re
from pathlib import Path
from typing import Sequence

from common.core.cli import Parser, UserError, add_out_argument, write_atomic
from common.core.machine import one_line as machine_line
from common.nets.sources import DESCRIPTIONS
from report import key, readme
from report.fields import load
from report.keydoc import build_key
from report.md import LINK, Figures, table
from report.p1 import header_rows
from report.pdf import write_pdf
from report.render import NOTES, PROBLEMS, command, fix, problem_lines
from report.solution import PDF, build_solution


def data_description(r1) -> str:
    """What the CNNs were trained and tested on; a source this version does not know is a results
    file from an older version."""
    source = r1["data_source"]
    if source not in DESCRIPTIONS:
        raise UserError(f"p1_results.json names the data source {source!r}, which this version does not "
                        "know: it is older than the code, and running make rewrites it")
    return DESCRIPTIONS[source].long


def not_run(n: int, folder: Path) -> list[str]:
    return [f"_Not run yet: `{fix(n, folder)}`._", ""]


def header(results: dict, date: str, folder: Path) -> list[str]:
    r1, r3 = results[1], results[3]
    rows = [["Date", date], ["Machine", machine_line()]]
    if r1 is not None:
        rows += [["Data", data_description(r1)], ["Seed", r1["seed"]],
                 ["torch", r1["versions"]["torch"]], *header_rows(r1)]
    if r3 is not None:
        rows.append(["Python, numpy", f"{r3['versions']['python']}, {r3['versions']['numpy']}"])
    lines = ["# Report: CNNs and RNNs, every question answered", ""] + table(["", ""], rows)
    absent = [n for n, r in results.items() if r is None]
    if absent:
        lines += ["**Not run yet**: " + ", ".join(f"`{fix(n, folder)}`" for n in absent) + ".", ""]
    return lines


def interpretations(results: dict) -> list[str]:
    """Every ambiguity and the choice made, in the problems' order."""
    items = []
    if results[1] is not None:
        items.append(f"**Data.** {data_description(results[1])}; with internet, `--data auto` "
                     "trains on full MNIST.")
    for n, module in PROBLEMS.items():
        items += module.interpretations(results[n]) if results[n] is not None else []
    return ["## Interpretations we chose", ""] + [f"- {item}" for item in items] + [""]


def build_evidence(results: dict, figs: Figures, date: str) -> str:
    """evidence.md: the run, then every sub-question's statistics, then the interpretations."""
    lines = header(results, date, figs.folder)
    for n in PROBLEMS:
        lines += problem_lines(n, results[n], figs) if results[n] is not None else (
            [f"## P{n}: {PROBLEMS[n].TITLE}", ""] + not_run(n, figs.folder))
    lines += interpretations(results)
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).rstrip() + "\n"


def write_documents(results: dict, answer_key, folder: Path, date: str) -> dict[str, str]:
    """Write solution.md, evidence.md and key.md into `folder`; return their texts."""
    texts = {"solution.md": build_solution(results, folder),
             "evidence.md": build_evidence(results, Figures(folder, NOTES), date),
             "key.md": build_key(answer_key, results[1], results[2], results[3], results[5], command(key.SCRIPT, folder))}
    for name, text in texts.items():
        write_atomic(folder / name, text.encode())
    return texts


def load_results(folder: Path) -> dict:
    return {n: load(folder / f"p{n}_results.json", fix(n, folder)) for n in PROBLEMS}


def broken_links(text: str, folder: Path) -> list[str]:
    """Relative link targets in `text` that do not exist, resolved from `folder`."""
    targets = [m.group(2).partition("#")[0] for m in LINK.finditer(text)]
    return list(dict.fromkeys(t for t in targets if t and "://" not in t and not t.startswith("mailto:")
                              and not (folder / t).exists()))


def parse_args(argv: Sequence[str] | None):
    p = Parser(prog="python -m report", description=__doc__.splitlines()[0])
    add_out_argument(p, "folder of the pN_results.json files and figures; the documents are written there",
                     "--figures")
    p.add_argument("--readme", type=Path, default=None,
                   help="also rewrite this README's marker regions (the reference run: `make readme`)")
    p.add_argument("--seed-runs", type=Path, nargs="*", default=[],
                   help="folders of P1/P2 results from CNNs trained with other seeds, for README's ranges")
    p.add_argument("--check-links", action="store_true",
                   help="exit 1 if the report links a file that does not exist")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> dict:
    args = parse_args(argv)
    results = load_results(args.figures)
    answer_key = load(args.figures / "answer_key.json", command(key.SCRIPT, args.figures))
    figs = Figures(args.figures, NOTES)
    date = datetime.date.today().isoformat()
    texts = write_documents(results, answer_key, args.figures, date)
    absent = [PROBLEMS[n].SCRIPT for n, r in results.items() if r is None]
    print(f"wrote {', '.join(str(args.figures / name) for name in texts)}"
          + (f"; not run yet: {', '.join(absent)}" if absent else ""))
    outcome = None
    if args.readme is not None:
        outcome = readme.update(args.readme, results, args.seed_runs, figs, date)
        print(outcome)
    broken = [f"{name}: {target}" for name, text in texts.items() for target in broken_links(text, args.figures)
              if target != PDF]  # written next, once the links hold
    if args.check_links and broken:
        raise SystemExit(f"report: {len(broken)} link(s) to missing files in {args.figures}: {', '.join(broken)}")
    print(f"wrote {write_pdf(args.figures / 'solution.md', args.figures / PDF)}")
    return {"documents": list(texts), "missing_scripts": absent, "broken_links": broken, "readme": outcome}
