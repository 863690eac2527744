"""Per-student variants of Problems 3 and 5: new numbers drawn from a seed, a one-page sheet that states
the problems in this repository's words (h(0) = 0, the book's equations named), and a full worked key.

draw_sheet(N) draws x(1..3) in quarters, U, W, V and b, c in halves (RANGES, which the sheet and README
state) from seed N, in the style of the assignment's numbers, and redraws
while the sheet is degenerate (`degenerate`: ŷ2(τ) below MIN_YHAT2, where the loss's log would
dominate, or a component of the gradient asked for below MIN_GRAD in size). sheet_markdown writes the
problem sheet, variant_key the key: the rows of answer_key.json for these numbers plus every
intermediate, and the catalogue entries that a 5-digit answer cannot tell apart on this sheet.
"""
from __future__ import annotations

import hashlib
import hmac
from typing import Any

import numpy as np

from common.grading.key import P3_LOGS, P5_ACTIVATIONS, answer_key
from common.grading.matching import DEFAULT_RTOL, indistinguishable
from common.grading.solution import PROBLEMS, Sheet, Solver, assignment_sheet
from common.grading.steps import DELTA_COLUMNS, MIN_DIGITS, STEP_DIGITS
from common.recurrent.problems import (
    PROBLEM5_BIASES,
    RNNParams,
    lstm_model_backward,
    lstm_model_forward,
    problem5_params,
    rnn_model_backward,
    rnn_model_forward,
)

SEED_TAG = 19  # keeps the variants' random streams apart from the other seeded draws of the repository
MIN_YHAT2 = 1e-3
MIN_GRAD = 1e-6
MAX_DRAWS = 1000
X_STEP, X_BOUND = 0.25, 1.0  # x(t): quarters in [−1, 1]
WEIGHT_STEP, WEIGHT_BOUND = 0.5, 2.0  # U, W, V: halves in [−2, 2]
BIAS_STEP, BIAS_BOUND = 0.5, 1.0  # b, c: halves in [−1, 1]
RANGES = (f"x in quarters (multiples of {X_STEP:g}) in [−{X_BOUND:g}, {X_BOUND:g}]; U, W and V in halves "
          f"(multiples of {WEIGHT_STEP:g}) in [−{WEIGHT_BOUND:g}, {WEIGHT_BOUND:g}]; b and c in halves in "
          f"[−{BIAS_BOUND:g}, {BIAS_BOUND:g}]")


def _multiples(rng: np.random.Generator, step: float, bound: float, shape: tuple[int, ...]) -> np.ndarray:
    n = int(round(bound / step))
    return rng.integers(-n, n + 1, shape) * step


def degenerate(sheet: Sheet) -> bool:
    """Whether ŷ2(τ) < MIN_YHAT2 or a component of the gradient asked for is below MIN_GRAD in size,
    under P3's three log bases or P5's two cell-input activations with this repository's biases."""
    p = sheet.params
    yhat, _, cache = rnn_model_forward(sheet.x, p)  # ŷ does not depend on the log base
    grads = [rnn_model_backward(cache, log)[1].db for log in P3_LOGS]
    yhats = [yhat]
    lstm, V, c = problem5_params(PROBLEM5_BIASES, p)
    for activation in P5_ACTIVATIONS:
        yhat, _, cache = lstm_model_forward(sheet.x, lstm, V, c, activation)
        yhats.append(yhat)
        grads.append(lstm_model_backward(cache)[1].params.b_f)
    return min(y[-1, 1] for y in yhats) < MIN_YHAT2 or min(np.abs(g).min() for g in grads) < MIN_GRAD


def seed(n: int, secret: bytes | None = None) -> list[int]:
    """Variant n's seed: (SEED_TAG, n), which anyone can rebuild, or with a secret, (SEED_TAG, n and
    the HMAC-SHA256 of n under the secret), which only the secret rebuilds."""
    if secret is None:
        return [SEED_TAG, n]
    digest = hmac.new(secret, str(n).encode(), hashlib.sha256).digest()
    return [SEED_TAG, n, *np.frombuffer(digest, dtype=np.uint32).tolist()]


def draw_sheet(n: int, secret: bytes | None = None) -> Sheet:
    """Variant n's numbers: the first draw of its seed that is not degenerate."""
    rng = np.random.default_rng(seed(n, secret))
    for _ in range(MAX_DRAWS):
        p = RNNParams(b=_multiples(rng, BIAS_STEP, BIAS_BOUND, (2,)), c=_multiples(rng, BIAS_STEP, BIAS_BOUND, (2,)),
                      W=_multiples(rng, WEIGHT_STEP, WEIGHT_BOUND, (2, 2)),
                      U=_multiples(rng, WEIGHT_STEP, WEIGHT_BOUND, (2, 2)),
                      V=_multiples(rng, WEIGHT_STEP, WEIGHT_BOUND, (2, 2)))
        sheet = Sheet(_multiples(rng, X_STEP, X_BOUND, (3, 2)), p)
        if not degenerate(sheet):
            return sheet
    raise RuntimeError(f"variant {n}: no fair sheet in {MAX_DRAWS} draws")  # never seen: a bug if it happens


def sheet_of(variant: int | None) -> Sheet:
    """The numbers a row is graded against without --sheets: the assignment's (None) or variant N's draw."""
    return assignment_sheet() if variant is None else draw_sheet(variant)


def _num(v: float) -> str:
    return f"{v + 0.0:g}"


def _matrix(a: np.ndarray) -> str:
    rows = a if a.ndim == 2 else a.reshape(-1, 1)  # a vector is a column, as the assignment writes it
    return r"\begin{bmatrix} " + r" \\ ".join(" & ".join(map(_num, row)) for row in rows) + r" \end{bmatrix}"


def _problem3(sheet: Sheet) -> str:
    """Problem 3 in this repository's words, on the sheet's numbers."""
    p, x = sheet.params, sheet.x
    params = ", \\quad ".join(f"{name} = {_matrix(getattr(p, name))}" for name in ("b", "c", "W", "U", "V"))
    seq = ", \\quad ".join(f"x^{{({t + 1})}} = {_matrix(x[t])}" for t in range(len(x)))
    delta = " and ".join(f"`{c}`" for c in DELTA_COLUMNS)
    return f"""## Problem 3 (30 points): back-propagation through time, worked by hand

Your network is the recurrent net of the *Deep Learning* book (Goodfellow, Bengio and Courville),
eqs. (10.8)–(10.11), run for t = 1, 2, 3 from the state h(0) = 0:

$$a^{{(t)}} = b + W h^{{(t-1)}} + U x^{{(t)}}, \\quad h^{{(t)}} = \\tanh a^{{(t)}}, \\quad
o^{{(t)}} = c + V h^{{(t)}}, \\quad \\hat{{y}}^{{(t)}} = \\mathrm{{softmax}}(o^{{(t)}}).$$

Only the output of the last step, t = τ = 3, enters the loss:

$$L = \\big(\\hat{{y}}_1^{{(3)}} - 0.5\\big)^2 - \\log \\hat{{y}}_2^{{(3)}}.$$

Your parameters are

$${params},$$

and your three inputs are

$${seq}.$$

1. Run the network forward over your three inputs: give ŷ(1), ŷ(2), ŷ(3) and L.
2. Approximate ∂L/∂b₁ and ∂L/∂b₂ numerically, by the central difference (L(b + ε eᵢ) − L(b − ε eᵢ)) / 2ε
   with ε = 0.0001.
3. Get the same two derivatives exactly: unfold the network in time and back-propagate from t = 3 down
   to t = 1. Show every intermediate (∂L/∂o(t), ∂L/∂h(t), ∂L/∂a(t)).
4. Move b₁ and b₂ by one gradient-descent step with learning rate 0.002, every other parameter
   unchanged. The step is small: write the new b with {STEP_DIGITS} significant digits, or write the change
   Δb = b − b_new in its own columns, {delta}.
5. With the new b and the other parameters as above, run your program on the same three inputs again
   and give the loss.
"""


def _problem5() -> str:
    """Problem 5 in this repository's words (it reuses Problem 3's numbers)."""
    return """## Problem 5 (8 points, extra credit): an LSTM in place of the recurrence

Take out Problem 3's recurrent layer (eqs. 10.8–10.9) and put an LSTM cell in its place: the book's
eqs. (10.40)–(10.44), a forget gate f, an input gate g, an output gate q and the state s, started from
s(0) = 0 and h(0) = 0. Every gate, and the cell's input, sees x(t) through Problem 3's U and h(t − 1)
through Problem 3's W. The four biases (b^f, b^g, b^o and the cell input's b) are your choice: pick
them and say why. The output layer and the loss are Problem 3's (o(t) = c + V h(t), ŷ(t) = softmax(o(t)),
L at t = 3).

On Problem 3's three inputs, give ŷ(t) for t = 1, 2, 3 and L, then ∂L/∂b^f, the gradient with respect
to the forget gate's biases, by unfolding the network in time; show the intermediates.
"""


def sheet_markdown(n: int, sheet: Sheet) -> str:
    """The one-page problem sheet of variant n: Problems 3 and 5 in this repository's words."""
    return f"""# Problems 3 and 5, variant {n}

The numbers below are yours alone, drawn in the style of the assignment's: {RANGES}.

Hand in your values with `{n}` in the `variant` column. Write each with 5 significant digits (at least
{MIN_DIGITS}), and b_new with {STEP_DIGITS}.

{_problem3(sheet)}
{_problem5()}"""


def variant_key(n: int, sheet: Sheet) -> dict[str, Any]:
    """Variant n's key: its numbers, the answer key's rows with every intermediate (`values`), and the
    catalogue entries that no 5-digit answer tells apart from the right one at the default rtol."""
    solver = Solver(sheet)
    return {"variant": n, "x": sheet.x.tolist(),
            "params": {name: value.tolist() for name, value in sheet.params._asdict().items()},
            "rows": answer_key(sheet, intermediates=True),
            "indistinguishable": {problem: indistinguishable(solver, problem, DEFAULT_RTOL) for problem in PROBLEMS}}
