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


JACOBIAN = ("A loss at τ reaches step t − k through the Jacobian product ∂h(t)/∂h(t − k) = Π diag(1 − h²) W, "
            "one factor per step, carried by every term of ∂L/∂W, ∂L/∂U and ∂L/∂b, not by ∂L/∂V or ∂L/∂c. As "
            "‖diag(1 − h²) W‖₂ ≤ ‖W‖₂, the product shrinks at least as fast as ‖W‖₂^k when ‖W‖₂ < 1; ρ(W) "
            "governs the long-run rate of W^k.")


def bound_sentence(r) -> str:
    """The measured ‖W‖₂ against ρ(W) at the smallest ρ, and whether the bound alone forced the vanishing."""
    h = r["findings"]["hardest"]
    n = r["findings"]["norm_and_radius"]
    c = n["curves"][h["low_curve"]]
    text = f"At ρ(W) = {h['low_rho']:g}, ‖W‖₂ = {span(c['spectral_norm'], lambda v: f'{v:.2f}')}"
    return text + (", so the bound forces the vanishing." if c["norm_below_1"] else
                   ", so the bound does not force the vanishing, yet ‖∂L/∂h‖ falls below 1e-6 by lag "
                   f"{lags(spreads(r, h['low_curve'], 'lag_below_1e-6'))}: ρ(W) and tanh′ set the rate.")


def bound_check(r) -> str:
    """Whether every measured curve stayed within ‖W‖₂^k."""
    return ("Every curve of every draw stays within ‖W‖₂^k of its value at τ." if
            r["findings"]["norm_and_radius"]["within_norm_bound_everywhere"] else
            "Some curve exceeds ‖W‖₂^k: the measurement contradicts the bound.")


def gain_sentence(r) -> str:
    """What moving W does to λ against what moving U or b does, from the gain sweep."""
    g, f = r["experiment1"]["gain"], r["findings"]["gain"]
    med = f["W_median"]
    text = (f" Moving W alone takes λ, the gain per step, from {signed(med[0])} (ρ = {g['rhos'][0]:g}) "
            f"to {signed(med[-1])} (ρ = {g['rhos'][-1]:g}); ")
    if not f["input_below_W_alone"]:
        return text + "moving U or b lifts λ above W's own gain in some draws."
    return text + f"U and b enter only through tanh′ ∈ (0, 1] and never lift λ above W's own ({f['draws']} draws)."


def hardest(r, figs: Figures) -> list[str]:
    lead, rest = argument(1, figs.folder)
    curves, h = r["experiment1"]["curves"], r["findings"]["hardest"]
    far, factor = r["experiment1"]["far"], h["db_to_dW_factor"]
    text = f"{lead} {JACOBIAN} {bound_sentence(r)}{gain_sentence(r)}"
    shared = (f"The vanishing does not rank them: at ρ = {h['low_rho']:g}, ∂L/∂b draws about the same share "
              "as ∂L/∂W " if factor["below"] else f"At ρ = {h['low_rho']:g}, ∂L/∂b's share is within a factor "
              f"{factor['value']:.1f} of ∂L/∂W's ") + (f"from more than {far} steps back (median "
                                                       f"{e(h['median_share_of_db'])} against "
                                                       f"{e(h['median_share_of_dW'])}).")
    edge = h["edge"]
    if edge is not None:
        shared += (f" At ρ = {edge['rho']:g} that share ranges from {span(edge['share_of_dW'])} across the "
                   f"{edge['share_of_dW']['count']} draws (median {e(edge['median_share_of_dW'])}).")
    norms = r["findings"]["norm_and_radius"]["curves"]
    rows = [[name, span(norms[name]["spectral_radius"], lambda v: f"{v:.2f}"),
             span(norms[name]["spectral_norm"], lambda v: f"{v:.2f}"), lags(spreads(r, name, "lag_below_1e-6")),
             *(shares(spreads(r, name, k)) for k in ("share_of_dW_beyond_100", "share_of_db_beyond_100")),
             f"{curves[name]['mean_local_factor']:.3f}"] for name in curves if name.startswith("RNN")]
    return (answer(text) + figs.link("p4_gain.png")
            + details("The argument", rest)
            + details(f"Each network over its {spreads(r, h['low_curve'], 'lag_below_1e-6')['count']} draws",
                      [shared, "", bound_check(r), ""] + table(["network", "ρ(W)", "‖W‖₂", "lag where ‖∂L/∂h‖ < 1e-6 of its value at τ",
                             f"share of ∂L/∂W from lags > {far}", f"share of ∂L/∂b from lags > {far}",
                             "mean 1 − h²"], rows)
                      + figs.link("p4_dW_share.png")))


# ------------------------------------------------------------------------------------------ (2)


def with_interval(a: float, ci) -> str:
    """An accuracy and its 95% interval: '0.90 (0.84–0.94)'."""
    return f"{a:.2f} ({ci[0]:.2f}–{ci[1]:.2f})"


def echo_sentence(r) -> str:
    """The echo state check at the largest ρ, in words."""
    c = r["findings"]["esn"]["echo_state_at_largest_rho"]
    head = f"At ρ = {c['rho']} (‖W‖₂ = {c['spectral_norm']:.1f}) two different starts "
    if c["closes"]:
        return head + f"still converge, to {e(c['gap'])} by t = {c['step']}: no sign of chaos in this reservoir."
    return head + f"stay {e(c['gap'])} apart at t = {c['step']}: this reservoir has lost the echo state property."


def esn(r, figs: Figures) -> list[str]:
    lead, rest = argument(2, figs.folder)
    e2, f = r["experiment2"], r["findings"]["esn"]
    pooled, lengths, ci = e2["accuracy"]["pooled"], e2["lengths"], e2["accuracy_interval_95"]["pooled"]
    radii = [f"{x:g}" for x in e2["spectral_radii"]]
    accs, best_ci = f["best_accuracy"], f["best_interval_95"]
    trend = "falls" if f["falls"] else "does not fall steadily"
    text = (f"{lead} The readout averages the states over time (h̄). With ρ = {f['best_rho']} it reaches "
            f"{with_interval(accs[0], best_ci[0])} held-out accuracy (95% interval, {e2['test_sequences']} "
            f"sequences) at T = {lengths[0]}; with the same {e2['copies']} copies in longer sequences it {trend}: "
            + ", ".join(f"{with_interval(a, c)} at T = {T}" for a, c, T in zip(accs[1:], best_ci[1:], lengths[1:]))
            + ".")
    if f["memoryless_at_chance"]:
        text += f" ρ = 0 gives exactly {e2['chance']}: both classes share their letters."
    text += (f" The final state alone gives {span(f['final_state'], lambda v: f'{v:.2f}')}"
             + (", every interval holding chance: " if f["final_state_intervals_hold_chance"] else ": ")
             + "it forgets the copies long before τ. " + echo_sentence(r))
    rows = [[f"T = {T}", *(with_interval(pooled[str(T)][k], ci[str(T)][k]) for k in radii)] for T in lengths]
    gaps, norms = e2["echo_state_gap"], e2["reservoir_spectral_norm"]
    gap_rows = [[f"ρ = {k}", f"{norms[k]:.2f}", *(f"{v:.1e}" for v in gaps[k].values())] for k in gaps]
    steps = list(next(iter(gaps.values())).keys())
    return (answer(text) + table(["held-out accuracy (95% interval)", *(f"ρ = {k}" for k in radii)], rows)
            + details("The argument", rest)
            + details("Echo state check and the figure",
                      ["‖h_A(t) − h_B(t)‖/√H for one sequence run from h(0) = 0 and from h(0) ~ U(−1, 1):", ""]
                      + table(["reservoir", "‖W‖₂", *(f"t = {t}" for t in steps)], gap_rows)
                      + figs.link("p4_esn.png")))


# ------------------------------------------------------------------------------------------ (3)


def reach_sentence(r) -> str:
    """The whole gradient's reach at the largest forget bias against the diag(f) path alone."""
    f = r["findings"]["reach"]
    name = f["curve"]
    total, path = lags(spreads(r, name, "lag_below_1e-6")), lags(spreads(r, name, "forget_path_lag_below_1e-6"))
    bias = name.removeprefix("LSTM forget bias ")
    split = f["split"][str(f["end_lag"])]
    grows = f["end_orders"] is not None and f["end_orders"]["grows_and_fades"]
    if f["total_never_path_always"]:
        text = (f"At {bias} the diag(f) path alone falls below 1e-6 by lag {path}, so the longer reach "
                "goes through the gates' recurrent paths" + (", where gradients also grow" if grows else ""))
    else:
        text = f"At {bias} the whole gradient falls below 1e-6 by lag {total}, the diag(f) path alone by lag {path}"
    text += (f": at lag {f['end_lag']}, Π f alone is {span(split['path_alone'])}, the whole gradient "
             f"{span(split['whole'])}.")
    return text + (" The additive path carries the error far when f ≈ 1; the gate paths add terms that can grow "
                   "or fade." if grows else "")


def lstm(r, figs: Figures) -> list[str]:
    lead, rest = argument(3, figs.folder)
    curves, names = r["experiment1"]["curves"], r["findings"]["lstm_curves"]
    T = r["config"]["experiment1"]["T"]

    def reach(n: str) -> str:
        found = lags(spreads(r, n, "lag_below_1e-6"))
        return (f"{found if found != 'never' else f'never in {T} steps'} at "
                f"{n.removeprefix('LSTM forget bias ')} (mean f {curves[n]['mean_local_factor']:.2f})")

    text = (f"{lead} Raising only the forget bias lengthens the reach of ‖∂L/∂h‖ (lag to 1e-6 of its "
            "value at τ): " + ", ".join(reach(n) for n in names) + ". " + reach_sentence(r))
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
