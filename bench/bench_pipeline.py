"""Benchmark 4: the whole pipeline, `make` with the venv installed, cold (no checkpoint) and warm.

Times `make` twice each way, cold and warm interleaved (cold, warm, warm, cold), then every step
that make runs as its own subprocess, round-robin over 3 rounds: the data-source resolution that
make runs once (`python -m common.nets.data auto`), the training (into a temporary folder), the
cached-checkpoint check, each problem script with make's flags (the resolved source), and bare imports
(`python -c pass`, `import torch`, `import matplotlib.pyplot`). One more, untimed run of each
script with `python -X importtime` says how much of it is importing packages. There is no peer:
the table's target column holds the time budgets below.

make is run as `make -o .venv/.installed-requirements`, i.e. with the venv taken as installed
even where make's stamp file is missing. For the cold runs checkpoints/ is moved aside and put
back afterwards (also on failure); figures/ is rewritten with the same results, as make does.
The agreement check: every make and every script exits 0, and the cold makes train while the
warm ones do not.

    .venv/bin/python -m bench --only pipeline   (about 10 minutes on 2 CPU cores; --quick: 4 s)
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, NamedTuple

from bench.common import OthersCPU, Stat, goal, result, row, stat, uncontended
from common.core.cli import ROOT

STAMP = ".venv/.installed-requirements"
MAKE = ("make", "-o", STAMP)
TRAINED_MARK = "trained cnn-"  # what common.nets.models prints for each CNN it trains
MAKE_SCRIPTS = ("p3_rnn_bptt.py", "p4_experiments.py", "p5_lstm.py", "answer_key.py",
                "p1_cnn_filters.py", "p2_occlusion.py")  # the Makefile's scripts, in its order
DATA = "auto"  # the Makefile's default
GOALS_MAKE = {"cold": 75.0, "warm": 45.0}  # seconds: make without checkpoints, and with them
MAX_OTHERS = 0.2  # a make during which other processes took more of the CPUs counts as contended
# The per-step budgets, in seconds: (label, steps that count towards it)
BUDGETS = (("training", ("training",), 15.0), ("p1", ("p1",), 5.0), ("p2", ("p2",), 20.0),
           ("p3 + p5", ("p3", "p5"), 5.0), ("p4", ("p4",), 20.0))
IMPORTS = {"python startup": "pass", "import numpy": "import numpy",
           "import torch": "import torch", "import matplotlib.pyplot": "import matplotlib.pyplot"}


def clean_env() -> dict[str, str]:
    """The environment without the parent make's variables (when run from `make bench`)."""
    return {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}


def timed(cmd: list[str] | tuple[str, ...]) -> tuple[float, int, str]:
    """Run `cmd` in the repository root; (wall seconds, exit status, stdout and stderr)."""
    t0 = time.perf_counter()
    p = subprocess.run(list(cmd), cwd=ROOT, env=clean_env(), stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    return time.perf_counter() - t0, p.returncode, p.stdout


def resolved_source() -> str:
    """What make passes on as --data: `python -m common.nets.data DATA`'s answer ("mnist" or "mnist5k-t10k")."""
    p = subprocess.run([sys.executable, "-m", "common.nets.data", DATA], cwd=ROOT, env=clean_env(),
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    return p.stdout.strip() or DATA


def make_models() -> list[str]:
    """The Makefile's MODELS: the checkpoints make trains before P1 and P2."""
    return re.search(r"^MODELS := (.+)$", (ROOT / "Makefile").read_text(), re.M)[1].split()


def steps(checkpoints: Path, source: str) -> dict[str, list[str]]:
    """What make runs, one command per step (training goes to `checkpoints`, not checkpoints/);
    the scripts get the source that make resolved once. "training" is one CNN, as its
    budget means; make trains all of MODELS side by side, in the background of P3-P5."""
    py = sys.executable
    cmds = {"data source (once per make)": [py, "-m", "common.nets.data", DATA],
            "training": [py, "-m", "common.nets.training", "--data", source, "--retrain", "--checkpoints", str(checkpoints)],
            "training make's networks, side by side": [py, "-m", "common.nets.models", "--data", source, "--retrain",
                                                       "--checkpoints", str(checkpoints), *make_models()],
            "models (cached)": [py, "-m", "common.nets.models", "--data", source, *make_models()]}
    for script in MAKE_SCRIPTS:
        flags = ["--data", source] if script.startswith(("p1_", "p2_")) else []
        cmds[script.split("_")[0] if script.startswith("p") else script.removesuffix(".py")] = [py, script, *flags]
    return cmds


def import_seconds(cmd: list[str]) -> tuple[dict[str, float], int]:
    """Seconds spent importing the (up to 4) top-level packages that take >= 0.05 s in one run of
    `cmd`, from python -X importtime."""
    p = subprocess.run([cmd[0], "-X", "importtime", *cmd[1:]], cwd=ROOT, env=clean_env(),
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    totals: dict[str, float] = {}
    for m in re.finditer(r"^import time:\s+\d+ \|\s+(\d+) \|( +)(\S+)$", p.stderr, re.M):
        if len(m.group(2)) == 1:  # top level: imported by the script itself, not by another package
            pkg = m.group(3).split(".")[0]
            totals[pkg] = totals.get(pkg, 0.0) + int(m.group(1)) / 1e6
    top = sorted(((k, v) for k, v in totals.items() if v >= 0.05), key=lambda kv: -kv[1])[:4]
    return {k: round(v, 3) for k, v in top}, p.returncode


def round_robin(cmds: dict[str, list[str]], rounds: int
                ) -> tuple[dict[str, list[float]], dict[str, str], float]:
    """Time every command `rounds` times, order reversed on odd rounds. Also returns the failures
    and the largest share of the CPUs that other processes took during one command."""
    times: dict[str, list[float]] = {name: [] for name in cmds}
    failures: dict[str, str] = {}
    names, worst = list(cmds), 0.0
    for r in range(rounds):
        for name in (names if r % 2 == 0 else names[::-1]):
            with OthersCPU() as meter:
                seconds, rc, out = timed(cmds[name])
            times[name].append(seconds)
            worst = max(worst, meter.share or 0.0)
            if rc != 0:
                failures[name] = f"exit {rc}: {out.strip()[-400:]}"
    return times, failures, worst


def time_make(repeats: int) -> list[dict[str, Any]]:
    """Cold and warm `make`, interleaved cold, warm, warm, cold, ...; checkpoints/ restored after.

    A make during which others took more than MAX_OTHERS of the CPUs is run once more. Returns
    one record per make: kind, seconds, exit status, others' CPU share, whether it trained.
    """
    ckpt, backup = ROOT / "checkpoints", ROOT / "checkpoints.bench-backup"
    if backup.exists():
        raise RuntimeError(f"{backup} exists (left by an interrupted benchmark?): move it back to "
                           f"{ckpt} or delete it, then rerun")
    plan = [("cold", "warm")[(i + 1) // 2 % 2] for i in range(2 * repeats)]  # c w w c c w ...
    runs = []

    def make(kind: str) -> tuple[float, int, str]:
        if kind == "cold":
            shutil.rmtree(ckpt, ignore_errors=True)
        return timed(MAKE)

    if ckpt.exists():
        ckpt.rename(backup)
    try:
        for kind in plan:
            (seconds, rc, out), contention = uncontended(lambda: make(kind), tries=2, max_share=MAX_OTHERS)
            runs.append({"kind": kind, "seconds": round(seconds, 2), "exit": rc, **contention,
                         "trained": TRAINED_MARK in out, "tail": out.strip()[-600:] if rc else ""})
    finally:
        if backup.exists():
            shutil.rmtree(ckpt, ignore_errors=True)
            backup.rename(ckpt)
    return runs


def make_stat(runs: list[dict], kind: str) -> dict | None:
    """Seconds of the `kind` makes that ran uncontended ([k/n] when only k of n did); all if none did."""
    mine = [r for r in runs if r["kind"] == kind]
    clean = [r["seconds"] for r in mine if (r["others_cpu"] or 0.0) <= MAX_OTHERS]
    return stat(clean or [r["seconds"] for r in mine], of=len(mine))


class Measured(NamedTuple):
    """Everything the pipeline benchmark measured: the commands (step name -> argv), one record per
    make, each step's seconds per round, the failures, the largest share of the CPUs others took
    during a step, and each script's top imports (seconds)."""
    cmds: dict[str, list[str]]
    made: list[dict[str, Any]]
    times: dict[str, list[float]]
    failures: dict[str, str]
    worst: float
    imports: dict[str, dict[str, float]]


def quick_steps(cmds: dict[str, list[str]], tmp: str) -> dict[str, list[str]]:
    """The smoke test's steps: bare imports and the smallest script, writing to the temp folder."""
    return {"python startup": cmds["models (cached)"][:1] + ["-c", "pass"],
            "import torch": cmds["models (cached)"][:1] + ["-c", "import torch"],
            "p3": cmds["p3"] + ["--out", tmp]}


def measure(quick: bool) -> Measured:
    """Time make (not when quick), then every step round-robin, then each script's imports; the
    training writes to a temporary folder."""
    with tempfile.TemporaryDirectory(prefix="bench-ckpt-") as tmp:
        cmds = steps(Path(tmp), resolved_source())
        if quick:
            cmds = quick_steps(cmds, tmp)
        else:
            cmds.update({name: [sys.executable, "-c", code] for name, code in IMPORTS.items()})
        made = [] if quick else time_make(2)
        times, failures, worst = round_robin(cmds, 1 if quick else 3)
        imports = {} if quick else {name: import_seconds(cmd)[0] for name, cmd in cmds.items()
                                    if not name.startswith(("python", "import", "training"))}
    return Measured(cmds, made, times, failures, worst, imports)


def table(m: Measured, s: dict[str, Stat], make_s: dict[str, Stat | None]) -> list[dict[str, Any]]:
    """The rows: cold and warm make against their budgets, then every step (its imports as a note)."""
    rows = [row(f"make, {kind} ({'training included' if kind == 'cold' else 'checkpoint cached'})",
                make_s[kind], None, target=f"<= {GOALS_MAKE[kind]:g} s")
            for kind in GOALS_MAKE if make_s[kind]]
    budget_of = {step: (label, limit) for label, members, limit in BUDGETS for step in members}
    for name in m.times:
        label, limit = budget_of.get(name, (None, None))
        note = ("imports: " + ", ".join(f"{k} {v:.2f} s" for k, v in m.imports[name].items())
                if name in m.imports else None)
        target = (f"<= {limit:g} s" + (f" ({label})" if label != name else "")) if limit else None
        rows.append(row(name, s[name], None, note=note, target=target))
    return rows


def goals(quick: bool, s: dict[str, Stat], make_s: dict[str, Stat | None]) -> list[dict[str, Any]]:
    """The time budgets: make cold and warm, then each step's (not judged when quick)."""
    out = [goal(f"make {kind} <= {limit:g} s on 2 cores",
                None if quick else bool(make_s[kind]) and make_s[kind]["median"] <= limit,
                "not run (--quick)" if quick or not make_s[kind] else
                f"median {make_s[kind]['median']:.1f} s ({make_s[kind]['n']} run(s))")
           for kind, limit in GOALS_MAKE.items()]
    for label, members, limit in BUDGETS:
        present = [m for m in members if m in s]
        if quick or not present:
            continue
        total = sum(s[m]["median"] for m in present)
        missing = [m for m in members if m not in s]
        out.append(goal(f"{label} <= {limit:g} s", total <= limit,
                        f"{total:.1f} s" + (f" ({', '.join(missing)} not present)" if missing else "")))
    return out


def notes(m: Measured, s: dict[str, Stat], make_s: dict[str, Stat | None]) -> list[str]:
    """What the times are, the contention, the share of the warm make spent importing torch."""
    made, imports = m.made, m.imports
    out = ["Wall seconds of each subprocess, median (min–max) over the rounds; make: over its runs.",
           f"Other processes took at most {100 * m.worst:.0f}% of the CPUs while a step ran."]
    if made:
        dropped = [r for r in made if (r["others_cpu"] or 0.0) > MAX_OTHERS]
        out.append(f"make: {sum(r['runs'] - 1 for r in made)} run(s) repeated because others took more "
                   f"than {100 * MAX_OTHERS:.0f}% of the CPUs; " + (
                       f"{len(dropped)} still contended, left out of the stats ([k/n]): "
                       + ", ".join(f"{r['kind']} {r['seconds']:.0f} s with others at "
                                   f"{100 * r['others_cpu']:.0f}%" for r in dropped)
                       if dropped else "none left contended."))
    warm = make_s["warm"]["median"] if make_s["warm"] else None
    for pkg in ("torch", "torchvision"):
        users = [n for n in imports if pkg in imports[n]]
        if warm and users:
            spent = sum(imports[n][pkg] for n in users)
            out.append(f"Importing {pkg} takes {spent:.1f} s in all, {100 * spent / warm:.0f}% of the warm "
                       f"make, in the {len(users)} steps that import it ({', '.join(users)})"
                       + (f"; `python -c 'import torch'` takes {s['import torch']['median']:.2f} s"
                          if pkg == "torch" else "") + ".")
    if not (ROOT / STAMP).exists():
        out.append(f"{STAMP} is missing here: a plain `make` would reinstall the venv; the benchmark "
                   "runs make with `-o` so that it does not.")
    return out


def run(quick: bool = False) -> dict[str, Any]:
    """The benchmark's result (bench.common.result); `quick`: bare imports and p3 only, no make."""
    m = measure(quick)
    made, failures = m.made, m.failures
    s = {name: stat(v) for name, v in m.times.items()}
    make_s = {kind: make_stat(made, kind) for kind in GOALS_MAKE}
    agree = (not failures and all(r["exit"] == 0 for r in made)
             and all(r["trained"] == (r["kind"] == "cold") for r in made))
    agreement = ("every make and script exits 0" + ("" if quick else
                 "; the cold makes trained the CNNs and the warm ones reused the checkpoints"))
    if failures or not agree:
        agreement += f"; FAILED: {failures or made}"
    return result("pipeline", "The whole pipeline: make, cold and warm, and each step", quick,
                  ours="make (and each step it runs)", peer="the time budgets", agree=agree,
                  agreement=agreement, rows=table(m, s, make_s), goals=goals(quick, s, make_s),
                  notes=notes(m, s, make_s),
                  config={"make": " ".join(MAKE), "data": DATA,
                          "steps": {k: " ".join(v[1:]) for k, v in m.cmds.items()},
                          "rounds": 1 if quick else 3, "make_repeats": 0 if quick else 2},
                  detail={"make": made, "imports": m.imports, "failures": failures,
                          "others_cpu_max_step": m.worst})
