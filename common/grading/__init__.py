"""Grading Problems 3 and 5.

solution.py: the worked solutions as swappable pieces.
mistakes.py: the catalogue of common mistakes.
matching.py: matching a student's values, and the verdicts.
rubric.py: the points per part.
submissions.py: a class's spreadsheet in, grades out.
variants.py: per-student numbers and sheets.
steps.py: part (4) checked as a step, and whether (4) and (5) follow from the row's own values.
sheets.py: the issued sheets, and rows copied from another sheet.
gradebook.py: the template, one row per student, and the students' self-check.
key.py: the answer key under every reading.
"""
