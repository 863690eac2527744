"""P5's words: the book's LSTM cell (eqs. 10.40-10.44) in place of P3's recurrence, its loss and ∂L/∂b^f.

Reads `p5_results.json` (written by p5_lstm.py). Every number is the script's float64 value, shown
with 5 significant digits; the JSON keeps full precision.
"""
from __future__ import annotations

from report.md import Figures, Section, answer, details, sig, table

SCRIPT = "p5_lstm.py"
TITLE = "(extra credit) an LSTM cell in place of the recurrence"
FIGURES = {"p5_forget_bias_grad.png": "P5: each step's contribution to ∂L/∂b^f, and their sum."}
CELL_INPUT = {"sigmoid": "σ (eq. 10.41 as printed)", "tanh": "tanh"}
BIAS_ROLES = {"b_f": "forget gate f", "b_g": "input gate g", "b_o": "output gate q", "b": "cell input z"}


def minus(v: float, fmt: str = "g") -> str:
    return format(v, fmt).replace("-", "−")


def justification(r) -> dict[str, str]:
    """Why each bias, from the numbers of bias_reading (unit 1; the default biases agree in every unit)."""
    p, n = r["params"], r["bias_reading"]
    f, g, q, slope = n["f"][0], n["g"][0], n["q"][0], n["q_slope"][0]
    bf, bg, bo = (minus(p[k][0]) for k in ("b_f", "b_g", "b_o"))
    return {
        "b_f": f"keep. The forget gate starts mostly open, σ({bf}) = {f:.2f} at zero input, so s(t) keeps most of "
               "s(t−1) and the gradient passes back through ∂s(t)/∂s(t−1) = f(t) (Gers et al. 2000; Jozefowicz "
               "et al. 2015; the book recommends a forget bias of 1).",
        "b_g": f"write cautiously. The input gate starts at σ({bg}) = {g:.2f}, and at zero input the state settles "
               f"at s = g z / (1 − f) = {n['state_gain'][0]:.2f} z: it stays in tanh's near-linear range, where "
               f"∂h/∂s = q (1 − tanh² s) is large. A gate at σ(0) = 0.5 would let s grow to "
               f"{n['state_gain_half_gate'][0]:.1f} z.",
        "b_o": "show. The output gate is the state's only way to the loss: ∂L/∂s(t) contains q(t)(1 − tanh² s(t)) "
               "∂L/∂h(t), and every gate's gradient, ∂L/∂b^f's included, is proportional to ∂L/∂s. "
               f"σ({bo}) = {q:.2f} passes most of it and keeps a slope σ'({bo}) = {slope:.2f} to learn from.",
        "b": "no preference. The cell input z is the content written into the state; before training nothing "
             "favours a value, so its bias sits at the middle of its range: σ(0) = 0.5 (eq. 10.41 as printed) "
             "or tanh(0) = 0.",
    }


def biases(r) -> list[str]:
    p, argued = r["params"], r["default_biases"]
    why = justification(r) if argued else {}
    return [f"- {name} = {sig(p[name])}, {role}" + (f": {why[name]}" if argued else "")
            for name, role in BIAS_ROLES.items()]


def coincidences(r) -> str:
    """The pre-activations that share a bias, in words."""
    same = [f"a_{a} = a_{b} in unit {e['unit']}" + (f", so {a} = {b}" if e["activations_equal"] else
                                                   f"; {a} = σ(a_{a}) and z = tanh(a_z) still differ")
            for e in r["equal_preactivations"] for a, b in [e["pair"]]]
    if same:
        return f"Pre-activations that coincide because they share a bias: {'; '.join(same)}."
    return "The four biases differ in every unit, so the four pre-activations differ."


def forward_table(r) -> list[str]:
    fw, yhat = r["forward"], r["yhat"]
    return table(["t", "f(t)", "g(t)", "q(t)", "z(t)", "s(t)", "h(t)", "ŷ(t)"],
                 [[t + 1, *(sig(fw[k][t]) for k in "fgqzs"), sig(fw["h"][t]), sig(yhat[t])]
                  for t in range(len(yhat))])


def lstm(r, figs: Figures) -> list[str]:
    g, steps, p = r["grad_b_f_bptt"], r["intermediate"], r["params"]
    choice = "this script's choice" if r["default_biases"] else "given on the command line"
    rows = [[s["t"], sig(s["dL_dh"]), sig(s["dL_ds"]), sig(s["dL_df"]), sig(s["dL_da_f"])] for s in steps]
    checks = [["BPTT", sig(g, 8), "-"],
              ["central differences", sig(r["grad_b_f_central"], 8), f"{r['rel_error_central']:.1e}"],
              ["torch autograd", sig(r["grad_b_f_autograd"], 8), f"{r['rel_error_autograd']:.1e}"]]
    gates = table(["t", "∂L/∂a_g(t)", "∂L/∂a_q(t)", "∂L/∂a_z(t)"],
                  [[s["t"], *(sig(s[f"dL_da_{n}"]) for n in "gqz")] for s in steps])
    return (answer(f"U and W are Problem 3's, shared by every gate and by the cell input, whose activation "
                   f"is {CELL_INPUT[r['cell_input_activation']]}; with biases b^f = {sig(p['b_f'])}, "
                   f"b^g = {sig(p['b_g'])}, b^o = {sig(p['b_o'])}, b = {sig(p['b'])}: "
                   + ", ".join(f"ŷ({t + 1}) = {sig(y)}" for t, y in enumerate(r["yhat"]))
                   + f"; L = **{sig(r['loss'], 8)}**; ∂L/∂b^f = **{sig(g, 8)}** by back-propagation "
                   f"through time, a relative difference of {r['rel_error_central']:.1e} from central "
                   "differences.")
            + ["The backward pass per step, from t = τ down to 1: ∂L/∂s(t) = q ⊙ (1 − tanh² s) ⊙ "
               "∂L/∂h(t) + f(t+1) ⊙ ∂L/∂s(t+1), ∂L/∂f(t) = s(t−1) ⊙ ∂L/∂s(t), ∂L/∂a_f(t) = f(1 − f) ⊙ "
               "∂L/∂f(t), and ∂L/∂b^f = Σ_t ∂L/∂a_f(t); ∂L/∂h(t−1) gathers Wᵀ times all four gates' "
               "∂L/∂a(t).", ""]
            + table(["t", "∂L/∂h(t)", "∂L/∂s(t)", "∂L/∂f(t)", "∂L/∂a_f(t)"],
                    rows + [["Σ", "", "", "", f"**{sig(g)}**"]])
            + details("Why these biases; the forward pass; the other gates; three checks",
                      [f"Biases ({choice}). With U and W shared, only the biases tell the gates apart:", "", *biases(r), "",
                       coincidences(r), "", *forward_table(r), *gates,
                       *table(["method", "∂L/∂b^f", "relative difference to BPTT"], checks)])
            + figs.link("p5_forget_bias_grad.png"))


SECTIONS = [Section("", "Outputs, loss and ∂L/∂b^f", lstm)]


def interpretations(r) -> list[str]:
    act = r["cell_input_activation"]
    cell = ("σ, as the book prints it; most libraries use tanh there (`python p5_lstm.py "
            "--cell-activation tanh`)." if act == "sigmoid" else f"{act}, not the σ that the book prints.")
    base = "" if r["log"] == "e" else f" The loss's log is base {r['log']}."
    return ["**s(0) = h(0) = 0** for the LSTM.",
            f"**The cell input of eq. 10.41 (Problem 5).** {cell}",
            "**The U and W that the LSTM gates share (Problem 5).** U and W of Problem 3 are used in every gate "
            "and in the cell input (same values, separate parameters, so ∂L/∂b^f is the gradient for the forget "
            "gate's own bias); V and c are Problem 3's. The LSTM's h(t) feeds Problem 3's output layer and loss."
            + base]
