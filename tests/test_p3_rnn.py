"""Problem 3: the assignment's numbers against torch autograd and hand computation, and the script.

The layers themselves are tested in tests/test_rnn.py. Expected values here come from a torch
float64 re-implementation written here and from hand computation.
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

import p3_rnn_bptt as p3
from common.core.cli import FIGURES, UserError, run
from common.core.gradcheck import numeric_gradient, rel_error
from common.core.text import sig
from common.recurrent import problems, rnn

ROOT = Path(__file__).resolve().parent.parent


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

    yhat, got_loss, _ = problems.rnn_model_forward(problems.problem3_sequence(), problems.problem3_params())
    np.testing.assert_allclose(yhat, torch.stack(ys).numpy(), rtol=1e-13)
    assert got_loss == pytest.approx(loss.item(), rel=1e-13)


def test_problem3_first_step_by_hand() -> None:
    # a(1) = b + W h(0) + U x(1) = [-1, 1] + 0 + [-1, 1] = [-2, 2]; h(1) = [-tanh 2, tanh 2];
    # o(1) = c + V h(1) = [0.5 + 2 tanh 2 + tanh 2, -0.5 + tanh 2]
    _, _, cache = problems.rnn_model_forward(problems.problem3_sequence(), problems.problem3_params())
    np.testing.assert_array_equal(cache.rnn.a[0], [-2.0, 2.0])
    th = math.tanh(2.0)
    o1 = [0.5 + 3 * th, -0.5 + th]
    y1 = [math.exp(o) / (math.exp(o1[0]) + math.exp(o1[1])) for o in o1]
    np.testing.assert_allclose(cache.out.yhat[0], y1, rtol=1e-14)


def test_length_one_sequence() -> None:
    x, p = problems.problem3_sequence()[:1], problems.problem3_params()
    yhat, loss, cache = problems.rnn_model_forward(x, p)
    _, grads = problems.rnn_model_backward(cache)
    assert yhat.shape == (1, 2) and math.isfinite(loss)
    numeric = numeric_gradient(lambda _: problems.rnn_model_forward(x, p)[1], p.b)
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
    x = replace.pop("x", problems.problem3_sequence())
    with pytest.raises(UserError, match=message):
        problems.rnn_model_forward(x, problems.problem3_params()._replace(**replace))


def test_upstream_gradient_of_the_wrong_shape_is_rejected() -> None:
    p = problems.problem3_params()
    h, cache = rnn.rnn_forward(problems.problem3_sequence(), np.zeros(2), p.W, p.U, p.b)
    with pytest.raises(UserError, match=r"dh must have the shape of h, \(3, 2\); got \(2, 2\)"):
        rnn.rnn_backward(h[:2], cache)


def test_user_error_becomes_one_line_and_status_2(capsys: pytest.CaptureFixture[str]) -> None:
    status = run(lambda: problems.rnn_model_forward(np.zeros((0, 2)), problems.problem3_params()))
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1 and err.startswith("error: empty sequence")


def test_script_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    results = p3.main(["--out", str(tmp_path / "a")])
    printed = capsys.readouterr().out
    saved = json.loads((tmp_path / "a" / "p3_results.json").read_text())
    assert saved == json.loads(json.dumps(results))
    assert (tmp_path / "a" / "p3_unrolled_rnn.png").stat().st_size > 10_000
    from PIL import Image
    assert Image.open(tmp_path / "a" / "p3_unrolled_rnn.png").size[0] <= 1600  # dpi 150, tight bounding box
    assert np.shape(saved["yhat"]) == (3, 2) and len(saved["grad_b_central"]) == len(saved["b_new"]) == 2

    # the intermediates, printed from t = τ down to 1, sum to the reported gradient
    rows = saved["intermediate"]
    assert [row["t"] for row in rows] == [3, 2, 1]
    np.testing.assert_allclose(np.sum([row["contribution_to_dL_db"] for row in rows], axis=0),
                               saved["grad_b_bptt"], rtol=1e-13)
    assert all(sig(row["contribution_to_dL_db"], 5) in printed for row in rows)  # the tables: 5 digits
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


def torch_intermediates(log: str, h0: list[float]) -> dict:
    """ŷ(τ), ∂L/∂ŷ(τ), the softmax Jacobian and h(t) of Problem 3 from torch, written here: ∂L/∂ŷ from
    autograd on a leaf copy of ŷ(τ), the Jacobian from torch.autograd.functional.jacobian."""
    f64 = torch.float64
    b, c = torch.tensor([-1.0, 1.0], dtype=f64), torch.tensor([0.5, -0.5], dtype=f64)
    W = torch.tensor([[1.0, -1.0], [0.0, 2.0]], dtype=f64)
    U = torch.tensor([[-1.0, 0.0], [1.0, -2.0]], dtype=f64)
    V = torch.tensor([[-2.0, 1.0], [-1.0, 0.0]], dtype=f64)
    h, hs, os_ = torch.tensor(h0, dtype=f64), [], []
    for x_t in torch.tensor([[1.0, 0.0], [0.5, 0.25], [0.0, 1.0]], dtype=f64):
        h = torch.tanh(b + W @ h + U @ x_t)
        hs.append(h)
        os_.append(c + V @ h)
    y = torch.softmax(os_[-1], dim=0).detach().requires_grad_()
    ln_base = {"e": 1.0, "10": math.log(10.0), "2": math.log(2.0)}[log]
    ((y[0] - 0.5) ** 2 - torch.log(y[1]) / ln_base).backward()
    jac = [torch.autograd.functional.jacobian(lambda o: torch.softmax(o, dim=0), o).numpy() for o in os_]
    return {"dL_dyhat": y.grad.numpy(), "softmax_jacobian": jac, "h": torch.stack(hs).numpy()}


@pytest.mark.parametrize("log, h0", [("e", [0.0, 0.0]), ("10", [0.5, -0.5]), ("2", [0.0, 0.0])])
def test_new_intermediate_fields_match_torch(log: str, h0: list[float], tmp_path: Path) -> None:
    saved = p3.main(["--out", str(tmp_path), "--log", log, "--h0", *map(str, h0)])
    expected = torch_intermediates(log, h0)
    rows = {row["t"]: row for row in saved["intermediate"]}
    np.testing.assert_allclose(rows[3]["dL_dyhat"], expected["dL_dyhat"], rtol=1e-13)
    for t in (1, 2):
        assert rows[t]["dL_dyhat"] == [0.0, 0.0]  # only ŷ(τ) enters the loss
    for t in (1, 2, 3):
        np.testing.assert_allclose(rows[t]["softmax_jacobian"], expected["softmax_jacobian"][t - 1], rtol=1e-13,
                                   atol=1e-16)
        np.testing.assert_allclose(rows[t]["one_minus_h2"], 1.0 - expected["h"][t - 1] ** 2, rtol=1e-13)
    assert saved["h0"] == h0 and saved["log"] == log
    # ∂L/∂b against torch autograd with the same reading of the problem
    assert rel_error(np.array(saved["grad_b_bptt"]), np.array(saved["grad_b_autograd"])) < 1e-10


def test_natural_log_and_zero_h0_keep_the_assignment_s_answer(tmp_path: Path) -> None:
    saved = p3.main(["--out", str(tmp_path)])
    # the values this repository has always reported, from torch and central differences alike
    assert sig(saved["loss"]) == "3.0072080"
    assert sig(saved["grad_b_bptt"]) == "[-0.0099613883, 0.43400995]"


def test_the_first_rows_follow_by_hand_from_the_saved_outputs(tmp_path: Path) -> None:
    saved = p3.main(["--out", str(tmp_path)])
    row = saved["intermediate"][0]
    y = saved["yhat"][-1]
    dyhat = [2 * (y[0] - 0.5), -1 / y[1]]  # ∂L/∂ŷ(3) from the saved ŷ(3), by hand
    assert sig(dyhat) == sig(row["dL_dyhat"])
    J = np.diag(y) - np.outer(y, y)
    do = J.T @ np.array(dyhat)
    assert sig(do) == sig(row["dL_do"])
    dh = np.array([[-2.0, -1.0], [1.0, 0.0]]) @ do  # Vᵀ ∂L/∂o(3)
    assert sig(dh) == sig(row["dL_dh"])
    da = (1 - np.array(saved["h"][-1]) ** 2) * dh
    assert sig(da) == sig(row["dL_da"])
    dh2 = np.array([[1.0, 0.0], [-1.0, 2.0]]) @ da  # Wᵀ ∂L/∂a(3)
    assert sig(dh2) == sig(saved["intermediate"][1]["dL_dh"])


@pytest.mark.parametrize("flag", [["--h0", "0"], ["--h0", "0", "inf"], ["--log", "3"]])
def test_interpretation_flags_reject_bad_values_in_one_line(flag: list[str]) -> None:
    proc = subprocess.run([sys.executable, "p3_rnn_bptt.py", *flag], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and f"argument {flag[0]}" in proc.stderr


def test_an_h0_whose_first_step_overflows_is_one_line_and_exit_2() -> None:
    # W h(0) = [1e308 − 1e308, 2e308]: the second entry is above float64's largest, 1.8e308
    proc = subprocess.run([sys.executable, "p3_rnn_bptt.py", "--h0", "1e308", "1e308"], cwd=ROOT,
                          capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and "argument --h0" in proc.stderr and "overflows" in proc.stderr


def test_a_large_h0_whose_first_step_fits_float64_still_runs(tmp_path: Path) -> None:
    # W h(0) = [0, 1.6e308] fits float64, and tanh saturates: h(1) = [tanh(0 + b1 + U x(1)), 1]
    saved = p3.main(["--h0", "8e307", "8e307", "--out", str(tmp_path)])
    assert np.isfinite(saved["loss"]) and saved["h"][0][1] == 1.0


def test_another_reading_never_overwrites_the_reference_results() -> None:
    parser = p3.build_parser()
    assert p3.output_folder(parser, parser.parse_args([])) == FIGURES
    assert p3.output_folder(parser, parser.parse_args(["--eps", "1e-4", "--log", "e"])) == FIGURES
    assert p3.output_folder(parser, parser.parse_args(["--log", "10"])) == FIGURES / "readings" / "p3_log=10"
    assert p3.output_folder(parser, parser.parse_args(["--h0", "0.5", "-1", "--lr", "0.01"])) == \
        FIGURES / "readings" / "p3_h0=0.5,-1_lr=0.01"
    assert p3.output_folder(parser, parser.parse_args(["--log", "2", "--out", "x"])) == Path("x")


def test_an_eps_far_from_the_assignment_s_warns(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """ε = 0.2: the ε² truncation term makes central differences differ from BPTT by more than 1e-3."""
    saved = p3.main(["--eps", "0.2", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert saved["rel_error_central"] > 1e-3
    assert err.startswith("warning: with ε = 0.2") and "too large" in err
    assert p3.eps_warning(1e-4, 1.6e-9) is None and "too small" in p3.eps_warning(1e-13, 1.4e-3)
