"""Grading Problems 3 and 5.

solution.py: the worked solutions as swappable pieces.
mistakes.py: the catalogue of common mistakes.
matching.py: matching a student's values, and the verdicts.
rubric.py: the points per part.
submissions.py: a class's spreadsheet in, grades out.
variants.py: per-student numbers and sheets.
key.py: the answer key under every reading.
"""
