"""The numpy recurrent networks of Problems 3-5 and Problem 4's experiments.

rnn.py: the vanilla RNN's step and sequence pairs, the output head and the loss.
lstm.py: the LSTM's step and sequence pairs.
problems.py: Problem 3's numbers, and the models of Problems 3 and 5.
rnn_autograd.py: the same models in torch, the cross-check.
longseq.py: how far back a loss reaches over long sequences (Problem 4, experiment 1).
gain.py: W, U and b moved one at a time (Problem 4 (1)).
esn.py: the echo state network (Problem 4, experiment 2).
findings.py: every decision Problem 4's answers rest on, from the measured results.
"""
