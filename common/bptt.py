"""Problem 4, experiment 2's baseline: BPTT with Adam on all of W, U, b, V, c of the network whose
readout the echo state network fits, on the same data (common/esn.py)."""
from __future__ import annotations

import time
from typing import Any, NamedTuple, Sequence

import numpy as np

from common.esn import (
    Exp2Config,
    Reservoir,
    fit_ridge_readout,
    make_reservoir,
    motif_task,
    pooled_states_per_sequence,
    readout_accuracy,
    reservoir_states,
    sequence_states,
)
from common.longseq import last_step_nll_backward, one_hot
from common.rnn import output_forward, rnn_backward, rnn_forward


class AdamState(NamedTuple):
    m: dict[str, np.ndarray]
    v: dict[str, np.ndarray]


def adam_step(params: dict[str, np.ndarray], grads: dict[str, np.ndarray], state: AdamState, step: int,
              lr: float, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8) -> None:
    """One Adam update of every parameter, in place (step counts from 1)."""
    for k in params:
        state.m[k][...] = beta1 * state.m[k] + (1 - beta1) * grads[k]
        state.v[k][...] = beta2 * state.v[k] + (1 - beta2) * grads[k] ** 2
        m_hat, v_hat = state.m[k] / (1 - beta1 ** step), state.v[k] / (1 - beta2 ** step)
        params[k] -= lr * m_hat / (np.sqrt(v_hat) + eps)


def bptt_sequence_grads(letters: np.ndarray, label: int,
                        params: dict[str, np.ndarray]) -> tuple[float, dict[str, np.ndarray]]:
    """Loss −log softmax(c + V h̄)_label, h̄ = mean_t h(t), for one sequence (T,), and its gradients
    for W, U, b, V, c by BPTT through rnn_forward/rnn_backward and output layer."""
    H = params["W"].shape[0]
    h, cache = rnn_forward(one_hot(letters), np.zeros(H), params["W"], params["U"], params["b"])
    yhat, out_cache = output_forward(h.mean(axis=0, keepdims=True), params["V"], params["c"])
    out = last_step_nll_backward(out_cache, label)  # ŷ has one row, for h̄
    # h̄ = (1/T) Σ_t h(t), so ∂L/∂h(t) = ∂L/∂h̄ / T at every step
    g = rnn_backward(np.broadcast_to(out.dh / len(h), h.shape), cache)
    return float(-np.log(yhat[0, label])), {"W": g.dW, "U": g.dU, "b": g.db, "V": out.dV, "c": out.dc}


class BPTTRun(NamedTuple):
    params: dict[str, np.ndarray]
    train_loss: list[float]  # mean training loss of each epoch
    test_accuracy: list[float]  # after each epoch
    seconds: list[float]  # training time up to the end of each epoch (the evaluations not counted)


def bptt_train(letters: np.ndarray, labels: np.ndarray, test: tuple[np.ndarray, np.ndarray], res: Reservoir,
               epochs: int, lr: float, batch: int, seed: int) -> BPTTRun:
    """Train all of W, U, b, V, c with BPTT and Adam on the mean loss of each minibatch, starting from
    the ESN's U, W, b and V = 0, c = 0; after each epoch, the held-out accuracy on `test` (letters, labels)."""
    H = res.W.shape[0]
    params = {"W": res.W.copy(), "U": res.U.copy(), "b": res.b.copy(), "V": np.zeros((2, H)), "c": np.zeros(2)}
    state = AdamState({k: np.zeros_like(v) for k, v in params.items()},
                      {k: np.zeros_like(v) for k, v in params.items()})
    order_rng = np.random.default_rng([seed, 6])
    run_ = BPTTRun(params, [], [], [])
    step, elapsed = 0, 0.0
    for _ in range(epochs):
        start = time.perf_counter()
        order, total = order_rng.permutation(len(letters)), 0.0
        for first in range(0, len(order), batch):
            chunk = order[first:first + batch]
            grads = {k: np.zeros_like(v) for k, v in params.items()}
            for n in chunk:
                loss, g = bptt_sequence_grads(letters[n], int(labels[n]), params)
                total += loss
                for k in grads:
                    grads[k] += g[k] / len(chunk)
            step += 1
            adam_step(params, grads, state, step, lr)
        elapsed += time.perf_counter() - start
        run_.seconds.append(elapsed)
        run_.train_loss.append(total / len(letters))
        pooled, _ = sequence_states(test[0], params["W"], params["U"], params["b"])
        run_.test_accuracy.append(readout_accuracy(pooled, test[1], params["V"], params["c"]))
    return run_


def compare_costs(seed: int, cfg: Exp2Config, T: int, rho: float, epochs: int, lr: float,
                  batch: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """ESN readout against BPTT on all weights, same data (length T), same start, same numpy code path.

    Returns the deterministic results and the wall-clock seconds (kept apart: they vary run to run).
    """
    letters, labels = motif_task(np.random.default_rng([seed, 4, T]), cfg.train_pairs + cfg.test_pairs,
                                 T, cfg.copies)
    n_train = 2 * cfg.train_pairs
    train, test = (letters[:n_train], labels[:n_train]), (letters[n_train:], labels[n_train:])
    res = make_reservoir(cfg.H, rho, seed)

    start = time.perf_counter()
    V, c = fit_ridge_readout(pooled_states_per_sequence(train[0], res.W, res.U, res.b), train[1], cfg.lam)
    esn_seconds = time.perf_counter() - start
    esn_acc = readout_accuracy(reservoir_states(test[0], res)[0], test[1], V, c)

    bptt = bptt_train(*train, test, res, epochs, lr, batch, seed)
    results = {
        "T": T, "spectral_radius": rho, "train_sequences": n_train, "test_sequences": len(test[1]),
        "esn_test_accuracy": esn_acc,
        "bptt": {"epochs": epochs, "optimizer": f"Adam, lr {lr:g}, minibatch {batch}",
                 "init": "the ESN's U, W, b; V = 0, c = 0", "train_loss_per_epoch": bptt.train_loss,
                 "test_accuracy_per_epoch": bptt.test_accuracy, "test_accuracy": bptt.test_accuracy[-1],
                 "first_epoch_above_chance": first_epoch_above_chance(bptt.test_accuracy, len(test[1])),
                 "test_loss_at_start": float(np.log(2.0))},
    }
    return results, {"esn_readout_seconds": esn_seconds, "bptt_seconds": bptt.seconds[-1],
                     "bptt_seconds_per_epoch": bptt.seconds}


def first_epoch_above_chance(accuracies: Sequence[float], n_test: int) -> int | None:
    """The first epoch (1-based) whose held-out accuracy is above chance by more than two standard
    errors of a coin on n_test sequences, 2·√(0.25/n); None if none is."""
    margin = 2.0 * np.sqrt(0.25 / n_test)
    hits = [e + 1 for e, acc in enumerate(accuracies) if acc > 0.5 + margin]
    return hits[0] if hits else None


