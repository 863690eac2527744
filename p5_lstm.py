"""Problem 5 (extra credit): an LSTM cell (eqs. 10.40-10.44) in place of Problem 3's recurrence.

Answers Problem 5 on Problem 3's sequence: ŷ(t) for t = 1..3, the custom loss, and the gradient of the
loss with respect to the forget-gate biases b^f by hand-written back-propagation through time, with
the per-step intermediate results from t = τ down to 1, checked against central differences and
torch autograd. Every gate and the cell input use Problem 3's U and W; V and c are Problem 3's. The
biases keep the four gates apart and are argued from what each gate should do at the start of
training (BIAS_JUSTIFICATION). s(0) = h(0) = 0.

Command:   .venv/bin/python p5_lstm.py      (flags: --eps 1e-4, --cell-activation sigmoid|tanh, --log e|10|2,
           --out, and each bias as two numbers: --b-f 1 1 --b-g -1 -1 --b-o 2 2 --b 0 0, the defaults)
Writes:    figures/p5_results.json and figures/p5_forget_bias_grad.png (per-step contributions to ∂L/∂b^f);
           a run with other flags writes to figures/readings/p5_<changed flags>/ unless --out says otherwise
Expected:  with σ on the cell input, as printed in eq. 10.41:
           ŷ(1) = [0.78752048, 0.21247952], ŷ(2) = [0.80913557, 0.19086443],
           ŷ(3) = [0.75624378, 0.24375622], L = 1.4772475,
           ∂L/∂b^f = [-0.013863857, 0.10905942] by BPTT, relative differences 5.4e-10 to central
           differences (ε = 1e-4) and below 1e-15 to torch autograd.
           With --cell-activation tanh: L = 1.6029638, ∂L/∂b^f = [0.032124509, 0.10992468].
Runtime:   about 2 s on 2 CPU cores, most of it importing torch (autograd cross-check) and matplotlib.

The math (the LSTM's forward/backward pairs, the output head and the custom loss) lives in
common/recurrent/rnn.py; this script holds the problem: the biases and why, the printed worked solution,
the cross-checks and the figure.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from common.core.cli import (
    Parser,
    add_reading_out_argument,
    finite_float,
    positive_float,
    reading_folder,
    run,
    save_figure,
    versions,
    write_json_atomic,
)
from common.core.gradcheck import numeric_gradient, rel_error
from common.core.text import sig
from common.plots.backend import plt
from common.recurrent.lstm import BLOCK_NAMES, CELL_ACTIVATIONS, LSTMGrads
from common.recurrent.problems import (
    PROBLEM5_BIASES,
    lstm_model_backward,
    lstm_model_forward,
    problem3_sequence,
    problem5_params,
)
from common.recurrent.rnn import LOG_BASES, OutputGrads
from common.recurrent.rnn_autograd import lstm_grad_b_f
from report.render import print_problem

INTERPRETATION = (
    "U and W of Problem 3 are used in every gate and in the cell input (same values, separate "
    "parameters, so ∂L/∂b^f is the gradient for the forget gate's own bias); V and c are Problem 3's. "
    "The LSTM's h(t) feeds Problem 3's output layer and loss."
)

# Why each bias of PROBLEM5_BIASES (common/recurrent/rnn.py). With U and W shared, the biases alone tell the gates
# apart, so each is set by what its gate should do before training; the four values differ.
BIAS_JUSTIFICATION = {
    "b_f": "keep. The forget gate starts mostly open, σ(1) = 0.73 at zero input, so s(t) keeps "
           "most of s(t−1) and the gradient passes back through ∂s(t)/∂s(t−1) = f(t) (Gers et al. 2000; "
           "Jozefowicz et al. 2015; the book recommends a forget bias of 1).",
    "b_g": "write cautiously. The input gate starts at σ(−1) = 0.27, and σ(−1) = 1 − σ(1), so at "
           "zero input the state settles at s = g z / (1 − f) = z: it stays in tanh's near-linear range, "
           "where ∂h/∂s = q (1 − tanh² s) is large. A gate at σ(0) = 0.5 would let s grow to 1.9 z.",
    "b_o": "show. The output gate is the state's only way to the loss: ∂L/∂s(t) contains "
           "q(t)(1 − tanh² s(t)) ∂L/∂h(t), and every gate's gradient, ∂L/∂b^f's included, is proportional to "
           "∂L/∂s. σ(2) = 0.88 passes most of it and keeps a slope σ'(2) = 0.10 to learn from.",
    "b": "no preference. The cell input z is the content written into the state; before training "
         "nothing favours a value, so its bias sits at the middle of its range: σ(0) = 0.5 (eq. 10.41 as "
         "printed) or tanh(0) = 0.",
}
BIAS_FLAGS = {"b_f": "--b-f", "b_g": "--b-g", "b_o": "--b-o", "b": "--b"}


def intermediate_rows(out: OutputGrads, g: LSTMGrads) -> list[dict[str, Any]]:
    """The per-step BPTT results, from t = τ down to 1 (t is 1-based): ∂L/∂o, the total ∂L/∂h and ∂L/∂s,
    and the gradient of every gate, of the cell input z and of their pre-activations a_f, a_g, a_q, a_z."""
    rows = []
    for t in reversed(range(len(g.dh))):
        row = {"t": t + 1, "dL_do": out.do[t].tolist(), "dL_dh": g.dh[t].tolist(), "dL_ds": g.ds[t].tolist()}
        for name in BLOCK_NAMES:
            row[f"dL_d{name}"] = g.block(g.dgates, name)[t].tolist()
            row[f"dL_da_{name}"] = g.block(g.da, name)[t].tolist()
        rows.append(row | {"contribution_to_dL_db_f": g.da_f[t].tolist()})
    return rows


def equal_preactivations(biases: dict[str, list[float]], cell_activation: str) -> list[str]:
    """Pairs of the pre-activations a_f, a_g, a_q, a_z that share a bias in some unit: with U and W
    shared, they are equal there. The activations are then equal too, except where z = tanh(a_z)
    meets a σ gate."""
    names = {"b_f": "f", "b_g": "g", "b_o": "q", "b": "z"}
    keys = list(names)
    out = []
    for n, k in enumerate(keys):
        for m in keys[n + 1:]:
            u, v = names[k], names[m]
            same = cell_activation == "sigmoid" or "z" not in (u, v)
            out += [f"a_{u} = a_{v} in unit {i + 1}" + (f", so {u} = {v}" if same else
                                                        f"; {u} = σ(a_{u}) and z = tanh(a_z) still differ")
                    for i, (p, q) in enumerate(zip(biases[k], biases[m])) if p == q]
    return out


def plot_contributions(da_f: np.ndarray) -> Any:
    """Bar chart of each step's contribution ∂L/∂a_f(t) to ∂L/∂b^f, per unit, with the sum. da_f (T, H)."""
    T, H = da_f.shape
    labels = [f"t = {t + 1}" for t in range(T)] + [r"sum = $\partial L/\partial b^f$"]
    values = np.vstack([da_f, da_f.sum(axis=0)])
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    width = 0.8 / H
    for i in range(H):
        pos = np.arange(T + 1) + (i - (H - 1) / 2) * width
        bars = ax.bar(pos, values[:, i], width, label=rf"unit {i + 1}: $\partial L/\partial b^f_{i + 1}$")
        ax.bar_label(bars, labels=[sig(v, 3) for v in values[:, i]], fontsize=9, padding=2)
    ax.axhline(0.0, color="black", lw=0.8)
    ax.set_xticks(np.arange(T + 1), labels)
    ax.set_ylabel(r"$\partial L/\partial a_f(t)$ (forget-gate pre-activation)")
    ax.margins(y=0.15)
    ax.set_title(r"Problem 5: each step's contribution to $\partial L/\partial b^f$ (BPTT)")
    ax.legend(loc="upper left")
    return fig


def build_parser() -> Parser:
    parser = Parser(description="Problem 5: LSTM forward pass, loss and ∂L/∂b^f by BPTT, "
                                "checked against central differences and torch autograd.")
    parser.add_argument("--eps", type=positive_float, default=1e-4, help="central-difference step ε")
    parser.add_argument("--cell-activation", choices=sorted(CELL_ACTIVATIONS), default="sigmoid",
                        help="activation on the cell input in eq. 10.41: σ as printed in the book, or tanh")
    for name, flag in BIAS_FLAGS.items():
        what = {"b_f": "forget gate", "b_g": "input gate", "b_o": "output gate", "b": "cell input"}[name]
        parser.add_argument(flag, type=finite_float, nargs=2, default=list(PROBLEM5_BIASES[name]),
                            metavar=("U1", "U2"), help=f"bias of the {what}, one per unit")
    parser.add_argument("--log", choices=sorted(LOG_BASES), default="e",
                        help="base of the log in the loss (e: natural)")
    add_reading_out_argument(parser, "p5")
    return parser


def output_folder(parser: Parser, args: Any) -> Path:
    """--out, or by default figures/ for this script's own reading and figures/readings/p5_<changed flags>/
    for any other (common.core.cli.out_folder)."""
    return reading_folder(parser, args, "p5", ("cell_activation", *BIAS_FLAGS, "log", "eps"))


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = build_parser()
    args = parser.parse_args(argv)
    out_dir = output_folder(parser, args)
    x, act, log = problem3_sequence(), args.cell_activation, args.log
    biases = {name: getattr(args, name) for name in BIAS_FLAGS}
    p, V, c = problem5_params(biases)

    yhat, loss, cache = lstm_model_forward(x, p, V, c, act, log)
    out, grads = lstm_model_backward(cache, log)
    grad_b_f = grads.params.b_f
    grad_central = numeric_gradient(lambda _b: lstm_model_forward(x, p, V, c, act, log)[1], p.b_f, args.eps)
    grad_autograd = lstm_grad_b_f(x, p, V, c, act, log)
    steps = cache.lstm.steps
    default = all(tuple(biases[n]) == PROBLEM5_BIASES[n] for n in BIAS_FLAGS)

    results = {
        "cell_input_activation": act,
        "log": log,
        "interpretation": INTERPRETATION + ("" if log == "e" else f" The loss's log is base {log}."),
        "bias_choice": "this script's choice" if default else "given on the command line",
        "bias_justification": BIAS_JUSTIFICATION,
        "equal_preactivations": equal_preactivations(biases, act),
        "eps": args.eps,
        "x": x.tolist(),
        "params": {**{name: value.tolist() for name, value in p._asdict().items()},
                   "V": V.tolist(), "c": c.tolist()},
        "forward": {name: [getattr(step, name).tolist() for step in steps] for name in "fgqzs"}
        | {"h": cache.out.h.tolist()},
        "yhat": yhat.tolist(),
        "loss": loss,
        "grad_b_f_bptt": grad_b_f.tolist(),
        "grad_b_f_central": grad_central.tolist(),
        "grad_b_f_autograd": grad_autograd.tolist(),
        "rel_error_central": rel_error(grad_b_f, grad_central),
        "rel_error_autograd": rel_error(grad_b_f, grad_autograd),
        "intermediate": intermediate_rows(out, grads),
        "versions": versions("numpy", "torch"),
    }
    print_problem(5, results, out_dir)
    write_json_atomic(out_dir / "p5_results.json", results)
    save_figure(plot_contributions(grads.da_f), out_dir / "p5_forget_bias_grad.png")
    print(f"\nwrote {out_dir / 'p5_results.json'} and {out_dir / 'p5_forget_bias_grad.png'}")
    return results


if __name__ == "__main__":
    sys.exit(run(main))
