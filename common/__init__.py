"""The course library: what the problem scripts compute with. Each module says what it holds.

Data and networks: data.py (MNIST, the shipped official test set, `shift` with clamp padding),
checkpoints.py (checkpoint file names, the command that retrains one), cnn.py (the Problem 1 CNN,
its recipe, checkpoint loading), mlp.py (P2's MLP judge), models.py (the checkpoints a run needs,
trained side by side and checked), sampling.py (all digits or a sorted seeded sample).
Problem 1: filters.py (filter patterns and their untrained null), discriminant.py (the conv3 cells
that separate 0s from 8s, their ablation), cell_patches.py (what a cell responds to),
shift_study.py (accuracy under shifts and why it falls), plots_p1.py.
Problem 2: occlusion.py (the batched occlusion engine and its Window), strokes.py (the strokes of a
'6' that occluding patches hide), population.py (occlusion maps over many digits), transplant.py and
transplant_study.py (pasting other digits' windows, the study), rates.py (rates with bootstrap
intervals), judges.py (the other networks that read the pastes), attacks.py (PGD, the optimised
patch), plots_p2.py.
Problems 3-5: rnn.py (the numpy RNN and LSTM layers, output head and loss), rnn_autograd.py (their
torch cross-check), gradcheck.py (central differences, rel_error); Problem 4's studies: longseq.py
(gradients over long sequences), gain.py (W, U and b moved one at a time), esn.py (the echo state
network), plots_p4.py.
Grading: solution.py (the worked solutions as swappable pieces), mistakes.py (the catalogue of
mistakes), grading.py (matching and verdicts), rubric.py, submissions.py (the spreadsheet),
variants.py (per-student numbers), key.py (the answer key).
Plumbing: cli.py (one-line errors and the commands they name, output folders, atomic writes,
versions), plotting.py (matplotlib on Agg), text.py (number formatting, README marker regions),
machine.py (the CPU and its vector extensions).
"""
