"""Text shared by the scripts, the report and the benchmarks: numbers and README marker regions."""
from __future__ import annotations

from typing import Any, Sequence


def sig(v: Any, digits: int = 8) -> str:
    """A number or vector with `digits` significant digits, trailing zeros kept: [-2.0000000, 0.96402758]."""
    if isinstance(v, (list, tuple)) or getattr(v, "ndim", 0) > 0:
        return "[" + ", ".join(sig(e, digits) for e in v) + "]"
    return f"{float(v) + 0.0:#.{digits}g}"  # + 0.0 turns −0.0 into 0.0


def markers(name: str) -> tuple[str, str]:
    """The HTML comments that bound the region `name` of a Markdown file."""
    return f"<!-- {name}:start -->", f"<!-- {name}:end -->"


def splice(text: str, name: str, block: str) -> str | None:
    """`text` with the region `name` replaced by `block`; None if either marker is missing."""
    start, end = markers(name)
    i, j = text.find(start), text.find(end)
    if i < 0 or j < i:
        return None
    return text[:i + len(start)] + "\n" + block.strip("\n") + "\n" + text[j:]


def print_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Print left-aligned columns."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  " + "  ".join(str(cell).ljust(w) for cell, w in zip(row, widths)).rstrip())
