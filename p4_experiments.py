"""Problem 4: the evidence behind the written answers (p4_answers.md) about long protein sequences.

Answers, with measurements on protein-like sequences (one-hot over the 20 amino-acid letters):
(1) which parameters of eqs. 10.8-10.11 are hardest to learn: experiment 1 back-propagates a loss on
    the last step only through T = 2,000 steps and measures ‖∂L/∂h(t)‖ against the lag τ − t, for the
    vanilla RNN with W rescaled to several spectral radii and with Problem 3's W, and for the LSTM
    with forget-gate bias 0, +1, +3; it also measures the share of ∂L/∂W (and ∂L/∂b, ∂L/∂U) that
    comes from steps more than 100 back;
(2) which weights an echo state network fixes: experiment 2 keeps U, W, b fixed and random (W rescaled
    to a spectral radius ρ), learns only V, c by ridge regression on mean-pooled states, and reports
    held-out accuracy against sequence length and ρ, and the cost against BPTT on all weights;
(3) why an LSTM helps: experiment 1's LSTM curves.

Command:   .venv/bin/python p4_experiments.py      (flags: --seed 0, --epochs 3, --out figures, --quick)
Writes:    figures/p4_results.json (deterministic), figures/p4_timing.json (wall-clock seconds),
           figures/p4_gradient_decay.png, figures/p4_dW_share.png, figures/p4_esn.png
Expected (seed 0; 3 draws of sequence and weights per curve in experiment 1, H = 64, T = 2,000):
  Lag τ − t at which ‖∂L/∂h(t)‖ falls below 1e-6 of ‖∂L/∂h(τ)‖ (range over the draws):
    RNN ρ = 0.5: 15-16, ρ = 0.9: 34-40, ρ = 1.0: 44-54, ρ = 1.5: 162-1258 (edge of chaos),
    ρ = 3: never (it grows: 1.0e184 to 3.7e240 at lag 1,999, no float64 overflow),
    Problem 3's W (ρ = 2, H = 2, both units saturated, mean 1 − h² = 0.014): 4-5;
    LSTM forget bias 0: 31-38, +1: 94-112, +3: never (3.6e-5 to 2.3e3 at lag 1,999).
  Median share of ∂L/∂W from more than 100 steps back: 6e-40, 1e-17, 7e-14 for RNN ρ = 0.5, 0.9, 1;
    1.8e-3 for ρ = 1.5; 1.0 for ρ = 3; LSTM +0: 2e-16, +1: 1.3e-5, +3: 1.0.
  Experiment 2, 'KDEL' vs its reverse 'LEDK' planted 8 times (same composition within a pair),
    reservoir H = 48, 150 train / 150 test sequences; held-out accuracy, mean-pooled states:
    ρ = 0.9: 0.90 (T = 1,000), 0.75 (2,000), 0.69 (5,000); ρ = 0 (no memory): exactly 0.50;
    final state only: 0.49-0.52. Same T = 1,000 data: ESN readout 0.90; BPTT on all weights (Adam,
    from the ESN's U, W, b) 0.50 after each of its 3 epochs, training loss still 0.700 (ln 2 = 0.693).
    The seconds of each (and so the comparison at equal time) are in p4_timing.json.
Runtime:   about 10 s on 2 idle CPU cores; --quick: about 2 s. BLAS is limited to one thread (see
           single_threaded_blas).

Where things live: experiment 1 (gradient curves, tail shares) in common/longseq.py; the echo state
network in common/esn.py; the BPTT baseline and Adam in common/bptt.py; the figures in
common/plots_p4.py; the layers' math (rnn_forward/backward, lstm_forward/backward) in common/rnn.py.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from common.bptt import compare_costs
from common.cli import (
    FIGURES,
    Parser,
    nonnegative_int,
    positive_int,
    run,
    save_figure,
    versions,
    write_json_atomic,
)
from common.esn import DECOY, MOTIF, Exp2Config, echo_state_gap, experiment2_grid
from common.longseq import (
    DECAY,
    FAR,
    Exp1Config,
    experiment1,
    single_threaded_blas,
    summarise_draws,
)
from common.plots_p4 import plot_dW_share, plot_esn, plot_gradient_decay

INTERPRETATION = (
    "Protein-like sequences: letters drawn uniformly from the 20 amino acids, one-hot inputs x(t), "
    "h(0) = s(0) = 0, float64. Experiment 1's loss is the cross-entropy of ŷ(τ) = softmax(c + V h(τ)) "
    "for class 0 at the last step only (the curves are normalised by their value at τ, so this choice "
    "only sets the direction of ∂L/∂h(τ)). Random recurrent matrices are one Gaussian matrix rescaled to "
    "each spectral radius ρ; U ~ N(0, 0.5²), b = 0, V ~ N(0, 1/H), c = 0. Problem 3's W (2×2, "
    "eigenvalues 1 and 2) is used with Problem 3's b, V, c and a seeded random U of shape (2, 20), "
    "N(0, 0.5²), since Problem 3's U has only 2 input columns. The LSTM (p5_lstm.py) uses tanh on the "
    "cell input (as most libraries; the book prints σ) and ∂s(t)/∂s(t−1) = diag(f(t)) either way; its "
    "U's ~ N(0, 0.5²), W's ~ N(0, 1/H), all biases 0 except the forget gate's. Experiment 2's ESN "
    "classifies a sequence by o = c + V h̄ with h̄ the mean of h(t) over t (= the mean of the per-step "
    "outputs o(t)), V and c fitted by ridge regression to one-hot labels on standardised h̄ (λ = 1), "
    "then folded back so that o = c + V h̄ on the raw h̄. Its reservoir: U ~ N(0, 0.5²), b ~ N(0, 0.5²) "
    "(b ≠ 0 so that tanh mixes neighbouring inputs), W ~ N(0, 1) rescaled to ρ. Experiment 1 repeats "
    "every curve for independent draws of the sequence and of all weights; the JSON gives medians and "
    "each draw. The BPTT baseline trains W, U, b, V, c from the ESN's U, W, b and V = 0, c = 0 with "
    "Adam on minibatches of 10, loss −log softmax(c + V h̄)_y."
)


def lag_range(s: dict[str, Any]) -> str:
    """'14-16' or '179-1258' or 'never' over the draws."""
    lags = [e["lag_below_1e-6"] for e in s["draws"]]
    if all(v is None for v in lags):
        return "never"
    low, high = min(v for v in lags if v is not None), max(np.inf if v is None else v for v in lags)
    return (f"{low}" if low == high else f"{low}-{high if np.isfinite(high) else 'never'}")


# ---------------------------------------------------------------------------------------------
# Experiment 2: an echo state network on a motif task that needs memory.
# ---------------------------------------------------------------------------------------------


def value_range(values: Sequence[float], fmt: str = ".1e") -> str:
    """'a' or 'a to b' for the smallest and largest of some numbers."""
    low, high = min(values), max(values)
    return format(low, fmt) if format(low, fmt) == format(high, fmt) else f"{low:{fmt}} to {high:{fmt}}"


def short(name: str) -> str:
    return name.replace("RNN ", "").replace("LSTM ", "")


def share_text(e1: dict[str, dict[str, Any]], name: str, key: str = "share_of_dW_beyond_100") -> str:
    v = e1[name][key]
    return "overflow" if v is None else format(v, ".1e")


def lag_text(e1: dict[str, dict[str, Any]], name: str) -> str:
    return f"{short(name)}: {lag_range(e1[name])}"


def rnn_names(e1: dict[str, dict[str, Any]]) -> tuple[list[str], str, dict[str, float]]:
    """The RNN curves, the one of Problem 3's W, and the spectral radius of each other curve."""
    rnn = [k for k in e1 if k.startswith("RNN")]
    p3 = next(k for k in rnn if "Problem 3" in k)
    return rnn, p3, {k: float(k.split("= ")[1]) for k in rnn if k != p3}


def answer_q1(e1: dict[str, dict[str, Any]], T1: int) -> str:
    draws = len(next(iter(e1.values()))["draws"])
    rnn, p3, rhos = rnn_names(e1)
    smallest, largest = min(rhos, key=rhos.get), max(rhos, key=rhos.get)
    p3_lags = [d["lag_below_1e-6"] for d in e1[p3]["draws"]]
    small_lags = [d["lag_below_1e-6"] for d in e1[smallest]["draws"]]
    q1 = (f"Loss on the last of T = {T1} steps, {draws} draws; lag τ − t at which ‖∂L/∂h(t)‖ falls below 1e-6 · "
          "‖∂L/∂h(τ)‖: " + "; ".join(lag_text(e1, k) for k in rnn) + ". Median share of ∂L/∂W from more than "
          f"{FAR} steps back: " + "; ".join(f"{short(k)}: {share_text(e1, k)}" for k in rnn)
          + " (of ∂L/∂b and ∂L/∂U, whose per-step terms have equal norms for one-hot x: "
          + "; ".join(f"{short(k)}: {share_text(e1, k, 'share_of_db_beyond_100')}" for k in rnn) + ").")
    edge = [k for k in rnn if k != p3 and 1.0 < rhos[k] < rhos[largest]]
    for k in edge:
        lags = [d["lag_below_1e-6"] for d in e1[k]["draws"]]
        if None not in lags and max(lags) >= 2 * min(lags):
            q1 += (f" At {short(k)} the same ρ gives lags from {min(lags)} to {max(lags)} across the draws: "
                   "near the edge of chaos the gradient's behaviour hangs on details of W, the bifurcations "
                   "behind gradient cliffs.")
    if None not in p3_lags and None not in small_lags and max(p3_lags) < min(small_lags):
        q1 += (f" Problem 3's W has ρ = 2, yet its gradient vanishes by lag {max(p3_lags)}, sooner than at "
               f"{short(smallest)} ({min(small_lags)}): both units saturate, mean 1 − h² = "
               f"{e1[p3]['mean_local_factor']:.3f}, so a large ρ does not by itself mean an explosion.")
    return q1


def answer_q2(e2: dict[str, Any]) -> str:
    grid, lengths, rhos2 = e2["accuracy"]["pooled"], e2["lengths"], e2["spectral_radii"]
    final = [v for row in e2["accuracy"]["final_state"].values() for v in row.values()]
    cost = e2["cost_comparison"]
    bptt = cost["bptt"]
    gap_t = "100" if "100" in next(iter(e2["echo_state_gap"].values())) else None
    above = bptt["first_epoch_above_chance"]
    return (f"Held-out accuracy ({e2['test_sequences']} sequences, chance 0.5), mean-pooled states, ρ = "
            + ", ".join(f"{r:g}" for r in rhos2) + ": "
            + "; ".join(f"T = {T}: " + ", ".join(f"{grid[str(T)][f'{r:g}']:.2f}" for r in rhos2) for T in lengths)
            + ". The final state alone gives " + value_range(final, ".2f") + " over every ρ and T"
            + ("" if gap_t is None else ": two runs from different h(0) differ by "
               + ", ".join(f"{g[gap_t]:.0e} (ρ = {r})" for r, g in e2["echo_state_gap"].items() if r != "0")
               + f" after {gap_t} steps")
            + f". Same T = {cost['T']} data: the ESN's readout {cost['esn_test_accuracy']:.2f}; BPTT on all weights, "
            f"held-out accuracy after each of its {bptt['epochs']} epochs "
            + ", ".join(f"{a:.2f}" for a in bptt["test_accuracy_per_epoch"])
            + (f", above chance from epoch {above}" if above else
               ", never above chance by more than two standard errors")
            + f" (training loss {bptt['train_loss_per_epoch'][-1]:.3f} at the end, ln 2 = 0.693).")


def answer_q3(e1: dict[str, dict[str, Any]], T1: int) -> str:
    draws = len(next(iter(e1.values()))["draws"])
    last = str(T1 - 1)
    _, _, rhos = rnn_names(e1)
    largest = max(rhos, key=rhos.get)
    lstm = [k for k in e1 if k.startswith("LSTM")]

    def ratio_at_end(name: str) -> str:
        return value_range([d["ratio_at_lag"][last] for d in e1[name]["draws"] if d["ratio_at_lag"][last] is not None])

    def forget_path(name: str) -> str:
        lags = [d["forget_path_lag_below_1e-6"] for d in e1[name]["draws"]]
        return "never" if None in lags else (f"{min(lags)}" if min(lags) == max(lags) else f"{min(lags)}-{max(lags)}")

    q3 = (f"Lag at which ‖∂L/∂h(t)‖ falls below 1e-6 ({draws} draws): " + "; ".join(
              f"{lag_text(e1, k)}, mean f {e1[k]['mean_local_factor']:.2f}, share of ∂L/∂W beyond {FAR} "
              f"{share_text(e1, k)}" for k in lstm)
          + ". The diag(f) path alone (best unit) falls below 1e-6 at lag "
          + ", ".join(f"{forget_path(k)} ({short(k)})" for k in lstm) + ".")
    full_share = [k for k in (*lstm, largest) if e1[k]["share_of_dW_beyond_100"] is not None
                  and e1[k]["share_of_dW_beyond_100"] > 0.5]
    lstm_full = [k for k in full_share if k in lstm]
    if lstm_full and largest in full_share:
        k = lstm_full[-1]
        q3 += (f" {k} and the RNN at {short(largest)} both draw most of ∂L/∂W from beyond lag {FAR} "
               f"({share_text(e1, k)} and {share_text(e1, largest)}), for opposite reasons: at lag {last} the "
               f"LSTM's ‖∂L/∂h‖ is {ratio_at_end(k)} of its value at τ, the RNN's {ratio_at_end(largest)}. The "
               "LSTM's far letters contribute on the scale of the near ones, which is what a long-range task "
               "needs; the RNN's far past swamps the gradient, which then points wherever the distant letters say.")
    return q3


def build_answers(e1: dict[str, dict[str, Any]], e2: dict[str, Any], T1: int) -> dict[str, str]:
    """The measured half of each answer, every number and comparison read from the results (the
    argument itself is in p4_answers.md; the report prints both)."""
    return {"q1": answer_q1(e1, T1), "q2": answer_q2(e2), "q3": answer_q3(e1, T1)}


def print_report(r: dict[str, Any], timing: dict[str, float]) -> None:
    e1, e2 = r["experiment1"]["curves"], r["experiment2"]
    cfg1 = r["config"]["experiment1"]
    T1 = cfg1["T"]
    print(f"Problem 4, experiment 1: loss on the last of T = {T1} steps, H = {cfg1['H']}, "
          f"{cfg1['draws']} draws of sequence and weights")
    print("  lag τ − t at which ‖∂L/∂h(t)‖ < 1e-6 ‖∂L/∂h(τ)‖ (each draw), median share of ∂L/∂W and "
          "∂L/∂b from lags > 100, mean 1 − h² (RNN) or mean f (LSTM)")
    print(f"  {'network':36s} {'lag per draw':>22s} {'dW >100':>9s} {'db >100':>9s} {'1−h² / f':>9s}")
    for name, s in e1.items():
        lags = ", ".join("never" if e["lag_below_1e-6"] is None else str(e["lag_below_1e-6"]) for e in s["draws"])
        cells = ["ovf" if v is None else f"{v:.1e}" for v in (s["share_of_dW_beyond_100"], s["share_of_db_beyond_100"])]
        print(f"  {name:36s} {lags:>22s} {cells[0]:>9s} {cells[1]:>9s} {s['mean_local_factor']:9.3f}")
    for name, s in e1.items():
        if "forget_path_lag_below_1e-6" in s:
            print(f"  {name}: the diag(f) path alone, max_i Π f_i, falls below 1e-6 at lag "
                  + ", ".join(str(e["forget_path_lag_below_1e-6"]) for e in s["draws"]))
    for name, s in e1.items():
        grew = [e["max_ratio"] for e in s["draws"] if e["lag_below_1e-6"] is None]
        if grew:
            print(f"  {name}: never below 1e-6 in {len(grew)} draw(s); largest ratio "
                  + ", ".join(f"{g:.1e}" for g in grew)
                  + (" (no float64 overflow)" if all(e["overflow_lag"] is None for e in s["draws"]) else ""))
    print(f"\nExperiment 2: ESN, '{MOTIF}' vs '{DECOY}' x {e2['copies']}, H = {e2['H']}, "
          f"{e2['train_sequences']} train / {e2['test_sequences']} test sequences; held-out accuracy")
    for kind in ("pooled", "final_state"):
        label = {"pooled": "readout on mean-pooled states", "final_state": "readout on the final state h(τ)"}[kind]
        print(f"  {label:34s}" + "  ".join(f"ρ={r:<5g}" for r in e2["spectral_radii"]))
        for T in e2["lengths"]:
            row = e2["accuracy"][kind][str(T)]
            print(f"    T = {T:<28d}" + "  ".join(f"{row[f'{r:g}']:<7.2f}" for r in e2["spectral_radii"]))
    print("  echo state check, ‖h_A(t) − h_B(t)‖/√H from h(0) = 0 and h(0) ~ U(−1, 1), same input:")
    for rho, gaps in e2["echo_state_gap"].items():
        print(f"    ρ = {rho:<5s} " + ", ".join(f"t = {t}: {g:.1e}" for t, g in gaps.items()))
    cost = e2["cost_comparison"]
    print(f"  cost on the same T = {cost['T']} data, ρ = {cost['spectral_radius']:g}, "
          f"{cost['train_sequences']} training sequences (same numpy rnn_forward, one sequence at a time):")
    print(f"    ESN readout (one forward pass + ridge solve): {timing['esn_readout_seconds']:.2f} s, "
          f"test accuracy {cost['esn_test_accuracy']:.2f}")
    print(f"    BPTT, all weights, {cost['bptt']['epochs']} epochs ({cost['bptt']['optimizer']}): "
          f"{timing['bptt_seconds']:.2f} s ({timing['bptt_seconds'] / timing['esn_readout_seconds']:.1f}x), "
          f"train loss per epoch {', '.join(f'{v:.4f}' for v in cost['bptt']['train_loss_per_epoch'])} "
          f"(ln 2 = 0.6931), test accuracy per epoch "
          f"{', '.join(f'{v:.2f}' for v in cost['bptt']['test_accuracy_per_epoch'])}")


def build_parser() -> Parser:
    parser = Parser(description="Problem 4: vanishing/exploding gradients over 2,000 steps (RNN, LSTM) "
                                "and an echo state network on long protein-like sequences.")
    parser.add_argument("--seed", type=nonnegative_int, default=0, help="seed of every random draw")
    parser.add_argument("--epochs", type=positive_int, default=3, help="BPTT epochs in the cost comparison")
    parser.add_argument("--out", type=Path, default=FIGURES, help="folder for the JSON files and figures")
    parser.add_argument("--quick", action="store_true", help="tiny sizes (for tests): T = 300, short ESN runs")
    return parser


def configs(quick: bool) -> tuple[Exp1Config, Exp2Config]:
    rhos1, biases = (0.5, 0.9, 1.0, 1.5, 3.0), (0.0, 1.0, 3.0)
    rhos2 = (0.0, 0.5, 0.9, 0.99, 1.2)
    if quick:
        return (Exp1Config(T=300, H=16, rhos=rhos1, forget_biases=biases, draws=2),
                Exp2Config(lengths=(100, 200), rhos=rhos2, H=16, train_pairs=15, test_pairs=10, copies=4))
    return (Exp1Config(T=2000, H=64, rhos=rhos1, forget_biases=biases),
            Exp2Config(lengths=(1000, 2000, 5000), rhos=rhos2, H=48, train_pairs=75, test_pairs=75, copies=8))


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = build_parser().parse_args(argv)
    with single_threaded_blas():
        return run_experiments(args.seed, args.epochs, args.out, args.quick)


def run_experiments(seed: int, epochs: int, out: Path, quick: bool) -> dict[str, Any]:
    """Both experiments, the figures and the JSON files; returns the results dict."""
    started = time.perf_counter()
    cfg1, cfg2 = configs(quick)
    bptt_lr, bptt_batch, cost_rho = 0.01, 10, 0.9

    draws = [experiment1(seed, cfg1, d) for d in range(cfg1.draws)]
    e1 = summarise_draws(draws)

    grid = experiment2_grid(seed, cfg2)
    gaps = echo_state_gap(seed, max(cfg2.lengths), cfg2.H, cfg2.rhos)
    cost, timing = compare_costs(seed, cfg2, cfg2.lengths[0], cost_rho, epochs, bptt_lr, bptt_batch)

    e2 = {"task": (f"binary: was '{MOTIF}' (label 1) or its reverse '{DECOY}' (label 0) planted {cfg2.copies} "
                   "times in a uniform random sequence; each pair of sequences shares background and "
                   "positions, so composition is identical and only order separates the classes"),
          "copies": cfg2.copies, "H": cfg2.H, "ridge_lambda": cfg2.lam, "lengths": list(cfg2.lengths),
          "spectral_radii": list(cfg2.rhos), "train_sequences": 2 * cfg2.train_pairs,
          "test_sequences": 2 * cfg2.test_pairs, "chance": 0.5, "accuracy": grid,
          "echo_state_gap": gaps, "cost_comparison": cost}
    results = {
        "interpretation": INTERPRETATION,
        "config": {"seed": seed, "quick": quick, "experiment1": cfg1._asdict(),
                   "experiment2": cfg2._asdict(), "bptt_epochs": epochs, "bptt_lr": bptt_lr,
                   "bptt_batch": bptt_batch},
        "experiment1": {"loss": "−log ŷ_0(τ), last step only", "threshold": DECAY,
                        "summary": "per curve: medians over the draws (None = never), then each draw",
                        "curves": e1},
        "experiment2": e2,
        "versions": versions("numpy"),
    }
    results["answers"] = build_answers(e1, e2, cfg1.T)

    save_figure(plot_gradient_decay(draws), out / "p4_gradient_decay.png")
    save_figure(plot_dW_share(draws), out / "p4_dW_share.png")
    save_figure(plot_esn(grid, cfg2.lengths, cfg2.rhos, 2 * cfg2.test_pairs), out / "p4_esn.png")
    write_json_atomic(out / "p4_results.json", results)
    timing = {**timing, "bptt_over_esn": timing["bptt_seconds"] / timing["esn_readout_seconds"],
              "total_seconds": time.perf_counter() - started, "quick": quick,
              "note": "wall-clock seconds on this machine; they vary from run to run"}
    write_json_atomic(out / "p4_timing.json", timing)
    print_report(results, timing)
    print(f"\nwrote {out}/p4_results.json, p4_timing.json, p4_gradient_decay.png, p4_dW_share.png, "
          f"p4_esn.png in {timing['total_seconds']:.1f} s")
    return results


if __name__ == "__main__":
    sys.exit(run(main))
