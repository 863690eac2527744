"""The worked solutions of Problems 3 and 5 as one vector of named values, built from swappable pieces.

Each value has the name that a grading spreadsheet's column gives it: `L`, `grad_1`, `grad_cd_2`,
`b_new_1`, `L_new`, and `<name>@<t>_<i>` for an intermediate (t and i counted from 1), for example
`dL_da@3_1` = the first component of ∂L/∂a(3). KEYS[problem] lists them in the order of the
assignment's parts (forward values, the loss (1), central differences (2), the backward from t = τ
down to 1 (3), the update (4), the new loss (5)); PART[problem] gives each value's part and
STEP[problem] its step (the name without the component: `dL_da@3`, `grad_cd`).

The computation is common/recurrent/rnn.py's, composed from Pieces: every step that a student can get wrong
on its own is a field (the loss and its derivative, the softmax backward, tanh', σ', the path from
s(t+1) back to s(t), the state's activation in h, the difference quotient, the update), and
REFERENCE holds the right ones. common/grading/mistakes.py swaps one field to make a catalogue entry.
Solver computes the values of one sheet (its x and parameters) under a Reading and Pieces, and
shares the forward passes that several readings and pieces have in common.
"""
from __future__ import annotations

from typing import Any, Callable, NamedTuple, Sequence

import numpy as np

from common.core.gradcheck import numeric_gradient
from common.recurrent.lstm import CELL_ACTIVATIONS, lstm_backward, lstm_forward
from common.recurrent.problems import (
    PROBLEM3_EPS,
    PROBLEM3_LR,
    PROBLEM5_BIASES,
    RNNParams,
    problem3_params,
    problem3_sequence,
    problem5_params,
)
from common.recurrent.rnn import (
    custom_loss_backward,
    custom_loss_forward,
    output_affine_backward,
    output_forward,
    rnn_backward,
    rnn_forward,
    softmax_backward,
)

PROBLEMS = ("p3", "p5")
T, H, O = 3, 2, 2  # the sheets' sizes: three steps, two hidden units, two outputs (D = 2 too)
BIAS_NAMES = ("b_f", "b_g", "b_o", "b")  # P5's biases, as p5_lstm.py's flags name them


class Sheet(NamedTuple):
    """The numbers of one problem sheet: x (T, D) and Problem 3's parameters (P5 uses U, W, V, c)."""

    x: np.ndarray
    params: RNNParams


def assignment_sheet() -> Sheet:
    """The assignment's own numbers."""
    return Sheet(problem3_sequence(), problem3_params())


class Reading(NamedTuple):
    """One interpretation of the assignment. P3 reads log, h0 and cd_float32 (part (2) computed in
    float32); P5 reads log, cell_activation and biases (BIAS_NAMES order, one (H,) tuple each)."""

    log: str = "e"
    h0: tuple[float, ...] = (0.0, 0.0)
    cd_float32: bool = False
    cell_activation: str = "sigmoid"
    biases: tuple[tuple[float, ...], ...] = tuple(PROBLEM5_BIASES[n] for n in BIAS_NAMES)


OWN = Reading()  # this repository's reading of both problems


def bias_dict(reading: Reading) -> dict[str, tuple[float, ...]]:
    """The reading's biases keyed by name (b_f, b_g, b_o, b)."""
    return dict(zip(BIAS_NAMES, reading.biases))


def _number(v: float) -> str:
    return f"{v:g}"


def label(problem: str, reading: Reading) -> str:
    """The reading as the grades show it: what it chooses, e.g. `log=10`, `cell=tanh,b_f=0`.

    P3 names its log base, then h(0) and float32 central differences where they differ from OWN;
    P5 names its cell input's activation, then the log base and each bias that differs from OWN.
    A vector whose components are equal is written as one number, otherwise space-separated.
    """
    def vec(v: tuple[float, ...]) -> str:
        return _number(v[0]) if len(set(v)) == 1 else " ".join(map(_number, v))

    if problem == "p3":
        parts = [f"log={reading.log}"] + ([f"h0={vec(reading.h0)}"] if reading.h0 != OWN.h0 else [])
        return ",".join(parts + (["cd=float32"] if reading.cd_float32 else []))
    parts = [f"cell={reading.cell_activation}"] + ([f"log={reading.log}"] if reading.log != OWN.log else [])
    own = bias_dict(OWN)
    return ",".join(parts + [f"{k}={vec(v)}" for k, v in bias_dict(reading).items() if v != own[k]])


# ---------------------------------------------------------------------------------------------
# The pieces: each step a student can get wrong on its own, and the right ones.
# ---------------------------------------------------------------------------------------------


class Pieces(NamedTuple):
    loss: Callable[[np.ndarray, str], float]  # L from ŷ (T, O) and the log base
    dloss: Callable[[np.ndarray, str], np.ndarray]  # ∂L/∂ŷ (T, O)
    softmax_backward: Callable[[np.ndarray, np.ndarray], np.ndarray]  # ∂L/∂o from ∂L/∂ŷ and ŷ
    tanh_grad: Callable[[np.ndarray], np.ndarray]  # P3: tanh'(a(t)) from h(t) = tanh a(t)
    sigmoid_grad: Callable[[np.ndarray], np.ndarray]  # P5: σ'(a) from σ(a), for the gates (and z if σ)
    carry: Callable[[np.ndarray], np.ndarray]  # P5: ∂s(t)/∂s(t−1) from f(t)
    output_activation: str  # P5: act in h = act(s) q, a key of common.recurrent.rnn.OUTPUT_ACTIVATIONS
    difference: Callable[[Callable[[np.ndarray], float], np.ndarray, float], np.ndarray]  # P3 (2)
    update: Callable[[np.ndarray, float, np.ndarray], np.ndarray]  # P3 (4): b_new from b, lr, ∂L/∂b
    recurrent_weight: Callable[[np.ndarray], np.ndarray]  # the W whose transpose carries ∂L/∂a(t+1) to h(t)
    output_weight: Callable[[np.ndarray], np.ndarray]  # the V whose transpose carries ∂L/∂o(t) to h(t)


def forget_carry(f: np.ndarray) -> np.ndarray:
    """s(t) = f(t) s(t−1) + g(t) z(t) ⇒ ∂s(t)/∂s(t−1) = f(t)."""
    return f


def descend(b: np.ndarray, lr: float, grad: np.ndarray) -> np.ndarray:
    """One gradient-descent step: b − lr ∂L/∂b."""
    return b - lr * grad


def as_given(m: np.ndarray) -> np.ndarray:
    """The weight matrix of the forward pass, whose transpose the backward applies: ∂L/∂h = Wᵀ ∂L/∂a."""
    return m


REFERENCE = Pieces(loss=custom_loss_forward, dloss=custom_loss_backward, softmax_backward=softmax_backward,
                   tanh_grad=CELL_ACTIVATIONS["tanh"][1], sigmoid_grad=CELL_ACTIVATIONS["sigmoid"][1],
                   carry=forget_carry, output_activation="tanh", difference=numeric_gradient, update=descend,
                   recurrent_weight=as_given, output_weight=as_given)

# The pieces each problem's solution calls: a swapped piece outside this set changes nothing there.
USES = {"p3": frozenset({"loss", "dloss", "softmax_backward", "tanh_grad", "difference", "update",
                         "recurrent_weight", "output_weight"}),
        "p5": frozenset({"loss", "dloss", "softmax_backward", "sigmoid_grad", "carry", "output_activation",
                         "recurrent_weight", "output_weight"})}


# ---------------------------------------------------------------------------------------------
# The named values, in the order of the assignment's parts.
# ---------------------------------------------------------------------------------------------


def _layout(problem: str) -> list[tuple[str, int | None, int | None, int]]:
    """(name, t, i, part) of every value: t and i 1-based, None for a scalar's or a final's."""
    def vec(name: str, t: int | None, n: int, part: int) -> list[tuple[str, int | None, int | None, int]]:
        return [(name, t, i, part) for i in range(1, n + 1)]

    forward = ("h", "yhat") if problem == "p3" else ("f", "g", "q", "z", "s", "h", "yhat")
    backward = (("dL_do", "dL_dh", "dL_da") if problem == "p3" else
                ("dL_do", "dL_dh", "dL_ds", "dL_df", "dL_dg", "dL_dq", "dL_dz",
                 "dL_da_f", "dL_da_g", "dL_da_q", "dL_da_z"))
    out = [v for t in range(1, T + 1) for name in forward for v in vec(name, t, O if name == "yhat" else H, 1)]
    out.append(("L", None, None, 1))
    grad_part = 3 if problem == "p3" else 2
    if problem == "p3":
        out += vec("grad_cd", None, H, 2) + vec("dL_dyhat", T, O, 3)
    out += [v for t in range(T, 0, -1) for name in backward for v in vec(name, t, O if name == "dL_do" else H,
                                                                           grad_part)]
    out += vec("grad", None, H, grad_part)
    if problem == "p3":
        out += vec("b_new", None, H, 4) + [("L_new", None, None, 5)]
    return out


def _key(name: str, t: int | None, i: int | None) -> str:
    if t is not None:
        return f"{name}@{t}_{i}"
    return name if i is None else f"{name}_{i}"


LAYOUT = {problem: _layout(problem) for problem in PROBLEMS}
KEYS = {problem: [_key(n, t, i) for n, t, i, _ in layout] for problem, layout in LAYOUT.items()}
PART = {problem: np.array([part for *_, part in layout]) for problem, layout in LAYOUT.items()}
STEP = {problem: [n if t is None else f"{n}@{t}" for n, t, _, _ in layout] for problem, layout in LAYOUT.items()}
INDEX = {problem: {k: j for j, k in enumerate(keys)} for problem, keys in KEYS.items()}


FORWARD = {"p3": ("h", "yhat"), "p5": ("f", "g", "q", "z", "s", "h", "yhat")}
BACKWARD = {"p3": ("dL_do", "dL_dh", "dL_da"),
            "p5": ("dL_do", "dL_dh", "dL_ds", "dL_df", "dL_dg", "dL_dq", "dL_dz",
                   "dL_da_f", "dL_da_g", "dL_da_q", "dL_da_z")}
HEAD = {problem: int(np.sum(parts == 1)) for problem, parts in PART.items()}  # part (1): forward and L
YHAT = {problem: [INDEX[problem][f"yhat@{t}_{i}"] for t in range(1, T + 1) for i in range(1, O + 1)]
        for problem in PROBLEMS}  # where ŷ(t) sits in the values, t = 1..T


def _tail(problem: str, arrays: dict[str, np.ndarray]) -> np.ndarray:
    """The values after part (1) in KEYS order (LAYOUT); tests check this against LAYOUT element by element."""
    backward = np.stack([arrays[name] for name in BACKWARD[problem]], axis=1)[::-1].reshape(-1)  # t = τ..1
    if problem == "p5":
        return np.concatenate((backward, arrays["grad"]))
    return np.concatenate((arrays["grad_cd"], arrays["dL_dyhat"][-1], backward, arrays["grad"], arrays["b_new"],
                           [arrays["L_new"]]))


# ---------------------------------------------------------------------------------------------
# The solutions.
# ---------------------------------------------------------------------------------------------


class Forward(NamedTuple):
    """A memoised forward pass: ŷ (T, O), the recurrence's cache, the output layer's cache, and the
    forward values of part (1) in KEYS order (everything of part (1) but L)."""

    yhat: np.ndarray
    cache: Any
    out: Any
    values: np.ndarray


def _forward_values(problem: str, arrays: dict[str, Sequence[np.ndarray]]) -> np.ndarray:
    """The forward values of t = 1..T in KEYS order, from each name's vectors at t = 1..T."""
    return np.concatenate([arrays[name][t] for t in range(T) for name in FORWARD[problem]])


Known = dict[tuple[str, "Reading"], np.ndarray]  # (problem, reading) -> the right values, read from a key


class Solver:
    """The values of one sheet under any reading and pieces. Forward passes are computed once per
    (h(0), b) for P3 and per (cell input, biases, output activation) for P5, then shared. `known`
    holds right values already computed (a sheet's key-N.json): they are used, never recomputed."""

    def __init__(self, sheet: Sheet, known: Known | None = None) -> None:
        self.sheet, self.known = sheet, known or {}
        self._forwards: dict[tuple, Forward] = {}

    def values(self, problem: str, reading: Reading, pieces: Pieces = REFERENCE) -> np.ndarray:
        """Every value of KEYS[problem], in that order."""
        if pieces is REFERENCE and (problem, reading) in self.known:
            return self.known[problem, reading]
        return self.p3(reading, pieces) if problem == "p3" else self.p5(reading, pieces)

    def head(self, problem: str, reading: Reading, pieces: Pieces = REFERENCE) -> np.ndarray:
        """The first HEAD[problem] values of `values`: part (1), the forward pass and L, without the backward."""
        forward, yhat = self.forward(problem, reading, pieces.output_activation)
        return np.append(forward, pieces.loss(yhat, reading.log))

    def forward(self, problem: str, reading: Reading,
                output_activation: str = REFERENCE.output_activation) -> tuple[np.ndarray, np.ndarray]:
        """Part (1) but L: the forward values in KEYS order, and ŷ (T, O), read from `known` where it
        holds the same forward."""
        known = self.known.get((problem, reading))
        if known is not None and output_activation == REFERENCE.output_activation:
            forward = known[:HEAD[problem] - 1]
            return forward, forward[YHAT[problem]].reshape(T, O)
        fw = self._rnn(reading.h0, self.sheet.params.b) if problem == "p3" else self._lstm(reading, output_activation)
        return fw.values, fw.yhat

    def _rnn(self, h0: tuple[float, ...], b: np.ndarray) -> Forward:
        """P3's forward pass at bias b, memoised on h(0) and b's bytes."""
        key = ("p3", h0, b.tobytes())
        if key not in self._forwards:
            p = self.sheet.params
            h, rnn_cache = rnn_forward(self.sheet.x, np.array(h0, dtype=float), p.W, p.U, b)
            yhat, out_cache = output_forward(h, p.V, p.c)
            self._forwards[key] = Forward(yhat, rnn_cache, out_cache, _forward_values("p3", {"h": h, "yhat": yhat}))
        return self._forwards[key]

    def loss_at(self, reading: Reading, pieces: Pieces, b: np.ndarray) -> float:
        """P3's loss at bias b (another b_new than the solution's), under the reading and pieces."""
        return pieces.loss(self._rnn(reading.h0, np.asarray(b, dtype=float)).yhat, reading.log)

    def p3(self, reading: Reading, pieces: Pieces = REFERENCE) -> np.ndarray:
        """Problem 3 (1)-(5) with every intermediate."""
        p, log = self.sheet.params, reading.log
        fw = self._rnn(reading.h0, p.b)
        dyhat = pieces.dloss(fw.yhat, log)
        out = output_affine_backward(pieces.softmax_backward(dyhat, fw.yhat),
                                     fw.out._replace(V=pieces.output_weight(p.V)))
        grads = rnn_backward(out.dh, fw.cache._replace(tanh_grad=pieces.tanh_grad(fw.cache.h),
                                                       W=pieces.recurrent_weight(p.W)))
        central = pieces.difference(lambda b: pieces.loss(self._rnn(reading.h0, b).yhat, log), p.b.copy(),
                                    PROBLEM3_EPS)
        b_new = pieces.update(p.b, PROBLEM3_LR, grads.db)
        return np.concatenate((self.head("p3", reading, pieces), _tail("p3", {
            "grad_cd": central, "dL_dyhat": dyhat, "dL_do": out.do, "dL_dh": grads.dh, "dL_da": grads.da,
            "grad": grads.db, "b_new": b_new, "L_new": pieces.loss(self._rnn(reading.h0, b_new).yhat, log)})))

    def _lstm(self, reading: Reading, output_activation: str) -> Forward:
        """P5's forward pass, memoised on the reading's LSTM and the output activation."""
        key = ("p5", reading.cell_activation, reading.biases, output_activation)
        if key not in self._forwards:
            p, V, c = problem5_params(bias_dict(reading), self.sheet.params)
            h, lstm_cache = lstm_forward(self.sheet.x, np.zeros(H), p, reading.cell_activation,
                                         output_activation)
            yhat, out_cache = output_forward(h, V, c)
            arrays = {name: [getattr(st, name) for st in lstm_cache.steps] for name in "fgqzs"}
            self._forwards[key] = Forward(yhat, lstm_cache, out_cache,
                                          _forward_values("p5", arrays | {"h": h, "yhat": yhat}))
        return self._forwards[key]

    def p5(self, reading: Reading, pieces: Pieces = REFERENCE) -> np.ndarray:
        """Problem 5: the forward pass, the loss and ∂L/∂b^f with every intermediate."""
        fw = self._lstm(reading, pieces.output_activation)
        dyhat = pieces.dloss(fw.yhat, reading.log)
        out = output_affine_backward(pieces.softmax_backward(dyhat, fw.yhat),
                                     fw.out._replace(V=pieces.output_weight(fw.out.V)))
        z_grad = pieces.sigmoid_grad if reading.cell_activation == "sigmoid" else CELL_ACTIVATIONS["tanh"][1]
        # the local derivatives the backward reads from each step's cache: σ' of the gates, the cell
        # input's derivative, and f(t) as ∂s(t)/∂s(t−1) (lstm_backward reads step.f for nothing else)
        steps = [st._replace(act_grad=np.concatenate((pieces.sigmoid_grad(np.concatenate((st.f, st.g, st.q))),
                                                      z_grad(st.z))), f=pieces.carry(st.f))
                 for st in fw.cache.steps]
        W = fw.cache.weights.W  # (4H, H): one H×H block per gate and the cell input
        weights = fw.cache.weights._replace(W=np.concatenate([pieces.recurrent_weight(w) for w in np.split(W, 4)]))
        grads = lstm_backward(out.dh, fw.cache._replace(steps=steps, weights=weights))
        return np.concatenate((self.head("p5", reading, pieces), _tail("p5", {
            "dL_do": out.do, "dL_dh": grads.dh, "dL_ds": grads.ds,
            **{f"dL_d{n}": grads.block(grads.dgates, n) for n in "fgqz"},
            **{f"dL_da_{n}": grads.block(grads.da, n) for n in "fgqz"}, "grad": grads.params.b_f})))
