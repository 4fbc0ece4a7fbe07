"""EDDC: the study's "EDD Challenger", as its code runs (SPT start, guarded backward swaps)."""

import numpy as np


def schedule(p, d):
    """Sort by (p, d); walk each job back while its due date is earlier and the guard allows a swap."""
    s = list(np.lexsort((d, p)))
    for i in range(1, len(s)):
        j = i
        while j > 0 and d[s[j]] < d[s[j - 1]]:
            done = sum(int(p[s[k]]) for k in range(j))
            if d[s[j - 1]] > done:
                s[j], s[j - 1] = s[j - 1], s[j]
            j -= 1
    return s
