"""P4's words: each part opens with the answer of p4_answers.md's argument, then its measurements.

Reads `p4_results.json` (written by p4_experiments.py) and p4_answers.md, whose parts (1)-(3) each
open with their answer in bold; the rest of each part is folded below its measurements.
"""
from __future__ import annotations

import math
import os
import re
from pathlib import Path
from typing import Any, Sequence

from common.core.cli import ROOT
from report.md import LINK, Figures, Section, answer, details, table

ARGUMENT = ROOT / "p4_answers.md"

SCRIPT = "p4_experiments.py"
TITLE = "learning from protein sequences thousands of steps long"
FIGURES = {
    "p4_gradient_decay.png": "P4 (1), (3): ‖∂L/∂h(t)‖ against the distance to the loss, RNN at several spectral "
                             "radii and LSTM at several forget-gate biases; median and range over the draws.",
    "p4_dW_share.png": "P4 (1): the share of ∂L/∂W and of ∂L/∂b from steps more than 100 before the loss, "
                       "each draw and the median.",
    "p4_gain.png": "P4 (1): the gradient's gain per step when W, U or b moves alone.",
    "p4_esn.png": "P4 (2): echo state network held-out accuracy against spectral radius and sequence length.",
}


def rebase_links(text: str, src: Path, dst: Path) -> str:
    """Rewrite relative links written from folder `src` so that they work from folder `dst`."""
    def fix(m: re.Match) -> str:
        target = m.group(2)
        if "://" in target or target.startswith(("#", "/", "mailto:")):
            return m.group(0)
        path, _, anchor = target.partition("#")
        new = Path(os.path.relpath(src / path, dst)).as_posix() + (f"#{anchor}" if anchor else "")
        return m.group(1) + new + m.group(3)
    return LINK.sub(fix, text)


def split_numbered(text: str) -> dict[int, list[str]]:
    """Each part of the markdown that follows a heading naming a sub-question '(n)', without that
    heading; deeper headings are demoted below the report's."""
    parts: dict[int, list[str]] = {}
    current: list[str] = []
    for line in text.splitlines():
        m = re.match(r"^#{1,6}\s+.*?\((\d)\)", line)
        if m:
            current = parts.setdefault(int(m.group(1)), [])
        elif re.match(r"^#{1,6}\s", line):
            current.append("#### " + line.lstrip("#").strip())
        else:
            current.append(line)
    return parts


def argument(n: int, folder: Path) -> tuple[str, list[str]]:
    """Part (n) of p4_answers.md: its opening bold paragraph (the answer, without the **) and the rest."""
    lines = split_numbered(rebase_links(ARGUMENT.read_text(), ARGUMENT.parent, folder))[n]
    paragraphs = "\n".join(lines).strip().split("\n\n")
    lead = " ".join(paragraphs[0].split())
    return lead.removeprefix("**").removesuffix("**"), "\n\n".join(paragraphs[1:]).splitlines()


# ------------------------------------------------------------------------------- numbers as words


def e(v: float) -> str:
    return f"{v:.1e}"


def span(values: Sequence[float], fmt=e) -> str:
    """'a' when all draws print alike, else 'a to b'."""
    low, high = fmt(min(values)), fmt(max(values))
    return low if low == high else f"{low} to {high}"


def shares(values: Sequence[float | None]) -> str:
    """The span of some shares; 'overflow' where a term overflowed in every draw."""
    finite = [v for v in values if v is not None]
    return span(finite) if finite else "overflow"


def lags(values: Sequence[int | None]) -> str:
    """The lags of the draws: '31–38', 'never', or '162–1258, never in 1 of 5'."""
    hit = [v for v in values if v is not None]
    missed = len(values) - len(hit)
    if not hit:
        return "never"
    text = str(min(hit)) if min(hit) == max(hit) else f"{min(hit)}–{max(hit)}"
    return text + (f", never in {missed} of {len(values)}" if missed else "")


def median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    return ordered[(len(ordered) - 1) // 2]


def draws_of(r, name: str, key: str) -> list[Any]:
    return [d[key] for d in r["experiment1"]["curves"][name]["draws"]]


def rnn_names(r) -> dict[str, float]:
    """The RNN curves with a rescaled W, and their spectral radius."""
    return {n: float(n.split("= ")[1]) for n in r["experiment1"]["curves"] if n.startswith("RNN ρ")}


# ------------------------------------------------------------------------------------------ (1)


def crossing(rhos: Sequence[float], gains: Sequence[float | None]) -> str:
    """Where the median gain against ρ(W) changes sign, in words."""
    pairs = [(a, b) for a, b, ga, gb in zip(rhos, rhos[1:], gains, gains[1:])
             if ga is not None and gb is not None and ga < 0 <= gb]
    return f", crossing 0 between ρ = {pairs[0][0]:g} and {pairs[0][1]:g}" if pairs else ""


def signed(v: float) -> str:
    return f"{v:+.2f}".replace("-", "−")


def gain_sentence(g) -> str:
    """What moving W does to λ against what moving U or b does, from the gain sweep."""
    per_rho = [[d["W"][i] for d in g["draws"]] for i in range(len(g["rhos"]))]
    med = [median([v for v in vals if v is not None]) for vals in per_rho]
    text = (f"Moving W alone takes the gradient's gain per step λ from {signed(med[0])} at ρ = {g['rhos'][0]:g} "
            f"to {signed(med[-1])} at ρ = {g['rhos'][-1]:g}{crossing(g['rhos'], med)}. ")
    ceiling = g["ceiling"]
    below = all(w is not None and (m is None or m < w) for c in ceiling.values()
                for w, m in zip(c["W_alone_per_draw"], c["max_with_input_per_draw"]))
    radii = list(ceiling.keys())
    if not below:
        return text + ("Moving U or b lifts λ above W's own gain in some draws, so this sweep does not set W "
                       "apart (p4_gain.png).")
    text += (f"Moving U or b (spreads up to {max(g['spreads']):g}) only lowers λ below W's own gain, ≈ ln ρ(W), "
             f"in all {len(g['draws'])} draws at ρ(W) = {', '.join(radii[:-1])} and {radii[-1]}")
    stable = [k for k, c in ceiling.items() if float(k) < 1 and all(
        m is None or m < 0 for m in c["max_with_input_per_draw"])]
    return text + (f": at ρ(W) = {stable[0]} no U or b in the sweep makes the gradient grow (p4_gain.png)."
                   if stable else " (p4_gain.png).")


def hardest(r, figs: Figures) -> list[str]:
    lead, rest = argument(1, figs.folder)
    curves, rnn = r["experiment1"]["curves"], rnn_names(r)
    far = r["experiment1"]["far"]
    low = min(rnn, key=rnn.get)
    edge = max((n for n in rnn if 1 < rnn[n] < max(rnn.values())), key=rnn.get, default=None)
    dW, db = draws_of(r, low, "share_of_dW_beyond_100"), draws_of(r, low, "share_of_db_beyond_100")
    factor = max(max(w, b) / min(w, b) for w, b in zip(dW, db))
    text = lead + (f" The vanishing does not rank them: at ρ = {rnn[low]:g}, ∂L/∂b draws about the same share as ∂L/∂W "
                   if factor < 1.25 else f" At ρ = {rnn[low]:g}, ∂L/∂b's share is within a factor {factor:.1f} of "
                   "∂L/∂W's ") + f"from more than {far} steps back (median {e(median(db))} against {e(median(dW))})."
    if edge is not None:
        at_edge = [v for v in draws_of(r, edge, "share_of_dW_beyond_100") if v is not None]
        text += (f" At ρ = {rnn[edge]:g} that share ranges from {span(at_edge)} across the "
                 f"{len(at_edge)} draws (median {e(median(at_edge))}).")
    text += " " + gain_sentence(r["experiment1"]["gain"])
    rows = [[name, lags(draws_of(r, name, "lag_below_1e-6")),
             *(shares(draws_of(r, name, k)) for k in ("share_of_dW_beyond_100", "share_of_db_beyond_100")),
             f"{curves[name]['mean_local_factor']:.3f}"] for name in curves if name.startswith("RNN")]
    return (answer(text) + figs.link("p4_gain.png")
            + details("The argument", rest)
            + details(f"Each network over its {len(draws_of(r, low, 'lag_below_1e-6'))} draws",
                      table(["network", "lag where ‖∂L/∂h‖ < 1e-6 of its value at τ",
                             f"share of ∂L/∂W from lags > {far}", f"share of ∂L/∂b from lags > {far}",
                             "mean 1 − h²"], rows)
                      + figs.link("p4_dW_share.png")))


# ------------------------------------------------------------------------------------------ (2)


def esn(r, figs: Figures) -> list[str]:
    lead, rest = argument(2, figs.folder)
    e2 = r["experiment2"]
    pooled, lengths = e2["accuracy"]["pooled"], e2["lengths"]
    radii = [f"{x:g}" for x in e2["spectral_radii"]]
    first = str(lengths[0])
    best = max((k for k in radii if k != "0"), key=lambda k: pooled[first][k])
    accs = [pooled[str(T)][best] for T in lengths]
    trend = ("falls" if all(a > b for a, b in zip(accs, accs[1:])) else "does not fall steadily")
    final = [v for row in e2["accuracy"]["final_state"].values() for v in row.values()]
    memoryless = [pooled[str(T)]["0"] for T in lengths] if "0" in radii else []
    text = (f"{lead} With W rescaled to ρ = {best}, the fitted readout reaches {accs[0]:.2f} held-out "
            f"accuracy on {e2['test_sequences']} sequences of T = {first} (chance {e2['chance']}); with the "
            f"same {e2['copies']} planted copies in longer sequences it {trend}: "
            + ", ".join(f"{a:.2f} at T = {T}" for a, T in zip(accs[1:], lengths[1:])) + ".")
    if memoryless and all(a == e2["chance"] for a in memoryless):
        text += (" With ρ = 0 the state holds only the current letter and the accuracy is exactly "
                 f"{e2['chance']}, since both classes share their letter composition.")
    text += f" The final state alone gives {span(final, lambda v: f'{v:.2f}')} at every ρ and T."
    rows = [[f"T = {T}", *(f"{pooled[str(T)][k]:.2f}" for k in radii)] for T in lengths]
    gaps = e2["echo_state_gap"]
    gap_rows = [[f"ρ = {k}", *(f"{v:.1e}" for v in gaps[k].values())] for k in gaps]
    steps = list(next(iter(gaps.values())).keys())
    return (answer(text) + table(["held-out accuracy", *(f"ρ = {k}" for k in radii)], rows)
            + details("The argument", rest)
            + details("Echo state check and the figure",
                      ["‖h_A(t) − h_B(t)‖/√H for one sequence run from h(0) = 0 and from h(0) ~ U(−1, 1):", ""]
                      + table(["reservoir", *(f"t = {t}" for t in steps)], gap_rows)
                      + figs.link("p4_esn.png")))


# ------------------------------------------------------------------------------------------ (3)


def reach_sentence(r, name: str) -> str:
    """The whole gradient's reach at the largest forget bias against the diag(f) path alone."""
    T = r["config"]["experiment1"]["T"]
    total = draws_of(r, name, "lag_below_1e-6")
    path = draws_of(r, name, "forget_path_lag_below_1e-6")
    end = [v for v in (d[str(T - 1)] for d in draws_of(r, name, "ratio_at_lag")) if v is not None]
    bias = name.removeprefix("LSTM forget bias ")
    if all(v is None for v in total) and all(v is not None for v in path):
        text = (f"At {bias} the diag(f) path alone falls below 1e-6 by lag {lags(path)}, so the longer reach "
                "goes through the gates' recurrent paths")
    else:
        text = (f"At {bias} the whole gradient falls below 1e-6 by lag {lags(total)}, the diag(f) path alone "
                f"by lag {lags(path)}")
    if end:
        orders = math.log10(max(end) / min(end))
        text += (f"; at lag {T - 1} the gradient is {span(end)} of its value at τ across the draws"
                 + (": through those W's it can grow as well as fade" if max(end) > 1 and orders >= 2 else ""))
    return text + "."


def lstm(r, figs: Figures) -> list[str]:
    lead, rest = argument(3, figs.folder)
    curves = r["experiment1"]["curves"]
    names = [n for n in curves if n.startswith("LSTM")]
    T = r["config"]["experiment1"]["T"]

    def reach(n: str) -> str:
        found = lags(draws_of(r, n, "lag_below_1e-6"))
        return (f"{found if found != 'never' else f'never within {T} steps'} at "
                f"{n.removeprefix('LSTM forget bias ')} (mean f {curves[n]['mean_local_factor']:.2f})")

    text = (f"{lead} Raising only the forget bias lengthens the reach of ‖∂L/∂h‖ (lag where it falls below 1e-6 "
            "of its value at τ): " + ", ".join(reach(n) for n in names) + ". " + reach_sentence(r, names[-1]))
    rows = [[n.removeprefix("LSTM forget bias "), lags(draws_of(r, n, "lag_below_1e-6")),
             lags(draws_of(r, n, "forget_path_lag_below_1e-6")),
             shares(draws_of(r, n, "share_of_dW_beyond_100"))] for n in names]
    return (answer(text) + figs.link("p4_gradient_decay.png")
            + details("The argument, and each forget bias over the draws",
                      rest + [""] + table(["forget bias", "lag: whole ‖∂L/∂h‖ < 1e-6", "lag: diag(f) path < 1e-6",
                                           f"share of ∂L/∂W from lags > {r['experiment1']['far']}"], rows)))


SECTIONS = [Section("(1)", "Which parameters are hardest to learn", hardest),
            Section("(2)", "The network as an echo state network", esn),
            Section("(3)", "Why an LSTM cell helps", lstm)]


def interpretations(r) -> list[str]:
    return [f"**Problem 4's experiments.** {r['interpretation']}"]
