"""Subproblems of the memoised Lawler decomposition: member sets, exact keys, reductions and bounds.

Jobs are relabelled in EDD order (key d, p, id), so a job *is* its EDD index ``i``; ``rk[i]`` is
its rank by (p, EDD index) and ``jr[r]`` the job of rank ``r``. Every subproblem is a *box*
``{i : lo <= i <= hi, rmin <= rk[i] <= rmax}`` started at time ``t``: removing the longest job
(the largest rank), the shortest job (the smallest rank) or the last EDD job (the largest index),
or keeping a prefix or suffix of EDD indices, all give boxes again. Normalising ``lo, hi, rmin,
rmax`` to the actual members makes ``(lo, hi, rmin, rmax)`` identify the member set exactly, and it
packs into one int64 (``b`` bits per field, n <= 2**15); the memo pairs it with ``t``.

A box in work is held as two lists of its members: ``edl`` in EDD order and ``spl`` in SPT order
(by rank), so that bounds and reductions cost O(m) for m members.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def pack(lo, hi, rmin, rmax, b):
    """Return the int64 key of a normalised box."""
    return (((((lo << b) | hi) << b) | rmin) << b) | rmax


@njit(cache=True)
def list_key(edl, spl, m, rk, b):
    """Return the exact key of the set held in the member lists (m >= 1)."""
    return pack(edl[0], edl[m - 1], rk[spl[0]], rk[spl[m - 1]], b)


@njit(cache=True)
def collect_edd(lo, hi, rmin, rmax, t, pe, de, rk, edl):
    """Fill ``edl`` with the members of a box in EDD order; return (m, min rank, max rank, N).

    N counts the members tardy wherever they stand (d_j < t + p_j). The loops are branch-free:
    membership is random, so branches would mispredict.
    """
    m = 0
    span = np.uint64(rmax - rmin)
    for i in range(lo, hi + 1):
        edl[m] = i
        m += np.uint64(rk[i] - rmin) <= span
    r1 = rmax
    r2 = rmin
    nt = 0
    for q in range(m):
        j = edl[q]
        r = rk[j]
        r1 = min(r1, r)
        r2 = max(r2, r)
        nt += de[j] < t + pe[j]
    return m, r1, r2, nt


@njit(cache=True)
def collect_spt(m, r1, r2, rk, jr, edl, spl, rbuf):
    """Fill ``spl`` with the members listed in ``edl[:m]`` in SPT order (by rank)."""
    if r2 - r1 < 4 * m:  # dense ranks: scan them
        lo = edl[0]
        w = np.uint64(edl[m - 1] - lo)
        q = 0
        for r in range(r1, r2 + 1):
            j = jr[r]
            spl[q] = j
            q += np.uint64(j - lo) <= w
    else:
        for q in range(m):
            rbuf[q] = rk[edl[q]]
        rbuf[:m].sort()
        for q in range(m):
            spl[q] = jr[rbuf[q]]


@njit(cache=True)
def reduce_lists(edl, spl, m, t, pe, de, dead, front, back, out):
    """Apply the exact reductions to the member lists until none applies; return (m, t, cost, front).

    * shortest first: the shortest job s goes first if every other job j has d_s <= d_j or
      d_s <= t + p_j (Emmons: s precedes each j, and exchanging s with the first job never hurts);
    * last EDD job last: the job l of largest due date goes last if d_l + p_l >= t + P (moving l
      to the end costs at most t + P - d_l <= p_l and the former last job gains at least that).

    The end time t + P does not change when s goes first, and removing l (d_l >= d_s) removes
    no witness against s, so the two rules are applied in alternating runs. Sets of at most two
    jobs are left to ``small_value``. ``dead`` is a zeroed flag per job (left zeroed). When ``out``
    has entries, the fixed jobs are written there (shortest-first ones from ``front`` upwards,
    last ones from ``back`` down).
    """
    cost = 0
    end = t
    for q in range(m):
        end += pe[edl[q]]
    record = out.shape[0] > 0
    head = 0  # first live entry of spl
    tail = m  # edl[:tail] holds the live members (and dead ones)
    live = m
    removed = False
    while live > 2:
        while dead[spl[head]]:
            head += 1
        s = spl[head]
        ds = de[s]
        ok = ds <= t + pe[s]  # then d_s <= t + p_j for all j, as p_j >= p_s
        if not ok:
            ok = True
            q = 0
            while edl[q] != s:  # members after s in EDD order have d >= d_s
                j = edl[q]
                if de[j] < ds and t + pe[j] < ds and not dead[j]:
                    ok = False
                    break
                q += 1
        if ok:
            t += pe[s]
            cost += max(0, t - ds)
            dead[s] = 1
            head += 1
            live -= 1
            removed = True
            if record:
                out[front] = s
                front += 1
            continue
        again = False
        while live > 2:
            while dead[edl[tail - 1]]:
                tail -= 1
            last = edl[tail - 1]
            if de[last] + pe[last] < end:
                break
            cost += max(0, end - de[last])
            end -= pe[last]
            dead[last] = 1
            tail -= 1
            live -= 1
            removed = True
            if record:
                out[back] = last
                back -= 1
            if last == s:
                again = True
                break
        if not again:
            break
    if removed:
        q = 0
        for r in range(tail):
            j = edl[r]
            if dead[j]:
                continue
            edl[q] = j
            q += 1
        q = 0
        for r in range(m):  # every removed job is in spl: clear its flag here
            j = spl[r]
            if dead[j]:
                dead[j] = 0
                continue
            spl[q] = j
            q += 1
    return live, t, cost, front


@njit(cache=True)
def small_value(edl, m, t, pe, de):
    """Return (optimal value, 1 if the two jobs go in reverse EDD order) of a set of <= 2 jobs."""
    if m == 0:
        return 0, 0
    a = edl[0]
    if m == 1:
        return max(0, t + pe[a] - de[a]), 0
    c = edl[1]
    v1 = max(0, t + pe[a] - de[a]) + max(0, t + pe[a] + pe[c] - de[c])
    v2 = max(0, t + pe[c] - de[c]) + max(0, t + pe[a] + pe[c] - de[a])
    if v2 < v1:
        return v2, 1
    return v1, 0


@njit(cache=True)
def list_bounds(edl, spl, m, t, pe, de):
    """Return (lower bound, EDD value, SPT value, N) of the member lists started at ``t``.

    The bound matches the SPT completion times with the EDD due dates: the k-th smallest
    completion time of any sequence is at least the k-th SPT one, and max(0, C - d) pairs best
    with due dates in the same order. N counts the members tardy wherever they stand.
    """
    c_edd = t
    c_spt = t
    lb = 0
    ue = 0
    us = 0
    nt = 0
    for q in range(m):
        i = edl[q]
        j = spl[q]
        c_edd += pe[i]
        c_spt += pe[j]
        ue += max(0, c_edd - de[i])
        us += max(0, c_spt - de[j])
        lb += max(0, c_spt - de[i])
        nt += de[i] < t + pe[i]
    return lb, ue, us, nt


@njit(cache=True)
def split_bounds(edl, spl, m, a, pos, t, c, pe, de, rk, b):
    """Return (left bound, right bound, left key, right key) for ``edl[a]`` done at ``c`` after ``edl[pos]``.

    The left part is ``edl[:pos + 1]`` without ``edl[a]``, started at ``t``; the right part is
    ``edl[pos + 1:]``, started at ``c``. Bounds are the SPT/EDD matching ones; an empty part has
    bound 0 and key -1.
    """
    k = edl[a]
    split = edl[pos]
    lbl = 0
    key_l = -1
    cs = t
    r = 0
    first = -1
    last = -1
    for q in range(pos + 1):
        if q == a:
            continue
        while spl[r] > split or spl[r] == k:
            r += 1
        j = spl[r]
        if first < 0:
            first = j
        last = j
        cs += pe[j]
        lbl += max(0, cs - de[edl[q]])
        r += 1
    if first >= 0:
        lo = edl[1] if a == 0 else edl[0]
        hi = edl[pos - 1] if pos == a else split
        key_l = pack(lo, hi, rk[first], rk[last], b)
    lbr = 0
    key_r = -1
    cs = c
    r = 0
    first = -1
    for q in range(pos + 1, m):
        while spl[r] <= split:
            r += 1
        j = spl[r]
        if first < 0:
            first = j
        last = j
        cs += pe[j]
        lbr += max(0, cs - de[edl[q]])
        r += 1
    if first >= 0:
        key_r = pack(edl[pos + 1], edl[m - 1], rk[first], rk[last], b)
    return lbl, lbr, key_l, key_r


def relabel(p: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, ...]:
    """Return (perm, pe, de, rk, jr): EDD relabelling by (d, p, id) and ranks by (p, EDD index)."""
    n = p.shape[0]
    perm = np.lexsort((np.arange(n), p, d)).astype(np.int64)
    pe = np.ascontiguousarray(p[perm], dtype=np.int64)
    de = np.ascontiguousarray(d[perm], dtype=np.int64)
    jr = np.lexsort((np.arange(n), pe)).astype(np.int64)
    rk = np.empty(n, np.int64)
    rk[jr] = np.arange(n, dtype=np.int64)
    return perm, pe, de, rk, jr


def key_bits(n: int) -> int:
    """Return the bits per box field for n jobs (a box key needs 4 of them, at most 63 bits)."""
    return max(1, (n - 1).bit_length())
