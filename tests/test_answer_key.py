"""answer_key.py: every reading of the graders' key against torch autograd, computed here from scratch;
the catalogue against tests/grade_reference.py's plain numpy; no string longer than 8 words.

The torch models below are written independently of common/recurrent/rnn.py and common/recurrent/rnn_autograd.py: the
RNN of eqs. 10.8-10.11 and the LSTM of eqs. 10.40-10.44 with the assignment's numbers typed in again.
"""
from __future__ import annotations

import json
import math
import re
from pathlib import Path

import grade_reference as ref
import numpy as np
import pytest
import torch
from submissions_plan import ASSIGNMENT, REPO_BIASES

import answer_key
from common.core.cli import UserError
from common.grading import key, mistakes
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
def written(tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("key")
    answer_key.main(["--out", str(out)])
    return json.loads((out / "answer_key.json").read_text())


@pytest.fixture(scope="module")
def rows(written: dict) -> list[dict]:
    return written["readings"]


def test_schema_and_the_interpretations_covered(rows: list[dict]) -> None:
    assert all(set(row) == {"problem", "interpretation", "yhat3", "loss", "grad", "b_new", "loss_new", "grad_central",
                            "grad_central_float32", "central_rounding_bound", "eps", "grad_central_float32_rel_diff",
                            "abs_grad_central_b1", "float32_bound_share_of_grad_b1", "float32_band_factor",
                            "float32_band"} for row in rows)
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
    assert (row["float32_band_factor"], row["float32_band"]) == (4, pytest.approx(band, rel=1e-12))


def test_the_printed_table_is_labelled_with_one_number_of_digits(capsys: pytest.CaptureFixture[str],
                                                                 tmp_path: Path) -> None:
    answer_key.main(["--out", str(tmp_path)])
    out = capsys.readouterr().out
    header = out.splitlines()[0].split()
    assert header[:4] == ["problem", "reading", "ŷ(3)", "L"] and "b_new" in header and "L_new" in header
    assert "log=e" in out and "cell=tanh,b_f=0" in out and "float32" in out
    numbers = re.findall(r"-?\d\.\d+(?:e[-+]\d+)?", out.split("P3 (2)")[0])
    assert numbers and {len(re.sub(r"e.*|[-.]", "", n).lstrip("0")) for n in numbers} <= {8}


def test_written_json_is_the_returned_key(tmp_path: Path) -> None:
    returned = answer_key.main(["--out", str(tmp_path)])
    assert json.loads((tmp_path / "answer_key.json").read_text()) == json.loads(json.dumps(returned))


def strings(value, path: str = "") -> list[tuple[str, str]]:  # noqa: ANN001
    """(path, string) for every string in a JSON value, keys included."""
    if isinstance(value, dict):
        return [(f"{path}.{k}", k) for k in value] + [s for k, v in value.items() for s in strings(v, f"{path}.{k}")]
    if isinstance(value, list):
        return [s for i, v in enumerate(value) for s in strings(v, f"{path}[{i}]")]
    return [(path, value)] if isinstance(value, str) else []


def test_no_string_in_the_key_has_more_than_8_words(written: dict) -> None:
    assert set(written) == {"readings", "catalogue", "rubric"}
    long = [(path, s) for path, s in strings(written) if len(s.split()) > 8]
    assert not long, long
    assert strings({"a": ["one two three four five six seven eight nine"]})  # the walk reaches nested strings


def five_digit_half_unit(v: float, digits: int) -> float:
    """Half a unit of the last digit of v written with `digits` significant digits, from its decimal
    exponent as printed."""
    return 0.0 if v == 0 else 0.5 * 10.0 ** (int(f"{v:.{digits - 1}e}".split("e")[1]) - digits + 1)


def first_wrong_step(wrong: dict[str, float], right: dict[str, float], rtol: float) -> str:
    """The step name (the column without its component) of the first value, in the parts' order, whose
    5-digit (b_new: 8-digit) writing of the wrong value misses the right one; '' for none."""
    for name, w in wrong.items():
        step = name.startswith("b_new")
        tol = max(five_digit_half_unit(w, 8 if step else 5), 0.0 if step else rtol * abs(right[name]))
        if abs(w - right[name]) > tol:
            return name.rsplit("_", 1)[0] if "@" in name or name[-1].isdigit() else name
    return ""


def reference_values(problem: str, mistake: str | None) -> dict[str, float]:
    n = ASSIGNMENT
    if problem == "p3":
        return ref.p3(np.array(n["x"]), n["b"], n["c"], n["W"], n["U"], n["V"], mistake=mistake)
    return ref.p5(np.array(n["x"]), n["c"], n["W"], n["U"], n["V"], REPO_BIASES, mistake=mistake)


def test_the_catalogue_rows_are_plain_numpy_s(written: dict) -> None:
    """Each entry's values on the assignment's numbers (tests/grade_reference.py with the mistake
    planted), its first wrong step and whether a 5-digit answer shows it at all."""
    cat = written["catalogue"]
    assert {(r["problem"], r["id"]) for r in cat} >= {("p3", "W_not_transposed"), ("p5", "ds_without_carry"),
                                                      ("p3", "one_sided_difference"), ("p5", "h_without_tanh")}
    assert not {("p5", "one_sided_difference"), ("p5", "update_sign"), ("p3", "ds_without_carry")} & \
        {(r["problem"], r["id"]) for r in cat}
    for row in cat:
        want, right = reference_values(row["problem"], row["id"]), reference_values(row["problem"], None)
        v, what = row["values"], (row["problem"], row["id"])
        np.testing.assert_allclose(v["yhat3"], [want["yhat@3_1"], want["yhat@3_2"]], rtol=1e-12, err_msg=str(what))
        assert v["loss"] == pytest.approx(want["L"], rel=1e-12), what
        np.testing.assert_allclose(v["grad"], [want["grad_1"], want["grad_2"]], rtol=1e-9, err_msg=str(what))
        if row["problem"] == "p3":
            np.testing.assert_allclose(v["grad_cd"], [want["grad_cd_1"], want["grad_cd_2"]], rtol=1e-6)
            np.testing.assert_allclose(v["b_new"], [want["b_new_1"], want["b_new_2"]], rtol=1e-12)
            assert v["loss_new"] == pytest.approx(want["L_new"], rel=1e-12), what
        else:
            assert v["b_new"] is None and v["loss_new"] is None and v["grad_cd"] is None
        assert row["first_wrong"] == first_wrong_step(want, right, 5e-5), what
        assert row["indistinguishable"] == (row["first_wrong"] == ""), what
        assert 0 < len(row["name"].split()) <= 8


def test_a_new_catalogue_entry_appears_without_editing_answer_key(monkeypatch: pytest.MonkeyPatch) -> None:
    extra = mistakes.Mistake("loss_doubled", "the loss doubled", lambda p: p._replace(
        loss=lambda y, log: 2 * p.loss(y, log), dloss=lambda y, log: 2 * p.dloss(y, log)))
    monkeypatch.setattr(mistakes, "CATALOGUE", (*mistakes.CATALOGUE, extra))
    monkeypatch.setitem(mistakes.PIECES, extra.id, extra.change(mistakes.REFERENCE))
    rows = [r for r in answer_key.build_key()["catalogue"] if r["id"] == "loss_doubled"]
    assert [r["problem"] for r in rows] == ["p3", "p5"] and all(r["first_wrong"] == "L" for r in rows)
    assert rows[0]["values"]["loss"] == pytest.approx(2 * 3.0072080, rel=1e-7)  # twice the assignment's L


def test_the_rubric_is_grade_s_default(written: dict) -> None:
    """The default rubric's numbers, as README and grade.py --help state them."""
    parts = {(p["problem"], p["part"]): (p["points"], p["other_reading"], p["no_work"], p["carried"])
             for p in written["rubric"]["parts"]}
    assert parts == {("p3", 1): (6, 1, 1, 0), ("p3", 2): (6, 1, 1, 1), ("p3", 3): (12, 1, 0.5, 1),
                     ("p3", 4): (3, 1, 1, 1), ("p3", 5): (3, 1, 1, 1), ("p5", 1): (3, 1, 1, 0), ("p5", 2): (5, 1, 0.5, 1)}
    assert sum(p[0] for p in parts.values()) == 30 + 8  # the assignment's points for P3 and P5
    assert written["rubric"]["rtol"] == 5e-5
    assert written["rubric"]["match_rule"]["min_digits"] == 3 and written["rubric"]["match_rule"]["step_digits"] == 8
