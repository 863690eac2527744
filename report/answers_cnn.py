"""The solution's answers to Problems 1 and 2, formatted from p1_results.json and p2_results.json.

Each claim is one that p1_cnn_filters.py or p2_occlusion.py measured and stored as a field; the
statistics behind it are in evidence.md.
"""
from __future__ import annotations

from report.answer import Answer
from report.md import pct, prob

LAYERS = ("conv1", "conv2", "conv3")


def p1_filters(r) -> Answer:
    figures = tuple((f"p1_filters_{layer}.png", f"The filters of {layer}.") for layer in LAYERS)
    return Answer(
        "P1 (1)", "The filters of the first three convolution layers", "Train a CNN with at least "
        "three convolution layers to at least 95% training accuracy, and show the filters of its first "
        "three layers as images.", f"three conv layers; {pct(r['train_accuracy'])} train accuracy",
        f"Our CNN has three 3x3 convolution layers and classifies {pct(r['train_accuracy'])} of its "
        f"training digits and {pct(r['test_accuracy'])} of the test digits correctly. conv1's filters "
        "are small edge and bar detectors. conv2 and conv3 combine the maps of the layer below; each "
        "of their filters leans on a few of its inputs, so the figures show each filter's strongest "
        "input kernels.",
        figures=figures, evidence=(1, 0))


def p1_feature_maps(r) -> Answer:
    return Answer(
        "P1 (2)", "What tells a '0' from an '8' in conv3", "Show conv3's feature maps for a correctly "
        "classified '0' and '8'. Can you tell which features tell them apart?",
        "yes: the middle and bottom of the digit",
        "Yes. The two maps differ most in the middle and bottom rows of conv3's cells, where the 8 "
        "has its crossing and lower loop and the 0 its open centre; the top row carries little of the "
        "difference. Switching off the channels that differ most makes the network much less sure "
        "which digit it sees.",
        figures=(("p1_feature_maps.png", "conv3's maps for the '0' and the '8', and where they differ."),),
        evidence=(1, 1))


def p1_shift(r) -> Answer:
    s = r["shift"]
    same = s["left3"]["pred"] == s["original"]["pred"] and s["right3"]["pred"] == s["original"]["pred"]
    verdict = "No." if same else "Yes."
    return Answer(
        "P1 (3)", "A '1' shifted three pixels each way", "Shift a correctly classified '1' three pixels "
        "left and right, filling with the nearest valid pixels. Does the prediction change?",
        f"{verdict[:-1].lower()}: still a '{s['left3']['pred']}' and a '{s['right3']['pred']}'",
        f"{verdict} Shifted left it is classified as a '{s['left3']['pred']}' (p = "
        f"{prob(s['left3']['probs'][s['left3']['pred']])}), shifted right as a '{s['right3']['pred']}' "
        f"(p = {prob(s['right3']['probs'][s['right3']['pred']])}). Convolutions move with the digit, but "
        "the last layer has its own weights for each region of the image, so over many digits a shift "
        "still costs some accuracy.",
        figures=(("p1_shift.png", "The '1' shifted with clamp padding, and what the CNN predicts."),),
        evidence=(1, 2))


def p2_maps(r) -> Answer:
    return Answer(
        "P2 (1)", "Three occlusion maps of a '6'", "Slide an 8x8 black patch over a correctly "
        "classified '6' and map p('6'), the highest probability and the label at each position.",
        "three maps; the label stays '6' almost everywhere",
        f"Our '6' is test digit {r['index']}. Map 1 is darkest where the patch hides the strokes that "
        f"matter. Map 2 equals map 1 in {r['maps_equal_cells']} of {r['n_positions']} positions: "
        "exactly where the '6' keeps its label. Map 3 shows the label, in one colour per digit. Each "
        "probability map is stretched to its own range.",
        figures=(("p2_maps.png", "The '6' and its three occlusion maps."),), evidence=(2, 0))


def p2_strokes(r) -> Answer:
    return Answer(
        "P2 (2)", "Which parts of the '6' matter", "From the maps, which parts of the '6' matter "
        "for recognising it?", "the stem and the loop's left side",
        "The stem and the left side of the loop. Covering them lowers p('6') the most, and where the "
        "patch opens the loop on the left the label becomes another digit. The top hook and the "
        "loop's right side hardly matter. The same holds over hundreds of other 6s.",
        figures=(("p2_regions.png", "The strokes of the '6', and the ink the most harmful patches hide."),),
        evidence=(2, 1))


def p2_adversarial(r) -> Answer:
    return Answer(
        "P2 (3)", "Adversarial images from other digits' patches", "Can covering parts of the '6' with "
        "patches of other digits make it look like another digit to the network?",
        "yes, for a few positions and windows",
        "Yes, sometimes. Pasting windows cut from other digits changes the label at some positions, "
        "most often where the map shows the '6' is fragile or where the pasted strokes add a new "
        "one. Some of these images look like another digit to people too; others still look like a '6' "
        "and are truly adversarial.",
        figures=(("p2_adversarial.png", "Pasted windows and the label each image gets."),),
        evidence=(2, 2))
