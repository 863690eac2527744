"""Run the benchmarks of issue 7 and write bench/results.json, bench/results.md and the README table.

    .venv/bin/python -m bench                  # every bench/bench_*.py: 15-25 minutes on 2 CPU cores
    .venv/bin/python -m bench --only bptt      # one benchmark; the others' stored results are kept
    .venv/bin/python -m bench --quick          # tiny sizes, seconds each; prints, writes nothing
    .venv/bin/python -m bench --render         # runs nothing: results.md and README from results.json

Each module bench/bench_<name>.py has `run(quick: bool) -> dict` (see bench/common.py for the
result's fields). Benchmarks run in the order of ORDER, then any others alphabetically. A full
run merges its results into bench/results.json (by name), rewrites bench/results.md from it, and
replaces the README text between `<!-- bench:start -->` and `<!-- bench:end -->`. The exit status
is 1 if a benchmark fails or ours and the peer disagree.
"""
from __future__ import annotations

import importlib
import json
import sys
import time
import traceback
from pathlib import Path
from typing import Any, Sequence

from bench.common import check_result, fmt_stat, load_average, machine_info
from common.cli import ROOT, Parser, write_atomic, write_json_atomic

BENCH_DIR = Path(__file__).resolve().parent
ORDER = ("occlusion", "training", "bptt", "pipeline")  # the numbering, 1 to 4
README_MARKERS = ("<!-- bench:start -->", "<!-- bench:end -->")


def discover(folder: Path = BENCH_DIR) -> list[str]:
    """Names of the benchmarks (bench_<name>.py in `folder`), in ORDER, then the rest sorted."""
    names = sorted(p.stem[len("bench_"):] for p in folder.glob("bench_*.py"))
    return sorted(names, key=lambda n: (ORDER.index(n) if n in ORDER else len(ORDER), n))


def run_one(name: str, quick: bool) -> dict[str, Any]:
    """Import bench.bench_<name>, run it and add when, how long and under what load."""
    module = importlib.import_module(f"bench.bench_{name}")
    load_before, t0 = load_average(), time.perf_counter()
    r = module.run(quick=quick)
    check_result(r)
    return {**r, "seconds": round(time.perf_counter() - t0, 1), "load_before": load_before,
            "load_after": load_average(), "machine": machine_info()}


# ----------------------------------------------------------------------------- rendering
def render_table(results: Sequence[dict], brief: bool = False) -> str:
    """One markdown table of every benchmark's rows; `brief` leaves out the notes column."""
    head = "| benchmark | case | ours | peer | ours faster by | target |"
    lines = [head, "| --- | --- | --- | --- | ---: | --- |"]
    for r in results:
        if "error" in r:
            lines.append(f"| {r['name']} | failed: {r['error']} | | | | |")
            continue
        for i, rw in enumerate(r["rows"]):
            ratio = f"{rw['ratio']:.1f}x" if rw["ratio"] is not None else ""
            case = rw["case"] + ("" if brief or not rw["note"] else f" ({rw['note']})")
            lines.append(f"| {r['name'] if i == 0 else ''} | {case} | {fmt_stat(rw['ours'], rw['unit'])} "
                         f"| {fmt_stat(rw['peer'], rw['unit'])} | {ratio} | {rw['target'] or ''} |")
    return "\n".join(lines)


def render_goals(results: Sequence[dict]) -> str:
    lines = ["| benchmark | goal | met | measured |", "| --- | --- | --- | --- |"]
    for r in results:
        for g in r.get("goals", []):
            met = {True: "yes", False: "**no**", None: "not measured"}[g["met"]]
            lines.append(f"| {r['name']} | {g['goal']} | {met} | {g['measured']} |")
    return "\n".join(lines)


def machine_line(m: dict) -> str:
    return (f"{m['cpu']}, {m['cores']} cores, torch {m['torch']}, numpy {m['numpy']}, "
            f"Python {m['python']}")


def render_markdown(results: Sequence[dict]) -> str:
    """bench/results.md: the machine, the goals, the table, then each benchmark's details."""
    ok = [r for r in results if "error" not in r]
    machines = {machine_line(r["machine"]) for r in ok}
    out = ["# Benchmark results", "",
           "Written by `make bench` (`python -m bench`); do not edit by hand.", ""]
    out += [f"**Machine:** {m}" for m in sorted(machines)] or ["**Machine:** -"]
    out += ["", "Ratios are peer / ours, measured in the same run, interleaved: > 1 means ours is "
            "faster. Times: median (min–max).", "", "## Goals", "", render_goals(ok), "",
            "## Results", "", render_table(results), ""]
    for r in results:
        out += [f"## {r.get('title', r['name'])} (`{r['name']}`)", ""]
        if "error" in r:
            out += [f"Failed: `{r['error']}`", ""]
            continue
        m = r["machine"]
        out += [f"- ours: {r['ours']}", f"- peer: {r['peer']}",
                f"- agreement checked before timing: {'passed' if r['agree'] else '**FAILED**'}: "
                f"{r['agreement']}",
                f"- measured {m['date']} in {r['seconds']:.0f} s; load average (1, 5, 15 min) "
                f"{r['load_before']} before, {r['load_after']} after"]
        out += [f"- {n}" for n in r["notes"]] + [""]
    return "\n".join(out)


def render_readme_block(results: Sequence[dict]) -> str:
    """What goes between the README markers: the machine, the goals and the table, briefly."""
    ok = [r for r in results if "error" not in r]
    machines = sorted({machine_line(r["machine"]) for r in ok})
    dates = sorted(r["machine"]["date"] for r in ok)
    when = f", {dates[0][:10]}" if dates else ""
    return "\n".join([f"Measured on {'; '.join(machines) or '-'}{when} (`make bench`; details in "
                      "[`bench/results.md`](bench/results.md)). Ratios are peer / ours from the same "
                      "run: > 1 means ours is faster.", "", render_goals(ok), "",
                      render_table(results, brief=True)])


def splice(text: str, block: str, markers: tuple[str, str] = README_MARKERS) -> str | None:
    """`text` with everything between the markers replaced by `block`; None if a marker is missing."""
    start, end = markers
    i, j = text.find(start), text.find(end)
    if i < 0 or j < i:
        return None
    return text[: i + len(start)] + "\n" + block + "\n" + text[j:]


def write_outputs(results: list[dict], out: Path, readme: Path | None) -> None:
    """Merge `results` into out/results.json by name, then write results.md and the README block."""
    path = out / "results.json"
    stored: dict[str, dict] = {}
    if path.exists():
        try:
            stored = {r["name"]: r for r in json.loads(path.read_text())["benchmarks"]}
        except (ValueError, KeyError, TypeError):
            print(f"bench: {path} is unreadable; starting it afresh")
    stored.update({r["name"]: r for r in results})
    known = discover()
    merged = [stored[n] for n in known if n in stored]
    write_json_atomic(path, {"benchmarks": merged})
    write_atomic(out / "results.md", render_markdown(merged).encode())
    print(f"bench: wrote {path} and {out / 'results.md'}")
    if readme is None:
        return
    new = splice(readme.read_text(), render_readme_block(merged)) if readme.exists() else None
    if new is None:
        print(f"bench: {readme.name} has no {README_MARKERS[0]} ... {README_MARKERS[1]} markers; "
              "README not updated")
    else:
        write_atomic(readme, new.encode())
        print(f"bench: updated the results table in {readme}")


def main(argv: Sequence[str] | None = None) -> int:
    names = discover()
    parser = Parser(prog="python -m bench", description="Run the benchmarks of issue 7.")
    parser.add_argument("--quick", action="store_true",
                        help="tiny sizes (seconds each, a smoke test); prints and writes nothing")
    parser.add_argument("--only", choices=names, action="append",
                        help="run only this benchmark (repeatable); the others' stored results are kept")
    parser.add_argument("--render", action="store_true",
                        help="run nothing: rewrite results.md and the README table from results.json")
    parser.add_argument("--out", type=Path, default=BENCH_DIR,
                        help="folder for results.json and results.md (the README is updated only "
                             "for the default)")
    args = parser.parse_args(argv)
    readme = ROOT / "README.md" if args.out.resolve() == BENCH_DIR else None
    if args.render:
        write_outputs([], args.out, readme)
        return 0
    results = []
    for name in args.only or names:
        print(f"bench: running {name}{' (quick)' if args.quick else ''} ...", flush=True)
        try:
            r = run_one(name, args.quick)
        except Exception as exc:  # report it, keep going with the other benchmarks
            traceback.print_exc()
            r = {"name": name, "error": f"{type(exc).__name__}: {exc}"}
        results.append(r)
        if "error" not in r:
            print(render_table([r]) + "\n" + render_goals([r]))
            print(f"agreement: {'passed' if r['agree'] else 'FAILED'}: {r['agreement']}\n", flush=True)
    if not args.quick:
        write_outputs(results, args.out, readme)
    bad = [r["name"] for r in results if "error" in r or not r["agree"]]
    if bad:
        print(f"bench: failed or disagreed: {', '.join(bad)}", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
