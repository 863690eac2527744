"""common/recurrent/rnn.py: every gradient of the RNN and LSTM layers, the head and the loss, checked twice.

Expected values come from independent sources: centred differences on the numpy forward pass, and
torch float64 autograd on eqs. 10.8-10.11 and 10.40-10.44 re-written here gate by gate. Every
parameter is its own test, for T in {1, 3, 50}; everything is float64.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from lstm_reference import torch_lstm_loss

from common.core.cli import UserError
from common.core.gradcheck import numeric_gradient, rel_error
from common.recurrent import lstm, problems, rnn

LENGTHS = [1, 3, 50]
RNN_NAMES = ["x", "h0", "W", "U", "b", "V", "c"]
LSTM_PARAMS = list(lstm.LSTMParams._fields)
LSTM_NAMES = ["x", "h0", *LSTM_PARAMS, "V", "c"]
# Centred differences in float64 carry a rounding error of about u·|L|/ε ≈ 5e-10 (u = 1.1e-16, |L| up to
# ~5, ε = 1e-6) whatever the gradient's size, plus a truncation error ε²|L‴|/6. rel_error divides by
# max(FLOOR, max(|x| + |y|)), so a gradient array smaller than FLOOR is held to an absolute error of
# 1e-7·FLOOR = 1e-8 (20 times the rounding noise) and a larger one to a relative error of 1e-7.
EPS, FLOOR = 1e-6, 0.1


def case(T: int, shapes: dict[str, tuple[int, ...]], seed: int) -> dict[str, np.ndarray]:
    """Seeded arrays ~N(0, 0.5²) (tanh and σ not saturated), plus probe (T, H): the test loss adds
    Σ_t probe(t)·h(t), so every step's h(t), and through it every parameter, gets an O(1) gradient."""
    rng = np.random.default_rng([seed, T])
    return {name: 0.5 * rng.standard_normal(shape) for name, shape in shapes.items()}


# ----------------------------------------------------------------------------- the RNN


def rnn_case(T: int) -> dict[str, np.ndarray]:
    D, H, O = 3, 4, 3
    return case(T, {"x": (T, D), "h0": (H,), "W": (H, H), "U": (H, D), "b": (H,), "V": (O, H), "c": (O,),
                    "probe": (T, H)}, seed=0)


def rnn_numpy_loss(a: dict[str, np.ndarray]) -> float:
    h, _ = rnn.rnn_forward(a["x"], a["h0"], a["W"], a["U"], a["b"])
    _, loss, _ = rnn.head_forward(h, a["V"], a["c"])
    return loss + float(np.sum(a["probe"] * h))


def rnn_numpy_grads(a: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    h, cache = rnn.rnn_forward(a["x"], a["h0"], a["W"], a["U"], a["b"])
    _, _, out_cache = rnn.head_forward(h, a["V"], a["c"])
    out = rnn.head_backward(out_cache)
    g = rnn.rnn_backward(out.dh + a["probe"], cache)
    return {"x": g.dx, "h0": g.dh0, "W": g.dW, "U": g.dU, "b": g.db, "V": out.dV, "c": out.dc}


def rnn_torch_grads(a: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Eqs. 10.8-10.11 and the loss, written independently in torch."""
    t = {name: torch.tensor(value, dtype=torch.float64, requires_grad=True) for name, value in a.items()}
    h, hs = t["h0"], []
    for x_t in t["x"]:
        h = torch.tanh(t["b"] + t["W"] @ h + t["U"] @ x_t)
        hs.append(h)
    y = torch.softmax(t["c"] + t["V"] @ h, dim=0)
    ((y[0] - 0.5) ** 2 - torch.log(y[1]) + (t["probe"] * torch.stack(hs)).sum()).backward()
    return {name: t[name].grad.numpy() for name in RNN_NAMES}


@pytest.mark.parametrize("T", LENGTHS)
@pytest.mark.parametrize("name", RNN_NAMES)
def test_rnn_gradient_matches_central_differences(name: str, T: int) -> None:
    a = rnn_case(T)
    numeric = numeric_gradient(lambda _: rnn_numpy_loss(a), a[name], EPS)
    assert rel_error(rnn_numpy_grads(a)[name], numeric, FLOOR) < 1e-7


@pytest.mark.parametrize("T", LENGTHS)
@pytest.mark.parametrize("name", RNN_NAMES)
def test_rnn_gradient_matches_torch_autograd(name: str, T: int) -> None:
    a = rnn_case(T)
    assert rel_error(rnn_numpy_grads(a)[name], rnn_torch_grads(a)[name]) < 1e-10


def test_rnn_step_backward_matches_central_differences() -> None:
    rng = np.random.default_rng(0)
    D, H = 3, 4
    args = {"x": rng.standard_normal(D), "h_prev": rng.standard_normal(H),
            "W": 0.5 * rng.standard_normal((H, H)), "U": 0.5 * rng.standard_normal((H, D)),
            "b": 0.5 * rng.standard_normal(H)}
    dh = rng.standard_normal(H)
    _, cache = rnn.rnn_step_forward(**args)
    grads = rnn.rnn_step_backward(dh, cache)
    for name, grad in zip(args, grads):  # gradients come back in the order of the forward's arguments
        numeric = numeric_gradient(lambda _: float(dh @ rnn.rnn_step_forward(**args)[0]), args[name])
        assert rel_error(grad, numeric) < 1e-7, name


@pytest.mark.parametrize("T", LENGTHS)
def test_rnn_backward_equals_the_step_pair_looped_from_tau_down(T: int) -> None:
    """The vectorised rnn_backward against its reference: rnn_step_backward from t = τ down to 1."""
    a = rnn_case(T)
    h, cache = rnn.rnn_forward(a["x"], a["h0"], a["W"], a["U"], a["b"])
    seq = rnn.rnn_backward(a["probe"], cache)
    h_prev, steps = a["h0"], []
    for t in range(T):
        h_step, step_cache = rnn.rnn_step_forward(a["x"][t], h_prev, a["W"], a["U"], a["b"])
        np.testing.assert_allclose(h_step, h[t], rtol=1e-15)
        steps.append(step_cache)
        h_prev = h_step
    dW, dU, db, dh_next = 0.0, 0.0, 0.0, np.zeros(4)
    for t in reversed(range(T)):
        g = rnn.rnn_step_backward(a["probe"][t] + dh_next, steps[t])
        np.testing.assert_allclose(seq.da[t], g.da, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(seq.dx[t], g.dx, rtol=1e-12, atol=1e-15)
        dW, dU, db, dh_next = dW + g.dW, dU + g.dU, db + g.db, g.dh_prev
    for got, want in [(seq.dW, dW), (seq.dU, dU), (seq.db, db), (seq.dh0, dh_next)]:
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)


def test_rnn_step_takes_a_batch_of_rows() -> None:
    rng = np.random.default_rng(3)
    N, D, H = 5, 3, 4
    x, h_prev = rng.standard_normal((N, D)), rng.standard_normal((N, H))
    W, U, b = rng.standard_normal((H, H)), rng.standard_normal((H, D)), rng.standard_normal(H)
    h, _ = rnn.rnn_step_forward(x, h_prev, W, U, b)
    for n in range(N):  # a(t) = b + W h(t−1) + U x(t), sequence by sequence
        np.testing.assert_allclose(h[n], np.tanh(b + W @ h_prev[n] + U @ x[n]), rtol=1e-14)


# ----------------------------------------------------------------------------- the head and the loss


@pytest.mark.parametrize("log, ln_base", [("e", 1.0), ("10", math.log(10)), ("2", math.log(2))])
def test_loss_and_its_gradient_for_each_log_base(log: str, ln_base: float) -> None:
    yhat = np.array([[0.2, 0.7, 0.1], [0.6, 0.3, 0.1]])
    assert rnn.custom_loss_forward(yhat, log) == pytest.approx((0.6 - 0.5) ** 2 - math.log(0.3) / ln_base,
                                                               rel=1e-15)
    # by hand: ∂/∂ŷ1 = 2(ŷ1 − 0.5), ∂/∂ŷ2 = −1/(ŷ2 ln B), zero for t < τ and for ŷ3
    expected = np.array([[0.0, 0.0, 0.0], [2 * (0.6 - 0.5), -1 / (0.3 * ln_base), 0.0]])
    np.testing.assert_allclose(rnn.custom_loss_backward(yhat, log), expected, rtol=1e-15)
    with pytest.raises(UserError, match="log base must be one of"):
        rnn.custom_loss_forward(yhat, "3")


def test_softmax_jacobian_matches_autograd() -> None:
    o = torch.tensor([[0.3, -1.2, 2.0], [1.0, 0.0, -0.5]], dtype=torch.float64)
    yhat = torch.softmax(o, dim=1).numpy()
    for t in range(2):
        expected = torch.autograd.functional.jacobian(lambda v: torch.softmax(v, dim=0), o[t]).numpy()
        np.testing.assert_allclose(rnn.softmax_jacobian(yhat)[t], expected, rtol=1e-13, atol=1e-16)


# ----------------------------------------------------------------------------- the LSTM


def lstm_case(T: int) -> dict[str, np.ndarray]:
    D, H, O = 2, 3, 2
    shapes = {"x": (T, D), "h0": (H,), "V": (O, H), "c": (O,), "probe": (T, H)}
    for gate in ("", "_f", "_g", "_o"):
        shapes |= {f"b{gate}": (H,), f"U{gate}": (H, D), f"W{gate}": (H, H)}
    return case(T, shapes, seed=1)


def params_of(a: dict[str, np.ndarray]) -> lstm.LSTMParams:
    return lstm.LSTMParams(**{name: a[name] for name in LSTM_PARAMS})


def lstm_numpy_loss(a: dict[str, np.ndarray], activation: str) -> float:
    h, _ = lstm.lstm_forward(a["x"], a["h0"], params_of(a), activation)
    _, loss, _ = rnn.head_forward(h, a["V"], a["c"])
    return loss + float(np.sum(a["probe"] * h))


def lstm_numpy_grads(a: dict[str, np.ndarray], activation: str) -> dict[str, np.ndarray]:
    h, cache = lstm.lstm_forward(a["x"], a["h0"], params_of(a), activation)
    _, _, out_cache = rnn.head_forward(h, a["V"], a["c"])
    out = rnn.head_backward(out_cache)
    g = lstm.lstm_backward(out.dh + a["probe"], cache)
    return {"x": g.dx, "h0": g.dh0, **g.params._asdict(), "V": out.dV, "c": out.dc}


def lstm_torch_grads(a: dict[str, np.ndarray], activation: str) -> dict[str, np.ndarray]:
    """Eqs. 10.40-10.44, the output layer and the loss, gate by gate as in the book, in torch."""
    t = {name: torch.tensor(value, dtype=torch.float64, requires_grad=True) for name, value in a.items()}
    torch_lstm_loss(t, activation).backward()
    return {name: t[name].grad.numpy() for name in LSTM_NAMES}


@pytest.mark.parametrize("activation", ["sigmoid", "tanh"])
@pytest.mark.parametrize("T", LENGTHS)
@pytest.mark.parametrize("name", LSTM_NAMES)
def test_lstm_gradient_matches_central_differences(name: str, T: int, activation: str) -> None:
    a = lstm_case(T)
    numeric = numeric_gradient(lambda _: lstm_numpy_loss(a, activation), a[name], EPS)
    assert rel_error(lstm_numpy_grads(a, activation)[name], numeric, FLOOR) < 1e-7


@pytest.mark.parametrize("activation", ["sigmoid", "tanh"])
@pytest.mark.parametrize("T", LENGTHS)
@pytest.mark.parametrize("name", LSTM_NAMES)
def test_lstm_gradient_matches_torch_autograd(name: str, T: int, activation: str) -> None:
    a = lstm_case(T)
    assert rel_error(lstm_numpy_grads(a, activation)[name], lstm_torch_grads(a, activation)[name]) < 1e-10


@pytest.mark.parametrize("activation", ["sigmoid", "tanh"])
def test_lstm_step_backward_matches_central_differences(activation: str) -> None:
    rng = np.random.default_rng(0)
    D, H = 3, 2
    x, h_prev, s_prev = rng.standard_normal(D), rng.standard_normal(H), rng.standard_normal(H)
    w = lstm.StackedWeights(W=0.5 * rng.standard_normal((4 * H, H)), U=0.5 * rng.standard_normal((4 * H, D)),
                           b=0.5 * rng.standard_normal(4 * H))
    dh, ds = rng.standard_normal(H), rng.standard_normal(H)

    def probe() -> float:  # dh·h(t) + ds·s(t): any upstream gradients for both outputs
        h, s, _ = lstm.lstm_step_forward(x, h_prev, s_prev, w, activation)
        return float(dh @ h + ds @ s)

    grads = lstm.lstm_step_backward(dh, ds, lstm.lstm_step_forward(x, h_prev, s_prev, w, activation)[2])
    for name, array, grad in [("x", x, grads.dx), ("h_prev", h_prev, grads.dh_prev),
                              ("s_prev", s_prev, grads.ds_prev), ("W", w.W, grads.dW), ("U", w.U, grads.dU),
                              ("b", w.b, grads.db)]:
        assert rel_error(grad, numeric_gradient(lambda _: probe(), array, EPS)) < 1e-7, name


@pytest.mark.parametrize("T", LENGTHS)
def test_lstm_backward_equals_the_step_pair_looped_from_tau_down(T: int) -> None:
    a = lstm_case(T)
    _, cache = lstm.lstm_forward(a["x"], a["h0"], params_of(a), "tanh")
    seq = lstm.lstm_backward(a["probe"], cache)
    dW, db, dh_next, ds_next = 0.0, 0.0, np.zeros(3), np.zeros(3)
    for t in reversed(range(T)):
        g = lstm.lstm_step_backward(a["probe"][t] + dh_next, ds_next, cache.steps[t])
        np.testing.assert_allclose(seq.dx[t], g.dx, rtol=1e-12, atol=1e-15)
        dW, db, dh_next, ds_next = dW + g.dW, db + g.db, g.dh_prev, g.ds_prev
    stacked = lstm.stack_weights(seq.params)  # the gradients, stacked like the weights
    np.testing.assert_allclose(stacked.W, dW, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(stacked.b, db, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(seq.dh0, dh_next, rtol=1e-12, atol=1e-15)


def test_stacking_round_trips() -> None:
    rng = np.random.default_rng(2)
    shape = {"b": (3,), "U": (3, 2), "W": (3, 3)}  # H = 3, D = 2
    p = lstm.LSTMParams(**{name: rng.standard_normal(shape[name[0]]) for name in LSTM_PARAMS})
    w = lstm.stack_weights(p)
    back = lstm.unstack_grads(w.W, w.U, w.b)
    for name in LSTM_PARAMS:
        np.testing.assert_array_equal(getattr(back, name), getattr(p, name))
    np.testing.assert_array_equal(w.b[:3], p.b_f)  # block 0 is the forget gate


def test_sigmoid_is_exact_and_does_not_overflow() -> None:
    a = np.linspace(-30.0, 30.0, 61)
    np.testing.assert_allclose(lstm.sigmoid(a), [1.0 / (1.0 + math.exp(-v)) for v in a], rtol=1e-13)
    with np.errstate(over="raise", invalid="raise"):
        np.testing.assert_array_equal(lstm.sigmoid(np.array([-1e4, 1e4])), [0.0, 1.0])


# ----------------------------------------------------------------------------- bad input


def test_bad_shapes_raise_a_clear_user_error() -> None:
    p = problems.problem3_params()
    x = problems.problem3_sequence()
    with pytest.raises(UserError, match="empty sequence"):
        problems.rnn_model_forward(x[:0], p)
    with pytest.raises(UserError, match=r"x must be a \(T, D\) array"):
        problems.rnn_model_forward(np.zeros(2), p)
    with pytest.raises(UserError, match=r"W has shape \(2, 3\), expected \(2, 2\)"):
        problems.rnn_model_forward(x, p._replace(W=np.zeros((2, 3))))
    with pytest.raises(UserError, match="at least O = 2"):
        problems.rnn_model_forward(x, p._replace(V=np.zeros((1, 2)), c=np.zeros(1)))
    h, cache = rnn.rnn_forward(x, np.zeros(2), p.W, p.U, p.b)
    with pytest.raises(UserError, match=r"dh must have the shape of h, \(3, 2\); got \(2, 2\)"):
        rnn.rnn_backward(h[:2], cache)
    lstm_p = lstm.LSTMParams(**{n: getattr(p, n[0]).copy() for n in LSTM_PARAMS})
    with pytest.raises(UserError, match=r"U_g has shape \(2, 3\), expected \(2, 2\)"):
        lstm.lstm_forward(x, np.zeros(2), lstm_p._replace(U_g=np.zeros((2, 3))))
    with pytest.raises(UserError, match="cell activation must be one of"):
        lstm.lstm_forward(x, np.zeros(2), lstm_p, "relu")
