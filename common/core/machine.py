"""The machine a result was measured on: CPU model, vector extensions, cores (no torch import).

CNN weights, and so every CNN-dependent digit, depend on which CPU kernels ran: AVX-512 and AVX2
kernels round differently. The report, README and benchmarks name the machine with this.
"""
from __future__ import annotations

import os
import platform
import sys


def _cpuinfo() -> dict[str, str]:
    """The first processor's fields from /proc/cpuinfo ({} where there is none)."""
    fields: dict[str, str] = {}
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if not line.strip():
                    break
                key, _, value = line.partition(":")
                fields[key.strip()] = value.strip()
    except OSError:
        pass
    return fields


def cpu_model() -> str:
    return _cpuinfo().get("model name") or platform.processor() or "unknown CPU"


def cpu_flags() -> set[str]:
    """The CPU's feature flags (empty where /proc/cpuinfo is missing)."""
    return set(_cpuinfo().get("flags", "").split())


def vector_extensions(flags: str | None = None) -> str:
    """"AVX-512", "AVX2" or "no AVX2", from the CPU's flags (AVX-512 means avx512f)."""
    found = set(flags.split()) if flags is not None else cpu_flags()
    if "avx512f" in found:
        return "AVX-512"
    return "AVX2" if "avx2" in found else "no AVX2"


def torch_kernels() -> str | None:
    """The instruction set torch's own kernels use, if torch is already imported (it can be
    restricted below the CPU's by ATEN_CPU_CAPABILITY)."""
    torch = sys.modules.get("torch")
    return torch.backends.cpu.get_cpu_capability() if torch is not None else None


def describe() -> dict[str, object]:
    return {"cpu": cpu_model(), "vector_extensions": vector_extensions(),
            "cores": len(os.sched_getaffinity(0)), "torch_kernels": torch_kernels()}


def one_line(info: dict | None = None) -> str:
    """"AMD EPYC, AVX-512, 2 cores" (plus torch's kernels where they differ from the CPU's)."""
    info = info or describe()
    line = f"{info['cpu']}, {info['vector_extensions']}, {info['cores']} cores"
    kernels = info.get("torch_kernels")
    if kernels and kernels.replace("AVX512", "AVX-512") != info["vector_extensions"]:
        line += f" (torch kernels: {kernels})"
    return line
