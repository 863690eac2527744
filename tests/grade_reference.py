"""Problems 3 and 5 written out again in plain numpy, one formula per line, with a mistake planted on
request: the independent source of the grading tests' expected values.

Nothing here imports common/: the forward and backward passes, the loss, the difference quotient and
the update are written from the assignment and the book (explicit softmax Jacobian diag(ŷ) − ŷŷᵀ,
per-step loops). test_grade_reference.py checks the unplanted passes, and the planted ones that
change the model rather than its backward, against torch autograd.

p3() and p5() return {column name: value} in the order of the assignment's parts, with the CSV's
names: `L`, `grad_1`, `grad_cd_2`, `b_new_1`, `L_new`, `<name>@<t>_<i>`. `mistake` is a catalogue id
or None; "W_not_transposed" and "V_not_transposed" write W ∂L/∂a(t) and V ∂L/∂o(t) where the
backward has Wᵀ and Vᵀ.
"""
from __future__ import annotations

import math

import numpy as np

LN_BASE = {"e": 1.0, "10": math.log(10.0), "2": math.log(2.0)}
EPS, LR = 1e-4, 0.002


def softmax(o: np.ndarray) -> np.ndarray:
    e = np.exp(o - o.max())
    return e / e.sum()


def sigmoid(a: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-a))


def step_loss(y: np.ndarray, log: str, mistake: str | None) -> float:
    """(ŷ1 − 0.5)² − log ŷ2 for one step (ŷ1 and ŷ2 exchanged by yhat_swapped)."""
    i, j = (1, 0) if mistake == "yhat_swapped" else (0, 1)
    return (y[i] - 0.5) ** 2 - math.log(y[j]) / LN_BASE[log]


def loss(ys: list[np.ndarray], log: str, mistake: str | None) -> float:
    """The loss at τ (or summed over t), divided by ln 10 as a whole by loss_over_ln10."""
    total = sum(step_loss(y, log, mistake) for y in ys) if mistake == "loss_summed_over_t" else \
        step_loss(ys[-1], log, mistake)
    return total / math.log(10.0) if mistake == "loss_over_ln10" else total


def dloss_dy(ys: list[np.ndarray], log: str, mistake: str | None) -> list[np.ndarray]:
    """∂L/∂ŷ(t) for every t: d/dŷ1 (ŷ1 − 0.5)² = 2(ŷ1 − 0.5), d/dŷ2 (−log ŷ2) = −1/(ŷ2 ln B)."""
    i, j = (1, 0) if mistake == "yhat_swapped" else (0, 1)
    scale = 1.0 / math.log(10.0) if mistake == "loss_over_ln10" else 1.0
    out = []
    for t, y in enumerate(ys):
        d = np.zeros(2)
        if t == len(ys) - 1 or mistake == "loss_summed_over_t":
            d[i] = 2.0 * (y[i] - 0.5)
            d[j] = -1.0 / (y[j] * LN_BASE[log])
        out.append(scale * d)
    return out


def dloss_do(ys: list[np.ndarray], dys: list[np.ndarray], mistake: str | None) -> list[np.ndarray]:
    """∂L/∂o(t) = Jᵀ ∂L/∂ŷ(t) with J = diag(ŷ) − ŷŷᵀ (left out by no_softmax_jacobian)."""
    if mistake == "no_softmax_jacobian":
        return list(dys)
    return [(np.diag(y) - np.outer(y, y)).T @ dy for y, dy in zip(ys, dys)]


def gradient_by_differences(f, b: np.ndarray, mistake: str | None) -> np.ndarray:  # noqa: ANN001
    """(f(b + ε e_i) − f(b − ε e_i)) / 2ε, or (f(b + ε e_i) − f(b)) / ε for one_sided_difference."""
    out = []
    for i in range(len(b)):
        e = np.zeros(len(b))
        e[i] = EPS
        out.append((f(b + e) - f(b)) / EPS if mistake == "one_sided_difference" else (f(b + e) - f(b - e)) / (2 * EPS))
    return np.array(out)


def put(values: dict[str, float], name: str, t: int | None, v) -> None:  # noqa: ANN001
    """values[name@t_i] (or name_i, or name for a scalar) = v's components."""
    if np.ndim(v) == 0:
        values[name] = float(v)
        return
    for i, vi in enumerate(v, start=1):
        values[f"{name}@{t}_{i}" if t is not None else f"{name}_{i}"] = float(vi)


def p3(x: np.ndarray, b, c, W, U, V, log: str = "e", h0=(0.0, 0.0),  # noqa: ANN001
       mistake: str | None = None) -> dict[str, float]:
    """Problem 3 (1)-(5) with every intermediate, in the order of the parts."""
    b, c, W, U, V = (np.array(m, dtype=float) for m in (b, c, W, U, V))
    T = len(x)

    def forward(bias: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
        h, hs, ys = np.array(h0, dtype=float), [], []
        for t in range(T):
            h = np.tanh(bias + W @ h + U @ x[t])
            hs.append(h)
            ys.append(softmax(c + V @ h))
        return hs, ys

    hs, ys = forward(b)
    dys = dloss_dy(ys, log, mistake)
    dos = dloss_do(ys, dys, mistake)
    dh, da, from_next = [None] * T, [None] * T, np.zeros(2)
    for t in reversed(range(T)):
        dh[t] = (V if mistake == "V_not_transposed" else V.T) @ dos[t] + from_next
        slope = 1.0 - hs[t] if mistake == "tanh_grad_1_minus_h" else 1.0 - hs[t] ** 2
        da[t] = slope * dh[t]
        from_next = (W if mistake == "W_not_transposed" else W.T) @ da[t]
    grad = np.sum(da, axis=0)
    central = gradient_by_differences(lambda bias: loss(forward(bias)[1], log, mistake), b, mistake)
    b_new = b + LR * grad if mistake == "update_sign" else b - LR * grad
    values: dict[str, float] = {}
    for t in range(T):
        put(values, "h", t + 1, hs[t])
        put(values, "yhat", t + 1, ys[t])
    put(values, "L", None, loss(ys, log, mistake))
    put(values, "grad_cd", None, central)
    put(values, "dL_dyhat", T, dys[-1])
    for t in reversed(range(T)):
        for name, v in (("dL_do", dos[t]), ("dL_dh", dh[t]), ("dL_da", da[t])):
            put(values, name, t + 1, v)
    put(values, "grad", None, grad)
    put(values, "b_new", None, b_new)
    put(values, "L_new", None, loss(forward(b_new)[1], log, mistake))
    return values


def p5(x: np.ndarray, c, W, U, V, biases: dict, activation: str = "sigmoid", log: str = "e",  # noqa: ANN001
       mistake: str | None = None) -> dict[str, float]:
    """Problem 5: the LSTM with P3's U and W in every gate and the cell input, the forward values,
    L and ∂L/∂b^f with every intermediate, in the order of the parts."""
    c, W, U, V = (np.array(m, dtype=float) for m in (c, W, U, V))
    bf, bg, bo, bz = (np.array(biases[k], dtype=float) for k in ("b_f", "b_g", "b_o", "b"))
    cell = sigmoid if activation == "sigmoid" else np.tanh
    squash = (lambda s: s) if mistake == "h_without_tanh" else np.tanh
    T, steps = len(x), []
    h, s = np.zeros(2), np.zeros(2)
    for t in range(T):
        pre = U @ x[t] + W @ h  # the same U x(t) + W h(t−1) in every gate
        f, g, q, z = sigmoid(bf + pre), sigmoid(bg + pre), sigmoid(bo + pre), cell(bz + pre)
        s_prev, s = s, f * s + g * z
        h = squash(s) * q
        steps.append({"f": f, "g": g, "q": q, "z": z, "s": s, "s_prev": s_prev, "h": h, "yhat": softmax(c + V @ h)})
    ys = [st["yhat"] for st in steps]
    dos = dloss_do(ys, dloss_dy(ys, log, mistake), mistake)

    def slope(y: np.ndarray) -> np.ndarray:  # σ'(a) from y = σ(a)
        return y if mistake == "sigmoid_grad_as_sigmoid" else y * (1.0 - y)

    back: list[dict] = [None] * T
    from_next, carry = np.zeros(2), np.zeros(2)
    for t in reversed(range(T)):
        st = steps[t]
        dh = (V if mistake == "V_not_transposed" else V.T) @ dos[t] + from_next
        dsquash = np.ones(2) if mistake == "h_without_tanh" else 1.0 - np.tanh(st["s"]) ** 2
        ds = dh * st["q"] * dsquash + (0.0 if mistake == "ds_without_carry" else carry)
        d = {"dL_do": dos[t], "dL_dh": dh, "dL_ds": ds, "dL_df": ds * st["s_prev"], "dL_dg": ds * st["z"],
             "dL_dq": dh * squash(st["s"]), "dL_dz": ds * st["g"]}
        d["dL_da_f"], d["dL_da_g"], d["dL_da_q"] = (d["dL_df"] * slope(st["f"]), d["dL_dg"] * slope(st["g"]),
                                                    d["dL_dq"] * slope(st["q"]))
        d["dL_da_z"] = d["dL_dz"] * (slope(st["z"]) if activation == "sigmoid" else 1.0 - st["z"] ** 2)
        back[t] = d
        from_next = (W if mistake == "W_not_transposed" else W.T) @ (d["dL_da_f"] + d["dL_da_g"] + d["dL_da_q"] + d["dL_da_z"])
        carry = st["f"] * ds  # ∂s(t)/∂s(t−1) = f(t)
    values: dict[str, float] = {}
    for t in range(T):
        for name in ("f", "g", "q", "z", "s", "h", "yhat"):
            put(values, name, t + 1, steps[t][name])
    put(values, "L", None, loss(ys, log, mistake))
    for t in reversed(range(T)):
        for name, v in back[t].items():
            put(values, name, t + 1, v)
    put(values, "grad", None, np.sum([d["dL_da_f"] for d in back], axis=0))
    return values
