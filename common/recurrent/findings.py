"""Problem 4's findings: every decision the written answers rest on, computed from the measured
results (longseq.summarise_draws, gain.summarise_gains, esn.experiment2_grid) and stored with its value
and its outcome, so that report/p4.py only selects and formats.

A `spread` is {"min", "max", "missing", "count"} over the draws: the extremes of the values that are not
None, how many are None ("never" for a lag, an overflow for a share) and how many draws there are.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

SAME_SHARE = 1.25  # ∂L/∂b's and ∂L/∂W's far shares "about the same" when within this factor in every draw
GROWS_ORDERS = 2  # a spread of end ratios over this many orders of magnitude, one above 1: grow and fade
GAP_CLOSED = 1e-12  # the echo state gap has closed when two starts end closer than this (float64 noise: 1e-16)
SATURATED = 0.1  # a network's units are saturated when their mean tanh' = 1 − h² is below this


def spread(values: Sequence[float | None]) -> dict[str, Any]:
    """The extremes of the values that are not None, how many are None, and how many there are."""
    hit = [v for v in values if v is not None]
    return {"min": min(hit) if hit else None, "max": max(hit) if hit else None,
            "missing": len(values) - len(hit), "count": len(values)}


def lower_median(values: Sequence[float]) -> float:
    """The median of the values (the lower one for an even count)."""
    ordered = sorted(values)
    return ordered[(len(ordered) - 1) // 2]


def draws_of(curves: dict[str, Any], name: str, key: str) -> list[Any]:
    return [d[key] for d in curves[name]["draws"]]


def rnn_radii(curves: dict[str, Any], rhos: Sequence[float]) -> dict[str, float]:
    """The RNN curves with a rescaled W (longseq.experiment1's labels 'RNN ρ = %g'), and their ρ."""
    return {f"RNN ρ = {rho:g}": float(rho) for rho in rhos}


def hardest(curves: dict[str, Any], radii: dict[str, float]) -> dict[str, Any]:
    """(1): the far shares of ∂L/∂W and ∂L/∂b at the smallest ρ, and the spread of ∂L/∂W's at the
    largest ρ above 1 short of the largest (the edge; None when there is none)."""
    low = min(radii, key=radii.get)
    dW, db = draws_of(curves, low, "share_of_dW_beyond_100"), draws_of(curves, low, "share_of_db_beyond_100")
    factor = max(max(w, b) / min(w, b) for w, b in zip(dW, db))
    edge = max((n for n in radii if 1 < radii[n] < max(radii.values())), key=radii.get, default=None)
    at_edge = None
    if edge is not None:
        shares = [v for v in draws_of(curves, edge, "share_of_dW_beyond_100") if v is not None]
        at_edge = {"curve": edge, "rho": radii[edge], "share_of_dW": spread(shares),
                   "median_share_of_dW": lower_median(shares)}
    return {"low_curve": low, "low_rho": radii[low], "median_share_of_dW": lower_median(dW),
            "median_share_of_db": lower_median(db),
            "db_to_dW_factor": {"value": factor, "threshold": SAME_SHARE, "below": factor < SAME_SHARE},
            "edge": at_edge}


def norm_and_radius(curves: dict[str, Any]) -> dict[str, Any]:
    """(1): per RNN curve, ρ(W) and the spread of ‖W‖₂ over the draws, whether ‖W‖₂ < 1 in every draw
    (the bound then forces vanishing), and whether the measured ratio stayed within ‖W‖₂^k in every draw."""
    out = {}
    for name in (n for n in curves if n.startswith("RNN")):
        norms = draws_of(curves, name, "spectral_norm_W")
        out[name] = {"spectral_radius": spread(draws_of(curves, name, "spectral_radius_W")),
                     "spectral_norm": spread(norms), "norm_below_1": all(v < 1 for v in norms),
                     "within_norm_bound": all(draws_of(curves, name, "within_norm_bound"))}
    return {"curves": out, "within_norm_bound_everywhere": all(c["within_norm_bound"] for c in out.values())}


def gain_findings(g: dict[str, Any]) -> dict[str, Any]:
    """(1): W's median gain per ρ and where it changes sign; whether moving U or b stays below W's own
    gain in every draw; the first base ρ below 1 where no U or b makes the gradient grow."""
    med = [lower_median([v for v in (d["W"][i] for d in g["draws"]) if v is not None])
           for i in range(len(g["rhos"]))]
    pairs = [[a, b] for a, b, ga, gb in zip(g["rhos"], g["rhos"][1:], med, med[1:]) if ga < 0 <= gb]
    ceiling = g["ceiling"]
    below = all(w is not None and (m is None or m < w) for c in ceiling.values()
                for w, m in zip(c["W_alone_per_draw"], c["max_with_input_per_draw"]))
    stable = [k for k, c in ceiling.items() if float(k) < 1 and all(
        m is None or m < 0 for m in c["max_with_input_per_draw"])]
    return {"W_median": med, "crossing": pairs[0] if pairs else None, "input_below_W_alone": below,
            "max_spread": max(g["spreads"]), "draws": len(g["draws"]), "base_rhos": list(ceiling),
            "stable_rho": stable[0] if stable else None}


def curve_spreads(curves: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per curve, the spread over the draws of each cited lag and far share."""
    keys = ("lag_below_1e-6", "forget_path_lag_below_1e-6", "share_of_dW_beyond_100", "share_of_db_beyond_100")
    return {name: {k: spread(draws_of(curves, name, k)) for k in keys if k in c["draws"][0]}
            for name, c in curves.items()}


def reach(curves: dict[str, Any], name: str, T: int) -> dict[str, Any]:
    """(3): at the largest forget bias, whether the whole gradient never vanishes while the diag(f) path
    always does, and the spread of the ratio at lag T − 1 with whether it spans growth and fading."""
    total, path = draws_of(curves, name, "lag_below_1e-6"), draws_of(curves, name, "forget_path_lag_below_1e-6")
    end = [v for v in (d[str(T - 1)] for d in draws_of(curves, name, "ratio_at_lag")) if v is not None]
    out = {"curve": name, "total_never_path_always": all(v is None for v in total) and all(
        v is not None for v in path), "end_lag": T - 1, "end_ratio": spread(end), "end_orders": None}
    if end:
        orders = float(np.log10(max(end) / min(end)))
        out["end_orders"] = {"value": orders, "threshold": GROWS_ORDERS, "max_above_1": max(end) > 1,
                             "grows_and_fades": max(end) > 1 and orders >= GROWS_ORDERS}
    return out | {"split": path_split(curves, name)}


def problem3_w(curves: dict[str, Any]) -> dict[str, Any]:
    """(1): Problem 3's own W, whose spectral radius (2) is past the crossing: the lags where its
    gradient falls below the threshold, its units' mean tanh' and whether they are saturated."""
    name = next(n for n in curves if n.startswith("RNN, Problem 3"))
    slope = curves[name]["mean_local_factor"]
    return {"lag_below_1e-6": spread(draws_of(curves, name, "lag_below_1e-6")),
            "mean_slope": slope, "saturated": slope < SATURATED, "threshold": SATURATED}


def path_split(curves: dict[str, Any], name: str) -> dict[str, Any]:
    """(3): per reported lag, the spread over the draws of the whole ‖∂L/∂h‖ ratio and of Π f along the
    diag(f) path alone, and whether the path alone is below the whole gradient in every draw."""
    whole, path = draws_of(curves, name, "ratio_at_lag"), draws_of(curves, name, "forget_path_at_lag")
    return {k: {"whole": spread([w[k] for w in whole]), "path_alone": spread([p[k] for p in path]),
                "path_below_whole": all(w[k] is not None and p[k] is not None and p[k] < w[k]
                                        for w, p in zip(whole, path))}
            for k in whole[0]}


def echo_state(e2: dict[str, Any]) -> dict[str, Any]:
    """(2): at the largest ρ, ‖W‖₂, the gap between two starts at the last step checked, and whether it
    closed (below GAP_CLOSED)."""
    rho = f"{max(e2['spectral_radii']):g}"
    steps = e2["echo_state_gap"][rho]
    last = list(steps)[-1]
    return {"rho": rho, "spectral_norm": e2["reservoir_spectral_norm"][rho], "step": int(last),
            "gap": steps[last], "threshold": GAP_CLOSED, "closes": steps[last] < GAP_CLOSED}


def esn_findings(e2: dict[str, Any]) -> dict[str, Any]:
    """(2): the best ρ > 0 at the shortest length, its accuracy and 95% interval per length and whether
    the accuracy falls with every step up in length; the final state's spread and whether every one of
    its intervals holds chance; whether ρ = 0 sits exactly at chance; the echo state check at the largest ρ."""
    pooled, lengths = e2["accuracy"]["pooled"], e2["lengths"]
    radii = [f"{x:g}" for x in e2["spectral_radii"]]
    best = max((k for k in radii if k != "0"), key=lambda k: pooled[str(lengths[0])][k])
    accs = [pooled[str(T)][best] for T in lengths]
    final = [v for row in e2["accuracy"]["final_state"].values() for v in row.values()]
    final_ci = [v for row in e2["accuracy_interval_95"]["final_state"].values() for v in row.values()]
    memoryless = [pooled[str(T)]["0"] for T in lengths] if "0" in radii else []
    return {"best_rho": best, "best_accuracy": accs, "falls": all(a > b for a, b in zip(accs, accs[1:])),
            "best_interval_95": [e2["accuracy_interval_95"]["pooled"][str(T)][best] for T in lengths],
            "final_state": spread(final),
            "final_state_intervals_hold_chance": all(lo <= e2["chance"] <= hi for lo, hi in final_ci),
            "memoryless_at_chance": bool(memoryless) and all(a == e2["chance"] for a in memoryless),
            "echo_state_at_largest_rho": echo_state(e2)}


def p4_findings(results: dict[str, Any], rhos: Sequence[float]) -> dict[str, Any]:
    """Every decision of the P4 answers, from the results dict of p4_experiments.py."""
    e1 = results["experiment1"]
    curves, T = e1["curves"], results["config"]["experiment1"]["T"]
    radii = rnn_radii(curves, rhos)
    lstm = [n for n in curves if n.startswith("LSTM")]
    return {"rnn_rhos": radii, "lstm_curves": lstm, "hardest": hardest(curves, radii),
            "gain": gain_findings(e1["gain"]), "spreads": curve_spreads(curves),
            "norm_and_radius": norm_and_radius(curves),
            "reach": reach(curves, lstm[-1], T), "esn": esn_findings(results["experiment2"]),
            "problem3_W": problem3_w(curves)}
