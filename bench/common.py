"""Shared by the benchmarks: interleaved timing with median/min/max, a meter of the CPU that other
processes take meanwhile, machine info, and the result schema.

Every benchmark module `bench/bench_<name>.py` has `run(quick: bool) -> dict` returning a result
built with `result(...)` and `row(...)` below; `check_result` says what the harness and the tests
rely on. Times are in seconds everywhere; "ratio" is peer / ours, so > 1 means ours is faster.

The torch benchmarks time with 2 threads (the course machine's 2 cores, set by common.nets.training.torch_threads).
Their --quick smoke runs use 1, because on a 2-core machine with a busy neighbour 2 threads run
10-50x slower (OpenMP threads waiting on each other), and a smoke test only has to finish.
"""
from __future__ import annotations

import datetime as dt
import gc
import os
import platform
import statistics
import time
from importlib.metadata import PackageNotFoundError, version
from typing import Any, Callable, Mapping, Sequence

from common.core.machine import cpu_flags, cpu_model

Stat = dict[str, Any]  # {"median", "min", "max", "n"} (+ "of" when only n of `of` runs count)


def stat(samples: Sequence[float], of: int | None = None) -> Stat | None:
    """Median, min and max of `samples`; None when there are none. `of`: how many runs were tried."""
    if not samples:
        return None
    s: Stat = {"median": statistics.median(samples), "min": min(samples), "max": max(samples),
               "n": len(samples)}
    if of is not None and of != len(samples):
        s["of"] = of
    return s


def calibrate(fn: Callable[[], object], min_seconds: float = 0.02) -> int:
    """How many back-to-back calls of `fn` (1, 2, 4, ...) take at least `min_seconds`."""
    number = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        if time.perf_counter() - t0 >= min_seconds or number >= 10 ** 6:
            return number
        number *= 2


def interleaved(fns: Mapping[str, Callable[[], object]], repeats: int, warmup: int = 1,
                min_seconds: float = 0.02) -> dict[str, Stat]:
    """Time each function `repeats` times, round-robin, so that ours and the peer share the load.

    Each sample is `number` back-to-back calls (calibrated per function so that a sample lasts at
    least `min_seconds`) divided by `number`: seconds per call. The order within a round alternates
    (A B, B A, ...) so that neither always runs right after the other. As in timeit, the garbage
    collector is off while a sample runs. Returns {name: stat}, with the raw samples under "samples".
    """
    names = list(fns)
    for name in names:
        for _ in range(warmup):
            fns[name]()
    number = {name: calibrate(fns[name], min_seconds) for name in names}
    samples: dict[str, list[float]] = {name: [] for name in names}
    gc_was_enabled = gc.isenabled()
    try:
        for r in range(repeats):
            for name in (names if r % 2 == 0 else names[::-1]):
                fn, n = fns[name], number[name]
                gc.disable()
                t0 = time.perf_counter()
                for _ in range(n):
                    fn()
                samples[name].append((time.perf_counter() - t0) / n)
                if gc_was_enabled:
                    gc.enable()
    finally:
        if gc_was_enabled:
            gc.enable()
    return {name: {**stat(samples[name]), "number": number[name], "samples": samples[name]}
            for name in names}


def _machine_busy_seconds() -> float | None:
    """CPU seconds the whole machine has been busy since boot, steal included (None without /proc)."""
    try:
        with open("/proc/stat") as fh:
            ticks = [int(v) for v in fh.readline().split()[1:9]]  # user nice system idle iowait irq softirq steal
        idle, iowait = ticks[3:5]
    except (OSError, ValueError):
        return None
    return (sum(ticks) - idle - iowait) / os.sysconf("SC_CLK_TCK")


class OthersCPU:
    """Context manager: the share of the machine's CPUs that other processes (and the hypervisor,
    as steal) took while the block ran, in [0, 1]; None where /proc/stat is missing.

    Ours is this process and the subprocesses it waited for (os.times); the rest of the machine's
    busy time is someone else's. On these shared 2-core machines a busy neighbour slows torch's
    2-thread training by up to 20x, so the long benchmarks rerun a run that was contended.
    """

    share: float | None = None

    def __enter__(self) -> "OthersCPU":
        self._t0, self._busy0, self._own0 = time.perf_counter(), _machine_busy_seconds(), sum(os.times()[:4])
        return self

    def __exit__(self, *exc: object) -> None:
        busy = _machine_busy_seconds()
        if busy is None or self._busy0 is None:
            return
        wall = time.perf_counter() - self._t0
        others = (busy - self._busy0) - (sum(os.times()[:4]) - self._own0)
        self.share = round(min(1.0, max(0.0, others / (wall * len(os.sched_getaffinity(0))))), 3) if wall > 0 else 0.0


def uncontended(fn: Callable[[], Any], tries: int = 3, max_share: float = 0.2) -> tuple[Any, dict]:
    """Run `fn`; rerun it (up to `tries` runs in all) while other processes took more than
    `max_share` of the CPUs. Returns fn's result and {"others_cpu": share, "runs": n}."""
    for attempt in range(1, tries + 1):
        with OthersCPU() as meter:
            out = fn()
        if meter.share is None or meter.share <= max_share:
            break
    return out, {"others_cpu": meter.share, "runs": attempt}


def ratio(peer: Stat | None, ours: Stat | None) -> float | None:
    """peer median / ours median: how many times faster ours is (None if either is missing)."""
    if not peer or not ours or ours["median"] <= 0:
        return None
    return peer["median"] / ours["median"]


def row(case: str, ours: Stat | None, peer: Stat | None, ratio_: float | None = None,
        unit: str = "s", target: str | None = None, note: str | None = None) -> dict[str, Any]:
    """One line of a benchmark's table. `ratio_` defaults to peer median / ours median for times."""
    if ratio_ is None and unit == "s":
        ratio_ = ratio(peer, ours)
    return {"case": case, "unit": unit, "ours": ours, "peer": peer, "ratio": ratio_,
            "target": target, "note": note}


def goal(text: str, met: bool | None, measured: str) -> dict[str, Any]:
    """A goal: what it asks, whether it is met (None: not measured), the numbers."""
    return {"goal": text, "met": met, "measured": measured}


def result(name: str, title: str, quick: bool, ours: str, peer: str, agree: bool, agreement: str,
           rows: list[dict], goals: list[dict], notes: Sequence[str] = (),
           config: Mapping[str, Any] | None = None, detail: Mapping[str, Any] | None = None
           ) -> dict[str, Any]:
    """A benchmark's result. `agree`: ours and the peer gave the same answer, checked before timing;
    `agreement` says what was compared and how closely."""
    return {"name": name, "title": title, "quick": quick, "ours": ours, "peer": peer,
            "agree": bool(agree), "agreement": agreement, "rows": rows, "goals": goals,
            "notes": list(notes), "config": dict(config or {}), "detail": dict(detail or {})}


RESULT_KEYS = {"name": str, "title": str, "quick": bool, "ours": str, "peer": str, "agree": bool,
               "agreement": str, "rows": list, "goals": list, "notes": list, "config": dict,
               "detail": dict}


def check_result(r: Mapping[str, Any]) -> None:
    """Raise ValueError unless `r` has the shape that `result` builds (the harness relies on it)."""
    for key, kind in RESULT_KEYS.items():
        if not isinstance(r.get(key), kind):
            raise ValueError(f"benchmark result: {key!r} must be a {kind.__name__}, got {r.get(key)!r}")
    for rw in r["rows"]:
        if set(rw) != {"case", "unit", "ours", "peer", "ratio", "target", "note"}:
            raise ValueError(f"benchmark row has keys {sorted(rw)}")
        for side in ("ours", "peer"):
            s = rw[side]
            if s is not None and not {"median", "min", "max", "n"} <= set(s):
                raise ValueError(f"row {rw['case']!r}: {side} is not a stat: {s!r}")
    for g in r["goals"]:
        if set(g) != {"goal", "met", "measured"}:
            raise ValueError(f"benchmark goal has keys {sorted(g)}")


# ----------------------------------------------------------------------------- the machine
def _version(package: str) -> str | None:
    try:
        return version(package)
    except PackageNotFoundError:
        return None


def load_average() -> list[float]:
    """The 1-, 5- and 15-minute load averages, rounded."""
    return [round(x, 2) for x in os.getloadavg()]


def isa_label(m: dict[str, Any]) -> str:
    """The instruction set a result was measured with, in words.

    A result without the field was measured with AVX-512, the default.
    An AVX-512 CPU whose torch and oneDNN were held to AVX2 says so: it is not an AVX2 machine.
    """
    isa = m.get("isa", "AVX512")
    if isa == "AVX2" and m.get("cpu_avx512"):
        return "AVX2 (AVX-512 CPU restricted to AVX2 via ATEN_CPU_CAPABILITY/ONEDNN_MAX_CPU_ISA)"
    return {"AVX512": "AVX-512", "AVX2": "AVX2", "DEFAULT": "no AVX"}.get(isa, isa)


def machine_key(m: dict[str, Any]) -> str:
    """One machine as results.md groups it: CPU model, cores and instruction set."""
    return f"{m['cpu']}, {m['cores']} cores, {isa_label(m)}"


def machine_info() -> dict[str, Any]:
    """CPU model, cores, instruction set, versions, date and load: what the top of the results states.

    isa: the instruction set torch's own kernels use (torch.backends.cpu.get_cpu_capability(),
    which ATEN_CPU_CAPABILITY lowers); onednn_max_isa: ONEDNN_MAX_CPU_ISA, which caps oneDNN's.
    """
    import torch

    return {"cpu": cpu_model(), "cores": len(os.sched_getaffinity(0)),
            "isa": torch.backends.cpu.get_cpu_capability(),
            "cpu_avx512": "avx512f" in cpu_flags(),
            "onednn_max_isa": os.environ.get("ONEDNN_MAX_CPU_ISA"),
            "torch": str(torch.__version__), "numpy": _version("numpy"),
            "captum": _version("captum"), "python": platform.python_version(),
            "platform": platform.platform(), "torch_threads": torch.get_num_threads(),
            "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "load_average": load_average()}


def _scale(s: float) -> tuple[float, str]:
    """The unit that shows `s` seconds with a readable number: (factor, suffix)."""
    return (1e6, " µs") if s < 1e-3 else (1e3, " ms") if s < 1.0 else (1.0, " s")


def fmt_seconds(s: float) -> str:
    """A time with 3 significant digits and a readable unit: 4.2 µs, 12.3 ms, 5.61 s."""
    factor, suffix = _scale(s)
    return f"{s * factor:.3g}{suffix}"


def fmt_stat(s: Stat | None, unit: str = "s", missing: str = "—") -> str:
    """'median (min–max)' in the median's unit, with '[k/n]' when only k of n runs count."""
    if s is None:
        return missing
    factor, suffix = _scale(s["median"]) if unit == "s" else (1.0, unit)
    digits = ".3g" if unit == "s" else ".2f"
    text = f"{s['median'] * factor:{digits}}{suffix}"
    if s["n"] > 1 and s["min"] != s["max"]:
        ends = [f"{x * factor:{digits}}" if unit != "s" or _scale(x) == (factor, suffix) else fmt_seconds(x)
                for x in (s["min"], s["max"])]  # in the median's unit unless far from it
        text += f" ({ends[0]}–{ends[1]})"
    if "of" in s:
        text += f" [{s['n']}/{s['of']}]"
    return text
