"""Problem 2: slide a black 8x8 patch over a '6', read what the CNN needs, and transplant patches.

Answers (1) the three occlusion maps of a correctly classified test '6' (p('6'), the highest class
probability, the predicted label) for every position of the patch; (2) which strokes of the '6'
matter: the positions where p('6') drops below 0.5, an objective split of the digit's ink into
loop / stem / top hook, and the map averaged over the correctly classified test 6s; (3) whether
windows cut from other digits and pasted over the '6' make adversarial images, as a small study:
a fixed random sample of windows (6x6, 8x8, 10x10) pasted at every position, rates with 95%
intervals, placement guided by occlusion maps against random, rechecked on other 6s and on CNNs of
two other training seeds; judges (3 CNNs of other seeds, an MLP) separate adversarial pastes from
honest relabellings; PGD and an optimised patch on the same '6' for comparison.

    .venv/bin/python p2_occlusion.py                 # the first correct '6', 8x8 black patch
    .venv/bin/python p2_occlusion.py --index 605 --patch 6 --stride 2 --fill 0.5

Where things live: this script is the CLI, the three questions in order and the figures' files.
The occlusion engine and the `Window` value are in common/occlusion.py; the stroke regions in
common/strokes.py; the population of 6s in common/population.py; the transplant study in
common/transplant.py, its rates and intervals in common/rates.py, its judges in common/judges.py;
PGD and the optimised patch in common/attacks.py; the figures in common/plots_p2.py.

Map cell (r, c) is the patch whose TOP-LEFT corner is at pixel (r*stride, c*stride); the map
figures label their axes in these patch-position coordinates, and the overlay draws each cell at
the patch centre, (r*stride + (patch-1)/2, c*stride + (patch-1)/2).

Expected output (offline, mnist5k, seed 0, defaults): the '6' is test #600, the first correctly
classified 6, with p('6') above 0.95 on 3 training seeds. How many of the 441 patch positions push
p('6') below 0.5, where they are, and everything in (3) depend on the CNN's weights, which differ
between CPUs: README gives the range over 3 training seeds, and each run prints its own
(figures/p2_results.json).
Writes: figures/p2_maps.png, p2_regions.png, p2_population.png, p2_sixes_gallery.png,
p2_transplant_study.png, p2_adversarial.png, p2_attacks.png and p2_results.json; trains and caches
the judges (checkpoints/cnn-<source>-seed{1,2,3}.pt, mlp-<source>.pt; common/mlp.py) on the first run.
Runtime on 2 CPU cores, checkpoints cached: about 35 s, half of it the transplant study, whose cost
scales with FULL["windows"] and FULL["sixes"]. The first run also trains 3 judge CNNs (about 10 s
each on one thread, one per core side by side) and the MLP (about 1 s); `make` trains them before
P2 starts.
"""
from __future__ import annotations

import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any, NamedTuple, Sequence

import numpy as np
import torch

from common.attacks import PGD_EPS, PGD_STEPS, compare_attacks
from common.cli import (
    FIGURES,
    Parser,
    UserError,
    run,
    save_figure,
    versions,
    write_json_atomic,
)
from common.cnn import add_cnn_arguments, load_cnn, pick_correct, predict_proba
from common.data import MNISTData, load_mnist, resolve_source
from common.judges import Judge, describe_judges, judge_specs, load_judges
from common.models import ModelSpec, ensure_models
from common.occlusion import Window, cell_mask, check_window, occlusion_maps
from common.plots_p2 import (
    REGION_NAMES,
    gallery_picks,
    plot_adversarial,
    plot_attacks,
    plot_gallery,
    plot_maps,
    plot_population,
    plot_regions,
    plot_transplant_study,
)
from common.population import Population, analyse_population
from common.rates import nested, r6
from common.strokes import CRITICAL_P, REGIONS, SIX, RegionMasks, analyse_regions
from common.transplant import (
    adversarial_mask,
    all_or_sample,
    correct_of_class,
    examples,
    flip_share_map,
    relabelled_mask,
    run_study,
)

POPULATION_MAX = 200  # mean map over all correct test 6s, or a seeded sample of this many
# windows: source windows per size, each from a different digit; guided_positions: lowest map
# cells per guide (and random draws per window where not every position is tried); sixes: other
# correct 6s in the population check.
FULL = {"population": POPULATION_MAX, "windows": 20, "guided_positions": 10, "sixes": 8}
QUICK = {"population": 6, "windows": 4, "guided_positions": 3, "sixes": 1}
SEEDS_AGREE = 2  # our CNN's conclusions are rechecked on CNNs of training seeds seed+1, seed+2
GALLERY_EACH = 2  # adversarial and relabelled pastes shown per window size
INTERPRETATION = (
    "Map cell (r, c) is the patch whose top-left corner sits at pixel (r*stride, c*stride) (rows "
    "down, columns right); its centre is (patch-1)/2 pixels further. The patch replaces pixels by "
    "`fill` (0 = black, exactly, because the CNN takes pixels in [0, 1] and normalises inside). "
    "'Highest probability' is the maximum over all 10 classes, '6' included. For (3) a pasted "
    "window replaces the '6's pixels under it, background included (it occludes and adds "
    "strokes). 'Adversarial' needs more than a changed label: the CNN's label changes while at "
    "least 3 of 4 independent judges (CNNs of 3 other training seeds and an MLP) still say '6'; "
    "where most judges give the new label too, the paste is an honest relabelling. Guided "
    "target positions are the lowest cells of the '6's own occlusion map for a patch of the "
    "window's size, filled black (the assignment's map: where removing ink hurts) or white "
    "(where adding ink hurts)."
)


class Problem(NamedTuple):
    """The CNN, the test split and the chosen '6'."""
    source: str
    model: torch.nn.Module
    meta: dict
    test: MNISTData
    pred: np.ndarray  # [N] the CNN's test labels
    index: int  # test index of the '6'
    clean: np.ndarray  # [10] its probabilities

    @property
    def six(self) -> torch.Tensor:  # [1, 28, 28]
        return self.test.images[self.index]

    @property
    def image(self) -> np.ndarray:  # [28, 28]
        return self.six[0].numpy()


class Drawn(NamedTuple):
    """Arrays that only the figures read: they travel beside the results, not in the JSON."""
    maps: dict[str, np.ndarray]  # the three maps and the softmax outputs [P, P, 10]
    worst: tuple[int, int]  # the map cell with the lowest p('6')
    worst_image: np.ndarray  # [28, 28] the '6' with that patch
    masks: RegionMasks
    population: Population
    flip_maps: dict[str, np.ndarray]  # per window size, [P, P] share of windows that flip the label
    pasted: dict[str, np.ndarray]  # "adversarial", "relabelled": the example pastes [n, 28, 28]
    attacks: dict[str, np.ndarray]  # the attack images [28, 28] by kind


def models_needed(seed: int) -> list[ModelSpec]:
    """The networks a run loads: our CNN, then its judges (common/judges.py)."""
    return [ModelSpec(seed)] + judge_specs(seed)


def load_problem(data: str, seed: int, retrain: bool, checkpoints: Path, index: int | None) -> Problem:
    """Our CNN, the test split and the '6'. Missing checkpoints (ours and the judges') train
    first, side by side; --retrain retrains them all."""
    source = resolve_source(data)
    specs = models_needed(seed)
    ensure_models(source, specs, checkpoints, retrain=specs if retrain else ())
    model, meta = load_cnn(source, seed=seed, checkpoint_dir=checkpoints)
    test = load_mnist("test", source)
    probs = predict_proba(model, test.images)
    pred = probs.argmax(1)
    index = pick_correct(test.labels, pred, SIX, index)
    return Problem(source, model, meta, test, pred.numpy(), index, probs[index].numpy())


# ----------------------------------------------------------------------------- the three questions
def question1(problem: Problem, window: Window) -> tuple[dict[str, Any], dict[str, Any]]:
    """The three maps (for the JSON) and, for the figure, the most damaging position and its image."""
    maps = occlusion_maps(problem.model, problem.six, window, SIX)
    worst = tuple(int(v) for v in np.unravel_index(int(np.argmin(maps["prob_true"])), maps["prob_true"].shape))
    worst_image = problem.image.copy()
    worst_image[cell_mask(window, *worst)] = window.fill
    record = {"prob_true_map": nested(maps["prob_true"]), "max_prob_map": nested(maps["max_prob"]),
              "label_map": maps["label"].tolist()}
    return record, {"maps": maps, "worst": worst, "worst_image": worst_image}


def question2(problem: Problem, maps: dict[str, np.ndarray], window: Window, budget: dict,
              rng: np.random.Generator) -> tuple[dict[str, Any], RegionMasks, Population]:
    """Which strokes matter: on the example (regions, erasures) and over a sample of correct 6s."""
    region, masks = analyse_regions(problem.model, problem.image, maps, window)
    sixes = correct_of_class(problem.test.labels.numpy(), problem.pred, SIX)
    indices = all_or_sample(sixes, budget["population"], rng)
    pop = analyse_population(problem.model, problem.test.images, indices, maps["prob_true"],
                             problem.index, window, SIX)
    mean_map = pop.maps.mean(0)
    low = np.unravel_index(int(np.argmin(mean_map)), mean_map.shape)
    record = {"important_region": region,
              "population": {"indices": pop.indices.tolist(), "typicality": pop.typicality,
                             "mean_map_min": r6(mean_map.min()),
                             "mean_map_min_position": [int(low[0]), int(low[1])]}}
    return record, masks, pop


def pasted_examples(study, image: torch.Tensor) -> tuple[dict[str, list], dict[str, np.ndarray]]:
    """Up to GALLERY_EACH adversarial and relabelled pastes per size: records and images. The
    adversarial ones keep their image in the record, as evidence a reader can classify again."""
    records: dict[str, list] = {"true_adversarial": [], "relabelled": []}
    images: dict[str, list] = {"true_adversarial": [], "relabelled": []}
    for size, p in study.pastes.items():
        for key, mask in (("true_adversarial", adversarial_mask), ("relabelled", relabelled_mask)):
            recs, imgs = examples(p, mask(p), image, study.windows[size], GALLERY_EACH)
            records[key] += recs
            images[key] += list(imgs)
    for rec, img in zip(records["true_adversarial"], images["true_adversarial"]):
        rec["image"] = nested(img)
    return records, {k: np.array(v).reshape(-1, 28, 28) for k, v in images.items()}


def question3(problem: Problem, judges: Sequence[Judge], budget: dict, rng: np.random.Generator
              ) -> tuple[dict[str, Any], dict[str, Any]]:
    """The transplant study, its pasted examples and the other attacks; and what the figures need."""
    seed_models = {j.meta["seed"]: j.model for j in judges[:SEEDS_AGREE]}
    study = run_study(problem.model, [j.model for j in judges], seed_models, problem.test.images,
                      problem.test.labels.numpy(), problem.pred, problem.index, SIX, budget, rng)
    record = study.record
    size = record["best_position"]["size"]
    record["comparison"], shown = compare_attacks(problem.model, judges, problem.six, SIX,
                                                  record["best_position"], study.pastes[size],
                                                  study.windows[size])
    records, images = pasted_examples(study, problem.six)
    record.update(records, judges=describe_judges(list(judges)))
    flip_maps = {str(s): flip_share_map(p, s) for s, p in study.pastes.items()}
    return record, {"flip_maps": flip_maps, "pasted": images, "attacks": shown}


# ----------------------------------------------------------------------------- answers in words
def describe_counts(counts: Counter) -> str:
    if not counts:
        return "no other label"
    return ", ".join(f"'{k}' at {v}" for k, v in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def answer_q1(r: dict[str, Any]) -> str:
    index, clean, patch, stride, fill = r["index"], r["clean_probs"], r["patch"], r["stride"], r["fill"]
    pt, mp, lab = (np.array(r[k]) for k in ("prob_true_map", "max_prob_map", "label_map"))
    p = pt.shape[0]
    others = Counter(int(v) for v in lab.ravel() if v != SIX)
    k = "" if stride == 1 else stride
    return (
        f"Test image #{index} is a '6' that the CNN classifies correctly with p('6') = "
        f"{clean[SIX]:.3f}. The {patch}x{patch} patch of value {fill:g} moved with stride {stride} "
        f"has {p} x {p} = {p * p} positions; cell (r, c) of each map is the patch whose top-left "
        f"corner is at pixel (row {k}r, column {k}c). Map 1, p('6'), ranges from "
        f"{pt.min():.3f} to {pt.max():.3f} (median {np.median(pt):.3f}); map 2, the highest "
        f"probability among the 10 classes, from {mp.min():.3f} to {mp.max():.3f}; map 3 shows "
        f"label '6' at {int((lab == SIX).sum())} positions"
        + (f" and {describe_counts(others)}." if others else ", i.e. everywhere.")
        + " Most values crowd near the top of the 0-1 scale, so each probability map is also "
        "shown on a log-odds colour scale stretched between its minimum and maximum.")


def answer_q2(r: dict[str, Any]) -> str:
    region, typ = r["important_region"], r["population"]["typicality"]
    comp, share = region["composition_of_covered_ink"], region["mean_share_of_region_ink_covered"]
    ranked = sorted(REGIONS, key=lambda n: (-comp[n], n))
    top = ranked[0]
    erase = region["erase_region"]
    if region["fallback_lowest_10"]:
        head = (f"p('6') never drops below {CRITICAL_P} (lowest {region['min_prob_true']:.3f}), so "
                f"the 10 most damaging positions stand in for the critical ones. ")
        verdict = f"No single patch is critical; the most damaging ones lean on the {REGION_NAMES[top]}."
    else:
        labels = Counter({int(k): v for k, v in region["labels_below"].items()})
        head = (f"p('6') drops below {CRITICAL_P} at {region['n_below']} of "
                f"{region['n_positions']} positions (lowest {region['min_prob_true']:.3f}, patch "
                f"top-left at {tuple(region['min_position'])}); the label there is "
                f"{describe_counts(labels)}. ")
        verdict = f"So the important part is the {REGION_NAMES[top]}."
    note = {"loop_left": " (where the stem runs into the loop)"}.get(top, "")
    weakest = min(REGIONS, key=lambda n: (erase[n]["prob_true"], n))
    agree = ("agrees" if weakest == top else
             f"ranks the strokes differently (the biggest drop is without the {REGION_NAMES[weakest]})")
    erase_txt = "; ".join(f"without the {REGION_NAMES[n]} p('6') = {erase[n]['prob_true']:.2f} "
                          f"(label '{erase[n]['pred']}')" for n in list(REGIONS) + ["loop"])
    mean_min = tuple(r["population"]["mean_map_min_position"])
    pct = typ["example_percentile"]
    if typ["r_example"] is None or pct is None:
        typical = "its map is flat, so its correlation with the mean map is undefined"
    else:
        word = ("typical" if 20 <= pct <= 80 else "more typical than most" if pct > 80 else
                "less typical than most")
        typical = (f"its map correlates with the mean map of the other 6s at r = "
                   f"{typ['r_example']:.2f} (median over all 6s {typ['r_median']:.2f}; higher than "
                   f"for {pct:.0f}% of them), and it has {typ['below_example']} positions below "
                   f"{CRITICAL_P} against a median of {typ['below_median']:.0f}: it is {word}")
    return (
        head
        + f"Of the ink these patches hide, {100 * comp[top]:.0f}% belongs to the "
        f"{REGION_NAMES[top]}{note}, {100 * comp[ranked[1]]:.0f}% to the "
        f"{REGION_NAMES[ranked[1]]}, {100 * comp[ranked[2]]:.0f}% to the "
        f"{REGION_NAMES[ranked[2]]} and {100 * comp[ranked[3]]:.0f}% to the "
        f"{REGION_NAMES[ranked[3]]}; a critical patch hides on average "
        f"{100 * share[top]:.0f}% of the {REGION_NAMES[top]}'s ink. {verdict} Erasing whole "
        f"strokes instead (set to the fill value) {agree}: {erase_txt}. Over {typ['n']} correctly "
        f"classified test 6s the mean p('6') map reaches {r['population']['mean_map_min']:.3f} at its lowest, at "
        f"top-left {mean_min} (the example's lowest is at {tuple(region['min_position'])}), and "
        f"{100 * typ['share_of_6s_with_any_position_below']:.0f}% of the 6s have at least one "
        f"position below {CRITICAL_P}. As for the example, {typical}.")


def scope_name(scope: str, short: bool = False) -> str:
    """'example', 'other_sixes', 'seed_<k>' in words."""
    if scope.startswith("seed_"):
        return f"CNN seed {scope[5:]}"
    return {"example": "the example", "other_sixes": "other 6s" if short else "the other 6s"}[scope]


def ci_text(r: dict[str, Any]) -> str:
    return f"{100 * r['rate']:.1f}% [{100 * r['ci95'][0]:.1f}, {100 * r['ci95'][1]:.1f}]"


def place_words(size: str, study: dict[str, Any]) -> str:
    """One size's placement comparisons (each guide against random, black against white) on the
    example, over the other 6s and on the CNNs of the other seeds."""
    found = study["verdicts"]
    relation = {"higher": "beats", "lower": "does worse than", "overlap": "cannot be told from"}
    parts = []
    for g, (a, b) in {"black-map": ("black-map", "random"), "white-map": ("white-map", "random"),
                      "black-vs-white": ("black-map", "the white-map")}.items():
        v = {scope: by[size][g] for scope, by in found.items()}
        if len(set(v.values())) == 1:
            parts.append(f"the {a} {relation[v['example']]} {b} on the example, over the other 6s and on "
                         "the other seeds' CNNs")
        else:
            parts.append(f"the {a} against {b} is mixed: it "
                         + ", ".join(f"{relation[w]} {'it' if s != 'example' else b} "
                                     f"{'over' if s == 'other_sixes' else 'on'} {scope_name(s)}"
                                     for s, w in v.items()))
    return f"{size}x{size}: " + "; ".join(parts)


def holds_everywhere(study: dict[str, Any]) -> str:
    """The placement claims that hold on the example, over the other 6s and on every seed."""
    names = {"black-map": "the black-map beats random", "white-map": "the white-map beats random",
             "black-vs-white": "the black-map beats the white-map"}
    lower = {"black-map": "the black-map does worse than random", "white-map": "the white-map does worse than random",
             "black-vs-white": "the white-map beats the black-map"}
    found = study["verdicts"]
    claims = []
    for size, by in study["agree_everywhere"].items():
        for g, same in by.items():
            v = found["example"][size][g]
            if same and v != "overlap":
                claims.append(f"{(names if v == 'higher' else lower)[g]} at {size}x{size}")
    if not claims:
        return "No placement claim holds on the example, over the other 6s and on all 3 seeds."
    return ("Claims that hold on the example, over the other 6s and on all 3 seeds: " + "; ".join(
        sorted(claims, key=lambda c: int(c.rsplit(" ", 1)[1].split("x")[0]))) + ". The other comparisons are inconclusive or reversed on at least one of them.")


def share_words(every: dict[str, Any], size: str) -> str:
    """Of one size's label changes: how many are adversarial, honest relabellings, or split the judges."""
    n = every["changed"][size]["k"]
    if n == 0:
        return f"{size}x{size}: no paste changes the label"
    adv, rel = every["adversarial"][size]["k"], every["relabelled"][size]["k"]
    return (f"{size}x{size}: {ci_text(every['changed'][size])} of {every['changed'][size]['n']:,} pastes change "
            f"the label; of those {n:,}, {100 * adv / n:.0f}% are adversarial, {100 * rel / n:.0f}% honest "
            f"relabellings and {100 * (n - adv - rel) / n:.0f}% split the judges")


def transfer_words(cmp: dict[str, Any], n_judges: int) -> str:
    """Which kinds fool our CNN alone and which move most judges too, from the measured transfer."""
    names = {"pgd": f"PGD at ε = {PGD_EPS}", "pgd_min": "PGD at its smallest ε", "patch": "the optimised patch",
             "transplant": "the transplants (on average)"}
    rows = {k: r for k, r in cmp.items() if r.get("transfer") is not None}
    alone = [names[k] for k, r in rows.items() if r["transfer"] * n_judges < 1]
    most = [names[k] for k, r in rows.items() if r["transfer"] > 0.5]
    out = []
    if alone:
        out.append(f"{' and '.join(alone)} fool{'s' if len(alone) == 1 else ''} our CNN alone (no judge follows)")
    if most:
        out.append(f"{', '.join(most)} move most judges too, so {'it changes' if len(most) == 1 else 'they change'} "
                   "what the digit looks like to other models, not only to ours")
    return "; ".join(out) if out else "each kind moves some judges and not others"


def transplant_words(tr: dict[str, Any]) -> str:
    if tr["l0"] is None:
        return "No sampled 8x8 window flips the label there."
    return (f"The transplants at that position flip the label for {ci_text(tr['success'])} of the windows, "
            f"with median L0 = {tr['l0']:g}, L2 = {tr['l2']:.2f}, L∞ = {tr['linf']:.2f}; "
            f"{100 * tr['transfer']:.0f}% of the judges' votes on the flipping ones leave '6' too.")


def answer_q3(r: dict[str, Any]) -> str:
    study, seed = r["adversarial_study"], r["model"]["seed"]
    d, every, cmp = study["design"], study["every_position"], study["comparison"]
    n_j = len(study["judges"])
    sizes = [str(s) for s in d["sizes"]]
    judges = ", ".join(f"{j['name']} ({100 * j['test_accuracy']:.1f}% test accuracy)" for j in study["judges"])
    pgd, pmin, patch, tr = cmp["pgd"], cmp["pgd_min"], cmp["patch"], cmp["transplant"]
    best = study["best_position"]

    def attack(name: str, row: dict) -> str:
        if not row.get("judge_labels"):
            return f"{name}: no flip"
        return (f"{name} {'flips' if row['success'] else 'does not flip'} the label (to '{row['cnn_label']}') "
                f"with L0 = {row['l0']}, L2 = {row['l2']:.2f}, L∞ = {row['linf']:.2f}; "
                f"{sum(v != SIX for v in row['judge_labels'])} of {n_j} judges follow it")

    min_eps = (f"the smallest budget that flips it is ε = {pmin['eps']:.3f}" if pmin["eps"] is not None
               else f"no budget up to ε = {PGD_EPS} flips it")
    return (
        "Terms. A paste copies a square window cut from a correctly classified test digit of another class "
        "over the '6' at a target position (the window's top-left corner), replacing the pixels there. "
        f"The sample is {d['windows_per_size']} windows per size ({', '.join(f'{s}x{s}' for s in sizes)}), drawn "
        f"at random once (seeded) and pasted at every position of the example '6'. A paste 'changes the label' "
        f"when our CNN (seed {seed}) no longer says '6'. The judges are {n_j} independent models: {judges}. A "
        f"paste is adversarial when the label changes while at least {d['judge_majority']} of the {n_j} judges still "
        f"say '6', and an honest relabelling when at least {d['judge_majority']} judges give the CNN's new label. "
        "Brackets are 95% Wilson intervals over pastes (they treat pastes as independent; pastes that share a "
        "window are not, so the true intervals are somewhat wider).\n\n"
        "Yes, transplanted windows can change the label. Over every position, "
        + "; ".join(share_words(every, s) for s in sizes) + ".\n\n"
        f"Where to paste. A guided strategy pastes at the {d['guided_positions']} positions with the lowest p('6') "
        "under a plain patch of the window's size: black (the assignment's map, where removing ink hurts) or "
        "white (where adding ink hurts); random is every position (on the example) or "
        f"{d['random_positions_per_window_elsewhere']} uniform draws per window (on {len(d['other_sixes'])} other "
        "correct 6s and on the CNNs trained with two other seeds; the rates there are in the table). A strategy "
        "beats another only where their intervals are disjoint. " + holds_everywhere(study) + " In detail, "
        + ". ".join(place_words(s, study) for s in sizes) + ".\n\n"
        f"Other kinds, on the same '6'. L0 counts the pixels changed, L2 is the Euclidean length of the change "
        f"and L∞ its largest single-pixel change (pixels in [0, 1]); transfer is the share of the judges that no "
        "longer say '6' on the attacked image. PGD (projected gradient descent under an L∞ budget ε, "
        f"{PGD_STEPS} signed-gradient steps from the '6' itself): {attack(f'at ε = {PGD_EPS}', pgd)}; "
        f"{min_eps}" + (f", where {attack('it', pmin)}" if pmin["eps"] is not None else "") + ". "
        f"An optimised {patch['size']}x{patch['size']} patch (Brown et al. 2017, here fitted to this one image) at "
        f"the best transplant position {tuple(best['position'])} (where the most sampled 8x8 windows flip the "
        f"label): {attack('it', patch)}. " + transplant_words(tr) + " How they differ: PGD spreads its change over "
        f"{100 * pgd['l0'] / 784:.0f}% of the 784 pixels with each change at most ε and needs the model's "
        f"gradients; the patch and the transplants change at most {patch['size'] ** 2} pixels, each by up to "
        "1; the patch is computed from gradients, the transplants need only forward passes and paste "
        f"real handwriting. Transfer: {transfer_words(cmp, n_j)}.")



# ----------------------------------------------------------------------------- command line
def parse_args(argv: Sequence[str] | None):
    p = Parser(description=__doc__.splitlines()[0])
    add_cnn_arguments(p)
    p.add_argument("--index", type=int, default=None,
                   help="test index of the '6' (None: the first correctly classified one)")
    p.add_argument("--patch", type=int, default=8, help="side of the square occluding patch")
    p.add_argument("--stride", type=int, default=1, help="step between patch positions")
    p.add_argument("--fill", type=float, default=0.0, help="patch pixel value, 0 = black, 1 = white")
    p.add_argument("--quick", action="store_true",
                   help="a tiny search and population, only to exercise the code in tests")
    p.add_argument("--out", type=Path, default=FIGURES, help="folder for figures and JSON")
    args = p.parse_args(argv)
    if not 0.0 <= args.fill <= 1.0:  # also rejects nan
        p.error(f"--fill must be a pixel value in [0, 1], got {args.fill}")
    try:
        args.window = check_window(args.patch, args.stride, args.fill)
    except UserError as exc:
        p.error(str(exc))
    return args


# ----------------------------------------------------------------------------- figures
def save_figures(problem: Problem, results: dict[str, Any], drawn: Drawn, window: Window,
                 out: Path) -> list[str]:
    """Draw every figure from the results and the plot-only arrays; save; return the file names."""
    image, images, index, pop = problem.image, problem.test.images, problem.index, drawn.population
    study, judges = results["adversarial_study"], [j["name"] for j in results["adversarial_study"]["judges"]]
    figures = {
        "maps": plot_maps(image, drawn.maps, window, index, float(problem.clean[SIX]), drawn.worst,
                          drawn.worst_image),
        "regions": plot_regions(image, results["important_region"], drawn.masks.regions,
                                drawn.masks.cover_count, window.patch),
        "population": plot_population(pop.maps.mean(0), (pop.maps < CRITICAL_P).mean(0),
                                      images[pop.indices, 0].mean(0).numpy(), pop.typicality,
                                      pop.r_all, window, len(pop.indices))}
    member = int(np.flatnonzero(pop.indices == index)[0]) if index in pop.indices else None
    picks = gallery_picks(pop.r_all, member)
    figures["sixes_gallery"] = plot_gallery(images[pop.indices[picks], 0].numpy(), pop.maps[picks],
                                            pop.indices[picks].tolist(), pop.r_all[picks].tolist(),
                                            pop.below[picks].tolist(), window, index)
    figures["transplant_study"] = plot_transplant_study(study, drawn.flip_maps)
    figures["adversarial"] = plot_adversarial(study["true_adversarial"], study["relabelled"],
                                              drawn.pasted["true_adversarial"], drawn.pasted["relabelled"],
                                              judges)
    figures["attacks"] = plot_attacks(image, drawn.attacks, study["comparison"], judges)
    for name, fig in figures.items():
        save_figure(fig, out / f"p2_{name}.png")
    return [f"p2_{name}.png" for name in figures]


def print_study(study: dict[str, Any]) -> None:
    print("\n  size  strategy    where           pastes   label changed (95% CI)   adversarial (95% CI)")
    for scope, by_size in study["rates"].items():
        for size, by in by_size.items():
            for st, r in by.items():
                ch, adv = r["changed"], r.get("adversarial")
                print(f"  {size:>2}x{size:<2} {st:<10} {scope:<13} {ch['n']:>7,}   {ci_text(ch):<24} "
                      f"{ci_text(adv) if adv else '-'}")
    for name, row in study["comparison"].items():
        print(f"  {name:<10} " + ", ".join(f"{k} {row.get(k)}" for k in ("success", "l0", "l2", "linf", "transfer")))


# ----------------------------------------------------------------------------- main
def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    start = time.perf_counter()
    args = parse_args(argv)
    window, budget = args.window, QUICK if args.quick else FULL
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    problem = load_problem(args.data, args.seed, args.retrain, args.checkpoints, args.index)
    print(f"CNN on {problem.source}: test accuracy {100 * problem.meta['test_accuracy']:.2f}%; the "
          f"'6' is test #{problem.index}, p('6') = {problem.clean[SIX]:.4f}")
    maps_record, one = question1(problem, window)
    strokes_record, masks, pop = question2(problem, one["maps"], window, budget, rng)
    judges = load_judges(problem.source, args.seed, args.checkpoints)
    study, three = question3(problem, judges, budget, rng)
    results = {
        "data_source": problem.source, "index": problem.index, "patch": window.patch,
        "stride": window.stride, "fill": window.fill, "seed": args.seed, "quick": args.quick,
        "true_class": SIX, "interpretation": INTERPRETATION,
        "model": {k: problem.meta.get(k) for k in ("source", "seed", "epochs", "train_accuracy",
                                                   "test_accuracy", "label_smoothing")},
        "clean_probs": nested(problem.clean), **maps_record, **strokes_record,
        "adversarial_study": study, "versions": versions("torch", "numpy")}
    results["answers"] = {"q1": answer_q1(results), "q2": answer_q2(results), "q3": answer_q3(results)}
    for q, title in (("q1", "(1) Occlusion maps"), ("q2", "(2) Which parts of the '6' matter"),
                     ("q3", "(3) Transplanted windows from other digits")):
        print(f"\n{title}\n{results['answers'][q]}")
    print_study(study)
    drawn = Drawn(one["maps"], one["worst"], one["worst_image"], masks, pop, **three)
    results["figures"] = save_figures(problem, results, drawn, window, args.out)
    write_json_atomic(args.out / "p2_results.json", results)
    print(f"\nwrote {args.out / 'p2_results.json'} and {len(results['figures'])} figures in {args.out}")
    print(f"runtime: {time.perf_counter() - start:.1f} s")
    return results


if __name__ == "__main__":
    sys.exit(run(main))
