"""P1's words: the CNN's filters, conv3's maps of a '0' and an '8', the shifted '1'.

Reads `p1_results.json` (written by p1_cnn_filters.py)."""
from __future__ import annotations

import re

from report.md import Figures, Section, coords, pct, prob, table

SCRIPT = "p1_cnn_filters.py"
TITLE = "what a CNN trained on MNIST has learned"
FIGURES = {
    'p1_filters_conv1.png': "P1 (1): conv1's filters, one image each, weights written in.",
    'p1_filters_conv2.png': 'P1 (1): every conv2 kernel, one row per filter, one column per input channel.',
    'p1_filters_conv3.png': 'P1 (1): every conv3 kernel, one row per filter, one column per input channel.',
    'p1_feature_maps.png': "P1 (2): the conv3 feature maps (after batch norm + ReLU) of the '0' and the '8', and their difference; the boxed 6x6 cells are those the last pool passes on.",
    'p1_discriminant_channels.png': 'P1 (2): the conv3 cells (channel, row, column) that best separate 0s from 8s, for these two digits and averaged over the test digits.',
    'p1_shift.png': "P1 (3): the '1' shifted 3 px left and right with clamp padding, and its prediction.",
    'p1_shift_accuracy.png': 'P1 (3): test accuracy against horizontal shift, overall and per class, with and without the ±1 px training augmentation.',
    'p1_filters_conv2_summary.png': "P1 (1): conv2's kernel norms (which inputs each filter uses) and the strongest kernels of its 3 largest filters, enlarged.",
    'p1_filters_conv3_summary.png': 'P1 (1): the same summary for conv3.',
    'p1_top_patches.png': 'P1 (2): the test patches (receptive fields) that activate each top conv3 channel most.',
}


def conv_layers(architecture: str) -> list[tuple[str, str, str, str]]:
    """(name, in, out, k) of each Conv2d in the model's repr."""
    return re.findall(r"\((\w+)\): Conv2d\((\d+), (\d+), kernel_size=\((\d+),", architecture)


def p1_filters(r, figs: Figures) -> list[str]:
    convs = conv_layers(r["model"]["architecture"])
    f = r["filters"]
    kinds = sorted({k for c in f["conv1_kinds_by_seed"].values() for k in c})
    by_seed = f["conv1_kinds_by_seed"].values()
    rows = [[f"{k}°" if k[-1].isdigit() else k] + [c[k] if k in c else 0 for c in by_seed] for k in kinds]
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


def p1_feature_maps(r, figs: Figures) -> list[str]:
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


def p1_shift(r, figs: Figures) -> list[str]:
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


def training_recipe(recipe) -> str:
    """The training facts the answers depend on (P1(3)'s shift tolerance above all)."""
    aug = recipe["augment_px"]
    parts = [f"{recipe['epochs']} epochs of batch {recipe['batch_size']}",
             recipe["optimizer"] if "optimizer" in recipe else "SGD",
             f"one-cycle learning rate up to {recipe['max_lr']:g}",
             f"label smoothing {recipe['label_smoothing']:g}",
             f"random shifts of up to ±{aug} px (clamp padding) as augmentation" if aug else
             "no augmentation"]
    if "threads" in recipe:
        parts.append(f"on {recipe['threads']} thread{'s' * (recipe['threads'] != 1)} (the weights do "
                     "not depend on the core count)")
    return ", ".join(parts)


SECTIONS = [Section("(1)", "Filters of the first three convolution layers", p1_filters),
            Section("(2)", "Conv3 feature maps of a '0' and an '8'", p1_feature_maps),
            Section("(3)", "A '1' shifted three pixels left and right", p1_shift)]


def header_rows(r) -> list[list[str]]:
    """The report header's rows about the CNN: its layers, its training, its accuracy."""
    arch = str(r["model"]["architecture"])
    convs = conv_layers(arch)
    cnn = (f"{len(convs)} conv layers, " + ", ".join(f"{c[0]} {c[1]}→{c[2]} channels {c[3]}x{c[3]}" for c in convs)
           + f", each followed by batch norm, ReLU and a 2x2 max-pool ({pooling(arch)}); a linear layer to "
           f"10 logits; {r['model']['parameters']:,} parameters")
    return [["CNN", cnn], ["Training", training_recipe(r["model"]["recipe"])],
            ["CNN accuracy", f"train {pct(r['train_accuracy'])}, test {pct(r['test_accuracy'])}"]]


def interpretations(r) -> list[str]:
    ex = r["examples"]
    picked = "; ".join(f"'{d}' = test digit {ex[k]}" for d, k in ((0, "zero"), (8, "eight"), (1, "one")))
    return [f"**The digits.** {picked}: each is the first test digit of its class that the CNN classifies "
            "correctly (the scripts' default; their `--index*` flags choose others).",
            "**Conv3 feature maps** are the layer's output after its batch norm and ReLU, what the next "
            "layer sees, not the raw convolution.",
            "**Clamp padding.** A shifted digit's missing pixels take the value of the nearest valid pixel "
            "(replicate padding), as the assignment asks."]
