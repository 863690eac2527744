"""Problem 5: the LSTM's hand-written BPTT against central differences and torch autograd, and the script.

Expected values come from independent sources: centred differences, a torch float64 autograd
re-implementation of eqs. 10.40-10.44 written here, and hand computation. Every gradient is float64.
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
from hypothesis import given, settings
from hypothesis import strategies as st

import p5_lstm as p5
from common.cli import UserError
from common.gradcheck import numeric_gradient, rel_error

ROOT = Path(__file__).resolve().parent.parent
PARAMS = list(p5.LSTMParams._fields)
NAMES = ["x", "h0", *PARAMS, "V", "c"]
SETTINGS = settings(max_examples=20, deadline=None, derandomize=True, database=None)
# Centred differences in float64 carry a rounding error of about u·|L|/ε ≈ 5e-10 (u = 1.1e-16, |L| up to
# ~5, ε = 1e-6) whatever the gradient's size, plus a truncation error ε²|L‴|/6. rel_error divides by
# max(FLOOR, max(|x| + |y|)), so a gradient array smaller than FLOOR is held to an absolute error of
# 1e-7·FLOOR = 1e-8 (20 times the rounding noise) and a larger one to a relative error of 1e-7.
EPS, FLOOR = 1e-6, 0.1


@st.composite
def lstm_cases(draw: st.DrawFn) -> tuple[dict[str, np.ndarray], str]:
    """Random sizes T 1-50, D and H 1-3, O 2-4, values ~N(0, 0.5²), and the cell input's activation."""
    T, D, H, O = (draw(st.integers(lo, hi)) for lo, hi in ((1, 50), (1, 3), (1, 3), (2, 4)))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    shapes = {"x": (T, D), "h0": (H,), "V": (O, H), "c": (O,), "probe": (T, H)}
    for gate in ("", "_f", "_g", "_o"):
        shapes |= {f"b{gate}": (H,), f"U{gate}": (H, D), f"W{gate}": (H, H)}
    arrays = {name: 0.5 * rng.standard_normal(shape) for name, shape in shapes.items()}
    return arrays, draw(st.sampled_from(["sigmoid", "tanh"]))


# As for the RNN, the test loss adds Σ_t probe(t)·h(t) to the assignment's loss, so that every step's
# h(t) gets an upstream gradient of its own.


def params_of(a: dict[str, np.ndarray]) -> p5.LSTMParams:
    return p5.LSTMParams(**{name: a[name] for name in PARAMS})


def numpy_loss(a: dict[str, np.ndarray], activation: str) -> float:
    h, _ = p5.lstm_forward(a["x"], a["h0"], params_of(a), activation)
    _, loss, _ = p5.head_forward(h, a["V"], a["c"])
    return loss + float(np.sum(a["probe"] * h))


def numpy_grads(a: dict[str, np.ndarray], activation: str) -> dict[str, np.ndarray]:
    h, cache = p5.lstm_forward(a["x"], a["h0"], params_of(a), activation)
    _, _, out_cache = p5.head_forward(h, a["V"], a["c"])
    out = p5.head_backward(out_cache)
    g = p5.lstm_backward(out.dh + a["probe"], cache)
    return {"x": g.dx, "h0": g.dh0, **g.params._asdict(), "V": out.dV, "c": out.dc}


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


def torch_grads(a: dict[str, np.ndarray], activation: str) -> dict[str, np.ndarray]:
    t = {name: torch.tensor(value, dtype=torch.float64, requires_grad=True) for name, value in a.items()}
    torch_loss(t, activation).backward()
    return {name: t[name].grad.numpy() for name in NAMES}


@pytest.mark.parametrize("name", NAMES)
@SETTINGS
@given(case=lstm_cases())
def test_lstm_gradient_matches_central_differences(name: str,
                                                   case: tuple[dict[str, np.ndarray], str]) -> None:
    arrays, activation = case
    numeric = numeric_gradient(lambda _: numpy_loss(arrays, activation), arrays[name], EPS)
    assert rel_error(numpy_grads(arrays, activation)[name], numeric, FLOOR) < 1e-7


@pytest.mark.parametrize("name", NAMES)
@SETTINGS
@given(case=lstm_cases())
def test_lstm_gradient_matches_torch_autograd(name: str, case: tuple[dict[str, np.ndarray], str]) -> None:
    arrays, activation = case
    assert rel_error(numpy_grads(arrays, activation)[name], torch_grads(arrays, activation)[name]) < 1e-10


@pytest.mark.parametrize("activation", ["sigmoid", "tanh"])
def test_step_backward_matches_central_differences(activation: str) -> None:
    rng = np.random.default_rng(0)
    D, H = 3, 2
    x, h_prev, s_prev = rng.standard_normal(D), rng.standard_normal(H), rng.standard_normal(H)
    w = p5.StackedWeights(W=0.5 * rng.standard_normal((4 * H, H)), U=0.5 * rng.standard_normal((4 * H, D)),
                          b=0.5 * rng.standard_normal(4 * H))
    dh, ds = rng.standard_normal(H), rng.standard_normal(H)

    def probe() -> float:  # dh·h(t) + ds·s(t): any upstream gradients for both outputs
        h, s, _ = p5.lstm_step_forward(x, h_prev, s_prev, w, activation)
        return float(dh @ h + ds @ s)

    grads = p5.lstm_step_backward(dh, ds, p5.lstm_step_forward(x, h_prev, s_prev, w, activation)[2])
    for name, array, grad in [("x", x, grads.dx), ("h_prev", h_prev, grads.dh_prev),
                              ("s_prev", s_prev, grads.ds_prev), ("W", w.W, grads.dW), ("U", w.U, grads.dU),
                              ("b", w.b, grads.db)]:
        assert rel_error(grad, numeric_gradient(lambda _: probe(), array, EPS)) < 1e-7, name


def test_stacking_round_trips() -> None:
    rng = np.random.default_rng(2)
    shape = {"b": (3,), "U": (3, 2), "W": (3, 3)}  # H = 3, D = 2
    p = p5.LSTMParams(**{name: rng.standard_normal(shape[name[0]]) for name in PARAMS})
    w = p5.stack_weights(p)
    back = p5.unstack_grads(w.W, w.U, w.b)
    for name in PARAMS:
        np.testing.assert_array_equal(getattr(back, name), getattr(p, name))
    np.testing.assert_array_equal(w.b[:3], p.b_f)  # block 0 is the forget gate


def test_sigmoid_is_exact_and_does_not_overflow() -> None:
    a = np.linspace(-30.0, 30.0, 61)
    np.testing.assert_allclose(p5.sigmoid(a), [1.0 / (1.0 + math.exp(-v)) for v in a], rtol=1e-13)
    with np.errstate(over="raise", invalid="raise"):
        np.testing.assert_array_equal(p5.sigmoid(np.array([-1e4, 1e4])), [0.0, 1.0])


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
    _, loss, _ = p5.lstm_model_forward(p5.problem3_sequence(), p, V_np, c_np, activation)
    assert loss == pytest.approx(torch_loss(t, activation).item(), rel=1e-13)


def test_problem5_first_step_by_hand() -> None:
    # a_f(1) = b^f + U x(1) = [1, 1] + [-1, 1] = [0, 2], so f(1) = [1/2, σ(2)];
    # cell input σ(a(1)) = σ([-2, 2]); g(1) = σ(U x(1)) = σ([-1, 1]); s(1) = g(1) σ(a(1)) as s(0) = 0
    p, V, c = p5.problem5_params()
    _, _, cache = p5.lstm_model_forward(p5.problem3_sequence(), p, V, c)
    step = cache.lstm.steps[0]

    def sig(v: float) -> float:
        return 1.0 / (1.0 + math.exp(-v))

    np.testing.assert_allclose(step.f, [0.5, sig(2.0)], rtol=1e-15)
    np.testing.assert_allclose(step.s, [sig(-1.0) * sig(-2.0), sig(1.0) * sig(2.0)], rtol=1e-14)


def test_bad_inputs_raise_a_clear_user_error() -> None:
    p, V, c = p5.problem5_params()
    x = p5.problem3_sequence()
    with pytest.raises(UserError, match="empty sequence"):
        p5.lstm_model_forward(x[:0], p, V, c)
    with pytest.raises(UserError, match=r"U_g has shape \(2, 3\), expected \(2, 2\)"):
        p5.lstm_model_forward(x, p._replace(U_g=np.zeros((2, 3))), V, c)
    with pytest.raises(UserError, match=r"b_o has shape \(3,\), expected \(2,\)"):
        p5.lstm_model_forward(x, p._replace(b_o=np.zeros(3)), V, c)
    with pytest.raises(UserError, match="cell activation must be one of"):
        p5.lstm_model_forward(x, p, V, c, "relu")
    h, cache = p5.lstm_forward(x, np.zeros(2), p)
    with pytest.raises(UserError, match=r"dh must have the shape of h, \(3, 2\)"):
        p5.lstm_backward(h[:2], cache)


def test_length_one_sequence() -> None:
    p, V, c = p5.problem5_params()
    x = p5.problem3_sequence()[:1]
    _, loss, cache = p5.lstm_model_forward(x, p, V, c)
    _, grads = p5.lstm_model_backward(cache)
    assert math.isfinite(loss)
    np.testing.assert_array_equal(grads.params.b_f, [0.0, 0.0])  # s(0) = 0: nothing to forget at t = 1
    numeric = numeric_gradient(lambda _: p5.lstm_model_forward(x, p, V, c)[1], p.b, EPS)
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
    assert all(p5.fmt(row["contribution_to_dL_db_f"]) in printed for row in rows)
    assert rel_error(np.array(saved["grad_b_f_bptt"]), np.array(saved["grad_b_f_central"])) < 1e-7
    assert rel_error(np.array(saved["grad_b_f_bptt"]), np.array(saved["grad_b_f_autograd"])) < 1e-10


@pytest.mark.parametrize("flag", [["--eps", "0"], ["--cell-activation", "relu"]])
def test_cli_rejects_bad_flags_in_one_line(flag: list[str]) -> None:
    proc = subprocess.run([sys.executable, "p5_lstm.py", *flag], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and f"error: argument {flag[0]}" in proc.stderr
