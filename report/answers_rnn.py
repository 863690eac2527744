"""The solution's answers to Problems 3, 4 and 5, formatted from p3/p4/p5_results.json.

P3 and P5 give their values in tables (the values are the answer); P4 answers in words, each claim
one that p4_experiments.py measured and stored as a field.
"""
from __future__ import annotations

from report.answer import Answer
from report.md import sig, table


def yhat_list(r) -> str:
    return ", ".join(f"$\\hat y({t + 1}) = {sig(y)}$" for t, y in enumerate(r["yhat"]))


def p3_outputs(r) -> Answer:
    rows = [[t + 1, sig(r["x"][t]), sig(r["a"][t]), sig(r["h"][t]), sig(r["yhat"][t])]
            for t in range(len(r["yhat"]))]
    return Answer(
        "P3 (1)", "Outputs and loss", "Run the RNN forward from $h(0) = 0$; give $\\hat y(t)$ for "
        "$t = 1, 2, 3$ and the loss.", f"$L = {sig(r['loss'], 8)}$",
        f"`p3_rnn_bptt.py` (numpy) computes every table of P3. {yhat_list(r)}. The loss reads only the "
        "last output: "
        f"$L = (\\hat y_1(3) - 0.5)^2 - \\log \\hat y_2(3) = {sig(r['loss'], 8)}$, with the natural log "
        "(log base 10 or 2 would be other readings).",
        values=tuple(table(["t", "x(t)", "a(t) = b + W h(t−1) + U x(t)", "h(t) = tanh a(t)", "ŷ(t)"], rows)),
        evidence=(3, 0))


def p3_central(r) -> Answer:
    g = r["grad_b_central"]
    return Answer(
        "P3 (2)", "The gradient by central differences", "Estimate $\\partial L/\\partial b_1$ and "
        f"$\\partial L/\\partial b_2$ with central differences, $\\epsilon = {r['eps']:g}$.",
        f"$\\partial L/\\partial b \\approx [{sig(g[0], 8)}, {sig(g[1], 8)}]$",
        "Each bias is moved up and down by ε and the two losses are differenced: "
        "$\\partial L/\\partial b_i \\approx (L(b + \\epsilon e_i) - L(b - \\epsilon e_i)) / 2\\epsilon$, "
        "in double precision. In single precision the rounding of the two losses matters: PyTorch's default "
        f"float32 puts the small $\\partial L/\\partial b_1$ {r['grad_b_central_float32_rel_diff'][0]:.0%} off.",
        values=tuple(table(["", "∂L/∂b₁", "∂L/∂b₂"], [
            ["central differences, float64", sig(g[0], 8), sig(g[1], 8)],
            ["the same in float32 (one PyTorch run)", *(sig(v) for v in r["grad_b_central_float32"])]])),
        evidence=(3, 1))


def p3_bptt(r) -> Answer:
    g = r["grad_b_bptt"]
    rows = [[s["t"], sig(s["dL_dyhat"]), sig(s["dL_do"]), sig(s["dL_dh"]), sig(s["one_minus_h2"]),
             sig(s["dL_da"])] for s in r["intermediate"]]
    steps = table(["backward, t = 3 down to 1", "formula"], [
        ["∂L/∂ŷ(t)", "$[2(\\hat y_1(3) - 0.5), -1/\\hat y_2(3)]$ at $t = 3$, zero before"],
        ["∂L/∂o(t)", "$J(t)^\\top \\partial L/\\partial \\hat y(t)$, softmax Jacobian "
                     "$J = \\mathrm{diag}(\\hat y) - \\hat y \\hat y^\\top$"],
        ["∂L/∂h(t)", "$V^\\top \\partial L/\\partial o(t) + W^\\top \\partial L/\\partial a(t+1)$, "
                     "the second term absent at $t = 3$"],
        ["∂L/∂a(t)", "$(1 - h(t)^2) \\odot \\partial L/\\partial h(t)$"],
        ["∂L/∂b", "$\\sum_t \\partial L/\\partial a(t)$"]])
    return Answer(
        "P3 (3)", "The gradient by unfolding through time", "Compute $\\partial L/\\partial b$ by "
        "back-propagation through time and show the intermediate results.",
        f"$\\partial L/\\partial b = [{sig(g[0], 8)}, {sig(g[1], 8)}]$, as in (2)",
        "Only $\\hat y(3)$ enters the loss. Its error flows back through the softmax and $V$ into "
        "$h(3)$, then through $\\tanh' = 1 - h^2$ into $a(3)$, and through $W^\\top$ to the earlier steps; "
        "$\\partial L/\\partial b$ adds up $\\partial L/\\partial a(t)$ over the steps. It agrees with (2): "
        "their relative difference, "
        f"$\\|g_{{BPTT}} - g_{{CD}}\\| / (\\|g_{{BPTT}}\\| + \\|g_{{CD}}\\|)$ over both components, is "
        f"{r['rel_error_central']:.1e}.",
        figures=(("p3_unrolled_rnn.png", "The unrolled RNN: forward values in black, gradients in red."),),
        values=tuple(steps + table(["t", "∂L/∂ŷ(t)", "∂L/∂o(t)", "∂L/∂h(t)", "1 − h(t)²", "∂L/∂a(t)"],
                                   rows + [["sum = ∂L/∂b", "", "", "", "", f"**{sig(g, 8)}**"]])),
        evidence=(3, 2))


def p3_step(r) -> Answer:
    return Answer(
        "P3 (4)", "One gradient step on b", f"Update $b$ once by gradient descent with learning rate "
        f"{r['lr']:g}.", f"$b_{{new}} = {sig(r['b_new'], 8)}$",
        "Each bias takes one step against its own gradient, "
        "$b_{new} = b - lr\\,\\partial L/\\partial b$, with the gradient of (3). The step "
        f"$lr\\,\\partial L/\\partial b = {sig(r['b_step'])}$ is small, so write $b_{{new}}$ to 8 "
        "significant digits, or give the step, for the change to show.",
        values=tuple(table(["b", "lr", "∂L/∂b", "step lr ∂L/∂b", "b_new = b − lr ∂L/∂b"],
                           [[sig(r["params"]["b"]), f"{r['lr']:g}", sig(r["grad_b_bptt"], 8),
                             sig(r["b_step"]), sig(r["b_new"], 8)]])),
        evidence=(3, 3))


def p3_new_loss(r) -> Answer:
    return Answer(
        "P3 (5)", "The loss at the new b", "Compute the loss again with the new $b$.",
        f"$L_{{new}} = {sig(r['loss_new'], 8)}$, lower",
        f"With the new $b$ the loss is $L_{{new}} = {sig(r['loss_new'], 8)}$. For a small step the "
        "change should be close to $-lr\\,|\\partial L/\\partial b|^2$; the table shows both.",
        values=tuple(table(["L", "L_new", "L_new − L", "−lr ‖∂L/∂b‖²"],
                           [[sig(r["loss"], 8), sig(r["loss_new"], 8), sig(r["loss_change"]),
                             sig(r["loss_change_first_order"])]])),
        evidence=(3, 4))


def p5_formulas(slope: str) -> list[str]:
    """P5's backward pass as a table of formulas, t = 3 down to 1 (slope: the cell input's σ′ or tanh′)."""
    return table(["backward, t = 3 down to 1", "formula"], [
        ["∂L/∂ŷ(t), ∂L/∂o(t), ∂L/∂h(t)", "as in P3 (3): $[2(\\hat y_1(3) - 0.5), -1/\\hat y_2(3)]$ at $t = 3$, "
                                          "zero before; $J(t)^\\top \\partial L/\\partial \\hat y(t)$; "
                                          "$V^\\top \\partial L/\\partial o(t)$ plus the path from $t+1$"],
        ["∂L/∂s(t)", "$q(t) \\odot (1 - \\tanh^2 s(t)) \\odot \\partial L/\\partial h(t) + f(t+1) \\odot "
                     "\\partial L/\\partial s(t+1)$"],
        ["∂L/∂f(t)", "$s(t-1) \\odot \\partial L/\\partial s(t)$, zero at $t = 1$ since $s(0) = 0$"],
        ["∂L/∂a_f(t)", "$f(t) \\odot (1 - f(t)) \\odot \\partial L/\\partial f(t)$"],
        ["∂L/∂g(t), ∂L/∂q(t), ∂L/∂z(t)", "$z(t) \\odot \\partial L/\\partial s(t)$, "
         "$\\tanh s(t) \\odot \\partial L/\\partial h(t)$, $g(t) \\odot \\partial L/\\partial s(t)$"],
        ["∂L/∂a_g(t)", "$g(t) \\odot (1 - g(t)) \\odot \\partial L/\\partial g(t)$"],
        ["∂L/∂a_q(t)", "$q(t) \\odot (1 - q(t)) \\odot \\partial L/\\partial q(t)$"],
        ["∂L/∂a_z(t)", f"${slope} \\odot \\partial L/\\partial z(t)$"],
        ["∂L/∂h(t−1)", "$V^\\top \\partial L/\\partial o(t-1)$ plus $W^\\top$ times the sum of the four "
                       "gates' $\\partial L/\\partial a(t)$"],
        ["∂L/∂b^f", "$\\sum_t \\partial L/\\partial a_f(t)$"]])


def p5_lstm(r) -> Answer:
    p, g = r["params"], r["grad_b_f_bptt"]
    steps = [[s["t"], sig(s["dL_dyhat"]), sig(s["dL_do"]), sig(s["dL_dh"]), sig(s["dL_ds"]), sig(s["dL_df"]), sig(s["dL_da_f"])]
             for s in r["intermediate"]]
    book = " as the book prints it" if r["cell_input_activation"] == "sigmoid" else ""
    slope = "z(t) \\odot (1 - z(t))" if r["cell_input_activation"] == "sigmoid" else "(1 - z(t)^2)"
    reading = r["bias_reading"]
    argued = (" Biases: forget 1 (the book's advice) carries the state over; input near a quarter keeps s "
              "small, off tanh's flat ends; output open lets s reach the loss; cell input 0 starts σ at its "
              "midpoint."
              if r["default_biases"] else "")
    fw = r["forward"]
    forward = table(["t", "f(t)", "g(t)", "q(t)", "z(t)", "s(t)", "h(t)", "ŷ(t)"],
                    [[t + 1, *(sig(fw[k][t]) for k in "fgqzsh"), sig(r["yhat"][t])] for t in range(len(r["yhat"]))])
    gates = table(["t", "∂L/∂g(t)", "∂L/∂q(t)", "∂L/∂z(t)", "∂L/∂a_g(t)", "∂L/∂a_q(t)", "∂L/∂a_z(t)"],
                  [[s["t"], *(sig(s[f"dL_d{n}"]) for n in "gqz"), *(sig(s[f"dL_da_{n}"]) for n in "gqz")]
                   for s in r["intermediate"]])
    formulas = p5_formulas(slope)
    biases = [["b^f (forget gate f)", sig(p["b_f"]), sig(reading["f"])],
              ["b^g (input gate g)", sig(p["b_g"]), sig(reading["g"])],
              ["b^o (output gate q)", sig(p["b_o"]), sig(reading["q"])],
              ["b (cell input z)", sig(p["b"]), sig(reading["z"])]]
    return Answer(
        "P5", "An LSTM cell in place of the recurrence", "Replace the recurrence by an LSTM cell with "
        "Problem 3's $U$ and $W$, choose its biases, and give $\\hat y(t)$, $L$ and "
        "$\\partial L/\\partial b^f$ by unfolding through time.",
        f"$L = {sig(r['loss'], 8)}$, $\\partial L/\\partial b^f = {sig(g, 8)}$",
        f"Every gate and the cell input use Problem 3's $U$ and $W$, with a "
        f"{r['cell_input_activation']} cell input{book}.{argued} $L = {sig(r['loss'], 8)}$. "
        f"BPTT: $\\partial L/\\partial b^f = {sig(g, 8)}$; central differences "
        f"agree (relative difference {r['rel_error_central']:.1e}, defined in P3 (3)).",
        figures=(("p5_forget_bias_grad.png", "Each step's contribution to ∂L/∂b^f, and their sum."),),
        values=tuple(table(["bias", "value", "its gate at zero input"], biases) + forward + formulas
                     + table(["t", "∂L/∂ŷ(t)", "∂L/∂o(t)", "∂L/∂h(t)", "∂L/∂s(t)", "∂L/∂f(t)", "∂L/∂a_f(t)"],
                             steps + [["sum = ∂L/∂b^f", "", "", "", "", "", f"**{sig(g, 8)}**"]]) + gates
                     + table(["∂L/∂b^f", "by BPTT", f"by central differences (ε = {r['eps']:g})"],
                             [["", sig(g, 8), sig(r["grad_b_f_central"], 8)]])),
        evidence=(5, 0))


def p4_hardest(r) -> Answer:
    g = r["findings"]["gain"]
    lo, hi = g["crossing"]
    shrink = "; larger U or b made it fade faster" if g["input_below_W_alone"] else ""
    own = r["findings"]["problem3_W"]
    saturated = " Problem 3's W fades anyway: its units saturate." if own["saturated"] else ""
    return Answer(
        "P4 (1)", "The hardest parameters to learn", "Which parameters of the RNN are hardest to learn "
        "from sequences thousands of steps long, and why?", "W, the recurrent weights",
        "W. Each step back multiplies the error by $W^\\top \\mathrm{diag}(1-h^2)$; over thousands of "
        "steps the product fades or blows up. The distant gradients of W, U and b pass through it, "
        f"but W sets its size: in our random {r['config']['gain']['H']}-unit networks it stopped fading "
        f"once W's spectral radius (largest eigenvalue in size) passed {lo:g} to {hi:g}{shrink}."
        f"{saturated} V and c are easy: no such product.",
        evidence=(4, 0),
        figures=(("p4_gain.png", "How fast the gradient fades or grows per step as W, U or b is made larger."),))



def p4_esn(r) -> Answer:
    e = r["findings"]["esn"]
    final = (" The last state alone stays at chance: by the end it has forgotten the planted copies."
             if e["memoryless_at_chance"] else "")
    x = r["experiment2"]
    return Answer(
        "P4 (2)", "The network as an echo state network", "If the network is treated as an echo state "
        "network, which weights are fixed and which are learned?", "fix W, U, b; learn V and c",
        "Fix W, U and b: random, with W scaled so old inputs fade. Learn only "
        f"the readout V and c, a linear fit on the states. Our test: is '{x['motif']}' or '{x['decoy']}' "
        "planted in random letters? Reading the average state (our choice; the same as averaging o(t)), "
        f"it was right on {e['best_accuracy'][0]:.0%} of "
        f"{r['config']['experiment2']['lengths'][0]:,}-step test sequences (chance: half)"
        + (", less often on longer ones." if e["falls"] else ".") + final,
        evidence=(4, 1),
        figures=(("p4_esn.png", "Accuracy of the learned readout for each scaling of W and each length."),))



def p4_lstm(r) -> Answer:
    f = r["findings"]
    first, last = f["lstm_curves"][0], f["lstm_curves"][-1]
    path = "forget_path_lag_below_1e-6"
    tens, hundreds = f["spreads"][first][path]["max"], f["spreads"][last][path]["min"]
    steps = r["config"]["experiment1"]["T"]
    farther = f"at least {hundreds}" if hundreds is not None else f"beyond all {steps}"
    stretch = ("" if tens is None else
               f" On it alone the error stays above a millionth for at most {tens} steps at the smallest "
               f"forget bias and {farther} at the largest.")
    split = f["reach"]["total_never_path_always"]
    gates = ((" Paths through the gates' weights reach further and, like an RNN's,"
              + (" can blow up." if f["reach"]["end_orders"]["grows_and_fades"] else " do not fade."))
             if split else "")
    return Answer(
        "P4 (3)", "Why an LSTM cell helps", "Why could an LSTM cell overcome some of these difficulties?",
        "the cell state's additive path, gated by f",
        "The cell state is updated by addition, $s(t) = f(t)\\,s(t-1) + g(t)\\,z(t)$, so along it the error "
        "is multiplied only by $\\mathrm{diag}(f(t))$ ($z$: the cell input), with no W or $\\tanh'$: this "
        "direct path can only shrink."
        + stretch + gates,
        evidence=(4, 2),
        figures=(("p4_gradient_decay.png", "How far back the gradient reaches: RNNs against LSTMs with "
                  "larger forget biases."),))
