"""Problem 3's parameters, sequence, ε and learning rate, and the models of Problems 3 and 5:
the recurrence, then the output head and the loss (rnn.py, lstm.py)."""
from __future__ import annotations

from typing import NamedTuple, Sequence

import numpy as np

from common.recurrent.lstm import (
    LSTMCache,
    LSTMGrads,
    LSTMParams,
    lstm_backward,
    lstm_forward,
)
from common.recurrent.rnn import (
    OutputCache,
    OutputGrads,
    RNNCache,
    RNNGrads,
    head_backward,
    head_forward,
    rnn_backward,
    rnn_forward,
)

# ---------------------------------------------------------------------------------------------
# Problem 3's data, and the two models: recurrence, then the head and the loss.
# ---------------------------------------------------------------------------------------------


class RNNParams(NamedTuple):
    b: np.ndarray  # (H,)
    c: np.ndarray  # (O,)
    W: np.ndarray  # (H, H)
    U: np.ndarray  # (H, D)
    V: np.ndarray  # (O, H)


class RNNModelCache(NamedTuple):
    rnn: RNNCache
    out: OutputCache


class LSTMModelCache(NamedTuple):
    lstm: LSTMCache
    out: OutputCache


def problem3_params() -> RNNParams:
    """The assignment's parameter values (fresh arrays, safe to perturb in place)."""
    return RNNParams(b=np.array([-1.0, 1.0]), c=np.array([0.5, -0.5]),
                     W=np.array([[1.0, -1.0], [0.0, 2.0]]), U=np.array([[-1.0, 0.0], [1.0, -2.0]]),
                     V=np.array([[-2.0, 1.0], [-1.0, 0.0]]))


def problem3_sequence() -> np.ndarray:
    """x(1), x(2), x(3) as the rows of a (3, 2) array."""
    return np.array([[1.0, 0.0], [0.5, 0.25], [0.0, 1.0]])


PROBLEM3_EPS = 1e-4  # Problem 3 (2): the central-difference step ε
PROBLEM3_LR = 0.002  # Problem 3 (4): the learning rate of the step on b


# Problem 5's biases, argued gate by gate in p5_lstm.py: one value per gate for every unit, and four
# different values, so that f, g, q and z are four different functions of the shared U x(t) + W h(t−1).
PROBLEM5_BIASES: dict[str, tuple[float, ...]] = {"b_f": (1.0, 1.0), "b_g": (-1.0, -1.0), "b_o": (2.0, 2.0),
                                                 "b": (0.0, 0.0)}


def problem5_params(biases: dict[str, Sequence[float]],
                    p3: RNNParams | None = None) -> tuple[LSTMParams, np.ndarray, np.ndarray]:
    """The LSTM of Problem 5: Problem 3's U and W in every gate and the cell input, the given biases
    (keys b_f, b_g, b_o, b; each (H,)), and Problem 3's V and c (those of `p3` if given)."""
    p3 = problem3_params() if p3 is None else p3
    weights = {f"{m}{k}": getattr(p3, m).copy() for m in "UW" for k in ("", "_f", "_g", "_o")}
    p = LSTMParams(**{name: np.array(biases[name], dtype=float) for name in ("b", "b_f", "b_g", "b_o")},
                   **weights)
    return p, p3.V, p3.c


def rnn_model_forward(x: np.ndarray, p: RNNParams, h0: np.ndarray | None = None,
                      log: str = "e") -> tuple[np.ndarray, float, RNNModelCache]:
    """ŷ (T, O), the loss and the cache; h(0) = 0 unless h0 (H,) is given."""
    h0 = np.zeros(p.W.shape[0]) if h0 is None else h0
    h, rnn_cache = rnn_forward(x, h0, p.W, p.U, p.b)
    yhat, loss, out_cache = head_forward(h, p.V, p.c, log)
    return yhat, loss, RNNModelCache(rnn_cache, out_cache)


def rnn_model_backward(cache: RNNModelCache, log: str = "e") -> tuple[OutputGrads, RNNGrads]:
    """Gradients of the loss: the output layer's (dV, dc, ∂L/∂o) and the recurrence's (db, dW, ...)."""
    out = head_backward(cache.out, log)
    return out, rnn_backward(out.dh, cache.rnn)


def lstm_model_forward(x: np.ndarray, p: LSTMParams, V: np.ndarray, c: np.ndarray,
                       cell_activation: str = "sigmoid",
                       log: str = "e") -> tuple[np.ndarray, float, LSTMModelCache]:
    """ŷ (T, O), the loss and the cache, with s(0) = h(0) = 0."""
    h, lstm_cache = lstm_forward(x, np.zeros(p.W.shape[0]), p, cell_activation)
    yhat, loss, out_cache = head_forward(h, V, c, log)
    return yhat, loss, LSTMModelCache(lstm_cache, out_cache)


def lstm_model_backward(cache: LSTMModelCache, log: str = "e") -> tuple[OutputGrads, LSTMGrads]:
    """Gradients of the loss: the output layer's and the LSTM's."""
    out = head_backward(cache.out, log)
    return out, lstm_backward(out.dh, cache.lstm)
