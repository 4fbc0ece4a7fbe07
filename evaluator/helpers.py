"""Read-only helpers a candidate heuristic may import (``from evaluator.helpers import total_tardiness``).

Each helper copies its inputs to fresh int64 arrays before calling a numba kernel, so it never
writes into the caller's arrays and always hits the kernel signature compiled when the sandbox
worker warmed up (a worker cannot compile new code once confined).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from evaluator.kernels import INVALID, tardiness_kernel

__all__ = ["completion_times", "job_tardiness", "total_tardiness"]


def _ints(a, name: str) -> np.ndarray:
    raw = np.asarray(a)
    if raw.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {raw.shape}")
    if raw.size and raw.dtype.kind not in "iu":
        raise TypeError(f"{name} must hold integers, got dtype {raw.dtype}")
    return np.array(raw, dtype=np.int64, copy=True)


@njit(cache=True)
def _completion_kernel(p, order):
    out = np.empty(order.shape[0], np.int64)
    t = 0
    for k in range(order.shape[0]):
        t += p[order[k]]
        out[k] = t
    return out


def total_tardiness(p, d, order) -> int:
    """Return Σ max(0, C_j − d_j) of a sequence; raise ValueError if it is not a permutation."""
    p, d, order = _ints(p, "p"), _ints(d, "d"), _ints(order, "order")
    if p.shape != d.shape:
        raise ValueError(f"p and d must have equal length, got {p.shape[0]} and {d.shape[0]}")
    value = tardiness_kernel(p, d, order)
    if value == INVALID:
        raise ValueError(f"order is not a permutation of 0..{p.shape[0] - 1}")
    return int(value)


def completion_times(p, order) -> np.ndarray:
    """Return the completion time of each position of ``order`` (a prefix of jobs is fine)."""
    p, order = _ints(p, "p"), _ints(order, "order")
    if order.size and (order.min() < 0 or order.max() >= p.shape[0]):
        raise ValueError(f"order holds an index outside 0..{p.shape[0] - 1}")
    return _completion_kernel(p, order)


def job_tardiness(p, d, order) -> np.ndarray:
    """Return max(0, C − d) of each job in sequence order (a prefix of jobs is fine)."""
    d, order = _ints(d, "d"), _ints(order, "order")
    c = completion_times(p, order)
    return np.maximum(c - d[order], 0)


def warm() -> None:
    """Compile (or load from cache) every kernel the helpers use, for the signature they use."""
    p = np.array([2, 1], np.int64)
    total_tardiness(p, p, np.array([1, 0]))
    job_tardiness(p, p, np.array([0]))
