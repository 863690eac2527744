"""Problem 1's findings: each decision the report's words rest on, as data (the value, and where a
threshold decides, the threshold and the outcome).

    findings = p1_findings(results)   # results: p1_results.json's other fields

The report only selects and formats these; it compares, sorts and sums nothing.
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

from common.features.strokes import BACKGROUND, CLASS_MAP
from common.nets.cnn import smoothing_target
from common.nets.sources import MNIST

BARELY_MOVED = 0.9  # conv1 "barely moved from its start": every seed's median cosine at least this
PATTERN_STATS = ("edge_or_bar_share", "best_cosine_median", "uniform_share_median")
DEEPER = ("conv2", "conv3")
VISIBLE_SHARE = 0.5  # a cell fires on the shown pair when their difference is this share of the class means'
PANEL = ("original", "left3", "right3")  # the '1' as is, 3 px left, 3 px right


def seed_range(by_seed: Mapping[str, float]) -> dict[str, float]:
    """The lowest and the highest value over the seeds."""
    values = [float(v) for v in by_seed.values()]
    return {"low": min(values), "high": max(values)}


def common_side(sides: Sequence[str]) -> str:
    """'above' or 'below' when every layer's trained seeds lie beyond the untrained range on that
    side; 'within' when none does; else 'mixed'."""
    kinds = set(sides)
    return kinds.pop() if len(kinds) == 1 else "mixed"


def filter_findings(filters: Mapping[str, Any]) -> dict[str, Any]:
    """(1) The seeds' range of every statistic, whether conv1 barely moved, which conv1 pattern
    statistics leave the untrained range, the deeper layers' common side, the conv1 patterns seen."""
    stats, against = filters["statistics"], filters["against_null"]
    ranges = {layer: {k: seed_range(v) for k, v in by_stat.items()} for layer, by_stat in stats.items()}
    lowest = ranges["conv1"]["cosine_with_initial_median"]["low"]
    shared = set.intersection(*(set(against[n]) for n in DEEPER))
    return {"ranges": ranges,
            "conv1_start": {"lowest_cosine": lowest, "threshold": BARELY_MOVED,
                            "barely_moved": lowest >= BARELY_MOVED},
            "conv1_patterns_beyond_untrained": [k for k in PATTERN_STATS if against["conv1"][k] != "within"],
            "deeper_against_untrained": {k: common_side([against[n][k] for n in DEEPER]) for k in sorted(shared)},
            "conv1_kinds": sorted({k for c in filters["conv1_kinds_by_seed"].values() for k in c})}


def fires_on_pair(c: Mapping[str, Any]) -> bool:
    """Whether a chosen cell fires visibly on this pair: the shown digit it fires for minus the other
    is at least VISIBLE_SHARE of the class means' difference (the digit it fires for minus the other)."""
    sign = 1 if c["fires_for"] == 8 else -1
    return sign * (c["pair_eight"] - c["pair_zero"]) >= VISIBLE_SHARE * sign * (c["act_eight"] - c["act_zero"])


def other_stroke(c: Mapping[str, Any]) -> str | None:
    """The stroke under a cell in the shown digit other than the one whose stroke names it; None over
    its background."""
    stroke = c["stroke_eight"] if c["feature_digit"] == 0 else c["stroke_zero"]
    return None if stroke == BACKGROUND else stroke


def feature_channels(cells: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The chosen channels that name a feature and fire for their digit on this pair too, grouped by
    the digit they fire for, the digit whose stroke names them, that stroke and the other shown
    digit's stroke there (other_stroke, None over its background), in the cells' order; own_stroke:
    they fire at the stroke of the digit they fire for (else where that digit lacks the other's stroke)."""
    groups: dict[tuple, list[int]] = {}
    for c in cells:
        if c["feature_digit"] is not None and fires_on_pair(c):
            key = (c["fires_for"], c["feature_digit"], c["feature_stroke"], other_stroke(c))
            groups.setdefault(key, []).append(c["channel"])
    return [{"fires_for": fires, "digit": digit, "stroke": stroke, "other_stroke": other,
             "own_stroke": fires == digit, "channels": chs} for (fires, digit, stroke, other), chs in groups.items()]


NAMED_CHANNELS = 3  # the answer names channels by number when it names at most this many
OTHER_STROKE_GROUPS = 2  # and the other digit's stroke under them when it names at most this many groups


def wording(groups: Sequence[Mapping[str, Any]]) -> dict[str, bool]:
    """How much the answer can say of the feature channels within its word budget: their numbers
    (at most NAMED_CHANNELS channels) and the other digit's stroke (at most OTHER_STROKE_GROUPS groups)."""
    return {"channels_by_number": sum(len(g["channels"]) for g in groups) <= NAMED_CHANNELS,
            "other_stroke": len(groups) <= OTHER_STROKE_GROUPS}


def discriminant_findings(d: Mapping[str, Any]) -> dict[str, Any]:
    """(2) The middle and lower thirds' share of the separation, the correct 0s and 8s, the seeds on
    which the chosen channels beat random ones, the chosen cells over background in both shown
    digits, the channels that name a feature grouped as the words name them, and the shown digits
    whose strokes come from their class map (they lack the holes)."""
    sep, seeds = d["separation"], d["seeds"]
    lower = {"selection": sep["row_share"][1] + sep["row_share"][2],
             "evaluated": sep["row_share_evaluated"][1] + sep["row_share_evaluated"][2]}
    return {"middle_and_lower_thirds": {**lower, "carry_most": lower["evaluated"] > sep["row_share_evaluated"][0]},
            "correct_zeros_and_eights": d["n_zero"] + d["n_eight"],
            "seeds_beating_random": [s for s, v in seeds.items() if v["beats_random"]],
            "seeds_not_beating_random": [s for s, v in seeds.items() if not v["beats_random"]],
            "cells_over_background": sum(c["over_background"] for c in d["top_cells"]),
            "quiet_on_pair": sum(not c["over_background"] and not fires_on_pair(c) for c in d["top_cells"]),
            "feature_channels": feature_channels(d["top_cells"]),
            "wording": wording(feature_channels(d["top_cells"])),
            "named_from_class_map": [n for n, v in d["strokes"]["named_from"].items() if v == CLASS_MAP]}


def shift_findings(shift: Mapping[str, Any], accuracy: Mapping[str, float]) -> dict[str, Any]:
    """(3) Whether the '1' keeps its label, on each seed and both ways; the probability of each
    prediction shown; the shifts in order; the share of the true class's mean logit change (signed,
    both parts) that the moved features make."""
    stays = {s: list(v["one"]) == [1, 1, 1] for s, v in shift["seeds"].items()}
    preds = [shift[k]["pred"] for k in PANEL]
    plain = shift["no_augmentation"]["one"]
    return {"prediction_unchanged_both_ways": len(set(preds)) == 1,
            "seeds_one_stays_one": [s for s, ok in stays.items() if ok],
            "seeds_one_changes": [s for s, ok in stays.items() if not ok],
            "prob_of_prediction": {k: max(shift[k]["probs"]) for k in PANEL},
            "no_augmentation_prob_of_prediction": {k: max(plain[k]["probs"]) for k in PANEL},
            "shifts_px": sorted(int(dx) for dx in accuracy),
            "moved_share_of_change": {dx: m["from_moved_features"] / m["true_logit_change"]
                                      for dx, m in shift["mechanism"].items()}}


def model_findings(recipe: Mapping[str, Any], per_class: Sequence[int], source: str) -> dict[str, Any]:
    """The label-smoothing target of the true class, the test set's digits per class, and whether the
    CNN trained on the full MNIST training set (else on a subset of it)."""
    smooth = recipe["label_smoothing"]
    return {"true_class_target": smoothing_target(smooth, len(per_class)),
            "test_per_class": {"low": min(per_class), "high": max(per_class)},
            "full_training_set": source == MNIST}


def p1_findings(results: Mapping[str, Any]) -> dict[str, Any]:
    """Every decision of P1's words, from the results the script assembled."""
    return {"filters": filter_findings(results["filters"]),
            "discriminant": discriminant_findings(results["discriminant"]),
            "shift": shift_findings(results["shift"], results["shift_accuracy"]),
            "model": model_findings(results["model"]["recipe"], results["test_per_class"], results["data_source"])}
