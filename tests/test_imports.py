"""The import graph: common/ is acyclic, counting imports inside functions, and no file but a test
imports a pN_ script.

The graph is read from the source with `ast` (every `import` and `from ... import` statement,
wherever it is), not from what Python happened to import, so a lazy import counts too.
"""
from __future__ import annotations

import ast
import re
import subprocess
from pathlib import Path

from common.core.cli import ROOT

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


def source_files(root: Path = ROOT) -> list[Path]:
    """Every .py file of the repository outside tests/ and generated folders, found recursively."""
    skip = {"tests", ".venv", "data", "checkpoints", "figures", ".git"}
    return sorted(p for p in root.rglob("*.py") if not skip & set(p.relative_to(root).parts))


def tracked_sources() -> set[Path]:
    """The same set as git sees it (tracked files), to check that source_files misses none."""
    out = subprocess.run(["git", "ls-files", "*.py"], cwd=ROOT, capture_output=True, text=True, check=True)
    return {ROOT / line for line in out.stdout.split() if not line.startswith("tests/")}


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def common_graph(folder: Path = ROOT / "common") -> dict[str, set[str]]:
    """common/'s modules (recursively) and, for each, the modules of common/ it imports; importing
    a name from a package (`from common.nets import cnn`) counts as importing that module."""
    modules = {module_name(p): p for p in folder.rglob("*.py")}
    return {name: {m for m in imported_modules(path) if m in modules and m != name}
            for name, path in modules.items()}


def subpackage(module: str) -> str | None:
    """`common.nets.cnn` -> "nets"; None for `common` itself."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


# Which subpackage of common/ may import which. core is shared by all and imports none; the
# studies build on the data and the networks; plots draw what the studies return.
ALLOWED = {
    "core": set(),
    "nets": {"core"},
    "features": {"core", "nets"},
    "occlusion": {"core", "nets"},
    "recurrent": {"core"},
    "grading": {"core", "recurrent"},
    "plots": {"core", "nets", "features", "occlusion", "recurrent"},
}


def forbidden_imports(graph: dict[str, set[str]], allowed: dict[str, set[str]] = ALLOWED) -> list[str]:
    """Each import between subpackages that `allowed` does not list, as "a -> b"."""
    return sorted(f"{a} -> {b}" for a, targets in graph.items() for b in targets
                  if subpackage(a) != subpackage(b) and subpackage(b) is not None
                  and subpackage(b) not in allowed.get(subpackage(a), set()))


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


def test_the_search_finds_every_tracked_source():
    found = set(source_files())
    assert ROOT / "common" / "nets" / "cnn.py" in found
    assert tracked_sources() <= found, sorted(str(p) for p in tracked_sources() - found)
    graph = common_graph()
    assert {module_name(p) for p in found if p.is_relative_to(ROOT / "common")} == set(graph)


def test_common_has_no_import_cycle():
    graph = common_graph()
    assert {"common.nets.checkpoints", "common.nets.cnn", "common.nets.models", "common.nets.mlp"} <= set(graph)
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle in common/: " + " -> ".join(cycle or [])


def test_every_subpackage_is_in_the_table_and_common_has_no_loose_module():
    packages = {p.parent.name for p in (ROOT / "common").glob("*/__init__.py")}
    assert packages == set(ALLOWED)
    assert [p.name for p in (ROOT / "common").glob("*.py")] == ["__init__.py"]


def test_the_table_catches_a_planted_import():
    graph = {"common.core.cli": {"common.nets.data"}, "common.nets.data": {"common.core.cli"}}
    assert forbidden_imports(graph) == ["common.core.cli -> common.nets.data"]


def test_subpackages_import_only_what_the_table_allows():
    assert forbidden_imports(common_graph()) == []


def test_checkpoint_names_import_torch_only_inside_functions():
    """The process that hands out trainings (common.nets.models) imports common.nets.checkpoints
    and must not load torch: torch is imported there only inside the I/O functions."""
    path = ROOT / "common" / "nets" / "checkpoints.py"
    top = {alias.name.split(".")[0] for node in ast.parse(path.read_text()).body
           if isinstance(node, (ast.Import, ast.ImportFrom))
           for alias in (node.names if isinstance(node, ast.Import) else [ast.alias(node.module or "")])}
    assert "torch" not in top


def test_no_file_but_a_test_imports_a_problem_script():
    offenders = {str(p.relative_to(ROOT)): sorted(m for m in imported_modules(p) if SCRIPT.fullmatch(m))
                 for p in source_files()}
    assert not {k: v for k, v in offenders.items() if v}
