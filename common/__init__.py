"""Shared code for the problem scripts; each module says what it holds.

data.py (MNIST), cnn.py (the Problem 1 CNN), occlusion.py (the batched occlusion engine), rnn.py (the
numpy RNN and LSTM layers, output head and loss of Problems 3-5), rnn_autograd.py (their torch cross-check),
gradcheck.py (central differences, rel_error), cli.py (one-line errors, atomic writes, versions),
plotting.py (matplotlib on Agg), text.py (number formatting, README marker regions).
"""
