"""Problem 2's findings: each decision the report's words rest on, as data (the value, and where a
threshold decides, the threshold and the outcome).

    findings = p2_findings(results)   # results: p2_results.json's other fields

Rankings are lists of [label, count], most first (the JSON's keys are sorted, so a dict cannot
hold an order). The report only selects and formats these; it compares, sorts and sums nothing.
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from common.nets.cnn import smoothing_target
from common.occlusion.strokes import REGIONS

MAIN_STROKE = 0.1  # a stroke holding at least this share of the hidden ink is one the patches hide
UNTOUCHED = 0.005  # a stroke holding less than this share of the hidden ink is untouched
OPENS_LOOP = 0.2  # patches that hide this much more of one loop half than the other open the loop
RESTS_ON = 0.05  # a new label rests on a stroke when erasing it too lowers p(label) by more than this
BACKGROUND = 0.3  # a guide's windows lie over background when less than this share of them is ink
CLOSE_SECOND = 0.75  # the second new label is named too when its count is at least this share of the first's
LOOP_DIGITS = {0, 8}  # digits a '6' reads as when added ink closes its top into a loop
PARTS = ("adversarial", "relabelled", "no_majority")  # the label-changing pastes, by the judges' majority


def ranked(counts: Mapping[str, int]) -> list[list[int]]:
    """[[label, count], ...] most frequent first; ties by label."""
    return sorted(([int(k), int(v)] for k, v in counts.items()), key=lambda kv: (-kv[1], kv[0]))


def value_range(values: np.ndarray) -> dict[str, float] | None:
    return {"min": float(values.min()), "max": float(values.max())} if values.size else None


def equal_cells(max_prob: np.ndarray, prob_true: np.ndarray) -> int:
    """Cells where map 2 (the highest probability) equals map 1 (p of the true class) exactly: the
    positions where the true class still has the highest probability."""
    return int((max_prob == prob_true).sum())


def maps_findings(r: Mapping[str, Any]) -> dict[str, Any]:
    """(1) Each probability map's range, the lowest cell of map 1, the cells per label, and how
    map 2 relates to map 1."""
    d = r["true_class"]
    p_true, p_max, labels = (np.array(r[k]) for k in ("prob_true_map", "max_prob_map", "label_map"))
    low = np.unravel_index(int(np.argmin(p_true)), p_true.shape)
    true_cells, equal = int((labels == d).sum()), r["maps_equal_cells"]
    values, counts = np.unique(labels, return_counts=True)
    return {"prob_true": {**value_range(p_true), "min_cell": [int(low[0]), int(low[1])]},
            "max_prob": value_range(p_max), "black_patch": r["fill"] == 0,
            "label_cells": ranked(dict(zip(values.tolist(), counts.tolist()))), "true_label_cells": true_cells,
            "maps_equal": {"everywhere": equal == labels.size, "exactly_where_true_label_wins": equal == true_cells,
                           "max_prob_where_label_changes": value_range(p_max[labels != d])}}


def strokes_above(shares: Mapping[str, float], threshold: float) -> dict[str, Any]:
    """The strokes whose share is at least `threshold`, largest first."""
    names = sorted((n for n in REGIONS if shares[n] >= threshold), key=lambda n: -shares[n])
    return {"threshold": threshold, "strokes": names}


def erased_most(erased: Mapping[str, Mapping[str, Any]], digit: int) -> dict[str, Any]:
    """The region whose erasure lowers p(true) the most: its p(true), the new prediction and whether
    it changes the label."""
    name = min(erased, key=lambda n: erased[n]["prob_true"])
    e = erased[name]
    return {"region": name, "prob_true": e["prob_true"], "pred": e["pred"], "changes_label": e["pred"] != digit}


def strokes_findings(reg: Mapping[str, Any], digit: int) -> dict[str, Any]:
    """(2) The strokes the critical patches hide and those they leave, on the example's CNN and on
    the CNNs of other seeds; the region whose erasure hurts most."""
    comp = reg["composition_of_covered_ink"]
    ours = strokes_above(comp, MAIN_STROKE)
    other = {sd: strokes_above(v["composition_of_covered_ink"], MAIN_STROKE) for sd, v in reg["other_seeds"].items()}
    same = {sd: set(v["strokes"]) == set(ours["strokes"]) for sd, v in other.items()}
    return {"hidden": ours,
            "untouched": {"threshold": UNTOUCHED, "strokes": [n for n in REGIONS if comp[n] < UNTOUCHED]},
            "other_seeds": other,
            "seeds_agreeing": [sd for sd, ok in same.items() if ok],
            "seeds_differing": [sd for sd, ok in same.items() if not ok],
            "erased_most": erased_most(reg["erase_region"], digit)}


def label_change_findings(changes: Mapping[str, Any]) -> dict[str, Any]:
    """(2) The most frequent new label under the patch: the strokes its patches hide (each stroke's
    share of the ink they hide, the measure of the critical positions), whether they open the loop
    (the loop's left half's share minus its right half's, against OPENS_LOOP; "left_minus_right"
    records the same difference of the shares of each half's own ink), and the remaining strokes it
    rests on. {"label": None} when it never changes."""
    if not changes:
        return {"label": None}
    new = max(changes, key=lambda k: changes[k]["cells"])
    lc = changes[new]
    hidden, also, own = lc["composition"], lc["erase_also"], lc["hidden_share"]
    lean = hidden["loop_left"] - hidden["loop_right"]
    side = "left" if lean >= OPENS_LOOP else "right" if lean <= -OPENS_LOOP else None
    rests = sorted((n for n in REGIONS if also[n]["prob_label"] < lc["prob_label"] - RESTS_ON),
                   key=lambda n: also[n]["prob_label"])
    return {"label": int(new), "cells": lc["cells"], "strokes_hidden": strokes_above(hidden, MAIN_STROKE),
            "loop_opened": {"hidden_ink_left_minus_right": lean, "threshold": OPENS_LOOP, "side": side,
                            "left_minus_right": own["loop_left"] - own["loop_right"]},
            "rests_on": {"drop_threshold": RESTS_ON, "strokes": rests}}


def population_findings(pop: Mapping[str, Any]) -> dict[str, Any]:
    """(2) Whether every correct 6 was read, and the new labels by maps (a map under each label it
    shows, and once under its main label: those counts sum to the maps with a change) and by cells."""
    new = pop["new_labels"]
    return {"all_sixes": pop["typicality"]["n"] == pop["correct_sixes"],
            "maps_with_a_change": new["digits_with_any"],
            "maps_per_label": ranked(new["digits"]), "maps_per_main_label": ranked(new["digits_by_main_label"]),
            "maps_with_several_labels": sum(new["digits"].values()) > new["digits_with_any"],
            "cells_per_label": ranked(new["cells"])}


def quarter(centre: Sequence[float], box: Sequence[int]) -> str:
    """'upper left' .. 'lower right': where a pixel (row, col) lies in the digit's ink box."""
    r0, c0, r1, c1 = box
    return (("upper" if centre[0] < (r0 + r1) / 2 else "lower") + " "
            + ("left" if centre[1] < (c0 + c1) / 2 else "right"))


def paste_centre(paste: Mapping[str, Any]) -> list[float]:
    """The centre pixel (row, col) of a pasted window, from its top-left position and size."""
    return [v + (paste["size"] - 1) / 2 for v in paste["position"]]


def shown_by_guide(shown: Sequence[Mapping[str, Any]], guides: Sequence[str]) -> dict[str, dict[str, int] | None]:
    """Per guide: the class of the digit its shown paste's window comes from and our CNN's new label
    (None when the solution shows no paste of that guide)."""
    by = {a["guide"]: {"window_of": a["source_label"], "becomes": a["cnn_label"]} for a in shown}
    return {g: by.get(g) for g in guides}


def black_patch_label_at(paste: Mapping[str, Any], r: Mapping[str, Any]) -> int | None:
    """The label P2 (1)'s black-patch map gives where `paste` lies (None when the paste's size or
    position is not one of that map's patches)."""
    row, col = paste["position"]
    if paste["size"] != r["patch"] or row % r["stride"] or col % r["stride"]:
        return None
    return int(r["label_map"][row // r["stride"]][col // r["stride"]])


def shown_as_black_patch(r: Mapping[str, Any]) -> dict[str, bool]:
    """Per guide of a shown paste: whether its new label is the one the black patch alone gives there."""
    return {a["guide"]: a["cnn_label"] == black_patch_label_at(a, r) for a in r["adversarial_study"]["shown"]}


def closes_top_loop(quarter_name: str, over_background: bool, labels: Sequence[int]) -> bool:
    """Whether a guide's pastes add ink at the top of the '6' and turn it mostly into digits with a
    closed top (LOOP_DIGITS): the added strokes close the top into a loop."""
    return quarter_name.startswith("upper") and over_background and bool(labels) and set(labels) <= LOOP_DIGITS


def white_against_black(place: Mapping[str, Any]) -> dict[str, bool]:
    """Whether the white-patch map's pastes change our CNN's label more often than the black-patch
    map's, and beat random on more of our CNNs: both, and it "works better"."""
    white, black = place["white-map"], place["black-map"]
    higher = white["ours"]["rate"] > black["ours"]["rate"]
    more = white["cnns_beating_random"] > black["cnns_beating_random"]
    return {"rate_higher_on_ours": higher, "beats_random_on_more_cnns": more, "better": higher and more}


def named_labels(labels: Sequence[Sequence[int]]) -> list[int]:
    """The new labels the words name: the most frequent, and the second when its count is at least
    CLOSE_SECOND of the first's."""
    close = len(labels) > 1 and labels[1][1] >= CLOSE_SECOND * labels[0][1]
    return [label for label, _ in labels[:2 if close else 1]]


def placement_findings(study: Mapping[str, Any], box: Sequence[int], patch_label: int | None) -> dict[str, Any]:
    """(3) At the assignment's size: where each guide's windows lie, their new labels, whether the
    white-patch map's lie over background, the new labels the words name (named_labels), how often its pastes change our CNN's label (of n pastes:
    its positions times the windows) and the verdict against random there, and on how many of our
    CNNs each guide beats random; where each shown paste lies, what it is cut from and becomes; and
    whether the white-patch map works better than the black one."""
    size = str(study["best_position"]["size"])
    scopes = [sc for sc in study["versus"] if sc != "other_sixes"]
    ours = study["rates"]["example"][size]
    out: dict[str, Any] = {"size": int(size), "cnns": len(scopes),
                           "random": {"ours": {"rate": ours["random"]["changed"]["rate"]}},
                           "shown_quarters": [quarter(paste_centre(a), box) for a in study["shown"]],
                           "shown": shown_by_guide(study["shown"], list(study["where_guides_point"][size]))}
    for g, w in study["where_guides_point"][size].items():
        labels, where = ranked(w["new_labels"]), quarter(w["centre"], box)
        out[g] = {"quarter": where, "new_labels": labels, "named_labels": named_labels(labels),
                  "closes_top_loop": closes_top_loop(where, w["ink_share_under"] < BACKGROUND, named_labels(labels)),
                  "top_label_is_the_black_patch_label": bool(labels) and labels[0][0] == patch_label,
                  "over_background": {"ink_share_under": w["ink_share_under"], "threshold": BACKGROUND,
                                      "below": w["ink_share_under"] < BACKGROUND},
                  "ours": {"rate": ours[g]["changed"]["rate"], "n": ours[g]["changed"]["n"],
                           "verdict": study["versus"]["example"][size][g]["verdict"]},
                  "cnns_beating_random": sum(study["versus"][sc][size][g]["verdict"] == "higher" for sc in scopes)}
    out["white_against_black"] = white_against_black(out)
    return out


def judged_findings(study: Mapping[str, Any], digit: int) -> dict[str, Any]:
    """(3) The label-changing pastes split by the judges' majority (adversarial, relabelled, no
    majority: the parts sum to the changed pastes), the shares of the first two, and per attack the
    judges that do not read the true digit and those that give our CNN's new label ("follow")."""
    size = str(study["best_position"]["size"])
    ev = study["every_position"]
    changed = ev["changed"][size]["k"]
    share = lambda what: ev[what][size]["k"] / changed if changed else None  # noqa: E731
    parts = {what: ev[what][size]["k"] for what in PARTS}
    rows = {k: v for k, v in study["comparison"].items() if "judge_labels" in v}
    return {"adversarial_share_of_changed": share("adversarial"), "relabelled_share_of_changed": share("relabelled"),
            "partition": {"changed": changed, "parts": parts, "sums_to_changed": sum(parts.values()) == changed},
            "judges_not_reading_true": {k: sum(v != digit for v in row["judge_labels"]) for k, row in rows.items()},
            "judges_following": {k: sum(v == row["cnn_label"] for v in row["judge_labels"])
                                 for k, row in rows.items()}}


def p2_findings(r: Mapping[str, Any]) -> dict[str, Any]:
    """Every decision of P2's words, from the results the script assembled."""
    reg, study = r["important_region"], r["adversarial_study"]
    change = label_change_findings(reg["label_changes"])
    smooth = r["model"]["label_smoothing"]
    return {"maps": maps_findings(r), "strokes": strokes_findings(reg, r["true_class"]), "label_change": change,
            "population": population_findings(r["population"]),
            "placement": {**placement_findings(study, reg["ink_box"], change["label"]),
                          "shown_as_black_patch": shown_as_black_patch(r)},
            "judged": judged_findings(study, r["true_class"]),
            "true_class_target": smoothing_target(smooth, len(r["clean_probs"]))}
