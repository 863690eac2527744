"""P1 (2)'s conv3 cells in words: what each chosen channel responds to, the digits it fires for, the
strokes under it, and the ablation; report/p1.py places them in the evidence."""
from __future__ import annotations

from report.md import listing, pct, table

INK_WHERE = {"0s": "where 0s have more ink than 8s", "8s": "where 8s have more ink than 0s",
             "both": "where both digits have ink", "neither": "over pixels empty in both digits"}


def what_it_sees(c, plural: bool = False) -> str:
    """Where the extra ink of the cell's strongest digits sits and its strokes (no numbers)."""
    t = c["responds_to"]
    stroke = "" if t["stroke"] == "mixed" else f" in a {t['stroke']} stroke"
    side = "at the centre" if t["ink_side"] == "centre" else f"toward the {t['ink_side']}"
    field = "the field" if plural else "its field"
    if t["polarity"] == "ink":
        return f"with extra ink {side} of {field}{stroke}"
    return f"leaving the centre of {field} darker than the average digit, with ink {side}{stroke}"


def labels_phrase(c) -> str:
    t = c["responds_to"]
    n = t["strongest_digits"]
    return (f"all {n} of its strongest digits there are {t['majority']}s" if t["unanimous"] else
            f"{t['majority_count']} of its {n} strongest digits there are {t['majority']}s")


def ink_numbers(c) -> str:
    return f"{c['ink_zero']:.2f} vs {c['ink_eight']:.2f} for 0s vs 8s"


def channel_sentence(c) -> str:
    return (f"Channel {c['channel']} at cell ({c['row']}, {c['col']}), {c['region']}, fires for {c['fires_for']}s "
            f"(d = {c['d_evaluated']:+.2f} held out) {INK_WHERE[c['ink_where']]} ({ink_numbers(c)}): "
            f"{labels_phrase(c)}, {what_it_sees(c)}.")


def shared_sentence(group) -> str:
    """Channels whose descriptions match but for numbers: the words once, each channel's numbers after."""
    c = group[0]
    numbers = "; ".join(f"channel {g['channel']}: cell ({g['row']}, {g['col']}), d = {g['d_evaluated']:+.2f} held "
                        f"out, ink {ink_numbers(g)}, {g['responds_to']['majority_count']} of "
                        f"{g['responds_to']['strongest_digits']} strongest digits are {g['responds_to']['majority']}s"
                        for g in group)
    return (f"Channels {listing([str(g['channel']) for g in group])}, at the {c['region']}, fire for {c['fires_for']}s "
            f"{INK_WHERE[c['ink_where']]}, their strongest digits {what_it_sees(c, plural=True)} ({numbers}).")


def description_key(c) -> tuple:
    t = c["responds_to"]
    return (c["region"], c["fires_for"], c["ink_where"], t["polarity"], t["ink_side"], t["stroke"])


def channel_lines(cells) -> list[str]:
    """One sentence per chosen channel; channels that the same words describe share one sentence."""
    groups: dict[tuple, list] = {}
    for c in cells:
        groups.setdefault(description_key(c), []).append(c)
    return [f"- {channel_sentence(g[0]) if len(g) == 1 else shared_sentence(g)}" for g in groups.values()]


def digit_groups(cells) -> str:
    """The chosen channels by the digit they fire for: their regions and numbers."""
    parts = []
    for digit in (0, 8):
        group = [c for c in cells if c["fires_for"] == digit]
        if group:
            regions = listing(list(dict.fromkeys(c["region"] for c in group)))
            parts.append(f"for the {digit} at the {regions} ({', '.join(str(c['channel']) for c in group)})")
    return "; ".join(parts)


def ablation_sentence(r) -> str:
    d, found = r["discriminant"], r["findings"]["discriminant"]
    a, seeds = d["ablation"], d["seeds"]
    held, missed = found["seeds_beating_random"], found["seeds_not_beating_random"]
    tail = (f"as on {len(held)} of {len(seeds)} training seeds" if not missed else
            f"true on {len(held)} of {len(seeds)} seeds, not on seed " + ", ".join(missed))
    return (f"Zeroing them cuts the other half's mean 0-vs-8 logit margin from {a['margin_before']:.2f} to "
            f"{a['margin_after']:.2f}; {len(a['channels'])} random channels leave "
            f"{a['random_margin_after_median']:.2f} (median of {len(a['random_margins_after'])}), {tail}.")


def strokes_sentence(d, found) -> str:
    """The features in this '0' and this '8', strongest first, and the cells over background in both."""
    empty = found["cells_over_background"]
    rest = (f"; {empty} of {len(d['top_cells'])} over empty pixels" if empty else "")
    if not d["features"]:
        return "None sits over a stroke of this '0' or '8'."
    return "Over this pair: " + listing([f"the {f}" for f in d["features"]]) + rest + "."


def span(box) -> str:
    """A pixel box [top, left, bottom, right] in words."""
    return f"rows {box[0]}–{box[2]}, columns {box[1]}–{box[3]}"


def stroke_details(d) -> list[str]:
    """How the strokes were found, each region's box, and each cell's core and strokes."""
    st = d["strokes"]
    found = "; ".join(f"the {digit}s' {name}: {span(v['box'])}" for key, digit in (("zero", 0), ("eight", 8))
                      for name, v in st[key]["regions"].items() if v["box"])
    named_from = "; ".join(f"this '{digit}': its {st['named_from'][key]}" for key, digit in (("zero", 0), ("eight", 8)))
    cells = [[c["channel"], f"({c['row']}, {c['col']})", span(c["core"]), c["stroke_zero"], c["stroke_eight"],
              c["class_stroke_zero"], c["class_stroke_eight"], "—" if c["over_background"] else c["feature"]]
             for c in d["top_cells"]]
    return [f"The strokes: a digit's holes are the background pixels (below {st['ink_threshold']:g}) that its ink "
            "encloses, found by flooding the background from the border; the 8's crossing is the ink between its "
            "two holes, its loops the ink above and below; the 0's open centre is its hole, its sides the ink left "
            "and right of it. A cell looks most at the 8x8 pixels at the centre of its "
            f"{st['rf']}x{st['rf']}-pixel receptive field (its core); the stroke under it is the region that fills "
            "most of the core, or background where the regions (ink or hole) fill less than "
            f"{pct(st['named_share_min'], 0)} of it. One rule for all: a cell over background in both shown digits "
            "names no feature, and a cell over background in both class maps has its ink 'over pixels empty in both "
            f"digits'. What names the shown digits' strokes: {named_from}. Of the correct test digits, "
            f"{st['zero']['with_holes']:,} of {st['zero']['digits']:,} 0s and {st['eight']['with_holes']:,} of "
            f"{st['eight']['digits']:,} 8s have these holes; in the class maps, the pixels that at least half of "
            f"them share: {found}.", "",
            *table(["channel", "cell", "core", "this '0'", "this '8'", "the 0s", "the 8s", "feature"], cells)]
