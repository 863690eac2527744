"""P1's findings (common/features/findings.py) on small hand-made results, each expected value worked
out by hand; and on the tiny CNN's run: no value of the results is a sentence."""

from common.features.findings import (
    discriminant_findings,
    filter_findings,
    model_findings,
    shift_findings,
)


def filters_by_hand(conv1_cos: dict[str, float]) -> dict:
    """Two seeds, three layers; conv2 above and conv3 below the untrained range in one statistic."""
    stat = lambda v: {"0": v, "1": v + 0.1}  # noqa: E731
    layer = {"cosine_with_initial_median": stat(0.5), "uniform_share_median": stat(0.2),
             "inputs_for_half_weight_median": {"0": 6.0, "1": 6.0}}
    return {"statistics": {"conv1": {"cosine_with_initial_median": conv1_cos, "edge_or_bar_share": stat(0.7),
                                     "best_cosine_median": stat(0.6), "uniform_share_median": stat(0.1)},
                           "conv2": layer, "conv3": layer},
            "against_null": {"conv1": {"cosine_with_initial_median": "above", "edge_or_bar_share": "within",
                                       "best_cosine_median": "above", "uniform_share_median": "within"},
                             "conv2": {"cosine_with_initial_median": "above", "uniform_share_median": "above",
                                       "inputs_for_half_weight_median": "below"},
                             "conv3": {"cosine_with_initial_median": "above", "uniform_share_median": "below",
                                       "inputs_for_half_weight_median": "below"}},
            "conv1_kinds_by_seed": {"0": {"spot": 1, "bar 0": 2}, "1": {"edge 45": 3, "bar 0": 1}}}


def test_filter_findings_by_hand():
    f = filter_findings(filters_by_hand({"0": 0.95, "1": 0.91}))
    assert f["ranges"]["conv1"]["cosine_with_initial_median"] == {"low": 0.91, "high": 0.95}
    assert f["ranges"]["conv2"]["uniform_share_median"] == {"low": 0.2, "high": 0.2 + 0.1}
    assert f["conv1_start"] == {"lowest_cosine": 0.91, "threshold": 0.9, "barely_moved": True}
    assert f["conv1_patterns_beyond_untrained"] == ["best_cosine_median"]
    assert f["deeper_against_untrained"] == {"cosine_with_initial_median": "above",
                                             "inputs_for_half_weight_median": "below",
                                             "uniform_share_median": "mixed"}
    assert f["conv1_kinds"] == ["bar 0", "edge 45", "spot"]


def test_one_seed_below_the_threshold_means_conv1_moved():
    f = filter_findings(filters_by_hand({"0": 0.95, "1": 0.89}))
    assert f["conv1_start"]["barely_moved"] is False and f["conv1_start"]["lowest_cosine"] == 0.89


def cell(channel: int, fires: int, background: bool, digit, stroke, pair, means,  # noqa: ANN001
         strokes=("background", "background")) -> dict:
    """A chosen cell: pair and means as (this '0', this '8') and (the 0s, the 8s); strokes (this '0',
    this '8') under it."""
    return {"channel": channel, "fires_for": fires, "over_background": background, "feature_digit": digit,
            "feature_stroke": stroke, "pair_zero": pair[0], "pair_eight": pair[1], "act_zero": means[0],
            "act_eight": means[1], "stroke_zero": strokes[0], "stroke_eight": strokes[1]}


def test_discriminant_findings_by_hand():
    d = {"separation": {"row_share": [0.5, 0.3, 0.2], "row_share_evaluated": [0.1, 0.5, 0.4]},
         "n_zero": 30, "n_eight": 12,
         "seeds": {"0": {"beats_random": True}, "1": {"beats_random": False}, "2": {"beats_random": True}},
         "top_cells": [cell(5, 0, True, None, None, (1.0, 0.0), (1.0, 0.0)),
                       cell(7, 8, False, 8, "crossing", (0.1, 2.0), (0.0, 2.0)),
                       cell(1, 8, True, None, None, (0.0, 1.0), (0.0, 1.0)),
                       cell(3, 8, False, 0, "right side", (0.0, 0.5), (0.0, 2.0), ("right side", "background")),
                       cell(2, 8, False, 8, "crossing", (0.0, 0.3), (0.0, 0.5)),
                       cell(9, 0, False, 0, "left side", (0.2, 0.4), (1.0, 0.0), ("left side", "background")),
                       cell(4, 0, False, 0, "right side", (1.0, 0.2), (0.8, 0.0), ("right side", "upper loop"))],
         "strokes": {"named_from": {"zero": "own pixels", "eight": "class frequency map"}}}
    f = discriminant_findings(d)
    assert f["middle_and_lower_thirds"] == {"selection": 0.3 + 0.2, "evaluated": 0.5 + 0.4, "carry_most": True}
    assert f["correct_zeros_and_eights"] == 42
    assert f["seeds_beating_random"] == ["0", "2"] and f["seeds_not_beating_random"] == ["1"]
    assert f["cells_over_background"] == 2 and f["named_from_class_map"] == ["eight"]
    # channel 9 fires for 0s but is higher on this '8'; channel 3 is higher on this '8' by 0.5, less
    # than half its class means' 2.0: both quiet on the pair, so they name no feature
    assert f["quiet_on_pair"] == 2
    # channels 7 (1.9 of 2.0) and 2 (0.3 of 0.5) fire for the 8 at its crossing, where this '0' is
    # empty; channel 4 (0.8 of 0.8) for the 0 at its right side, where this '8' has its upper loop
    assert f["feature_channels"] == [
        {"fires_for": 8, "digit": 8, "stroke": "crossing", "other_stroke": None, "own_stroke": True,
         "channels": [7, 2]},
        {"fires_for": 0, "digit": 0, "stroke": "right side", "other_stroke": "upper loop", "own_stroke": True,
         "channels": [4]}]
    d["separation"]["row_share_evaluated"] = [0.6, 0.3, 0.1]
    assert discriminant_findings(d)["middle_and_lower_thirds"]["carry_most"] is False


def one(pred: int, p: float) -> dict:
    rest = (1 - p) / 9
    return {"pred": pred, "probs": [p if k == pred else rest for k in range(10)]}


def test_shift_findings_by_hand():
    s = {"original": one(1, 0.9), "left3": one(1, 0.7), "right3": one(7, 0.6),
         "no_augmentation": {"one": {"original": one(1, 0.8), "left3": one(4, 0.5), "right3": one(1, 0.4)}},
         "seeds": {"0": {"one": [1, 1, 7]}, "1": {"one": [1, 1, 1]}},
         "mechanism": {"-3": {"from_moved_features": -0.6, "true_logit_change": -0.5},
                       "3": {"from_moved_features": 0.1, "true_logit_change": -0.4}}}
    f = shift_findings(s, {"3": 0.9, "-3": 0.9, "0": 1.0, "-10": 0.1, "10": 0.1})
    assert f["prediction_unchanged_both_ways"] is False
    assert f["seeds_one_stays_one"] == ["1"] and f["seeds_one_changes"] == ["0"]
    assert f["prob_of_prediction"] == {"original": 0.9, "left3": 0.7, "right3": 0.6}
    assert f["no_augmentation_prob_of_prediction"] == {"original": 0.8, "left3": 0.5, "right3": 0.4}
    assert f["shifts_px"] == [-10, -3, 0, 3, 10]
    assert f["moved_share_of_change"] == {"-3": -0.6 / -0.5, "3": 0.1 / -0.4}  # 1.2: more than all of it
    s["right3"] = one(1, 0.6)
    assert shift_findings(s, {"0": 1.0})["prediction_unchanged_both_ways"] is True


def test_model_findings_by_hand():
    f = model_findings({"label_smoothing": 0.1}, [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009], "mnist")
    assert abs(f["true_class_target"] - 0.91) < 1e-12  # 1 - 0.1 + 0.1 / 10
    assert f["test_per_class"] == {"low": 892, "high": 1135}
    assert f["full_training_set"] is True
    assert model_findings({"label_smoothing": 0.1}, [1], "mnist5k-t10k")["full_training_set"] is False
