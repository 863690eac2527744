"""Per-student variants of Problems 3 and 5: new numbers drawn from a seed, a one-page sheet in the
assignment's words, and a full worked key.

draw_sheet(N) draws x(1..3) (multiples of 0.25 in [−1, 1]), U, W, V (multiples of 0.5 in [−2, 2]) and
b, c (multiples of 0.5 in [−1, 1]) from seed N, in the style of the assignment's numbers, and redraws
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
        p = RNNParams(b=_multiples(rng, 0.5, 1.0, (2,)), c=_multiples(rng, 0.5, 1.0, (2,)),
                      W=_multiples(rng, 0.5, 2.0, (2, 2)), U=_multiples(rng, 0.5, 2.0, (2, 2)),
                      V=_multiples(rng, 0.5, 2.0, (2, 2)))
        sheet = Sheet(_multiples(rng, 0.25, 1.0, (3, 2)), p)
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


def sheet_markdown(n: int, sheet: Sheet) -> str:
    """The one-page problem sheet of variant n: Problems 3 and 5 in the assignment's words."""
    p, x = sheet.params, sheet.x
    params = ", \\quad ".join(f"{name} = {_matrix(getattr(p, name))}" for name in ("b", "c", "W", "U", "V"))
    seq = ", \\quad ".join(f"x^{{({t + 1})}} = {_matrix(x[t])}" for t in range(len(x)))
    return f"""# Problems 3 and 5, variant {n}

Write `{n}` in the `variant` column when you hand in your numbers.

**Problem 3 (30 points)** The main purpose of this problem is to gain a deeper understanding of the back-propagation through time algorithm for a recurrent neural network via an example. We will use the recurrent neural network defined by equations (10.8) to (10.11) (in the Deep Learning textbook) with a customized loss function:

$$L(\\{{x^{{(1)}}, \\cdots, x^{{(\\tau)}}\\}}) = (\\hat{{y}}_1^{{(\\tau)}} - 0.5)^2 - \\log(\\hat{{y}}_2^{{(\\tau)}}).$$

and the following parameter values:

$${params}.$$

for the following sequence:

$${seq}.$$

- (1) Write a program that computes the outputs and loss using the given sequence and parameter values. Give  $\\hat{{y}}^{{(t)}}$  for t=1:3 and the customized loss.
- (2) Estimate the gradient of the loss function with respect to  $b_1$  and  $b_2$  using the central difference method using  $\\epsilon$ =0.0001.
- (3) Compute the gradient of the loss function with respect to  $b_1$  and  $b_2$  by unfolding the network through time. You need to show the intermediate results.
- (4) Fixing other parameters, perform one step of gradient descent optimization on b_1 and b_2 using a learning rate of 0.002.
- (5) Use your program to compute the loss using the new values for b (with other parameters as given) for the original sequence.

**Problem 5 (8 points)** Implement an LSTM cell and use it to replace the recurrent connection in Problem 3. Use the same U and W matrices as in Problem 3 but choose biases properly. Then apply your LSTM on the same sequence as in Problem 3, compute the outputs, the customized loss, and the gradient of the customized loss (by unfolding the network through time) with respect to the biases of the forget gate. For gradient calculation, you need to show the intermediate results.
"""


def variant_key(n: int, sheet: Sheet) -> dict[str, Any]:
    """Variant n's key: its numbers, the answer key's rows with every intermediate (`values`), and the
    catalogue entries that no 5-digit answer tells apart from the right one at the default rtol."""
    solver = Solver(sheet)
    return {"variant": n, "x": sheet.x.tolist(),
            "params": {name: value.tolist() for name, value in sheet.params._asdict().items()},
            "rows": answer_key(sheet, intermediates=True),
            "indistinguishable": {problem: indistinguishable(solver, problem, DEFAULT_RTOL) for problem in PROBLEMS}}
