"""P2's words: a '6' under an occluding patch, the strokes that matter, and pastes of other digits.

Reads `p2_results.json` (written by p2_occlusion.py). Each sentence is built from the fields it
describes; where the data could go either way (a label that never changes, a guide that does not
beat random), the sentence says which way it went.
"""
from __future__ import annotations

from collections import Counter

from report import md
from report.md import Figures, Section, answer, coords, details, pct, prob, table

SCRIPT = "p2_occlusion.py"
TITLE = "occluding a '6', and pasting other digits over it"
FIGURES = {
    "p2_maps.png": "P2 (1): the three maps on fixed 0-1 scales, maps 1 and 2 contrast-stretched, map 1 over "
                   "the digit, and the most damaging patch.",
    "p2_regions.png": "P2 (2): the '6' split into strokes, the pixels the critical patches hide, and p('6') "
                      "with each stroke erased.",
    "p2_population.png": "P2 (2): the mean p('6') map over the correctly classified test 6s, and how typical "
                         "the example's map is.",
    "p2_sixes_gallery.png": "P2 (2): other 6s' p('6') maps, from most to least typical.",
    "p2_transplant_study.png": "P2 (3): where on the '6' pasted windows change the label, where each map "
                               "sends them, and how often each placement changes it.",
    "p2_adversarial.png": "P2 (3): pastes that change our CNN's label while the judges still read '6', "
                          "beside relabellings the judges share.",
    "p2_attacks.png": "P2 (3): PGD, an optimised patch and a pasted window on the same '6', with each change.",
}
REGION = {"top_hook": "top hook", "stem": "stem", "loop_left": "loop's left half",
          "loop_right": "loop's right half", "loop": "whole loop"}
STROKES = ("top_hook", "stem", "loop_left", "loop_right")
SCOPES = {"example": "example", "other_sixes": "other 6s"}


def listing(items: list[str], last: str = "and") -> str:
    """'a', 'a and b', 'a, b and c'."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + f" {last} " + items[-1]


def either(names: list[str]) -> str:
    """'the a or the b'."""
    return listing(names, "or the")


def ci(rate) -> str:
    """A rate with its 95% interval: 12.3% [10.1, 14.8]."""
    return f"{pct(rate['rate'])} [{100 * rate['ci95'][0]:.1f}, {100 * rate['ci95'][1]:.1f}]"


def labels_text(counts, top: int = 2) -> str:
    """The `top` most frequent labels of a {label: count} field: "'3' (66) and '7' (10)"."""
    ranked = sorted(counts.items(), key=lambda kv: -kv[1])[:top]
    return listing([f"'{k}' ({v})" for k, v in ranked])


# ----------------------------------------------------------------------------- (1)
def flat(grid) -> list:
    return [v for row in grid for v in row]


def equal_maps_sentence(r, true_cells: int) -> str:
    """What map 2 adds to map 1, from the count of cells where they are equal."""
    eq, n, d = r["maps_equal_cells"], r["n_positions"], r["true_class"]
    if eq == n:
        return f"Map 2 equals map 1 in all {n} cells: '{d}' stays on top everywhere, so map 2 adds nothing."
    changed = [m for m, lab in zip(flat(r["max_prob_map"]), flat(r["label_map"])) if lab != d]
    where = ("exactly the cells where '{d}' stays the top class, so there map 2 adds nothing; elsewhere it gives "
             f"the winning class's probability ({prob(min(changed))} to {prob(max(changed))})").format(d=d)
    if eq != true_cells:
        where = f"and the label is '{d}' in {true_cells} (ties)"
    return f"Map 2 equals map 1 in {eq} of {n} cells, {where}."


def maps(r, figs: Figures) -> list[str]:
    d, side, stride = r["true_class"], r["map_side"], r["stride"]
    p1, p2, labels = flat(r["prob_true_map"]), flat(r["max_prob_map"]), Counter(flat(r["label_map"]))
    others = [f"'{k}' at {v}" for k, v in labels.most_common() if k != d]
    corner = "(r, c)" if stride == 1 else f"({stride}r, {stride}c)"
    shade = "black " if r["fill"] == 0 else ""
    text = (f"Test digit {r['index']} is a '{d}' with p('{d}') = {prob(r['clean_probs'][d])}. The {r['patch']}x"
            f"{r['patch']} {shade}patch (value {r['fill']:g}, stride {stride}) has {side}x{side} = "
            f"{r['n_positions']} positions; map cell (r, c) is the patch with its top-left corner at pixel "
            f"{corner}. Map 1 runs from {prob(min(p1))} to {prob(max(p1))}; map 3 reads '{d}' at "
            f"{labels[d]} cells" + (f" and {listing(others)}." if others else " and nothing else.") + " "
            + equal_maps_sentence(r, labels[d]) + " Each probability map has a fixed 0-1 colour scale and, "
            "beside it, a copy stretched between its minimum and maximum (p2_maps.png).")
    low = min(range(len(p1)), key=p1.__getitem__)
    rows = [[f"1: p('{d}')", prob(min(p1)), prob(max(p1)), f"({low // side}, {low % side})"],
            ["2: highest probability", prob(min(p2)), prob(max(p2)), ""],
            ["3: label", "", "", ", ".join(f"'{k}': {v}" for k, v in sorted(labels.items()))]]
    return answer(text) + table(["map", "lowest", "highest", "lowest at / label counts"], rows) + figs.link("p2_maps.png")


# ----------------------------------------------------------------------------- (2)
def main_strokes(comp) -> list[str]:
    """The strokes holding at least a tenth of the hidden ink, most first."""
    return sorted((n for n in STROKES if comp[n] >= 0.1), key=lambda n: -comp[n])


def strokes_sentence(reg) -> str:
    """Which strokes the critical patches hide, from the composition of the ink they hide."""
    comp = reg["composition_of_covered_ink"]
    main = main_strokes(comp)
    untouched = [REGION[n] for n in STROKES if comp[n] < 0.005]
    if reg["fallback_lowest_10"]:
        where = f"p('6') never falls below {reg['threshold']:g}; of the ink the 10 most damaging patches hide,"
    else:
        where = (f"p('6') falls below {reg['threshold']:g} at {reg['n_below']} of {reg['n_positions']} "
                 "positions, whose patches hide ink that is")
    parts = listing([f"{pct(comp[n], 0)} {REGION[n]}" for n in main])
    return (f"The {listing([REGION[n] for n in main], 'and the')}: {where} {parts}"
            + (f", none of the {either(untouched)}." if untouched else "."))


def seeds_sentence(reg) -> str:
    """Whether the CNNs of other training seeds put their critical patches on the same strokes."""
    ours = set(main_strokes(reg["composition_of_covered_ink"]))
    other = reg["other_seeds"]
    same = [sd for sd in other if set(main_strokes(other[sd]["composition_of_covered_ink"])) == ours]
    if len(same) == len(other):
        return f"The CNNs of seeds {listing(list(other))} agree."
    differ = [f"seed {sd}'s hide mostly the "
              + listing([REGION[n] for n in main_strokes(other[sd]["composition_of_covered_ink"])], "and the")
              for sd in other if sd not in same]
    return (("The CNN of seed " + listing(same) + " agrees; " if same else "On other seeds, ")
            + "; ".join(differ) + ".")


def label_sentence(reg) -> str:
    """Where and why the label changes: the strokes its patches hide, and those the new label rests on."""
    changes = reg["label_changes"]
    if not len(changes):
        return "The label never changes: '6' stays the top class at every position."
    new = max(changes.keys(), key=lambda k: changes[k]["cells"])
    lc = changes[new]
    hidden = lc["hidden_share"]
    hid = sorted((n for n in STROKES if hidden[n] >= 0.1), key=lambda n: -hidden[n])
    side = hidden["loop_left"] - hidden["loop_right"]
    opening = ", opening the loop on the left" if side >= 0.2 else ", opening the loop on the right" if side <= -0.2 else ""
    text = (f"The label becomes '{new}' at {lc['cells']} cells, whose patches hide "
            f"{listing([f'{pct(hidden[n], 0)} of the {REGION[n]}' for n in hid])}{opening}")
    also = lc["erase_also"]
    rests = sorted((n for n in STROKES if also[n]["prob_label"] < lc["prob_label"] - 0.05),
                   key=lambda n: also[n]["prob_label"])
    if rests:
        text += (f"; the '{new}' rests on what is left: erasing the {either([REGION[n] for n in rests])} too "
                 f"lowers p('{new}') from {prob(lc['prob_label'])} to "
                 f"{listing([prob(also[n]['prob_label']) for n in rests], 'or')}")
    return text + "."


def population_sentence(pop) -> str:
    new, n = pop["new_labels"], pop["typicality"]["n"]
    which = f"all {n}" if n == pop["correct_sixes"] else f"{n} sampled (of {pop['correct_sixes']})"
    if not new["digits_with_any"]:
        return f"Over {which} correct test 6s (p2_population.png), no map changes label."
    return (f"Over {which} correct test 6s (p2_population.png), {new['digits_with_any']} maps change label, "
            f"most often to {labels_text(new['digits'])}.")


def strokes(r, figs: Figures) -> list[str]:
    reg, pop = r["important_region"], r["population"]
    comp, erase = reg["composition_of_covered_ink"], reg["erase_region"]
    changes = reg["label_changes"]
    new = max(changes.keys(), key=lambda k: changes[k]["cells"]) if len(changes) else None
    text = " ".join([strokes_sentence(reg), seeds_sentence(reg), label_sentence(reg), population_sentence(pop)])
    head = ["stroke", "share of the hidden ink", "p('6') with the stroke erased"]
    if new is not None:
        head += [f"hidden at the '{new}' cells", f"p('{new}') with it erased too"]
    rows = []
    for n in STROKES:
        row = [REGION[n], pct(comp[n], 0), f"{prob(erase[n]['prob_true'])} ('{erase[n]['pred']}')"]
        if new is not None:
            lc = changes[new]
            row += [pct(lc["hidden_share"][n], 0), f"{prob(lc['erase_also'][n]['prob_label'])} (from "
                    f"{prob(lc['prob_label'])})"]
        rows.append(row)
    typ = pop["typicality"]
    more = [f"Strokes come from the pixels: {reg['region_definition']['method']}. Erasing the whole loop gives "
            f"p('6') = {prob(erase['loop']['prob_true'])} ('{erase['loop']['pred']}').",
            f"The example's map correlates with the mean map of the other 6s at r = {typ['r_example']:.2f}"
            f" (median {typ['r_median']:.2f}, higher than for {typ['example_percentile']:.0f}% of them); the mean map "
            f"is lowest, {prob(pop['mean_map_min'])}, at {tuple(pop['mean_map_min_position'])}, the example's at "
            f"{tuple(reg['min_position'])}. New labels over the 6s' maps, in cells: "
            f"{labels_text(pop['new_labels']['cells'], 4)}."]
    return (answer(text) + table(head, rows) + figs.link("p2_regions.png")
            + details("Stroke regions, the population of 6s", more + [""]
                      + figs.link("p2_population.png", "p2_sixes_gallery.png")))



# ----------------------------------------------------------------------------- (3)
def quarter(centre, box) -> str:
    """'upper left' .. 'lower right': where a pixel (row, col) lies in the digit's ink box."""
    r0, c0, r1, c1 = box
    return (("upper" if centre[0] < (r0 + r1) / 2 else "lower") + " "
            + ("left" if centre[1] < (c0 + c1) / 2 else "right"))


def guided_count(study, guide: str) -> tuple[int, int]:
    """On how many of our CNNs (the example's and the other seeds') a guide beats random at the size."""
    size = str(study["best_position"]["size"])
    scopes = [sc for sc in study["versus"] if sc != "other_sixes"]
    return sum(study["versus"][sc][size][guide]["verdict"] == "higher" for sc in scopes), len(scopes)


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


def placement_text(r) -> str:
    """Where pastes work, read from the guides' positions and the label map, against random."""
    study, box = r["adversarial_study"], r["important_region"]["ink_box"]
    size = str(study["best_position"]["size"])
    rates, where = study["rates"]["example"][size], study["where_guides_point"][size]
    black, white = where["black-map"], where["white-map"]
    changes = r["important_region"]["label_changes"]
    patch_label = max(changes.keys(), key=lambda k: changes[k]["cells"]) if len(changes) else None
    text = (f"At the black-patch map's lowest cells ({quarter(black['centre'], box)}, "
            f"{pct(black['ink_share_under'], 0)} ink under the window) {ci(rates['black-map']['changed'])} do")
    if len(black["new_labels"]):
        top = max(black["new_labels"].keys(), key=lambda k: black["new_labels"][k])
        text += f", mostly to '{top}'" + (", as under the black patch" if top == patch_label else "")
    adds = ", so pastes add strokes," if white["ink_share_under"] < 0.3 else ""
    text += (f"; the white-patch map's lie in the {quarter(white['centre'], box)}, where the '6' has "
             f"{pct(white['ink_share_under'], 0)} ink{adds} and {ci(rates['white-map']['changed'])} change it")
    text += f" ({labels_text(white['new_labels'])})" if len(white["new_labels"]) else ""
    text += f"; random positions: {pct(rates['random']['changed']['rate'])}. "
    text += verdict_sentence(study["versus"]["example"][size], study["design"]["windows_per_size"])
    (kw, n), (kb, _) = guided_count(study, "white-map"), guided_count(study, "black-map")
    return text + f". Over our {n} CNNs, the white-patch map beats random on {kw}, the black-patch map on {kb}."


def adversarial(r, figs: Figures) -> list[str]:
    study = r["adversarial_study"]
    size = str(study["best_position"]["size"])
    ch = study["every_position"]["changed"][size]
    windows = study["design"]["windows_per_size"]
    head = ("Yes" if ch["k"] else "No") + (
        f". {ci(ch)} of {ch['n']:,} pastes ({windows} random {size}x{size} windows of other digits at every "
        f"position) change our CNN's label; {ch['windows_with_a_change']} of the {windows} windows do "
        "somewhere (p2_transplant_study.png).")
    rows = [[name, *[ci(study["rates"][sc][size][name]["changed"]) for sc in study["rates"]]]
            for name in ("black-map", "white-map", "random")]
    scopes = [SCOPES.get(sc, "CNN " + sc.replace("_", " ")) for sc in study["rates"]]
    return (answer(head + " " + placement_text(r))
            + table([f"{size}x{size} pastes that change the label", *scopes], rows)
            + figs.link("p2_transplant_study.png") + elephant(r, figs) + attacks(r) + method(r, figs))


def elephant(r, figs: Figures) -> list[str]:
    """Label changes that fool only our CNN: the judges still read the true class."""
    study, d = r["adversarial_study"], r["true_class"]
    size = str(study["best_position"]["size"])
    ev, judges = study["every_position"], study["judges"]
    ch, adv, rel = ev["changed"][size]["k"], ev["adversarial"][size]["k"], ev["relabelled"][size]["k"]
    same = [str(j["seed"]) for j in judges if j["same_architecture"]]
    other = [f"an {j['family']}" for j in judges if not j["same_architecture"]]
    if not ch:
        return []
    return [f"**Fooling only our CNN (the Elephant effect).** {adv} of the {ch} label-changing {size}x{size} "
            f"pastes ({pct(adv / ch, 0)}) leave at least {study['design']['judge_majority']} of {len(judges)} "
            f"judges reading '{d}', a change only our network sees; {rel} ({pct(rel / ch, 0)}) are relabellings "
            f"that most judges share (p2_adversarial.png). The judges are {len(same)} CNNs of our architecture "
            f"trained on the same digits with seeds {listing(same)}" + (f", and {listing(other)}" if other else "")
            + ". Trained on the same data, they can share our CNN's blind spots, so the first count is, if "
            "anything, too low.", ""]


def attacks(r) -> list[str]:
    """PGD and the optimised patch beside the pastes: a sentence and a small table."""
    study, d = r["adversarial_study"], r["true_class"]
    cmp, n = study["comparison"], len(study["judges"])
    pgd, low, patch, tr = cmp["pgd"], cmp["pgd_min"], cmp["patch"], cmp["transplant"]
    follow = lambda row: sum(v != d for v in row["judge_labels"])  # noqa: E731
    text = (f"**Gradient attacks, for comparison.** PGD ({pgd['steps']} signed-gradient steps) "
            + (f"changes the label at ε = {pgd['eps']:g} ({follow(pgd)} of {n} judges follow)" if pgd["success"]
               else f"does not change the label at ε = {pgd['eps']:g}"))
    if low["eps"] is not None:
        text += f" and already at ε = {low['eps']:.3f}, where " + (
            f"{follow(low)} follow" if follow(low) else "no judge follows")
    s = patch["size"]
    text += (f"; an optimised {s}x{s} patch at the best paste position {coords(patch['position'])} "
             + ("changes it" if patch["success"] else "fails") + f" with {patch['l0']} pixels "
             f"({follow(patch)} follow), where {tr['success']['k']} of the {tr['success']['n']} sampled windows do.")
    rows = [[f"PGD, ε = {pgd['eps']:g}", f"'{pgd['cnn_label']}'", pgd["l0"], f"{pgd['l2']:.2f}", f"{pgd['linf']:.2f}",
             f"{follow(pgd)} of {n}"]]
    if low["eps"] is not None:
        rows.append([f"PGD, ε = {low['eps']:.3f}", f"'{low['cnn_label']}'", low["l0"], f"{low['l2']:.2f}",
                     f"{low['linf']:.2f}", f"{follow(low)} of {n}"])
    rows.append([f"optimised {s}x{s} patch", f"'{patch['cnn_label']}'", patch["l0"], f"{patch['l2']:.2f}",
                 f"{patch['linf']:.2f}", f"{follow(patch)} of {n}"])
    if tr["l0"] is not None:
        rows.append([f"pasted {s}x{s} windows (median)", f"{tr['success']['k']} of {tr['success']['n']}",
                     f"{tr['l0']:g}", f"{tr['l2']:.2f}", f"{tr['linf']:.2f}", pct(tr["transfer"], 0)])
    return [text, ""] + table(["attack", "our CNN's label", "pixels changed", "L2", "L∞",
                               f"judges not reading '{d}'"], rows)


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
             f"{des['random_positions_per_window_elsewhere']} uniform draws per window. Intervals: {des['ci']}, "
             f"{des['bootstrap_reps']:,} resamples; two placements are compared on the same windows by the "
             "interval of their difference.", ""]
    scopes = [SCOPES.get(sc, "CNN " + sc.replace("_", " ")) for sc in rates]
    rows = [[f"{size}x{size}", st, *[ci(rates[sc][size][st]["changed"]) for sc in rates],
             ci(rates["example"][size][st]["adversarial"])]
            for size in sorted(rates["example"], key=int) for st in ("black-map", "white-map", "random")]
    lines += table(["size", "placement", *scopes, "example: judges still read '6'"], rows)
    diff = [[f"{size}x{size}", name, *[f"{100 * versus[sc][size][name]['difference']:+.1f} points "
                                        f"[{100 * versus[sc][size][name]['ci95'][0]:+.1f}, "
                                        f"{100 * versus[sc][size][name]['ci95'][1]:+.1f}]" for sc in versus]]
            for size in sorted(versus["example"], key=int) for name in ("black-map", "white-map", "black-vs-white")]
    lines += ["Differences in the label-changed rate (a − b; black-map and white-map against random):", ""]
    lines += table(["size", "comparison", *scopes], diff)
    return details("P2 (3): the design, every window size, the comparisons", lines
                   + figs.link("p2_adversarial.png", "p2_attacks.png"))


SECTIONS = [Section("(1)", "The probability, top-probability and label maps", maps),
            Section("(2)", "Which parts of the '6' matter", strokes),
            Section("(3)", "Adversarial images from patches of other digits", adversarial)]


def interpretations(r) -> list[str]:
    smoothing = r["model"]["label_smoothing"]
    return [f"**The '6'** is test digit {r['index']}, the first one the CNN classifies correctly (`--index` picks "
            "another).",
            f"**Occlusion (Problem 2).** Map cell (r, c) is the patch whose top-left corner is at pixel "
            f"(r·stride, c·stride); its pixels become {r['fill']:g} (black is exactly 0: the CNN takes pixels in "
            "[0, 1] and normalises inside). 'Highest probability' is the maximum over all 10 classes, the true "
            f"one included. The CNN is trained with label smoothing {smoothing:g}, whose target for the true class "
            f"is {md.smoothing_target(smoothing):.2f}, so its probabilities sit below those of a CNN trained "
            "without it. Digits are drawn as stored, white ink on black.",
            "**Adversarial (Problem 2 (3))** is the assignment's: the pasted image is classified as another "
            "digit. A paste replaces the pixels under it, background included. Whether other networks agree "
            "(the judges) is a separate finding."]
