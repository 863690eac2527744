"""Grading Problems 3 and 5.

solution.py: the worked solutions as swappable pieces.
mistakes.py: the catalogue of common mistakes.
matching.py: the verdicts, tried in order, the first wrong step and the credit.
rubric.py: the points per part.
submissions.py: a class's spreadsheet in, grades out.
variants.py: per-student numbers and sheets.
steps.py: the matching rule's tolerances, which values are decided, and part (4) as a step.
sheets.py: the issued sheets, and rows copied from another sheet.
gradebook.py: the template, one row per student, and the students' self-check.
key.py: the answer key under every reading.
"""
