"""The course library: what the problem scripts compute with, one subpackage per concern.

core/: shared plumbing (errors, writes, text, the machine, gradient checks, sampling).
nets/: MNIST and the networks trained on it.
features/: Problem 1's studies.  occlusion/: the occlusion engine and Problem 2's studies.
recurrent/: the numpy RNN and LSTM, Problems 3-5 and Problem 4's experiments.
grading/: the answer key, the catalogue of mistakes and the grader.  plots/: the figures.

Each subpackage's __init__ maps its modules; tests/test_imports.py holds which may import which.
"""
