"""Exact 1||Σw_jT_j for n ≈ 40..100: Lagrangian bound, arc elimination, then the time-indexed MIP.

1. Upper bound: the best reference rule improved by insertion/swap descent (``local.incumbent``).
2. Lower bound: the Lagrangian relaxation of the time-indexed network (``lagrange``), raised by
   subgradient steps; every arc (j, t) that lies on no schedule better than the incumbent is
   eliminated, and the steps are repeated on the smaller network.
3. If the bound meets the incumbent, it is optimal. Otherwise the time-indexed model on the arcs
   left (x[j, t] = 1 when job j completes at t; one unit of flow 0 → T; each job once) goes to
   HiGHS with the incumbent as its start. Every schedule of value ≤ UB keeps all its arcs, so the
   model's optimum is the instance's.
"""

from __future__ import annotations

import math
import time

import highspy
import numpy as np

from evaluator.exact.mip import _new_highs
from evaluator.exact.result import ExactResult, check_instance, check_time_limit
from evaluator.weighted.kernels import weighted_tardiness
from evaluator.weighted.lagrange import eliminate, relaxed_path, subgradient
from evaluator.weighted.local import KICKS, incumbent, kick_descend, repair

ROUNDS = ((False, 3000, 150, 2.0), (False, 3000, 150, 1.0), (True, 400, 40, 1.0), (True, 400, 40, 0.5))
"""Subgradient rounds, each followed by arc elimination: (adjacent-pair dominance, steps, patience,
first step). The cheap O(nT) rounds set the multipliers; the O(n²T) ones tighten the bound."""
CHUNK = 100


def _bound(value: float) -> int:
    """The integer lower bound implied by a float bound on an integral objective."""
    return int(math.ceil(value - 1e-6 * max(1.0, abs(value))))


def _mip(p, cost, alive, order, time_limit):
    """Solve the time-indexed model on the arcs of ``alive``; return (HiGHS, arc jobs, arc times)."""
    n = p.shape[0]
    horizon = cost.shape[1] - 1
    jobs, times = np.nonzero(alive)
    m = jobs.size
    h = _new_highs()
    h.setOptionValue("threads", 1)
    h.setOptionValue("mip_rel_gap", 0.0)
    h.setOptionValue("mip_abs_gap", 0.99)  # the objective is integral
    if time_limit is not None:
        h.setOptionValue("time_limit", max(float(time_limit), 0.01))
    # rows: n jobs (= 1), then nodes 0..T: inflow − outflow = −1 at 0, +1 at T, 0 between
    lower = np.concatenate([np.ones(n), np.zeros(horizon + 1)])
    lower[n], lower[n + horizon] = -1.0, 1.0
    h.addRows(n + horizon + 1, lower, lower.copy(), 0, np.zeros(0, np.int32), np.zeros(0, np.int32),
              np.zeros(0))
    starts = np.arange(0, 3 * m, 3, dtype=np.int32)
    index = np.empty(3 * m, np.int32)
    index[0::3] = jobs
    index[1::3] = n + times
    index[2::3] = n + times - p[jobs]
    value = np.tile(np.array([1.0, 1.0, -1.0]), m)
    h.addCols(m, cost[jobs, times], np.zeros(m), np.ones(m), 3 * m, starts, index, value)
    h.changeColsIntegrality(m, np.arange(m, dtype=np.int32), np.full(m, highspy.HighsVarType.kInteger))
    start = np.zeros(m)
    where = {(int(j), int(t)): k for k, (j, t) in enumerate(zip(jobs, times, strict=True))}
    t = 0
    for j in order:
        t += int(p[j])
        k = where.get((int(j), t))
        if k is None:  # an incumbent off the canonical arcs (dominance): HiGHS starts without it
            break
        start[k] = 1.0
    else:
        sol = highspy.HighsSolution()
        sol.col_value = start.tolist()
        h.setSolution(sol)
    h.run()
    return h, jobs, times


def solve_ti(p, w, d, time_limit: float | None = None) -> ExactResult:
    """Solve one instance of 1||Σw_jT_j exactly (method ``"ti"``); see the module docstring.

    On ``time_limit`` (seconds, wall clock) the incumbent is returned with status ``"time_limit"``
    and the better of the Lagrangian and the MIP bounds. Raises ValueError on bad input.
    """
    from evaluator.weighted.exact import check_weights

    t0 = time.perf_counter()
    p, d = check_instance(p, d)
    w = check_weights(w, p)
    check_time_limit(time_limit)
    n = p.shape[0]
    if n == 0:
        return ExactResult(0, np.zeros(0, np.int64), "optimal", 0, time.perf_counter() - t0, 0, "ti")
    left = lambda: None if time_limit is None else time_limit - (time.perf_counter() - t0)  # noqa: E731
    ub, order = incumbent(p, w, d, kicks=0)
    for seed in range(KICKS // 10):  # iterated descent in chunks of 10 kicks, within the time limit
        if left() is not None and left() <= 0:
            break
        ub = int(kick_descend(p, w, d, order, 10, seed))
    horizon = int(p.sum())
    ts = np.arange(horizon + 1)
    cost = (w[:, None] * np.maximum(0, ts[None, :] - d[:, None])).astype(np.float64)
    alive = ts[None, :] >= p[:, None]
    mu = np.zeros(n)
    lb = 0
    for dom, iters, patience, step in ROUNDS:
        bound = -math.inf
        for _ in range(0, iters, CHUNK):  # in chunks, to keep to the time limit
            b, mu, _, step, converged = subgradient(p, cost, mu, alive, float(ub), CHUNK, step, patience, dom)
            bound = max(bound, b)
            if converged or (left() is not None and left() <= 0):
                break
        v, cand = repair(p, w, d, relaxed_path(p, cost, mu, alive, dom))
        if v < ub:
            ub, order = v, cand
        lb = max(lb, min(_bound(bound), ub) if math.isfinite(bound) else ub)
        if lb >= ub or (left() is not None and left() <= 0):
            break
        eliminate(p, cost, mu, alive, float(ub), dom)
    if lb >= ub:
        return _result(p, w, d, order, ub, ub, t0, 0, "")
    if left() is not None and left() <= 0:
        return _result(p, w, d, order, ub, lb, t0, 0, f"time limit of {time_limit:g} s reached")
    h, jobs, times = _mip(p, cost, alive, order, left())
    info = h.getInfo()
    if info.primal_solution_status == 2:
        x = np.asarray(h.getSolution().col_value) > 0.5
        cand = jobs[x][np.argsort(times[x], kind="stable")].astype(np.int64)
        if cand.size == n and len(set(cand.tolist())) == n:
            v = weighted_tardiness(p, w, d, cand)
            if v < ub:
                ub, order = v, cand
    status = h.getModelStatus()
    nodes = int(info.mip_node_count)
    if status == highspy.HighsModelStatus.kOptimal:
        if _bound(info.mip_dual_bound) < ub:
            raise RuntimeError(f"ti: internal error, HiGHS reports optimal with bound {info.mip_dual_bound} "
                               f"below the incumbent {ub}")
        return _result(p, w, d, order, ub, ub, t0, nodes, "")
    if status == highspy.HighsModelStatus.kInfeasible:  # no arc set beats the incumbent
        return _result(p, w, d, order, ub, ub, t0, nodes, "")
    if status != highspy.HighsModelStatus.kTimeLimit:
        raise RuntimeError(f"ti: HiGHS stopped with status {h.modelStatusToString(status)}")
    if math.isfinite(info.mip_dual_bound):
        lb = max(lb, min(_bound(info.mip_dual_bound), ub))
    return _result(p, w, d, order, ub, lb, t0, nodes, f"time limit of {time_limit:g} s reached")


def _result(p, w, d, order, value, lb, t0, nodes, message) -> ExactResult:
    order = np.ascontiguousarray(order, dtype=np.int64)
    got = weighted_tardiness(p, w, d, order)
    if got != value:
        raise RuntimeError(f"ti: internal error, the order has weighted tardiness {got}, not {value}")
    status = "optimal" if lb >= value else "time_limit"
    return ExactResult(int(value), order, status, int(min(lb, value)), time.perf_counter() - t0, nodes, "ti",
                       message)
