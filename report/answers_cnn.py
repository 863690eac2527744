"""The solution's answers to Problems 1 and 2, formatted from p1_results.json and p2_results.json.

Each claim is one that p1_cnn_filters.py or p2_occlusion.py measured and stored as a field; the
statistics behind it are in evidence.md.
"""
from __future__ import annotations

from report.answer import Answer
from report.md import in_words, listing, pct, prob, table
from report.p2 import REGION

LAYERS = ("conv1", "conv2", "conv3")


def a_digit(d) -> str:
    """"a '3'", "an '8'": the article as the digit's name is spoken."""
    return f"an '{d}'" if str(d) == "8" else f"a '{d}'"


def example(digits: str, misclassified: list[str]) -> str:
    """How a question names its example digits: "a correctly classified '6'" only when the CNN
    classifies each of them correctly, else naming those it misclassifies."""
    return (f"a correctly classified {digits}" if not misclassified else
            f"a {digits} (here the CNN misclassifies {listing(misclassified)})")


def strokes(names) -> str:
    """The strokes of the '6' in words: 'the stem and the loop's left half'."""
    return listing([f"the {REGION[n]}" for n in names])


def filters_caption(r, layer: str) -> str:
    """A deeper layer's figure in plain words: what each filter reads, the share of its weight its
    shown kernels hold, and a link to the figure with every kernel."""
    s, every = r["filters"][layer], f"p1_filters_{layer}_all.png"
    below, own = (r["model"]["layers"][LAYERS.index(layer) + k] for k in (-1, 0))
    share = pct(s['shown_inputs_share_median'], 0)
    if layer != LAYERS[1]:
        return (f"{layer}'s {own['out']} filters, each reading {s['inputs']} maps of {below['name']}, shown the "
                f"same way (about {share} of its weight). All kernels: [{every}]({every}).")
    return (f"{layer}'s {own['out']} filters. Each reads {s['inputs']} maps of {below['name']} through "
            f"{s['inputs']} kernels; shown are its {in_words(s['shown_inputs'])} strongest kernels (about "
            f"{share} of its weight) and which maps they read. All kernels: [{every}]({every}).")


def architecture(r) -> tuple[str, ...]:
    """The CNN's layers and its training, as a table."""
    m, recipe = r["model"], r["model"]["recipe"]
    first, *rest = m["layers"]
    then = lambda c: f"{c['kernel']}x{c['kernel']}, batch norm, ReLU, 2x2 max-pool"  # noqa: E731
    rows = [[c["name"], f"{c['in']}→{c['out']}", f"as {first['name']}" if then(c) == then(first) else then(c)]
            for c in rest]
    shifts = f", shifts up to {recipe['augment_px']} px" if recipe["augment_px"] else ""
    sgd = recipe["optimizer"].split(",")[0]
    return tuple(table(["layer", "maps", "each"], [
        [first["name"], f"{first['in']}→{first['out']}", then(first)], *rows,
        ["linear", f"{m['linear']['in']}→{m['linear']['out']}", "logits"],
        ["training", "", f"{recipe['epochs']} epochs, {sgd}, label smoothing {recipe['label_smoothing']:g}{shifts}"]]))


def subset(r) -> str:
    """What the training digits are when they are a subset of MNIST."""
    return ("" if r["findings"]["model"]["full_training_set"] else
            f" (an MNIST subset: {r['train_set']})")


def p1_filters(r) -> Answer:
    f = r["findings"]["filters"]
    figures = (("p1_filters_conv1.png", "The filters of conv1."),
               *((f"p1_filters_{layer}.png", filters_caption(r, layer)) for layer in LAYERS[1:]))
    recipe = r["model"]["recipe"]
    start = (f" conv1 barely moved in {recipe['sgd_steps']:,} training steps." if f["conv1_start"]["barely_moved"] else "")
    like = (", as random filters do" if not f["conv1_patterns_beyond_untrained"] else "")
    return Answer(
        "P1 (1)", "The filters of the first three convolution layers", "Train a CNN with at least "
        "three convolution layers to at least 95% training accuracy, and show the filters of its first "
        "three layers as images.", f"three conv layers; {pct(r['train_accuracy'])} train accuracy",
        f"Our CNN (table) classifies {pct(r['train_accuracy'])} of its "
        f"{recipe['train_size']:,} training digits{subset(r)} and {pct(r['test_accuracy'])} of "
        f"test digits correctly. conv1's filters look like small edges and bars{like}." + start
,
        values=architecture(r), figures=figures, evidence=(1, 0))




def channel_clause(group, verb: bool, numbered: bool, other_stroke: bool) -> str:
    """'Channel 23 fires on the crossing and lower loop of the '8', where the '0' has its right side';
    'channel 5 on the '8' where it lacks the right side of the '0'' (verb False); 'one channel' when
    not numbered; the other digit's stroke with other_stroke."""
    n, fires = len(group["channels"]), group["fires_for"]
    name = (("channel " if n == 1 else "channels ") + listing([str(c) for c in group["channels"]]) if numbered
            else f"{in_words(n)} {'channel' if n == 1 else 'channels'}")
    fire = ("fires " if n == 1 else "fire ") if verb else ""
    if not group["own_stroke"]:
        return f"{name} {fire}for the '{fires}' where it lacks the {group['stroke']} of the '{group['digit']}'"
    other = ("" if group["other_stroke"] is None or not other_stroke else
             f", where the '{8 - group['digit']}' has its {group['other_stroke']}")
    return f"{name} {fire}on the {group['stroke']} of the '{group['digit']}'{other}"


def cells_sentence(found) -> str:
    """Which chosen channels fire for a stroke of this '0' or this '8', and what the other digit has there."""
    groups = found["feature_channels"]
    if not groups:
        return " None of the channels that best tell 0s from 8s fires on a stroke of this pair."
    numbered, other = found["wording"]["channels_by_number"], found["wording"]["other_stroke"]
    first, *rest = groups
    clauses = [channel_clause(first, True, numbered, other)] + [channel_clause(g, False, numbered, other) for g in rest]
    text = "; ".join(clauses)
    return f" {text[0].upper()}{text[1:]}."


def switch_off_sentence(d) -> str:
    """The chosen channels zeroed against as many random ones: whether the network is less sure of the
    correct digit."""
    a = d["ablation"]
    n = in_words(len(a["channels"]))
    sure = "less sure" if a["beats_random"] else "no less sure"
    return (f" Switching off the {n} channels that best tell 0s from 8s makes the network {sure} of the "
            f"correct digit than switching off {n} random ones (table).")


def switch_off_table(d) -> tuple[str, ...]:
    """The right digit's mean lead over the other of 0 and 8, with nothing, the chosen channels and
    random channels switched off."""
    a = d["ablation"]
    n = in_words(len(a["channels"]))
    return tuple(table(["switched off", "the right digit's lead in logits, 0s and 8s"], [
        ["nothing", f"{a['margin_before']:.2f}"], [f"the {n} chosen", f"{a['margin_after']:.2f}"],
        [f"{n} random (median of {len(a['random_margins_after'])})", f"{a['random_margin_after_median']:.2f}"]]))


def p1_feature_maps(r) -> Answer:
    d, found, ok = r["discriminant"], r["findings"]["discriminant"], r["examples_classified_correctly"]
    average = [f"the average {digit}" for digit, name in ((0, "zero"), (8, "eight"))
               if name in found["named_from_class_map"]]
    source = (f" ({listing(average)} where a digit lacks its holes)" if average else "")
    return Answer(
        "P1 (2)", "What tells a '0' from an '8' in conv3", "Show conv3's feature maps for "
        + example("'0' and '8'", [f"the '{d}'" for d, k in ((0, "zero"), (8, "eight")) if not ok[k]])
        + ". Can you tell which features tell them apart?",
        "yes: " + ", ".join(f"the {f}" for f in d["features"]) if d["features"] else "yes: the middle and bottom of the digit",
        f"Yes.{cells_sentence(found)}{switch_off_sentence(d)}",
        figures=(("p1_features.png", "Each box: the centre of what a chosen conv3 cell sees, named by the stroke "
                  f"there{source}; right, each channel's map, its cell boxed, hatched where the pooling drops it. "
                  f"Of the {in_words(len(d['top_cells']))} channels switched off, "
                  f"{in_words(found['cells_over_background'])} sit over empty pixels in both digits and "
                  f"{in_words(found['quiet_on_pair'])} {'stays' if found['quiet_on_pair'] == 1 else 'stay'} quiet "
                  "here; they are left out."),
                 ("p1_feature_maps.png", "conv3's maps for the '0' and the '8', and where they differ.")),
        values=switch_off_table(d), evidence=(1, 1))


def padding_sentence(r) -> str:
    """Whether clamp padding gives the same images as zero padding for this '1'."""
    return (" The '1' has empty outer columns, so zero padding would give the same images."
            if r["shift"]["padding"]["clamp_equals_zero_padding"] else
            " The '1' has ink in its outer columns, so clamp padding repeats it where zero padding would not.")


def p1_shift(r) -> Answer:
    s = r["findings"]["shift"]
    pred = r["shift"]["left3"]["pred"], r["shift"]["right3"]["pred"]
    seeds = (f" The same holds for all {in_words(len(r['shift']['seeds']))} training seeds."
             if not s["seeds_one_changes"] else "")
    return Answer(
        "P1 (3)", "A '1' shifted three pixels each way", "Shift "
        + example("'1'", [] if r["examples_classified_correctly"]["one"] else ["it"])
        + " three pixels left and right, filling with the nearest valid pixels. Does the prediction change?",
        ("no: still a '1' both ways" if s["prediction_unchanged_both_ways"] else "yes"),
        ("No. " if s["prediction_unchanged_both_ways"] else "Yes. ")
        + f"Shifted left it is classified as a '{pred[0]}' (p = {prob(s['prob_of_prediction']['left3'])}), "
        f"shifted right as a '{pred[1]}' (p = {prob(s['prob_of_prediction']['right3'])})."
        + seeds + padding_sentence(r)
        + " The CNN's training shifts (up to one pixel) make it more tolerant."
        + " Over many digits a shift still costs accuracy, as the last layer weighs each region on its own.",
        figures=(("p1_shift.png", "The '1' shifted with clamp padding, and what the CNN predicts."),
                 ("p1_shift_accuracy.png", "Test accuracy against the shift: our CNN and one trained without "
                  "shifts.")),
        evidence=(1, 2))


def p2_maps(r) -> Answer:
    m = r["findings"]["maps"]
    labels = [f"'{label}'" for label, _ in m["label_cells"][1:]]
    others = listing(labels) if labels else "no other digit"
    equal = (" The top-probability map equals the p('6') map exactly where the '6' keeps its label." if
             m["maps_equal"]["exactly_where_true_label_wins"] else "")
    return Answer(
        "P2 (1)", "Three occlusion maps of a '6'", "Slide an 8x8 black patch over "
        + example("'6'", [] if r["classified_correctly"] else ["it"])
        + " and map p('6'), the highest probability and the label at each position.",
        f"three maps; the label stays '6' at {m['true_label_cells']} of {r['n_positions']} positions",
        "The p('6') map is lowest where the patch hides the strokes that matter. The label stays '6' "
        f"at {m['true_label_cells']} of {r['n_positions']} positions and becomes {others} elsewhere."
        f"{equal} Each probability map is stretched to its own range, so small changes show.",
        figures=(("p2_maps.png", "The '6' and its three occlusion maps."),), evidence=(2, 0))


def p2_strokes(r) -> Answer:
    s, change = r["findings"]["strokes"], r["findings"]["label_change"]
    opened = ("" if change["label"] is None else
              f" Where the patch opens the loop on the {change['loop_opened']['side']}, the '6' becomes "
              f"{a_digit(change['label'])}.")
    e = s["erased_most"]
    erased = (f" Erasing a whole stroke at once hurts more, most of all the {REGION[e['region']]}: p('6') falls "
              f"to {prob(e['prob_true'])}"
              + (f" and the '6' becomes {a_digit(e['pred'])}." if e["changes_label"] else "."))
    agree = (" The CNNs of the other two training seeds point to the same strokes."
             if not s["seeds_differing"] else "")
    return Answer(
        "P2 (2)", "Which parts of the '6' matter", "From the maps, which parts of the '6' matter "
        "for recognising it?", strokes(s["hidden"]["strokes"]),
        f"{strokes(s['hidden']['strokes']).capitalize()}: covering them with the patch lowers p('6') the most.{opened} "
        f"Covering {strokes(s['untouched']['strokes'])} hardly matters.{erased}{agree}",
        figures=(("p2_regions.png", "The strokes of the '6', and the ink the most harmful patches hide."),),
        evidence=(2, 1))


COMPARED = {"higher": "more than", "unclear": "not clearly more than", "lower": "less than"}


def over_main_stroke(r) -> str:
    """" over the stem": the stroke holding the largest share of the ink the black patch hides
    where it hurts most (P2 (2)); empty when no stroke holds enough."""
    hidden = r["findings"]["strokes"]["hidden"]["strokes"]
    return f" over {strokes(hidden[:1])}" if hidden else ""


def black_guide_sentence(r) -> str:
    """The black-patch map's guide: the paste the solution shows there, then how often such pastes
    change the label against random places."""
    place = r["findings"]["placement"]
    black, shown = place["black-map"], place["shown"]["black-map"]
    where = "the map of P2 (1)" if r["findings"]["maps"]["black_patch"] else "a black patch's map"
    over = over_main_stroke(r)
    than = f"{COMPARED[black['ours']['verdict']]} at random places ({pct(place['random']['ours']['rate'])})"
    if shown is None:
        return (f"Of {black['ours']['n']} windows pasted{over}, where {where} is lowest, "
                f"{pct(black['ours']['rate'])} change the label, {than}.")
    only = "" if black["ours"]["verdict"] == "higher" else "Only "
    rate = f"{pct(black['ours']['rate'])} of {black['ours']['n']} such pastes change the label, {than}."
    alone = ", as the black patch alone does" if place["shown_as_black_patch"]["black-map"] else ""
    return (f"{a_digit(shown['window_of']).capitalize()} window pasted{over}, where {where} is lowest, "
            f"turns the '6' into {a_digit(shown['becomes'])}{alone}. {only}{rate}")


def white_guide_sentence(r) -> str:
    """The white-patch map's guide: where it sends the windows, how often they change the label, to
    what, and on how many of our CNNs it beats random places."""
    place = r["findings"]["placement"]
    white, n = place["white-map"], place["cnns"]
    lead = "Adding ink"
    better = " works better" if place["white_against_black"]["better"] else ""
    becomes = (", mostly to " + listing([a_digit(k) for k in white["named_labels"]], "or")
               if white["named_labels"] and not white["closes_top_loop"] else "")
    k = white["cnns_beating_random"]
    beats = ("" if not k else f", beating random places on all {in_words(n)} CNNs" if k == n else
             f", beating random places on {in_words(k)} of {in_words(n)} CNNs")
    loop = ("; the added strokes close the top, so it reads as "
            + listing([a_digit(k) for k in white["named_labels"]], "or") if white["closes_top_loop"] else "")
    return (f"{lead}{better}: at the {white['quarter']}, where a white patch (added ink) hurts most, "
            f"{pct(white['ours']['rate'])} change the label{becomes}{beats if not loop else ''}{loop}.")


def glance(r) -> str:
    """The answer in a line: the black-patch map's shown paste, and the white-patch map's place when it works better."""
    place = r["findings"]["placement"]
    if not r["findings"]["judged"]["partition"]["changed"]:
        return "no: no paste changes the label"
    shown, white = place["shown"]["black-map"], place["white-map"]
    line = f"yes: {a_digit(shown['window_of'])} window{over_main_stroke(r)}" if shown else "yes"
    if place["white_against_black"]["better"]:
        line += f"; adding ink at the {white['quarter']} works better"
    return line


def p2_adversarial(r) -> Answer:
    size = r["findings"]["placement"]["size"]
    changed = r["findings"]["judged"]["partition"]["changed"]
    return Answer(
        "P2 (3)", "Adversarial images from other digits' patches", "Can covering parts of the '6' with "
        "patches of other digits make the network read another digit?", glance(r),
        f"{'Yes' if changed else 'No'}. {black_guide_sentence(r)} {white_guide_sentence(r)}",
        figures=(("p2_adversarial.png", "Pastes of other digits' windows where each map points, each with the label "
                  "our CNN gives and where it was pasted."),
                 ("p2_transplant_study.png", f"Where a white {size}x{size} patch hurts the '6' most, and how often a "
                  f"pasted {size}x{size} window changes the label, by where it is pasted.")),
        evidence=(2, 2))
