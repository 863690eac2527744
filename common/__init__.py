"""Shared code for the problem scripts; each module says what it holds.

data.py (MNIST), checkpoints.py (checkpoint file names, the command that retrains one), cnn.py (the
Problem 1 CNN), mlp.py (P2's MLP judge), models.py (the checkpoints a run needs, trained and
checked), occlusion.py (the batched occlusion engine), rnn.py (the numpy RNN and LSTM layers,
output head and loss of Problems 3-5), rnn_autograd.py (their torch cross-check), gradcheck.py
(central differences, rel_error), cli.py (one-line errors and the commands they name, output folders,
atomic writes, versions), plotting.py (matplotlib on Agg), text.py (number formatting, README
marker regions).
"""
