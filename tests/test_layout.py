"""The shape the design card asks for: no source file over 600 lines, no function over 60 lines
(the whole def, docstring included). tests/test_imports.py checks the import graph."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from common.cli import ROOT

MAX_FILE, MAX_FUNCTION = 600, 60
SOURCES = sorted(p for folder in (ROOT, ROOT / "common", ROOT / "report", ROOT / "bench")
                 for p in folder.glob("*.py"))


def functions(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            yield node.name, node.end_lineno - start + 1


def test_the_sources_were_found():
    assert {"p1_cnn_filters.py", "p2_occlusion.py", "build.py", "occlusion.py"} <= {p.name for p in SOURCES}


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_file_and_function_sizes(path: Path):
    text = path.read_text()
    assert text.count("\n") <= MAX_FILE, f"{path.name} has {text.count(chr(10))} lines"
    long = [(name, n) for name, n in functions(ast.parse(text)) if n > MAX_FUNCTION]
    assert not long, f"{path.name}: functions over {MAX_FUNCTION} lines: {long}"

