"""EDDC: the study's "EDD Challenger", as its code runs (SPT start, guarded backward swaps)."""

import numpy as np


def schedule(p, d):
    """Sort by (p, d); walk each job back while its due date is earlier and the guard allows a swap.

    The guard compares d of the job ahead with the completion time of the positions before the
    walking job, kept as a running sum (O(n²) in all, like the numba twin).
    """
    s = [int(j) for j in np.lexsort((d, p))]
    p = [int(x) for x in p]
    d = [int(x) for x in d]
    upto = p[s[0]] if s else 0  # Σ p over positions 0..i−1
    for i in range(1, len(s)):
        entering = s[i]
        avail = upto  # Σ p over positions 0..j−1
        j = i
        while j > 0 and d[s[j]] < d[s[j - 1]]:
            prev = s[j - 1]
            if d[prev] > avail:
                s[j], s[j - 1] = prev, s[j]
            avail -= p[prev]
            j -= 1
        upto += p[entering]
    return s
