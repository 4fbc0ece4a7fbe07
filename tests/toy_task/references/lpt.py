"""LPT: the longest job first, the worst order for total completion time."""

import numpy as np


def schedule(p, d):
    """Return the jobs sorted by decreasing processing time (stable)."""
    return np.argsort(-p, kind="stable")
