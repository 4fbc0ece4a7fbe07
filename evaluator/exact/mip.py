"""The positional MIP of Keha, Khowala & Fowler (2009) for 1||ΣT_j, solved with HiGHS.

Variables: u[j, k] = 1 when job j is in position k; c[k] the completion time of position k;
C[j] the completion time of job j; T[j] its tardiness. Constraints::

    sum_k u[j, k] = 1,  sum_j u[j, k] = 1
    c[k] = c[k-1] + sum_j p[j] u[j, k]               (c[-1] = 0)
    C[j] >= c[k] - M (1 - u[j, k])                    (M = sum of p)
    T[j] >= C[j] - d[j],  T[j] >= 0
    minimise sum_j T[j]

The optional valid inequality c[k] >= (sum of the k shortest processing times) is set as a lower
bound on c[k]. This is the model of the study's exact-method comparison, kept as an independent
check of the decomposition solver on small instances.
"""

from __future__ import annotations

import math
import os
import sys
import time

import highspy
import numpy as np

from evaluator.exact.result import ExactResult, check_instance, check_time_limit, verified
from evaluator.kernels import total_tardiness
from evaluator.weighted.kernels import weighted_tardiness

_banner_shown = False


def _new_highs() -> highspy.Highs:
    """Return a silent HiGHS instance (the first one of a process prints a banner on stdout)."""
    global _banner_shown
    if _banner_shown:
        h = highspy.Highs()
    else:  # keep stdout clean for --json output
        sys.stdout.flush()
        saved = os.dup(1)
        try:
            with open(os.devnull, "w") as null:
                os.dup2(null.fileno(), 1)
                h = highspy.Highs()
        finally:
            os.dup2(saved, 1)
            os.close(saved)
        _banner_shown = True
    h.setOptionValue("output_flag", False)
    return h


def _build(p: np.ndarray, d: np.ndarray, spt_cuts: bool, w: np.ndarray | None = None
           ) -> tuple[highspy.Highs, int]:
    """Return a HiGHS model of the instance and the number of u variables (weights ``w``: Σ w_j T_j)."""
    n = p.shape[0]
    big_m = float(p.sum())
    nu = n * n
    ic, icj, it = nu, nu + n, nu + 2 * n  # first index of c, C, T
    ncol = nu + 3 * n
    lower = np.zeros(ncol)
    upper = np.full(ncol, highspy.kHighsInf)
    upper[:nu] = 1.0
    if spt_cuts:
        lower[ic:ic + n] = np.cumsum(np.sort(p))
    cost = np.zeros(ncol)
    cost[it:] = 1.0 if w is None else w.astype(float)
    h = _new_highs()
    h.setOptionValue("threads", 1)
    h.setOptionValue("mip_rel_gap", 0.0)
    h.setOptionValue("mip_abs_gap", 0.5)  # the objective is integral
    h.addVars(ncol, lower, upper)
    h.changeColsCost(ncol, np.arange(ncol, dtype=np.int32), cost)
    h.changeColsIntegrality(nu, np.arange(nu, dtype=np.int32), np.full(nu, highspy.HighsVarType.kInteger))
    rows: list[tuple[float, float, list[int], list[float]]] = []
    jobs = np.arange(n)
    for j in range(n):
        rows.append((1.0, 1.0, list(j * n + jobs), [1.0] * n))
    for k in range(n):
        rows.append((1.0, 1.0, list(jobs * n + k), [1.0] * n))
    for k in range(n):
        idx = [ic + k] + ([ic + k - 1] if k else []) + list(jobs * n + k)
        val = [1.0] + ([-1.0] if k else []) + list(-p.astype(float))
        rows.append((0.0, 0.0, idx, val))
    for j in range(n):
        for k in range(n):
            rows.append((-big_m, highspy.kHighsInf, [icj + j, ic + k, j * n + k], [1.0, -1.0, -big_m]))
    for j in range(n):
        rows.append((-float(d[j]), highspy.kHighsInf, [it + j, icj + j], [1.0, -1.0]))
    starts = np.cumsum([0] + [len(r[2]) for r in rows[:-1]]).astype(np.int32)
    index = np.array([i for r in rows for i in r[2]], dtype=np.int32)
    value = np.array([v for r in rows for v in r[3]], dtype=np.float64)
    h.addRows(len(rows), np.array([r[0] for r in rows]), np.array([r[1] for r in rows]),
              len(index), starts, index, value)
    return h, nu


def solve_mip(p, d, time_limit: float | None = None, spt_cuts: bool = True, w=None) -> ExactResult:
    """Solve one instance with the positional MIP (HiGHS, one thread).

    With weights ``w`` (positive integers) the objective is Σ w_j T_j (1||Σw_jT_j) and every value,
    bound and check below is of the weighted tardiness.

    Parameters
    ----------
    p, d
        Processing times (positive integers) and due dates (integers).
    time_limit
        Seconds for HiGHS; on expiry the best sequence found is returned with status ``"time_limit"``
        (EDD when HiGHS found none) and the MIP dual bound as ``lower_bound``.
    spt_cuts
        Add the SPT-based valid inequality on position completion times.

    Raises
    ------
    ValueError
        On a bad instance or a non-positive time limit.
    """
    t0 = time.perf_counter()
    p, d = check_instance(p, d)
    check_time_limit(time_limit)
    if w is not None:
        from evaluator.weighted.exact import check_weights

        w = check_weights(w, p)
    objective = total_tardiness if w is None else (lambda p, d, order: weighted_tardiness(p, w, d, order))
    n = p.shape[0]
    if n == 0:
        return ExactResult(0, np.zeros(0, np.int64), "optimal", 0, time.perf_counter() - t0, 0, "mip")
    h, nu = _build(p, d, spt_cuts, w)
    if time_limit is not None:
        h.setOptionValue("time_limit", float(time_limit))
    h.run()
    status = h.getModelStatus()
    info = h.getInfo()
    order = None
    if info.primal_solution_status == 2:  # a feasible solution exists
        u = np.asarray(h.getSolution().col_value[:nu]).reshape(n, n)
        order = np.argsort(np.argmax(u, axis=1), kind="stable").astype(np.int64)
        if len(set(np.argmax(u, axis=1).tolist())) != n:
            order = None
    if order is None:
        order = np.argsort(d, kind="stable").astype(np.int64)
    value = objective(p, d, order)
    nodes = int(info.mip_node_count)
    if status == highspy.HighsModelStatus.kOptimal:
        bound = math.ceil(info.mip_dual_bound - 1e-6)
        if value != round(info.objective_function_value) or bound < value:
            raise RuntimeError(f"mip: internal error, HiGHS reports {info.objective_function_value} with "
                               f"bound {info.mip_dual_bound} but its sequence has tardiness {value}")
        order = verified(p, d, order, value, "mip") if w is None else order
        return ExactResult(value, order, "optimal", value, time.perf_counter() - t0, nodes, "mip")
    if status != highspy.HighsModelStatus.kTimeLimit:
        raise RuntimeError(f"mip: HiGHS stopped with status {h.modelStatusToString(status)}")
    bound = max(0, math.ceil(info.mip_dual_bound - 1e-6)) if math.isfinite(info.mip_dual_bound) else 0
    order = verified(p, d, order, value, "mip") if w is None else order
    return ExactResult(value, order, "time_limit", min(bound, value), time.perf_counter() - t0, nodes, "mip",
                       f"time limit of {time_limit:g} s reached")
