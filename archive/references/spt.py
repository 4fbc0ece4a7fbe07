"""SPT (shortest processing time): jobs sorted by processing time, ties by job index."""

import numpy as np


def schedule(p, d):
    """Return the jobs sorted by processing time (stable)."""
    return np.argsort(p, kind="stable")
