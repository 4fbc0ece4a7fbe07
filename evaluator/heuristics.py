"""Baseline heuristics for 1||ΣT_j in numba, as the study's code defines them.

Each function takes int64 arrays ``p`` and ``d`` and returns an int64 order (job indices).
Tie-breaking is stated in each docstring; "first minimum" means ties go to the earliest job
in the stated scan order.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def edd(p, d):
    """Earliest due date: sort by d, ties by job index (stable)."""
    return np.argsort(d, kind="mergesort").astype(np.int64)


@njit(cache=True)
def spt(p, d):
    """Shortest processing time: sort by p, ties by job index (stable)."""
    return np.argsort(p, kind="mergesort").astype(np.int64)


@njit(cache=True)
def mdd(p, d):
    """Modified due date (Baker & Bertrand): append the first minimum of max(d_j, t + p_j).

    The scan runs over the unscheduled jobs in index order, so ties go to the lowest index.
    """
    n = p.shape[0]
    order = np.empty(n, np.int64)
    done = np.zeros(n, np.bool_)
    t = 0
    for k in range(n):
        best = -1
        best_val = 0
        for j in range(n):
            if done[j]:
                continue
            v = max(d[j], t + p[j])
            if best < 0 or v < best_val:
                best = j
                best_val = v
        order[k] = best
        done[best] = True
        t += p[best]
    return order
