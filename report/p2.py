"""P2's words: occluding a '6', what matters, adversarial patches.

Reads `p2_results.json` (written by p2_occlusion.py)."""
from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

from report.md import Figures, Section, coords, pct, prob, table

SCRIPT = "p2_occlusion.py"
TITLE = "occluding a '6' with an 8x8 black patch"
FIGURES = {
    'p2_maps.png': "P2 (1): the three occlusion maps of the '6' (p('6'), highest probability, label), also contrast-stretched, and the most damaging patch position.",
    'p2_regions.png': "P2 (2): the '6' split into stroke regions, the pixels the critical patches hide, and p('6') with each region erased.",
    'p2_population.png': "P2 (2): the mean p('6') map over the correctly classified test 6s, and how typical the example's map is.",
    'p2_sixes_gallery.png': "P2 (2): other 6s' p('6') maps, from most to least typical.",
    'p2_adversarial.png': "P2 (3): pasted windows that change the CNN's label while the judges still say '6', beside honest relabellings the judges agree with.",
    'p2_transplant_study.png': 'P2 (3): share of sampled windows that change the label at each paste position, and label-changed/adversarial rates with 95% intervals per placement strategy (example, other 6s, CNNs of other seeds).',
    'p2_attacks.png': "P2 (3): PGD (ε = 0.3 and the smallest flipping ε), an optimised 8x8 patch and a transplanted window on the same '6', with each change and its L0/L2/L∞.",
}


def p2_maps(r, figs: Figures) -> list[str]:
    pmap, stride, digit, fill = r["prob_true_map"], r["stride"], r["true_class"], r["fill"]
    low, i, j = min((v, i, j) for i, row in enumerate(pmap) for j, v in enumerate(row))
    tops = [v for row in r["max_prob_map"] for v in row]
    labels = Counter(lab for row in r["label_map"] for lab in row).most_common()
    corner = "(r, c)" if stride == 1 else f"(r*{stride}, c*{stride})"
    clean = f", p('{digit}') = {prob(r['clean_probs'][digit])} without a patch"
    rows = [[f"1: p('{digit}')", f"{prob(low)} (top-left corner at row {i * stride}, column {j * stride})",
             prob(max(v for row in pmap for v in row))],
            ["2: highest probability", prob(min(tops)), prob(max(tops))],
            ["3: label", ", ".join(f"'{lab}' at {k} position{'s' * (k != 1)}" for lab, k in labels), ""]]
    return [f"**Answer.** {r['answers']['q1']}", "",
            f"The '{digit}' is test digit {r['index']}{clean}. The patch is {r['patch']}x{r['patch']} "
            f"pixels of value {fill:g}{' (black)' if fill == 0 else ''}, moved with stride {stride}: "
            f"{len(pmap)}x{len(pmap[0])} positions, and map cell (r, c) is the patch whose top-left "
            f"corner is at pixel {corner}.", ""
            ] + table(["map", "lowest", "highest"], rows) + figs.link("p2_maps.png")


def p2_important(r, figs: Figures) -> list[str]:
    reg, digit = r["important_region"], r["true_class"]
    comp, share = reg["composition_of_covered_ink"], reg["mean_share_of_region_ink_covered"]
    rows = [[name.replace("_", " "), pct(comp[name]) if name in comp else "-",
             pct(share[name]) if name in share else "-", prob(e["prob_true"]),
             f"'{e['pred']}' ({prob(e['prob_pred'])})"] for name, e in reg["erase_region"].items()]
    below = (f"p('{digit}') < {reg['threshold']:g} at {reg['n_below']} of {reg['n_positions']} "
             "positions (the critical patches)" if not ("fallback_lowest_10" in reg and reg["fallback_lowest_10"]) else
             f"p('{digit}') never falls below {reg['threshold']:g}, so the 10 lowest positions stand in")
    return [f"**Answer.** {r['answers']['q2']}", "",
            f"{below}. The digit's ink is split into regions ({reg['region_definition']['method']}); "
            "for each: its share of the ink the critical patches hide, the mean share of its own "
            f"ink one critical patch hides, and p('{digit}') with the whole region erased:", ""
            ] + table(["region", "share of hidden ink", "share of its ink per patch",
                       f"p('{digit}') erased", "label erased (p)"], rows) + figs.link(
        "p2_regions.png", "p2_population.png", "p2_sixes_gallery.png")


def p2_ci(r) -> str:
    """A rate with its 95% interval: 12.3% [10.1, 14.8]."""
    return f"{100 * r['rate']:.1f}% [{100 * r['ci95'][0]:.1f}, {100 * r['ci95'][1]:.1f}]"


def p2_adversarial(r, figs: Figures) -> list[str]:
    study, digit = r["adversarial_study"], r["true_class"]
    rates = study["rates"]
    scopes = list(rates)
    names = {"example": "example", "other_sixes": f"other {digit}s"}
    head = ["window", "placement"] + [f"{names.get(sc, 'CNN ' + sc.replace('_', ' '))}: label changed"
                                      for sc in scopes] + ["example: adversarial"]
    rows = []
    sizes = sorted(rates["example"], key=int)  # the JSON's keys are sorted as text
    order = [st for st in ("black-map", "white-map", "random") if st in rates["example"][sizes[0]]]
    for size in sizes:
        for st in order:
            cells = [p2_ci(rates[sc][size][st]["changed"]) for sc in scopes]
            rows.append([f"{size}x{size}", st, *cells, p2_ci(rates["example"][size][st]["adversarial"])])
    lines = [f"**Answer.** {r['answers']['q3']}", "",
             "Label-changed and adversarial rates per placement (95% Wilson intervals; 'random' is every "
             "position on the example, uniform draws elsewhere):", ""] + table(head, rows)
    kinds = {"pgd": lambda x: f"PGD, ε = {x['eps']:g}",
             "pgd_min": lambda x: f"PGD, smallest ε = {x['eps']:.3f}" if x["eps"] is not None
             else "PGD, no flipping ε",
             "patch": lambda x: f"optimised {x['size']}x{x['size']} patch at {coords(x['position'])}",
             "transplant": lambda x: f"transplanted {x['size']}x{x['size']} windows at {coords(x['position'])} "
                                     "(medians over the flipping windows)"}
    cmp_rows = []
    for name in ("pgd", "pgd_min", "patch", "transplant"):
        row = study["comparison"][name] if name in study["comparison"] else {}
        if "l0" not in row or row["l0"] is None:
            continue
        success = p2_ci(row["success"]) if isinstance(row["success"], Mapping) else (
            f"yes, now '{row['cnn_label']}'" if row["success"] else "no")
        cmp_rows.append([kinds[name](row), success, f"{row['l0']:g}", f"{row['l2']:.2f}", f"{row['linf']:.2f}",
                         pct(row["transfer"])])
    lines += ["The other kinds of adversarial images on the same '6' (L0: pixels changed; L2, L∞: size of "
              "the change; transfer: share of the judges' labels that are no longer "
              f"'{digit}'):", ""] + table(["kind", "changes our CNN's label", "L0", "L2", "L∞", "transfer"],
                                          cmp_rows)
    return lines + figs.link("p2_transplant_study.png", "p2_adversarial.png", "p2_attacks.png")


SECTIONS = [Section("(1)", "The probability, top-probability and label maps", p2_maps),
            Section("(2)", "Which parts of the '6' matter", p2_important),
            Section("(3)", "Adversarial images from patches of other digits", p2_adversarial)]


def interpretations(r) -> list[str]:
    return [f"**The '6'** is test digit {r['index']}.", f"**Occlusion (Problem 2).** {r['interpretation']}"]
