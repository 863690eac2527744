"""The figures: each helper takes arrays (and the results it labels) and returns a Figure, which
the script saves.

backend.py: matplotlib on Agg.
p1.py: Problem 1's figures.  p1_features.py: Problem 1 (2)'s features of this '0' and this '8'.
p2.py: Problem 2's maps, regions, population and gallery.
p2_study.py: Problem 2 (3)'s study, adversarial pastes and attacks.
p3.py: Problem 3's unrolled network.
p4.py: Problem 4's experiments.
p5.py: Problem 5's per-step contributions to ∂L/∂b^f.
"""
