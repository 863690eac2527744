"""README's generated regions (`make readme` only): the reference run, the results table, the figures.

CNN-dependent rows are given over every training seed's run (the main run and --seed-runs); P3 and
P5 are exact float64 and come from the main run.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Sequence

from common.core.cli import write_atomic
from common.core.machine import one_line as machine_line
from common.core.seeds import agreement as seed_agreement
from common.core.seeds import spread
from common.core.text import splice
from common.nets.sources import DESCRIPTIONS
from report.fields import load
from report.md import Figures, pct, sig, table


def spread_over_seeds(values: Sequence[float], fmt: Callable[[float], str]) -> str:
    """One value, or the mean and range of several: "98.6% (98.4–98.7%)"."""
    s = spread(values)
    return fmt(s["mean"]) if s["n"] == 1 else f"{fmt(s['mean'])} ({fmt(s['low'])}–{fmt(s['high'])})"


def agreement(values: Sequence[Any]) -> str:
    """"'1' on 3 of 3 seeds", or each value's count where the seeds disagree."""
    plural = "" if len(values) == 1 else "s"
    return ", ".join(f"'{v}' on {c} of {len(values)} seed{plural}" for v, c in seed_agreement(values))


def results_table(runs: dict[int, list], exact: dict) -> str:
    """README's table: P1/P2 rows over the runs of every training seed, P3 and P5 rows as they are."""
    r1s, r2s, r3, r5 = runs[1], runs[2], exact[3], exact[5]
    over = f" ({len(r1s)} training seeds: mean (range))" if len(r1s) != 1 else ""
    rows = []
    if r1s:
        rows += [[f"CNN accuracy, train / test{over}", " / ".join(
                    spread_over_seeds([r[k] for r in r1s], pct) for k in ("train_accuracy", "test_accuracy"))],
                 ["P1: the '1' shifted 3 px left / right is classified as", " / ".join(
                     agreement([r["shift"][k]["pred"] for r in r1s]) for k in ("left3", "right3"))],
                 [f"P1: test accuracy at −3 / 0 / +3 px{over}", " / ".join(
                     spread_over_seeds([r["shift_accuracy"][k] for r in r1s], pct) for k in ("-3", "0", "3"))]]
    if r2s:
        size = r2s[0]["adversarial_study"]["best_position"]["size"]  # the patch's side, the same on every run
        rows += [[f"P2: patch positions where p('6') < 0.5{over}", spread_over_seeds(
                     [r["important_region"]["n_below"] for r in r2s], lambda v: f"{v:.0f}")],
                 [f"P2: {size}x{size} pastes of other digits' windows that change the label{over}", spread_over_seeds(
                     [r["adversarial_study"]["every_position"]["changed"][str(size)]["rate"] for r in r2s], pct)]]
    if r3 is not None:
        rows += [["P3: loss L", sig(r3["loss"], 8)],
                 ["P3: ∂L/∂b, BPTT (central differences)",
                  f"{sig(r3['grad_b_bptt'], 8)} ({sig(r3['grad_b_central'], 8)})"],
                 ["P3: b after one step, new loss", f"{sig(r3['b_new'], 8)}, {sig(r3['loss_new'], 8)}"]]
    if r5 is not None:
        rows += [["P5: LSTM loss L", f"{sig(r5['loss'], 8)} ({r5['cell_input_activation']} cell input)"],
                 ["P5: ∂L/∂b^f, BPTT", sig(r5["grad_b_f_bptt"], 8)]]
    return "\n".join(table(["result", "value"], rows)).rstrip()


def reference(r1, seeds: int, date: str) -> str:
    """Which run README's numbers come from, and why a user's own can differ."""
    source = DESCRIPTIONS[r1["data_source"]].short if r1 is not None else "not run"
    torch_version = r1["versions"]["torch"] if r1 is not None else "unknown"
    return (f"The numbers below come from the reference run of {date} (`make readme`) on "
            f"{machine_line()}, torch {torch_version}, data: {source}. CNN-dependent rows are over "
            f"{seeds} training seed{'s' if seeds != 1 else ''}. Your own run's numbers are in "
            "[`figures/evidence.md`](figures/evidence.md) after `make`; CNN-dependent digits can differ "
            "from machine to machine, because CPU kernels (AVX2, AVX-512) round differently and the "
            "CNN trains to other weights. P3 and P5 are exact float64 and do not change.")


def figure_list(figs: Figures, readme_dir: Path) -> str:
    """One line per figure that exists, in the report's order."""
    present = figs.matching("p*_*.png")
    names = [n for n in figs.linked if n in present] + [n for n in present if n not in figs.linked]
    if not names:
        return "_No figures yet: run `make`._"
    rel = Path(os.path.relpath(figs.folder, readme_dir)).as_posix()
    return "\n".join(f"- [`{n}`]({rel}/{n}): {figs.note(n)}" for n in names)


def update(path: Path, results: dict, seed_runs: Sequence[Path], figs: Figures, date: str) -> str:
    """Rewrite README's marker regions; a one-line outcome."""
    if not path.is_file():
        return f"{path.name} not found; left alone"
    runs = {n: [r for r in [results[n], *(load(d / f"p{n}_results.json", "make readme") for d in seed_runs)]
                if r is not None] for n in (1, 2)}
    regions = {"reference-run": reference(results[1], len(runs[1]), date),
               "results-table": results_table(runs, results),
               "figures-list": figure_list(figs, path.parent)}
    text = original = path.read_text()
    for name, body in regions.items():
        spliced = splice(text, name, body)
        if spliced is None:
            return f"{path.name} has no <!-- {name}:start --> ... <!-- {name}:end --> markers; left alone"
        text = spliced
    if text != original:
        write_atomic(path, text.encode())
    return f"{path.name}: regions {', '.join(regions)} {'updated' if text != original else 'already up to date'}"
