"""The import graph: common/ is acyclic, counting imports inside functions, and no file but a test
imports a pN_ script.

The graph is read from the source with `ast` (every `import` and `from ... import` statement,
wherever it is), not from what Python happened to import, so a lazy import counts too.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

from common.cli import ROOT

SCRIPT = re.compile(r"p\d+_\w+")  # p1_cnn_filters, p2_occlusion, ...


def imported_modules(path: Path, root: Path = ROOT) -> set[str]:
    """Every module that `path` imports anywhere in its body, as dotted names; `from common
    import cnn` counts as common.cnn, and relative imports are resolved against the file's package
    (its folder below `root`)."""
    package = ".".join(path.relative_to(root).with_suffix("").parts[:-1])
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, *([base] if base else [])])
            found.add(base)
            found |= {f"{base}.{alias.name}" for alias in node.names}
    return found


def common_graph(folder: Path = ROOT / "common") -> dict[str, set[str]]:
    """common/'s modules and, for each, the modules of common/ it imports."""
    modules = {f"common.{p.stem}": p for p in folder.glob("*.py") if p.stem != "__init__"}
    return {name: {m for m in imported_modules(path) if m in modules and m != name}
            for name, path in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of `graph` as a list of nodes (first == last), or None: depth-first search."""
    state: dict[str, str] = {}  # "open" while on the current path, "done" after

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = "open"
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt, path + [nxt])):
                return cycle
        state[node] = "done"
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start, [start])):
            return cycle
    return None


def test_find_cycle_finds_a_planted_cycle_and_passes_a_tree():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"a"}}) == ["a", "a"]


def test_imports_inside_functions_and_relative_imports_count(tmp_path):
    pkg = tmp_path / "common"
    pkg.mkdir()
    (pkg / "x.py").write_text("def f():\n    from common import y\n")
    (pkg / "y.py").write_text("from . import z\n")
    (pkg / "z.py").write_text("import common.x as xx\n")
    graph = {name: {m for m in imported_modules(path, tmp_path) if m.startswith("common.")}
             for name, path in (("common.x", pkg / "x.py"), ("common.y", pkg / "y.py"),
                                ("common.z", pkg / "z.py"))}
    assert graph == {"common.x": {"common.y"}, "common.y": {"common.z"}, "common.z": {"common.x"}}


def test_common_has_no_import_cycle():
    graph = common_graph()
    assert {"common.checkpoints", "common.cnn", "common.models", "common.mlp"} <= set(graph)
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle in common/: " + " -> ".join(cycle or [])


def test_checkpoint_paths_are_torch_free():
    """common.checkpoints names the files: the process that hands out trainings need not load torch."""
    imported = imported_modules(ROOT / "common" / "checkpoints.py")
    assert not {m for m in imported if m.split(".")[0] == "torch"}
    assert {m for m in imported if m.startswith("common.")} <= {"common.cli", "common.cli.ROOT",
                                                                "common.cli.command"}


def test_no_file_but_a_test_imports_a_problem_script():
    files = [p for p in ROOT.rglob("*.py")
             if not {"tests", ".venv", "data", "checkpoints", "figures"} & set(p.relative_to(ROOT).parts)]
    assert ROOT / "common" / "cnn.py" in files
    offenders = {str(p.relative_to(ROOT)): sorted(m for m in imported_modules(p) if SCRIPT.fullmatch(m))
                 for p in files}
    assert not {k: v for k, v in offenders.items() if v}
