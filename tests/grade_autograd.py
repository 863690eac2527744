"""Problems 3 and 5 in torch float64, every intermediate taken from autograd (retain_grad), with a
change to the model planted on request: the loss divided by ln 10, summed over t, or with ŷ1 and
ŷ2 exchanged; for P5 also h = q s. Those are the mistakes whose backward is the true backward of a
changed model, so autograd gives it. Nothing here imports common/.

p3() and p5() return {column name: value} with the CSV's names, as tests/grade_reference.py does.
"""
from __future__ import annotations

import math

import numpy as np
import torch

F64 = torch.float64
LN_BASE = {"e": 1.0, "10": math.log(10.0), "2": math.log(2.0)}


def _t(v) -> torch.Tensor:  # noqa: ANN001
    return torch.tensor(np.asarray(v, dtype=float), dtype=F64)


def _loss(ys: list[torch.Tensor], log: str, change: str | None) -> torch.Tensor:
    def one(y: torch.Tensor) -> torch.Tensor:
        i, j = (1, 0) if change == "yhat_swapped" else (0, 1)
        return (y[i] - 0.5) ** 2 - torch.log(y[j]) / LN_BASE[log]

    total = sum(one(y) for y in ys) if change == "loss_summed_over_t" else one(ys[-1])
    return total / math.log(10.0) if change == "loss_over_ln10" else total


def _grad(v: torch.Tensor) -> torch.Tensor:
    """v's gradient, zero where the loss does not depend on v (ŷ(t) and o(t) for t < τ)."""
    return torch.zeros_like(v) if v.grad is None else v.grad


def _put(values: dict[str, float], name: str, t: int | None, v: torch.Tensor) -> None:
    for i, vi in enumerate(v.detach().reshape(-1).tolist(), start=1):
        values[f"{name}@{t}_{i}" if t is not None else f"{name}_{i}"] = vi


def p3(x, b, c, W, U, V, log: str = "e", h0=(0.0, 0.0), change: str | None = None) -> dict[str, float]:  # noqa: ANN001
    """Forward values, L, ∂L/∂ŷ(τ), ∂L/∂o(t), ∂L/∂h(t), ∂L/∂a(t), ∂L/∂b, b_new and L_new."""
    b, c, W, U, V = (_t(m) for m in (b, c, W, U, V))
    b.requires_grad_()
    h, hs, os_, ys, as_ = _t(h0), [], [], [], []
    for x_t in _t(x):
        a = b + W @ h + U @ x_t
        h = torch.tanh(a)
        o = c + V @ h
        y = torch.softmax(o, dim=0)
        for v, store in ((a, as_), (h, hs), (o, os_), (y, ys)):
            v.retain_grad()
            store.append(v)
    L = _loss(ys, log, change)
    L.backward()
    values: dict[str, float] = {}
    for t in range(len(hs)):
        _put(values, "h", t + 1, hs[t])
        _put(values, "yhat", t + 1, ys[t])
    values["L"] = L.item()
    _put(values, "dL_dyhat", len(ys), _grad(ys[-1]))
    for t in reversed(range(len(hs))):
        _put(values, "dL_do", t + 1, _grad(os_[t]))
        _put(values, "dL_dh", t + 1, _grad(hs[t]))
        _put(values, "dL_da", t + 1, _grad(as_[t]))
    _put(values, "grad", None, b.grad)
    b_new = b.detach() - 0.002 * b.grad
    _put(values, "b_new", None, b_new)
    with torch.no_grad():
        h = _t(h0)
        ys = []
        for x_t in _t(x):
            h = torch.tanh(b_new + W @ h + U @ x_t)
            ys.append(torch.softmax(c + V @ h, dim=0))
        values["L_new"] = _loss(ys, log, change).item()
    return values


def p5(x, c, W, U, V, biases: dict, activation: str = "sigmoid", log: str = "e",  # noqa: ANN001
       change: str | None = None) -> dict[str, float]:
    """Forward values, L, and every intermediate of ∂L/∂b^f (∂L/∂s(t) is s(t)'s total gradient)."""
    c, W, U, V = (_t(m) for m in (c, W, U, V))
    bf = _t(biases["b_f"]).requires_grad_()
    bg, bo, bz = (_t(biases[k]).requires_grad_() for k in ("b_g", "b_o", "b"))  # every step in the graph
    cell = torch.sigmoid if activation == "sigmoid" else torch.tanh
    squash = (lambda s: s) if change == "h_without_tanh" else torch.tanh
    h, s, steps = torch.zeros(2, dtype=F64), torch.zeros(2, dtype=F64), []
    for x_t in _t(x):
        pre = U @ x_t + W @ h
        st = {"a_f": bf + pre, "a_g": bg + pre, "a_q": bo + pre, "a_z": bz + pre}
        st |= {"f": torch.sigmoid(st["a_f"]), "g": torch.sigmoid(st["a_g"]), "q": torch.sigmoid(st["a_q"]),
               "z": cell(st["a_z"])}
        s = st["f"] * s + st["g"] * st["z"]
        h = squash(s) * st["q"]
        st |= {"s": s, "h": h}
        st["o"] = c + V @ h
        st["yhat"] = torch.softmax(st["o"], dim=0)
        for v in st.values():
            v.retain_grad()
        steps.append(st)
    L = _loss([st["yhat"] for st in steps], log, change)
    L.backward()
    values: dict[str, float] = {}
    for t, st in enumerate(steps, start=1):
        for name in ("f", "g", "q", "z", "s", "h", "yhat"):
            _put(values, name, t, st[name])
    values["L"] = L.item()
    for t in reversed(range(len(steps))):
        st = steps[t]
        for name, key in (("dL_do", "o"), ("dL_dh", "h"), ("dL_ds", "s"), ("dL_df", "f"), ("dL_dg", "g"),
                          ("dL_dq", "q"), ("dL_dz", "z"), ("dL_da_f", "a_f"), ("dL_da_g", "a_g"),
                          ("dL_da_q", "a_q"), ("dL_da_z", "a_z")):
            _put(values, name, t + 1, _grad(st[key]))
    _put(values, "grad", None, bf.grad)
    return values
