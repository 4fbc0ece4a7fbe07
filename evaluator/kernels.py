"""Numba kernels for total tardiness, with thin validating wrappers.

Every kernel checks that an order is a permutation of 0..n-1 and reports ``INVALID`` (-1)
for one that is not; the wrappers turn that into an exception or a masked result.
"""

from __future__ import annotations

import numpy as np
from numba import njit

INVALID = -1


@njit(cache=True)
def tardiness_kernel(p, d, order):
    """Return Σ max(0, C_j − d_j) of ``order``, or INVALID if it is not a permutation."""
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
            total += t - d[j]
    return total


@njit(cache=True)
def tardiness_orders_kernel(p, d, orders):
    """Return the tardiness of each row of a 2-D array of orders for one instance."""
    k = orders.shape[0]
    out = np.empty(k, np.int64)
    for r in range(k):
        out[r] = tardiness_kernel(p, d, orders[r])
    return out


@njit(cache=True)
def tardiness_set_kernel(p, d, offsets, orders):
    """Return the tardiness of one order per instance; ``orders`` is flat like ``p``."""
    m = offsets.shape[0] - 1
    out = np.empty(m, np.int64)
    for i in range(m):
        a = offsets[i]
        b = offsets[i + 1]
        out[i] = tardiness_kernel(p[a:b], d[a:b], orders[a:b])
    return out


def _as_i64(a, name: str) -> np.ndarray:
    arr = np.asarray(a)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{name} must hold integers, got dtype {arr.dtype}")
    return np.ascontiguousarray(arr, dtype=np.int64)


def total_tardiness(p, d, order) -> int:
    """Return the total tardiness of one order; raise ValueError if it is not a permutation."""
    p, d, order = _as_i64(p, "p"), _as_i64(d, "d"), _as_i64(order, "order")
    if p.shape != d.shape or p.ndim != 1:
        raise ValueError(f"p and d must be 1-D of equal length, got {p.shape} and {d.shape}")
    value = tardiness_kernel(p, d, order)
    if value == INVALID:
        raise ValueError(f"order is not a permutation of 0..{len(p) - 1}")
    return int(value)


def tardiness_of_orders(p, d, orders) -> np.ndarray:
    """Return the tardiness of each row of ``orders`` (INVALID where a row is no permutation)."""
    orders = _as_i64(orders, "orders")
    if orders.ndim != 2:
        raise ValueError(f"orders must be 2-D, got shape {orders.shape}")
    return tardiness_orders_kernel(_as_i64(p, "p"), _as_i64(d, "d"), orders)


def tardiness_of_set(iset, orders) -> np.ndarray:
    """Return the tardiness of one order per instance of ``iset`` (INVALID where invalid)."""
    orders = _as_i64(orders, "orders")
    if orders.shape != iset.p.shape:
        raise ValueError(f"orders must be flat with {iset.p.shape[0]} entries, got shape {orders.shape}")
    return tardiness_set_kernel(iset.p, iset.d, iset.offsets, orders)
