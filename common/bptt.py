"""Problem 4, experiment 2's baseline: BPTT with Adam on all of W, U, b, V, c of the network whose
readout the echo state network fits, on the same data (common/esn.py)."""
from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from common.esn import (
    Exp2Config,
    Reservoir,
    fit_ridge_readout,
    make_reservoir,
    motif_task,
    readout_accuracy,
    reservoir_states,
    sequence_states,
)
from common.rnn import (
    output_backward,
    output_forward,
    recurrent_affine_backward,
    rnn_step_forward,
)


class BPTTConfig(NamedTuple):
    T: int  # sequence length of the comparison (one of experiment 2's lengths)
    rho: float  # the reservoir's spectral radius
    lrs: tuple[float, ...]  # Adam learning rates tried
    epochs: int
    pairs_per_batch: int
    eval_every: int  # epochs between held-out evaluations


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


def pooled_nll_grads(letters: np.ndarray, labels: np.ndarray,
                     params: dict[str, np.ndarray]) -> tuple[float, dict[str, np.ndarray]]:
    """Mean over N sequences of L = −log softmax(c + V h̄)_label, h̄ = mean_t h(t), and its gradients
    for W, U, b, V, c by BPTT. letters (N, T), labels (N,).

    All N sequences advance together: rnn_step_forward with one row per sequence, and backward
    through each step with recurrent_affine_backward (N rows: the step's terms of ∂L/∂W, ∂L/∂U,
    ∂L/∂b summed over the sequences).
    """
    N, T = letters.shape
    W, U, b, V, c = (params[k] for k in ("W", "U", "b", "V", "c"))
    eye = np.eye(U.shape[1])
    hs = np.empty((T + 1, N, W.shape[0]))  # hs[t] = h(t); hs[0] = h(0) = 0
    hs[0] = 0.0
    for t in range(T):
        hs[t + 1], _ = rnn_step_forward(eye[letters[:, t]], hs[t], W, U, b)
    h_bar = hs[1:].mean(axis=0)
    yhat, out_cache = output_forward(h_bar, V, c)
    dyhat = np.zeros_like(yhat)
    dyhat[np.arange(N), labels] = -1.0 / (N * yhat[np.arange(N), labels])  # d(mean −log ŷ_y)/dŷ_y
    out = output_backward(dyhat, out_cache)
    dh_bar = out.dh / T  # h̄ = (1/T) Σ_t h(t): every step receives ∂L/∂h̄ / T
    grads = {"W": np.zeros_like(W), "U": np.zeros_like(U), "b": np.zeros_like(b), "V": out.dV, "c": out.dc}
    dh_next = np.zeros_like(dh_bar)
    for t in reversed(range(1, T + 1)):
        da = (dh_bar + dh_next) * (1.0 - hs[t] ** 2)  # tanh' = 1 − h²
        _, dh_next, dW, dU, db = recurrent_affine_backward(da, eye[letters[:, t - 1]], hs[t - 1], W, U)
        grads["W"] += dW
        grads["U"] += dU
        grads["b"] += db
    loss = float(-np.mean(np.log(yhat[np.arange(N), labels])))
    return loss, grads


class BPTTRun(NamedTuple):
    lr: float
    train_loss: list[float]  # mean minibatch loss of each epoch
    eval_epochs: list[int]  # the epochs (1-based) after which the held-out accuracy was measured
    test_accuracy: list[float]  # held-out accuracy after each of eval_epochs


def pair_batches(rng: np.random.Generator, n_pairs: int, pairs_per_batch: int) -> list[np.ndarray]:
    """One epoch's minibatches of row indices, whole pairs (rows 2i, 2i+1) together, pairs shuffled."""
    order = rng.permutation(n_pairs)
    return [np.stack([2 * chunk, 2 * chunk + 1], axis=1).ravel()
            for chunk in np.array_split(order, max(1, n_pairs // pairs_per_batch))]


def bptt_train(train: tuple[np.ndarray, np.ndarray], test: tuple[np.ndarray, np.ndarray], res: Reservoir,
               cfg: BPTTConfig, lr: float, seed: int) -> BPTTRun:
    """Train all of W, U, b, V, c with BPTT and Adam on the mean loss of each minibatch of whole pairs,
    starting from the reservoir's U, W, b and V = 0, c = 0. Held-out accuracy every cfg.eval_every
    epochs and after the last."""
    H = res.W.shape[0]
    params = {"W": res.W.copy(), "U": res.U.copy(), "b": res.b.copy(), "V": np.zeros((2, H)), "c": np.zeros(2)}
    state = AdamState({k: np.zeros_like(v) for k, v in params.items()},
                      {k: np.zeros_like(v) for k, v in params.items()})
    order_rng = np.random.default_rng([seed, 6])
    run_ = BPTTRun(lr, [], [], [])
    step = 0
    for epoch in range(1, cfg.epochs + 1):
        losses = []
        for rows in pair_batches(order_rng, len(train[1]) // 2, cfg.pairs_per_batch):
            loss, grads = pooled_nll_grads(train[0][rows], train[1][rows], params)
            losses.append(loss)
            step += 1
            adam_step(params, grads, state, step, lr)
        run_.train_loss.append(float(np.mean(losses)))
        if epoch % cfg.eval_every == 0 or epoch == cfg.epochs:
            pooled, _ = sequence_states(test[0], params["W"], params["U"], params["b"])
            run_.eval_epochs.append(epoch)
            run_.test_accuracy.append(readout_accuracy(pooled, test[1], params["V"], params["c"]))
    return run_


def compare_esn_bptt(seed: int, cfg: Exp2Config, bptt: BPTTConfig) -> dict[str, Any]:
    """ESN readout against BPTT on all weights, on the same data (length bptt.T) from the same reservoir
    (spectral radius bptt.rho). BPTT runs once per learning rate in bptt.lrs; the one with the lowest
    training loss in its last epoch is chosen (the held-out sequences play no part in the choice)."""
    letters, labels = motif_task(np.random.default_rng([seed, 4, bptt.T]), cfg.train_pairs + cfg.test_pairs,
                                 bptt.T, cfg.copies)
    n_train = 2 * cfg.train_pairs
    train, test = (letters[:n_train], labels[:n_train]), (letters[n_train:], labels[n_train:])
    res = make_reservoir(cfg.H, bptt.rho, seed)
    V, c = fit_ridge_readout(reservoir_states(train[0], res)[0], train[1], cfg.lam)
    esn_acc = readout_accuracy(reservoir_states(test[0], res)[0], test[1], V, c)
    runs = [bptt_train(train, test, res, bptt, lr, seed) for lr in bptt.lrs]
    chosen = min(range(len(runs)), key=lambda i: runs[i].train_loss[-1])
    return {
        "T": bptt.T, "spectral_radius": bptt.rho, "train_sequences": n_train, "test_sequences": len(test[1]),
        "esn_test_accuracy": esn_acc, "esn_passes": 1,
        "bptt": {"optimizer": "Adam", "epochs": bptt.epochs, "pairs_per_batch": bptt.pairs_per_batch,
                 "init": "the reservoir's U, W, b; V = 0, c = 0", "learning_rates": list(bptt.lrs),
                 "chosen": chosen, "chosen_by": "lowest training loss in the last epoch",
                 "runs": [{"lr": r.lr, "train_loss_per_epoch": r.train_loss, "eval_epochs": r.eval_epochs,
                           "test_accuracy": r.test_accuracy,
                           "first_eval_above_chance": first_epoch_above_chance(r, len(test[1]))}
                          for r in runs]},
    }


def first_epoch_above_chance(run_: BPTTRun, n_test: int) -> int | None:
    """The first evaluated epoch whose held-out accuracy is above chance by more than two standard
    errors of a coin on n_test sequences, 2·√(0.25/n); None if none is."""
    margin = 2.0 * np.sqrt(0.25 / n_test)
    hits = [e for e, acc in zip(run_.eval_epochs, run_.test_accuracy) if acc > 0.5 + margin]
    return hits[0] if hits else None
