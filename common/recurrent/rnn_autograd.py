"""Cross-checks for the hand-written BPTT of common/recurrent/rnn.py: the same models written again in torch.

Used at run time by p3_rnn_bptt.py, p5_lstm.py and the answer key (common/grading/key.py); the key's float32
central differences are computed here too, as a PyTorch user gets them by default. torch is imported inside each
function, so importing this module (and the numpy scripts) stays free of torch.
"""
from __future__ import annotations

import numpy as np

from common.recurrent.lstm import LSTMParams
from common.recurrent.problems import RNNParams
from common.recurrent.rnn import LOG_BASES


def _loss(y, log: str):  # noqa: ANN001, ANN202 (torch types: torch is imported lazily)
    """(ŷ1 − 0.5)² − log_B ŷ2 on torch's ŷ(τ)."""
    import torch

    return (y[0] - 0.5) ** 2 - torch.log(y[1]) / LOG_BASES[log]


def _rnn_loss(t: dict, b, h, x, log: str):  # noqa: ANN001, ANN202 (torch types)
    """Eqs. 10.8-10.11 on torch tensors t (parameters), bias b, h(0) = h and x (T, D), then the loss."""
    import torch

    for x_t in x:
        h = torch.tanh(b + t["W"] @ h + t["U"] @ x_t)
    return _loss(torch.softmax(t["c"] + t["V"] @ h, dim=0), log)


def rnn_grad_b(x: np.ndarray, p: RNNParams, h0: np.ndarray | None = None, log: str = "e") -> np.ndarray:
    """∂L/∂b from torch autograd on eqs. 10.8-10.11 and the loss, for x (T, D) and h(0) = h0 (or 0)."""
    import torch

    t = {name: torch.tensor(value, dtype=torch.float64) for name, value in p._asdict().items()}
    b = t["b"].requires_grad_()
    h = torch.zeros_like(b) if h0 is None else torch.tensor(h0, dtype=torch.float64)
    _rnn_loss(t, b, h, torch.tensor(x, dtype=torch.float64), log).backward()
    return b.grad.numpy()


def rnn_central_difference_float32(x: np.ndarray, p: RNNParams, h0: np.ndarray, log: str,
                                   eps: float) -> np.ndarray:
    """∂L/∂b by central differences as a torch user writes them by default: every tensor float32
    (PyTorch's default dtype), b ± ε e_i and (L+ − L−) / 2ε computed in float32 too."""
    import torch

    f32 = torch.float32
    t = {name: torch.tensor(value, dtype=f32) for name, value in p._asdict().items()}
    xs, h = torch.tensor(x, dtype=f32), torch.tensor(h0, dtype=f32)
    grad = []
    with torch.no_grad():
        for i in range(len(p.b)):
            step = torch.zeros_like(t["b"])
            step[i] = eps
            plus, minus = (_rnn_loss(t, t["b"] + sign * step, h, xs, log) for sign in (1, -1))
            grad.append(float((plus - minus) / (2 * torch.tensor(eps, dtype=f32))))
    return np.array(grad)


def lstm_grad_b_f(x: np.ndarray, p: LSTMParams, V: np.ndarray, c: np.ndarray,
                  cell_activation: str, log: str = "e") -> np.ndarray:
    """∂L/∂b^f from torch autograd on eqs. 10.40-10.44, the output layer and the loss, s(0) = h(0) = 0."""
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
    _loss(torch.softmax(torch.tensor(c) + torch.tensor(V) @ h, dim=0), log).backward()
    return b_f.grad.numpy()

