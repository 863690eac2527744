"""Benchmark 3: the hand-written numpy BPTT (common/recurrent/rnn.py) against torch autograd.

Both compute the full gradient (every parameter) of the Problem 3 loss, L = (ŷ1(τ) − 0.5)² −
log ŷ2(τ), on the output layer of a vanilla RNN (T in {3, 1,000, 10,000}, H in {2, 64}) or an LSTM
(same T, H = 2), float64, D = O = 2, random seeded parameters. Ours: common/recurrent/rnn.py's
`*_model_forward` then `*_model_backward`. The peer: the same network unrolled in torch, one op per
step as a user would write it, then `torch.autograd.grad`. Both are timed forward + backward (the
peer needs its forward to build the graph), interleaved, 2 torch threads. Before timing, every
parameter's gradient must agree to 1e-12 relative (`common.core.gradcheck.rel_error`).

    .venv/bin/python -m bench --only bptt      (about 45 s on 2 CPU cores; --quick: 1 s, 1 thread)
"""
from __future__ import annotations

import cProfile
import io
import pstats
from typing import Any, Callable

import numpy as np
import torch

from bench.common import OthersCPU, goal, interleaved, result, row
from common.core.gradcheck import rel_error
from common.nets.training import torch_threads
from common.recurrent.lstm import LSTMParams
from common.recurrent.problems import (
    RNNParams,
    lstm_model_backward,
    lstm_model_forward,
    rnn_model_backward,
    rnn_model_forward,
)

TOLERANCE = 1e-12
GOAL_SPEEDUP = 3.0
D = O = 2  # as in Problem 3: two inputs, two softmax outputs (the loss reads ŷ1 and ŷ2)
Grads = dict[str, np.ndarray]


# ----------------------------------------------------------------------------- the networks
def rnn_problem(T: int, H: int, seed: int = 0) -> tuple[np.ndarray, RNNParams]:
    """x (T, D) and RNN parameters, weights scaled 1/√fan-in so tanh neither saturates nor dies."""
    rng = np.random.default_rng(seed)
    p = RNNParams(b=rng.normal(0, 0.1, H), c=rng.normal(0, 0.1, O),
                  W=rng.normal(0, H ** -0.5, (H, H)), U=rng.normal(0, D ** -0.5, (H, D)),
                  V=rng.normal(0, H ** -0.5, (O, H)))
    return rng.normal(size=(T, D)), p


def lstm_problem(T: int, H: int, seed: int = 0) -> tuple[np.ndarray, LSTMParams, np.ndarray, np.ndarray]:
    """x (T, D), LSTM parameters, V (O, H) and c (O,)."""
    rng = np.random.default_rng(seed)
    shapes = {"b": (H,), "U": (H, D), "W": (H, H)}
    p = LSTMParams(**{name: rng.normal(0, 0.1 if name[0] == "b" else shapes[name[0]][-1] ** -0.5,
                                       shapes[name[0]])
                      for name in LSTMParams._fields})
    return rng.normal(size=(T, D)), p, rng.normal(0, H ** -0.5, (O, H)), rng.normal(0, 0.1, O)


def numpy_rnn_grads(x: np.ndarray, p: RNNParams) -> Grads:
    """Ours: every parameter's gradient from common.recurrent.rnn's forward and backward."""
    _, _, cache = rnn_model_forward(x, p)
    out, rnn = rnn_model_backward(cache)
    return {"b": rnn.db, "c": out.dc, "W": rnn.dW, "U": rnn.dU, "V": out.dV}


def numpy_lstm_grads(x: np.ndarray, p: LSTMParams, V: np.ndarray, c: np.ndarray) -> Grads:
    """Ours: every parameter's gradient from common.recurrent.rnn's forward and backward (σ cell input)."""
    _, _, cache = lstm_model_forward(x, p, V, c)
    out, lstm = lstm_model_backward(cache)
    return {**lstm.params._asdict(), "V": out.dV, "c": out.dc}


def loss_torch(h: torch.Tensor, V: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """The Problem 3 loss on the last hidden state: only ŷ(τ) enters it."""
    y = torch.softmax(c + V @ h, dim=0)
    return (y[0] - 0.5) ** 2 - torch.log(y[1])


def autograd_rnn_grads(x: np.ndarray, p: RNNParams) -> Grads:
    """The peer: eqs. 10.8-10.11 unrolled in torch, then autograd."""
    t = {name: torch.from_numpy(v).requires_grad_() for name, v in p._asdict().items()}
    b, W, U = t["b"], t["W"], t["U"]
    h = torch.zeros(len(p.b), dtype=torch.float64)
    for x_t in torch.from_numpy(x).unbind(0):
        h = torch.tanh(b + W @ h + U @ x_t)
    grads = torch.autograd.grad(loss_torch(h, t["V"], t["c"]), list(t.values()))
    return {name: g.numpy() for name, g in zip(t, grads)}


def autograd_lstm_grads(x: np.ndarray, p: LSTMParams, V: np.ndarray, c: np.ndarray) -> Grads:
    """The peer: eqs. 10.40-10.44 unrolled in torch with the four affine maps stacked into one
    (as ours does), σ on the cell input, then autograd."""
    t = {name: torch.from_numpy(v).requires_grad_() for name, v in p._asdict().items()}
    t["V"], t["c"] = torch.from_numpy(V).requires_grad_(), torch.from_numpy(c).requires_grad_()
    H = len(p.b)
    blocks = [("b_f", "U_f", "W_f"), ("b_g", "U_g", "W_g"), ("b_o", "U_o", "W_o"), ("b", "U", "W")]
    b, U, W = (torch.cat([t[names[k]] for names in blocks]) for k in range(3))
    h = s = torch.zeros(H, dtype=torch.float64)
    for x_t in torch.from_numpy(x).unbind(0):
        a = b + W @ h + U @ x_t
        f, g, q = torch.sigmoid(a[: 3 * H]).split(H)
        s = f * s + g * torch.sigmoid(a[3 * H:])
        h = torch.tanh(s) * q
    grads = torch.autograd.grad(loss_torch(h, t["V"], t["c"]), list(t.values()))
    return {name: g.numpy() for name, g in zip(t, grads)}


# ----------------------------------------------------------------------------- the benchmark
def cases(quick: bool) -> list[tuple[str, int, int]]:
    """(cell, T, H) in the order of the table."""
    Ts = (3, 100) if quick else (3, 1000, 10000)
    Hs = (2, 8) if quick else (2, 64)
    return [("RNN", T, H) for H in Hs for T in Ts] + [("LSTM", T, 2) for T in Ts]


def make_pair(cell: str, T: int, H: int) -> tuple[Callable[[], Grads], Callable[[], Grads]]:
    """(ours, peer) as zero-argument functions on the same seeded problem."""
    if cell == "RNN":
        x, p = rnn_problem(T, H)
        return (lambda: numpy_rnn_grads(x, p)), (lambda: autograd_rnn_grads(x, p))
    x, lp, V, c = lstm_problem(T, H)
    return (lambda: numpy_lstm_grads(x, lp, V, c)), (lambda: autograd_lstm_grads(x, lp, V, c))


def max_rel_error(a: Grads, b: Grads) -> float:
    """The largest rel_error over the parameters (each compared on its own)."""
    if set(a) != set(b):
        raise ValueError(f"different gradients: {sorted(a)} vs {sorted(b)}")
    return max(rel_error(a[k], b[k]) for k in a)


def profile_top(fn: Callable[[], object], lines: int = 8) -> str:
    """cProfile's top functions by internal time, for cases where ours misses the goal."""
    prof = cProfile.Profile()
    prof.runcall(fn)
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(lines)
    return out.getvalue()


def run(quick: bool = False) -> dict[str, Any]:
    """The benchmark's result (bench.common.result); `quick`: tiny sizes, 1 thread, a smoke test."""
    with torch_threads(1 if quick else 2):
        return _run(quick)


def _run(quick: bool) -> dict[str, Any]:
    repeats, min_seconds = (5, 0.005) if quick else (11, 0.05)
    rows, detail, errors, missed = [], {}, {}, []
    for cell, T, H in cases(quick):
        name = f"{cell} T={T} H={H}"
        ours, peer = make_pair(cell, T, H)
        errors[name] = max_rel_error(ours(), peer())
        if errors[name] > TOLERANCE:  # different answers: timing them would mean nothing
            rows.append(row(name, None, None, note=f"gradients differ: {errors[name]:.1e}"))
            continue
        with OthersCPU() as meter:
            timed = interleaved({"ours": ours, "peer": peer}, repeats=repeats, min_seconds=min_seconds)
        rows.append(row(name, timed["ours"], timed["peer"], target=f">= {GOAL_SPEEDUP:g}x"))
        detail[name] = {"max_rel_error": errors[name], "others_cpu": meter.share,
                        "ours": timed["ours"], "peer": timed["peer"]}
        if rows[-1]["ratio"] < GOAL_SPEEDUP:
            missed.append(name)
            if not quick:
                detail[name]["profile_ours"] = profile_top(ours)
    agree = all(e <= TOLERANCE for e in errors.values())
    worst = max(errors.values())
    timed_rows = [r for r in rows if r["ratio"] is not None]
    slowest = min(timed_rows, key=lambda r: r["ratio"]) if timed_rows else None
    goals = [
        goal(f"at least {GOAL_SPEEDUP:g}x faster than autograd at every size",
             agree and not missed,
             f"{slowest['ratio']:.2f}x at worst ({slowest['case']})" if slowest else "not timed"),
        goal(f"gradients equal to {TOLERANCE:g} relative", agree, f"max rel_error {worst:.1e}"),
    ]
    notes = [f"Forward + backward, time per full gradient; median (min–max) over {repeats} "
             f"interleaved samples, each >= {1e3 * min_seconds:g} ms of back-to-back calls.",
             "The garbage collector is off during a sample (as in timeit), for both.",
             "Other processes took at most {:.0f}% of the CPUs while a case was timed.".format(
                 100 * max([d["others_cpu"] or 0.0 for d in detail.values()] or [0.0]))]
    if missed:
        notes.append("Below the goal: " + ", ".join(missed) + (
            "; cProfile of ours in detail[case]['profile_ours']." if not quick else "."))
    return result("bptt", "BPTT: numpy backward vs torch autograd", quick,
                  ours="numpy BPTT (common/recurrent/rnn.py)", peer="torch autograd, unrolled graph",
                  agree=agree,
                  agreement=f"all parameter gradients of every case equal to {worst:.1e} relative "
                            f"(tolerance {TOLERANCE:g})",
                  rows=rows, goals=goals, notes=notes,
                  config={"cases": [list(c) for c in cases(quick)], "D": D, "O": O,
                          "dtype": "float64", "torch_threads": torch.get_num_threads(),
                          "repeats": repeats, "cell_activation": "sigmoid (LSTM, eq. 10.41)"},
                  detail={"cases": detail, "max_rel_error": errors})
