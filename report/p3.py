"""P3's words: the RNN of eqs. 10.8-10.11, its loss, ∂L/∂b by central differences and by BPTT, one step.

Reads `p3_results.json` (written by p3_rnn_bptt.py). Every number is the script's float64 value,
shown with 5 significant digits; the JSON keeps full precision.
"""
from __future__ import annotations

from report.md import Figures, Section, answer, details, sig, table

SCRIPT = "p3_rnn_bptt.py"
TITLE = "back-propagation through time in the RNN of eqs. 10.8-10.11"
FIGURES = {"p3_unrolled_rnn.png": "P3: the RNN unrolled through time, forward values and BPTT gradients."}


def log_name(r) -> str:
    return "log" if r["log"] == "e" else f"log{r['log']}"


def outputs(r, figs: Figures) -> list[str]:
    yhat = r["yhat"]
    rows = [[t + 1, sig(r["x"][t]), sig(r["a"][t]), sig(r["h"][t]), sig(r["o"][t]), sig(yhat[t])]
            for t in range(len(yhat))]
    return (answer(", ".join(f"ŷ({t + 1}) = {sig(y)}" for t, y in enumerate(yhat))
                   + f"; L = (ŷ1(3) − 0.5)² − {log_name(r)} ŷ2(3) = **{sig(r['loss'], 8)}**.")
            + [f"Forward pass from h(0) = {sig(r['h0'])}: a(t) = b + W h(t−1) + U x(t), h(t) = tanh a(t), "
               "o(t) = c + V h(t), ŷ(t) = softmax o(t).", ""]
            + table(["t", "x(t)", "a(t)", "h(t)", "o(t)", "ŷ(t)"], rows))


def central(r, figs: Figures) -> list[str]:
    g = r["grad_b_central"]
    return answer(f"∂L/∂b1 ≈ **{sig(g[0], 8)}**, ∂L/∂b2 ≈ **{sig(g[1], 8)}**, from "
                  f"(L(b + ε e_i) − L(b − ε e_i)) / 2ε with ε = {r['eps']:g}, computed in float64.")


def dL_dyhat_formula(r) -> str:
    """∂L/∂ŷ(τ) of L = (ŷ1 − 0.5)² − log_B ŷ2: d(log_B y)/dy = 1 / (y ln B)."""
    second = "−1/ŷ2(τ)" if r["log"] == "e" else f"−1/(ŷ2(τ) ln {r['log']})"
    return f"∂L/∂ŷ(τ) = [2(ŷ1(τ) − 0.5), {second}]"


def bptt(r, figs: Figures) -> list[str]:
    g, steps, tau = r["grad_b_bptt"], r["intermediate"], len(r["intermediate"])
    rows = [[s["t"], sig(s["dL_dyhat"]), sig(s["dL_do"]), sig(s["dL_dh"]), sig(s["one_minus_h2"]),
             sig(s["dL_da"])] for s in steps]
    checks = [["BPTT", sig(r["grad_b_bptt"], 8), "-"],
              ["central differences, (2)", sig(r["grad_b_central"], 8), f"{r['rel_error_central']:.1e}"],
              ["torch autograd", sig(r["grad_b_autograd"], 8), f"{r['rel_error_autograd']:.1e}"]]
    return (answer(f"∂L/∂b = **{sig(g, 8)}** by back-propagation through time, from t = τ = {tau} down "
                   f"to 1; it agrees with the central differences of (2) to a relative "
                   f"{r['rel_error_central']:.1e}.")
            + ["The steps (⊙ is the element-wise product):", "",
               f"- {dL_dyhat_formula(r)}; only ŷ(τ) enters the loss, so ∂L/∂ŷ(t) = 0 for t < τ.",
               "- ∂L/∂o(t) = J(t)ᵀ ∂L/∂ŷ(t), with the softmax Jacobian J = diag(ŷ) − ŷ ŷᵀ.",
               "- ∂L/∂h(t) = Vᵀ ∂L/∂o(t) + Wᵀ ∂L/∂a(t+1), the second term absent at t = τ.",
               "- ∂L/∂a(t) = (1 − h(t)²) ⊙ ∂L/∂h(t), since tanh′ = 1 − tanh².",
               "- ∂L/∂b = Σ_t ∂L/∂a(t), since ∂a(t)/∂b = I.", ""]
            + table(["t", "∂L/∂ŷ(t)", "∂L/∂o(t)", "∂L/∂h(t)", "1 − h(t)²", "∂L/∂a(t)"],
                    rows + [["Σ", "", "", "", "", f"**{sig(g)}**"]])
            + details("∂L/∂b three ways", table(["method", "∂L/∂b", "relative difference to BPTT"], checks))
            + figs.link("p3_unrolled_rnn.png"))


def step(r, figs: Figures) -> list[str]:
    return answer(f"b_new = b − lr ∂L/∂b = {sig(r['params']['b'])} − {r['lr']:g} × "
                  f"{sig(r['grad_b_bptt'])} = **{sig(r['b_new'], 8)}**.")


def new_loss(r, figs: Figures) -> list[str]:
    down = "lower" if r["loss_lower"] else "not lower"
    return answer(f"L_new = **{sig(r['loss_new'], 8)}**, {down} than L = {sig(r['loss'], 8)}. The change, "
                  f"{sig(r['loss_change'])}, is {r['loss_change_rel_to_first_order']:.1%} away from the "
                  f"first-order prediction −lr |∂L/∂b|² = {sig(r['loss_change_first_order'])}.")


SECTIONS = [Section("(1)", "Outputs and loss", outputs),
            Section("(2)", "∂L/∂b by central differences", central),
            Section("(3)", "∂L/∂b by unfolding the network through time", bptt),
            Section("(4)", "One gradient-descent step on b", step),
            Section("(5)", "The loss with the new b", new_loss)]


LOG_NAMES = {"e": "natural (ln)", "10": "base 10", "2": "base 2"}


def interpretations(r) -> list[str]:
    tau = len(r["yhat"])
    return ["**h(0) = 0** for the RNN; the book leaves the initial state open.",
            f"**Problem 3.** ŷ1, ŷ2 are the first and second softmax outputs and log is {LOG_NAMES[r['log']]}, "
            f"so only ŷ(τ), τ = {tau}, enters the loss and ∂L/∂o(t) = 0 for t < τ. The gradient step in (4) "
            "uses the BPTT gradient of (3); all other parameters stay fixed."]
