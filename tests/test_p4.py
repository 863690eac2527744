"""Problem 4: the experiments behind the written answers.

Expected values come from independent sources: torch float64 autograd re-implementations written
here (the RNN of eqs. 10.8-10.11, the LSTM of eqs. 10.40-10.44, per-step weight copies for the
per-step terms of ∂L/∂W), numpy.linalg.eigvals and lstsq, hand-made curves with known answers, and
the first-order optimality conditions of the ridge objective.
"""
from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import ANSWER_WORDS, main_body_words, opening_words

import p4_experiments as p4
from common.core.gradcheck import rel_error
from common.recurrent import esn, findings, gain, longseq
from common.recurrent.lstm import LSTMParams
from report import p4 as report_p4
from report.fields import MissingField, Strict
from report.md import Figures

ROOT = Path(__file__).resolve().parent.parent


def tensors(**arrays: np.ndarray) -> dict[str, torch.Tensor]:
    return {k: torch.tensor(v, dtype=torch.float64) for k, v in arrays.items()}


def random_rnn(rng: np.random.Generator, H: int, O: int = 2) -> dict[str, np.ndarray]:
    W = rng.standard_normal((H, H))
    return {"W": 1.2 * W / np.max(np.abs(np.linalg.eigvals(W))), "U": 0.5 * rng.standard_normal((H, longseq.D)),
            "b": 0.3 * rng.standard_normal(H), "V": rng.standard_normal((O, H)), "c": rng.standard_normal(O)}


def train_esn(letters: np.ndarray, labels: np.ndarray, res: esn.Reservoir,
              lam: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Train only the readout V, c on the reservoir's pooled states; U, W, b are read, never written."""
    return esn.fit_ridge_readout(esn.reservoir_states(letters, res)[0], labels, lam)


# ---------------------------------------------------------------------------------------------
# Experiment 1: the gradient norms against torch autograd.
# ---------------------------------------------------------------------------------------------


def test_rnn_gradient_curve_matches_autograd():
    rng = np.random.default_rng(0)
    T, H, label = 30, 5, 1
    x = np.eye(longseq.D)[rng.integers(0, longseq.D, T)]
    a = random_rnn(rng, H)
    curve = longseq.rnn_gradient_curve(x, a["W"], a["U"], a["b"], a["V"], a["c"], label)

    # torch: h(t) kept with retain_grad gives the total ∂L/∂h(t); a separate leaf copy of W and b per
    # step gives each step's own term of ∂L/∂W and ∂L/∂b as that copy's .grad
    t = tensors(**a)
    W_steps = [t["W"].clone().requires_grad_() for _ in range(T)]
    b_steps = [t["b"].clone().requires_grad_() for _ in range(T)]
    h, hs = torch.zeros(H, dtype=torch.float64), []
    for step, x_t in enumerate(torch.tensor(x)):
        h = torch.tanh(b_steps[step] + W_steps[step] @ h + t["U"] @ x_t)
        h.retain_grad()
        hs.append(h)
    loss = -torch.log_softmax(t["c"] + t["V"] @ h, dim=0)[label]  # the loss is on the last step only
    loss.backward()
    by_lag = slice(None, None, -1)  # the curve is indexed by lag τ − t
    dh_norm = np.array([hh.grad.norm().item() for hh in hs])[by_lag]
    dW_step = np.array([w.grad.norm().item() for w in W_steps])[by_lag]  # Frobenius norm
    db_step = np.array([b.grad.norm().item() for b in b_steps])[by_lag]

    assert rel_error(curve.dh_norm, dh_norm) < 1e-12
    assert rel_error(curve.dW_step, dW_step) < 1e-12
    assert rel_error(curve.db_step, db_step) < 1e-12


def test_rnn_first_step_has_no_W_term_and_last_step_carries_the_loss():
    rng = np.random.default_rng(1)
    x = np.eye(longseq.D)[rng.integers(0, longseq.D, 12)]
    a = random_rnn(rng, 4)
    curve = longseq.rnn_gradient_curve(x, a["W"], a["U"], a["b"], a["V"], a["c"])
    assert curve.dW_step[-1] == 0.0  # lag T−1 is step 1, whose h(0) = 0
    assert curve.dW_step[0] > 0.0 and curve.dh_norm[0] > 0.0


def torch_lstm_curve(x: np.ndarray, p: LSTMParams, V: np.ndarray, c: np.ndarray, label: int):
    """Eqs. 10.40-10.44 with tanh on the cell input, written independently; per-step copies of the
    four W's give each step's term of ∂L/∂W."""
    t = tensors(**p._asdict(), V=V, c=c)
    T, H = len(x), p.W.shape[0]
    names = ("W_f", "W_g", "W_o", "W")
    copies = [{n: t[n].clone().requires_grad_() for n in names} for _ in range(T)]
    h = s = torch.zeros(H, dtype=torch.float64)
    hs, ss, fs = [], [], []
    for step, x_t in enumerate(torch.tensor(x)):
        w = copies[step]
        f = torch.sigmoid(t["b_f"] + t["U_f"] @ x_t + w["W_f"] @ h)
        g = torch.sigmoid(t["b_g"] + t["U_g"] @ x_t + w["W_g"] @ h)
        q = torch.sigmoid(t["b_o"] + t["U_o"] @ x_t + w["W_o"] @ h)
        s = f * s + g * torch.tanh(t["b"] + t["U"] @ x_t + w["W"] @ h)
        h = torch.tanh(s) * q
        fs.append(f.detach().numpy())
        h.retain_grad()
        s.retain_grad()
        hs.append(h)
        ss.append(s)
    (-torch.log_softmax(t["c"] + t["V"] @ h, dim=0)[label]).backward()
    dW = [math.sqrt(sum(w[n].grad.pow(2).sum().item() for n in names)) for w in copies]
    return ([hh.grad.norm().item() for hh in hs][::-1], [ss_.grad.norm().item() for ss_ in ss][::-1], dW[::-1],
            np.array(fs))


@pytest.mark.parametrize("forget_bias", [0.0, 3.0])
def test_lstm_gradient_curve_matches_autograd(forget_bias):
    rng = np.random.default_rng(2)
    T, H, label = 25, 4, 0
    x = np.eye(longseq.D)[rng.integers(0, longseq.D, T)]
    p = longseq.lstm_params(rng, H, forget_bias, input_scale=0.5)
    p = p._replace(b=0.2 * rng.standard_normal(H), b_g=0.2 * rng.standard_normal(H))
    V, c = rng.standard_normal((2, H)), rng.standard_normal(2)
    curve = longseq.lstm_gradient_curve(x, p, V, c, label)
    dh, ds, dW, f = torch_lstm_curve(x, p, V, c, label)
    assert rel_error(curve.dh_norm, np.array(dh)) < 1e-12
    assert rel_error(curve.ds_norm, np.array(ds)) < 1e-12
    assert rel_error(curve.dW_step, np.array(dW)) < 1e-12
    # the diag(f) path alone: ∂s_i(τ)/∂s_i(τ−k) = f_i(τ) ··· f_i(τ−k+1), best unit; empty product at k = 0
    expected = [np.max(np.prod(f[T - k:], axis=0)) if k else 1.0 for k in range(T)]
    np.testing.assert_allclose(curve.forget_path, expected, rtol=1e-12)
    assert np.all(p.b_f == forget_bias)


# ---------------------------------------------------------------------------------------------
# Experiment 1: lags and shares on hand-made curves.
# ---------------------------------------------------------------------------------------------


def hand_curve(dh_norm: np.ndarray, dW_step: np.ndarray) -> longseq.GradientCurve:
    return longseq.GradientCurve(dh_norm, dW_step, dW_step, None, None, 0.0)


def test_lag_below_1e6_of_a_geometric_decay():
    k = np.arange(200)
    s = longseq.summarise_curve(hand_curve(0.5 ** k, np.ones(200)))
    # 0.5^19 = 1.9e-6 ≥ 1e-6 > 0.5^20 = 9.5e-7
    assert s["lag_below_1e-6"] == 20
    assert s["lag_above_1e6"] is None and s["overflow_lag"] is None
    # equal terms at every lag: lags 101..199 are 99 of the 200 terms
    assert s["share_of_dW_beyond_100"] == pytest.approx(99 / 200, rel=1e-14)


def test_growth_and_overflow_are_reported():
    k = np.arange(150).astype(float)
    s = longseq.summarise_curve(hand_curve(2.0 ** k, np.ones(150)))
    assert s["lag_below_1e-6"] is None
    assert s["lag_above_1e6"] == 20  # 2^19 = 5.2e5 ≤ 1e6 < 2^20 = 1.05e6
    assert s["max_ratio"] == 2.0 ** 149
    norms = np.ones(150)
    norms[7:] = np.inf
    steps = np.ones(150)
    steps[7:] = np.inf
    s = longseq.summarise_curve(hand_curve(norms, steps))
    assert s["overflow_lag"] == 7 and s["share_of_dW_beyond_100"] is None
    json.dumps(s, allow_nan=False)  # no inf or nan reaches the JSON


def test_row_norms_do_not_overflow_for_large_finite_gradients():
    rows = np.array([[1e200, 1e200], [3.0, 4.0], [0.0, 0.0], [np.inf, 1.0]])
    got = longseq.row_norms(rows)
    assert got[0] == pytest.approx(math.sqrt(2) * 1e200, rel=1e-15)
    assert got[1] == 5.0 and got[2] == 0.0 and got[3] == np.inf


def test_median_counts_never_as_infinite():
    assert longseq.median_or_none([40, None, 34]) == 40
    assert longseq.median_or_none([None, None, 34]) is None
    assert longseq.median_or_none([3, 1, 2, 4]) == 2


# ---------------------------------------------------------------------------------------------
# Experiment 2: the echo state network.
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("rho", [0.5, 0.9, 0.99, 1.2])
def test_reservoir_has_the_requested_spectral_radius(rho):
    res = esn.make_reservoir(H=40, rho=rho, seed=3)
    assert np.max(np.abs(np.linalg.eigvals(res.W))) == pytest.approx(rho, rel=1e-10)
    other = esn.make_reservoir(H=40, rho=0.3, seed=3)  # the same seed: same U, b, W up to the factor
    np.testing.assert_array_equal(res.U, other.U)
    np.testing.assert_array_equal(res.b, other.b)
    np.testing.assert_allclose(res.W / rho, other.W / 0.3, rtol=1e-12)


def test_training_the_readout_never_updates_the_reservoir():
    res = esn.make_reservoir(H=16, rho=0.9, seed=0)
    before = {k: np.array(v, copy=True) for k, v in res._asdict().items() if k != "rho"}
    letters, labels = esn.motif_task(np.random.default_rng(0), 10, 60, 3)
    V, c = train_esn(letters, labels, res)
    assert V.shape == (2, 16) and c.shape == (2,)
    for name, array in before.items():
        np.testing.assert_array_equal(getattr(res, name), array)
        assert not getattr(res, name).flags.writeable  # an update in place would raise
    with pytest.raises(ValueError):
        res.W += 1.0


def test_motif_task_pairs_differ_only_in_order():
    letters, labels = esn.motif_task(np.random.default_rng(4), 6, 80, 3)
    assert list(labels) == [1, 0] * 6
    motif, decoy = ([longseq.ALPHABET.index(a) for a in word] for word in ("KDEL", "LEDK"))

    def count(seq, word):
        return int((np.lib.stride_tricks.sliding_window_view(seq, 4) == word).all(axis=1).sum())

    for i in range(6):
        pos, neg = letters[2 * i], letters[2 * i + 1]
        np.testing.assert_array_equal(np.bincount(pos, minlength=20), np.bincount(neg, minlength=20))
        assert count(pos, motif) >= 3 and count(neg, decoy) >= 3
        differ = np.flatnonzero(pos != neg)  # only inside the planted windows
        assert len(differ) <= 3 * 4


def test_batched_reservoir_matches_p3_one_sequence_at_a_time():
    res = esn.make_reservoir(H=8, rho=0.9, seed=1)
    letters = np.random.default_rng(5).integers(0, 20, (3, 40))
    pooled, final = esn.reservoir_states(letters, res)
    for n in range(3):  # the plain recurrence, written here
        h, hs = np.zeros(8), []
        for letter in letters[n]:
            h = np.tanh(res.b + res.W @ h + res.U[:, letter])
            hs.append(h)
        np.testing.assert_allclose(pooled[n], np.mean(hs, axis=0), rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(final[n], h, rtol=1e-12, atol=1e-15)


def test_ridge_readout_is_least_squares_for_tiny_lambda_and_stationary_otherwise():
    rng = np.random.default_rng(6)
    F, labels = rng.standard_normal((40, 5)) * [1, 10, 0.1, 3, 1] + 2.0, rng.integers(0, 2, 40)
    Y = np.eye(2)[labels]
    V, c = esn.fit_ridge_readout(F, labels, lam=1e-12)
    coef = np.linalg.lstsq(np.hstack([F, np.ones((40, 1))]), Y, rcond=None)[0]  # [Vᵀ; cᵀ]
    np.testing.assert_allclose(V, coef[:5].T, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(c, coef[5], rtol=1e-8, atol=1e-10)
    # λ > 0: ‖Y − (1cᵀ + F Vᵀ)‖² + λ ‖V diag(σ)‖² has zero gradient in c and V at the solution
    lam, sigma = 3.0, F.std(axis=0)
    V, c = esn.fit_ridge_readout(F, labels, lam=lam)
    R = Y - (c + F @ V.T)
    np.testing.assert_allclose(R.sum(axis=0), 0.0, atol=1e-10)
    np.testing.assert_allclose(-R.T @ F + lam * V * sigma ** 2, 0.0, atol=1e-9)


def test_ridge_readout_beats_chance_and_no_memory_is_exactly_chance():
    letters, labels = esn.motif_task(np.random.default_rng(7), 110, 300, 4)
    train, test = slice(0, 120), slice(120, 220)
    accs = {}
    for rho in (0.0, 0.9):
        res = esn.make_reservoir(H=32, rho=rho, seed=0)
        V, c = train_esn(letters[train], labels[train], res)
        accs[rho] = esn.readout_accuracy(esn.reservoir_states(letters[test], res)[0], labels[test], V, c)
    # 100 balanced test sequences: a chance-level classifier reaches 0.7 with probability < 1e-4
    assert accs[0.9] >= 0.7
    # ρ = 0: h(t) depends on x(t) only, so h̄ depends on the composition only, which the two
    # sequences of a pair share; each pair gets one prediction, right for exactly one of the two
    assert accs[0.0] == pytest.approx(0.5, abs=1e-12)


# ---------------------------------------------------------------------------------------------
# What sets W apart: the per-step gain as W, U or b moves.
# ---------------------------------------------------------------------------------------------


def test_gain_per_step_of_a_geometric_curve_and_of_underflow():
    assert gain.gain_per_step(0.5 ** np.arange(300.0), 100) == pytest.approx(math.log(0.5), rel=1e-12)
    norms = np.ones(200)
    norms[150:] = 0.0
    assert gain.gain_per_step(norms, 160) is None and gain.gain_per_step(norms, 100) == 0.0


def test_without_input_and_bias_the_gain_is_that_of_W_alone():
    """h stays 0, so ∂L/∂h(τ−K) = (Wᵀ)^K ∂L/∂h(τ) with ∂L/∂h(τ) = Vᵀ(softmax(c) − e_0)."""
    rng = np.random.default_rng(11)
    T, H, K = 40, 5, 30
    a = random_rnn(rng, H)
    x = np.eye(longseq.D)[rng.integers(0, longseq.D, T)]
    curve = longseq.rnn_gradient_curve(x, a["W"], 0 * a["U"], 0 * a["b"], a["V"], a["c"])
    yhat = np.exp(a["c"]) / np.exp(a["c"]).sum()
    v = a["V"].T @ (yhat - np.eye(2)[0])
    expected = math.log(np.linalg.norm(np.linalg.matrix_power(a["W"].T, K) @ v) / np.linalg.norm(v)) / K
    assert gain.gain_per_step(curve.dh_norm, K) == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize("sigma_U, sigma_b", [(0.5, 0.0), (1.0, 2.0), (0.1, 0.3)])
def test_gain_never_exceeds_the_log_of_W_s_largest_singular_value(sigma_U, sigma_b):
    """‖diag(1 − h²) W‖₂ ≤ ‖W‖₂, so whatever U and b do, λ ≤ ln ‖W‖₂ (numpy's SVD)."""
    rng = np.random.default_rng(12)
    H, T = 8, 80
    W = 1.4 * rng.standard_normal((H, H)) / np.sqrt(H)
    U, b = sigma_U * rng.standard_normal((H, longseq.D)), sigma_b * rng.standard_normal(H)
    x = np.eye(longseq.D)[rng.integers(0, longseq.D, T)]
    curve = longseq.rnn_gradient_curve(x, W, U, b, rng.standard_normal((2, H)), np.zeros(2))
    bound = math.log(np.linalg.svd(W, compute_uv=False)[0])
    for K in (1, 10, 50):
        assert gain.gain_per_step(curve.dh_norm, K) <= bound + 1e-12


def test_gain_summary_recomputes_the_ceiling_from_the_draws():
    cfg = gain.GainConfig(T=40, H=6, lag=20, rhos=(0.5, 2.0), base_rhos=(0.9, 2.0), spreads=(0.0, 1.0), draws=2)
    draws = [gain.gain_sweep(0, cfg, d) for d in range(2)]
    s = gain.summarise_gains(draws, cfg)
    for key in ("0.9", "2"):
        for i, d in enumerate(draws):  # σ = 0 is the first spread: U = 0 in the U sweep is W alone
            with_input = [v for v in d["U"][key][1:] + d["b"][key] if v is not None]
            assert s["ceiling"][key]["max_with_input_per_draw"][i] == max(with_input)
            assert s["ceiling"][key]["W_alone_per_draw"][i] == d["U"][key][0]


# ---------------------------------------------------------------------------------------------
# The script.
# ---------------------------------------------------------------------------------------------


def strict_json(path: Path):
    def reject(constant: str):
        raise ValueError(f"{path.name} holds {constant}, which is not JSON")

    return json.loads(path.read_text(), parse_constant=reject)


@pytest.fixture(scope="module")
def quick(tmp_path_factory) -> Path:
    """The folder of one real --quick run (JSON and figures)."""
    out = tmp_path_factory.mktemp("p4_quick")
    p4.main(["--quick", "--out", str(out)])
    return out


def test_script_quick_run_is_deterministic_and_prints_the_report_s_words(quick, tmp_path, capsys):
    result = p4.main(["--quick", "--out", str(tmp_path)])
    printed = capsys.readouterr().out
    assert (quick / "p4_results.json").read_bytes() == (tmp_path / "p4_results.json").read_bytes()
    data = strict_json(tmp_path / "p4_results.json")
    assert data == json.loads(json.dumps(result))
    curves = data["experiment1"]["curves"]
    assert {"RNN ρ = 0.5", "RNN ρ = 3", "LSTM forget bias +3"} <= set(curves)
    assert all("lag_below_1e-6" in s and "share_of_dW_beyond_100" in s for s in curves.values())
    assert data["experiment2"]["accuracy"]["pooled"].keys() == {"100", "200"}
    assert sorted(f.name for f in tmp_path.iterdir()) == [
        "p4_dW_share.png", "p4_esn.png", "p4_gain.png", "p4_gradient_decay.png", "p4_results.json"]
    for name in ("p4_gradient_decay.png", "p4_dW_share.png", "p4_gain.png", "p4_esn.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    sections = render_sections(quick)
    assert printed.count("**Answer.**") == 3
    assert all(s[0] in printed for s in sections.values())  # the report's words, printed


@pytest.mark.parametrize("flag, value", [("--seed", "-1"), ("--seed", "x"), ("--quick", "1")])
def test_bad_flag_is_a_one_line_error(flag, value, tmp_path):
    proc = subprocess.run([sys.executable, "p4_experiments.py", flag, value, "--out", str(tmp_path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1
    assert not list(tmp_path.iterdir())


# ---------------------------------------------------------------------------------------------
# The numbers the answers quote.
# ---------------------------------------------------------------------------------------------


def test_mean_local_factor_is_the_forward_pass_mean_tanh_derivative_and_forget_gate():
    rng = np.random.default_rng(9)
    T, H = 40, 5
    x = np.eye(longseq.D)[rng.integers(0, longseq.D, T)]
    a = random_rnn(rng, H)
    curve = longseq.rnn_gradient_curve(x, a["W"], a["U"], a["b"], a["V"], a["c"])
    h, tanh_grads = np.zeros(H), []
    for x_t in x:  # eqs. 10.8-10.9 written here; tanh'(a) = 1 − tanh(a)²
        pre = a["b"] + a["W"] @ h + a["U"] @ x_t
        h = np.tanh(pre)
        tanh_grads.append(1.0 - np.tanh(pre) ** 2)
    assert curve.mean_local_factor == pytest.approx(np.mean(tanh_grads), rel=1e-13)

    p = longseq.lstm_params(rng, H, 1.0, input_scale=0.5)
    V, c = rng.standard_normal((2, H)), rng.standard_normal(2)
    t = tensors(**p._asdict())
    h = s = torch.zeros(H, dtype=torch.float64)
    fs = []
    for x_t in torch.tensor(x):
        f = torch.sigmoid(t["b_f"] + t["U_f"] @ x_t + t["W_f"] @ h)
        g = torch.sigmoid(t["b_g"] + t["U_g"] @ x_t + t["W_g"] @ h)
        q = torch.sigmoid(t["b_o"] + t["U_o"] @ x_t + t["W_o"] @ h)
        s = f * s + g * torch.tanh(t["b"] + t["U"] @ x_t + t["W"] @ h)
        h = torch.tanh(s) * q
        fs.append(f.numpy())
    assert longseq.lstm_gradient_curve(x, p, V, c).mean_local_factor == pytest.approx(np.mean(fs), rel=1e-13)


def test_summary_mean_local_factor_averages_the_draws():
    cfg = longseq.Exp1Config(T=30, H=4, rhos=(0.9,), forget_biases=(1.0,), draws=2)
    draws = [longseq.experiment1(0, cfg, d) for d in range(2)]
    summary = longseq.summarise_draws(draws)
    for name in summary:
        expected = (draws[0][name].mean_local_factor + draws[1][name].mean_local_factor) / 2
        assert summary[name]["mean_local_factor"] == pytest.approx(expected, rel=1e-15)


def test_p4_answers_types_no_measured_number_and_no_build_note():
    """Every number in p4_answers.md is a citation, an equation or section number, or a value
    computed here; measured numbers are rendered from the JSON by report/p4.py."""
    text = (ROOT / "p4_answers.md").read_text()
    assert not re.search(r"report|this file|generated|typed|p4_results", text, re.I)
    text = re.sub(r"(eqs?\.|§)\s*[\d.]+(–[\d.]+)?", "", text)  # equation and section numbers
    text = re.sub(r"\b(19|20)\d\d\b", "", text)  # years of the citations
    text = re.sub(r"\(\d\)|Problem \d|p\d_\w+", "", text)  # sub-questions, problems, script names
    sigma = lambda v: 1.0 / (1.0 + math.exp(-v))  # noqa: E731
    computed = {f"{sigma(1):.2f}", f"{sigma(3):.2f}", "0.95", "1000", f"{0.95 ** 1000:.0e}", "20"}
    small = {"0", "1", "2", "3"}  # in formulas: 1 − h², σ(3), forget bias +1 or +3, ŷ_i
    numbers = re.findall(r"\d+(?:\.\d+)?(?:e-?\d+)?", text)
    assert [n for n in numbers if n not in computed | small] == []
    assert len(longseq.ALPHABET) == 20 and (esn.MOTIF, esn.DECOY) == ("KDEL", "LEDK")  # named in the text


# ---------------------------------------------------------------------------------------------
# The words: report/p4.py on the script's real --quick output, and on that output with one fact changed.
# ---------------------------------------------------------------------------------------------


def render_sections(folder: Path, data: dict | None = None) -> dict[str, list[str]]:
    """Each section's lines as report/p4.py renders them, from folder's JSON or from `data` (a measured
    fact changed in place), whose findings are then recomputed as p4_experiments.py computes them."""
    if data is None:
        data = strict_json(folder / "p4_results.json")
    else:
        data["findings"] = findings.p4_findings(data, data["config"]["experiment1"]["rhos"])
    r = Strict(data, "p4_results.json", "python p4_experiments.py")
    return {s.label: s.render(r, Figures(folder, report_p4.FIGURES)) for s in report_p4.SECTIONS}


def test_each_section_opens_with_a_short_answer_and_p4_stays_in_its_budget(quick):
    sections = render_sections(quick)
    assert list(sections) == ["(1)", "(2)", "(3)"]
    for lines in sections.values():
        assert lines[0].startswith("**Answer.**") and opening_words(lines) <= ANSWER_WORDS
    assert main_body_words("\n".join(line for s in sections.values() for line in s)) <= 700
    leads = [re.search(r"\*\*(.+?)\*\*", part, re.S).group(1) for part in
             re.split(r"^## \(\d\)", (ROOT / "p4_answers.md").read_text(), flags=re.M)[1:]]
    for lines, lead in zip(sections.values(), leads):  # the argument's answer comes first
        assert lines[0].removeprefix("**Answer.** ").startswith(" ".join(lead.split()))


def test_q1_quotes_the_medians_of_b_and_W_shares_and_their_agreement(quick):
    data = strict_json(quick / "p4_results.json")
    draws = data["experiment1"]["curves"]["RNN ρ = 0.5"]["draws"]
    W = sorted(d["share_of_dW_beyond_100"] for d in draws)
    b = sorted(d["share_of_db_beyond_100"] for d in draws)
    text = "\n".join(render_sections(quick)["(1)"])
    assert f"median {b[(len(b) - 1) // 2]:.1e} against {W[(len(W) - 1) // 2]:.1e}" in text
    same = all(max(w, v) / min(w, v) < 1.25 for w, v in zip(W, b))
    assert ("the same share" in text) == same
    for d in draws:  # plant: make b's share 3x W's in one draw
        d["share_of_db_beyond_100"] = 3 * d["share_of_dW_beyond_100"]
    assert "the same share" not in "\n".join(render_sections(quick, data)["(1)"])


def test_q1_says_U_and_b_stay_below_W_s_gain_only_where_every_draw_does(quick):
    data = strict_json(quick / "p4_results.json")
    g = data["experiment1"]["gain"]
    held = all(max(v for v in d["U"][k][1:] + d["b"][k] if v is not None) < d["U"][k][0]
               for d in g["draws"] for k in d["U"])  # spreads[0] = 0: U = 0, b = 0 is W alone
    text = render_sections(quick)["(1)"][0]
    assert ("never lift λ above W's own" in text) == held
    g["ceiling"]["1.5"]["max_with_input_per_draw"][0] = g["ceiling"]["1.5"]["W_alone_per_draw"][0] + 0.1
    assert "lifts λ above W's own gain in some draws" in render_sections(quick, data)["(1)"][0]


def test_q2_says_falls_only_where_accuracy_falls_with_length(quick):
    data = strict_json(quick / "p4_results.json")
    pooled = data["experiment2"]["accuracy"]["pooled"]
    text = render_sections(quick)["(2)"][0]
    rho = re.search(r"With ρ = ([\d.]+) it reaches", text).group(1)
    accs = [pooled[str(T)][rho] for T in data["experiment2"]["lengths"]]
    assert (" it falls:" in text) == all(a > b for a, b in zip(accs, accs[1:]))
    assert f"reaches {accs[0]:.2f} (" in text


def test_q3_credits_the_gates_paths_only_when_the_diag_f_path_dies_first(quick):
    data = strict_json(quick / "p4_results.json")
    name = "LSTM forget bias +3"
    draws = data["experiment1"]["curves"][name]["draws"]
    text = render_sections(quick)["(3)"][0]
    gates = "the longer reach goes through the gates' recurrent paths"
    expected = all(d["lag_below_1e-6"] is None and d["forget_path_lag_below_1e-6"] is not None for d in draws)
    assert (gates in text) == expected
    for d in draws:  # plant: the whole gradient vanishes at lag 50 in every draw
        d["lag_below_1e-6"] = 50
    changed = render_sections(quick, data)["(3)"][0]
    assert gates not in changed and "the whole gradient falls below 1e-6 by lag 50" in changed


def test_a_missing_field_stops_the_renderer_naming_it(quick):
    data = strict_json(quick / "p4_results.json")
    del data["findings"]["gain"]["input_below_W_alone"]
    r = Strict(data, "p4_results.json", "python p4_experiments.py")
    with pytest.raises(MissingField, match=r"'findings.gain.input_below_W_alone'"):
        report_p4.hardest(r, Figures(quick, report_p4.FIGURES))


@pytest.mark.parametrize("correct, n", [(0, 10), (8, 10), (10, 10), (135, 150), (75, 150)])
def test_wilson_interval_matches_scipy(correct: int, n: int) -> None:
    from scipy.stats import binomtest
    ci = binomtest(correct, n).proportion_ci(confidence_level=0.95, method="wilson")
    np.testing.assert_allclose(esn.wilson_interval(correct, n), [ci.low, ci.high], rtol=1e-9, atol=1e-12)


def test_spectral_radius_and_norm_of_a_nilpotent_W_by_hand() -> None:
    # W = [[0, 2], [0, 0]]: both eigenvalues 0, largest singular value 2; W² = 0, so ∂L/∂h(τ − 2) = 0
    W = np.array([[0.0, 2.0], [0.0, 0.0]])
    x = longseq.one_hot(np.array([0, 1, 2]))
    U, V = np.full((2, longseq.D), 0.1), np.array([[1.0, 0.0], [0.0, 1.0]])
    curve = longseq.rnn_gradient_curve(x, W, U, np.zeros(2), V, np.zeros(2))
    assert curve.spectral_radius == 0.0 and curve.spectral_norm == pytest.approx(2.0, rel=1e-14)
    assert curve.dh_norm[2] == 0.0


def test_the_norm_bound_check_fails_where_a_ratio_exceeds_norm_to_the_k() -> None:
    k = np.arange(50)
    assert longseq.within_norm_bound(0.5 ** k, 0.6) and longseq.within_norm_bound(0.5 ** k, 0.5)
    assert not longseq.within_norm_bound(0.5 ** k, 0.45)
    assert longseq.within_norm_bound(np.where(k > 3, np.inf, 0.5 ** k), 0.5)  # overflowed lags are left out


def test_q1_puts_the_jacobian_product_in_the_answer_and_words_the_bound_from_the_norms(quick):
    data = strict_json(quick / "p4_results.json")
    text = render_sections(quick)["(1)"][0]
    assert "∂h(t)/∂h(t − k) = Π diag(1 − h²) W" in text and "‖W‖₂^k when ‖W‖₂ < 1" in text
    assert "ρ(W) governs the long-run rate of W^k" in text
    norms = data["experiment1"]["curves"]["RNN ρ = 0.5"]["draws"]
    below = all(d["spectral_norm_W"] < 1 for d in norms)
    assert ("so the bound forces the vanishing" in text) == below
    for d in norms:  # plant: every ‖W‖₂ below 1
        d["spectral_norm_W"] = 0.9
    data["findings"] = findings.p4_findings(data, (0.5, 0.9, 1.0, 1.5, 3.0))
    assert "so the bound forces the vanishing" in render_sections(quick, data)["(1)"][0]


def test_q2_gives_intervals_and_words_the_echo_state_check_from_its_gap(quick):
    data = strict_json(quick / "p4_results.json")
    text = render_sections(quick)["(2)"][0]
    assert "The readout averages the states over time" in text and "95% interval" in text
    assert "towards chaos" not in (ROOT / "p4_answers.md").read_text()
    largest = f"{max(data['experiment2']['spectral_radii']):g}"
    gap = list(data["experiment2"]["echo_state_gap"][largest].values())[-1]
    assert ("still converge" in text) == (gap < 1e-12)
    for steps in data["experiment2"]["echo_state_gap"].values():  # plant: no gap closes
        steps[list(steps)[-1]] = 0.1
    data["findings"] = findings.p4_findings(data, (0.5, 0.9, 1.0, 1.5, 3.0))
    assert "lost the echo state property" in render_sections(quick, data)["(2)"][0]


def test_q3_stores_the_split_and_words_growth_only_where_the_draws_show_it(quick):
    data = strict_json(quick / "p4_results.json")
    draws = data["experiment1"]["curves"]["LSTM forget bias +3"]["draws"]
    text = render_sections(quick)["(3)"][0]
    end = list(draws[0]["ratio_at_lag"])[-1]
    whole = [d["ratio_at_lag"][end] for d in draws]
    grows = max(whole) > 1 and np.log10(max(whole) / min(whole)) >= 2
    assert ("the gate paths add terms that can grow or fade" in text) == grows
    assert "The LSTM of Problem 5" not in (ROOT / "p4_answers.md").read_text()
    for d in draws:  # plant: the whole gradient fades alike in every draw
        d["ratio_at_lag"][end] = 1e-3
    data["findings"] = findings.p4_findings(data, (0.5, 0.9, 1.0, 1.5, 3.0))
    assert "can grow or fade" not in render_sections(quick, data)["(3)"][0]


BANNED = ("cohen", "effect size", "bootstrap", "percentile", "wilson", "cosine", "untrained", "random-init",
          "null", "replicate", "margin", "squared weight", "judge")


def figure_texts(fig) -> list:
    from matplotlib.text import Text
    return [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]


def test_p4_figures_fit_1600_px_with_text_of_8_pt_or_more(quick):
    from PIL import Image

    from common.plots import p4 as plots
    from common.plots.backend import plt
    for name in ("p4_gradient_decay.png", "p4_dW_share.png", "p4_gain.png", "p4_esn.png"):
        assert Image.open(quick / name).size[0] <= 1600, name  # saved at dpi 150, tight bounding box
    data = json.loads((quick / "p4_results.json").read_text())
    e2 = data["experiment2"]
    for fig in (plots.plot_gain(data["experiment1"]["gain"]),
                plots.plot_esn(e2["accuracy"], e2["lengths"], e2["spectral_radii"], e2["test_sequences"])):
        texts = figure_texts(fig)
        assert texts and all(t.get_fontsize() >= 8 for t in texts)
        assert not any(word in t.get_text().lower() for t in texts for word in BANNED)
        plt.close(fig)
