"""The shape the style guide asks for: no source file over 400 lines, no function over 50 lines
(the whole def, decorators and docstring included), and no subpackage of common/ with more than 10
modules (`__init__.py` not counted), each opening with a docstring that maps its modules. The
files are found recursively; tests/test_imports.py checks that the search misses no tracked file
and checks the import graph."""
from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest
from test_imports import source_files

from common.core.cli import ROOT

MAX_FILE, MAX_FUNCTION, MAX_MODULES = 400, 50, 10
SOURCES = source_files()
PACKAGES = sorted(p.parent for p in (ROOT / "common").glob("*/__init__.py"))


def functions(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            yield node.name, node.end_lineno - start + 1


def test_the_sources_were_found_in_every_folder():
    names = {str(p.relative_to(ROOT)) for p in SOURCES}
    assert {"p1_cnn_filters.py", "report/build.py", "common/occlusion/engine.py", "bench/__main__.py",
            "common/nets/cnn.py"} <= names


def test_functions_are_measured_whole():
    tree = ast.parse("@dec\ndef f():\n    '''doc'''\n    x = 1\n    return x\n")
    assert list(functions(tree)) == [("f", 5)]


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_file_and_function_sizes(path: Path):
    text = path.read_text()
    assert text.count("\n") <= MAX_FILE, f"{path.name} has {text.count(chr(10))} lines"
    long = [(name, n) for name, n in functions(ast.parse(text)) if n > MAX_FUNCTION]
    assert not long, f"{path.name}: functions over {MAX_FUNCTION} lines: {long}"


@pytest.mark.parametrize("package", PACKAGES, ids=lambda p: p.name)
def test_subpackage_size_and_map(package: Path):
    modules = sorted(p.stem for p in package.glob("*.py") if p.stem != "__init__")
    assert len(modules) <= MAX_MODULES, f"common/{package.name} has {len(modules)} modules"
    doc = ast.get_docstring(ast.parse((package / "__init__.py").read_text())) or ""
    missing = [m for m in modules if f"{m}.py" not in doc]
    assert not missing, f"common/{package.name}/__init__.py does not map {missing}"


def test_vulture_reads_every_source_and_its_whitelist():
    """`python -m vulture` (make test) takes its paths from pyproject.toml, which cannot glob."""
    paths = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["vulture"]["paths"]
    covered = {p for p in SOURCES if any(p == ROOT / q or p.is_relative_to(ROOT / q) for q in paths)}
    assert covered == set(SOURCES), sorted(str(p.relative_to(ROOT)) for p in set(SOURCES) - covered)
    assert "tests/vulture_whitelist.py" in paths and all((ROOT / q).exists() for q in paths)
