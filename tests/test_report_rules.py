"""report/ only selects and formats: the analysis decides. No numeric module, no aggregate and no
threshold in report/, and importing it does not load numpy.

Forbidden in report/*.py: importing numpy, math or statistics; the names Counter, min, max,
sorted and sum; any comparison with a numeric literal, except the singular/plural test `== 1`.
"""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from common.core.cli import ROOT

MODULES = {"numpy", "math", "statistics"}
NAMES = {"Counter", "min", "max", "sorted", "sum"}
REPORT = sorted((ROOT / "report").glob("*.py"))


def numeric(node: ast.AST) -> bool:
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        node = node.operand
    return isinstance(node, ast.Constant) and type(node.value) in (int, float)


def singular_test(op: ast.cmpop, left: ast.AST, right: ast.AST) -> bool:
    """`x == 1` or `x != 1` (either side): choosing "map" or "maps"."""
    one = [n for n in (left, right) if numeric(n) and getattr(n, "value", None) == 1]
    return isinstance(op, (ast.Eq, ast.NotEq)) and bool(one)


def violations(source: str) -> list[str]:
    """Each forbidden import, name and numeric comparison in `source`, as 'line: what'."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [f"{node.lineno}: import {a.name}" for a in node.names if a.name.split(".")[0] in MODULES]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in MODULES:
            found.append(f"{node.lineno}: from {node.module}")
        elif isinstance(node, ast.ImportFrom):
            found += [f"{node.lineno}: import {a.name}" for a in node.names if a.name in NAMES]
        elif isinstance(node, ast.Name) and node.id in NAMES:
            found.append(f"{node.lineno}: {node.id}")
        elif isinstance(node, ast.Attribute) and node.attr in NAMES - {"min", "max", "sum"}:
            found.append(f"{node.lineno}: .{node.attr}")
        elif isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            for op, left, right in zip(node.ops, sides, sides[1:]):
                if (numeric(left) or numeric(right)) and not singular_test(op, left, right):
                    found.append(f"{node.lineno}: comparison with a number")
    return found


@pytest.mark.parametrize("source, bad", [
    ("import numpy as np", True), ("from math import log10", True), ("import statistics", True),
    ("from collections import Counter", True), ("x = max(a)", True), ("y = sorted(a)", True),
    ("z = sum(a)", True), ("ok = share > 0.5", True), ("ok = 3 <= n", True), ("ok = n < -2", True),
    ("word = 'map' if n == 1 else 'maps'", False), ("ok = n != 1", False), ("ok = n == name", False),
    ("s = ', '.join(a)", False),
])
def test_the_rules_catch_what_they_forbid(source, bad):
    assert bool(violations(source)) == bad


@pytest.mark.parametrize("path", REPORT, ids=lambda p: p.name)
def test_report_only_selects_and_formats(path: Path):
    assert violations(path.read_text()) == []


def test_importing_report_does_not_load_numpy():
    code = "import sys, report, report.build, report.md; " \
           "import report.p1, report.p2, report.p3, report.p4, report.p5, report.key; " \
           "print('numpy' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
