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
from lstm_reference import torch_lstm_loss

import p5_lstm as p5
from common.core.cli import FIGURES, UserError
from common.core.gradcheck import numeric_gradient, rel_error
from common.core.text import sig
from common.recurrent import lstm, problems

ROOT = Path(__file__).resolve().parent.parent
PARAMS = list(lstm.LSTMParams._fields)


@pytest.mark.parametrize("activation", ["sigmoid", "tanh"])
def test_problem5_forward_and_loss_match_torch(activation: str) -> None:
    # Problem 3's U, W, V, c and x, typed in again; the biases b = 0, b^f = [1, 1], b^g = [-1, -1], b^o = [2, 2]
    f64 = torch.float64
    U = torch.tensor([[-1.0, 0.0], [1.0, -2.0]], dtype=f64)
    W = torch.tensor([[1.0, -1.0], [0.0, 2.0]], dtype=f64)
    V, c = torch.tensor([[-2.0, 1.0], [-1.0, 0.0]], dtype=f64), torch.tensor([0.5, -0.5], dtype=f64)
    t = {"b": torch.zeros(2, dtype=f64), "b_f": torch.ones(2, dtype=f64),
         "b_g": -torch.ones(2, dtype=f64), "b_o": torch.full((2,), 2.0, dtype=f64), "V": V, "c": c,
         "x": torch.tensor([[1.0, 0.0], [0.5, 0.25], [0.0, 1.0]], dtype=f64), "h0": torch.zeros(2, dtype=f64),
         "probe": torch.zeros(3, 2, dtype=f64)}
    t |= {f"{m}{k}": {"U": U, "W": W}[m] for m in "UW" for k in ("", "_f", "_g", "_o")}
    p, V_np, c_np = problems.problem5_params(problems.PROBLEM5_BIASES)
    _, loss, _ = problems.lstm_model_forward(problems.problem3_sequence(), p, V_np, c_np, activation)
    assert loss == pytest.approx(torch_lstm_loss(t, activation).item(), rel=1e-13)


def test_problem5_first_step_by_hand() -> None:
    # U x(1) = [-1, 1] and h(0) = 0: a_f(1) = [1, 1] + [-1, 1] = [0, 2], so f(1) = [1/2, σ(2)];
    # z(1) = σ(0 + [-1, 1]); g(1) = σ([-1, -1] + [-1, 1]) = σ([-2, 0]); s(1) = g(1) z(1) as s(0) = 0
    p, V, c = problems.problem5_params(problems.PROBLEM5_BIASES)
    _, _, cache = problems.lstm_model_forward(problems.problem3_sequence(), p, V, c)
    step = cache.lstm.steps[0]

    def sigma(v: float) -> float:
        return 1.0 / (1.0 + math.exp(-v))

    np.testing.assert_allclose(step.f, [0.5, sigma(2.0)], rtol=1e-15)
    np.testing.assert_allclose(step.s, [sigma(-2.0) * sigma(-1.0), sigma(0.0) * sigma(1.0)], rtol=1e-14)


def test_bad_inputs_raise_a_clear_user_error() -> None:
    p, V, c = problems.problem5_params(problems.PROBLEM5_BIASES)
    x = problems.problem3_sequence()
    with pytest.raises(UserError, match="empty sequence"):
        problems.lstm_model_forward(x[:0], p, V, c)
    with pytest.raises(UserError, match=r"U_g has shape \(2, 3\), expected \(2, 2\)"):
        problems.lstm_model_forward(x, p._replace(U_g=np.zeros((2, 3))), V, c)
    with pytest.raises(UserError, match=r"b_o has shape \(3,\), expected \(2,\)"):
        problems.lstm_model_forward(x, p._replace(b_o=np.zeros(3)), V, c)
    with pytest.raises(UserError, match="cell activation must be one of"):
        problems.lstm_model_forward(x, p, V, c, "relu")
    h, cache = lstm.lstm_forward(x, np.zeros(2), p)
    with pytest.raises(UserError, match=r"dh must have the shape of h, \(3, 2\)"):
        lstm.lstm_backward(h[:2], cache)


def test_length_one_sequence() -> None:
    p, V, c = problems.problem5_params(problems.PROBLEM5_BIASES)
    x = problems.problem3_sequence()[:1]
    _, loss, cache = problems.lstm_model_forward(x, p, V, c)
    _, grads = problems.lstm_model_backward(cache)
    assert math.isfinite(loss)
    np.testing.assert_array_equal(grads.params.b_f, [0.0, 0.0])  # s(0) = 0: nothing to forget at t = 1
    numeric = numeric_gradient(lambda _: problems.lstm_model_forward(x, p, V, c)[1], p.b)
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
    assert np.shape(saved["yhat"]) == (3, 2) and saved["default_biases"] is True

    # the intermediates, printed from t = τ down to 1, sum to the reported gradient
    rows = saved["intermediate"]
    assert [row["t"] for row in rows] == [3, 2, 1]
    np.testing.assert_allclose(np.sum([row["contribution_to_dL_db_f"] for row in rows], axis=0),
                               saved["grad_b_f_bptt"], rtol=1e-13)
    assert all(sig(row["contribution_to_dL_db_f"], 5) in printed for row in rows)  # the tables: 5 digits
    assert rel_error(np.array(saved["grad_b_f_bptt"]), np.array(saved["grad_b_f_central"])) < 1e-7
    assert rel_error(np.array(saved["grad_b_f_bptt"]), np.array(saved["grad_b_f_autograd"])) < 1e-10

    # the answer's opening names the shared U and W and the cell input's activation, and calls the
    # check against central differences a relative difference
    answer = next(line for line in printed.splitlines() if line.startswith("**Answer.**"))
    first = answer.split(";")[0]
    assert "U and W are Problem 3's" in first and "every gate" in first and "cell input" in first
    assert {"sigmoid": "σ", "tanh": "tanh"}[activation] in first
    assert f"a relative difference of {rel_error(np.array(saved['grad_b_f_bptt']), np.array(saved['grad_b_f_central'])):.1e}" in answer


@pytest.mark.parametrize("flag", [["--eps", "0"], ["--cell-activation", "relu"]])
def test_cli_rejects_bad_flags_in_one_line(flag: list[str]) -> None:
    proc = subprocess.run([sys.executable, "p5_lstm.py", *flag], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and f"error: argument {flag[0]}" in proc.stderr


def torch_backward(biases: dict[str, list[float]], activation: str) -> dict[str, list[np.ndarray]]:
    """Every intermediate gradient of Problem 5, from torch autograd with retain_grad on each tensor of
    eqs. 10.40-10.44 written here gate by gate; lists indexed by t = 1..τ."""
    f64 = torch.float64
    U = torch.tensor([[-1.0, 0.0], [1.0, -2.0]], dtype=f64)
    W = torch.tensor([[1.0, -1.0], [0.0, 2.0]], dtype=f64)
    V, c = torch.tensor([[-2.0, 1.0], [-1.0, 0.0]], dtype=f64), torch.tensor([0.5, -0.5], dtype=f64)
    U.requires_grad_()  # so that every tensor below is part of the graph and can keep its gradient
    b = {k: torch.tensor(v, dtype=f64) for k, v in biases.items()}
    cell = torch.sigmoid if activation == "sigmoid" else torch.tanh
    h = s = torch.zeros(2, dtype=f64)
    keep: dict[str, list[torch.Tensor]] = {k: [] for k in ("o", "h", "s", "f", "g", "q", "z", "a_f", "a_g",
                                                            "a_q", "a_z")}
    for x_t in torch.tensor([[1.0, 0.0], [0.5, 0.25], [0.0, 1.0]], dtype=f64):
        pre = U @ x_t + W @ h
        a = {"a_f": b["b_f"] + pre, "a_g": b["b_g"] + pre, "a_q": b["b_o"] + pre, "a_z": b["b"] + pre}
        f, g, q, z = torch.sigmoid(a["a_f"]), torch.sigmoid(a["a_g"]), torch.sigmoid(a["a_q"]), cell(a["a_z"])
        s = f * s + g * z
        h = torch.tanh(s) * q
        o = c + V @ h
        for name, tensor in {**a, "f": f, "g": g, "q": q, "z": z, "s": s, "h": h, "o": o}.items():
            tensor.retain_grad()
            keep[name].append(tensor)
    y = torch.softmax(o, dim=0)
    ((y[0] - 0.5) ** 2 - torch.log(y[1])).backward()
    # o(t) for t < τ is not in the loss: autograd leaves its gradient None, i.e. zero
    return {name: [np.zeros(2) if t.grad is None else t.grad.numpy() for t in tensors]
            for name, tensors in keep.items()}


GRADER_BIASES = {"b_f": [1.0, 1.0], "b_g": [0.0, 0.0], "b_o": [0.0, 0.0], "b": [-1.0, 1.0]}


@pytest.mark.parametrize("activation", ["sigmoid", "tanh"])
@pytest.mark.parametrize("biases", [None, GRADER_BIASES], ids=["script's biases", "biases from flags"])
def test_every_intermediate_gradient_matches_autograd(activation: str, biases: dict | None,
                                                      tmp_path: Path) -> None:
    flags = [] if biases is None else [a for k, v in biases.items()
                                       for a in (f"--{k.replace('_', '-')}", *map(str, v))]
    saved = p5.main(["--out", str(tmp_path), "--cell-activation", activation, *flags])
    expected = torch_backward(biases or {k: list(v) for k, v in problems.PROBLEM5_BIASES.items()}, activation)
    keys = {"dL_do": "o", "dL_dh": "h", "dL_ds": "s", "dL_df": "f", "dL_dg": "g", "dL_dq": "q", "dL_dz": "z",
            "dL_da_f": "a_f", "dL_da_g": "a_g", "dL_da_q": "a_q", "dL_da_z": "a_z"}
    for row in saved["intermediate"]:
        for key, name in keys.items():
            np.testing.assert_allclose(row[key], expected[name][row["t"] - 1], rtol=1e-12, atol=1e-15,
                                       err_msg=f"{key} at t = {row['t']}")
    for name in GRADER_BIASES:
        assert saved["params"][name] == list((biases or problems.PROBLEM5_BIASES)[name])


def test_the_script_s_biases_keep_every_gate_apart_and_the_old_choice_did_not(tmp_path: Path) -> None:
    ours = p5.main(["--out", str(tmp_path)])
    assert ours["default_biases"] is True and ours["equal_preactivations"] == []
    fw = np.array([ours["forward"][k] for k in "fgqz"])  # (4, T, H)
    assert min(np.abs(fw[i] - fw[j]).min() for i in range(4) for j in range(i + 1, 4)) > 0.01
    old = p5.main(["--out", str(tmp_path), "--b-f", "1", "1", "--b-g", "0", "0", "--b-o", "0", "0",
                   "--b", "-1", "1"])
    assert old["default_biases"] is False
    assert old["equal_preactivations"] == [{"pair": ["f", "z"], "unit": 2, "activations_equal": True},
                                           {"pair": ["g", "q"], "unit": 1, "activations_equal": True},
                                           {"pair": ["g", "q"], "unit": 2, "activations_equal": True}]
    np.testing.assert_array_equal(old["forward"]["g"], old["forward"]["q"])
    np.testing.assert_array_equal(np.array(old["forward"]["f"])[:, 1], np.array(old["forward"]["z"])[:, 1])
    tanh = p5.main(["--out", str(tmp_path), "--b-f", "1", "1", "--b-g", "0", "0", "--b-o", "0", "0",
                    "--b", "-1", "1", "--cell-activation", "tanh"])
    assert tanh["equal_preactivations"][0] == {"pair": ["f", "z"], "unit": 2, "activations_equal": False}
    assert np.abs(np.array(tanh["forward"]["f"])[:, 1] - np.array(tanh["forward"]["z"])[:, 1]).min() > 0.01


def test_the_numbers_in_the_bias_argument(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def sigma(v: float) -> float:
        return 1.0 / (1.0 + math.exp(-v))

    saved = p5.main(["--out", str(tmp_path)])
    text = capsys.readouterr().out
    reading = saved["bias_reading"]
    assert reading["f"][0] == pytest.approx(sigma(1), rel=1e-15) and reading["g"][1] == pytest.approx(sigma(-1), rel=1e-15)
    assert reading["state_gain"][0] == pytest.approx(1.0, rel=1e-15)  # σ(−1) = 1 − σ(1): "s = g z / (1 − f) = z"
    for claim in (f"σ(1) = {sigma(1):.2f}", f"σ(−1) = {sigma(-1):.2f}", f"σ(2) = {sigma(2):.2f}",
                  f"σ'(2) = {sigma(2) * (1 - sigma(2)):.2f}", f"{sigma(0) / (1 - sigma(1)):.1f} z",
                  "(1 − f) = 1.00 z"):
        assert claim in text, claim


@pytest.mark.parametrize("flag", [["--b-f", "1"], ["--b-g", "0", "x"], ["--b", "nan", "0"]])
def test_bias_flags_reject_bad_values_in_one_line(flag: list[str]) -> None:
    proc = subprocess.run([sys.executable, "p5_lstm.py", *flag], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and f"argument {flag[0]}" in proc.stderr


def test_log_base_reaches_the_loss_and_the_gradient(tmp_path: Path) -> None:
    """--log 10: L and ∂L/∂b^f against torch autograd with log10 in the loss (tests/grade_autograd.py)."""
    import grade_autograd

    saved = p5.main(["--log", "10", "--out", str(tmp_path)])
    p = saved["params"]
    want = grade_autograd.p5(saved["x"], p["c"], p["W"], p["U"], p["V"], {k: p[k] for k in ("b_f", "b_g", "b_o", "b")},
                             "sigmoid", log="10")
    assert saved["log"] == "10" and saved["loss"] == pytest.approx(want["L"], rel=1e-13)
    np.testing.assert_allclose(saved["grad_b_f_bptt"], [want["grad_1"], want["grad_2"]], rtol=1e-10)
    assert saved["rel_error_autograd"] < 1e-12


def test_another_reading_never_overwrites_the_reference_results() -> None:
    parser = p5.build_parser()
    assert p5.output_folder(parser, parser.parse_args([])) == FIGURES
    assert p5.output_folder(parser, parser.parse_args(["--b-f", "1", "1"])) == FIGURES
    assert p5.output_folder(parser, parser.parse_args(["--cell-activation", "tanh", "--b-f", "0", "0"])) == \
        FIGURES / "readings" / "p5_cell-activation=tanh_b-f=0,0"
    assert p5.output_folder(parser, parser.parse_args(["--log", "2"])) == FIGURES / "readings" / "p5_log=2"
