"""What vulture cannot see, for `python -m vulture` (make test): names used in ways that static
analysis misses. Vulture reads this file; nothing imports it.

- Fields of the NamedTuples that are read by name from strings (lstm.BLOCKS, bench/bench_bptt.py's
  blocks) or through `_asdict()`, and the gradients the backward passes return in full (the tests
  compare each with autograd).
- The one-step backward passes, the tested references that the sequence backward passes are
  checked against (those run the recurrence in full, with one matmul for the parameters).
- numpy's `flags.writeable`, set to freeze the reservoir's weights.
- In modules that other work is changing now: esn.train_esn and report.p1.numbers_masked, used only
  by tests (tests/test_p4.py, tests/test_report_p1.py), and LSTMGrads.df, which nothing reads.
"""
import numpy as np

from common.recurrent import esn, lstm, rnn
from report import p1

lstm.LSTMParams.U_f, lstm.LSTMParams.W_f
lstm.LSTMParams.b_g, lstm.LSTMParams.U_g, lstm.LSTMParams.W_g
lstm.LSTMParams.b_o, lstm.LSTMParams.U_o, lstm.LSTMParams.W_o
lstm.LSTMStepGrads.ds_prev
lstm.LSTMGrads.dh0
rnn.RNNGrads.dh0

lstm.lstm_step_backward
rnn.rnn_step_backward

np.empty(0).flags.writeable

esn.train_esn
p1.numbers_masked
lstm.LSTMGrads.df
