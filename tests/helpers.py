"""Helpers shared by several test modules: a random CNN of the Problem 1 architecture, synthetic P1
results for the report's tests, and the 8-significant-digit formatting that the report's expected
strings are built with."""
from __future__ import annotations

import random

import torch

from common.cnn import CNN


def random_cnn(seed: int = 0, bn_affine: bool = False) -> CNN:
    """The Problem 1 architecture with random weights and non-trivial batch-norm statistics, in
    eval mode; `bn_affine` also randomises the batch norms' scale and shift."""
    torch.manual_seed(seed)
    model = CNN()
    for bn in (model.bn1, model.bn2, model.bn3):
        bn.running_mean.uniform_(-0.5, 0.5)
        bn.running_var.uniform_(0.5, 2.0)
        if bn_affine:
            bn.weight.data.uniform_(0.5, 1.5)
            bn.bias.data.uniform_(-0.2, 0.2)
    return model.eval()


def sig(v: float) -> str:
    return f"{float(v) + 0.0:#.8g}"


def vec(v: list) -> str:
    return "[" + ", ".join(sig(e) for e in v) + "]"


ARCH = ("CNN(\n  (conv1): Conv2d(1, 4, kernel_size=(3, 3), stride=(1, 1))\n"
        "  (conv2): Conv2d(4, 6, kernel_size=(3, 3), stride=(1, 1))\n"
        "  (conv3): Conv2d(6, 8, kernel_size=(3, 3), stride=(1, 1))\n)")


def synthetic_p1(seed: int = 0, arch: str = ARCH) -> dict:
    """P1 results with the script's keys and random, recognisable values."""
    rng = random.Random(seed)
    p = lambda: rng.uniform(0.01, 0.99)  # noqa: E731
    probs = lambda k: [p() / 20 if i != k else p() for i in range(10)]  # noqa: E731
    shifts = [str(dx) for dx in range(-6, 7)]
    cell = lambda ch, r, c, d, words: {  # noqa: E731
        "channel": ch, "row": r, "col": c, "d": d, "region": "centre", "act_zero": p(),
        "act_eight": p(), "ink_zero": p(), "ink_eight": p(), "words": words}
    seed_disc = lambda: {"test_accuracy": p(), "cells_with_abs_d_above_1": 41,  # noqa: E731
                         "top_cell": [9, 2, 3, 1 + p()], "margin_before": 3 + p(), "margin_after": p(),
                         "random_margin_after_median": 2 + p(), "acc_0_8_before": p(),
                         "acc_0_8_after": p()}
    one = lambda k: {"pred": k, "probs": probs(k)}  # noqa: E731
    return {
        "data_source": "mnist5k", "seed": 7, "train_accuracy": p(), "test_accuracy": p(),
        "conv_layers": 3, "torch_version": "9.8.7+test", "sample_size": 1000,
        "model": {"architecture": arch, "parameters": 12345, "recipe": {"epochs": 3}},
        "examples": {"zero": 11, "eight": 22, "one": 33},
        "filters": {"conv1_kinds_by_seed": {"0": {"edge 0": 3, "bar 90": 1},
                                            "1": {"edge 0": 2, "uniform": 2}}},
        "discriminant": {
            "top_cells": [cell(5, 1, 2, 1.0 + p(), "WORDS-A"), cell(3, 4, 0, -1.0 - p(), "WORDS-B")],
            "examples": {"zero": "EXAMPLE-ZERO", "eight": "EXAMPLE-EIGHT"},
            "cells_used": [[0, 0]] * 36, "channels_with_abs_d_above_1": 17,
            "top_channels": [{"channel": 12, "d": 1 + p()}, {"channel": 40, "d": -1 - p()}],
            "ablation": {"channels": [5, 3], "n_digits": 200},
            "seeds": {"0": seed_disc(), "1": seed_disc()}},
        "shift": {"original": one(1), "left3": one(7), "right3": one(1),
                  "no_augmentation": {"accuracy": {k: p() for k in ("-3", "0", "3")},
                                      "accuracy_curve": {dx: p() for dx in shifts},
                                      "one": {"original": one(1), "left3": one(4), "right3": one(1)}},
                  "tolerance_ranking": [{"class": k, "rank": k + 1, "accuracy_pm3": p()}
                                        for k in (3, 1, 0, 2, 4, 5, 6, 7, 8, 9)],
                  "seeds": {"0": {"accuracy": {k: p() for k in ("-3", "0", "3")}, "one": [1, 1, 7]},
                            "1": {"accuracy": {k: p() for k in ("-3", "0", "3")}, "one": [1, 1, 1]}}},
        "shift_accuracy": {dx: p() for dx in shifts},
        "shift_accuracy_per_class": {dx: [p() for _ in range(10)] for dx in shifts},
        "answers": {"q1": "ANSWER-P1-Q1", "q2": "ANSWER-P1-Q2", "q3": "ANSWER-P1-Q3"}}
