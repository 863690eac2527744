"""Run the speed benchmarks and write bench/results.json, bench/results.md and the README table.

    .venv/bin/python -m bench                  # every bench/bench_*.py: 15-25 minutes on 2 CPU cores
    .venv/bin/python -m bench --only bptt      # one benchmark; the others' stored results are kept
    .venv/bin/python -m bench --quick          # tiny sizes, seconds each; prints, writes nothing
    .venv/bin/python -m bench --render         # runs nothing: results.md and README from results.json

Each module bench/bench_<name>.py has `run(quick: bool) -> dict` (see bench/common.py for the
result's fields). Benchmarks run in the order of ORDER, then any others alphabetically. A full
run merges its results into bench/results.json (by machine, i.e. CPU, cores and instruction set,
and name), rewrites bench/results.md from it (one section per machine), and replaces the README
lines between `<!-- bench:start -->` and `<!-- bench:end -->` with a few lines per machine. The exit status
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

from bench.common import (
    check_result,
    fmt_stat,
    isa_label,
    load_average,
    machine_info,
    machine_key,
)
from common.core.cli import ROOT, Parser, write_atomic, write_json_atomic
from common.core.text import markers, splice

BENCH_DIR = Path(__file__).resolve().parent
ORDER = ("occlusion", "training", "bptt", "pipeline", "standin")  # benchmarks 1 to 5


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
    lines = ["| benchmark | instruction set | goal | met | measured |", "| --- | --- | --- | --- | --- |"]
    for r in results:
        isa = isa_label(r["machine"]).split(" (")[0] if "machine" in r else "?"
        for g in r.get("goals", []):
            met = {True: "yes", False: "**no**", None: "not measured"}[g["met"]]
            lines.append(f"| {r['name']} | {isa} | {g['goal']} | {met} | {g['measured']} |")
    return "\n".join(lines)


def machine_line(m: dict) -> str:
    return (f"{m['cpu']}, {m['cores']} cores, {isa_label(m)}, torch {m['torch']}, "
            f"numpy {m['numpy']}, Python {m['python']}")


# Figures quoted from a machine that no results.json here holds.
AVX2_QUOTED_SOURCE = "a 2-core AMD EPYC with AVX2 only, measured 2026-11-30"
AVX2_QUOTED = (
    f"Quoted, not measured by this command: {AVX2_QUOTED_SOURCE} (2048² torch.mm about 105 GFLOP/s), "
    "with the full-forward FoldedCNN engine rather than IncrementalCNN:",
    "",
    "| case (AVX2, quoted) | value |",
    "| --- | --- |",
    "| ours (FoldedCNN) against Captum's best | 32.9 against 13.2 maps/s: 2.5x |",
    "| FoldedCNN without the oneDNN blocked layout | 30.5 maps/s (31.8 with it) |",
    "| an incremental-window prototype | 37.3 maps/s |",
    "| share of the torch.mm rate | 55% |",
    "| make: fresh clone (venv install included) / warm | 4 min 24 s / 104 s |",
    "| make DATA=mnist on a 60k stand-in | 8 min 42 s, peak RSS 2.0 GB |",
)


def by_machine(results: Sequence[dict]) -> dict[str, list[dict]]:
    """Results grouped by machine_key (CPU, cores, instruction set), in first-seen order."""
    groups: dict[str, list[dict]] = {}
    for r in results:
        groups.setdefault(machine_key(r["machine"]) if "machine" in r else "unknown", []).append(r)
    return groups


def render_details(r: dict) -> list[str]:
    out = [f"### {r.get('title', r['name'])} (`{r['name']}`)", ""]
    if "error" in r:
        return out + [f"Failed: `{r['error']}`", ""]
    m = r["machine"]
    out += [f"- ours: {r['ours']}", f"- peer: {r['peer']}",
            f"- agreement checked before timing: {'passed' if r['agree'] else '**FAILED**'}: "
            f"{r['agreement']}",
            f"- measured {m['date']} in {r['seconds']:.0f} s on {machine_line(m)}; load average "
            f"(1, 5, 15 min) {r['load_before']} before, {r['load_after']} after"]
    return out + [f"- {n}" for n in r["notes"]] + [""]


def render_markdown(results: Sequence[dict]) -> str:
    """bench/results.md: one section per machine and instruction set (goals, table, details),
    then the quoted AVX2 figures."""
    out = ["# Benchmark results", "",
           "Written by `make bench` (`python -m bench`); do not edit by hand. One section per "
           "machine and instruction set that has run it; a rerun replaces only its own machine's "
           "results.", "",
           "Ratios are peer / ours, measured in the same run, interleaved: > 1 means ours is "
           "faster. Times: median (min–max).", ""]
    for key, group in by_machine(results).items():
        ok = [r for r in group if "error" not in r]
        dates = sorted(r["machine"]["date"] for r in ok)
        out += [f"## {key}", "",
                f"Measured {dates[0][:10]} to {dates[-1][:10]}." if dates else "", "",
                "### Goals", "", render_goals(ok), "", "### Results", "", render_table(group), ""]
        for r in group:
            out += render_details(r)
    out += render_cputime()
    out += [f"## Quoted: {AVX2_QUOTED_SOURCE}", "", *AVX2_QUOTED, ""]
    return "\n".join(out)


def render_cputime(path: Path = BENCH_DIR / "occlusion_cputime.json") -> list[str]:
    """The occlusion goals in CPU seconds of one thread (bench/occlusion_cputime.py), per machine."""
    try:
        runs = json.loads(path.read_text())
    except (OSError, ValueError):
        return []
    rows = [[key, r["date"], f"{r['maps_per_cpu_second']['ours (IncrementalCNN)']:.1f}",
             f"{r['captum_best']}: {r['maps_per_cpu_second'][r['captum_best']]:.1f}",
             f"{r['ours_over_captum_best']:.2f}x", f"{100 * r['ours_share_of_mm']:.0f}% of "
             f"{r['mm_gflops_per_core']:.1f} GFLOP/s", f"{r['ours_over_folded']:.2f}x"]
            for key, r in runs.items()]
    head = ["machine and instruction set", "date", "ours, maps per CPU-second",
            "Captum's best", "ours / Captum (goal 3x)", "share of one thread's torch.mm (goal 50%)",
            "ours / full-forward FoldedCNN"]
    return ["## Occlusion in CPU seconds of one thread, per instruction set (`python -m bench.occlusion_cputime`)", "",
            "On a machine shared with other processes, wall-clock rates follow the neighbours' load; "
            "CPU time of one thread does not. Median of interleaved rounds, 20 held-out digits.", "",
            "| " + " | ".join(head) + " |", "|" + " --- |" * len(head),
            *("| " + " | ".join(r) + " |" for r in rows), ""]


def render_readme_block(results: Sequence[dict]) -> str:
    """What goes between the README's bench markers: per machine, how many goals are met, and a link."""
    lines = ["Speed and timing goals, per machine and instruction set; tables and "
             "details in [`bench/results.md`](bench/results.md) (`make bench`):", ""]
    for key, group in by_machine(results).items():
        goals = [g for r in group if "error" not in r for g in r["goals"]]
        missed = [f"{r['name']}: {g['goal']}" for r in group if "error" not in r
                  for g in r["goals"] if g["met"] is False]
        lines.append(f"- {key}: {sum(g['met'] is True for g in goals)} of {len(goals)} goals met"
                     + (f"; not met: {'; '.join(missed)}" if missed else "") + ".")
    return "\n".join(lines)


def merge(stored: Sequence[dict], results: Sequence[dict]) -> list[dict]:
    """`stored` with `results` replacing the entries of the same machine and benchmark name;
    machines in first-seen order, benchmarks in discover() order within each."""
    known = discover()
    table = {(machine_key(r["machine"]) if "machine" in r else "unknown", r["name"]): r
             for r in [*stored, *results]}
    keys = list(dict.fromkeys(k for k, _ in table))
    rank = {n: i for i, n in enumerate(known)}
    return [table[k, n] for k in keys for n in sorted({n for kk, n in table if kk == k},
                                                       key=lambda n: rank.get(n, len(known)))]


def write_outputs(results: list[dict], out: Path, readme: Path | None) -> None:
    """Merge `results` into out/results.json by machine and name, then write results.md and the README block."""
    path = out / "results.json"
    stored: list[dict] = []
    if path.exists():
        try:
            stored = list(json.loads(path.read_text())["benchmarks"])
        except (ValueError, KeyError, TypeError):
            print(f"bench: {path} is unreadable; starting it afresh")
    merged = merge(stored, results)
    write_json_atomic(path, {"benchmarks": merged})
    write_atomic(out / "results.md", render_markdown(merged).encode())
    print(f"bench: wrote {path} and {out / 'results.md'}")
    if readme is None:
        return
    new = splice(readme.read_text(), "bench", render_readme_block(merged)) if readme.exists() else None
    if new is None:
        start, end = markers("bench")
        print(f"bench: {readme.name} has no {start} ... {end} markers; README not updated")
    else:
        write_atomic(readme, new.encode())
        print(f"bench: updated the benchmark lines in {readme}")


def main(argv: Sequence[str] | None = None) -> int:
    names = discover()
    parser = Parser(prog="python -m bench", description="Run the speed benchmarks.")
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
