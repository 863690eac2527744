"""matplotlib on the Agg backend: the scripts save their figures and never open a window.

Import `plt` from here (not from matplotlib) so that every script selects the backend the same way.
"""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

__all__ = ["plt"]
