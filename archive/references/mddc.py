"""MDDC: the study's "MDD Challenger" priority, scanned in EDD order (ties by p)."""

import numpy as np


def schedule(p, d):
    """Append the first minimum of the challenger's urgency, recomputed at each step."""
    t = 0
    order = []
    left = np.lexsort((p, d))
    while left.size > 0:
        pl = p[left]
        urgency = np.maximum(pl * 1.1 + t, d[left])
        rho = np.minimum(pl / (t + np.max(pl)), 1.0)
        urgency *= 1 + rho**2 / (1 + rho**2)
        urgency += pl / (t + np.sum(pl) / len(left))
        k = int(np.argmin(urgency))
        job = int(left[k])
        order.append(job)
        t += int(p[job])
        left = np.delete(left, k)
    return order
