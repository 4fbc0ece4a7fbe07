"""Baseline heuristics for 1||ΣT_j in numba, as the study's code defines them.

Each function takes int64 arrays ``p`` and ``d`` and returns an int64 order (job indices).
Tie-breaking is stated in each docstring; "first minimum" means ties go to the earliest job
in the stated scan order. ``run_on_set`` applies one of them to a whole instance set in one call.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from evaluator.improve import move_to_end_step


@njit(cache=True)
def _lex_order(primary, secondary):
    """Return indices sorted by (primary, secondary, index): numpy's lexsort((secondary, primary))."""
    n = primary.shape[0]
    idx = np.argsort(secondary, kind="mergesort")
    out = np.empty(n, np.int64)
    sub = np.argsort(primary[idx], kind="mergesort")
    for k in range(n):
        out[k] = idx[sub[k]]
    return out


@njit(cache=True)
def edd(p, d):
    """Earliest due date: sort by d, ties by job index (stable)."""
    return np.argsort(d, kind="mergesort").astype(np.int64)


@njit(cache=True)
def spt(p, d):
    """Shortest processing time: sort by p, ties by job index (stable)."""
    return np.argsort(p, kind="mergesort").astype(np.int64)


@njit(cache=True)
def _mdd(p, d, augmented):
    n = p.shape[0]
    order = np.empty(n, np.int64)
    done = np.zeros(n, np.bool_)
    t = 0
    for k in range(n):
        best = -1
        best_val = 0
        for j in range(n):
            if done[j]:
                continue
            v = max(d[j], t + p[j])
            if best < 0 or v < best_val:
                best = j
                best_val = v
        order[k] = best
        done[best] = True
        t += p[best]
        if augmented:
            move_to_end_step(p, d, order, k + 1)
    return order


@njit(cache=True)
def mdd(p, d):
    """Modified due date (Baker & Bertrand): append the first minimum of max(d_j, t + p_j).

    The scan runs over the unscheduled jobs in index order, so ties go to the lowest index.
    """
    return _mdd(p, d, False)


@njit(cache=True)
def aug_mdd(p, d):
    """MDD with one Bean & Hall "move to end" improvement step after each append (see improve.py)."""
    return _mdd(p, d, True)


@njit(cache=True)
def _mddc(p, d, augmented):
    n = p.shape[0]
    scan = _lex_order(d, p)  # EDD order, ties by p, then index
    alive = np.ones(n, np.bool_)
    order = np.empty(n, np.int64)
    t = 0
    for k in range(n):
        pmax = 0
        psum = 0
        for s in range(n):
            j = scan[s]
            if alive[s]:
                pmax = max(pmax, p[j])
                psum += p[j]
        mean = psum / (n - k)
        best_s = -1
        best_val = 0.0
        for s in range(n):
            if not alive[s]:
                continue
            j = scan[s]
            u = max(p[j] * 1.1 + t, float(d[j]))
            rho = p[j] / (t + pmax)
            if rho > 1.0:
                rho = 1.0
            r2 = rho * rho
            u *= 1.0 + r2 / (1.0 + r2)
            u += p[j] / (t + mean)
            if best_s < 0 or u < best_val:
                best_s = s
                best_val = u
        alive[best_s] = False
        job = scan[best_s]
        order[k] = job
        t += p[job]
        if augmented:
            move_to_end_step(p, d, order, k + 1)
    return order


@njit(cache=True)
def mddc(p, d):
    """The study's MDD Challenger: append the first minimum of μ_j in EDD order (ties by p, index).

    μ_j = max(1.1·p_j + t, d_j)·(1 + ρ²/(1+ρ²)) + p_j/(t + mean_U p), with ρ = p_j/(t + max_U p),
    evaluated in float64 in the same operation order as the study's numpy code.
    """
    return _mddc(p, d, False)


@njit(cache=True)
def aug_mddc(p, d):
    """MDDC with one "move to end" improvement step after each append."""
    return _mddc(p, d, True)


@njit(cache=True)
def eddc(p, d):
    """The study's EDD Challenger, as its code runs.

    Start from the order sorted by p, ties by d then index. For i = 1..n−1 walk j from i down:
    while d[S[j]] < d[S[j−1]], swap S[j] and S[j−1] if d[S[j−1]] exceeds the completion time of
    position j−1 (Σp over positions 0..j−1), then step j ← j−1 whether or not it swapped.
    """
    n = p.shape[0]
    s = _lex_order(p, d)
    if n == 0:
        return s
    upto = p[s[0]]  # Σ p over positions 0..i−1; iteration i only permutes positions 0..i
    for i in range(1, n):
        entering = s[i]
        avail = upto
        j = i
        while j > 0 and d[s[j]] < d[s[j - 1]]:
            prev = s[j - 1]
            if d[prev] > avail:
                s[j - 1] = s[j]
                s[j] = prev
            avail -= p[prev]
            j -= 1
        upto += p[entering]
    return s


@njit(cache=True)
def psk(p, d):
    """Panwalkar–Smith–Koulamas, as the study coded it.

    U is kept in SPT order (ties by d, then index). With one job left, schedule it. Let i be the
    first job of U; if t + p_i ≥ d_i schedule i. Otherwise scan the following jobs j in order: if
    d_i ≤ t + p_j schedule i; else if d_i ≤ d_j go on (schedule i if j was the last); else j becomes
    the new i and the scan goes on (schedule it if it was the last).
    """
    n = p.shape[0]
    u = _lex_order(p, d)
    m = n
    order = np.empty(n, np.int64)
    t = 0
    for k in range(n):
        pos = 0
        if m > 1 and t + p[u[0]] < d[u[0]]:
            i = 0
            for jj in range(1, m):
                if d[u[i]] <= t + p[u[jj]]:
                    break
                if d[u[i]] > d[u[jj]]:
                    i = jj
            pos = i
        job = u[pos]
        order[k] = job
        t += p[job]
        for q in range(pos, m - 1):
            u[q] = u[q + 1]
        m -= 1
    return order


@njit(cache=True)
def wilkerson_irwin(p, d):
    """Wilkerson–Irwin: EDD pivoting with pairwise checks and backtracking (Baker & Trietsch's form).

    Jobs are taken in EDD order (ties by p, then index). The pivot α is compared with the next
    job β: α goes first if p_α ≤ p_β or t + max(p_α, p_β) ≤ max(d_α, d_β); then α is fixed and β
    becomes the pivot. Otherwise β goes ahead of α, and is compared backwards with the last fixed
    jobs γ by the same rule, unfixing each γ that β should precede; β is then fixed.
    """
    n = p.shape[0]
    u = _lex_order(d, p)
    fixed = np.empty(n, np.int64)
    nf = 0
    t = 0
    alpha = u[0]
    for k in range(1, n):
        beta = u[k]
        if p[alpha] <= p[beta] or t + max(p[alpha], p[beta]) <= max(d[alpha], d[beta]):
            fixed[nf] = alpha
            nf += 1
            t += p[alpha]
            alpha = beta
            continue
        # β precedes α: find its place among the fixed jobs, from the end
        pos = nf
        tb = t
        while pos > 0:
            g = fixed[pos - 1]
            tg = tb - p[g]
            if p[g] <= p[beta] or tg + max(p[g], p[beta]) <= max(d[g], d[beta]):
                break
            pos -= 1
            tb = tg
        for q in range(nf, pos, -1):
            fixed[q] = fixed[q - 1]
        fixed[pos] = beta
        nf += 1
        t += p[beta]
    fixed[nf] = alpha
    return fixed


@njit(cache=True)
def _index_pick(p, d, kind, k_param):
    n = p.shape[0]
    order = np.empty(n, np.int64)
    done = np.zeros(n, np.bool_)
    t = 0
    for step in range(n):
        pbar = 0.0
        for j in range(n):
            if not done[j]:
                pbar += p[j]
        pbar /= n - step
        best = -1
        best_val = 0.0
        for j in range(n):
            if done[j]:
                continue
            slack = max(0.0, float(d[j] - t - p[j]))
            if kind == 0:  # ATC
                v = math.exp(-slack / (k_param * pbar)) / p[j]
            else:  # COVERT
                v = max(0.0, 1.0 - slack / (k_param * p[j])) / p[j]
            if best < 0 or v > best_val or (v == best_val and d[j] < d[best]):
                best = j
                best_val = v
        order[step] = best
        done[best] = True
        t += p[best]
    return order


@njit(cache=True)
def atc(p, d):
    """Apparent tardiness cost (Vepsalainen & Morton), k = 2: pick the max of exp(−slack⁺/(k·p̄))/p_j.

    p̄ is the mean processing time of the unscheduled jobs; ties go to the earliest due date,
    then the lowest index.
    """
    return _index_pick(p, d, 0, 2.0)


@njit(cache=True)
def covert(p, d):
    """COVERT (Carroll), k = 2: pick the max of max(0, 1 − slack⁺/(k·p_j))/p_j; ties as ATC."""
    return _index_pick(p, d, 1, 2.0)


NAMES = ("EDD", "SPT", "MDD", "PSK", "EDDC", "MDDC", "Aug-MDD", "Aug-MDDC", "WI", "COVERT", "ATC")
FUNCTIONS = {
    "EDD": edd, "SPT": spt, "MDD": mdd, "PSK": psk, "EDDC": eddc, "MDDC": mddc, "Aug-MDD": aug_mdd,
    "Aug-MDDC": aug_mddc, "WI": wilkerson_irwin, "COVERT": covert, "ATC": atc,
}


@njit(cache=True)
def _dispatch(which, p, d):
    if which == 0:
        return edd(p, d)
    if which == 1:
        return spt(p, d)
    if which == 2:
        return mdd(p, d)
    if which == 3:
        return psk(p, d)
    if which == 4:
        return eddc(p, d)
    if which == 5:
        return mddc(p, d)
    if which == 6:
        return aug_mdd(p, d)
    if which == 7:
        return aug_mddc(p, d)
    if which == 8:
        return wilkerson_irwin(p, d)
    if which == 9:
        return covert(p, d)
    return atc(p, d)


@njit(cache=True)
def _run_batch(which, p, d, offsets):
    out = np.empty_like(p)
    for i in range(offsets.shape[0] - 1):
        a = offsets[i]
        b = offsets[i + 1]
        out[a:b] = _dispatch(which, p[a:b], d[a:b])
    return out


def run_on_set(name: str, iset) -> np.ndarray:
    """Return the flat orders of heuristic ``name`` on every instance of ``iset`` (one kernel call)."""
    if name not in FUNCTIONS:
        raise KeyError(f"unknown heuristic {name!r}; known: {', '.join(NAMES)}")
    return _run_batch(NAMES.index(name), iset.p, iset.d, iset.offsets)
