"""Exact solvers of 1||Σw_jT_j for small n: the subset DP (n ≤ 22) and the positional MIP.

The MIP is ``evaluator.exact.mip.solve_mip`` with a weight vector (one model builder for both
objectives). Brute force for n ≤ 8 is ``reference.brute_force_weighted``, the independent check.
"""

from __future__ import annotations

import time

import numpy as np
from numba import njit

from evaluator.exact.mip import solve_mip
from evaluator.exact.result import ExactResult, check_instance
from evaluator.weighted.kernels import weighted_tardiness

MAX_DP_JOBS = 22


def check_weights(w, p: np.ndarray) -> np.ndarray:
    """Return w as int64; raise ValueError unless it holds one positive integer per job of p."""
    wa = np.asarray(w)
    if wa.ndim != 1 or (wa.size and wa.dtype.kind not in "iu"):
        raise ValueError(f"w must be a 1-D array of integers, got shape {wa.shape} dtype {wa.dtype}")
    if wa.shape != p.shape:
        raise ValueError(f"w has {wa.shape[0]} weights but p has {p.shape[0]} jobs")
    wa = np.ascontiguousarray(wa, dtype=np.int64)
    if wa.size and wa.min() <= 0:
        j = int(np.argmin(wa))
        raise ValueError(f"weight w[{j}] = {int(wa[j])} must be a positive integer")
    return wa


@njit(cache=True)
def weighted_subset_dp(p, w, d):
    """Return (f, last): f[S] the least weighted tardiness of the jobs in bitmask S run first from 0.

    f[S] = min over j in S of f[S − j] + w_j max(0, P(S) − d_j); ``last[S]`` the minimising j
    (the lowest index on ties).
    """
    n = p.shape[0]
    size = 1 << n
    f = np.empty(size, np.int64)
    last = np.empty(size, np.int8)
    load = np.zeros(size, np.int64)
    f[0] = 0
    last[0] = -1
    for s in range(1, size):
        low = s & -s
        j0 = 0
        while (1 << j0) != low:
            j0 += 1
        load[s] = load[s ^ low] + p[j0]
        best = -1
        arg = -1
        for j in range(n):
            if s & (1 << j):
                v = f[s ^ (1 << j)] + w[j] * max(0, load[s] - d[j])
                if best < 0 or v < best:
                    best = v
                    arg = j
        f[s] = best
        last[s] = arg
    return f, last


def solve_dp_weighted(p, w, d) -> ExactResult:
    """Solve one instance exactly by the subset DP; raise ValueError on bad input or n > MAX_DP_JOBS."""
    t0 = time.perf_counter()
    p, d = check_instance(p, d)
    w = check_weights(w, p)
    n = p.shape[0]
    if n > MAX_DP_JOBS:
        raise ValueError(f"the subset DP handles at most {MAX_DP_JOBS} jobs (2**n states), got n = {n}")
    if n == 0:
        return ExactResult(0, np.zeros(0, np.int64), "optimal", 0, time.perf_counter() - t0, 0, "dp")
    f, last = weighted_subset_dp(p, w, d)
    s = (1 << n) - 1
    value = int(f[s])
    order = np.empty(n, np.int64)
    for pos in range(n - 1, -1, -1):
        j = int(last[s])
        order[pos] = j
        s ^= 1 << j
    if weighted_tardiness(p, w, d, order) != value:
        raise RuntimeError(f"dp: internal error, the order has weighted tardiness "
                           f"{weighted_tardiness(p, w, d, order)}, not {value}")
    return ExactResult(value, order, "optimal", value, time.perf_counter() - t0, 1 << n, "dp")


def solve_mip_weighted(p, w, d, time_limit: float | None = None, spt_cuts: bool = True) -> ExactResult:
    """Solve one instance with the positional MIP on Σ w_j T_j (HiGHS, one thread)."""
    return solve_mip(p, d, time_limit=time_limit, spt_cuts=spt_cuts, w=w)


METHODS = ("ti", "mip", "dp")
"""The weighted exact methods, the default first: ``ti`` (``evaluator.weighted.ti``: Lagrangian bound,
arc elimination, time-indexed MIP), ``mip`` (positional MIP), ``dp`` (subset DP, n ≤ 22)."""


def solve_weighted(p, w, d, method: str = "ti", time_limit: float | None = None) -> ExactResult:
    """Solve one instance with the named weighted method (``dp`` ignores ``time_limit``)."""
    if method == "ti":
        from evaluator.weighted.ti import solve_ti

        return solve_ti(p, w, d, time_limit=time_limit)
    if method == "mip":
        return solve_mip_weighted(p, w, d, time_limit=time_limit)
    if method == "dp":
        return solve_dp_weighted(p, w, d)
    raise ValueError(f"method = {method!r} must be one of {', '.join(METHODS)}")
