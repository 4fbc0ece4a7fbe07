"""MDD compiled with numba: the archive's plain-Python MDD (archive/references/mdd.py), on arrays."""

import numpy as np
from numba import njit


@njit
def schedule(p, d):
    n = p.shape[0]
    done = np.zeros(n, np.bool_)
    order = np.empty(n, np.int64)
    t = 0
    for k in range(n):
        best, best_val = -1, 0
        for j in range(n):
            if not done[j]:
                v = max(d[j], t + p[j])
                if best < 0 or v < best_val:
                    best, best_val = j, v
        order[k] = best
        done[best] = True
        t += p[best]
    return order
