"""Problem 1's studies of what the CNN learned.

filters.py: filter patterns beside untrained networks (1).
discriminant.py: the conv3 cells that separate 0s from 8s, and their ablation (2).
cell_patches.py: what a conv3 cell responds to (2).
strokes.py: the holes, crossing, loops and sides of the 0s and 8s, and the stroke under a cell (2).
shift_study.py: accuracy under shifts, and why it falls (3).
findings.py: the decisions the words rest on, as data (value, threshold, outcome).
"""
