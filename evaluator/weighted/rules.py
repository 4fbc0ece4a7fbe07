"""Reference rules for 1||Σw_jT_j in numba; ``reference.py`` holds the same rules in plain Python.

Each takes int64 arrays ``p``, ``w``, ``d`` and returns an int64 order. Ties are stated per rule;
"lowest index" means the scan over unscheduled jobs in index order keeps the first best.

* WSPT (Smith's rule): p_j/w_j ascending, ties by index. Optimal when all jobs are late.
* EDD: d_j ascending, ties by index.
* WMDD (Kanet & Li 2004): append the job of least max(p_j, d_j − t)/w_j (compared exactly in
  integers, by cross-multiplication), ties by lowest index. With w = 1 it orders as MDD.
* ATC (Vepsalainen & Morton 1987): append the job of greatest
  (w_j/p_j)·exp(−max(0, d_j − p_j − t)/(k·p̄)), p̄ the mean p of the unscheduled jobs,
  k = ``ATC_K`` = 2 (Vepsalainen & Morton's recommended look-ahead for tight due dates, and the
  value evaluator.heuristics uses for the unweighted ATC). Ties: earliest d, then lowest index.
* COVERT (Carroll 1965, in the form of Vepsalainen & Morton 1987): greatest
  (w_j/p_j)·max(0, 1 − max(0, d_j − p_j − t)/(k·p_j)), k = ``COVERT_K`` = 2; ties as ATC.
* Aug-WMDD: WMDD with one weighted "move to end" step after each append (``move_to_end_weighted``),
  as Aug-MDD does for ΣT_j.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

ATC_K = 2.0
COVERT_K = 2.0


@njit(cache=True)
def wspt(p, w, d):
    """Weighted shortest processing time: p_j/w_j ascending, ties by index (stable)."""
    return np.argsort(p / w, kind="mergesort").astype(np.int64)


@njit(cache=True)
def edd(p, w, d):
    """Earliest due date: d_j ascending, ties by index (stable)."""
    return np.argsort(d, kind="mergesort").astype(np.int64)


@njit(cache=True)
def move_to_end_weighted(p, w, d, order, m):
    """Apply one best strictly improving "move order[i] to the end" to ``order[:m]``; True if moved.

    As ``evaluator.improve.move_to_end_step`` with weights: trial i is worth
    Σ_{k<i} w_k L_k⁺ + Σ_{k>i} w_k (L_k − p_i)⁺ + w_i (C_last − d_i)⁺, with the middle sum from a
    Fenwick tree of weights and weighted lateness over the sorted lateness values. Ties go to the
    smallest i.
    """
    if m < 2:
        return False
    late = np.empty(m, np.int64)
    t = 0
    total = 0
    for k in range(m):
        t += p[order[k]]
        late[k] = t - d[order[k]]
        if late[k] > 0:
            total += w[order[k]] * late[k]
    c_last = t
    srt = np.sort(late)
    cw = np.zeros(m + 1, np.int64)
    sm = np.zeros(m + 1, np.int64)
    ins_w = 0
    ins_sum = 0
    prefix = np.empty(m, np.int64)
    acc = 0
    for k in range(m):
        prefix[k] = acc
        if late[k] > 0:
            acc += w[order[k]] * late[k]
    best_i = -1
    best_val = total
    for i in range(m - 2, -1, -1):
        v = late[i + 1]
        wk = w[order[i + 1]]
        r = np.searchsorted(srt, v, side="left") + 1
        while r <= m:
            cw[r] += wk
            sm[r] += wk * v
            r += r & (-r)
        ins_w += wk
        ins_sum += wk * v
        x = p[order[i]]
        r = np.searchsorted(srt, x, side="right")
        w_le = 0
        s_le = 0
        while r > 0:
            w_le += cw[r]
            s_le += sm[r]
            r -= r & (-r)
        tail = (ins_sum - s_le) - x * (ins_w - w_le)
        own = c_last - d[order[i]]
        trial = prefix[i] + tail + (w[order[i]] * own if own > 0 else 0)
        if trial <= best_val and trial < total:
            best_val = trial
            best_i = i
    if best_i < 0:
        return False
    job = order[best_i]
    for k in range(best_i, m - 1):
        order[k] = order[k + 1]
    order[m - 1] = job
    return True


@njit(cache=True)
def _wmdd(p, w, d, augmented):
    n = p.shape[0]
    order = np.empty(n, np.int64)
    done = np.zeros(n, np.bool_)
    t = 0
    for k in range(n):
        best = -1
        best_num = 0
        for j in range(n):
            if done[j]:
                continue
            num = max(p[j], d[j] - t)
            if best < 0 or num * w[best] < best_num * w[j]:
                best = j
                best_num = num
        order[k] = best
        done[best] = True
        t += p[best]
        if augmented:
            move_to_end_weighted(p, w, d, order, k + 1)
    return order


@njit(cache=True)
def wmdd(p, w, d):
    """Weighted modified due date: least max(p_j, d_j − t)/w_j, ties by lowest index."""
    return _wmdd(p, w, d, False)


@njit(cache=True)
def aug_wmdd(p, w, d):
    """WMDD with one weighted "move to end" step after each append."""
    return _wmdd(p, w, d, True)


@njit(cache=True)
def _index_rule(p, w, d, kind, k_param):
    n = p.shape[0]
    order = np.empty(n, np.int64)
    done = np.zeros(n, np.bool_)
    t = 0
    for step in range(n):
        psum = 0
        for j in range(n):
            if not done[j]:
                psum += p[j]
        pbar = psum / (n - step)
        best = -1
        best_val = 0.0
        for j in range(n):
            if done[j]:
                continue
            slack = max(0.0, float(d[j] - t - p[j]))
            if kind == 0:
                v = (w[j] / p[j]) * math.exp(-slack / (k_param * pbar))
            else:
                v = (w[j] / p[j]) * max(0.0, 1.0 - slack / (k_param * p[j]))
            if best < 0 or v > best_val or (v == best_val and d[j] < d[best]):
                best = j
                best_val = v
        order[step] = best
        done[best] = True
        t += p[best]
    return order


@njit(cache=True)
def atc(p, w, d):
    """Apparent tardiness cost with k = ATC_K; ties by earliest due date, then lowest index."""
    return _index_rule(p, w, d, 0, ATC_K)


@njit(cache=True)
def covert(p, w, d):
    """COVERT with k = COVERT_K; ties by earliest due date, then lowest index."""
    return _index_rule(p, w, d, 1, COVERT_K)


NAMES = ("WSPT", "EDD", "WMDD", "ATC", "COVERT", "Aug-WMDD")
FUNCTIONS = {"WSPT": wspt, "EDD": edd, "WMDD": wmdd, "ATC": atc, "COVERT": covert, "Aug-WMDD": aug_wmdd}


@njit(cache=True)
def _dispatch(which, p, w, d):
    if which == 0:
        return wspt(p, w, d)
    if which == 1:
        return edd(p, w, d)
    if which == 2:
        return wmdd(p, w, d)
    if which == 3:
        return atc(p, w, d)
    if which == 4:
        return covert(p, w, d)
    return aug_wmdd(p, w, d)


@njit(cache=True)
def _run_batch(which, p, w, d, offsets):
    out = np.empty_like(p)
    for i in range(offsets.shape[0] - 1):
        a = offsets[i]
        b = offsets[i + 1]
        out[a:b] = _dispatch(which, p[a:b], w[a:b], d[a:b])
    return out


def run_on_set(name: str, wset) -> np.ndarray:
    """Return the flat orders of rule ``name`` on every instance of ``wset`` (one kernel call)."""
    if name not in FUNCTIONS:
        raise KeyError(f"unknown weighted rule {name!r}; known: {', '.join(NAMES)}")
    return _run_batch(NAMES.index(name), wset.p, wset.w, wset.d, wset.offsets)
