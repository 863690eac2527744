"""Problem 3: the RNN's hand-written BPTT against central differences and torch autograd, and the script.

Expected values come from independent sources: centred differences, a torch float64 autograd
re-implementation written here, and hand computation. Every gradient is float64.
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

import p3_rnn_bptt as p3
from common.cli import UserError, run
from common.gradcheck import numeric_gradient, rel_error

ROOT = Path(__file__).resolve().parent.parent
NAMES = ["x", "h0", "W", "U", "b", "V", "c"]
SETTINGS = settings(max_examples=30, deadline=None, derandomize=True, database=None)
# Centred differences in float64 carry a rounding error of about u·|L|/ε ≈ 5e-10 (u = 1.1e-16, |L| up to
# ~5, ε = 1e-6) whatever the gradient's size, plus a truncation error ε²|L‴|/6. rel_error divides by
# max(FLOOR, max(|x| + |y|)), so a gradient array smaller than FLOOR is held to an absolute error of
# 1e-7·FLOOR = 1e-8 (20 times the rounding noise) and a larger one to a relative error of 1e-7.
EPS, FLOOR = 1e-6, 0.1


@st.composite
def rnn_cases(draw: st.DrawFn) -> dict[str, np.ndarray]:
    """Random sizes T 1-50, D and H 1-4, O 2-4; values ~N(0, 0.5²) so tanh is not saturated."""
    T, D, H, O = (draw(st.integers(lo, hi)) for lo, hi in ((1, 50), (1, 4), (1, 4), (2, 4)))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    shapes = {"x": (T, D), "h0": (H,), "W": (H, H), "U": (H, D), "b": (H,), "V": (O, H), "c": (O,),
              "probe": (T, H)}
    return {name: 0.5 * rng.standard_normal(shape) for name, shape in shapes.items()}


# The test loss is the assignment's loss plus Σ_t probe(t)·h(t): a random upstream gradient at every
# step, so every h(t), and through it every parameter, gets an O(1) gradient even for T = 50.


def numpy_loss(a: dict[str, np.ndarray]) -> float:
    h, _ = p3.rnn_forward(a["x"], a["h0"], a["W"], a["U"], a["b"])
    _, loss, _ = p3.head_forward(h, a["V"], a["c"])
    return loss + float(np.sum(a["probe"] * h))


def numpy_grads(a: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    h, cache = p3.rnn_forward(a["x"], a["h0"], a["W"], a["U"], a["b"])
    _, _, out_cache = p3.head_forward(h, a["V"], a["c"])
    out = p3.head_backward(out_cache)
    g = p3.rnn_backward(out.dh + a["probe"], cache)
    return {"x": g.dx, "h0": g.dh0, "W": g.dW, "U": g.dU, "b": g.db, "V": out.dV, "c": out.dc}


def torch_loss(t: dict[str, torch.Tensor]) -> torch.Tensor:
    """Eqs. 10.8-10.11 and the loss, written independently in torch."""
    h, hs = t["h0"], []
    for x_t in t["x"]:
        h = torch.tanh(t["b"] + t["W"] @ h + t["U"] @ x_t)
        hs.append(h)
    y = torch.softmax(t["c"] + t["V"] @ h, dim=0)
    return (y[0] - 0.5) ** 2 - torch.log(y[1]) + (t["probe"] * torch.stack(hs)).sum()


def torch_grads(a: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    t = {name: torch.tensor(value, dtype=torch.float64, requires_grad=True) for name, value in a.items()}
    torch_loss(t).backward()
    return {name: t[name].grad.numpy() for name in NAMES}


@pytest.mark.parametrize("name", NAMES)
@SETTINGS
@given(case=rnn_cases())
def test_rnn_gradient_matches_central_differences(name: str, case: dict[str, np.ndarray]) -> None:
    numeric = numeric_gradient(lambda _: numpy_loss(case), case[name], EPS)
    assert rel_error(numpy_grads(case)[name], numeric, FLOOR) < 1e-7


@pytest.mark.parametrize("name", NAMES)
@SETTINGS
@given(case=rnn_cases())
def test_rnn_gradient_matches_torch_autograd(name: str, case: dict[str, np.ndarray]) -> None:
    assert rel_error(numpy_grads(case)[name], torch_grads(case)[name]) < 1e-10


def test_step_backward_matches_central_differences() -> None:
    rng = np.random.default_rng(0)
    D, H = 3, 4
    args = {"x": rng.standard_normal(D), "h_prev": rng.standard_normal(H),
            "W": 0.5 * rng.standard_normal((H, H)), "U": 0.5 * rng.standard_normal((H, D)),
            "b": 0.5 * rng.standard_normal(H)}
    dh = rng.standard_normal(H)
    _, cache = p3.rnn_step_forward(**args)
    grads = p3.rnn_step_backward(dh, cache)
    for name, grad in zip(args, grads):  # gradients come back in the order of the forward's arguments
        numeric = numeric_gradient(lambda _: float(dh @ p3.rnn_step_forward(**args)[0]), args[name])
        assert rel_error(grad, numeric) < 1e-7, name


def test_sequence_of_one_step_equals_the_step_functions() -> None:
    rng = np.random.default_rng(1)
    x, h0 = rng.standard_normal((1, 2)), rng.standard_normal(3)
    W, U, b = rng.standard_normal((3, 3)), rng.standard_normal((3, 2)), rng.standard_normal(3)
    dh = rng.standard_normal((1, 3))
    h, cache = p3.rnn_forward(x, h0, W, U, b)
    h_step, step_cache = p3.rnn_step_forward(x[0], h0, W, U, b)
    seq, step = p3.rnn_backward(dh, cache), p3.rnn_step_backward(dh[0], step_cache)
    np.testing.assert_allclose(h[0], h_step, rtol=1e-15)
    for got, want in [(seq.dx[0], step.dx), (seq.dh0, step.dh_prev), (seq.dW, step.dW), (seq.dU, step.dU),
                      (seq.db, step.db), (seq.da[0], step.da)]:
        np.testing.assert_allclose(got, want, rtol=1e-14, atol=1e-15)


def test_problem3_forward_and_loss_match_torch() -> None:
    # the assignment's numbers, typed in again here rather than taken from p3_rnn_bptt
    b, c = torch.tensor([-1.0, 1.0], dtype=torch.float64), torch.tensor([0.5, -0.5], dtype=torch.float64)
    W = torch.tensor([[1.0, -1.0], [0.0, 2.0]], dtype=torch.float64)
    U = torch.tensor([[-1.0, 0.0], [1.0, -2.0]], dtype=torch.float64)
    V = torch.tensor([[-2.0, 1.0], [-1.0, 0.0]], dtype=torch.float64)
    xs = torch.tensor([[1.0, 0.0], [0.5, 0.25], [0.0, 1.0]], dtype=torch.float64)
    h, ys = torch.zeros(2, dtype=torch.float64), []
    for x_t in xs:
        h = torch.tanh(b + W @ h + U @ x_t)
        ys.append(torch.softmax(c + V @ h, dim=0))
    loss = (ys[-1][0] - 0.5) ** 2 - torch.log(ys[-1][1])

    yhat, got_loss, _ = p3.rnn_model_forward(p3.problem3_sequence(), p3.problem3_params())
    np.testing.assert_allclose(yhat, torch.stack(ys).numpy(), rtol=1e-13)
    assert got_loss == pytest.approx(loss.item(), rel=1e-13)


def test_problem3_first_step_by_hand() -> None:
    # a(1) = b + W h(0) + U x(1) = [-1, 1] + 0 + [-1, 1] = [-2, 2]; h(1) = [-tanh 2, tanh 2];
    # o(1) = c + V h(1) = [0.5 + 2 tanh 2 + tanh 2, -0.5 + tanh 2]
    _, _, cache = p3.rnn_model_forward(p3.problem3_sequence(), p3.problem3_params())
    np.testing.assert_array_equal(cache.rnn.a[0], [-2.0, 2.0])
    th = math.tanh(2.0)
    o1 = [0.5 + 3 * th, -0.5 + th]
    y1 = [math.exp(o) / (math.exp(o1[0]) + math.exp(o1[1])) for o in o1]
    np.testing.assert_allclose(cache.out.yhat[0], y1, rtol=1e-14)


def test_length_one_sequence() -> None:
    x, p = p3.problem3_sequence()[:1], p3.problem3_params()
    yhat, loss, cache = p3.rnn_model_forward(x, p)
    _, grads = p3.rnn_model_backward(cache)
    assert yhat.shape == (1, 2) and math.isfinite(loss)
    numeric = numeric_gradient(lambda _: p3.rnn_model_forward(x, p)[1], p.b)
    assert rel_error(grads.db, numeric) < 1e-7


BAD_INPUTS = {
    "empty sequence": (dict(x=np.zeros((0, 2))), "empty sequence"),
    "x not (T, D)": (dict(x=np.zeros(2)), r"x must be a \(T, D\) array"),
    "U for the wrong D": (dict(U=np.zeros((2, 3))), r"U has shape \(2, 3\), expected \(2, 2\)"),
    "W not square": (dict(W=np.zeros((2, 3))), r"W has shape \(2, 3\), expected \(2, 2\)"),
    "b for the wrong H": (dict(b=np.zeros(3)), r"b has shape \(3,\), expected \(2,\)"),
    "V for the wrong H": (dict(V=np.zeros((2, 3))), "V must be"),
    "one output only": (dict(V=np.zeros((1, 2)), c=np.zeros(1)), "at least O = 2"),
}


@pytest.mark.parametrize("change", BAD_INPUTS.values(), ids=BAD_INPUTS.keys())
def test_bad_inputs_raise_a_clear_user_error(change: tuple[dict, str]) -> None:
    replace, message = dict(change[0]), change[1]
    x = replace.pop("x", p3.problem3_sequence())
    with pytest.raises(UserError, match=message):
        p3.rnn_model_forward(x, p3.problem3_params()._replace(**replace))


def test_upstream_gradient_of_the_wrong_shape_is_rejected() -> None:
    p = p3.problem3_params()
    h, cache = p3.rnn_forward(p3.problem3_sequence(), np.zeros(2), p.W, p.U, p.b)
    with pytest.raises(UserError, match=r"dh must have the shape of h, \(3, 2\); got \(2, 2\)"):
        p3.rnn_backward(h[:2], cache)


def test_user_error_becomes_one_line_and_status_2(capsys: pytest.CaptureFixture[str]) -> None:
    status = run(lambda: p3.rnn_model_forward(np.zeros((0, 2)), p3.problem3_params()))
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1 and err.startswith("error: empty sequence")


def test_script_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    results = p3.main(["--out", str(tmp_path / "a")])
    printed = capsys.readouterr().out
    saved = json.loads((tmp_path / "a" / "p3_results.json").read_text())
    assert saved == json.loads(json.dumps(results))
    assert (tmp_path / "a" / "p3_unrolled_rnn.png").stat().st_size > 10_000
    assert np.shape(saved["yhat"]) == (3, 2) and len(saved["grad_b_central"]) == len(saved["b_new"]) == 2

    # the intermediates, printed from t = τ down to 1, sum to the reported gradient
    rows = saved["intermediate"]
    assert [row["t"] for row in rows] == [3, 2, 1]
    np.testing.assert_allclose(np.sum([row["contribution_to_dL_db"] for row in rows], axis=0),
                               saved["grad_b_bptt"], rtol=1e-13)
    assert all(p3.fmt(row["contribution_to_dL_db"]) in printed for row in rows)
    assert rows[1]["dL_do"] == rows[2]["dL_do"] == [0.0, 0.0]  # only ŷ(τ) enters the loss

    # three independent gradients agree; the step and the new loss follow from them
    assert rel_error(np.array(saved["grad_b_bptt"]), np.array(saved["grad_b_central"])) < 1e-7
    assert rel_error(np.array(saved["grad_b_bptt"]), np.array(saved["grad_b_autograd"])) < 1e-10
    np.testing.assert_allclose(saved["b_new"], np.array([-1.0, 1.0]) - 0.002 * np.array(saved["grad_b_bptt"]),
                               rtol=1e-15)
    assert saved["loss_new"] < saved["loss"]
    assert saved["loss_change"] == pytest.approx(saved["loss_change_first_order"], rel=1e-2)

    # same command, identical JSON
    p3.main(["--out", str(tmp_path / "b")])
    first, second = (tmp_path / run_dir / "p3_results.json" for run_dir in "ab")
    assert first.read_bytes() == second.read_bytes()


@pytest.mark.parametrize("flag", [["--eps", "0"], ["--eps", "-1e-4"], ["--lr", "-0.002"], ["--lr", "x"]])
def test_cli_rejects_bad_flags_in_one_line(flag: list[str]) -> None:
    proc = subprocess.run([sys.executable, "p3_rnn_bptt.py", *flag], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and f"error: argument {flag[0]}" in proc.stderr


def test_help_shows_the_assignment_defaults() -> None:
    proc = subprocess.run([sys.executable, "p3_rnn_bptt.py", "--help"], cwd=ROOT, capture_output=True,
                          text=True)
    assert proc.returncode == 0
    assert "(default: 0.0001)" in proc.stdout and "(default: 0.002)" in proc.stdout
