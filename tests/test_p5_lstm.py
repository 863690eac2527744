"""Problem 5: the assignment's LSTM numbers against torch autograd and hand computation, and the script.

The layers themselves are tested in tests/test_rnn.py. Expected values here come from a torch
float64 re-implementation of eqs. 10.40-10.44 written here and from hand computation.
"""
from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import p5_lstm as p5
from common import rnn
from common.cli import UserError
from common.gradcheck import numeric_gradient, rel_error
from common.text import sig

ROOT = Path(__file__).resolve().parent.parent
PARAMS = list(rnn.LSTMParams._fields)


def torch_loss(t: dict[str, torch.Tensor], activation: str) -> torch.Tensor:
    """Eqs. 10.40-10.44, the output layer and the loss, gate by gate as in the book, in torch."""
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


@pytest.mark.parametrize("activation", ["sigmoid", "tanh"])
def test_problem5_forward_and_loss_match_torch(activation: str) -> None:
    # Problem 3's U, W, V, c and x, typed in again; the biases b = [-1, 1], b^f = [1, 1], b^g = b^o = 0
    f64 = torch.float64
    U = torch.tensor([[-1.0, 0.0], [1.0, -2.0]], dtype=f64)
    W = torch.tensor([[1.0, -1.0], [0.0, 2.0]], dtype=f64)
    V, c = torch.tensor([[-2.0, 1.0], [-1.0, 0.0]], dtype=f64), torch.tensor([0.5, -0.5], dtype=f64)
    t = {"b": torch.tensor([-1.0, 1.0], dtype=f64), "b_f": torch.ones(2, dtype=f64),
         "b_g": torch.zeros(2, dtype=f64), "b_o": torch.zeros(2, dtype=f64), "V": V, "c": c,
         "x": torch.tensor([[1.0, 0.0], [0.5, 0.25], [0.0, 1.0]], dtype=f64), "h0": torch.zeros(2, dtype=f64),
         "probe": torch.zeros(3, 2, dtype=f64)}
    t |= {f"{m}{k}": {"U": U, "W": W}[m] for m in "UW" for k in ("", "_f", "_g", "_o")}
    p, V_np, c_np = p5.problem5_params()
    _, loss, _ = rnn.lstm_model_forward(rnn.problem3_sequence(), p, V_np, c_np, activation)
    assert loss == pytest.approx(torch_loss(t, activation).item(), rel=1e-13)


def test_problem5_first_step_by_hand() -> None:
    # a_f(1) = b^f + U x(1) = [1, 1] + [-1, 1] = [0, 2], so f(1) = [1/2, σ(2)];
    # cell input σ(a(1)) = σ([-2, 2]); g(1) = σ(U x(1)) = σ([-1, 1]); s(1) = g(1) σ(a(1)) as s(0) = 0
    p, V, c = p5.problem5_params()
    _, _, cache = rnn.lstm_model_forward(rnn.problem3_sequence(), p, V, c)
    step = cache.lstm.steps[0]

    def sigma(v: float) -> float:
        return 1.0 / (1.0 + math.exp(-v))

    np.testing.assert_allclose(step.f, [0.5, sigma(2.0)], rtol=1e-15)
    np.testing.assert_allclose(step.s, [sigma(-1.0) * sigma(-2.0), sigma(1.0) * sigma(2.0)], rtol=1e-14)


def test_bad_inputs_raise_a_clear_user_error() -> None:
    p, V, c = p5.problem5_params()
    x = rnn.problem3_sequence()
    with pytest.raises(UserError, match="empty sequence"):
        rnn.lstm_model_forward(x[:0], p, V, c)
    with pytest.raises(UserError, match=r"U_g has shape \(2, 3\), expected \(2, 2\)"):
        rnn.lstm_model_forward(x, p._replace(U_g=np.zeros((2, 3))), V, c)
    with pytest.raises(UserError, match=r"b_o has shape \(3,\), expected \(2,\)"):
        rnn.lstm_model_forward(x, p._replace(b_o=np.zeros(3)), V, c)
    with pytest.raises(UserError, match="cell activation must be one of"):
        rnn.lstm_model_forward(x, p, V, c, "relu")
    h, cache = rnn.lstm_forward(x, np.zeros(2), p)
    with pytest.raises(UserError, match=r"dh must have the shape of h, \(3, 2\)"):
        rnn.lstm_backward(h[:2], cache)


def test_length_one_sequence() -> None:
    p, V, c = p5.problem5_params()
    x = rnn.problem3_sequence()[:1]
    _, loss, cache = rnn.lstm_model_forward(x, p, V, c)
    _, grads = rnn.lstm_model_backward(cache)
    assert math.isfinite(loss)
    np.testing.assert_array_equal(grads.params.b_f, [0.0, 0.0])  # s(0) = 0: nothing to forget at t = 1
    numeric = numeric_gradient(lambda _: rnn.lstm_model_forward(x, p, V, c)[1], p.b)
    assert rel_error(grads.params.b, numeric) < 1e-7


@pytest.mark.parametrize("activation", ["sigmoid", "tanh"])
def test_script_end_to_end(activation: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    results = p5.main(["--out", str(tmp_path), "--cell-activation", activation])
    printed = capsys.readouterr().out
    saved = json.loads((tmp_path / "p5_results.json").read_text())
    assert saved == json.loads(json.dumps(results))
    assert (tmp_path / "p5_forget_bias_grad.png").stat().st_size > 10_000
    assert saved["cell_input_activation"] == activation
    assert set(saved["params"]) == set(PARAMS) | {"V", "c"}
    assert saved["params"]["b_f"] == [1.0, 1.0] and saved["params"]["U_o"] == saved["params"]["U"]
    assert np.shape(saved["yhat"]) == (3, 2) and "bias_justification" in saved

    # the intermediates, printed from t = τ down to 1, sum to the reported gradient
    rows = saved["intermediate"]
    assert [row["t"] for row in rows] == [3, 2, 1]
    np.testing.assert_allclose(np.sum([row["contribution_to_dL_db_f"] for row in rows], axis=0),
                               saved["grad_b_f_bptt"], rtol=1e-13)
    assert all(sig(row["contribution_to_dL_db_f"]) in printed for row in rows)
    assert rel_error(np.array(saved["grad_b_f_bptt"]), np.array(saved["grad_b_f_central"])) < 1e-7
    assert rel_error(np.array(saved["grad_b_f_bptt"]), np.array(saved["grad_b_f_autograd"])) < 1e-10


@pytest.mark.parametrize("flag", [["--eps", "0"], ["--cell-activation", "relu"]])
def test_cli_rejects_bad_flags_in_one_line(flag: list[str]) -> None:
    proc = subprocess.run([sys.executable, "p5_lstm.py", *flag], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and f"error: argument {flag[0]}" in proc.stderr
