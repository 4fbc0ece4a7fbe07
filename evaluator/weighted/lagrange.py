"""The Lagrangian bound of the time-indexed model of 1||Σw_jT_j, and arc elimination (numba).

The time-indexed network has nodes t = 0..T (T = Σp) and one arc per (job j, completion time t):
from t − p_j to t, of cost c[j, t] = w_j max(0, t − d_j). A schedule is a path 0 → T using every
job once. Relaxing "every job once" with multipliers μ_j leaves a shortest path in which jobs may
repeat, but (as in Abdul-Razaq & Potts 1988 and Tanaka, Fujikuma & Araki 2009) never twice in a
row: its value plus Σμ is a lower bound on the optimum, at least the LP bound of the time-indexed
model. Keeping the best and second-best label per node makes each pass O(nT).

With an upper bound UB, an arc (j, t) whose best path through it (forward + backward labels) has
Lagrangian value above UB lies on no schedule better than UB: ``eliminate`` clears it from
``alive``. A schedule's Lagrangian value equals its weighted tardiness, so the optimum's arcs stay.
"""

from __future__ import annotations

import numpy as np
from numba import njit

INF = np.inf


@njit(cache=True)
def forward(p, cost, mu, alive):
    """Return (f, m1, a1, m2, a2): f[t, j] the least Lagrangian cost of a path 0 → t ending with job j;
    per node t the best and second-best of them (values m, jobs a; node 0: the empty path)."""
    n = p.shape[0]
    horizon = cost.shape[1] - 1
    f = np.full((horizon + 1, n), INF)
    m1 = np.full(horizon + 1, INF)
    m2 = np.full(horizon + 1, INF)
    a1 = np.full(horizon + 1, -1, np.int64)
    a2 = np.full(horizon + 1, -1, np.int64)
    m1[0] = 0.0
    for t in range(1, horizon + 1):
        b1 = INF
        b2 = INF
        j1 = -1
        j2 = -1
        for j in range(n):
            s = t - p[j]
            if s < 0 or not alive[j, t]:
                continue
            prev = m1[s] if a1[s] != j else m2[s]
            if prev == INF:
                continue
            v = prev + cost[j, t] - mu[j]
            f[t, j] = v
            if v < b1:
                b2, j2 = b1, j1
                b1, j1 = v, j
            elif v < b2:
                b2, j2 = v, j
        m1[t], a1[t], m2[t], a2[t] = b1, j1, b2, j2
    return f, m1, a1, m2, a2


@njit(cache=True)
def backward(p, cost, mu, alive):
    """Return g: g[t, j] the least Lagrangian cost of a path t → T after job j ended at t."""
    n = p.shape[0]
    horizon = cost.shape[1] - 1
    g = np.full((horizon + 1, n), INF)
    g[horizon, :] = 0.0
    for t in range(horizon - 1, -1, -1):
        b1 = INF
        b2 = INF
        k1 = -1
        for k in range(n):
            s = t + p[k]
            if s > horizon or not alive[k, s] or g[s, k] == INF:
                continue
            v = cost[k, s] - mu[k] + g[s, k]
            if v < b1:
                b2 = b1
                b1, k1 = v, k
            elif v < b2:
                b2 = v
        for j in range(n):
            g[t, j] = b1 if k1 != j else b2
    return g


@njit(cache=True)
def path_jobs(p, a1, a2):
    """Return the jobs of the shortest path 0 → T in order (from the labels of ``forward``)."""
    out = np.empty(a1.shape[0], np.int64)
    k = 0
    t = a1.shape[0] - 1
    last = -1
    while t > 0:
        j = a1[t] if a1[t] != last else a2[t]
        out[k] = j
        k += 1
        last = j
        t -= p[j]
    return out[:k][::-1].copy()


@njit(cache=True)
def _relaxed(p, cost, mu, alive, dom):
    """Return (value, jobs) of the shortest relaxed path (value INF: none)."""
    if dom:
        f, pred = forward_dom(p, cost, mu, alive)
        jobs = dom_path(p, f, pred)
        return (f[-1].min() if jobs.size else INF), jobs
    _, m1, a1, _, a2 = forward(p, cost, mu, alive)
    if m1[-1] == INF:
        return INF, np.zeros(0, np.int64)
    return m1[-1], path_jobs(p, a1, a2)


def relaxed_path(p, cost, mu, alive, dom=False) -> np.ndarray:
    """Return the jobs of the shortest relaxed path under ``mu`` in order."""
    return _relaxed(p, cost, mu, alive, dom)[1]


@njit(cache=True)
def subgradient(p, cost, mu, alive, ub, iters, step, patience=30, dom=False):
    """Raise the bound by subgradient steps on ``mu`` (in place, Polyak steps towards ``ub``).

    Returns (best bound, its μ, whether the best path was a schedule, the step reached, whether it
    stopped before ``iters`` steps: converged). ``step`` is halved after ``patience`` steps without
    a better bound; ``dom``: the paths of ``forward_dom``.
    """
    n = p.shape[0]
    const = 0.0
    best = -INF
    best_mu = mu.copy()
    stall = 0
    for _ in range(iters):
        value, jobs = _relaxed(p, cost, mu, alive, dom)
        if value == INF:
            return INF, best_mu, False, step, True  # no path left: nothing beats ub
        const = mu.sum()
        bound = value + const
        counts = np.zeros(n, np.int64)
        for j in jobs:
            counts[j] += 1
        norm = 0.0
        for j in range(n):
            norm += (1 - counts[j]) ** 2
        if bound > best + 1e-9:
            best = bound
            best_mu[:] = mu
            stall = 0
        else:
            stall += 1
            if stall >= patience:
                step /= 2.0
                stall = 0
        if norm == 0.0:
            return bound, mu.copy(), True, step, True
        if step < 1e-4 or bound >= ub - 1e-6:
            return best, best_mu, False, step, True
        scale = step * (ub - bound) / norm
        for j in range(n):
            mu[j] += scale * (1 - counts[j])
    return best, best_mu, False, step, False


@njit(cache=True)
def eliminate(p, cost, mu, alive, ub, dom=False):
    """Clear every arc of ``alive`` whose best path through it has Lagrangian value above ``ub``;
    return how many arcs stay."""
    n = p.shape[0]
    horizon = cost.shape[1] - 1
    if dom:
        f, _ = forward_dom(p, cost, mu, alive)
        g = backward_dom(p, cost, mu, alive)
    else:
        f, _, _, _, _ = forward(p, cost, mu, alive)
        g = backward(p, cost, mu, alive)
    const = mu.sum()
    tol = 1e-7 * max(1.0, abs(ub))
    kept = 0
    for j in range(n):
        for t in range(horizon + 1):
            if not alive[j, t]:
                continue
            v = f[t, j] + g[t, j] + const
            if v == INF or v > ub + tol:
                alive[j, t] = False
            else:
                kept += 1
    return kept


@njit(cache=True)
def _swap_worse(cost, p, i, j, t):
    """Whether i directly before j (j completing at t) is beaten by j before i: strictly, or equally
    with i > j. Some optimal schedule has no such pair (swap them away; equal swaps sort by index)."""
    before = cost[i, t - p[j]] + cost[j, t]
    after = cost[j, t - p[i]] + cost[i, t]
    return before > after or (before == after and i > j)


@njit(cache=True)
def forward_dom(p, cost, mu, alive):
    """As ``forward``, also forbidding adjacent pairs that ``_swap_worse`` rules out (O(n²T)).

    Returns (f, pred): pred[t, j] the job before j on its best path (-1: j is first)."""
    n = p.shape[0]
    horizon = cost.shape[1] - 1
    f = np.full((horizon + 1, n), INF)
    pred = np.full((horizon + 1, n), -1, np.int64)
    live = np.empty((horizon + 1, n), np.int64)  # jobs with a finite label at each node
    nlive = np.zeros(horizon + 1, np.int64)
    for t in range(1, horizon + 1):
        for j in range(n):
            s = t - p[j]
            if s < 0 or not alive[j, t]:
                continue
            best = INF
            arg = -1
            if s == 0:
                best = 0.0
            else:
                for q in range(nlive[s]):
                    i = live[s, q]
                    if i == j or f[s, i] >= best or _swap_worse(cost, p, i, j, t):
                        continue
                    best = f[s, i]
                    arg = i
            if best == INF:
                continue
            f[t, j] = best + cost[j, t] - mu[j]
            pred[t, j] = arg
            live[t, nlive[t]] = j
            nlive[t] += 1
    return f, pred


@njit(cache=True)
def backward_dom(p, cost, mu, alive):
    """As ``backward`` with the pairs of ``_swap_worse`` forbidden (O(n²T))."""
    n = p.shape[0]
    horizon = cost.shape[1] - 1
    g = np.full((horizon + 1, n), INF)
    g[horizon, :] = 0.0
    for t in range(horizon - 1, -1, -1):
        for j in range(n):
            best = INF
            for k in range(n):
                s = t + p[k]
                if k == j or s > horizon or not alive[k, s] or g[s, k] == INF:
                    continue
                if t > 0 and _swap_worse(cost, p, j, k, s):
                    continue
                v = cost[k, s] - mu[k] + g[s, k]
                if v < best:
                    best = v
            g[t, j] = best
    return g


@njit(cache=True)
def dom_path(p, f, pred):
    """Return the jobs of the best path 0 → T of ``forward_dom`` in order (empty: none)."""
    horizon = f.shape[0] - 1
    j = np.argmin(f[horizon])
    if f[horizon, j] == INF:
        return np.zeros(0, np.int64)
    out = np.empty(horizon, np.int64)
    k = 0
    t = horizon
    while j >= 0:
        out[k] = j
        k += 1
        nxt = pred[t, j]
        t -= p[j]
        j = nxt
    return out[:k][::-1].copy()
