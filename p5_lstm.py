"""Problem 5 (extra credit): an LSTM cell (eqs. 10.40-10.44) in place of Problem 3's recurrence.

Answers Problem 5 on Problem 3's sequence: ŷ(t) for t = 1..3, the custom loss, and the gradient of the
loss with respect to the forget-gate biases b^f by hand-written back-propagation through time, with
the per-step intermediate results from t = τ down to 1, checked against central differences and
torch autograd. Every gate and the cell input use Problem 3's U and W; V and c are Problem 3's; the
biases are chosen and justified in the output. s(0) = h(0) = 0.

Command:   .venv/bin/python p5_lstm.py      (flags: --eps 1e-4, --cell-activation sigmoid|tanh, --out figures)
Writes:    figures/p5_results.json and figures/p5_forget_bias_grad.png (per-step contributions to ∂L/∂b^f)
Expected:  with σ on the cell input, as printed in eq. 10.41:
           ŷ(1) = [0.80318167, 0.19681833], ŷ(2) = [0.82563835, 0.17436165],
           ŷ(3) = [0.76109555, 0.23890445], L = 1.4998625,
           ∂L/∂b^f = [-0.0056030408, 0.055610074] by BPTT, relative differences 3.4e-10 to central
           differences (ε = 1e-4) and 1.3e-16 to torch autograd.
           With --cell-activation tanh: L = 1.6807314, ∂L/∂b^f = [0.027342748, 0.062898724].
Runtime:   about 2 s on 2 CPU cores, most of it importing torch (autograd cross-check) and matplotlib.

The math (the LSTM's forward/backward pairs, the output head and the custom loss) lives in
common/rnn.py; this script holds the problem: the biases and why, the printed worked solution,
the cross-checks and the figure.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from common.cli import FIGURES, Parser, positive_float, run, save_figure, versions, write_json_atomic
from common.gradcheck import numeric_gradient, rel_error
from common.plotting import plt
from common.rnn import (CELL_ACTIVATIONS, LSTMGrads, LSTMParams, lstm_model_backward, lstm_model_forward,
                        problem3_params, problem3_sequence)
from common.text import print_table, sig

INTERPRETATION = (
    "U and W of Problem 3 are used in every gate and in the cell input (same values, separate "
    "parameters, so ∂L/∂b^f is the gradient for the forget gate's own bias); V and c are Problem 3's. "
    "s(0) = h(0) = 0. The LSTM's h(t) feeds Problem 3's output layer and loss."
)

BIAS_JUSTIFICATION = {
    "b_f": "[1, 1]: σ(1) = 0.73, so the forget gate starts mostly open; s(t) keeps its memory and "
           "∂s(t)/∂s(t−1) = f(t) lets the gradient flow back through time (Gers et al. 2000; "
           "Jozefowicz et al. 2015; recommended in the book, chapter 10).",
    "b": "[-1, 1]: the cell input uses Problem 3's b, U and W, so its pre-activation at t = 1 is "
         "Problem 3's a(1) = [-2, 2].",
    "b_g": "[0, 0]: σ(0) = 0.5, the input gate starts half open and neutral; new input enters the "
           "state, and σ'(0) = 0.25 is the largest slope, so the gate's own gradient is not squashed.",
    "b_o": "[0, 0]: the same reasoning for the output gate: h(t) = 0.5·tanh(s(t)) at first, so the "
           "state reaches the output and the loss's gradient reaches the state; there is no reason "
           "to favour closing or opening it before training.",
}

# ---------------------------------------------------------------------------------------------
# Problem 5's network: the LSTM, then Problem 3's output layer and loss, with s(0) = h(0) = 0.
# ---------------------------------------------------------------------------------------------


def problem5_params() -> tuple[LSTMParams, np.ndarray, np.ndarray]:
    """The LSTM's parameters (Problem 3's U and W everywhere, the chosen biases) and Problem 3's V, c."""
    p3 = problem3_params()
    gate = {"U": p3.U, "W": p3.W}
    biases = {"b": p3.b, "b_f": np.array([1.0, 1.0]), "b_g": np.zeros(2), "b_o": np.zeros(2)}
    p = LSTMParams(**biases, **{f"{m}{k}": gate[m].copy() for m in "UW" for k in ("", "_f", "_g", "_o")})
    return p, p3.V, p3.c


def autograd_grad_b_f(x: np.ndarray, p: LSTMParams, V: np.ndarray, c: np.ndarray,
                      cell_activation: str) -> np.ndarray:
    """Cross-check only: ∂L/∂b^f from torch autograd, on eqs. 10.40-10.44 and the loss rewritten in torch."""
    import torch

    t = {name: torch.tensor(value, dtype=torch.float64) for name, value in p._asdict().items()}
    b_f = t["b_f"].requires_grad_()
    cell = torch.sigmoid if cell_activation == "sigmoid" else torch.tanh
    h = s = torch.zeros_like(b_f)
    for x_t in torch.tensor(x, dtype=torch.float64):
        f = torch.sigmoid(b_f + t["U_f"] @ x_t + t["W_f"] @ h)
        g = torch.sigmoid(t["b_g"] + t["U_g"] @ x_t + t["W_g"] @ h)
        q = torch.sigmoid(t["b_o"] + t["U_o"] @ x_t + t["W_o"] @ h)
        s = f * s + g * cell(t["b"] + t["U"] @ x_t + t["W"] @ h)
        h = torch.tanh(s) * q
    y = torch.softmax(torch.tensor(c) + torch.tensor(V) @ h, dim=0)
    ((y[0] - 0.5) ** 2 - torch.log(y[1])).backward()
    return b_f.grad.numpy()


# ---------------------------------------------------------------------------------------------
# Report: printing, JSON and the figure.
# ---------------------------------------------------------------------------------------------


def intermediate_rows(g: LSTMGrads) -> list[dict[str, Any]]:
    """The per-step BPTT results for ∂L/∂b^f, from t = τ down to 1 (t is 1-based)."""
    return [{"t": t + 1, "dL_dh": g.dh[t].tolist(), "dL_ds": g.ds[t].tolist(), "dL_df": g.df[t].tolist(),
             "dL_da_f": g.da_f[t].tolist(), "contribution_to_dL_db_f": g.da_f[t].tolist()}
            for t in reversed(range(len(g.dh)))]


def print_report(r: dict[str, Any]) -> None:
    """Print the answers to Problem 5 from the results dict."""
    print(f"Problem 5: LSTM cell (eqs. 10.40-10.44), cell input activation {r['cell_input_activation']}, "
          "then Problem 3's output layer and loss")
    print(f"Interpretation: {r['interpretation']}")
    print("Biases:")
    for name, why in r["bias_justification"].items():
        print(f"  {name} = {why}")
    print("\nForward pass")
    print_table(["t", "f(t)", "g(t)", "q(t)", "s(t)", "h(t)", "ŷ(t)"],
                [[str(t + 1), *(sig(r["forward"][k][t]) for k in "fgqsh"), sig(r["yhat"][t])]
                 for t in range(len(r["yhat"]))])
    if r["params"]["b_g"] == r["params"]["b_o"]:
        print("  (g(t) = q(t): the input and output gates share U, W and their bias here)")
    print(f"  L = {sig(r['loss'])}\n")
    print("∂L/∂b^f by back-propagation through time, from t = τ down to 1")
    print("  ∂L/∂s(t) = q(t)(1 − tanh² s(t)) ∂L/∂h(t) + f(t+1) ∂L/∂s(t+1),  ∂L/∂f(t) = s(t−1) ∂L/∂s(t),")
    print("  ∂L/∂a_f(t) = f(t)(1 − f(t)) ∂L/∂f(t) for the forget pre-activation a_f,"
          "  ∂L/∂b^f = Σ_t ∂L/∂a_f(t)")
    print_table(["t", "∂L/∂h(t)", "∂L/∂s(t)", "∂L/∂f(t)", "∂L/∂a_f(t) = contribution to ∂L/∂b^f"],
                [[str(row["t"]), sig(row["dL_dh"]), sig(row["dL_ds"]), sig(row["dL_df"]),
                  sig(row["contribution_to_dL_db_f"])] for row in r["intermediate"]])
    print("  (at t = 1, s(0) = 0: the forget gate has nothing to forget, so its contribution is 0)")
    print(f"  sum over t: ∂L/∂b^f = {sig(r['grad_b_f_bptt'])}")
    print(f"  central differences, ε = {r['eps']:g}: {sig(r['grad_b_f_central'])}; "
          f"relative difference {r['rel_error_central']:.2e}")
    print(f"  torch autograd:                 {sig(r['grad_b_f_autograd'])}; "
          f"relative difference {r['rel_error_autograd']:.2e}")


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
    parser.add_argument("--out", type=Path, default=FIGURES, help="folder for the JSON and the figure")
    return parser


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = build_parser().parse_args(argv)
    x = problem3_sequence()
    p, V, c = problem5_params()

    yhat, loss, cache = lstm_model_forward(x, p, V, c, args.cell_activation)
    _, grads = lstm_model_backward(cache)
    grad_b_f = grads.params.b_f
    grad_central = numeric_gradient(lambda _b: lstm_model_forward(x, p, V, c, args.cell_activation)[1],
                                    p.b_f, args.eps)
    grad_autograd = autograd_grad_b_f(x, p, V, c, args.cell_activation)
    steps = cache.lstm.steps

    results = {
        "cell_input_activation": args.cell_activation,
        "interpretation": INTERPRETATION,
        "bias_justification": BIAS_JUSTIFICATION,
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
        "intermediate": intermediate_rows(grads),
        "versions": versions("numpy", "torch"),
    }
    print_report(results)
    write_json_atomic(args.out / "p5_results.json", results)
    save_figure(plot_contributions(grads.da_f), args.out / "p5_forget_bias_grad.png")
    print(f"\nwrote {args.out / 'p5_results.json'} and {args.out / 'p5_forget_bias_grad.png'}")
    return results


if __name__ == "__main__":
    sys.exit(run(main))
