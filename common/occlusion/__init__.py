"""The occlusion engine and Problem 2's studies.

engine.py: the batched occlusion engine and its Window (1).
strokes.py: the strokes of a '6' that occluding patches hide (2).
population.py: occlusion maps over many digits of one class (2).
transplant.py: windows of other digits pasted over a '6', and their verdicts (3).
transplant_study.py: where to paste, and how often the label changes (3).
rates.py: rates with bootstrap intervals.
judges.py: the other networks that read the pastes (3).
attacks.py: PGD and the optimised patch, for comparison (3).
findings.py: the decisions the words rest on, as data (value, threshold, outcome).
"""
