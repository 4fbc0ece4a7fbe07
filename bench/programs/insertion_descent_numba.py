"""Insertion descent compiled with numba: the same algorithm as ``insertion_descent.py``, on arrays."""

import numpy as np
from numba import njit

from evaluator.helpers import mdd_order


@njit
def move(order, i, j):
    x = order[i]
    if j > i:
        order[i:j] = order[i + 1:j + 1].copy()
    else:
        order[j + 1:i + 1] = order[j:i].copy()
    order[j] = x


@njit
def schedule(p, d):
    n = p.shape[0]
    order = mdd_order(p, d)  # the toolkit's MDD: the same order as the Python start
    c = np.empty(n, np.int64)
    improved = True
    while improved:
        improved = False
        for i in range(n):
            t = 0
            for k in range(n):
                t += p[order[k]]
                c[k] = t
            x = order[i]
            px, dx = p[x], d[x]
            own = max(0, c[i] - dx)
            best_delta, best_j = 0, i
            shift = 0
            for j in range(i + 1, n):
                dy = d[order[j]]
                shift += max(0, c[j] - px - dy) - max(0, c[j] - dy)
                delta = shift + max(0, c[j] - dx) - own
                if delta < best_delta:
                    best_delta, best_j = delta, j
            shift = 0
            for j in range(i - 1, -1, -1):
                y = order[j]
                shift += max(0, c[j] + px - d[y]) - max(0, c[j] - d[y])
                delta = shift + max(0, c[j] - p[y] + px - dx) - own
                if delta < best_delta:
                    best_delta, best_j = delta, j
            if best_delta < 0:
                move(order, i, best_j)
                improved = True
    return order
