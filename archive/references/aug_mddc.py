"""Aug-MDDC: MDDC with the "move to end" improvement step after each append (the study's best)."""

import numpy as np


def tardiness(seq, p, d):
    """Return the total tardiness of a partial sequence timed from 0."""
    t = 0
    total = 0
    for j in seq:
        t += int(p[j])
        total += max(0, t - int(d[j]))
    return total


def schedule(p, d):
    """Append by the MDDC urgency; after each append keep the best strictly improving move to the end."""
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
        best_value = tardiness(order, p, d)
        best_order = order
        for i in range(len(order) - 1):
            trial = order[:i] + order[i + 1:] + [order[i]]
            value = tardiness(trial, p, d)
            if value < best_value:
                best_value, best_order = value, trial
        order = best_order
    return order
