"""P1's words: the CNN's filters against untrained ones, what tells a '0' from an '8' in conv3, the
shifted '1'. Every sentence is computed from `p1_results.json` (written by p1_cnn_filters.py)."""
from __future__ import annotations

import re
from typing import Any, Sequence

from report import md
from report.md import Figures, Section, answer, details, pct, prob, table

SCRIPT = "p1_cnn_filters.py"
TITLE = "what a CNN trained on MNIST has learned"
FIGURES = {
    "p1_filters_conv1.png": "P1 (1): conv1's 16 filters after training (weights written in, best pattern "
                            "above) and each filter's initial weights below it.",
    "p1_filters_conv2.png": "P1 (1): conv2 in summary: which inputs each filter uses, how much weight its "
                            "strongest inputs hold against untrained networks, its strongest kernels enlarged.",
    "p1_filters_conv3.png": "P1 (1): the same summary for conv3.",
    "p1_filters_conv2_all.png": "P1 (1): every conv2 kernel, one row per filter, one column per input.",
    "p1_filters_conv3_all.png": "P1 (1): every conv3 kernel, one row per filter, one column per input.",
    "p1_feature_maps.png": "P1 (2): conv3's 64 maps (after batch norm and ReLU) for this '0' and this '8' and "
                           "their difference; bottom left, each pooled cell's share of the 0-vs-8 separation.",
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
PATTERN_STATS = ("edge_or_bar_share", "best_cosine_median", "uniform_share_median")


def fmt(stat: str, v: float) -> str:
    f = STATS[stat][1]
    return pct(v, 0) if f == "pct" else f.format(v)


def span(values: Sequence[str]) -> str:
    """'a' when all seeds print alike, else 'a–b' (in the values' order of size)."""
    low, high = values[0], values[-1]
    return low if low == high else f"{low}–{high}"


def seeds_span(stat: str, by_seed) -> str:
    vals = sorted(float(v) for v in by_seed.values())
    return span([fmt(stat, v) for v in vals])


def join(items: Sequence[str]) -> str:
    items = list(items)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


# ----------------------------------------------------------------------------- (1) filters
def layer_values(f, stat: str, layers: Sequence[str]) -> tuple[str, str]:
    """A statistic's trained range per layer and its untrained median per layer, joined with 'and'."""
    null = f["null"]["stats"]
    both = lambda values: values[0] if len(set(values)) == 1 else " and ".join(values)  # noqa: E731
    return (both([seeds_span(stat, f["statistics"][n][stat]) for n in layers]),
            both([fmt(stat, null[n][stat]["median"]) for n in layers]))


def deeper_changes(f, layers: Sequence[str]) -> list[str]:
    """What sets the trained layers apart, for the two statistics the answer names, where every
    trained seed of every layer lies beyond the untrained range on the same side."""
    side = lambda k: {f["against_null"][n][k] for n in layers}  # noqa: E731
    out = []
    if side("uniform_share_median") in ({"above"}, {"below"}):
        t, u = layer_values(f, "uniform_share_median", layers)
        more = "more" if side("uniform_share_median") == {"above"} else "less"
        out.append(f"their kernels hold {more} of the uniform pattern ({t} of a kernel's squared weight, "
                   f"untrained {u})")
    if side("inputs_for_half_weight_median") in ({"above"}, {"below"}):
        t, u = layer_values(f, "inputs_for_half_weight_median", layers)
        fewer = "fewer" if side("inputs_for_half_weight_median") == {"below"} else "more"
        inputs = " and ".join(str(f[n]["inputs"]) for n in layers)
        out.append(f"the median filter draws half its weight from {fewer} inputs ({t} of {inputs}, untrained {u})")
    return out


def conv1_sentence(f) -> str:
    """What conv1's filters do, against their start and against untrained networks."""
    cos = f["statistics"]["conv1"]["cosine_with_initial_median"]
    moved = "barely moved from" if min(cos.values()) >= 0.9 else "moved away from"
    beyond = [k for k in PATTERN_STATS if f["against_null"]["conv1"][k] != "within"]
    null, eb = f["null"]["stats"]["conv1"], "edge_or_bar_share"
    text = (f"conv1's 16 filters {moved} their random start (median cosine with the initial weights "
            f"{seeds_span('cosine_with_initial_median', cos)} over the seeds). ")
    if not beyond:
        return text + (f"Their edges and bars are what untrained filters show too: "
                       f"{seeds_span(eb, f['statistics']['conv1'][eb])} match an edge or bar best, against "
                       f"{fmt(eb, null[eb]['min'])}–{fmt(eb, null[eb]['max'])} for {f['null']['networks']} "
                       "untrained networks, and no conv1 pattern statistic leaves that range.")
    return text + ("Beyond every untrained network, their " + join(
        f"{STATS[k][0]} is {seeds_span(k, f['statistics']['conv1'][k])} (untrained {fmt(k, null[k]['median'])})"
        for k in beyond) + ".")


def deeper_sentence(f) -> str:
    """What training did to conv2 and conv3, from the statistics beyond the untrained range."""
    layers = ("conv2", "conv3")
    cos, _ = layer_values(f, "cosine_with_initial_median", layers)
    changes = deeper_changes(f, layers)
    if not changes:
        return (f"conv2 and conv3 moved further (cosine with their start {cos}); the table shows which of "
                "their statistics leave the untrained range.")
    return (f"Training reshaped conv2 and conv3 (cosine with their start {cos}): beyond every untrained "
            "network, " + join(changes) + ".")


def filter_rows(f) -> list[list[str]]:
    rows = []
    for name in f["statistics"]:
        for k in STATS:
            if k in f["statistics"][name]:
                n = f["null"]["stats"][name][k]
                rows.append([name, STATS[k][0], seeds_span(k, f["statistics"][name][k]),
                             f"{fmt(k, n['median'])} ({fmt(k, n['min'])}–{fmt(k, n['max'])})",
                             f["against_null"][name][k]])
    return rows


def p1_filters(r, figs: Figures) -> list[str]:
    f = r["filters"]
    seeds = ", ".join(map(str, r["seeds_checked"]))
    kinds = sorted({k for c in f["conv1_kinds_by_seed"].values() for k in c})
    by_seed = f["conv1_kinds_by_seed"]
    kind_rows = [[f"{k}°" if k[-1].isdigit() else k] + [c[k] if k in c else 0 for c in by_seed.values()]
                 for k in kinds]
    return (answer(f"{conv1_sentence(f)} {deeper_sentence(f)} See p1_filters_conv1.png and "
                   "p1_filters_conv2.png.")
            + figs.link("p1_filters_conv1.png", "p1_filters_conv2.png")
            + details("Every filter statistic beside untrained networks', the method, conv3's summary", [
                *table(["layer", "statistic", f"trained (seeds {seeds})",
                        f"untrained: median (range of {f['null']['networks']})", "trained vs untrained range"],
                       filter_rows(f)),
                "A kernel's best pattern is the unit-norm 3x3 pattern it matches with the largest |cosine|: "
                "a step edge or a one-pixel bar at 0° (horizontal), 45°, 90° or 135°, a centre spot, or "
                "uniform brightness; 'ink' or 'dark' is the sign with which the layer's output (after its "
                "batch norm, whose scale sets the sign) follows the pattern. Untrained networks are the "
                "model's own initialisation, one per seed: the network each training seed starts from. "
                "'above'/'below': every trained seed lies beyond the untrained networks' whole range.", "",
                *table(["conv1 best pattern", *(f"seed {s}" for s in by_seed)], kind_rows),
                *figs.link("p1_filters_conv3.png")]))


# ----------------------------------------------------------------------------- (2) conv3 maps
def numbers_masked(text: str) -> str:
    """A sentence with its numbers replaced by '#': two items must not share the rest."""
    return re.sub(r"[+−-]?\d+(?:\.\d+)?", "#", text)


INK_WHERE = {"0s": "where 0s have more ink than 8s", "8s": "where 8s have more ink than 0s",
             "both": "where both digits have ink", "neither": "where both digits leave the pixels empty"}


def what_it_sees(c, plural: bool = False) -> str:
    """Where the extra ink of the cell's strongest digits sits and its strokes (no numbers)."""
    t = c["responds_to"]
    stroke = "" if t["stroke"] == "mixed" else f" in a {t['stroke']} stroke"
    side = "at the centre" if t["ink_side"] == "centre" else f"toward the {t['ink_side']}"
    field = "the field" if plural else "its field"
    if t["polarity"] == "ink":
        return f"with extra ink {side} of {field}{stroke}"
    return f"leaving the centre of {field} darker than the average digit, with ink {side}{stroke}"


def labels_phrase(c) -> str:
    t = c["responds_to"]
    n = sum(t["labels"])
    return (f"all {n} of its strongest digits there are {t['majority']}s" if t["majority_count"] == n else
            f"{t['majority_count']} of its {n} strongest digits there are {t['majority']}s")


def ink_numbers(c) -> str:
    return f"{c['ink_zero']:.2f} vs {c['ink_eight']:.2f} for 0s vs 8s"


def channel_sentence(c) -> str:
    return (f"Channel {c['channel']} at cell ({c['row']}, {c['col']}), {c['region']}, fires for {c['fires_for']}s "
            f"(d = {c['d_evaluated']:+.2f} held out) {INK_WHERE[c['ink_where']]} ({ink_numbers(c)}): "
            f"{labels_phrase(c)}, {what_it_sees(c)}.")


def shared_sentence(group) -> str:
    """Channels whose descriptions match but for numbers: the words once, each channel's numbers after."""
    c = group[0]
    numbers = "; ".join(f"channel {g['channel']}: cell ({g['row']}, {g['col']}), d = {g['d_evaluated']:+.2f} held "
                        f"out, ink {ink_numbers(g)}, {g['responds_to']['majority_count']} of "
                        f"{sum(g['responds_to']['labels'])} strongest digits are {g['responds_to']['majority']}s"
                        for g in group)
    return (f"Channels {join([str(g['channel']) for g in group])}, at the {c['region']}, fire for {c['fires_for']}s "
            f"{INK_WHERE[c['ink_where']]}, their strongest digits {what_it_sees(c, plural=True)} ({numbers}).")


def description_key(c) -> tuple:
    t = c["responds_to"]
    return (c["region"], c["fires_for"], c["ink_where"], t["polarity"], t["ink_side"], t["stroke"])


def channel_lines(cells) -> list[str]:
    """One sentence per chosen channel; channels that the same words describe share one sentence."""
    groups: dict[tuple, list] = {}
    for c in cells:
        groups.setdefault(description_key(c), []).append(c)
    return [f"- {channel_sentence(g[0]) if len(g) == 1 else shared_sentence(g)}" for g in groups.values()]


def digit_groups(cells) -> str:
    """The chosen channels by the digit they fire for: their regions and numbers."""
    parts = []
    for digit in (0, 8):
        group = [c for c in cells if c["fires_for"] == digit]
        if group:
            regions = join(list(dict.fromkeys(c["region"] for c in group)))
            parts.append(f"for the {digit} at the {regions} ({', '.join(str(c['channel']) for c in group)})")
    return "; ".join(parts)


def ablation_sentence(d) -> str:
    a, seeds = d["ablation"], d["seeds"]
    held = [s for s, v in seeds.items() if v["beats_random"]]
    tail = (f"as on {len(held)} of {len(seeds)} training seeds" if len(held) == len(seeds) else
            f"true on {len(held)} of {len(seeds)} seeds, not on seed "
            + ", ".join(s for s in seeds if s not in held))
    return (f"Zeroing them cuts the other half's mean 0-vs-8 logit margin from {a['margin_before']:.2f} to "
            f"{a['margin_after']:.2f}; {len(a['channels'])} random channels leave "
            f"{a['random_margin_after_median']:.2f} (median of {len(a['random_margins_after'])}), {tail}.")


def p1_feature_maps(r, figs: Figures) -> list[str]:
    d = r["discriminant"]
    rows, a = d["separation"]["row_share_evaluated"], d["ablation"]
    lead = (f"Yes. Conv3 tells them apart in the middle and lower thirds of its map, which carry "
            f"{pct(rows[1] + rows[2], 0)} of the 0-vs-8 separation as the classifier reads it (held out; "
            f"top third {pct(rows[0], 0)}). The {len(a['channels'])} channels that separate them best on half "
            f"of the {d['n_zero'] + d['n_eight']:,} correct test 0s and 8s fire {digit_groups(d['top_cells'])}. "
            f"{ablation_sentence(d)} See p1_feature_maps.png and p1_top_patches.png.")
    return (answer(lead) + figs.link("p1_feature_maps.png")
            + ["What each chosen channel responds to, at its cell (the patches in p1_top_patches.png):", ""]
            + channel_lines(d["top_cells"]) + [""] + figs.link("p1_top_patches.png")
            + details("Method, the numbers per channel and per seed", feature_details(r, figs)))


def feature_details(r, figs: Figures) -> list[str]:
    d, ex = r["discriminant"], r["examples"]
    a, sep = d["ablation"], d["separation"]
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
            "final Linear layer's weights; the channels are the 6 whose vote separates 8s from 0s best "
            "(Cohen's d of the vote), each at the cell that reaches the classifier where its activation "
            "separates them most (d > 0: stronger for 8s). A pooled cell's share is its part of the 8s' mean "
            f"minus the 0s' mean of logit 8 − logit 0 (middle and lower thirds: {pct(sep['row_share'][1] + sep['row_share'][2], 0)} "
            "on the selection half). Ink: mean pixel value of the 8x8 input pixels at the cell's centre. This "
            f"'0' and this '8' are on their own digit's side of the class means on {d['pair']['zero']} and "
            f"{d['pair']['eight']} of the {d['pair']['of']} cells.", "",
            *table(["channel", "cell", "region", "fires for", "d of vote", "d chosen / held out",
                    "activation 0s / 8s", "ink 0s / 8s", "batch-norm scale"], cells),
            "The same choice and ablation on each training seed (margins on its own held-out half):", "",
            *table(["seed", "test acc.", "channels", "halves", "margin, chosen zeroed", "random (median)",
                    "top third's share"], seeds),
            *figs.link("p1_discriminant_channels.png")]


# ----------------------------------------------------------------------------- (3) shifts
def mechanism_sentence(s) -> str:
    m = s["mechanism"]
    left, right = m["-3"], m["3"]
    return ("Why it falls: the final Linear(576→10) layer has its own weights for each of the 9 pooled cells, "
            "and a 3-px shift moves features into other cells. Those moves account for "
            f"{-left['from_moved_features']:.2f} of the true class's mean logit drop of "
            f"{-left['true_logit_change']:.2f} (left; right {-right['from_moved_features']:.2f} of "
            f"{-right['true_logit_change']:.2f}); the features' total strength changes it by "
            f"{left['from_total_strength']:+.2f} and {right['from_total_strength']:+.2f}.")


def p1_shift(r, figs: Figures) -> list[str]:
    s, acc = r["shift"], r["shift_accuracy"]
    plain = s["no_augmentation"]
    held = [k for k, v in s["seeds"].items() if list(v["one"]) == [1, 1, 1]]
    left, right = s["left3"], s["right3"]
    same = left["pred"] == right["pred"] == s["original"]["pred"]
    seeds = (f"on {len(held)} of {len(s['seeds'])} training seeds" if len(held) == len(s["seeds"]) else
             f"on {len(held)} of {len(s['seeds'])} seeds (not seed {', '.join(k for k in s['seeds'] if k not in held)})")
    pad = ("Its outer columns are empty, so clamp and zero padding agree here. "
           if s["padding"]["clamp_equals_zero_padding"] else "Clamp padding repeats ink in its outer columns. ")
    lead = (f"{'No' if same else 'Yes'}: the '1' (test digit {r['examples']['one']}) is classified "
            f"{left['pred']} shifted 3 px left (p = {prob(max(left['probs']))}) and {right['pred']} right "
            f"(p = {prob(max(right['probs']))}); a '1' stays a '1' both ways {seeds}. {pad}Over "
            f"{r['sample_size']:,} test digits, accuracy falls from {pct(acc['0'])} to {pct(acc['-3'])} (left) "
            f"and {pct(acc['3'])} (right); trained without the ±1 px shifts, to {pct(plain['accuracy']['-3'])} "
            f"and {pct(plain['accuracy']['3'])}. {mechanism_sentence(s)} See p1_shift_accuracy.png.")
    names = {"original": "original", "left3": "3 px left", "right3": "3 px right"}
    rows = [[names[k], s[k]["pred"], prob(max(s[k]["probs"])), prob(s[k]["probs"][1]), plain["one"][k]["pred"],
             prob(plain["one"][k]["probs"][1])] for k in names]
    return (answer(lead)
            + table(["the '1'", "prediction", "p(prediction)", "p('1')", "no aug.: prediction", "no aug.: p('1')"],
                    rows)
            + figs.link("p1_shift.png", "p1_shift_accuracy.png")
            + details("Accuracy against shift, per seed, per class, and the split of the logit change",
                      shift_details(r)))


def shift_details(r) -> list[str]:
    s, acc = r["shift"], r["shift_accuracy"]
    dxs = sorted(acc, key=int)
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
             f"on {recipe['threads']} thread{'s' * (recipe['threads'] != 1)} (the weights do not depend on the "
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
    ex, flagged = r["examples"], list(r["examples_from_flags"])
    picked = "; ".join(f"'{d}' = test digit {ex[k]}" for d, k in ((0, "zero"), (8, "eight"), (1, "one")))
    how = ("each is the first test digit of its class that the CNN classifies correctly" if not flagged else
           f"chosen with --index-{', --index-'.join(flagged)}; the others are the first correct test digit of "
           "their class")
    return [f"**The digits.** {picked}: {how} (the script's `--index-*` flags choose others).",
            "**Conv3 feature maps** are the layer's output after its batch norm and ReLU, what the next "
            "layer sees, not the raw convolution.",
            "**Clamp padding.** A shifted digit's missing pixels take the value of the nearest valid pixel "
            "(replicate padding), as the assignment asks.",
            *training_choices(r)]


def training_choices(r) -> list[str]:
    """The recipe's choices that shape the answers, and how many test digits each class has."""
    recipe, counts = r["model"]["recipe"], r["test_per_class"]
    smooth, aug = recipe["label_smoothing"], recipe["augment_px"]
    target = md.smoothing_target(smooth)
    return [f"**Label smoothing {smooth:g}.** The CNN is trained towards p = {target:.2f} for the true class, "
            "not 1, so its probabilities (P2's maps included) stay below what a plain cross-entropy would give.",
            f"**±{aug} px shifts** as augmentation make the CNN more tolerant of P1 (3)'s shifts; the CNN "
            "trained without them is shown beside it.",
            f"**The test set** has {min(counts):,} to {max(counts):,} digits per class."]
