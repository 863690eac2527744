"""The example digits are "classified correctly": P1's '0', '8' and '1' and P2's '6' are the first
test digits of their class that the model classifies correctly, checked with a model that misreads
the first test digits of those classes. An --index-* / --index flag may name a misclassified digit:
the script warns in one line that names the first correctly classified digit of its class, records
the flag false, and its words never call that digit classified correctly.

Every expected index comes from a plain loop over the test labels and the model's argmax."""
from __future__ import annotations

import contextlib
import copy
import io
import json

import pytest
import torch
from torch import nn

import p1_cnn_filters as p1
import p2_occlusion as p2
from common.core.cli import UserError
from common.nets.data import MNISTData, load_mnist
from common.nets.flags import misclassified_warning, pick_example
from common.nets.training import load_cnn
from report import answers_cnn
from report import p1 as p1_words
from report import p2 as p2_words
from report.fields import Strict

SOURCE = "mnist5k-t10k"
DIGITS = {"zero": 0, "eight": 8, "one": 1}  # P1's examples; P2's is the '6'
MISREAD = 2  # the Lookup model misreads the first 2 test digits of each of 0, 1, 6 and 8


def key(image: torch.Tensor) -> bytes:
    return image.contiguous().numpy().tobytes()


class Lookup(nn.Module):
    """A model that knows the test split by heart: for an image of it, a logit of 10 for its label,
    or for (label + 1) % 10 where `misread` holds its index; 0 for the other classes."""

    def __init__(self, test: MNISTData, misread: list[int]):
        super().__init__()
        self.classes = {key(img): int(label) for img, label in zip(test.images, test.labels)}
        self.classes.update({key(test.images[i]): (int(test.labels[i]) + 1) % 10 for i in misread})

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = torch.zeros(len(x), 10)
        for row, image in enumerate(x):
            logits[row, self.classes[key(image)]] = 10.0
        return logits


def argmax_loop(model: nn.Module, images: torch.Tensor) -> list[int]:
    """The model's prediction for each image, one image at a time."""
    with torch.no_grad():
        return [int(model(images[i:i + 1]).argmax()) for i in range(len(images))]


def first_read_right(labels: list[int], preds: list[int], digit: int) -> int:
    """The first test index whose label and prediction are both `digit`, by a plain loop."""
    for i, (label, pred) in enumerate(zip(labels, preds)):
        if label == digit and pred == digit:
            return i
    raise AssertionError(f"no test '{digit}' is read as one")


@pytest.fixture(scope="module")
def misreading():
    """The test split, a Lookup model that misreads the first MISREAD digits of 0, 1, 6 and 8, its
    predictions [N] (one image at a time) and those misread indices by digit."""
    test = load_mnist("test", SOURCE)
    labels = test.labels.tolist()
    misread = {d: [i for i, label in enumerate(labels) if label == d][:MISREAD] for d in (0, 1, 6, 8)}
    model = Lookup(test, [i for ids in misread.values() for i in ids]).eval()
    return test, model, torch.tensor(argmax_loop(model, test.images)), misread


def test_the_lookup_model_misreads_the_first_digits_of_each_class(misreading):
    test, _, pred, misread = misreading
    for d, ids in misread.items():
        assert [int(test.labels[i]) for i in ids] == [d] * MISREAD
        assert [int(pred[i]) for i in ids] == [(d + 1) % 10] * MISREAD


@pytest.mark.parametrize("digit", [0, 8, 1, 6])
def test_the_choice_skips_misclassified_digits(misreading, digit):
    test, _, pred, misread = misreading
    expected = first_read_right(test.labels.tolist(), pred.tolist(), digit)
    assert expected not in misread[digit]
    example = pick_example(test.labels, pred, digit, None)
    assert (example.index, example.first_correct, example.correct) == (expected, expected, True)


def test_p1_chooses_its_three_digits_by_the_models_prediction(misreading):
    test, model, pred, _ = misreading
    chosen = p1.choose_examples(test.labels, p1.predict_digits(model, test, list(DIGITS.values())),
                                dict.fromkeys(DIGITS))
    labels = test.labels.tolist()
    assert {k: e.index for k, e in chosen.items()} == {k: first_read_right(labels, pred.tolist(), d)
                                                       for k, d in DIGITS.items()}


def test_p2_chooses_its_six_by_the_models_prediction(misreading):
    test, model, pred, _ = misreading
    example, probs = p2.choose_six(model, test, None)
    assert example.index == first_read_right(test.labels.tolist(), pred.tolist(), 6)
    assert probs.argmax(1).tolist() == pred.tolist()


@pytest.mark.parametrize("digit", [0, 8, 1, 6])
def test_a_flag_may_name_a_misclassified_digit(misreading, digit):
    test, _, pred, misread = misreading
    expected = first_read_right(test.labels.tolist(), pred.tolist(), digit)
    example = pick_example(test.labels, pred, digit, misread[digit][1], "--index-x")
    assert (example.index, example.correct, example.predicted) == (misread[digit][1], False, (digit + 1) % 10)
    assert example.first_correct == expected
    warning = misclassified_warning(example, "--index-x")
    assert "\n" not in warning and warning.startswith(f"warning: --index-x {misread[digit][1]} is ")
    assert f"classifies as '{(digit + 1) % 10}'" in warning and warning.endswith(f"is test digit {expected}")
    assert pick_example(test.labels, pred, digit, expected).correct


@pytest.mark.parametrize("index,message", [(10_000, "outside the test split"), (-1, "outside the test split"),
                                           (0, "is a '7', not a '6'")])
def test_a_digit_of_another_class_or_outside_the_split_is_still_an_error(misreading, index, message):
    test, _, pred, _ = misreading
    assert int(test.labels[0]) == 7
    with pytest.raises(UserError, match=message):
        pick_example(test.labels, pred, 6, index)


# ----------------------------------------------------------------------------- the scripts
def tiny_predictions(checkpoints) -> tuple[list[int], list[int]]:
    """The test labels and the tiny CNN's predictions, one image at a time in batches of 500."""
    model, _ = load_cnn(SOURCE, checkpoint_dir=checkpoints)
    test = load_mnist("test", SOURCE)
    with torch.no_grad():
        pred = torch.cat([model(test.images[i:i + 500]).argmax(1) for i in range(0, len(test.labels), 500)])
    return test.labels.tolist(), pred.tolist()


def first_misread(labels: list[int], preds: list[int], digit: int) -> int | None:
    return next((i for i, (label, p) in enumerate(zip(labels, preds)) if label == digit and p != digit), None)


@pytest.fixture(scope="module")
def p2_misread(judge_checkpoints, tmp_path_factory):
    """P2 --quick on the tiny CNN with --index naming the first '6' it misclassifies: (the index, the
    first correct '6' and the prediction by a plain loop, stderr, the saved results)."""
    labels, preds = tiny_predictions(judge_checkpoints)
    index = first_misread(labels, preds, 6)
    assert index is not None, "the tiny CNN classifies every test '6' correctly"
    out = tmp_path_factory.mktemp("p2_misread")
    with contextlib.redirect_stderr(io.StringIO()) as err:
        p2.main(["--quick", "--index", str(index), "--data", SOURCE, "--checkpoints", str(judge_checkpoints),
                 "--out", str(out)])
    saved = json.loads((out / "p2_results.json").read_text())
    return index, first_read_right(labels, preds, 6), preds[index], err.getvalue(), saved


def test_p2_warns_in_one_line_and_records_the_misclassified_six(p2_misread):
    index, first, pred, err, saved = p2_misread
    assert err == (f"warning: --index {index} is a '6' that the CNN classifies as '{pred}'; the first correctly "
                   f"classified '6' is test digit {first}\n")
    assert (saved["index"], saved["index_from_flag"], saved["classified_correctly"]) == (index, True, False)
    assert (saved["predicted_label"], saved["first_correct_index"]) == (pred, first)


def test_p2_words_never_call_a_misclassified_six_correct(p2_misread):
    index, first, pred, _, saved = p2_misread
    r = Strict(saved, "p2_results.json", "python p2_occlusion.py")
    line = p2_words.interpretations(r)[0]
    assert line.startswith(f"**The '6'** is test digit {index}, chosen with `--index`")
    assert "correct" not in line and f"classifies it as '{pred}'" in line and f"test digit {first}" in line
    question = answers_cnn.p2_maps(r).question
    assert "correctly classified" not in question and "misclassifies" in question
    right = Strict({**saved, "classified_correctly": True}, "p2_results.json", "python p2_occlusion.py")
    assert "classifies it correctly" in p2_words.interpretations(right)[0]
    assert "over a correctly classified '6'" in answers_cnn.p2_maps(right).question


@pytest.fixture(scope="module")
def p1_misread(p1_checkpoints, tmp_path_factory):
    """P1 on the tiny CNN (one seed, 10 sampled digits) with each --index-* naming the first digit of
    its class that the CNN misclassifies, where there is one: (the indices, the first correct
    digits and the predictions by a plain loop, stderr, the saved results)."""
    labels, preds = tiny_predictions(p1_checkpoints)
    wrong = {k: first_misread(labels, preds, d) for k, d in DIGITS.items()}
    wrong = {k: i for k, i in wrong.items() if i is not None}
    assert wrong, "the tiny CNN classifies every test 0, 8 and 1 correctly"
    first = {k: first_read_right(labels, preds, d) for k, d in DIGITS.items()}
    out = tmp_path_factory.mktemp("p1_misread")
    argv = ["--data", SOURCE, "--seeds", "0", "--sample", "10", "--checkpoints", str(p1_checkpoints),
            "--out", str(out)] + [a for k, i in wrong.items() for a in (f"--index-{k}", str(i))]
    with contextlib.redirect_stderr(io.StringIO()) as err:
        p1.main(argv)
    saved = json.loads((out / "p1_results.json").read_text())
    return wrong, first, {k: preds[i] for k, i in wrong.items()}, err.getvalue(), saved


def test_p1_warns_once_per_misclassified_digit_and_records_it(p1_misread):
    wrong, first, pred, err, saved = p1_misread
    article = {"zero": "a", "eight": "an", "one": "a"}
    assert err.splitlines() == [f"warning: --index-{k} {i} is {article[k]} '{DIGITS[k]}' that the CNN classifies "
                                f"as '{pred[k]}'; the first correctly classified '{DIGITS[k]}' is test digit {first[k]}"
                                for k, i in wrong.items()]
    assert saved["examples_classified_correctly"] == {k: k not in wrong for k in DIGITS}
    assert saved["examples"] == {k: wrong.get(k, first[k]) for k in DIGITS}
    assert saved["examples_first_correct"] == first
    assert {k: saved["examples_predicted"][k] for k in wrong} == pred
    assert sorted(saved["examples_from_flags"]) == sorted(wrong)


def digit_fragments(line: str) -> dict[str, str]:
    """The digits line's fragment about each digit: "'8' = test digit 290, which ..." by name."""
    picked = line.removeprefix("**The digits.** ").split(". ")[0]
    return dict(zip(DIGITS, picked.split("; ")))


def p1_words_of(results: dict) -> tuple[dict[str, str], str, str, str]:
    """From P1's results: each digit's fragment of the evidence's digits line, the whole line, and
    the solution's questions of P1 (2) and P1 (3)."""
    r = Strict(results, "p1_results.json", "python p1_cnn_filters.py")
    line = p1_words.interpretations(r)[0]
    return digit_fragments(line), line, answers_cnn.p1_feature_maps(r).question, answers_cnn.p1_shift(r).question


def test_p1_words_name_what_the_cnn_reads_for_a_misclassified_digit(p1_misread):
    wrong, first, pred, _, saved = p1_misread
    fragments, line, _, _ = p1_words_of(saved)
    assert "classifies correctly" not in line
    for k in wrong:
        assert fragments[k] == (f"'{DIGITS[k]}' = test digit {wrong[k]}, which the CNN classifies as '{pred[k]}' "
                                f"(the first '{DIGITS[k]}' it classifies as '{DIGITS[k]}' is test digit {first[k]})")


@pytest.mark.parametrize("false", [["zero"], ["eight"], ["one"], ["zero", "eight", "one"]])
def test_p1_words_never_call_a_misclassified_digit_correct(p1_misread, false):
    saved = copy.deepcopy(p1_misread[-1])
    saved["examples_classified_correctly"] = {k: k not in false for k in DIGITS}
    saved["examples_from_flags"] = false
    fragments, line, maps, shift = p1_words_of(saved)
    assert "classifies correctly" not in line
    for k, fragment in fragments.items():
        assert fragment.startswith(f"'{DIGITS[k]}' = test digit {saved['examples'][k]}")
        assert "correct" not in fragment and ("classifies as" in fragment) is (k in false)
    assert ("correctly classified" in maps) is (not {"zero", "eight"} & set(false))
    assert ("correctly classified" in shift) is ("one" not in false)
