"""Numba kernels for total weighted tardiness Σ w_j max(0, C_j − d_j), single, batch and per set.

Like ``evaluator.kernels``, each checks that an order is a permutation of 0..n-1 and returns
``INVALID`` (-1) for one that is not.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from evaluator.kernels import INVALID, _as_i64


@njit(cache=True)
def weighted_tardiness_kernel(p, w, d, order):
    """Return Σ w_j max(0, C_j − d_j) of ``order``, or INVALID if it is not a permutation."""
    n = p.shape[0]
    if order.shape[0] != n:
        return INVALID
    seen = np.zeros(n, np.bool_)
    t = 0
    total = 0
    for k in range(n):
        j = order[k]
        if j < 0 or j >= n or seen[j]:
            return INVALID
        seen[j] = True
        t += p[j]
        if t > d[j]:
            total += w[j] * (t - d[j])
    return total


@njit(cache=True)
def weighted_orders_kernel(p, w, d, orders):
    """Return the weighted tardiness of each row of a 2-D array of orders for one instance."""
    out = np.empty(orders.shape[0], np.int64)
    for r in range(orders.shape[0]):
        out[r] = weighted_tardiness_kernel(p, w, d, orders[r])
    return out


@njit(cache=True)
def weighted_set_kernel(p, w, d, offsets, orders):
    """Return the weighted tardiness of one order per instance; ``orders`` is flat like ``p``."""
    m = offsets.shape[0] - 1
    out = np.empty(m, np.int64)
    for i in range(m):
        a = offsets[i]
        b = offsets[i + 1]
        out[i] = weighted_tardiness_kernel(p[a:b], w[a:b], d[a:b], orders[a:b])
    return out


def weighted_tardiness(p, w, d, order) -> int:
    """Return the weighted tardiness of one order; raise ValueError if it is not a permutation."""
    p, w, d, order = (_as_i64(x, name) for x, name in ((p, "p"), (w, "w"), (d, "d"), (order, "order")))
    if p.ndim != 1 or p.shape != d.shape or p.shape != w.shape:
        raise ValueError(f"p, w and d must be 1-D of equal length, got {p.shape}, {w.shape}, {d.shape}")
    value = weighted_tardiness_kernel(p, w, d, order)
    if value == INVALID:
        raise ValueError(f"order is not a permutation of 0..{len(p) - 1}")
    return int(value)


def weighted_of_orders(p, w, d, orders) -> np.ndarray:
    """Return the weighted tardiness of each row of ``orders`` (INVALID where a row is no permutation)."""
    orders = _as_i64(orders, "orders")
    if orders.ndim != 2:
        raise ValueError(f"orders must be 2-D, got shape {orders.shape}")
    return weighted_orders_kernel(_as_i64(p, "p"), _as_i64(w, "w"), _as_i64(d, "d"), orders)


def weighted_of_set(wset, orders) -> np.ndarray:
    """Return the weighted tardiness of one order per instance of ``wset`` (INVALID where invalid)."""
    orders = _as_i64(orders, "orders")
    if orders.shape != wset.p.shape:
        raise ValueError(f"orders must be flat with {wset.p.shape[0]} entries, got shape {orders.shape}")
    return weighted_set_kernel(wset.p, wset.w, wset.d, wset.offsets, orders)
