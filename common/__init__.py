"""Shared code for the problem scripts; each module says what it holds.

data.py (MNIST), cnn.py (the Problem 1 CNN), occlusion.py (the batched occlusion engine and its Window),
strokes.py (the strokes of a '6' that occluding patches hide), population.py (occlusion maps over many
digits), transplant.py (Problem 2's transplant study), rates.py (rates with intervals), judges.py (its
judges), attacks.py (PGD, the optimised patch), plots_p2.py (Problem 2's figures), rnn.py (the
numpy RNN and LSTM layers, output head and loss of Problems 3-5), rnn_autograd.py (their torch cross-check),
gradcheck.py (central differences, rel_error), cli.py (one-line errors, atomic writes, versions),
plotting.py (matplotlib on Agg), text.py (number formatting, README marker regions).
"""
