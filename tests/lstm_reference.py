"""The book's LSTM (eqs. 10.40-10.44) with Problem 3's output layer and loss, written in torch.

The independent reference that test_rnn.py and test_p5_lstm.py check the numpy layers against.
"""
from __future__ import annotations

import torch


def torch_lstm_loss(t: dict[str, torch.Tensor], activation: str) -> torch.Tensor:
    """Eqs. 10.40-10.44, the output layer and the loss, gate by gate as in the book, in torch.

    `t["probe"]` [T, H] weights every h(t), so that the gradient reaches every step.
    """
    cell = torch.sigmoid if activation == "sigmoid" else torch.tanh
    h, s, hs = t["h0"], torch.zeros_like(t["h0"]), []
    for x_t in t["x"]:
        f = torch.sigmoid(t["b_f"] + t["U_f"] @ x_t + t["W_f"] @ h)
        g = torch.sigmoid(t["b_g"] + t["U_g"] @ x_t + t["W_g"] @ h)
        q = torch.sigmoid(t["b_o"] + t["U_o"] @ x_t + t["W_o"] @ h)
        s = f * s + g * cell(t["b"] + t["U"] @ x_t + t["W"] @ h)
        h = torch.tanh(s) * q
        hs.append(h)
    y = torch.softmax(t["c"] + t["V"] @ h, dim=0)
    return (y[0] - 0.5) ** 2 - torch.log(y[1]) + (t["probe"] * torch.stack(hs)).sum()
