"""P2's words: a '6' under an occluding patch, the strokes that matter, and pastes of other digits.

Reads `p2_results.json` (written by p2_occlusion.py). Each sentence is built from the fields it
describes; where the data could go either way (a label that never changes, a guide that does not
beat random), the sentence says which way it went.
"""
from __future__ import annotations

from report.md import (
    Figures,
    Section,
    answer,
    coords,
    details,
    listing,
    pct,
    prob,
    table,
)

SCRIPT = "p2_occlusion.py"
TITLE = "occluding a '6', and pasting other digits over it"
FIGURES = {
    "p2_maps.png": "P2 (1): the '6' and its three maps, each probability map stretched linearly to its own range.",
    "p2_maps_scales.png": "P2 (1): maps 1 and 2 on a fixed 0-1 scale and on log-odds, map 1 over the digit, and "
                          "the most damaging patch.",
    "p2_regions.png": "P2 (2): the '6' split into strokes with each stroke's share of the hidden ink, the pixels "
                      "the critical patches hide, and p('6') with each stroke erased.",
    "p2_population.png": "P2 (2): the mean p('6') map over the correctly classified test 6s, and how typical "
                         "the example's map is.",
    "p2_sixes_gallery.png": "P2 (2): other 6s' p('6') maps, from most to least typical.",
    "p2_transplant_study.png": "P2 (3): the white-patch map, where pasted windows change the label (cells: top-left "
                               "corners, as in (1)), where each map sends them, and how often each placement does.",
    "p2_transplant_sizes.png": "P2 (3): the same for every window size.",
    "p2_adversarial.png": "P2 (3): the '6' and pastes of other digits' windows that change our CNN's label, "
                          "each with that label and its probability.",
    "p2_pastes_judged.png": "P2 (3): pastes that change our CNN's label while the judges still read '6', "
                            "beside relabellings the judges share.",
    "p2_attacks.png": "P2 (3): PGD, an optimised patch and a pasted window on the same '6', with each change "
                      "(gradient attacks are beyond the question: evidence only).",
}
REGION = {"top_hook": "top hook", "stem": "stem", "loop_left": "loop's left half",
          "loop_right": "loop's right half", "loop": "whole loop"}
STROKES = ("top_hook", "stem", "loop_left", "loop_right")
SCOPES = {"example": "example", "other_sixes": "other 6s"}


def either(names: list[str]) -> str:
    """'the a or the b'."""
    return listing(names, "or the")


def ci(rate) -> str:
    """A rate with its 95% interval: 12.3% [10.1, 14.8]."""
    return f"{pct(rate['rate'])} [{100 * rate['ci95'][0]:.1f}, {100 * rate['ci95'][1]:.1f}]"


def labels_text(ranked, top: int = 2) -> str:
    """The first `top` labels of a ranked [[label, count], ...] field: "'3' (66) and '7' (10)"."""
    return listing([f"'{k}' ({v})" for k, v in ranked[:top]])


# ----------------------------------------------------------------------------- (1)
def equal_maps_sentence(r) -> str:
    """What map 2 adds to map 1, from the count of cells where they are equal."""
    eq, n, d = r["maps_equal_cells"], r["n_positions"], r["true_class"]
    found = r["findings"]["maps"]
    same = found["maps_equal"]
    if same["everywhere"]:
        return f"Map 2 equals map 1 in all {n} cells: '{d}' stays on top everywhere, so map 2 adds nothing."
    changed = same["max_prob_where_label_changes"]
    where = (f"exactly the cells where '{d}' stays the top class, so there map 2 adds nothing; elsewhere it gives "
             f"the winning class's probability ({prob(changed['min'])} to {prob(changed['max'])})")
    if not same["exactly_where_true_label_wins"]:
        where = f"and the label is '{d}' in {found['true_label_cells']} (ties)"
    return f"Map 2 equals map 1 in {eq} of {n} cells, {where}."


def maps(r, figs: Figures) -> list[str]:
    d, side, stride = r["true_class"], r["map_side"], r["stride"]
    found = r["findings"]["maps"]
    p1, p2, labels = found["prob_true"], found["max_prob"], found["label_cells"]
    others = [f"'{k}' at {v}" for k, v in labels if k != d]
    corner = "(r, c)" if stride == 1 else f"({stride}r, {stride}c)"
    shade = "black " if found["black_patch"] else ""
    text = (f"Test digit {r['index']} is a '{d}' with p('{d}') = {prob(r['clean_probs'][d])}. The {r['patch']}x"
            f"{r['patch']} {shade}patch (value {r['fill']:g}, stride {stride}) has {side}x{side} = "
            f"{r['n_positions']} positions; map cell (r, c) is the patch with its top-left corner at pixel "
            f"{corner}. Map 1 runs from {prob(p1['min'])} to {prob(p1['max'])}; map 3 reads '{d}' at "
            f"{found['true_label_cells']} cells" + (f" and {listing(others)}." if others else " and nothing else.")
            + " " + equal_maps_sentence(r) + " p2_maps.png stretches each probability map linearly to its "
            "own range; p2_maps_scales.png shows them on a fixed 0-1 scale and on log-odds.")
    rows = [[f"1: p('{d}')", prob(p1["min"]), prob(p1["max"]), coords(p1["min_cell"])],
            ["2: highest probability", prob(p2["min"]), prob(p2["max"]), ""],
            ["3: label", "", "", ", ".join(f"'{k}': {v}" for k, v in labels)]]
    return (answer(text) + table(["map", "lowest", "highest", "lowest at / label counts"], rows)
            + figs.link("p2_maps.png", "p2_maps_scales.png"))


# ----------------------------------------------------------------------------- (2)
def strokes_sentence(r) -> str:
    """Which strokes the critical patches hide, from the composition of the ink they hide."""
    reg, found = r["important_region"], r["findings"]["strokes"]
    comp = reg["composition_of_covered_ink"]
    main = found["hidden"]["strokes"]
    untouched = [REGION[n] for n in found["untouched"]["strokes"]]
    if reg["fallback_lowest_10"]:
        where = f"p('6') never falls below {reg['threshold']:g}; of the ink the 10 most damaging patches hide,"
    else:
        where = (f"p('6') falls below {reg['threshold']:g} at {reg['n_below']} of {reg['n_positions']} "
                 "positions, whose patches hide ink that is")
    parts = listing([f"{pct(comp[n], 0)} {REGION[n]}" for n in main])
    return (f"The {listing([REGION[n] for n in main], 'and the')}: {where} {parts}"
            + (f", none of the {either(untouched)}." if untouched else "."))


def seeds_sentence(r) -> str:
    """Whether the CNNs of other training seeds put their critical patches on the same strokes."""
    found = r["findings"]["strokes"]
    same, other = found["seeds_agreeing"], found["other_seeds"]
    if not found["seeds_differing"]:
        return f"The CNNs of seeds {listing(list(other))} agree."
    differ = [f"seed {sd}'s hide mostly the " + listing([REGION[n] for n in other[sd]["strokes"]], "and the")
              for sd in found["seeds_differing"]]
    return (("The CNN of seed " + listing(same) + " agrees; " if same else "On other seeds, ")
            + "; ".join(differ) + ".")


def label_sentence(r) -> str:
    """Where and why the label changes: the strokes its patches hide, and those the new label rests on."""
    found = r["findings"]["label_change"]
    if found["label"] is None:
        return "The label never changes: '6' stays the top class at every position."
    new = found["label"]
    lc = r["important_region"]["label_changes"][str(new)]
    hidden, side = lc["composition"], found["loop_opened"]["side"]
    opening = f", opening the loop on the {side}" if side is not None else ""
    text = (f"The label becomes '{new}' at {lc['cells']} cells, where the hidden ink is "
            f"{listing([f'{pct(hidden[n], 0)} {REGION[n]}' for n in found['strokes_hidden']['strokes']])}"
            f"{opening}")
    also, rests = lc["erase_also"], found["rests_on"]["strokes"]
    if rests:
        text += (f"; the '{new}' rests on what is left: erasing the {either([REGION[n] for n in rests])} too "
                 f"lowers p('{new}') from {prob(lc['prob_label'])} to "
                 f"{listing([prob(also[n]['prob_label']) for n in rests], 'or')}")
    return text + "."


def population_sentence(r) -> str:
    pop, found = r["population"], r["findings"]["population"]
    n = pop["typicality"]["n"]
    which = f"all {n}" if found["all_sixes"] else f"{n} sampled (of {pop['correct_sixes']})"
    if not found["maps_with_a_change"]:
        return f"Over {which} correct test 6s (p2_population.png), no map changes label."
    return (f"Over {which} correct test 6s (p2_population.png), {found['maps_with_a_change']} maps change label "
            f"somewhere, mostly to {labels_text(found['maps_per_main_label'], 2)}, each map counted once, by its "
            "commonest new label.")


def several_labels_sentence(r) -> str:
    """Whether a map can show several new labels, with the counts of maps showing each."""
    found = r["findings"]["population"]
    if not found["maps_with_several_labels"]:
        return "No map shows more than one new label."
    return (f"A map can show several new labels, so the maps showing each, {labels_text(found['maps_per_label'], 4)}, "
            f"add up to more than the {found['maps_with_a_change']} maps with a change.")


def region_method(info) -> str:
    """How the loop was found, in words."""
    if info["closed_hole"]:
        return (f"the hole is the background of {info['hole_pixels']} px that the border cannot reach; the loop "
                f"is the ink within {info['stroke_width_px']} px of it")
    return "no closed hole (an open loop), so the loop is the lower half of the ink's rows"


def strokes(r, figs: Figures) -> list[str]:
    reg, pop = r["important_region"], r["population"]
    comp, erase = reg["composition_of_covered_ink"], reg["erase_region"]
    new = r["findings"]["label_change"]["label"]
    text = " ".join([strokes_sentence(r), seeds_sentence(r), label_sentence(r), population_sentence(r)])
    head = ["stroke", "share of the hidden ink", "p('6') with the stroke erased"]
    if new is not None:
        head += [f"share of the ink hidden at the '{new}' cells", f"p('{new}') with it erased too"]
    rows = []
    for n in STROKES:
        row = [REGION[n], pct(comp[n], 0), f"{prob(erase[n]['prob_true'])} ('{erase[n]['pred']}')"]
        if new is not None:
            lc = reg["label_changes"][str(new)]
            row += [pct(lc["composition"][n], 0), f"{prob(lc['erase_also'][n]['prob_label'])} (from "
                    f"{prob(lc['prob_label'])})"]
        rows.append(row)
    typ = pop["typicality"]
    more = [f"Strokes come from the pixels: {region_method(reg['region_definition'])}. Erasing the whole loop gives "
            f"p('6') = {prob(erase['loop']['prob_true'])} ('{erase['loop']['pred']}').",
            f"The example's map correlates with the mean map of the other 6s at r = {typ['r_example']:.2f}"
            f" (median {typ['r_median']:.2f}, higher than for {typ['example_percentile']:.0f}% of them); the mean map "
            f"is lowest, {prob(pop['mean_map_min'])}, at {tuple(pop['mean_map_min_position'])}, the example's at "
            f"{tuple(reg['min_position'])}. {several_labels_sentence(r)} New labels over the 6s' maps, in cells: "
            f"{labels_text(r['findings']['population']['cells_per_label'], 4)}."]
    return (answer(text) + table(head, rows) + figs.link("p2_regions.png")
            + details("Stroke regions, the population of 6s", more + [""]
                      + figs.link("p2_population.png", "p2_sixes_gallery.png")))


# ----------------------------------------------------------------------------- (3)
def verdict_sentence(versus, windows: int) -> str:
    """Whether each guide places pastes better than random on the example, by the paired interval."""
    black, white = (versus[g]["verdict"] == "higher" for g in ("black-map", "white-map"))
    if black and white:
        return "On the example both maps beat random placement"
    if white:
        return ("On the example only the white-patch map beats random; the black-patch map's pastes change "
                f"the label no more often than random ones, as far as {windows} windows tell")
    if black:
        return ("On the example only the black-patch map beats random; the white-patch map's pastes do no "
                f"better than random ones, as far as {windows} windows tell")
    return f"On the example neither map beats random placement, as far as {windows} windows tell"


PLACEMENT = {"black-map": "black-patch map's lowest cells", "white-map": "white-patch map's lowest cells",
             "random": "random positions"}


def guides_sentence(r) -> str:
    """How often each placement changes the label on the example, each map defined where first named."""
    study = r["adversarial_study"]
    size = str(study["best_position"]["size"])
    rates, k = study["rates"]["example"][size], study["design"]["guided_positions"]
    n, w = rates["white-map"]["changed"]["n"], study["design"]["windows_per_size"]
    return (f"Where a window lands matters. Each map sends each of the {w} windows to its {k} lowest cells "
            f"({n} pastes): at those of the white-patch map (the occlusion map made with a white patch instead of "
            f"a black one, p2_transplant_study.png) {ci(rates['white-map']['changed'])} of the pastes "
            f"change it, at those of the black-patch map (the map of (1)) {ci(rates['black-map']['changed'])}, "
            f"at random positions {pct(rates['random']['changed']['rate'])}.")


def placement_text(r) -> str:
    """Where each map sends the pastes and what they become, and whether each beats random."""
    study, found = r["adversarial_study"], r["findings"]["placement"]
    size = str(found["size"])
    black, white = found["black-map"], found["white-map"]
    text = (f"The black-patch map's lowest cells lie in the {black['quarter']} of the '6' "
            f"({pct(black['over_background']['ink_share_under'], 0)} ink under the window)")
    if black["new_labels"]:
        text += (f"; pastes there turn it mostly into a '{black['new_labels'][0][0]}'"
                 + (", as the black patch does" if black["top_label_is_the_black_patch_label"] else ""))
    adds = ", so pastes there add strokes" if white["over_background"]["below"] else ""
    text += (f". The white-patch map's lie in the {white['quarter']}, where the '6' has "
             f"{pct(white['over_background']['ink_share_under'], 0)} ink{adds}")
    text += f" (new labels {labels_text(white['new_labels'])})" if white["new_labels"] else ""
    text += ". " + verdict_sentence(study["versus"]["example"][size], study["design"]["windows_per_size"])
    return (text + f". Over our {found['cnns']} CNNs, the white-patch map beats random on "
            f"{white['cnns_beating_random']}, the black-patch map on {black['cnns_beating_random']}.")


def adversarial(r, figs: Figures) -> list[str]:
    study = r["adversarial_study"]
    size = str(study["best_position"]["size"])
    ch = study["every_position"]["changed"][size]
    windows = study["design"]["windows_per_size"]
    head = ("Yes" if ch["k"] else "No") + (
        f". {ci(ch)} of {ch['n']:,} pastes ({windows} random {size}x{size} windows of other digits at every "
        f"position) change our CNN's label; {ch['windows_with_a_change']} of the {windows} windows do "
        "somewhere (p2_adversarial.png shows examples).")
    rows = [[PLACEMENT[name], *[ci(study["rates"][sc][size][name]["changed"]) for sc in study["rates"]]]
            for name in ("black-map", "white-map", "random")]
    scopes = [SCOPES.get(sc, "CNN " + sc.replace("_", " ")) for sc in study["rates"]]
    return (answer(head + " " + guides_sentence(r))
            + table([f"{size}x{size} pastes that change the label", *scopes], rows)
            + figs.link("p2_adversarial.png", "p2_transplant_study.png") + [placement_text(r), ""]
            + position(r) + judged(r, figs) + method(r, figs) + attacks(r, figs))


def position(r) -> list[str]:
    """How the effect of a paste depends on where it lands, in the terms of Rosenfeld et al."""
    study = r["adversarial_study"]
    size, best = str(study["best_position"]["size"]), study["best_position"]
    ch = study["every_position"]["changed"][size]
    if not ch["k"]:
        return []
    return [f"**Where the paste lands.** The same {size}x{size} windows change the label at "
            f"{ch['positions_with_a_change']} of the {ch['positions']} positions and leave it at the others; at "
            f"{coords(best['position'])}, {best['k']} of the {best['n']} windows change it (the transplant map, "
            "p2_transplant_study.png). Rosenfeld et al. (The Elephant in the Room, 2018) found the same for "
            "objects transplanted into photographs: the effect depends on where the object is placed and reaches "
            "beyond it, changing what the network detects elsewhere in the image.", ""]


def judged(r, figs: Figures) -> list[str]:
    """The label-changing pastes split by what the judges read: the parts sum to the whole."""
    study, d, found = r["adversarial_study"], r["true_class"], r["findings"]["judged"]
    size = str(study["best_position"]["size"])
    part, judges, m = found["partition"], study["judges"], study["design"]["judge_majority"]
    same = [str(j["seed"]) for j in judges if j["same_architecture"]]
    other = [f"an {j['family']}" for j in judges if not j["same_architecture"]]
    if not part["changed"]:
        return []
    adv, rel, none = (part["parts"][k] for k in ("adversarial", "relabelled", "no_majority"))
    text = (f"**Fooling only our CNN.** The judges are other networks asked about every label-changing paste: "
            f"{len(same)} CNNs of our architecture trained on the same digits with seeds {listing(same)}"
            + (f", and {listing(other)}" if other else "") + f". Of the {part['changed']} label-changing "
            f"{size}x{size} pastes, {adv} ({pct(found['adversarial_share_of_changed'], 0)}) leave at least {m} of "
            f"{len(judges)} judges reading '{d}', a change only our network sees (adversarial); {rel} "
            f"({pct(found['relabelled_share_of_changed'], 0)}) are relabellings that at least {m} judges share; "
            f"the other {none} have no {m} judges agreeing on either (p2_pastes_judged.png). Trained on the same "
            "data, the judges can share our CNN's blind spots, so the first count is, if anything, too low.")
    rows = [["adversarial: judges still read '6'", adv], ["relabelled: judges agree with our CNN", rel],
            [f"no {m} judges agreeing", none], ["all label-changing pastes", part["changed"]]]
    return [text, ""] + table([f"{size}x{size} pastes that change the label", "pastes"], rows) + figs.link(
        "p2_pastes_judged.png")


def attacks(r, figs: Figures) -> list[str]:
    """PGD and the optimised patch beside the pastes, folded: a sentence and a small table."""
    study, d = r["adversarial_study"], r["true_class"]
    cmp, n = study["comparison"], len(study["judges"])
    found = r["findings"]["judged"]
    follows, away = found["judges_following"], found["judges_not_reading_true"]
    pgd, low, patch, tr = cmp["pgd"], cmp["pgd_min"], cmp["patch"], cmp["transplant"]
    text = (f"Gradient attacks lie beyond the question, which asks about patches of other digits; they are here "
            f"for comparison. PGD ({pgd['steps']} signed-gradient steps) "
            + (f"changes the label at ε = {pgd['eps']:g} ({follows['pgd']} of {n} judges follow, giving our "
               "CNN's new label)" if pgd["success"] else f"does not change the label at ε = {pgd['eps']:g}"))
    if low["eps"] is not None:
        text += f" and already at ε = {low['eps']:.3f}, where " + (
            f"{follows['pgd_min']} follow" if follows['pgd_min'] else "no judge follows")
    s = patch["size"]
    text += (f"; an optimised {s}x{s} patch at the best paste position {coords(patch['position'])} "
             + ("changes it" if patch["success"] else "fails") + f" with {patch['l0']} pixels "
             f"({follows['patch']} follow), where {tr['success']['k']} of the {tr['success']['n']} sampled windows do.")

    def row(name, what, label, a, key):
        return [name, what, label, f"{a['l0']:g}", f"{a['l2']:.2f}", f"{a['linf']:.2f}",
                f"{follows[key]} of {n}" if key else "", f"{away[key]} of {n}" if key else pct(a["transfer"], 0)]
    rows = [row(f"PGD, ε = {pgd['eps']:g}", "yes" if pgd["success"] else "no", f"'{pgd['cnn_label']}'", pgd, "pgd")]
    if low["eps"] is not None:
        rows.append(row(f"PGD, ε = {low['eps']:.3f}", "yes", f"'{low['cnn_label']}'", low, "pgd_min"))
    rows.append(row(f"optimised {s}x{s} patch", "yes" if patch["success"] else "no", f"'{patch['cnn_label']}'",
                    patch, "patch"))
    if tr["l0"] is not None:
        rows.append(row(f"pasted {s}x{s} windows (median)", f"{tr['success']['k']} of {tr['success']['n']} windows",
                        "", tr, None))
    head = ["attack", "changes the label", "our CNN's label", "pixels changed", "L2", "L∞",
            "judges giving our CNN's label", f"judges not reading '{d}'"]
    return details("Gradient attacks, for comparison (beyond the question)",
                   [text, ""] + table(head, rows) + figs.link("p2_attacks.png"))


def method(r, figs: Figures) -> list[str]:
    """The design, every size's rates and the paired comparisons, folded."""
    study = r["adversarial_study"]
    des, rates, versus = study["design"], study["rates"], study["versus"]
    seeds = [sc.removeprefix("seed_") for sc in rates if sc.startswith("seed_")]
    lines = [f"Each window size ({', '.join(f'{s}x{s}' for s in des['sizes'])}) has {des['windows_per_size']} "
             "windows, each from a different correctly classified test digit of another class, cut where it holds "
             f"ink worth at least {pct(des['min_window_ink'], 0)} of its area; drawn once, seeded. A guide takes the "
             f"{des['guided_positions']} lowest cells of the '6''s own map for a patch of the window's size, "
             "filled black (the map of (1)) or white. On the example, random is every position; on the CNNs of "
             f"seeds {listing(seeds)} and on {len(des['other_sixes'])} other correct 6s (a seeded sample), it is "
             f"{des['random_positions_per_window_elsewhere']} uniform draws per window. Intervals: "
             f"{pct(des['ci']['level'], 0)} {des['ci']['method']} resampling the "
             f"{listing(list(des['ci']['resampled']))}, "
             f"{des['bootstrap_reps']:,} resamples; two placements are compared on the same windows by the "
             "interval of their difference.", ""]
    scopes = [SCOPES.get(sc, "CNN " + sc.replace("_", " ")) for sc in rates]
    rows = [[f"{size}x{size}", PLACEMENT[st], *[ci(rates[sc][size][st]["changed"]) for sc in rates],
             ci(rates["example"][size][st]["adversarial"])]
            for size in map(str, des["sizes"]) for st in ("black-map", "white-map", "random")]
    lines += table(["size", "placement", *scopes, "example: judges still read '6'"], rows)
    diff = [[f"{size}x{size}", name, *[f"{100 * versus[sc][size][name]['difference']:+.1f} points "
                                        f"[{100 * versus[sc][size][name]['ci95'][0]:+.1f}, "
                                        f"{100 * versus[sc][size][name]['ci95'][1]:+.1f}]" for sc in versus]]
            for size in map(str, des["sizes"]) for name in ("black-map", "white-map", "black-vs-white")]
    lines += ["Differences in the label-changed rate (a − b; black-map and white-map against random):", ""]
    lines += table(["size", "comparison", *scopes], diff) + figs.link("p2_transplant_sizes.png")
    return details("P2 (3): the design, every window size, the comparisons", lines)


SECTIONS = [Section("(1)", "The probability, top-probability and label maps", maps),
            Section("(2)", "Which parts of the '6' matter", strokes),
            Section("(3)", "Adversarial images from patches of other digits", adversarial)]


def interpretations(r) -> list[str]:
    smoothing = r["model"]["label_smoothing"]
    read = ("classifies it correctly" if r["classified_correctly"] else f"classifies it as '{r['predicted_label']}'")
    which = (f"chosen with `--index`; the CNN {read} (the first '6' it classifies as '6' is test digit "
             f"{r['first_correct_index']})" if r["index_from_flag"] else
             "the first one the CNN classifies correctly (`--index` picks another)")
    return [f"**The '6'** is test digit {r['index']}, {which}.",
            f"**Occlusion (Problem 2).** Map cell (r, c) is the patch whose top-left corner is at pixel "
            f"(r·stride, c·stride); its pixels become {r['fill']:g} (black is exactly 0: the CNN takes pixels in "
            "[0, 1] and normalises inside). 'Highest probability' is the maximum over all 10 classes, the true "
            f"one included. The CNN is trained with label smoothing {smoothing:g}, whose target for the true class "
            f"is {r['findings']['true_class_target']:.2f}, so its probabilities sit below those of a CNN trained "
            "without it. Digits are drawn as stored, white ink on black.",
            "**Adversarial (Problem 2 (3))** is the assignment's: the pasted image is classified as another "
            "digit. A paste replaces the pixels under it, background included. Whether other networks agree "
            "(the judges) is a separate finding."]
