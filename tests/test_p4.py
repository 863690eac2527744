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

import p4_experiments as p4
from common import bptt, esn, longseq
from common.gradcheck import rel_error
from common.rnn import LSTMParams

ROOT = Path(__file__).resolve().parent.parent


def tensors(**arrays: np.ndarray) -> dict[str, torch.Tensor]:
    return {k: torch.tensor(v, dtype=torch.float64) for k, v in arrays.items()}


def random_rnn(rng: np.random.Generator, H: int, O: int = 2) -> dict[str, np.ndarray]:
    W = rng.standard_normal((H, H))
    return {"W": 1.2 * W / np.max(np.abs(np.linalg.eigvals(W))), "U": 0.5 * rng.standard_normal((H, longseq.D)),
            "b": 0.3 * rng.standard_normal(H), "V": rng.standard_normal((O, H)), "c": rng.standard_normal(O)}


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
    V, c = esn.train_esn(letters, labels, res)
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
        V, c = esn.train_esn(letters[train], labels[train], res)
        accs[rho] = esn.readout_accuracy(esn.reservoir_states(letters[test], res)[0], labels[test], V, c)
    # 100 balanced test sequences: a chance-level classifier reaches 0.7 with probability < 1e-4
    assert accs[0.9] >= 0.7
    # ρ = 0: h(t) depends on x(t) only, so h̄ depends on the composition only, which the two
    # sequences of a pair share; each pair gets one prediction, right for exactly one of the two
    assert accs[0.0] == pytest.approx(0.5, abs=1e-12)


def test_bptt_sequence_grads_match_autograd():
    rng = np.random.default_rng(8)
    T, H, label = 15, 4, 1
    letters = rng.integers(0, longseq.D, T)
    params = random_rnn(rng, H)
    loss, grads = bptt.bptt_sequence_grads(letters, label, params)
    t = {k: v.requires_grad_() for k, v in tensors(**params).items()}
    h, hs = torch.zeros(H, dtype=torch.float64), []
    for x_t in torch.tensor(np.eye(longseq.D)[letters]):
        h = torch.tanh(t["b"] + t["W"] @ h + t["U"] @ x_t)
        hs.append(h)
    expected = -torch.log_softmax(t["c"] + t["V"] @ torch.stack(hs).mean(dim=0), dim=0)[label]
    expected.backward()
    assert loss == pytest.approx(expected.item(), rel=1e-13)
    for name in ("W", "U", "b", "V", "c"):
        assert rel_error(grads[name], t[name].grad.numpy()) < 1e-12, name


# ---------------------------------------------------------------------------------------------
# The script.
# ---------------------------------------------------------------------------------------------


def strict_json(path: Path):
    def reject(constant: str):
        raise ValueError(f"{path.name} holds {constant}, which is not JSON")

    return json.loads(path.read_text(), parse_constant=reject)


def test_script_quick_runs_end_to_end_and_is_deterministic(tmp_path):
    result = p4.main(["--quick", "--out", str(tmp_path / "a")])
    p4.main(["--quick", "--out", str(tmp_path / "b")])
    a = (tmp_path / "a" / "p4_results.json").read_bytes()
    assert a == (tmp_path / "b" / "p4_results.json").read_bytes()
    data = strict_json(tmp_path / "a" / "p4_results.json")
    assert set(data["answers"]) == {"q1", "q2", "q3"}
    assert data["answers"] == result["answers"]
    curves = data["experiment1"]["curves"]
    assert {"RNN ρ = 0.5", "RNN ρ = 3", "LSTM forget bias +3"} <= set(curves)
    assert all("lag_below_1e-6" in s and "share_of_dW_beyond_100" in s for s in curves.values())
    assert data["experiment2"]["accuracy"]["pooled"].keys() == {"100", "200"}
    timing = strict_json(tmp_path / "a" / "p4_timing.json")
    assert timing["esn_readout_seconds"] > 0 and timing["bptt_seconds"] > 0
    for name in ("p4_gradient_decay.png", "p4_dW_share.png", "p4_esn.png"):
        assert (tmp_path / "a" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("flag, value", [("--epochs", "0"), ("--seed", "-1"), ("--seed", "x")])
def test_bad_flag_is_a_one_line_error(flag, value, tmp_path):
    proc = subprocess.run([sys.executable, "p4_experiments.py", flag, value, "--out", str(tmp_path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and flag in proc.stderr
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


def test_first_epoch_above_chance_needs_two_standard_errors():
    # 100 test sequences: a coin's standard error is √(0.25/100) = 0.05, so above chance means > 0.6
    assert bptt.first_epoch_above_chance([0.5, 0.6, 0.61, 0.7], 100) == 3
    assert bptt.first_epoch_above_chance([0.5, 0.6], 100) is None


def test_p4_answers_types_no_measured_number():
    """Every number in p4_answers.md is a citation, an equation or section number, or a value
    computed here; measured numbers belong to the generated half of the report."""
    text = (ROOT / "p4_answers.md").read_text()
    text = re.sub(r"(eqs?\.|§)\s*[\d.]+(–[\d.]+)?", "", text)  # equation and section numbers
    text = re.sub(r"\b(19|20)\d\d\b", "", text)  # years of the citations
    text = re.sub(r"\(\d\)|Problem \d|p\d_\w+", "", text)  # sub-questions, problems, script names
    sigma = lambda v: 1.0 / (1.0 + math.exp(-v))  # noqa: E731
    computed = {f"{sigma(1):.2f}", f"{sigma(3):.2f}", "0.95", "1000", f"{0.95 ** 1000:.0e}", "20"}
    small = {"0", "1", "2", "3"}  # in formulas: 1 − h², σ(3), forget bias +1 or +3, ρ = 3, ŷ_i
    numbers = re.findall(r"\d+(?:\.\d+)?(?:e-?\d+)?", text)
    assert [n for n in numbers if n not in computed | small] == []
    assert len(longseq.ALPHABET) == 20 and (esn.MOTIF, esn.DECOY) == ("KDEL", "LEDK")  # named in the text


def test_quick_run_answers_quote_the_json(tmp_path):
    p4.main(["--quick", "--out", str(tmp_path)])
    data = strict_json(tmp_path / "p4_results.json")
    bptt = data["experiment2"]["cost_comparison"]["bptt"]
    q2 = data["answers"]["q2"]
    assert len(bptt["test_accuracy_per_epoch"]) == bptt["epochs"] == 3
    assert ", ".join(f"{a:.2f}" for a in bptt["test_accuracy_per_epoch"]) in q2
    p3_name = "RNN, Problem 3's W (ρ = 2, H = 2)"
    assert f"{data['experiment1']['curves'][p3_name]['mean_local_factor']:.3f}" in data["answers"]["q1"]
    timing = strict_json(tmp_path / "p4_timing.json")
    assert len(timing["bptt_seconds_per_epoch"]) == 3 and timing["bptt_seconds_per_epoch"][-1] == timing["bptt_seconds"]
