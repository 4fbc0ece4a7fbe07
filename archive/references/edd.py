"""EDD (earliest due date): jobs sorted by due date, ties by job index."""

import numpy as np


def schedule(p, d):
    """Return the jobs sorted by due date (stable)."""
    return np.argsort(d, kind="stable")
