"""Problem 5 (extra credit): an LSTM cell (eqs. 10.40-10.44) in place of Problem 3's recurrence.

Answers Problem 5 on Problem 3's sequence: ŷ(t) for t = 1..3, the custom loss, and the gradient of the
loss with respect to the forget-gate biases b^f by hand-written back-propagation through time, with
the per-step intermediate results from t = τ down to 1, checked against central differences and
torch autograd. Every gate and the cell input use Problem 3's U and W; V and c are Problem 3's. The
biases keep the four gates apart and are argued from what each gate should do at the start of
training (bias_reading holds the numbers the argument cites; report/p5.py words it). s(0) = h(0) = 0.

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
from typing import Any, NamedTuple, Sequence

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
from common.plots.p5 import plot_contributions
from common.recurrent.lstm import (
    BLOCK_NAMES,
    CELL_ACTIVATIONS,
    LSTMGrads,
    LSTMParams,
    sigmoid,
)
from common.recurrent.problems import (
    PROBLEM5_BIASES,
    LSTMModelCache,
    lstm_model_backward,
    lstm_model_forward,
    problem3_sequence,
    problem5_params,
)
from common.recurrent.rnn import LOG_BASES, OutputGrads
from common.recurrent.rnn_autograd import lstm_grad_b_f
from report.render import print_problem

BIAS_FLAGS = {"b_f": "--b-f", "b_g": "--b-g", "b_o": "--b-o", "b": "--b"}


def intermediate_rows(out: OutputGrads, g: LSTMGrads) -> list[dict[str, Any]]:
    """The per-step BPTT results, from t = τ down to 1 (t is 1-based): ∂L/∂ŷ, ∂L/∂o, the total ∂L/∂h and
    ∂L/∂s, and the gradient of every gate, of the cell input z and of their pre-activations a_f, a_g, a_q, a_z."""
    rows = []
    for t in reversed(range(len(g.dh))):
        row = {"t": t + 1, "dL_dyhat": out.dyhat[t].tolist(), "dL_do": out.do[t].tolist(),
               "dL_dh": g.dh[t].tolist(), "dL_ds": g.ds[t].tolist()}
        for name in BLOCK_NAMES:
            row[f"dL_d{name}"] = g.block(g.dgates, name)[t].tolist()
            row[f"dL_da_{name}"] = g.block(g.da, name)[t].tolist()
        rows.append(row | {"contribution_to_dL_db_f": g.da_f[t].tolist()})
    return rows


GATE_OF_BIAS = {"b_f": "f", "b_g": "g", "b_o": "q", "b": "z"}


def equal_preactivations(biases: dict[str, list[float]], cell_activation: str) -> list[dict[str, Any]]:
    """Pairs of the pre-activations a_f, a_g, a_q, a_z that share a bias in some unit (1-based): with U and
    W shared, they are equal there. The activations are then equal too (activations_equal), except where
    z = tanh(a_z) meets a σ gate."""
    keys = list(GATE_OF_BIAS)
    out = []
    for n, k in enumerate(keys):
        for m in keys[n + 1:]:
            pair = [GATE_OF_BIAS[k], GATE_OF_BIAS[m]]
            same = cell_activation == "sigmoid" or "z" not in pair
            out += [{"pair": pair, "unit": i + 1, "activations_equal": same}
                    for i, (p, q) in enumerate(zip(biases[k], biases[m])) if p == q]
    return out


def bias_reading(p: LSTMParams, cell_activation: str) -> dict[str, list[float]]:
    """What each bias does at zero input, per unit, the numbers the argument for the biases cites: the
    gates f = σ(b^f), g = σ(b^g), q = σ(b^o) and q's slope σ'(b^o); the cell input z = act(b); the state's
    fixed point s = g z / (1 − f) as a multiple of z (state_gain), and with g = σ(0) = 0.5 instead."""
    act = CELL_ACTIVATIONS[cell_activation][0]
    f, g, q = sigmoid(p.b_f), sigmoid(p.b_g), sigmoid(p.b_o)
    return {"f": f.tolist(), "g": g.tolist(), "q": q.tolist(), "q_slope": (q * (1.0 - q)).tolist(),
            "z": act(p.b).tolist(), "state_gain": (g / (1.0 - f)).tolist(),
            "state_gain_half_gate": (0.5 / (1.0 - f)).tolist()}


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


class Problem5(NamedTuple):
    """Problem 3's sequence, the LSTM's parameters with Problem 3's V and c, and this run's reading."""

    x: np.ndarray
    p: LSTMParams
    V: np.ndarray
    c: np.ndarray
    act: str
    log: str
    eps: float

    def loss(self) -> float:
        return lstm_model_forward(self.x, self.p, self.V, self.c, self.act, self.log)[1]


def forward_and_loss(q: Problem5) -> tuple[dict[str, Any], LSTMModelCache]:
    """ŷ(t), every gate, the state and h(t), and the loss; with the cache for the gradient."""
    yhat, loss, cache = lstm_model_forward(q.x, q.p, q.V, q.c, q.act, q.log)
    steps = cache.lstm.steps
    return {"forward": {name: [getattr(step, name).tolist() for step in steps] for name in "fgqzs"}
            | {"h": cache.out.h.tolist()}, "yhat": yhat.tolist(), "loss": loss}, cache


def gradient(q: Problem5, cache: LSTMModelCache) -> tuple[dict[str, Any], np.ndarray]:
    """∂L/∂b^f by BPTT with every per-step intermediate, checked against central differences and torch
    autograd; with each step's contribution ∂L/∂a_f(t) (T, H) for the figure."""
    out, grads = lstm_model_backward(cache, q.log)
    grad_b_f = grads.params.b_f
    grad_central = numeric_gradient(lambda _b: q.loss(), q.p.b_f, q.eps)
    grad_autograd = lstm_grad_b_f(q.x, q.p, q.V, q.c, q.act, q.log)
    return {"grad_b_f_bptt": grad_b_f.tolist(), "grad_b_f_central": grad_central.tolist(),
            "grad_b_f_autograd": grad_autograd.tolist(), "rel_error_central": rel_error(grad_b_f, grad_central),
            "rel_error_autograd": rel_error(grad_b_f, grad_autograd),
            "intermediate": intermediate_rows(out, grads)}, grads.da_f


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = build_parser()
    args = parser.parse_args(argv)
    out_dir = output_folder(parser, args)
    biases = {name: getattr(args, name) for name in BIAS_FLAGS}
    p, V, c = problem5_params(biases)
    q = Problem5(problem3_sequence(), p, V, c, args.cell_activation, args.log, args.eps)
    forward, cache = forward_and_loss(q)
    derived, da_f = gradient(q, cache)
    results = {
        "cell_input_activation": q.act,
        "log": q.log,
        "default_biases": all(tuple(biases[n]) == PROBLEM5_BIASES[n] for n in BIAS_FLAGS),
        "bias_reading": bias_reading(p, q.act),
        "equal_preactivations": equal_preactivations(biases, q.act),
        "eps": q.eps,
        "x": q.x.tolist(),
        "params": {**{name: value.tolist() for name, value in p._asdict().items()}, "V": V.tolist(), "c": c.tolist()},
        **forward,
        **derived,
        "versions": versions("numpy", "torch"),
    }
    print_problem(5, results, out_dir)
    write_json_atomic(out_dir / "p5_results.json", results)
    save_figure(plot_contributions(da_f), out_dir / "p5_forget_bias_grad.png")
    print(f"\nwrote {out_dir / 'p5_results.json'} and {out_dir / 'p5_forget_bias_grad.png'}")
    return results


if __name__ == "__main__":
    sys.exit(run(main))
