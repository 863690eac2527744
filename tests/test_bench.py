"""Smoke tests of the benchmarks: each runs at tiny sizes, no timing is asserted."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.__main__ import (
    discover,
    render_markdown,
    render_readme_block,
    run_one,
    write_outputs,
)
from bench.bench_occlusion import mm_libraries_note
from bench.bench_standin import tree_pss_bytes
from bench.common import interleaved, isa_label, row, stat
from common.core.text import markers


@pytest.mark.parametrize("name", discover())
def test_quick_run_agrees_and_renders(name):
    r = run_one(name, quick=True)  # also checks the result's fields (check_result)
    assert r["name"] == name and r["quick"] and r["rows"]
    assert r["agree"], r["agreement"]
    assert all(g["met"] in (True, False, None) for g in r["goals"])
    assert all(rw["case"] in render_markdown([r]) for rw in r["rows"])
    assert "bench/results.md" in render_readme_block([r])


def test_interleaved_alternates_and_counts():
    calls = []
    t = interleaved({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")},
                    repeats=3, warmup=0, min_seconds=0.0)
    assert calls == ["a", "b", "a", "b", "b", "a", "a", "b"]  # calibration, then a b, b a, a b
    assert t["a"]["n"] == 3 and t["a"]["min"] <= t["a"]["median"] <= t["a"]["max"]


def fake(name, seconds, isa="AVX512", avx512=True, met=True):
    """A result as run_one returns it, with one row (peer twice as slow) and one goal."""
    r = {"name": name, "title": name, "quick": False, "ours": "o", "peer": "p", "agree": True,
         "agreement": "same", "rows": [row("case", stat([seconds]), stat([2 * seconds]))],
         "goals": [{"goal": f"{name} goal", "met": met, "measured": "m"}], "notes": [],
         "config": {}, "detail": {}, "seconds": 1.0, "load_before": [0.1] * 3, "load_after": [0.1] * 3}
    return {**r, "machine": {"cpu": "cpu", "cores": 2, "torch": "t", "numpy": "n", "python": "3",
                             "date": "2026-01-01 00:00 UTC", "isa": isa, "cpu_avx512": avx512}}


def test_isa_labels():
    assert isa_label({"isa": "AVX512"}) == "AVX-512"
    assert isa_label({}) == "AVX-512"  # results from before the field: the AVX-512 machine
    assert isa_label({"isa": "AVX2", "cpu_avx512": False}) == "AVX2"
    assert "restricted to AVX2" in isa_label({"isa": "AVX2", "cpu_avx512": True})


def test_write_outputs_merges_by_machine_and_name(tmp_path):
    start, end = markers("bench")
    readme = tmp_path / "README.md"
    readme.write_text(f"a\n{start}\nold\n{end}\nb\n")
    write_outputs([fake("bptt", 1.0), fake("training", 1.0)], tmp_path, readme)
    write_outputs([fake("bptt", 3.0)], tmp_path, readme)  # replaces its own machine's bptt only
    write_outputs([fake("bptt", 5.0, isa="AVX2", met=False)], tmp_path, readme)  # a second machine
    stored = json.loads((tmp_path / "results.json").read_text())["benchmarks"]
    assert [(r["name"], r["machine"]["isa"]) for r in stored] == [
        ("training", "AVX512"), ("bptt", "AVX512"), ("bptt", "AVX2")]  # ORDER within each machine
    assert stored[1]["rows"][0]["ours"]["median"] == 3.0
    md = (tmp_path / "results.md").read_text()
    assert md.count("## cpu, 2 cores, AVX-512\n") == 1 and "## cpu, 2 cores, AVX2 (AVX-512 CPU restricted" in md
    assert "## Quoted: a 2-core AMD EPYC with AVX2 only, measured 2026-11-30\n" in md
    text = readme.read_text()
    block = text[text.index(start) + len(start):text.index(end)].strip().splitlines()
    assert text.startswith("a\n") and text.endswith(f"{end}\nb\n") and "old" not in text
    assert len(block) <= 6 and "bench/results.md" in block[0]
    assert "2 of 2 goals met" in text and "0 of 1 goals met; not met: bptt: bptt goal" in text


def test_cputime_section_renders_each_machine_with_its_ratios(tmp_path):
    import json

    from bench.__main__ import render_cputime

    run = {"isa": "AVX2", "date": "2026-01-02", "captum_best": "captum ppe=64 one digit/call",
           "maps_per_cpu_second": {"ours (IncrementalCNN)": 40.0, "captum ppe=64 one digit/call": 10.0},
           "mm_gflops_per_core": 80.0, "ours_over_captum_best": 4.0, "ours_over_folded": 1.25,
           "ours_share_of_mm": 0.85}
    path = tmp_path / "cputime.json"
    path.write_text(json.dumps({"CPU X, 2 cores, AVX-512 CPU restricted to AVX2": run}))
    lines = render_cputime(path)
    row = next(line for line in lines if line.startswith("| CPU X"))
    for expected in ("restricted to AVX2", "40.0", "4.00x", "85% of 80.0 GFLOP/s", "1.25x"):
        assert expected in row, expected
    assert render_cputime(tmp_path / "missing.json") == []



def own_pss(pid: int) -> int:
    rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
    return sum(int(line.split()[1]) * 1024 for line in rollup.splitlines() if line.startswith("Pss:"))


def test_tree_memory_counts_a_child_with_its_pages():
    """bench_standin sums Pss over make's process tree: a child holding 200 MB of touched pages is
    counted with this process (each one's own smaps_rollup is the independent reading)."""
    child = subprocess.Popen([sys.executable, "-c", "import time; x = b'x' * (200 << 20); "
                              "print('ready', flush=True); time.sleep(60)"], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "ready"
        total, mine, theirs = tree_pss_bytes(os.getpid()), own_pss(os.getpid()), own_pss(child.pid)
        assert theirs > 200 << 20
        assert abs(total - (mine + theirs)) < 16 << 20  # read a moment apart
        assert abs(tree_pss_bytes(child.pid) - theirs) < 4 << 20  # a leaf: only itself
    finally:
        child.kill()
        child.wait()


def test_the_matmul_note_names_the_cpu_it_ran_on():
    amd = mm_libraries_note("AMD EPYC 9B14", "AVX-512")
    assert "on the AMD EPYC 9B14 (AVX-512) runs its AVX2 kernels" in amd
    intel = mm_libraries_note("Intel(R) Xeon(R) Processor", "AVX-512")
    assert "on the Intel(R) Xeon(R) Processor (AVX-512)" in intel and "AVX2" not in intel
