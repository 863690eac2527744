"""P4's words: each part opens with the answer of p4_answers.md's argument, then its measurements.

Reads `p4_results.json` (written by p4_experiments.py) and p4_answers.md, whose parts (1)-(3) each
open with their answer in bold; the rest of each part is folded below its measurements.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

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


def span(s, fmt=e) -> str:
    """A spread (common/recurrent/findings.py) as 'a' when its extremes print alike, else 'a to b'."""
    low, high = fmt(s["min"]), fmt(s["max"])
    return low if low == high else f"{low} to {high}"


def shares(s) -> str:
    """The spread of some shares; 'overflow' where a term overflowed in every draw."""
    return "overflow" if s["min"] is None else span(s)


def lags(s) -> str:
    """The lags of the draws: '31–38', 'never', or '162–1258, never in 1 of 5'."""
    if s["min"] is None:
        return "never"
    text = str(s["min"]) if s["min"] == s["max"] else f"{s['min']}–{s['max']}"
    return text + (f", never in {s['missing']} of {s['count']}" if s["missing"] else "")


def spreads(r, name: str, key: str):
    return r["findings"]["spreads"][name][key]


# ------------------------------------------------------------------------------------------ (1)


def signed(v: float) -> str:
    return f"{v:+.2f}".replace("-", "−")


def gain_sentence(r) -> str:
    """What moving W does to λ against what moving U or b does, from the gain sweep."""
    g, f = r["experiment1"]["gain"], r["findings"]["gain"]
    med, cross = f["W_median"], f["crossing"]
    text = (f"Moving W alone takes the gradient's gain per step λ from {signed(med[0])} at ρ = {g['rhos'][0]:g} "
            f"to {signed(med[-1])} at ρ = {g['rhos'][-1]:g}"
            + (f", crossing 0 between ρ = {cross[0]:g} and {cross[1]:g}" if cross is not None else "") + ". ")
    if not f["input_below_W_alone"]:
        return text + ("Moving U or b lifts λ above W's own gain in some draws, so this sweep does not set W "
                       "apart (p4_gain.png).")
    radii = f["base_rhos"]
    text += (f"Moving U or b (spreads up to {f['max_spread']:g}) only lowers λ below W's own gain, ≈ ln ρ(W), "
             f"in all {f['draws']} draws at ρ(W) = {', '.join(radii[:-1])} and {radii[-1]}")
    return text + (f": at ρ(W) = {f['stable_rho']} no U or b in the sweep makes the gradient grow (p4_gain.png)."
                   if f["stable_rho"] is not None else " (p4_gain.png).")


def hardest(r, figs: Figures) -> list[str]:
    lead, rest = argument(1, figs.folder)
    curves, h = r["experiment1"]["curves"], r["findings"]["hardest"]
    far, factor = r["experiment1"]["far"], h["db_to_dW_factor"]
    text = lead + (f" The vanishing does not rank them: at ρ = {h['low_rho']:g}, ∂L/∂b draws about the same share "
                   "as ∂L/∂W " if factor["below"] else f" At ρ = {h['low_rho']:g}, ∂L/∂b's share is within a factor "
                   f"{factor['value']:.1f} of ∂L/∂W's ") + (f"from more than {far} steps back (median "
                                                            f"{e(h['median_share_of_db'])} against "
                                                            f"{e(h['median_share_of_dW'])}).")
    edge = h["edge"]
    if edge is not None:
        text += (f" At ρ = {edge['rho']:g} that share ranges from {span(edge['share_of_dW'])} across the "
                 f"{edge['share_of_dW']['count']} draws (median {e(edge['median_share_of_dW'])}).")
    text += " " + gain_sentence(r)
    rows = [[name, lags(spreads(r, name, "lag_below_1e-6")),
             *(shares(spreads(r, name, k)) for k in ("share_of_dW_beyond_100", "share_of_db_beyond_100")),
             f"{curves[name]['mean_local_factor']:.3f}"] for name in curves if name.startswith("RNN")]
    return (answer(text) + figs.link("p4_gain.png")
            + details("The argument", rest)
            + details(f"Each network over its {spreads(r, h['low_curve'], 'lag_below_1e-6')['count']} draws",
                      table(["network", "lag where ‖∂L/∂h‖ < 1e-6 of its value at τ",
                             f"share of ∂L/∂W from lags > {far}", f"share of ∂L/∂b from lags > {far}",
                             "mean 1 − h²"], rows)
                      + figs.link("p4_dW_share.png")))


# ------------------------------------------------------------------------------------------ (2)


def esn(r, figs: Figures) -> list[str]:
    lead, rest = argument(2, figs.folder)
    e2, f = r["experiment2"], r["findings"]["esn"]
    pooled, lengths = e2["accuracy"]["pooled"], e2["lengths"]
    radii = [f"{x:g}" for x in e2["spectral_radii"]]
    accs = f["best_accuracy"]
    trend = "falls" if f["falls"] else "does not fall steadily"
    text = (f"{lead} With W rescaled to ρ = {f['best_rho']}, the fitted readout reaches {accs[0]:.2f} held-out "
            f"accuracy on {e2['test_sequences']} sequences of T = {lengths[0]} (chance {e2['chance']}); with the "
            f"same {e2['copies']} planted copies in longer sequences it {trend}: "
            + ", ".join(f"{a:.2f} at T = {T}" for a, T in zip(accs[1:], lengths[1:])) + ".")
    if f["memoryless_at_chance"]:
        text += (" With ρ = 0 the state holds only the current letter and the accuracy is exactly "
                 f"{e2['chance']}, since both classes share their letter composition.")
    text += f" The final state alone gives {span(f['final_state'], lambda v: f'{v:.2f}')} at every ρ and T."
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


def reach_sentence(r) -> str:
    """The whole gradient's reach at the largest forget bias against the diag(f) path alone."""
    f = r["findings"]["reach"]
    name = f["curve"]
    total, path = lags(spreads(r, name, "lag_below_1e-6")), lags(spreads(r, name, "forget_path_lag_below_1e-6"))
    bias = name.removeprefix("LSTM forget bias ")
    if f["total_never_path_always"]:
        text = (f"At {bias} the diag(f) path alone falls below 1e-6 by lag {path}, so the longer reach "
                "goes through the gates' recurrent paths")
    else:
        text = f"At {bias} the whole gradient falls below 1e-6 by lag {total}, the diag(f) path alone by lag {path}"
    if f["end_orders"] is not None:
        text += (f"; at lag {f['end_lag']} the gradient is {span(f['end_ratio'])} of its value at τ across the draws"
                 + (": through those W's it can grow as well as fade" if f["end_orders"]["grows_and_fades"] else ""))
    return text + "."


def lstm(r, figs: Figures) -> list[str]:
    lead, rest = argument(3, figs.folder)
    curves, names = r["experiment1"]["curves"], r["findings"]["lstm_curves"]
    T = r["config"]["experiment1"]["T"]

    def reach(n: str) -> str:
        found = lags(spreads(r, n, "lag_below_1e-6"))
        return (f"{found if found != 'never' else f'never within {T} steps'} at "
                f"{n.removeprefix('LSTM forget bias ')} (mean f {curves[n]['mean_local_factor']:.2f})")

    text = (f"{lead} Raising only the forget bias lengthens the reach of ‖∂L/∂h‖ (lag where it falls below 1e-6 "
            "of its value at τ): " + ", ".join(reach(n) for n in names) + ". " + reach_sentence(r))
    rows = [[n.removeprefix("LSTM forget bias "), lags(spreads(r, n, "lag_below_1e-6")),
             lags(spreads(r, n, "forget_path_lag_below_1e-6")),
             shares(spreads(r, n, "share_of_dW_beyond_100"))] for n in names]
    return (answer(text) + figs.link("p4_gradient_decay.png")
            + details("The argument, and each forget bias over the draws",
                      rest + [""] + table(["forget bias", "lag: whole ‖∂L/∂h‖ < 1e-6", "lag: diag(f) path < 1e-6",
                                           f"share of ∂L/∂W from lags > {r['experiment1']['far']}"], rows)))


SECTIONS = [Section("(1)", "Which parameters are hardest to learn", hardest),
            Section("(2)", "The network as an echo state network", esn),
            Section("(3)", "Why an LSTM cell helps", lstm)]


INTERPRETATION = (
    "Protein-like sequences: letters drawn uniformly from the 20 amino acids, one-hot inputs x(t), "
    "h(0) = s(0) = 0, float64. Experiment 1's loss is the cross-entropy of ŷ(τ) = softmax(c + V h(τ)) "
    "for class 0 at the last step only (the curves are normalised by their value at τ, so this choice "
    "only sets the direction of ∂L/∂h(τ)). Random recurrent matrices are one Gaussian matrix rescaled to "
    "each spectral radius ρ; U ~ N(0, 0.5²), b = 0, V ~ N(0, 1/H), c = 0. Problem 3's W (2×2, "
    "eigenvalues 1 and 2) is used with Problem 3's b, V, c and a seeded random U of shape (2, 20), "
    "N(0, 0.5²), since Problem 3's U has only 2 input columns. Problem 4's LSTM is not Problem 5's: it has "
    "its own random weights and tanh on the cell input (as most libraries; the book prints σ), and "
    "∂s(t)/∂s(t−1) = diag(f(t)) either way; its U's ~ N(0, 0.5²), W's ~ N(0, 1/H), all biases 0 except the "
    "forget gate's. Experiment 2's ESN classifies a sequence by o = c + V h̄ with h̄ the mean of h(t) over t "
    "(= the mean of the per-step outputs o(t)), V and c fitted by ridge regression to one-hot labels on "
    "standardised h̄ (λ = 1), then folded back so that o = c + V h̄ on the raw h̄. Its reservoir: "
    "U ~ N(0, 0.5²), b ~ N(0, 0.5²) (b ≠ 0 so that tanh mixes neighbouring inputs), W ~ N(0, 1) rescaled "
    "to ρ. Every curve of experiment 1 and of the gain sweep is repeated for independent draws of the "
    "sequence and of all weights; the JSON gives each draw."
)


def interpretations(r) -> list[str]:
    return [f"**Problem 4's experiments.** {INTERPRETATION}"]
