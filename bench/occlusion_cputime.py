"""Occlusion side by side in CPU seconds of one torch thread: ours, the full FoldedCNN, Captum, torch.mm.

    .venv/bin/python -m bench.occlusion_cputime [ROUNDS]             # the CPU's own instruction set
    ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 .venv/bin/python -m bench.occlusion_cputime

A check for machines shared with other processes, where the wall-clock benchmark
(bench/bench_occlusion.py, 2 threads) is dominated by the neighbours' load: CPU time of this
process (time.process_time) on one thread, the candidates interleaved, median over ROUNDS (5).
Maps per CPU-second on 20 held-out digits (Captum at ppe 64 and 441 on 10, one digit per call);
the share of mm is ours x 441 forwards x 3,849,984 FLOPs against a 2048² torch.mm on the same
thread. Prints one JSON line and merges it, keyed by machine and instruction set, into
bench/occlusion_cputime.json, which bench/results.md renders. The restricted run is an AVX-512 CPU
held to AVX2, not an AVX2 machine.
"""
from __future__ import annotations

import datetime as dt
import json
import statistics
import sys
import time
from typing import Callable

import torch

from bench.common import machine_info, machine_key
from bench.occlusion_peers import MM_N, batched_maps, captum_maps
from common.core.cli import ROOT, write_json_atomic
from common.nets.data import OFFLINE, load_mnist
from common.nets.training import load_cnn
from common.occlusion.engine import FoldedCNN, occlude

RESULTS = ROOT / "bench" / "occlusion_cputime.json"

FLOPS_PER_FORWARD, FORWARDS_PER_MAP = 3_849_984, 441  # FlopCounterMode, bench/bench_occlusion.py


def cpu_seconds(fns: dict[str, tuple[Callable[[], object], int]], rounds: int) -> dict[str, float]:
    """Median CPU seconds per unit (call / units), order reversed on odd rounds."""
    for fn, _ in fns.values():
        fn()
    samples: dict[str, list[float]] = {k: [] for k in fns}
    for r in range(rounds):
        for k in (list(fns) if r % 2 == 0 else list(fns)[::-1]):
            fn, units = fns[k]
            t0 = time.process_time()
            fn()
            samples[k].append((time.process_time() - t0) / units)
    return {k: statistics.median(v) for k, v in samples.items()}


def main(rounds: int = 5) -> dict:
    torch.set_num_threads(1)
    model, _ = load_cnn(OFFLINE, progress=False)
    test = load_mnist("test", OFFLINE)
    x, y = test.images[::10][:20], test.labels[::10][:20]
    a, b, out = torch.randn(MM_N, MM_N), torch.randn(MM_N, MM_N), torch.empty(MM_N, MM_N)
    folded = FoldedCNN(model)
    fns = {"ours (IncrementalCNN)": (lambda: occlude(model, x), 20),
           "FoldedCNN (full forward)": (lambda: batched_maps(folded, x), 20),
           "captum ppe=1 all digits": (lambda: captum_maps(model, x, y, 1, None), 20),
           "captum ppe=64 one digit/call": (lambda: captum_maps(model, x[:10], y[:10], 64, 1), 10),
           "captum ppe=441 one digit/call": (lambda: captum_maps(model, x[:10], y[:10], 441, 1), 10),
           "mm": (lambda: torch.mm(a, b, out=out), 1)}
    med = cpu_seconds(fns, rounds)
    rates = {k: 1 / v for k, v in med.items() if k != "mm"}
    mm = 2 * MM_N ** 3 / med["mm"] / 1e9
    best = max((k for k in rates if k.startswith("captum")), key=rates.get)
    ours = rates["ours (IncrementalCNN)"]
    res = {"isa": torch.backends.cpu.get_cpu_capability(),
           "maps_per_cpu_second": {k: round(v, 1) for k, v in rates.items()},
           "mm_gflops_per_core": round(mm, 1), "captum_best": best,
           "ours_over_captum_best": round(ours / rates[best], 2),
           "ours_over_folded": round(ours / rates["FoldedCNN (full forward)"], 2),
           "ours_share_of_mm": round(ours * FORWARDS_PER_MAP * FLOPS_PER_FORWARD / 1e9 / mm, 2),
           "rounds": rounds, "date": dt.date.today().isoformat()}
    print(json.dumps(res))
    record(res)
    return res


def record(res: dict, path=RESULTS) -> None:
    """Merge `res` into the JSON file under its machine key, replacing that machine's last run."""
    try:
        runs = json.loads(path.read_text())
    except (OSError, ValueError):
        runs = {}
    runs[machine_key(machine_info())] = res
    write_json_atomic(path, runs)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
