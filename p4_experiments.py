"""Problem 4: the measurements behind the written argument (p4_answers.md) about long protein sequences.

One-hot protein-like sequences (20 amino-acid letters), the RNN of eqs. 10.8-10.11 and an LSTM of
eqs. 10.40-10.44 (tanh cell input, random weights; not Problem 5's):
(1) which parameters are hardest to learn: experiment 1 back-propagates a loss on the last of
    T = 2,000 steps and measures ‖∂L/∂h(t)‖ against the lag τ − t (RNN with W rescaled to several
    spectral radii ρ, Problem 3's W, LSTM with forget-gate bias 0, +1, +3) and the share of ∂L/∂W
    and ∂L/∂b from more than 100 steps back; the gain sweep measures the per-step gain λ of ∂L/∂h
    as W, U or b moves alone;
(2) which weights an echo state network fixes: experiment 2 keeps U, W, b fixed and random, fits
    only V, c by ridge regression on mean-pooled states, and measures held-out accuracy against
    the sequence length and ρ on 'KDEL' against 'LEDK' planted in random sequences;
(3) why an LSTM helps: experiment 1's LSTM curves and the diag(f) path alone.

Command:   .venv/bin/python p4_experiments.py      (flags: --seed 0, --out figures, --quick)
Writes:    figures/p4_results.json, p4_gradient_decay.png, p4_dW_share.png, p4_gain.png, p4_esn.png,
           and prints the answers (report/p4.py renders them, here and in the report).
Expected (seed 0; 5 draws of sequence and weights in experiment 1, H = 64, T = 2,000): ‖∂L/∂h‖
  falls below 1e-6 of its value at τ by lag 14-16 at ρ = 0.5 and 34-40 at ρ = 0.9, by lag 160 or
  later (or never) at ρ = 1.5, and never at ρ = 3; the LSTM's by lag 31-38 (forget bias 0), 94-114
  (+1), never (+3). The share of ∂L/∂b from lags > 100 is within 20% of ∂L/∂W's. λ rises from
  about −0.9 (ρ = 0.5) to +0.3 (ρ = 3); moving U or b never lifts it above W's own gain, about
  ln ρ(W). ESN held-out accuracy at ρ = 0.9: about 0.9 at T = 1,000, falling with T; exactly 0.5
  at ρ = 0.
Runtime:   about 10 s on 2 CPU cores; --quick: about 3 s. BLAS is limited to one thread.

Where things live: experiment 1 in common/recurrent/longseq.py; the gain sweep in common/recurrent/gain.py; the echo
state network in common/recurrent/esn.py; the figures in common/plots/p4.py; the words in report/p4.py; the
layers' math (rnn_forward/backward, lstm_forward/backward) in common/recurrent/rnn.py; every decision the
answers rest on (medians, spreads, crossings, thresholds) in common/recurrent/findings.py.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Sequence

from common.core.cli import (
    Parser,
    add_out_argument,
    nonnegative_int,
    run,
    save_figure,
    versions,
    write_json_atomic,
)
from common.plots.p4 import plot_esn, plot_far_share, plot_gain, plot_gradient_decay
from common.recurrent.esn import (
    DECOY,
    MOTIF,
    Exp2Config,
    echo_state_gap,
    experiment2_grid,
    reservoir_norms,
)
from common.recurrent.findings import p4_findings
from common.recurrent.gain import GainConfig, gain_sweep, summarise_gains
from common.recurrent.longseq import (
    DECAY,
    FAR,
    Exp1Config,
    experiment1,
    single_threaded_blas,
    summarise_draws,
)
from report.render import print_problem


def build_parser() -> Parser:
    parser = Parser(description="Problem 4: vanishing/exploding gradients over 2,000 steps (RNN, LSTM) "
                                "and an echo state network on long protein-like sequences.")
    parser.add_argument("--seed", type=nonnegative_int, default=0, help="seed of every random draw")
    add_out_argument(parser, "folder for the JSON files and figures")
    parser.add_argument("--quick", action="store_true", help="tiny sizes (for tests): T = 300, short ESN runs")
    return parser


def configs(quick: bool) -> tuple[Exp1Config, GainConfig, Exp2Config]:
    rhos1, biases = (0.5, 0.9, 1.0, 1.5, 3.0), (0.0, 1.0, 3.0)
    gain_rhos, base_rhos = (0.5, 0.75, 0.9, 1.0, 1.25, 1.5, 2.0, 3.0), (0.9, 1.5, 3.0)
    spreads = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0)
    rhos2 = (0.0, 0.5, 0.9, 0.99, 1.2)
    if quick:
        return (Exp1Config(T=300, H=16, rhos=rhos1, forget_biases=biases, draws=2),
                GainConfig(T=80, H=16, lag=40, rhos=gain_rhos, base_rhos=base_rhos, spreads=spreads, draws=2),
                Exp2Config(lengths=(100, 200), rhos=rhos2, H=16, train_pairs=15, test_pairs=10, copies=4))
    return (Exp1Config(T=2000, H=64, rhos=rhos1, forget_biases=biases, draws=5),
            GainConfig(T=300, H=64, lag=100, rhos=gain_rhos, base_rhos=base_rhos, spreads=spreads, draws=5),
            Exp2Config(lengths=(1000, 2000, 5000), rhos=rhos2, H=48, train_pairs=75, test_pairs=75, copies=8))


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = build_parser().parse_args(argv)
    with single_threaded_blas():
        results = run_experiments(args.seed, args.out, args.quick)
    print_problem(4, results, args.out)
    return results


def run_experiments(seed: int, out: Path, quick: bool) -> dict[str, Any]:
    """Both experiments and the gain sweep; writes the figures and p4_results.json, returns the results."""
    cfg1, cfg_gain, cfg2 = configs(quick)
    draws = [experiment1(seed, cfg1, d) for d in range(cfg1.draws)]
    gains = summarise_gains([gain_sweep(seed, cfg_gain, d) for d in range(cfg_gain.draws)], cfg_gain)
    grid = experiment2_grid(seed, cfg2)
    e1 = summarise_draws(draws)
    results = {
        "config": {"seed": seed, "quick": quick, "experiment1": cfg1._asdict(), "gain": cfg_gain._asdict(),
                   "experiment2": cfg2._asdict()},
        "experiment1": {"threshold": DECAY, "far": FAR, "curves": e1, "gain": gains},
        "experiment2": {"motif": MOTIF, "decoy": DECOY, "copies": cfg2.copies, "H": cfg2.H,
                        "ridge_lambda": cfg2.lam, "lengths": list(cfg2.lengths), "spectral_radii": list(cfg2.rhos),
                        "train_sequences": 2 * cfg2.train_pairs, "test_sequences": 2 * cfg2.test_pairs,
                        "chance": 0.5, "accuracy": {k: grid[k] for k in ("pooled", "final_state")},
                        "accuracy_interval_95": grid["interval_95"],
                        "reservoir_spectral_norm": reservoir_norms(seed, cfg2.H, cfg2.rhos),
                        "echo_state_gap": echo_state_gap(seed, max(cfg2.lengths), cfg2.H, cfg2.rhos)},
        "versions": versions("numpy"),
    }
    results["findings"] = p4_findings(results, cfg1.rhos)
    save_figure(plot_gradient_decay(draws), out / "p4_gradient_decay.png")
    names = list(e1)
    save_figure(plot_far_share(names, [[d["share_of_dW_beyond_100"] for d in e1[n]["draws"]] for n in names],
                               [[d["share_of_db_beyond_100"] for d in e1[n]["draws"]] for n in names], FAR),
                out / "p4_dW_share.png")
    save_figure(plot_gain(gains), out / "p4_gain.png")
    save_figure(plot_esn(grid, cfg2.lengths, cfg2.rhos, 2 * cfg2.test_pairs), out / "p4_esn.png")
    write_json_atomic(out / "p4_results.json", results)
    return results


if __name__ == "__main__":
    sys.exit(run(main))
