"""Every number survives a change of the results JSON: each numeric leaf of an old run's files is
found, bitwise equal, at the same path of the new run's, or at the path a committed rename map gives.

    .venv/bin/python tests/json_survival.py OLD_FIGURES NEW_FIGURES [--renames tests/data/json_renames.json]

Paths are written as a.b[2].c. A rename maps an old path, or an old subtree's prefix, to its new
one, per file: {"p2_results.json": {"important_region.n_below": "important_region.below.count"}}.
Only strings (prose) may leave. Prints how many values it compared and exits 1 on any loss.
"""
from __future__ import annotations

import argparse
import json
import math
import struct
import sys
from pathlib import Path
from typing import Any, Iterator, Sequence

FILES = ("p1_results.json", "p2_results.json", "p3_results.json", "p4_results.json",
         "p5_results.json", "answer_key.json")


def leaves(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """(path, value) for every non-container value, depth first."""
    if isinstance(value, dict):
        for key, child in value.items():
            yield from leaves(child, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for i, child in enumerate(value):
            yield from leaves(child, f"{path}[{i}]")
    else:
        yield path, value


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def same_bits(a: Any, b: Any) -> bool:
    """Equal as stored: ints by value, floats bit for bit (so 0.0 and -0.0 differ, NaN equals NaN)."""
    if not (is_number(a) and is_number(b)) or isinstance(a, float) != isinstance(b, float):
        return False
    if isinstance(a, float):
        return struct.pack("<d", a) == struct.pack("<d", b) or (math.isnan(a) and math.isnan(b))
    return a == b


def renamed(path: str, renames: dict[str, str]) -> str | None:
    """`path` under the longest rename whose old path is it or one of its prefixes; None if none."""
    best = None
    for old, new in renames.items():
        if path == old or path.startswith(old + ".") or path.startswith(old + "["):
            if best is None or len(old) > len(best[0]):
                best = (old, new)
    return None if best is None else best[1] + path[len(best[0]):]


def compare(old: Any, new: Any, renames: dict[str, str]) -> tuple[int, int, list[str]]:
    """(numbers compared, of them found through a rename, the losses as 'path: why')."""
    found = dict(leaves(new))
    compared = via_rename = 0
    lost = []
    for path, value in leaves(old):
        if not is_number(value):
            continue
        compared += 1
        target = renamed(path, renames)
        where = path if target is None else target
        via_rename += target is not None
        if where not in found:
            lost.append(f"{path}: missing" + (f" (renamed to {target})" if target else ""))
        elif not same_bits(value, found[where]):
            lost.append(f"{path}: {value!r} became {found[where]!r} at {where}")
    return compared, via_rename, lost


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("old", type=Path)
    p.add_argument("new", type=Path)
    p.add_argument("--renames", type=Path, default=Path(__file__).parent / "data" / "json_renames.json")
    args = p.parse_args(argv)
    renames = json.loads(args.renames.read_text()) if args.renames.exists() else {}
    total = total_renamed = 0
    losses = []
    for name in FILES:
        if not (args.old / name).exists():
            continue
        old, new = (json.loads((folder / name).read_text()) for folder in (args.old, args.new))
        n, r, lost = compare(old, new, renames.get(name, {}))
        total, total_renamed = total + n, total_renamed + r
        losses += [f"{name}: {line}" for line in lost]
        print(f"{name}: {n} numbers compared, {r} through a rename, {len(lost)} lost")
    print(f"all files: {total} numbers compared, {total_renamed} through a rename, {len(losses)} lost")
    for line in losses[:50]:
        print("  " + line)
    return 1 if losses else 0


if __name__ == "__main__":
    sys.exit(main())
