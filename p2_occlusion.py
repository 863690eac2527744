"""Problem 2: slide a black 8x8 patch over a '6', read what the CNN needs, and paste other digits over it.

Answers (1) the three occlusion maps of a correctly classified test '6' (p('6'), the highest class
probability, the predicted label) for every position of the patch, and how often map 2 equals map
1; (2) which strokes of the '6' matter: the positions where p('6') drops below 0.5, the digit's ink
split into top hook / stem / loop halves, p('6') with each stroke erased, why the label becomes what
it becomes there, and the maps of a sample of the correctly classified test 6s; (3) whether windows
cut from other digits and pasted over the '6' make it another digit, as a small study: 20 random
windows per size (the patch's side p and p-2, p+2: 6x6, 8x8, 10x10 by default) pasted at every position, placement guided by the black- and
white-patch maps against random, rechecked on other 6s and on CNNs of two other training seeds,
with intervals that resample the windows; judges (3 CNNs of other seeds, an MLP) tell changes only
our CNN sees from relabellings they share; PGD and an optimised patch on the same '6' for comparison.

    .venv/bin/python p2_occlusion.py                 # the first correct '6', 8x8 black patch
    .venv/bin/python p2_occlusion.py --index 605 --patch 6 --stride 2 --fill 0.5

Where things live: this script is the CLI, the three questions in order and the figures' files.
The occlusion engine and the `Window` value are in common/occlusion/engine.py; the stroke regions in
common/occlusion/strokes.py; the population of 6s in common/occlusion/population.py; the pastes in
common/occlusion/transplant.py and the study built on them in common/occlusion/transplant_study.py, its rates and
bootstrap intervals in common/occlusion/rates.py, its judges in common/occlusion/judges.py; PGD and the optimised patch
in common/occlusion/attacks.py; the figures in common/plots/p2.py and p2_study.py; the words in report/p2.py, which prints
them at the end (the same text as the report's P2).

Map cell (r, c) is the patch whose TOP-LEFT corner is at pixel (r*stride, c*stride); the map
figures label their axes in these patch-position coordinates, and the overlay draws each cell at
the patch centre, (r*stride + (patch-1)/2, c*stride + (patch-1)/2).

Expected output: the '6' is the first correctly classified test 6; how many of the 441 patch
positions push p('6') below 0.5, where, and everything in (3) depend on the CNN's weights, which
differ between CPUs: README gives the range over 3 training seeds, and each run prints its own
(figures/p2_results.json).
Writes: figures/p2_maps.png (the solution's maps), p2_maps_scales.png (the same on two other
colour scales), p2_regions.png, p2_population.png, p2_sixes_gallery.png, p2_transplant_study.png (the patch's
size), p2_transplant_sizes.png (every window size), p2_adversarial.png (one paste per guide, with
its most frequent new label), p2_pastes_judged.png (pastes the other networks
read as '6' beside those they relabel), p2_attacks.png and p2_results.json; trains and caches
the judges (checkpoints/cnn-<source>-seed{1,2,3}.pt, mlp-<source>.pt; common/nets/mlp.py) on the first run.
Runtime, checkpoints cached: about 19 s of one core (OMP_NUM_THREADS=1) on the official 10,000-digit
test set: the study 7 s (FULL), the population of 6s 4 s (POPULATION_MAX), the figures 4 s. The
first run also trains 3 judge CNNs (about 10 s each on one thread, one per core side by side) and
the MLP (about 1 s); `make` trains them before P2 starts.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any, NamedTuple, Sequence

import numpy as np
import torch

from common.core.cli import (
    Parser,
    UserError,
    add_out_argument,
    run,
    save_figure,
    versions,
    write_json_atomic,
)
from common.core.sampling import all_or_sample
from common.nets.cnn import predict_proba
from common.nets.data import MNISTData, load_mnist, resolve_source
from common.nets.flags import (
    Example,
    add_cnn_arguments,
    misclassified_warning,
    pick_example,
)
from common.nets.models import ModelSpec, ensure_models
from common.nets.training import load_cnn
from common.occlusion.attacks import compare_attacks
from common.occlusion.engine import Window, cell_mask, check_window, occlusion_maps
from common.occlusion.findings import equal_cells, p2_findings
from common.occlusion.judges import (
    JUDGE_CNNS,
    Judge,
    describe_judges,
    judge_specs,
    load_judges,
)
from common.occlusion.population import Population, analyse_population
from common.occlusion.rates import nested, r6
from common.occlusion.strokes import CRITICAL_P, SIX, RegionMasks, analyse_regions
from common.occlusion.transplant import (
    adversarial_mask,
    correct_of_class,
    examples,
    flip_share_map,
    relabelled_mask,
)
from common.occlusion.transplant_study import Study, run_study
from common.plots.p2 import (
    gallery_picks,
    plot_gallery,
    plot_map_scales,
    plot_maps,
    plot_population,
    plot_regions,
)
from common.plots.p2_study import (
    plot_adversarial,
    plot_attacks,
    plot_judged,
    plot_transplant_study,
)
from report.render import print_problem

# population: a seeded sample of the correct test 6s (the official test set has about 950) for the
# mean map, the typicality and the label counts: 300 keep every cell of the mean map within a
# standard error of 0.02 (recorded as population.mean_map_max_se) at a third of the cost of all
# (0.016 s of one core per 6). sixes: other correct 6s in the study, a seeded sample (0.3 s of one
# core each; 16 of them are a third of P2's cost).
# windows: source windows per size, each from a different digit; guided_positions: lowest map
# cells per guide (and random draws per window where not every position is tried).
POPULATION_MAX = 300
FULL = {"population": POPULATION_MAX, "windows": 20, "guided_positions": 10, "sixes": 16}
QUICK = {"population": 6, "windows": 4, "guided_positions": 3, "sixes": 2}
SEEDS_AGREE = 2  # our CNN's conclusions are rechecked on CNNs of training seeds seed+1, seed+2
GALLERY_EACH = 2  # adversarial and relabelled pastes shown per window size


class Problem(NamedTuple):
    """The CNN, the test split and the chosen '6'."""
    source: str
    model: torch.nn.Module
    meta: dict
    test: MNISTData
    pred: np.ndarray  # [N] the CNN's test labels
    example: Example  # the '6': its test index, its predicted label, the first correct '6'
    clean: np.ndarray  # [10] its probabilities

    @property
    def index(self) -> int:  # test index of the '6'
        return self.example.index

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
    pasted: dict[str, np.ndarray]  # "true_adversarial", "relabelled", "shown": the example pastes [n, 28, 28]
    attacks: dict[str, np.ndarray]  # the attack images [28, 28] by kind


def models_needed(seed: int) -> list[ModelSpec]:
    """The networks a run loads: our CNN, then its judges (common/occlusion/judges.py)."""
    return [ModelSpec(seed)] + judge_specs(seed)


def choose_six(model: torch.nn.Module, test: MNISTData, index: int | None) -> tuple[Example, torch.Tensor]:
    """The '6' (the first one `model` classifies correctly, or `index`, which may be misclassified)
    and the model's probabilities [N, 10] over the test split."""
    probs = predict_proba(model, test.images)
    return pick_example(test.labels, probs.argmax(1), SIX, index), probs


def load_problem(data: str, seed: int, retrain: bool, checkpoints: Path, index: int | None) -> Problem:
    """Our CNN, the test split and the '6'. Missing checkpoints (ours and the judges') train
    first, side by side, and the others are checked; --retrain retrains them all."""
    source = resolve_source(data)
    specs = models_needed(seed)
    ensure_models(source, specs, checkpoints, retrain=specs if retrain else ())
    model, meta = load_cnn(source, seed=seed, checkpoint_dir=checkpoints)
    test = load_mnist("test", source)
    example, probs = choose_six(model, test, index)
    return Problem(source, model, meta, test, probs.argmax(1).numpy(), example, probs[example.index].numpy())


# ----------------------------------------------------------------------------- the three questions
def question1(problem: Problem, window: Window) -> tuple[dict[str, Any], dict[str, Any]]:
    """The three maps (for the JSON) and, for the figure, the most damaging position and its image."""
    maps = occlusion_maps(problem.model, problem.six, window, SIX)
    worst = tuple(int(v) for v in np.unravel_index(int(np.argmin(maps["prob_true"])), maps["prob_true"].shape))
    worst_image = problem.image.copy()
    worst_image[cell_mask(window, *worst)] = window.fill
    record = {"prob_true_map": nested(maps["prob_true"]), "max_prob_map": nested(maps["max_prob"]),
              "label_map": maps["label"].tolist(), "map_side": int(maps["label"].shape[0]),
              "n_positions": int(maps["label"].size),
              "maps_equal_cells": equal_cells(maps["max_prob"], maps["prob_true"])}
    return record, {"maps": maps, "worst": worst, "worst_image": worst_image}


def strokes_on_other_seeds(problem: Problem, judges: Sequence[Judge], window: Window) -> dict[str, Any]:
    """The critical positions and the strokes they hide on the same '6' under the CNNs of other
    training seeds (the first SEEDS_AGREE judges)."""
    out = {}
    for j in judges[:SEEDS_AGREE]:
        region, _ = analyse_regions(j.model, problem.image, occlusion_maps(j.model, problem.six, window, SIX), window)
        out[str(j.meta["seed"])] = {k: region[k] for k in ("n_below", "fallback_lowest_10",
                                                           "composition_of_covered_ink", "labels_changed")}
    return out


def question2(problem: Problem, maps: dict[str, np.ndarray], window: Window, budget: dict,
              judges: Sequence[Judge], rng: np.random.Generator) -> tuple[dict[str, Any], RegionMasks, Population]:
    """Which strokes matter: on the example (regions, erasures), on the CNNs of other seeds and
    over a sample of correct 6s."""
    region, masks = analyse_regions(problem.model, problem.image, maps, window)
    region["other_seeds"] = strokes_on_other_seeds(problem, judges, window)
    sixes = correct_of_class(problem.test.labels.numpy(), problem.pred, SIX)
    indices = all_or_sample(sixes, budget["population"], rng)
    pop = analyse_population(problem.model, problem.test.images, indices, maps["prob_true"],
                             problem.index, window, SIX)
    mean_map = pop.maps.mean(0)
    low = np.unravel_index(int(np.argmin(mean_map)), mean_map.shape)
    record = {"important_region": region,
              "population": {"indices": pop.indices.tolist(), "typicality": pop.typicality,
                             "correct_sixes": int(len(sixes)), "new_labels": pop.new_labels,
                             "mean_map_min": r6(mean_map.min()),
                             "mean_map_max_se": r6((pop.maps.std(0, ddof=1) / np.sqrt(len(pop.maps))).max()),
                             "mean_map_min_position": [int(low[0]), int(low[1])]}}
    return record, masks, pop


def pasted_examples(study: Study, image: torch.Tensor) -> tuple[dict[str, list], dict[str, np.ndarray]]:
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


def question3(problem: Problem, judges: Sequence[Judge], patch: int, budget: dict, rng: np.random.Generator,
              seed: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """The transplant study (windows of the patch's size and 2 px either side), its pasted examples
    and the other attacks; and what the figures need."""
    seed_models = {j.meta["seed"]: j.model for j in judges[:SEEDS_AGREE]}
    study = run_study(problem.model, [j.model for j in judges], seed_models, problem.test.images,
                      problem.test.labels.numpy(), problem.pred, problem.index, SIX, patch, budget, rng, seed)
    record = study.record
    size = record["best_position"]["size"]
    record["comparison"], shown = compare_attacks(problem.model, judges, problem.six, SIX,
                                                  record["best_position"], study.pastes[size],
                                                  study.windows[size])
    records, images = pasted_examples(study, problem.six)
    images["shown"] = study.shown
    record.update(records, judges=describe_judges(list(judges), problem.model))
    flip_maps = {str(s): flip_share_map(p, s) for s, p in study.pastes.items()}
    return record, {"flip_maps": flip_maps, "pasted": images, "attacks": shown}


# ----------------------------------------------------------------------------- command line
def parse_args(argv: Sequence[str] | None):
    p = Parser(description=__doc__.splitlines()[0])
    add_cnn_arguments(p, f"our CNN of --seed, the {JUDGE_CNNS} judge CNNs of the next seeds and the MLP judge",
                      f"the judges are the CNNs of the next {JUDGE_CNNS} seeds and the MLP of this one; and it "
                      "seeds every random draw (the population of 6s, the pasted windows, the random positions, "
                      "the bootstraps)")
    p.add_argument("--index", type=int, default=None,
                   help="test index of the '6' (default: the first correctly classified one; a "
                        "misclassified one is allowed, with a warning)")
    p.add_argument("--patch", type=int, default=8,
                   help="side p of the square occluding patch; (3) pastes windows of p-2, p and p+2 px "
                        "(those within 1..28) and compares the best p x p paste with the attacks")
    p.add_argument("--stride", type=int, default=1, help="step between patch positions")
    p.add_argument("--fill", type=float, default=0.0, help="patch pixel value, 0 = black, 1 = white")
    p.add_argument("--quick", action="store_true",
                   help="a tiny search and population, only to exercise the code in tests")
    add_out_argument(p, "folder for figures and JSON")
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
        "maps": plot_maps(image, drawn.maps, window, index, float(problem.clean[SIX])),
        "maps_scales": plot_map_scales(image, drawn.maps, window, drawn.worst, drawn.worst_image),
        "regions": plot_regions(image, results["important_region"], drawn.masks.regions,
                                drawn.masks.cover_count, window.patch),
        "population": plot_population(pop.maps.mean(0), (pop.maps < CRITICAL_P).mean(0),
                                      images[pop.indices, 0].mean(0).numpy(), pop.typicality,
                                      pop.r_all, window, len(pop.indices),
                                      results["population"]["correct_sixes"])}
    member = int(np.flatnonzero(pop.indices == index)[0]) if index in pop.indices else None
    picks = gallery_picks(pop.r_all, member)
    figures["sixes_gallery"] = plot_gallery(images[pop.indices[picks], 0].numpy(), pop.maps[picks],
                                            pop.indices[picks].tolist(), pop.r_all[picks].tolist(),
                                            pop.below[picks].tolist(), window, index)
    size = str(study["best_position"]["size"])
    figures["transplant_study"] = plot_transplant_study(study, drawn.flip_maps, [size])
    figures["transplant_sizes"] = plot_transplant_study(study, drawn.flip_maps, list(drawn.flip_maps))
    shown, adv = study["shown"], study["true_adversarial"]
    main_stroke = next(iter(results["findings"]["strokes"]["hidden"]["strokes"]), None)
    figures["adversarial"] = plot_adversarial(image, shown, drawn.pasted["shown"],
                                              [a["source_label"] for a in shown],
                                              results["findings"]["placement"]["shown_quarters"], main_stroke)
    figures["pastes_judged"] = plot_judged(adv, study["relabelled"], drawn.pasted["true_adversarial"],
                                           drawn.pasted["relabelled"], judges)
    figures["attacks"] = plot_attacks(image, drawn.attacks, study["comparison"], judges)
    for name, fig in figures.items():
        save_figure(fig, out / f"p2_{name}.png")
    return [f"p2_{name}.png" for name in figures]


# ----------------------------------------------------------------------------- main
def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    start = time.perf_counter()
    args = parse_args(argv)
    window, budget = args.window, QUICK if args.quick else FULL
    torch.manual_seed(args.seed)
    study_rng, sample_rng = np.random.default_rng(args.seed), np.random.default_rng([args.seed, 1])
    problem = load_problem(args.data, args.seed, args.retrain, args.checkpoints, args.index)
    if not problem.example.correct:
        print(misclassified_warning(problem.example), file=sys.stderr)
    print(f"CNN on {problem.source}: test accuracy {100 * problem.meta['test_accuracy']:.2f}%; the "
          f"'6' is test #{problem.index}, p('6') = {problem.clean[SIX]:.4f}")
    maps_record, one = question1(problem, window)
    judges = load_judges(problem.source, args.seed, args.checkpoints)
    strokes_record, masks, pop = question2(problem, one["maps"], window, budget, judges, sample_rng)
    study, three = question3(problem, judges, window.patch, budget, study_rng, args.seed)
    results = {
        "data_source": problem.source, "test_size": len(problem.test.labels), "index": problem.index,
        "index_from_flag": args.index is not None, "classified_correctly": problem.example.correct,
        "predicted_label": problem.example.predicted, "first_correct_index": problem.example.first_correct,
        "patch": window.patch, "stride": window.stride, "fill": window.fill, "seed": args.seed,
        "quick": args.quick, "true_class": SIX, "critical_p": CRITICAL_P,
        "model": {k: problem.meta.get(k) for k in ("source", "seed", "epochs", "train_accuracy",
                                                   "test_accuracy", "label_smoothing")},
        "clean_probs": nested(problem.clean), **maps_record, **strokes_record,
        "adversarial_study": study, "versions": versions("torch", "numpy")}
    results["findings"] = p2_findings(results)
    drawn = Drawn(one["maps"], one["worst"], one["worst_image"], masks, pop, **three)
    results["figures"] = save_figures(problem, results, drawn, window, args.out)
    write_json_atomic(args.out / "p2_results.json", results)
    print_problem(2, results, args.out)
    print(f"\nwrote {args.out / 'p2_results.json'} and {len(results['figures'])} figures in {args.out}")
    print(f"runtime: {time.perf_counter() - start:.1f} s")
    return results


if __name__ == "__main__":
    sys.exit(run(main))
