"""PSK (Panwalkar, Smith & Koulamas), as the study coded it: SPT list with due-date look-ahead."""

import numpy as np


def schedule(p, d):
    """Pick the active job from the SPT list (ties by d) by the PSK scan; schedule; repeat."""
    left = [int(j) for j in np.lexsort((d, p))]
    p = [int(x) for x in p]
    d = [int(x) for x in d]
    order = []
    t = 0
    while left:
        i = 0
        if len(left) > 1 and t + p[left[0]] < d[left[0]]:
            for j in range(1, len(left)):
                if d[left[i]] <= t + p[left[j]]:
                    break
                if d[left[i]] > d[left[j]]:
                    i = j
        job = left.pop(i)
        order.append(job)
        t += p[job]
    return order
