"""P2's findings (common/occlusion/findings.py) on small hand-made results, each expected value worked
out by hand; the paste sizes follow --patch; no value of the results is a sentence."""
import numpy as np
import pytest

from common.occlusion.findings import (
    judged_findings,
    label_change_findings,
    maps_findings,
    named_labels,
    placement_findings,
    population_findings,
    quarter,
    ranked,
    strokes_findings,
)
from common.occlusion.population import new_labels
from common.occlusion.transplant_study import paste_sizes


def test_ranked_is_most_first_with_ties_by_label():
    assert ranked({"5": 2, "3": 7, "1": 2}) == [[3, 7], [1, 2], [5, 2]]


def test_maps_findings_on_a_three_by_three_map():
    p_true = [[0.9, 0.2, 0.8], [0.4, 0.7, 0.95], [0.6, 0.1, 0.9]]
    label = [[6, 3, 6], [5, 6, 6], [6, 3, 6]]
    p_max = [[0.9, 0.5, 0.8], [0.45, 0.7, 0.95], [0.6, 0.85, 0.9]]
    r = {"true_class": 6, "prob_true_map": p_true, "max_prob_map": p_max, "label_map": label,
         "maps_equal_cells": 6, "fill": 0.0}
    f = maps_findings(r)
    assert f["prob_true"] == {"min": 0.1, "max": 0.95, "min_cell": [2, 1]}
    assert f["max_prob"] == {"min": 0.45, "max": 0.95}
    assert f["label_cells"] == [[6, 6], [3, 2], [5, 1]] and f["true_label_cells"] == 6
    assert f["maps_equal"] == {"everywhere": False, "exactly_where_true_label_wins": True,
                               "max_prob_where_label_changes": {"min": 0.45, "max": 0.85}}
    assert f["black_patch"] is True


def composition(**shares):
    return {n: shares.get(n, 0.0) for n in ("top_hook", "stem", "loop_left", "loop_right")}


def test_strokes_findings_by_hand():
    reg = {"composition_of_covered_ink": composition(stem=0.55, loop_left=0.40, loop_right=0.05),
           "other_seeds": {"1": {"composition_of_covered_ink": composition(stem=0.3, loop_left=0.65,
                                                                           loop_right=0.05)},
                           "2": {"composition_of_covered_ink": composition(stem=0.95, loop_left=0.05)}},
           "erase_region": {"stem": {"prob_true": 0.5, "pred": 6}, "loop": {"prob_true": 0.2, "pred": 1},
                            "top_hook": {"prob_true": 0.9, "pred": 6}}}
    f = strokes_findings(reg, 6)
    # the whole loop erased leaves the lowest p('6'), 0.2, and reads as a '1'
    assert f["erased_most"] == {"region": "loop", "prob_true": 0.2, "pred": 1, "changes_label": True}
    assert f["hidden"] == {"threshold": 0.1, "strokes": ["stem", "loop_left"]}
    assert f["untouched"] == {"threshold": 0.005, "strokes": ["top_hook"]}
    assert f["other_seeds"]["1"]["strokes"] == ["loop_left", "stem"]
    assert f["seeds_agreeing"] == ["1"] and f["seeds_differing"] == ["2"]


def test_the_most_frequent_new_label_opens_the_loop_and_rests_on_what_is_left():
    erased = {"top_hook": 0.44, "stem": 0.30, "loop_left": 0.50, "loop_right": 0.20}
    changes = {"3": {"cells": 7, "prob_label": 0.5,
                     "composition": composition(stem=0.5, loop_left=0.38, loop_right=0.09),
                     "hidden_share": composition(loop_left=0.6, loop_right=0.1),
                     "erase_also": {n: {"prob_label": p} for n, p in erased.items()}},
               "5": {"cells": 2, "prob_label": 0.4, "composition": composition(), "hidden_share": composition(),
                     "erase_also": {n: {"prob_label": 0.4} for n in erased}}}
    f = label_change_findings(changes)
    assert f["label"] == 3 and f["cells"] == 7
    assert f["strokes_hidden"]["strokes"] == ["stem", "loop_left"]
    assert f["loop_opened"]["side"] == "left" and abs(f["loop_opened"]["hidden_ink_left_minus_right"] - 0.29) < 1e-12
    assert f["loop_opened"]["left_minus_right"] == 0.5
    assert f["rests_on"]["strokes"] == ["loop_right", "stem", "top_hook"]  # 0.5 - 0.05 = 0.45 > 0.44
    assert label_change_findings({}) == {"label": None}


def test_population_findings_by_hand():
    pop = {"typicality": {"n": 300}, "correct_sixes": 949,
           "new_labels": {"digits_with_any": 5, "digits": {"3": 4, "5": 2}, "digits_by_main_label": {"3": 3, "5": 2},
                          "cells": {"3": 10, "5": 30}}}
    f = population_findings(pop)
    assert f == {"all_sixes": False, "maps_with_a_change": 5, "maps_per_label": [[3, 4], [5, 2]],
                 "maps_per_main_label": [[3, 3], [5, 2]], "maps_with_several_labels": True,
                 "cells_per_label": [[5, 30], [3, 10]]}


def test_new_labels_count_each_map_once_under_its_main_label():
    six = np.full((3, 3), 6)
    a, b, c, d = six.copy(), six.copy(), six.copy(), six.copy()
    a[0, :2], a[1, 0] = 3, 5  # two '3' cells, one '5': main label 3
    b[0, 0], b[2, 2] = 5, 3  # a tie: the smaller label, 3
    c[1, 1] = 5
    f = new_labels(np.stack([a, b, c, d]), 6)
    assert f["digits"] == {"3": 2, "5": 3} and f["digits_with_any"] == 3
    assert f["digits_by_main_label"] == {"3": 2, "5": 1} and f["cells"] == {"3": 3, "5": 3}


def test_judged_partition_sums_to_the_changed_pastes_and_counts_the_judges_that_follow():
    ev = {what: {"8": {"k": k}} for what, k in (("changed", 10), ("adversarial", 4), ("relabelled", 3),
                                                 ("no_majority", 3))}
    rows = {"pgd": {"cnn_label": 3, "judge_labels": [3, 3, 8, 6]}, "patch": {"cnn_label": 5, "judge_labels": [6] * 4},
            "transplant": {"transfer": 0.5}}
    f = judged_findings({"best_position": {"size": 8}, "every_position": ev, "comparison": rows}, 6)
    assert f["partition"] == {"changed": 10, "parts": {"adversarial": 4, "relabelled": 3, "no_majority": 3},
                              "sums_to_changed": True}
    assert f["judges_following"] == {"pgd": 2, "patch": 0}  # the '8' judge neither follows nor reads '6'
    assert f["judges_not_reading_true"] == {"pgd": 3, "patch": 0}
    assert f["adversarial_share_of_changed"] == 0.4


@pytest.mark.parametrize("centre, name", [((5, 6), "upper left"), ((15, 6), "lower left"),
                                          ((5, 20), "upper right"), ((14, 14), "lower right")])
def test_quarter_of_the_ink_box(centre, name):
    assert quarter(centre, [4, 4, 24, 24]) == name  # the box's centre is (14, 14)


def test_placement_counts_the_cnns_where_a_guide_beats_random():
    verdicts = {"example": ("higher", "unclear"), "seed_1": ("higher", "higher"), "seed_2": ("lower", "higher"),
                "other_sixes": ("higher", "higher")}
    rates = {"black-map": 19 / 200, "white-map": 47 / 200, "random": 353 / 8820}
    study = {"best_position": {"size": 8},
             "versus": {sc: {"8": {"black-map": {"verdict": b}, "white-map": {"verdict": w}}}
                        for sc, (b, w) in verdicts.items()},
             "rates": {"example": {"8": {g: {"changed": {"rate": v, "n": 200}} for g, v in rates.items()}}},
             "shown": [{"position": [12, 5], "size": 8, "guide": "white-map", "source_label": 9, "cnn_label": 8}],
             "where_guides_point": {"8": {"black-map": {"centre": [15, 10], "ink_share_under": 0.6,
                                                        "new_labels": {"3": 18, "8": 1}},
                                          "white-map": {"centre": [7, 16], "ink_share_under": 0.2,
                                                        "new_labels": {}}}}}
    f = placement_findings(study, [4, 4, 24, 24], 3)
    assert f["cnns"] == 3 and f["size"] == 8
    assert f["black-map"]["cnns_beating_random"] == 2 and f["white-map"]["cnns_beating_random"] == 2
    assert f["black-map"]["quarter"] == "lower left" and f["white-map"]["quarter"] == "upper right"
    assert f["black-map"]["top_label_is_the_black_patch_label"] is True
    assert f["white-map"]["top_label_is_the_black_patch_label"] is False
    assert f["black-map"]["over_background"]["below"] is False and f["white-map"]["over_background"]["below"]
    assert f["black-map"]["ours"] == {"rate": 19 / 200, "n": 200, "verdict": "higher"}
    assert f["white-map"]["ours"] == {"rate": 47 / 200, "n": 200, "verdict": "unclear"}
    assert f["random"]["ours"]["rate"] == 353 / 8820
    # centre (15.5, 8.5) against the box's centre (14, 14)
    assert f["shown_quarters"] == ["lower left"]
    assert f["shown"] == {"black-map": None, "white-map": {"window_of": 9, "becomes": 8}}
    # white: 47/200 > 19/200, but beats random on 2 CNNs as black does: not better
    assert f["white_against_black"] == {"rate_higher_on_ours": True, "beats_random_on_more_cnns": False,
                                        "better": False}
    study["versus"]["seed_1"]["8"]["black-map"]["verdict"] = "unclear"  # black now beats random on 1 CNN
    assert placement_findings(study, [4, 4, 24, 24], 3)["white_against_black"]["better"] is True


def test_the_second_new_label_is_named_when_close_to_the_first():
    assert named_labels([[8, 24], [0, 22], [5, 3]]) == [8, 0]  # 22 of 24: close
    assert named_labels([[8, 24], [0, 18]]) == [8, 0]  # exactly three quarters
    assert named_labels([[8, 24], [0, 17]]) == [8]
    assert named_labels([[3, 5]]) == [3] and named_labels([]) == []


@pytest.mark.parametrize("patch, sizes", [(8, [6, 8, 10]), (5, [3, 5, 7]), (2, [2, 4]), (27, [25, 27])])
def test_paste_sizes_follow_the_patch(patch, sizes):
    assert paste_sizes(patch) == sizes


def test_the_study_uses_the_patch_size(p2_run):
    saved = p2_run["saved"]
    study = saved["adversarial_study"]
    assert study["best_position"]["size"] == saved["patch"]
    assert study["design"]["sizes"] == [saved["patch"] - 2, saved["patch"], saved["patch"] + 2]

