"""P1's words: the CNN's filters against untrained ones, what tells a '0' from an '8' in conv3, the
shifted '1'. Every sentence is computed from `p1_results.json` (written by p1_cnn_filters.py)."""
from __future__ import annotations

from typing import Any, Sequence

from report.md import Figures, Section, answer, details, listing, pct, prob, table
from report.p1_cells import (
    ablation_sentence,
    channel_lines,
    digit_groups,
    stroke_details,
    strokes_sentence,
)

SCRIPT = "p1_cnn_filters.py"
TITLE = "what a CNN trained on MNIST has learned"
FIGURES = {
    "p1_filters_conv1.png": "P1 (1): conv1's 16 filters after training (weights written in, best pattern "
                            "above) and each filter's initial weights below it.",
    "p1_filters_conv2.png": "P1 (1): conv2's 32 filters, each as its 3 strongest input kernels.",
    "p1_filters_conv3.png": "P1 (1): conv3's 64 filters, each as its 3 strongest input kernels.",
    "p1_filters_conv2_summary.png": "P1 (1): conv2 in numbers: which inputs each filter uses, and how much weight "
                                    "its strongest inputs hold against untrained networks.",
    "p1_filters_conv3_summary.png": "P1 (1): the same numbers for conv3.",
    "p1_filters_conv2_all.png": "P1 (1): every conv2 kernel, one row per filter, one column per input.",
    "p1_filters_conv3_all.png": "P1 (1): every conv3 kernel, one row per filter, one column per input.",
    "p1_feature_maps.png": "P1 (2): conv3's 64 maps (after batch norm and ReLU) for this '0' and this '8' and "
                           "their difference; bottom left, each pooled cell's share of the 0-vs-8 separation.",
    "p1_features.png": "P1 (2): in this '0' and this '8', the 8x8 centre of what each chosen conv3 cell sees, "
                       "named by the stroke there; cells over empty pixels in both digits, or quiet on this pair, are left out.",
    "p1_top_patches.png": "P1 (2): for each chosen channel, the test digits that drive it hardest at its cell, "
                          "as the patch the cell sees.",
    "p1_discriminant_channels.png": "P1 (2): the chosen channels' maps for this '0' and '8' and the class "
                                    "means, their cell boxed.",
    "p1_shift.png": "P1 (3): the '1' shifted 3 px left and right with clamp padding, and its prediction.",
    "p1_shift_accuracy.png": "P1 (3): test accuracy against shift with and without the ±1 px training "
                             "augmentation; per class at ±3 px with 95% intervals.",
}
# The filter statistics, in the words of the table and the figures.
STATS = {"cosine_with_initial_median": ("median cosine with the initial weights", "{:.2f}"),
         "edge_or_bar_share": ("share of kernels whose best pattern is an edge or a bar", "pct"),
         "best_cosine_median": ("median best |cosine| with a pattern", "{:.2f}"),
         "uniform_share_median": ("median share of a kernel's squared weight in the uniform pattern", "pct"),
         "inputs_for_half_weight_median": ("inputs holding half a filter's squared weight (median)", "{:.0f}"),
         "top10pct_kernel_share": ("share of squared weight in the strongest 10% of kernels", "pct")}

# Statistics measured against a network's own start: another network's start is no baseline for them.
OWN_START = ("cosine_with_initial_median",)


def fmt(stat: str, v: float) -> str:
    f = STATS[stat][1]
    return pct(v, 0) if f == "pct" else f.format(v)


def seeds_span(f, layer: str, stat: str) -> str:
    """A statistic's range over the seeds: 'a' when both ends print alike, else 'a–b'."""
    span = f["ranges"][layer][stat]
    low, high = fmt(stat, span["low"]), fmt(stat, span["high"])
    return low if low == high else f"{low}–{high}"


# ----------------------------------------------------------------------------- (1) filters
DEEPER = ("conv2", "conv3")


def both(values: Sequence[str]) -> str:
    """One value when the layers print alike, else the values joined with 'and'."""
    return values[0] if len(set(values)) == 1 else " and ".join(values)


def layer_values(r, stat: str) -> tuple[str, str]:
    """A statistic's trained range in conv2 and conv3 and its untrained median in each."""
    f, null = r["findings"]["filters"], r["filters"]["null"]["stats"]
    return (both([seeds_span(f, n, stat) for n in DEEPER]), both([fmt(stat, null[n][stat]["median"]) for n in DEEPER]))


def deeper_changes(r) -> list[str]:
    """What sets the trained layers apart, for the two statistics the answer names, where every
    trained seed of conv2 and conv3 lies beyond the untrained range on the same side."""
    side = r["findings"]["filters"]["deeper_against_untrained"]
    out = []
    if side["uniform_share_median"] in ("above", "below"):
        t, u = layer_values(r, "uniform_share_median")
        more = "more" if side["uniform_share_median"] == "above" else "less"
        out.append(f"their kernels hold {more} of the uniform pattern ({t} of a kernel's squared weight, "
                   f"untrained {u})")
    if side["inputs_for_half_weight_median"] in ("above", "below"):
        t, u = layer_values(r, "inputs_for_half_weight_median")
        fewer = "fewer" if side["inputs_for_half_weight_median"] == "below" else "more"
        inputs = " and ".join(str(r["filters"][n]["inputs"]) for n in DEEPER)
        out.append(f"the typical (median) filter draws half its weight from {fewer} inputs ({t} of {inputs}, untrained {u})")
    return out


def conv1_sentence(r) -> str:
    """What conv1's filters do, against their start and against untrained networks."""
    f, found = r["filters"], r["findings"]["filters"]
    moved = "barely moved from" if found["conv1_start"]["barely_moved"] else "moved away from"
    beyond = found["conv1_patterns_beyond_untrained"]
    null, eb = f["null"]["stats"]["conv1"], "edge_or_bar_share"
    recipe = r["model"]["recipe"]
    text = (f"conv1's 16 filters {moved} their random start in {recipe['sgd_steps']:,} SGD steps on "
            f"{recipe['train_size']:,} digits (median cosine of trained and initial weights "
            f"{seeds_span(found, 'conv1', 'cosine_with_initial_median')} over the seeds). ")
    if not beyond:
        return text + (f"Their edges and bars are what untrained filters show too: "
                       f"{seeds_span(found, 'conv1', eb)} match an edge or bar best, against "
                       f"{fmt(eb, null[eb]['min'])}–{fmt(eb, null[eb]['max'])} for {f['null']['networks']} "
                       "untrained networks, and no conv1 pattern statistic leaves that range.")
    return text + ("Beyond every untrained network, their " + listing([
        f"{STATS[k][0]} is {seeds_span(found, 'conv1', k)} (untrained {fmt(k, null[k]['median'])})"
        for k in beyond]) + ".")


def deeper_sentence(r) -> str:
    """What training did to conv2 and conv3, from the statistics beyond the untrained range."""
    cos, _ = layer_values(r, "cosine_with_initial_median")
    changes = deeper_changes(r)
    if not changes:
        return (f"conv2 and conv3 moved further (cosine with their start {cos}); the table shows which of "
                "their statistics leave the untrained range.")
    return (f"Training reshaped conv2 and conv3 (cosine with their start {cos}): beyond every untrained "
            "network, " + listing(changes) + ".")


def filter_rows(r) -> list[list[str]]:
    f, found = r["filters"], r["findings"]["filters"]
    rows = []
    for name in f["statistics"]:
        for k in STATS:
            if k in f["statistics"][name]:
                n = f["null"]["stats"][name][k]
                baseline = (["—", "—"] if k in OWN_START else
                            [f"{fmt(k, n['median'])} ({fmt(k, n['min'])}–{fmt(k, n['max'])})",
                             f["against_null"][name][k]])
                rows.append([name, STATS[k][0], seeds_span(found, name, k), *baseline])
    return rows


def p1_filters(r, figs: Figures) -> list[str]:
    f = r["filters"]
    seeds = ", ".join(map(str, r["seeds_checked"]))
    kinds = r["findings"]["filters"]["conv1_kinds"]
    by_seed = f["conv1_kinds_by_seed"]
    kind_rows = [[f"{k}°" if k[-1].isdigit() else k] + [c[k] if k in c else 0 for c in by_seed.values()]
                 for k in kinds]
    return (answer(f"{conv1_sentence(r)} {deeper_sentence(r)} See p1_filters_conv1.png and "
                   "p1_filters_conv2.png.")
            + figs.link("p1_filters_conv1.png", "p1_filters_conv2.png")
            + details("Every filter statistic beside untrained networks', the method, conv3's summary", [
                *table(["layer", "statistic", f"trained (seeds {seeds})",
                        f"untrained: median (range of {f['null']['networks']})", "trained vs untrained range"],
                       filter_rows(r)),
                "A kernel's best pattern is the unit-norm 3x3 pattern it matches with the largest |cosine|: "
                "a step edge or a one-pixel bar at 0° (horizontal), 45°, 90° or 135°, a centre spot, or "
                "uniform brightness; 'ink' or 'dark' is the sign with which the layer's output (after its "
                "batch norm, whose scale sets the sign) follows the pattern. Untrained networks are the "
                "model's own initialisation, one per seed: the network each training seed starts from. "
                "'above'/'below': every trained seed lies beyond the untrained networks' whole range. The "
                "cosine with the initial weights compares each network with its own start, so it has no "
                "untrained column.", "",
                *table(["conv1 best pattern", *(f"seed {s}" for s in by_seed)], kind_rows),
                *figs.link("p1_filters_conv3.png")]))


# ----------------------------------------------------------------------------- (2) conv3 maps
def p1_feature_maps(r, figs: Figures) -> list[str]:
    d, found = r["discriminant"], r["findings"]["discriminant"]
    rows, a, lower = d["separation"]["row_share_evaluated"], d["ablation"], found["middle_and_lower_thirds"]
    where = ("in its middle and lower thirds, which carry" if lower["carry_most"] else
             "above all in its map's top third; the middle and lower thirds carry")
    lead = (f"Yes. Conv3 tells them apart {where} "
            f"{pct(lower['evaluated'], 0)} of the 0-vs-8 separation (held out; "
            f"top third {pct(rows[0], 0)}). The {len(a['channels'])} channels that separate them best, on half "
            f"of the {found['correct_zeros_and_eights']:,} correct 0s and 8s, fire {digit_groups(d['top_cells'])}. "
            f"{ablation_sentence(r)} {strokes_sentence(d, found)}")
    return (answer(lead) + figs.link("p1_features.png", "p1_feature_maps.png")
            + ["What each chosen channel responds to, at its cell (the patches in p1_top_patches.png):", ""]
            + channel_lines(d["top_cells"]) + [""] + figs.link("p1_top_patches.png")
            + details("Method, the numbers per channel and per seed", feature_details(r, figs)))


def feature_details(r, figs: Figures) -> list[str]:
    d, ex = r["discriminant"], r["examples"]
    a, lower = d["ablation"], r["findings"]["discriminant"]["middle_and_lower_thirds"]
    cells = [[c["channel"], f"({c['row']}, {c['col']})", c["region"], f"{c['fires_for']}s", f"{c['vote_d']:.2f}",
              f"{c['d']:+.2f} / {c['d_evaluated']:+.2f}", f"{c['act_zero']:.2f} / {c['act_eight']:.2f}",
              f"{c['ink_zero']:.2f} / {c['ink_eight']:.2f}", f"{c['bn_scale']:.2f}"] for c in d["top_cells"]]
    seeds = [[s, pct(v["test_accuracy"]), ", ".join(map(str, v["channels"])), f"{v['n_selected']} / {v['n_evaluated']}",
              f"{v['margin_before']:.2f} → {v['margin_after']:.2f}", f"{v['random_margin_after_median']:.2f}",
              pct(v["row_share_evaluated"][0], 0)] for s, v in d["seeds"].items()]
    return [f"The '0' is test digit {ex['zero']}, the '8' test digit {ex['eight']}; the maps are conv3's output "
            "after its batch norm and ReLU (what the next layer sees). The correct test 0s and 8s are split in "
            f"two halves, stratified by digit: {a['n_selected']} to choose, {a['n_evaluated']} to measure (the "
            "test indices are in the JSON). A channel's vote is its term in logit 8 minus logit 0 through the "
            f"final Linear layer's weights; the channels are the {len(a['channels'])} whose vote separates 8s from 0s best "
            "(Cohen's d of the vote), each at the cell that reaches the classifier where its activation "
            "separates them most (d > 0: stronger for 8s). A pooled cell's share is its part of the 8s' mean "
            f"minus the 0s' mean of logit 8 − logit 0 (middle and lower thirds: {pct(lower['selection'], 0)} "
            "on the selection half). Ink: mean pixel value of the 8x8 input pixels at the cell's centre. This "
            f"'0' and this '8' are on their own digit's side of the class means on {d['pair']['zero']} and "
            f"{d['pair']['eight']} of the {d['pair']['of']} cells.", "",
            *table(["channel", "cell", "region", "fires for", "d of vote", "d chosen / held out",
                    "activation 0s / 8s", "ink 0s / 8s", "batch-norm scale"], cells),
            "The same choice and ablation on each training seed (margins on its own held-out half):", "",
            *table(["seed", "test acc.", "channels", "halves", "margin, chosen zeroed", "random (median)",
                    "top third's share"], seeds),
            *stroke_details(d),
            *figs.link("p1_discriminant_channels.png")]


# ----------------------------------------------------------------------------- (3) shifts
def mechanism_sentence(r) -> str:
    m, share = r["shift"]["mechanism"], r["findings"]["shift"]["moved_share_of_change"]
    left, right = m["-3"], m["3"]
    return ("Why it falls: the final Linear(576→10) layer has its own weights for each of the 9 pooled cells, "
            "and a 3-px shift moves features into other cells. The true class's mean logit changes by "
            f"{left['true_logit_change']:+.2f} (left) and {right['true_logit_change']:+.2f} (right); the moves "
            f"contribute {left['from_moved_features']:+.2f} and {right['from_moved_features']:+.2f} of it "
            f"({pct(share['-3'], 0)} and {pct(share['3'], 0)}), the features' total strength "
            f"{left['from_total_strength']:+.2f} and {right['from_total_strength']:+.2f}.")


def p1_shift(r, figs: Figures) -> list[str]:
    s, acc, found = r["shift"], r["shift_accuracy"], r["findings"]["shift"]
    plain, p = s["no_augmentation"], found["prob_of_prediction"]
    held, missed = found["seeds_one_stays_one"], found["seeds_one_changes"]
    left, right = s["left3"], s["right3"]
    seeds = (f"on {len(held)} of {len(s['seeds'])} training seeds" if not missed else
             f"on {len(held)} of {len(s['seeds'])} seeds (not seed {', '.join(missed)})")
    pad = ("Its outer columns are empty, so clamp and zero padding agree here. "
           if s["padding"]["clamp_equals_zero_padding"] else "Clamp padding repeats ink in its outer columns. ")
    lead = (f"{'No' if found['prediction_unchanged_both_ways'] else 'Yes'}: the '1' (test digit "
            f"{r['examples']['one']}) is classified {left['pred']} shifted 3 px left (p = {prob(p['left3'])}) and "
            f"{right['pred']} right (p = {prob(p['right3'])}); a '1' stays a '1' both ways {seeds}. {pad}Over "
            f"{r['sample_size']:,} test digits, accuracy falls from {pct(acc['0'])} to {pct(acc['-3'])} (left) "
            f"and {pct(acc['3'])} (right); the CNN trained without the ±1 px shifts falls from its own "
            f"{pct(plain['accuracy']['0'])} to {pct(plain['accuracy']['-3'])} "
            f"and {pct(plain['accuracy']['3'])}. {mechanism_sentence(r)} See p1_shift_accuracy.png.")
    names = {"original": "original", "left3": "3 px left", "right3": "3 px right"}
    rows = [[names[k], s[k]["pred"], prob(p[k]), prob(s[k]["probs"][1]), plain["one"][k]["pred"],
             prob(plain["one"][k]["probs"][1])] for k in names]
    return (answer(lead)
            + table(["the '1'", "prediction", "p(prediction)", "p('1')", "no aug.: prediction", "no aug.: p('1')"],
                    rows)
            + figs.link("p1_shift.png", "p1_shift_accuracy.png")
            + details("Accuracy against shift, per seed, per class, and the split of the logit change",
                      shift_details(r)))


def shift_details(r) -> list[str]:
    s, acc = r["shift"], r["shift_accuracy"]
    dxs = [str(dx) for dx in r["findings"]["shift"]["shifts_px"]]
    seeds = [[k, " / ".join(pct(v["accuracy"][dx]) for dx in ("-3", "0", "3")), " / ".join(map(str, v["one"])),
              " / ".join(f"{v['mechanism'][dx]['from_moved_features']:+.2f} of {v['mechanism'][dx]['true_logit_change']:+.2f}"
                         for dx in ("-3", "3"))] for k, v in s["seeds"].items()]
    per_class = [[e["class"], e["n"], *(f"{pct(e[dx]['accuracy'])} ({pct(e[dx]['low'], 0)}–{pct(e[dx]['high'], 0)})"
                                        for dx in ("-3", "3"))] for e in s["per_class_pm3"]]
    m = s["mechanism"]
    return ["Missing pixels take the nearest valid one (clamp padding). The test digits are a seeded sample of "
            f"{r['sample_size']:,} of the {r['test_size']:,}. A feature's change under the shift is split with the final "
            "layer's weights: each weight is its channel's mean over the 9 pooled cells (a weight blind to position) "
            "plus the rest; the first part turns the change of a channel's total strength into logit change, the "
            "second the moves between cells. Per digit, the moves make "
            f"{pct(m['-3']['moved_share_of_magnitude'], 0)} (left) and {pct(m['3']['moved_share_of_magnitude'], 0)} "
            "(right) of the two parts' total size.", "",
            *table(["dx (px)", *dxs], [["trained with ±1 px shifts", *(pct(acc[dx]) for dx in dxs)],
                                       ["without", *(pct(s["no_augmentation"]["accuracy_curve"][dx]) for dx in dxs)]]),
            *table(["seed", "accuracy −3 / 0 / +3 px", "the '1': original / left / right",
                    "true-class logit change from moved features, of all (left / right)"], seeds),
            "Per class at ±3 px (95% Wilson intervals): about 300 digits per class cannot rank the classes, "
            "so no ranking is claimed.", "",
            *table(["class", "digits", "3 px left", "3 px right"], per_class)]


SECTIONS = [Section("(1)", "Filters of the first three convolution layers", p1_filters),
            Section("(2)", "Conv3 feature maps of a '0' and an '8'", p1_feature_maps),
            Section("(3)", "A '1' shifted three pixels left and right", p1_shift)]


def training_recipe(recipe) -> str:
    """The training facts the answers depend on (P1(3)'s shift tolerance above all)."""
    aug = recipe["augment_px"]
    parts = [f"{recipe['epochs']} epochs of batch {recipe['batch_size']}", recipe["optimizer"],
             f"one-cycle learning rate up to {recipe['max_lr']:g}", f"label smoothing {recipe['label_smoothing']:g}",
             f"random shifts of up to ±{aug} px (clamp padding) as augmentation" if aug else "no augmentation",
             f"on {recipe['threads']} thread{'' if recipe['threads'] == 1 else 's'} (the weights do not depend on the "
             "core count)"]
    return ", ".join(parts)


def header_rows(r) -> list[list[Any]]:
    """The report header's rows about the CNN: its layers, its training, its accuracy."""
    layers = r["model"]["layers"]
    cnn = (f"{len(layers)} conv layers, " + ", ".join(
        f"{c['name']} {c['in']}→{c['out']} channels {c['kernel']}x{c['kernel']}" for c in layers)
        + ", each followed by batch norm, ReLU and a 2x2 max-pool ("
        + "→".join(map(str, r["model"]["pool_sides"])) + f"); a linear layer to 10 logits; "
        f"{r['model']['parameters']:,} parameters")
    return [["CNN", cnn], ["Training", training_recipe(r["model"]["recipe"])],
            ["CNN accuracy", f"train {pct(r['train_accuracy'])}, test {pct(r['test_accuracy'])} "
                             f"({r['test_size']:,} test digits)"]]


def interpretations(r) -> list[str]:
    ex, ok, flagged = r["examples"], r["examples_classified_correctly"], list(r["examples_from_flags"])
    pred, first = r["examples_predicted"], r["examples_first_correct"]
    picked = "; ".join(f"'{d}' = test digit {ex[k]}" + ("" if ok[k] else f", which the CNN classifies as '{pred[k]}' "
                       f"(the first '{d}' it classifies as '{d}' is test digit {first[k]})") for d, k in ((0, "zero"), (8, "eight"), (1, "one")))
    how = ("Each is the first test digit of its class that the CNN classifies correctly" if not flagged else
           f"Chosen with --index-{', --index-'.join(flagged)}; any other is the first correct test digit of its class")
    return [f"**The digits.** {picked}. {how} (the script's `--index-*` flags choose others).",
            "**Conv3 feature maps** are the layer's output after its batch norm and ReLU, what the next "
            "layer sees, not the raw convolution.",
            "**Clamp padding.** A shifted digit's missing pixels take the value of the nearest valid pixel "
            "(replicate padding), as the assignment asks.",
            *training_choices(r)]


def training_choices(r) -> list[str]:
    """The recipe's choices that shape the answers, and how many test digits each class has."""
    recipe, found = r["model"]["recipe"], r["findings"]["model"]
    smooth, aug, counts = recipe["label_smoothing"], recipe["augment_px"], found["test_per_class"]
    return [f"**Label smoothing {smooth:g}.** The CNN is trained towards p = {found['true_class_target']:.2f} "
            "for the true class, not 1, so its probabilities (P2's maps included) stay below what a plain cross-entropy would give.",
            f"**±{aug} px shifts** as augmentation make the CNN more tolerant of P1 (3)'s shifts; the CNN "
            "trained without them is shown beside it.",
            f"**The test set** has {counts['low']:,} to {counts['high']:,} digits per class."]
