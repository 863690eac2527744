"""Problem 2 end to end on quickly trained CNNs (--quick study), its input checks and helpers.

The pasted images are rebuilt here with plain numpy slicing from the source image and window
recorded in the JSON, and classified again by our CNN and by each judge; the map cells are
recomputed with one direct forward.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from helpers import ANSWER_WORDS, main_body_words, opening_words
from test_p2_study import naive_crossed_bootstrap

import p2_occlusion as p2
from common.core.cli import ROOT, run
from common.nets.cnn import predict_proba
from common.occlusion.engine import check_window
from common.occlusion.strokes import REGIONS, label_changes, stroke_regions
from report import p2 as report_p2
from report.fields import MissingField, Strict
from report.md import Figures
from report.render import NOTES


def test_json_has_the_required_keys_and_shapes(p2_run):
    saved = p2_run["saved"]
    for key in ("data_source", "index", "patch", "stride", "fill", "prob_true_map", "max_prob_map",
                "label_map", "important_region", "adversarial_study", "true_class", "map_side", "n_positions",
                "maps_equal_cells", "critical_p", "test_size"):
        assert key in saved, key
    assert "answers" not in saved and "interpretation" not in saved  # words live in report/p2.py
    assert saved["data_source"] == "mnist5k-t10k" and (saved["patch"], saved["stride"]) == (8, 1)
    assert saved["fill"] == 0.0
    test = p2_run["test"]
    assert int(test.labels[saved["index"]]) == 6
    pt, mp, lab = (np.array(saved[k]) for k in ("prob_true_map", "max_prob_map", "label_map"))
    assert pt.shape == mp.shape == lab.shape == (21, 21)
    assert (pt <= mp + 1e-6).all() and ((lab == 6) == (np.abs(pt - mp) < 1e-6)).all()
    assert {p.name for p in p2_run["out"].glob("p2_*.png")} == set(saved["figures"])


def naive_maps(model, image: np.ndarray, patch: int = 8) -> np.ndarray:
    """Softmax outputs [P, P, 10] of every occluded copy, built by numpy slicing, in one forward."""
    side = 28 - patch + 1
    copies = []
    for r in range(side):
        for c in range(side):
            x = image.copy()
            x[r:r + patch, c:c + patch] = 0.0
            copies.append(x)
    return predict_proba(model, torch.from_numpy(np.stack(copies))[:, None]).numpy().reshape(side, side, -1)


def test_maps_equal_cells_is_counted_directly(p2_run):
    saved = p2_run["saved"]
    probs = naive_maps(p2_run["model"], p2_run["test"].images[saved["index"], 0].numpy())
    assert saved["maps_equal_cells"] == int((probs.argmax(-1) == 6).sum())  # map 2 = map 1 where '6' wins
    equal = sum(a == b for a, b in zip(np.ravel(saved["prob_true_map"]), np.ravel(saved["max_prob_map"])))
    assert saved["maps_equal_cells"] == equal and saved["n_positions"] == probs.shape[0] ** 2 == 441


def test_label_changes_are_recomputed_from_the_strokes(p2_run):
    """label_changes on the example under a 12x12 patch (large enough that the tiny CNN's label
    changes), against numpy slicing and direct forwards."""
    model, patch = p2_run["model"], 12
    image = p2_run["test"].images[p2_run["saved"]["index"], 0].numpy()
    probs = naive_maps(model, image, patch)
    labels = probs.argmax(-1)
    maps = {"label": labels, "probs": probs, "prob_true": probs[..., 6]}
    regions, _ = stroke_regions(image)
    changes = label_changes(model, image, maps, regions, check_window(patch, 1))
    assert changes and set(changes) == {str(v) for v in np.unique(labels) if v != 6}
    for new, rec in changes.items():
        cells = np.argwhere(labels == int(new))
        assert rec["cells"] == len(cells) and rec["positions"] == cells.tolist()
        assert rec["prob_label"] == pytest.approx(probs[labels == int(new)][:, int(new)].mean(), abs=2e-6)
        for name in REGIONS:
            ink = image[regions[name]].sum()
            shares = [image[r:r + patch, c:c + patch][regions[name][r:r + patch, c:c + patch]].sum() / ink
                      for r, c in cells]
            assert rec["hidden_share"][name] == pytest.approx(np.mean(shares), abs=2e-6)
        covered = {n: sum(image[r:r + patch, c:c + patch][regions[n][r:r + patch, c:c + patch]].sum() for r, c in cells)
                   for n in REGIONS}
        for name in REGIONS:
            assert rec["composition"][name] == pytest.approx(covered[name] / sum(covered.values()), abs=2e-6)
        for name in REGIONS:
            erased = []
            for r, c in cells:
                x = image.copy()
                x[r:r + patch, c:c + patch] = 0.0
                x[regions[name]] = 0.0
                erased.append(x)
            p = predict_proba(model, torch.from_numpy(np.stack(erased))[:, None]).numpy()[:, int(new)]
            assert rec["erase_also"][name]["prob_label"] == pytest.approx(p.mean(), abs=2e-6)


def test_composition_of_the_hidden_ink_is_recomputed(p2_run):
    saved = p2_run["saved"]
    image = p2_run["test"].images[saved["index"], 0].numpy()
    p6 = naive_maps(p2_run["model"], image)[..., 6]
    cells = np.argwhere(p6 < 0.5)
    if not len(cells):  # the 10 lowest stand in
        cells = np.stack(np.unravel_index(np.argsort(p6, axis=None, kind="stable")[:10], p6.shape), 1)
    regions, _ = stroke_regions(image)
    covered = {n: sum(image[r:r + 8, c:c + 8][regions[n][r:r + 8, c:c + 8]].sum() for r, c in cells)
               for n in REGIONS}
    total = sum(covered.values())
    for n in REGIONS:
        assert saved["important_region"]["composition_of_covered_ink"][n] == pytest.approx(
            covered[n] / total, abs=2e-6)
    assert set(saved["important_region"]["other_seeds"]) == {"1", "2"}


def test_study_intervals_resample_the_windows(p2_run):
    saved = p2_run["saved"]
    study = saved["adversarial_study"]
    for size, by in study["rates"]["example"].items():
        for name, r in by.items():
            per = r["per_window"]
            k, n = np.array([per["changed"]]), np.array([per["n"]])
            assert r["changed"]["k"] == k.sum() and r["changed"]["n"] == n.sum()
            if k.sum():
                reps = naive_crossed_bootstrap(k, n, saved["seed"], study["design"]["bootstrap_reps"])
                want = [round(float(np.percentile(reps, q)), 6) for q in (2.5, 97.5)]
                assert r["changed"]["ci95"] == pytest.approx(want, abs=1e-6)
        every = study["every_position"]["changed"][size]
        assert (every["k"], every["n"]) == (by["random"]["changed"]["k"], by["random"]["changed"]["n"])


def test_the_judged_parts_partition_the_label_changing_pastes(p2_run):
    saved = p2_run["saved"]
    ev = saved["adversarial_study"]["every_position"]
    for size, changed in ev["changed"].items():
        parts = [ev[what][size]["k"] for what in ("adversarial", "relabelled", "no_majority")]
        assert sum(parts) == changed["k"] and all(ev[what][size]["n"] == changed["n"] for what in
                                                  ("adversarial", "relabelled", "no_majority"))
        assert 0 < changed["positions_with_a_change"] <= changed["positions"] == (29 - int(size)) ** 2 \
            or changed["k"] == 0
    part = saved["findings"]["judged"]["partition"]
    assert part["sums_to_changed"] and part["changed"] == ev["changed"][str(saved["patch"])]["k"]


def test_where_the_guides_point_is_read_from_the_pixels(p2_run):
    saved = p2_run["saved"]
    image = p2_run["test"].images[saved["index"], 0].numpy()
    study = saved["adversarial_study"]
    for size, by in study["where_guides_point"].items():
        s, side = int(size), 29 - int(size)
        for guide, where in by.items():
            cells = [divmod(pos, side) for pos in study["rates"]["example"][size][guide]["positions"]]
            ink = np.mean([(image[r:r + s, c:c + s] >= 0.2).mean() for r, c in cells])
            assert where["ink_share_under"] == pytest.approx(ink, abs=1e-6)
            centre = np.mean(cells, axis=0) + (s - 1) / 2
            assert where["centre"] == pytest.approx(centre.tolist(), abs=1e-6)


def test_map_cells_match_a_direct_forward(p2_run):
    saved, model, test = p2_run["saved"], p2_run["model"], p2_run["test"]
    image = test.images[saved["index"], 0].numpy()
    pt = np.array(saved["prob_true_map"])
    for r, c in [(0, 0), tuple(saved["important_region"]["min_position"]), (20, 20), (3, 17)]:
        x = image.copy()
        x[r:r + 8, c:c + 8] = 0.0  # top-left corner at (r, c), stride 1
        probs = predict_proba(model, torch.from_numpy(x)[None, None])[0]
        assert pt[r, c] == pytest.approx(float(probs[6]), abs=2e-6)
        assert saved["label_map"][r][c] == int(probs.argmax())


def test_study_json_has_rates_with_intervals_and_the_comparison(p2_run):
    study = p2_run["saved"]["adversarial_study"]
    for key in ("rates", "seeds_agree", "judges", "true_adversarial", "comparison"):
        assert key in study, key
    assert set(study["comparison"]) >= {"pgd", "patch", "transplant"}
    for row in study["comparison"].values():
        assert {"success", "l0", "l2", "linf", "transfer"} <= set(row)
    assert len(study["judges"]) == 4 and study["judges"][-1]["family"] == "MLP"
    for scope, by_size in study["rates"].items():
        for by in by_size.values():
            for r in by.values():
                ch = r["changed"]
                assert ch["ci95"][0] <= ch["rate"] <= ch["ci95"][1] and ch["rate"] == pytest.approx(
                    ch["k"] / ch["n"], abs=1e-6)
    pgd = study["comparison"]["pgd"]
    assert pgd["linf"] <= pgd["eps"] + 1e-6


def test_pasted_examples_are_reproduced_with_their_labels(p2_run):
    saved, model, judges, test = p2_run["saved"], p2_run["model"], p2_run["judges"], p2_run["test"]
    study = saved["adversarial_study"]
    shown = study["true_adversarial"] + study["relabelled"]
    assert shown, "the quick study found no label change"
    six = test.images[saved["index"], 0].numpy()
    preds = predict_proba(model, test.images).argmax(1)
    for a in shown:
        r, c, s = a["source_window"]
        tr, tc = a["position"]
        src = a["source_index"]
        assert int(test.labels[src]) != 6 and int(preds[src]) == int(test.labels[src])
        rebuilt = six.copy()
        rebuilt[tr:tr + s, tc:tc + s] = test.images[src, 0].numpy()[r:r + s, c:c + s]
        if "image" in a:  # the adversarial ones keep their image as evidence
            assert np.abs(np.array(a["image"]) - rebuilt).max() < 1e-6
        x = torch.from_numpy(rebuilt)[None, None]
        with torch.no_grad():
            probs = F.softmax(model(x), dim=1)[0]
            votes = [int(j(x).argmax(1)) for j in judges]
        assert a["cnn_label"] != 6 and int(probs.argmax()) == a["cnn_label"]
        assert a["judge_labels"] == votes
    for a in study["true_adversarial"]:
        assert sum(v == 6 for v in a["judge_labels"]) >= 3


def test_json_holds_no_array_that_only_a_figure_reads(p2_run):
    saved = p2_run["saved"]
    study = saved["adversarial_study"]
    assert "flip_share_maps" not in study
    assert all("image" in a for a in study["true_adversarial"])  # evidence, kept
    assert not any("image" in a for a in study["relabelled"])  # rebuilt from their recipe
    assert "mean_prob_true_map" not in saved["population"] and "share_below_map" not in saved["population"]


def test_rerun_gives_identical_json_and_prints_the_rendered_answers(p2_run, tmp_path, capsys):
    argv = p2_run["argv"][:-1] + [str(tmp_path)]
    p2.main(argv)
    assert json.loads((tmp_path / "p2_results.json").read_text()) == p2_run["saved"]
    out = capsys.readouterr().out
    assert out.count("**Answer.**") == 3 and "### P2 (3)" in out


@pytest.mark.parametrize("flag,value,message", [
    ("--patch", "0", "patch must be between 1 and 28"),
    ("--patch", "29", "patch must be between 1 and 28"),
    ("--stride", "9", "stride must be between 1 and the patch size"),
    ("--fill", "1.5", "--fill must be a pixel value in [0, 1]"),
    ("--fill", "nan", "--fill must be a pixel value in [0, 1]"),
])
def test_bad_flag_values_are_one_line_errors(flag, value, message, capsys):
    with pytest.raises(SystemExit) as exc:
        p2.main([flag, value, "--data", "mnist5k-t10k"])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and message in err


def test_bad_index_is_a_one_line_error(p2_run, judge_checkpoints, tmp_path, capsys):
    test = p2_run["test"]
    not_six = int(torch.nonzero(test.labels != 6)[0])
    cases = [(10_000, "outside the test split"), (-1, "outside the test split"),
             (not_six, "not a '6'")]
    for index, message in cases:
        argv = ["--index", str(index), "--data", "mnist5k-t10k", "--checkpoints", str(judge_checkpoints),
                "--out", str(tmp_path)]
        assert run(lambda: p2.main(argv)) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("error: ") and "\n" not in err and message in err, err
    assert not (tmp_path / "p2_results.json").exists()


def test_command_line_error_exit_status():
    proc = subprocess.run([sys.executable, "p2_occlusion.py", "--stride", "0"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "stride must be between 1" in proc.stderr


# ----------------------------------------------------------------------------- helpers
def synthetic_six(closed: bool = True) -> np.ndarray:
    """A blocky '6': a 2-px square ring (rows 14-21, cols 8-15) under a 2-px stem (rows 3-13)."""
    x = np.zeros((28, 28), dtype=np.float32)
    x[14:22, 8:16] = 1.0
    x[16:20, 10:14] = 0.0  # the hole: rows 16-19, cols 10-13
    x[3:14, 8:10] = 1.0
    if not closed:
        x[16:20, 14:16] = 0.0  # break the ring's right side
    return x


def test_stroke_regions_on_a_synthetic_six():
    image = synthetic_six()
    regions, info = stroke_regions(image)
    hole = np.zeros((28, 28), dtype=bool)
    hole[16:20, 10:14] = True
    assert np.array_equal(regions["hole"], hole)
    assert info["stroke_width_px"] == 2
    loop = regions["loop_left"] | regions["loop_right"]
    ring = image.astype(bool) & (np.arange(28)[:, None] >= 14)
    assert np.array_equal(loop & ring, ring)  # the whole ring is loop
    assert regions["loop_left"][18, 8] and regions["loop_right"][18, 15]
    upper = regions["top_hook"] | regions["stem"]
    assert upper.any() and not (upper & ring).any()
    assert np.nonzero(regions["top_hook"])[0].max() < np.nonzero(regions["stem"])[0].min()
    # every ink pixel is in exactly one stroke region
    total = sum(regions[n].astype(int) for n in REGIONS)
    assert np.array_equal(total, image.astype(bool).astype(int))


def test_stroke_regions_without_a_closed_loop():
    regions, info = stroke_regions(synthetic_six(closed=False))
    assert not regions["hole"].any() and not info["closed_hole"]


# ----------------------------------------------------------------------------- the words (report/p2.py)
def rendered(saved: dict, folder) -> dict[str, list[str]]:
    """Each P2 section's Markdown lines, rendered from the results as the report does."""
    r = Strict(json.loads(json.dumps(saved)), "p2_results.json", "python p2_occlusion.py")
    figs = Figures(folder, NOTES)
    return {sec.label: sec.render(r, figs) for sec in report_p2.SECTIONS}


def sentences(text: str) -> list[str]:
    """Sentences of a text with every number masked: '2.4% [1.3, 3.6] of 8,820' -> '#% [#, #] of #'."""
    masked = re.sub(r"\d[\d,.]*", "#", re.sub(r"\(p2_\w+\.png\)", "", text))
    return [s.strip() for s in re.split(r"(?<=[.;])\s+(?=[A-Z*'(#])", masked) if s.strip()]


def test_each_section_opens_with_a_short_answer_carrying_its_numbers(p2_run):
    saved = p2_run["saved"]
    sections = rendered(saved, p2_run["out"])
    for lines in sections.values():
        assert lines[0].startswith("**Answer.**") and opening_words(lines) <= ANSWER_WORDS, lines[0]
    assert main_body_words("\n".join(sum(sections.values(), []))) <= 900
    equal, n = saved["maps_equal_cells"], saved["n_positions"]
    assert (f"all {n} cells" if equal == n else f"{equal} of {n} cells") in sections["(1)"][0]
    region = saved["important_region"]
    assert f"at {region['n_below']} of {region['n_positions']} positions" in sections["(2)"][0]
    ch = saved["adversarial_study"]["every_position"]["changed"]["8"]
    assert f"{100 * ch['rate']:.1f}% [{100 * ch['ci95'][0]:.1f}, {100 * ch['ci95'][1]:.1f}] of {ch['n']:,}" \
        in sections["(3)"][0]


def test_no_p2_3_sentence_is_shared_with_its_numbers_masked(p2_run):
    saved = p2_run["saved"]
    # the same numbers for both guides: a sentence template shared by the strategies would repeat
    twin = json.loads(json.dumps(saved))
    for study in (twin["adversarial_study"],):
        for scope in study["rates"].values():
            for by in scope.values():
                by["white-map"]["changed"] = by["black-map"]["changed"]
        for by in study["where_guides_point"].values():
            by["white-map"] = by["black-map"]
    for results in (saved, twin):
        lines = rendered(results, p2_run["out"])["(3)"]
        body = "\n".join(line for line in lines if not line.startswith(("|", "!", "_`", "<", "(figure")))
        body = body[:body.find("<details>")] if "<details>" in body else body
        found = sentences(body)
        assert len(found) == len(set(found)), [s for s in found if found.count(s) > 1]


def test_the_judges_are_described_as_what_they_are(p2_run):
    text = "\n".join(rendered(p2_run["saved"], p2_run["out"])["(3)"])
    assert "independent" not in text
    assert "3 CNNs of our architecture trained on the same digits with seeds 1, 2 and 3, and an MLP" in text


def test_a_missing_field_stops_the_renderer_naming_it(p2_run):
    saved = json.loads(json.dumps(p2_run["saved"]))
    del saved["adversarial_study"]["every_position"]
    with pytest.raises(MissingField, match=r"no field 'adversarial_study\.every_position'"):
        rendered(saved, p2_run["out"])

