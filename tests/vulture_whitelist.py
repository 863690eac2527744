"""What vulture cannot see, for `python -m vulture` (make test): names used in ways that static
analysis misses. Vulture reads this file; nothing imports it.

- Fields of the NamedTuples that are read by name from strings (lstm.BLOCKS, bench/bench_bptt.py's
  blocks) or through `_asdict()`, and the gradients the backward passes return in full (the tests
  compare each with autograd).
- The one-step backward passes, the tested references that the sequence backward passes are
  checked against (those run the recurrence in full, with one matmul for the parameters).
- numpy's `flags.writeable`, set to freeze the reservoir's weights.
- report.fields.recording, the strict view's record of the paths a renderer reads, which
  tests/test_solution_facts.py holds against its table of facts.
"""
import numpy as np

from common.recurrent import lstm, rnn
from report import fields

lstm.LSTMParams.U_f, lstm.LSTMParams.W_f
lstm.LSTMParams.b_g, lstm.LSTMParams.U_g, lstm.LSTMParams.W_g
lstm.LSTMParams.b_o, lstm.LSTMParams.U_o, lstm.LSTMParams.W_o
lstm.LSTMStepGrads.ds_prev
lstm.LSTMGrads.dh0
rnn.RNNGrads.dh0

lstm.lstm_step_backward
rnn.rnn_step_backward

np.empty(0).flags.writeable

fields.recording
