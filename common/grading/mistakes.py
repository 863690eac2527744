"""The catalogue of common mistakes in Problems 3 and 5: each the reference with one piece swapped.

Every entry is a function Pieces → Pieces that replaces one step of common/grading/solution.py's REFERENCE
(the loss and its derivative count as one step), so its wrong answers are derived from the math
under every reading and for every sheet, never typed in. `applies(mistake, problem)` says whether
the swapped piece is one that problem's solution uses.

    loss_over_ln10          the whole loss divided by ln 10, not only its log term
    no_softmax_jacobian     ∂L/∂o taken as ∂L/∂ŷ: the softmax Jacobian left out
    tanh_grad_1_minus_h     tanh'(a) taken as 1 − h instead of 1 − h²
    loss_summed_over_t      the loss summed over every t instead of taken at τ
    yhat_swapped            ŷ1 and ŷ2 swapped in the loss: (ŷ2 − 0.5)² − log ŷ1
    update_sign             the update with the wrong sign: b + lr ∂L/∂b
    one_sided_difference    (L(b + ε e_i) − L(b)) / ε in place of the central difference
    sigmoid_grad_as_sigmoid σ'(a) taken as σ(a) (for the gates, and the cell input when it is σ)
    ds_without_carry        ∂L/∂s(t) without the path f(t+1) ∂L/∂s(t+1) through s(t+1)
    h_without_tanh          h = q s without the tanh (forward and backward of that model)
    W_not_transposed        ∂L/∂h(t) through time taken as W ∂L/∂a(t+1) instead of Wᵀ ∂L/∂a(t+1)
    V_not_transposed        ∂L/∂h(t) from the output taken as V ∂L/∂o(t) instead of Vᵀ ∂L/∂o(t)

A sheet whose W (or V) is symmetric hides the matching entry: `indistinguishable` in
common/grading/matching.py lists it for that sheet.

A row is matched against candidates (`Candidate`): a reading with the right computation or with one
entry. `candidate_blocks` lists them, and which of them share part (1): its forward pass depends only
on the reading and h's activation, its L also on the loss.
"""
from __future__ import annotations

import functools
import math
from typing import Callable, NamedTuple, Sequence

import numpy as np

from common.grading.solution import REFERENCE, USES, Pieces, Reading

LN10 = math.log(10.0)


class Mistake(NamedTuple):
    id: str
    text: str  # what the student did, in at most 8 words (answer_key.json's rule for a string)
    change: Callable[[Pieces], Pieces]


def loss_over_ln10(p: Pieces) -> Pieces:
    """the whole loss divided by ln 10"""
    return p._replace(loss=lambda y, log: p.loss(y, log) / LN10, dloss=lambda y, log: p.dloss(y, log) / LN10)


def no_softmax_jacobian(p: Pieces) -> Pieces:
    """∂L/∂o taken as ∂L/∂ŷ (softmax Jacobian left out)"""
    return p._replace(softmax_backward=lambda dyhat, yhat: dyhat)


def tanh_grad_1_minus_h(p: Pieces) -> Pieces:
    """tanh′ taken as 1 − h"""
    return p._replace(tanh_grad=lambda h: 1.0 - h)


def loss_summed_over_t(p: Pieces) -> Pieces:
    """the loss summed over t, not at τ"""
    # L = Σ_t L(t), each L(t) the reference loss on ŷ(t); ∂L/∂ŷ(t) is then each step's own row.
    def loss(y: np.ndarray, log: str) -> float:
        return sum(p.loss(y[: t + 1], log) for t in range(len(y)))

    def dloss(y: np.ndarray, log: str) -> np.ndarray:
        return np.array([p.dloss(y[: t + 1], log)[-1] for t in range(len(y))])

    return p._replace(loss=loss, dloss=dloss)


def yhat_swapped(p: Pieces) -> Pieces:
    """ŷ1 and ŷ2 swapped in the loss"""
    return p._replace(loss=lambda y, log: p.loss(y[:, ::-1], log),
                      dloss=lambda y, log: p.dloss(y[:, ::-1], log)[:, ::-1])


def update_sign(p: Pieces) -> Pieces:
    """the update with the wrong sign: b+lr·∂L/∂b"""
    return p._replace(update=lambda b, lr, grad: p.update(b, -lr, grad))


def one_sided_difference(p: Pieces) -> Pieces:
    """a one-sided difference, not the central one"""
    def forward_difference(f: Callable[[np.ndarray], float], x: np.ndarray, eps: float) -> np.ndarray:
        f0, grad = f(x), np.zeros_like(x)
        for i in range(len(x)):
            old = x[i]
            x[i] = old + eps
            grad[i] = (f(x) - f0) / eps
            x[i] = old
        return grad

    return p._replace(difference=forward_difference)


def sigmoid_grad_as_sigmoid(p: Pieces) -> Pieces:
    """σ′ taken as σ"""
    return p._replace(sigmoid_grad=lambda y: y)


def ds_without_carry(p: Pieces) -> Pieces:
    """∂L/∂s(t) without the f(t+1) ∂L/∂s(t+1) path"""
    return p._replace(carry=np.zeros_like)


def h_without_tanh(p: Pieces) -> Pieces:
    """h = q·s without the tanh"""
    return p._replace(output_activation="identity")


def W_not_transposed(p: Pieces) -> Pieces:  # noqa: N802 (the matrix's name)
    """W for Wᵀ in the backward through time"""
    return p._replace(recurrent_weight=np.transpose)


def V_not_transposed(p: Pieces) -> Pieces:  # noqa: N802
    """V for Vᵀ in the backward from o(t)"""
    return p._replace(output_weight=np.transpose)


# The catalogue, in the order grade.py tries it; each entry is named by its function, and its
# docstring says what the student did, in at most 8 words (answer_key.json's rule for a string).
CATALOGUE = tuple(Mistake(change.__name__, change.__doc__, change) for change in (
    loss_over_ln10, no_softmax_jacobian, tanh_grad_1_minus_h, loss_summed_over_t, yhat_swapped,
    update_sign, one_sided_difference, sigmoid_grad_as_sigmoid, ds_without_carry, h_without_tanh,
    W_not_transposed, V_not_transposed))
PIECES = {m.id: m.change(REFERENCE) for m in CATALOGUE}  # each entry's pieces, made once


def swapped(mistake: Mistake) -> set[str]:
    """The pieces that the mistake changes."""
    changed = mistake.change(REFERENCE)
    return {name for name in Pieces._fields if getattr(changed, name) is not getattr(REFERENCE, name)
            and getattr(changed, name) != getattr(REFERENCE, name)}


def applies(mistake: Mistake, problem: str) -> bool:
    """Whether the mistake changes a piece that the problem's solution uses."""
    return bool(swapped(mistake) & USES[problem])


def for_problem(problem: str) -> tuple[Mistake, ...]:
    """The catalogue entries that apply to `problem`, in catalogue order."""
    return _applying(problem, CATALOGUE)


@functools.cache
def _applying(problem: str, catalogue: tuple[Mistake, ...]) -> tuple[Mistake, ...]:
    return tuple(m for m in catalogue if applies(m, problem))


# ---------------------------------------------------------------------------------------------
# The candidates a row is matched against: a reading with the right computation or one entry.
# ---------------------------------------------------------------------------------------------


class Candidate(NamedTuple):
    """A way to compute the answers: a reading, and a catalogue entry or None (the right computation)."""

    reading: Reading
    mistake: Mistake | None


def pieces_of(c: Candidate) -> Pieces:
    return REFERENCE if c.mistake is None else PIECES[c.mistake.id]


class Block(NamedTuple):
    """A block's candidates, and how its part-(1) matrix is put together. Part (1) depends only on the
    reading and h's activation (the forward pass) and on the loss, so entries that change the backward
    alone share the reference's row: `forwards` are the distinct (reading, h's activation), `losses`
    the distinct (index into forwards, pieces whose loss is taken), and `forward_of` and `loss_of` each
    candidate's index into them."""

    candidates: tuple[Candidate, ...]
    forwards: tuple[tuple[Reading, str], ...]
    losses: tuple[tuple[int, Pieces], ...]
    forward_of: np.ndarray
    loss_of: np.ndarray


def _block(candidates: Sequence[Candidate]) -> Block:
    forwards: dict[tuple[Reading, str], int] = {}
    losses: dict[tuple[int, Callable], tuple[int, Pieces]] = {}
    forward_of, loss_of = [], []
    for c in candidates:
        p = pieces_of(c)
        f = forwards.setdefault((c.reading, p.output_activation), len(forwards))
        forward_of.append(f)
        loss_of.append(losses.setdefault((f, p.loss), (len(losses), p))[0])
    return Block(tuple(candidates), tuple(forwards), tuple((f, p) for (f, _), (_, p) in losses.items()),
                 np.array(forward_of, dtype=int), np.array(loss_of, dtype=int))


@functools.lru_cache(maxsize=256)
def candidate_blocks(readings: tuple[Reading, ...], mistakes: tuple[Mistake, ...]) -> tuple[Block, Block]:
    """Every reading, then every reading with every catalogue entry of `mistakes`."""
    return (_block([Candidate(r, None) for r in readings]),
            _block([Candidate(r, m) for r in readings for m in mistakes]))
