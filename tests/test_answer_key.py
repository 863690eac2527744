"""answer_key.py: every row of the graders' key against torch autograd, computed here from scratch.

The torch models below are written independently of common/recurrent/rnn.py and common/recurrent/rnn_autograd.py: the
RNN of eqs. 10.8-10.11 and the LSTM of eqs. 10.40-10.44 with the assignment's numbers typed in again.
"""
from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
import torch

import answer_key
from common.core.cli import UserError
from common.grading import key
from common.grading.solution import assignment_sheet
from common.recurrent.problems import PROBLEM5_BIASES

F64 = torch.float64
U = [[-1.0, 0.0], [1.0, -2.0]]
W = [[1.0, -1.0], [0.0, 2.0]]
V = [[-2.0, 1.0], [-1.0, 0.0]]
C = [0.5, -0.5]
B = [-1.0, 1.0]
X = [[1.0, 0.0], [0.5, 0.25], [0.0, 1.0]]
LOGS = {"e": 1.0, "10": math.log(10.0), "2": math.log(2.0)}


def t(v: list) -> torch.Tensor:
    return torch.tensor(v, dtype=F64)


def loss_of(y: torch.Tensor, log: str = "e") -> torch.Tensor:
    return (y[0] - 0.5) ** 2 - torch.log(y[1]) / LOGS[log]


def rnn_case(b: torch.Tensor, log: str, h0: list[float]) -> tuple[torch.Tensor, torch.Tensor]:
    h = t(h0)
    for x_t in t(X):
        h = torch.tanh(b + t(W) @ h + t(U) @ x_t)
    y = torch.softmax(t(C) + t(V) @ h, dim=0)
    return y, loss_of(y, log)


def lstm_case(interp: dict) -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
    b_f = t(interp["b_f"]).requires_grad_()
    cell = torch.sigmoid if interp["cell_activation"] == "sigmoid" else torch.tanh
    h = s = torch.zeros(2, dtype=F64)
    for x_t in t(X):
        pre = t(U) @ x_t + t(W) @ h
        f, g, q = (torch.sigmoid(bias + pre) for bias in (b_f, t(interp["b_g"]), t(interp["b_o"])))
        s = f * s + g * cell(t(interp["b"]) + pre)
        h = torch.tanh(s) * q
    y = torch.softmax(t(C) + t(V) @ h, dim=0)
    loss = loss_of(y)
    loss.backward()
    return y, loss, b_f.grad.numpy()


@pytest.fixture(scope="module")
def rows(tmp_path_factory: pytest.TempPathFactory) -> list[dict]:
    out = tmp_path_factory.mktemp("key")
    answer_key.main(["--out", str(out)])
    return json.loads((out / "answer_key.json").read_text())


def test_schema_and_the_interpretations_covered(rows: list[dict]) -> None:
    assert all(set(row) == {"problem", "interpretation", "yhat3", "loss", "grad", "b_new", "loss_new", "grad_central",
                            "grad_central_float32", "central_rounding_bound", "eps", "grad_central_float32_rel_diff",
                            "abs_grad_central_b1", "float32_bound_share_of_grad_b1"} for row in rows)
    p3 = [row["interpretation"] for row in rows if row["problem"] == "p3"]
    assert p3 == [{"log": log, "h0": [0.0, 0.0]} for log in ("e", "10", "2")]
    p5 = [row["interpretation"] for row in rows if row["problem"] == "p5"]
    script = {k: list(v) for k, v in PROBLEM5_BIASES.items()}
    zero = {k: [0.0, 0.0] for k in ("b", "b_g", "b_o")}
    expected = [{"cell_activation": act, **others, "b_f": [bf, bf]} for act in ("sigmoid", "tanh")
                for others in ({k: script[k] for k in ("b", "b_g", "b_o")}, zero) for bf in (0.0, 1.0, 2.0)]
    def key(d: dict) -> str:
        return json.dumps(d, sort_keys=True)

    assert sorted(map(key, p5)) == sorted(map(key, expected))
    assert all(row["b_new"] is None and row["loss_new"] is None and row["grad_central"] is None
               for row in rows if row["problem"] == "p5")


@pytest.mark.parametrize("log", ["e", "10", "2"])
def test_p3_rows_match_autograd(rows: list[dict], log: str) -> None:
    row = next(r for r in rows if r["problem"] == "p3" and r["interpretation"]["log"] == log)
    b = t(B).requires_grad_()
    y, loss = rnn_case(b, log, [0.0, 0.0])
    loss.backward()
    np.testing.assert_allclose(row["yhat3"], y.detach().numpy(), rtol=1e-13)
    assert row["loss"] == pytest.approx(loss.item(), rel=1e-13)
    np.testing.assert_allclose(row["grad"], b.grad.numpy(), rtol=1e-10, atol=1e-15)
    b_new = np.array(B) - 0.002 * b.grad.numpy()
    np.testing.assert_allclose(row["b_new"], b_new, rtol=1e-13)
    assert row["loss_new"] == pytest.approx(rnn_case(t(b_new.tolist()), log, [0.0, 0.0])[1].item(), rel=1e-13)


def test_p3_natural_log_row_is_the_assignment_s_answer(rows: list[dict]) -> None:
    row = rows[0]
    assert f"{row['loss']:.8g}" == "3.007208"  # L = 3.0072080
    assert [f"{g:.8g}" for g in row["grad"]] == ["-0.0099613883", "0.43400995"]


def test_every_p5_row_matches_autograd(rows: list[dict]) -> None:
    p5 = [row for row in rows if row["problem"] == "p5"]
    assert len(p5) == 12
    for row in p5:
        y, loss, grad = lstm_case(row["interpretation"])
        np.testing.assert_allclose(row["yhat3"], y.detach().numpy(), rtol=1e-13, err_msg=str(row["interpretation"]))
        assert row["loss"] == pytest.approx(loss.item(), rel=1e-13), row["interpretation"]
        np.testing.assert_allclose(row["grad"], grad, rtol=1e-10, atol=1e-15, err_msg=str(row["interpretation"]))


def test_a_disagreement_with_autograd_stops_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(key, "rnn_grad_b", lambda *a: np.array([0.0, 1.0]))
    with pytest.raises(UserError, match="BPTT and autograd differ"):
        key.p3_row(assignment_sheet(), "e", (0.0, 0.0))


@pytest.mark.parametrize("log", ["e", "10", "2"])
def test_p3_central_differences_in_float64_and_float32(rows: list[dict], log: str) -> None:
    """float64: the central difference written out here; float32: PyTorch's default dtype, every tensor
    float32, off from float64 by more than float64's rounding and less than 4 u32 max(1, |L|) / ε."""
    row = next(r for r in rows if r["problem"] == "p3" and r["interpretation"]["log"] == log)
    for i, e in enumerate(np.eye(2)):
        plus, minus = (rnn_case(t((np.array(B) + sign * 1e-4 * e).tolist()), log, [0.0, 0.0])[1].item()
                       for sign in (1, -1))
        assert row["grad_central"][i] == pytest.approx((plus - minus) / 2e-4, rel=1e-9)
    f32 = {name: torch.tensor(v) for name, v in (("W", W), ("U", U), ("V", V), ("c", C), ("x", X))}  # float32

    def loss32(bias: torch.Tensor) -> torch.Tensor:
        h = torch.zeros(2)
        for x_t in f32["x"]:
            h = torch.tanh(bias + f32["W"] @ h + f32["U"] @ x_t)
        y = torch.softmax(f32["c"] + f32["V"] @ h, dim=0)
        return (y[0] - 0.5) ** 2 - torch.log(y[1]) / LOGS[log]

    b32, eps32 = torch.tensor(B), torch.tensor(1e-4)
    central32 = [float((loss32(b32 + eps32 * e) - loss32(b32 - eps32 * e)) / (2 * eps32)) for e in torch.eye(2)]
    band = 4 * 2.0 ** -24 * max(1.0, row["loss"]) / 1e-4
    np.testing.assert_allclose(row["grad_central_float32"], central32, atol=band)
    assert np.all(np.abs(np.array(row["grad_central_float32"]) - row["grad_central"]) <= band)
    assert np.abs(np.array(row["grad_central_float32"]) - row["grad_central"]).max() > 1e-6
    assert row["central_rounding_bound"]["float32"] == pytest.approx(2.0 ** -24 * max(1.0, row["loss"]) / 1e-4)
    off = [abs(a / b - 1.0) for a, b in zip(row["grad_central_float32"], row["grad_central"])]
    np.testing.assert_allclose(row["grad_central_float32_rel_diff"], off, rtol=1e-9)
    assert row["float32_bound_share_of_grad_b1"] == pytest.approx(2.0 ** -24 * max(1.0, row["loss"]) / 1e-4
                                                                 / math.fabs(row["grad_central"][0]), rel=1e-12)


def test_the_printed_table_is_labelled_with_one_number_of_digits(capsys: pytest.CaptureFixture[str],
                                                                 tmp_path: Path) -> None:
    answer_key.main(["--out", str(tmp_path)])
    out = capsys.readouterr().out
    header = out.splitlines()[0].split()
    assert header[:4] == ["problem", "reading", "ŷ(3)", "L"] and "b_new" in header and "L_new" in header
    assert "log=e" in out and "cell=tanh,b_f=0" in out and "float32" in out
    numbers = re.findall(r"-?\d\.\d+(?:e[-+]\d+)?", out.split("P3 (2)")[0])
    assert numbers and {len(re.sub(r"e.*|[-.]", "", n).lstrip("0")) for n in numbers} <= {8}


def test_written_json_is_the_returned_rows(tmp_path: Path) -> None:
    returned = answer_key.main(["--out", str(tmp_path)])
    assert json.loads((tmp_path / "answer_key.json").read_text()) == json.loads(json.dumps(returned))
