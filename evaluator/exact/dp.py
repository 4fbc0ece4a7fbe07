"""Reference solvers for small n: the subset dynamic programme and plain enumeration."""

from __future__ import annotations

import itertools
import time

import numpy as np
from numba import njit

from evaluator.exact.result import ExactResult, check_instance, verified

MAX_DP_JOBS = 22


@njit(cache=True)
def subset_dp(p, d):
    """Return (f, last): f[S] is the least tardiness of the jobs in bitmask S run first, from 0.

    f[S] = min over j in S of f[S - j] + max(0, P(S) - d_j), ``last[S]`` the minimising j (the
    lowest index on ties).
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
                v = f[s ^ (1 << j)] + max(0, load[s] - d[j])
                if best < 0 or v < best:
                    best = v
                    arg = j
        f[s] = best
        last[s] = arg
    return f, last


def solve_dp(p, d) -> ExactResult:
    """Solve one instance exactly by the subset dynamic programme (n <= 22).

    Raises
    ------
    ValueError
        On a bad instance or more than ``MAX_DP_JOBS`` jobs (time and memory grow as 2**n).
    """
    t0 = time.perf_counter()
    p, d = check_instance(p, d)
    n = p.shape[0]
    if n > MAX_DP_JOBS:
        raise ValueError(f"the subset DP handles at most {MAX_DP_JOBS} jobs (2**n states), got n = {n}")
    if n == 0:
        return ExactResult(0, np.zeros(0, np.int64), "optimal", 0, time.perf_counter() - t0, 0, "dp")
    f, last = subset_dp(p, d)
    s = (1 << n) - 1
    value = int(f[s])
    order = np.empty(n, np.int64)
    for pos in range(n - 1, -1, -1):
        j = int(last[s])
        order[pos] = j
        s ^= 1 << j
    order = verified(p, d, order, value, "dp")
    return ExactResult(value, order, "optimal", value, time.perf_counter() - t0, 1 << n, "dp")


def brute_force(p, d) -> int:
    """Return the optimum by trying every permutation (pure Python; n <= 8 or so)."""
    p = [int(x) for x in p]
    d = [int(x) for x in d]
    best = None
    for perm in itertools.permutations(range(len(p))):
        t = 0
        total = 0
        for j in perm:
            t += p[j]
            total += max(0, t - d[j])
        if best is None or total < best:
            best = total
    return 0 if best is None else best
