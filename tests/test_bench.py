"""Smoke tests of the benchmarks (issue 7): each runs at tiny sizes, no timing is asserted."""
import json

import pytest

from bench.__main__ import (README_MARKERS, discover, render_markdown, render_readme_block, run_one,
                            splice, write_outputs)
from bench.common import interleaved, row, stat


@pytest.mark.parametrize("name", discover())
def test_quick_run_agrees_and_renders(name):
    r = run_one(name, quick=True)  # also checks the result's fields (check_result)
    assert r["name"] == name and r["quick"] and r["rows"]
    assert r["agree"], r["agreement"]
    assert all(g["met"] in (True, False, None) for g in r["goals"])
    for text in (render_markdown([r]), render_readme_block([r])):
        assert all(rw["case"] in text for rw in r["rows"])


def test_interleaved_alternates_and_counts():
    calls = []
    t = interleaved({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")},
                    repeats=3, warmup=0, min_seconds=0.0)
    assert calls == ["a", "b", "a", "b", "b", "a", "a", "b"]  # calibration, then a b, b a, a b
    assert t["a"]["n"] == 3 and t["a"]["min"] <= t["a"]["median"] <= t["a"]["max"]


def test_splice_replaces_only_between_markers():
    start, end = README_MARKERS
    text = f"intro\n{start}\nold table\n{end}\noutro\n"
    assert splice(text, "new") == f"intro\n{start}\nnew\n{end}\noutro\n"
    assert splice("no markers here", "new") is None


def test_write_outputs_merges_by_name(tmp_path):
    def fake(name, seconds):
        r = {"name": name, "title": name, "quick": False, "ours": "o", "peer": "p", "agree": True,
             "agreement": "same", "rows": [row("case", stat([seconds]), stat([2 * seconds]))],
             "goals": [], "notes": [], "config": {}, "detail": {}, "seconds": 1.0,
             "load_before": [0.1] * 3, "load_after": [0.1] * 3}
        return {**r, "machine": {"cpu": "cpu", "cores": 2, "torch": "t", "numpy": "n",
                                 "python": "3", "date": "2026-01-01 00:00 UTC"}}

    readme = tmp_path / "README.md"
    readme.write_text(f"a\n{README_MARKERS[0]}\n{README_MARKERS[1]}\nb\n")
    write_outputs([fake("bptt", 1.0), fake("training", 1.0)], tmp_path, readme)
    write_outputs([fake("bptt", 3.0)], tmp_path, readme)
    stored = json.loads((tmp_path / "results.json").read_text())["benchmarks"]
    assert [r["name"] for r in stored] == ["training", "bptt"]  # the order
    assert stored[1]["rows"][0]["ours"]["median"] == 3.0
    assert "2.0x" in readme.read_text() and readme.read_text().endswith("b\n")
