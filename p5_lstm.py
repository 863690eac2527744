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

The numpy functions are general (any T, D, H, float64) and are reused by p4_experiments.py:
lstm_step_forward/backward and lstm_forward/backward. Shapes: x (T, D), h and s (T, H). The four
pre-activations of a step are computed as one stacked vector, blocks [f, g, q, cell input] of H each.
"""
from __future__ import annotations

import platform
import sys
from importlib.metadata import version
from pathlib import Path
from typing import Any, Callable, NamedTuple, Sequence

import numpy as np

from common.cli import (FIGURES, Parser, UserError, positive_float, run, save_figure,
                        write_json_atomic)
from common.gradcheck import numeric_gradient, rel_error
from p3_rnn_bptt import (OutputCache, OutputGrads, check_recurrent_shapes, check_upstream_shape, fmt,
                         head_backward, head_forward, print_table, problem3_params,
                         problem3_sequence, recurrent_affine_backward)

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

Activation = tuple[Callable[[np.ndarray], np.ndarray], Callable[[np.ndarray], np.ndarray]]


def sigmoid(a: np.ndarray) -> np.ndarray:
    """σ(a) = 1 / (1 + e^(−a)) = exp(−log(1 + e^(−a))), the second form without overflow for a ≪ 0."""
    return np.exp(-np.logaddexp(0.0, -a))


# Each activation with its derivative written in terms of its output z: σ' = z (1 − z), tanh' = 1 − z².
CELL_ACTIVATIONS: dict[str, Activation] = {
    "sigmoid": (sigmoid, lambda z: z * (1.0 - z)),
    "tanh": (np.tanh, lambda z: 1.0 - z * z),
}


class LSTMParams(NamedTuple):
    b: np.ndarray  # (H,)    cell input
    U: np.ndarray  # (H, D)
    W: np.ndarray  # (H, H)
    b_f: np.ndarray  # forget gate (10.40)
    U_f: np.ndarray
    W_f: np.ndarray
    b_g: np.ndarray  # external input gate (10.42)
    U_g: np.ndarray
    W_g: np.ndarray
    b_o: np.ndarray  # output gate (10.44)
    U_o: np.ndarray
    W_o: np.ndarray


class StackedWeights(NamedTuple):
    """The four affine maps a = b + W h(t−1) + U x(t) stacked in blocks [f, g, q, cell input]."""

    W: np.ndarray  # (4H, H)
    U: np.ndarray  # (4H, D)
    b: np.ndarray  # (4H,)


# (bias, U, W) field names of each block, in stacking order
BLOCKS = (("b_f", "U_f", "W_f"), ("b_g", "U_g", "W_g"), ("b_o", "U_o", "W_o"), ("b", "U", "W"))


def stack_weights(p: LSTMParams) -> StackedWeights:
    """Stack the gates' and the cell input's weights so that one matmul gives all four pre-activations."""
    blocks = [[getattr(p, name) for name in names] for names in BLOCKS]
    return StackedWeights(W=np.concatenate([W for _, _, W in blocks]),
                          U=np.concatenate([U for _, U, _ in blocks]),
                          b=np.concatenate([b for b, _, _ in blocks]))


def unstack_grads(dW: np.ndarray, dU: np.ndarray, db: np.ndarray) -> LSTMParams:
    """Split stacked gradients back into LSTMParams fields."""
    H = dW.shape[1]
    grads = {}
    for k, (b_name, U_name, W_name) in enumerate(BLOCKS):
        rows = slice(k * H, (k + 1) * H)
        grads.update({b_name: db[rows], U_name: dU[rows], W_name: dW[rows]})
    return LSTMParams(**grads)


class LSTMStepCache(NamedTuple):
    x: np.ndarray  # (D,)
    h_prev: np.ndarray  # (H,)
    s_prev: np.ndarray  # (H,)
    f: np.ndarray  # (H,) forget gate
    g: np.ndarray  # (H,) external input gate
    q: np.ndarray  # (H,) output gate
    z: np.ndarray  # (H,) cell input, σ (10.41 as printed) or tanh of its pre-activation
    s: np.ndarray  # (H,) internal state s(t)
    tanh_s: np.ndarray  # (H,) tanh(s(t))
    act_grad: np.ndarray  # (4H,) derivative of each block's activation at its pre-activation
    weights: StackedWeights


class LSTMStepGrads(NamedTuple):
    dx: np.ndarray  # (D,)
    dh_prev: np.ndarray  # (H,) ∂L/∂h(t−1) through step t
    ds_prev: np.ndarray  # (H,) ∂L/∂s(t−1) through s(t)
    dW: np.ndarray  # (4H, H) stacked
    dU: np.ndarray  # (4H, D) stacked
    db: np.ndarray  # (4H,) stacked


class LSTMCache(NamedTuple):
    x: np.ndarray  # (T, D)
    steps: list[LSTMStepCache]
    weights: StackedWeights


class LSTMGrads(NamedTuple):
    dx: np.ndarray  # (T, D)
    dh0: np.ndarray  # (H,)
    params: LSTMParams  # gradients, same fields as the parameters
    dh: np.ndarray  # (T, H) total ∂L/∂h(t): from o(t) and from the pre-activations at t+1
    ds: np.ndarray  # (T, H) total ∂L/∂s(t): from h(t) and from s(t+1)
    dgates: np.ndarray  # (T, 4H) ∂L/∂[f, g, q, z](t)
    da: np.ndarray  # (T, 4H) ∂L/∂(pre-activations)(t); block 0, ∂L/∂a_f(t), is step t's share of ∂L/∂b^f

    @property
    def df(self) -> np.ndarray:
        """∂L/∂f(t), (T, H)."""
        return self.dgates[:, : self.dh.shape[1]]

    @property
    def da_f(self) -> np.ndarray:
        """∂L/∂(forget pre-activation)(t), (T, H): step t's contribution to ∂L/∂b^f."""
        return self.da[:, : self.dh.shape[1]]


def lstm_step_forward(x: np.ndarray, h_prev: np.ndarray, s_prev: np.ndarray, w: StackedWeights,
                      cell_activation: str = "sigmoid") -> tuple[np.ndarray, np.ndarray, LSTMStepCache]:
    """One step of eqs. 10.40-10.44. x (D,), h_prev and s_prev (H,) → h (H,), s (H,) and the cache."""
    H = h_prev.shape[0]
    act, act_grad = CELL_ACTIVATIONS[cell_activation]
    a = w.b + w.W @ h_prev + w.U @ x  # the four pre-activations, blocks [f, g, q, cell input]
    gates = sigmoid(a[: 3 * H])
    f, g, q = gates[:H], gates[H: 2 * H], gates[2 * H:]  # (10.40), (10.42), (10.44)
    z = act(a[3 * H:])  # the cell input inside (10.41): σ as printed, tanh in most libraries
    s = f * s_prev + g * z  # (10.41)
    tanh_s = np.tanh(s)
    h = tanh_s * q  # (10.43)
    grad = np.concatenate((gates * (1.0 - gates), act_grad(z)))  # σ' = σ (1 − σ)
    return h, s, LSTMStepCache(x, h_prev, s_prev, f, g, q, z, s, tanh_s, grad, w)


def lstm_cell_backward(dh: np.ndarray, ds_next: np.ndarray,
                       c: LSTMStepCache) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The part of one step's backward that the recurrence needs.

    dh: total ∂L/∂h(t); ds_next: ∂L/∂s(t) through s(t+1). Returns the total ∂L/∂s(t),
    ∂L/∂[f, g, q, z](t) (4H,) and ∂L/∂(pre-activations)(t) (4H,).
    """
    # ∂L/∂s(t) accumulates from h(t) = tanh(s(t)) q(t), ∂h/∂s = q (1 − tanh² s), and from s(t+1)
    ds = ds_next + dh * c.q * (1.0 - c.tanh_s ** 2)
    dgates = np.concatenate((ds * c.s_prev,  # ∂s/∂f = s(t−1)
                             ds * c.z,  # ∂s/∂g = cell input
                             dh * c.tanh_s,  # ∂h/∂q = tanh s
                             ds * c.g))  # ∂s/∂(cell input) = g
    return ds, dgates, dgates * c.act_grad


def lstm_step_backward(dh: np.ndarray, ds: np.ndarray, cache: LSTMStepCache) -> LSTMStepGrads:
    """Backward of one step, given dh = ∂L/∂h(t) and ds = ∂L/∂s(t) through s(t+1), both (H,)."""
    ds_total, _, da = lstm_cell_backward(dh, ds, cache)
    dx, dh_prev, dW, dU, db = recurrent_affine_backward(da, cache.x, cache.h_prev, cache.weights.W,
                                                        cache.weights.U)
    return LSTMStepGrads(dx, dh_prev, ds_total * cache.f, dW, dU, db)  # ∂s(t)/∂s(t−1) = f(t)


def lstm_forward(x: np.ndarray, h0: np.ndarray, p: LSTMParams,
                 cell_activation: str = "sigmoid") -> tuple[np.ndarray, LSTMCache]:
    """Run eqs. 10.40-10.44 over a sequence with s(0) = 0. x (T, D), h0 (H,) → h (T, H) and the cache."""
    for b_name, U_name, W_name in BLOCKS:
        check_recurrent_shapes(x, h0, getattr(p, W_name), getattr(p, U_name), getattr(p, b_name),
                               suffix=b_name[1:])
    if cell_activation not in CELL_ACTIVATIONS:
        raise UserError(f"cell activation must be one of {sorted(CELL_ACTIVATIONS)}, got {cell_activation!r}")
    w = stack_weights(p)
    h = np.empty((x.shape[0], h0.shape[0]))
    steps = []
    h_prev, s_prev = h0, np.zeros_like(h0)
    for t in range(x.shape[0]):
        h_prev, s_prev, step = lstm_step_forward(x[t], h_prev, s_prev, w, cell_activation)
        h[t] = h_prev
        steps.append(step)
    return h, LSTMCache(x, steps, w)


def lstm_backward(dh: np.ndarray, cache: LSTMCache) -> LSTMGrads:
    """BPTT through eqs. 10.40-10.44. dh (T, H): ∂L/∂h(t) from the outputs o(t) only.

    Returns the gradients of x, h0 and every parameter, and the per-step intermediates. Only the
    recurrence runs step by step; the parameter gradients are one stacked matmul after it.
    """
    check_upstream_shape(dh, (len(cache.steps), cache.weights.W.shape[1]))
    T, H = dh.shape
    dh_total, ds_total = np.empty((T, H)), np.empty((T, H))
    dgates, da = np.empty((T, 4 * H)), np.empty((T, 4 * H))
    dh_next, ds_next = np.zeros(H), np.zeros(H)  # nothing flows back from beyond τ
    for t in reversed(range(T)):
        step = cache.steps[t]
        dh_total[t] = dh[t] + dh_next  # from o(t) and from the four pre-activations at t+1
        ds_total[t], dgates[t], da[t] = lstm_cell_backward(dh_total[t], ds_next, step)
        dh_next = da[t] @ cache.weights.W  # Wᵀ ∂L/∂a(t), all four blocks: ∂L/∂h(t−1) through time
        ds_next = ds_total[t] * step.f  # s(t) = f(t) s(t−1) + ... ⇒ ∂s(t)/∂s(t−1) = f(t)
    h_prev = np.array([step.h_prev for step in cache.steps])
    dx, dh_prev, dW, dU, db = recurrent_affine_backward(da, cache.x, h_prev, cache.weights.W,
                                                        cache.weights.U)
    return LSTMGrads(dx, dh_prev[0], unstack_grads(dW, dU, db), dh_total, ds_total, dgates, da)


# ---------------------------------------------------------------------------------------------
# Problem 5's network: the LSTM, then Problem 3's output layer and loss, with s(0) = h(0) = 0.
# ---------------------------------------------------------------------------------------------


class LSTMModelCache(NamedTuple):
    lstm: LSTMCache
    out: OutputCache


def problem5_params() -> tuple[LSTMParams, np.ndarray, np.ndarray]:
    """The LSTM's parameters (Problem 3's U and W everywhere, the chosen biases) and Problem 3's V, c."""
    p3 = problem3_params()
    gate = {"U": p3.U, "W": p3.W}
    biases = {"b": p3.b, "b_f": np.array([1.0, 1.0]), "b_g": np.zeros(2), "b_o": np.zeros(2)}
    p = LSTMParams(**biases, **{f"{m}{k}": gate[m].copy() for m in "UW" for k in ("", "_f", "_g", "_o")})
    return p, p3.V, p3.c


def lstm_model_forward(x: np.ndarray, p: LSTMParams, V: np.ndarray, c: np.ndarray,
                       cell_activation: str = "sigmoid") -> tuple[np.ndarray, float, LSTMModelCache]:
    """ŷ (T, O), the loss and the cache, with s(0) = h(0) = 0."""
    h, lstm_cache = lstm_forward(x, np.zeros(p.W.shape[0]), p, cell_activation)
    yhat, loss, out_cache = head_forward(h, V, c)
    return yhat, loss, LSTMModelCache(lstm_cache, out_cache)


def lstm_model_backward(cache: LSTMModelCache) -> tuple[OutputGrads, LSTMGrads]:
    """Gradients of the loss: the output layer's and the LSTM's."""
    out = head_backward(cache.out)
    return out, lstm_backward(out.dh, cache.lstm)


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
                [[str(t + 1), *(fmt(r["forward"][k][t]) for k in "fgqsh"), fmt(r["yhat"][t])]
                 for t in range(len(r["yhat"]))])
    if r["params"]["b_g"] == r["params"]["b_o"]:
        print("  (g(t) = q(t): the input and output gates share U, W and their bias here)")
    print(f"  L = {fmt(r['loss'])}\n")
    print("∂L/∂b^f by back-propagation through time, from t = τ down to 1")
    print("  ∂L/∂s(t) = q(t)(1 − tanh² s(t)) ∂L/∂h(t) + f(t+1) ∂L/∂s(t+1),  ∂L/∂f(t) = s(t−1) ∂L/∂s(t),")
    print("  ∂L/∂a_f(t) = f(t)(1 − f(t)) ∂L/∂f(t) for the forget pre-activation a_f,"
          "  ∂L/∂b^f = Σ_t ∂L/∂a_f(t)")
    print_table(["t", "∂L/∂h(t)", "∂L/∂s(t)", "∂L/∂f(t)", "∂L/∂a_f(t) = contribution to ∂L/∂b^f"],
                [[str(row["t"]), fmt(row["dL_dh"]), fmt(row["dL_ds"]), fmt(row["dL_df"]),
                  fmt(row["contribution_to_dL_db_f"])] for row in r["intermediate"]])
    print("  (at t = 1, s(0) = 0: the forget gate has nothing to forget, so its contribution is 0)")
    print(f"  sum over t: ∂L/∂b^f = {fmt(r['grad_b_f_bptt'])}")
    print(f"  central differences, ε = {r['eps']:g}: {fmt(r['grad_b_f_central'])}; "
          f"relative difference {r['rel_error_central']:.2e}")
    print(f"  torch autograd:                 {fmt(r['grad_b_f_autograd'])}; "
          f"relative difference {r['rel_error_autograd']:.2e}")


def plot_contributions(da_f: np.ndarray) -> Any:
    """Bar chart of each step's contribution ∂L/∂a_f(t) to ∂L/∂b^f, per unit, with the sum. da_f (T, H)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    T, H = da_f.shape
    labels = [f"t = {t + 1}" for t in range(T)] + [r"sum = $\partial L/\partial b^f$"]
    values = np.vstack([da_f, da_f.sum(axis=0)])
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    width = 0.8 / H
    for i in range(H):
        pos = np.arange(T + 1) + (i - (H - 1) / 2) * width
        bars = ax.bar(pos, values[:, i], width, label=rf"unit {i + 1}: $\partial L/\partial b^f_{i + 1}$")
        ax.bar_label(bars, labels=[fmt(v, 3) for v in values[:, i]], fontsize=9, padding=2)
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
        "versions": {"python": platform.python_version(), "numpy": version("numpy"),
                     "torch": version("torch")},
    }
    print_report(results)
    write_json_atomic(args.out / "p5_results.json", results)
    save_figure(plot_contributions(grads.da_f), args.out / "p5_forget_bias_grad.png")
    print(f"\nwrote {args.out / 'p5_results.json'} and {args.out / 'p5_forget_bias_grad.png'}")
    return results


if __name__ == "__main__":
    sys.exit(run(main))
