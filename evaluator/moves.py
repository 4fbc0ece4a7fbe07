"""Numba kernels behind ``evaluator.helpers``: tardiness of a sequence, move and swap deltas, passes.

A *sequence* is a 1-D int64 array of distinct jobs (a permutation of 0..n-1, or a partial schedule)
processed from time 0 without idle time; C_k is the completion time of *position* k and the
tardiness of position k is max(0, C_k − d[seq[k]]). Positions are indices into the sequence, jobs
are indices into p and d. ``p`` and ``d`` may be read-only; the passes write into ``seq``.

The kernels check that every job index is in range (an out-of-range index raises ValueError
instead of reading outside p or d) and that positions are in range (IndexError). They do not check
that the jobs are distinct: the wrappers in ``evaluator.helpers`` do that for plain-Python callers.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def check_jobs(p, d, seq):
    """Raise ValueError unless p and d have equal length and every entry of ``seq`` indexes them."""
    n = p.shape[0]
    if d.shape[0] != n:
        raise ValueError("p and d must have equal length")
    for k in range(seq.shape[0]):
        if seq[k] < 0 or seq[k] >= n:
            raise ValueError("the sequence holds a job index outside 0..n-1")


@njit(cache=True)
def order_problem(n, seq):
    """Return 0 if ``seq`` holds distinct jobs of 0..n-1, 1 if a job is out of range, 2 if one repeats."""
    seen = np.zeros(n, np.bool_)
    for k in range(seq.shape[0]):
        j = seq[k]
        if j < 0 or j >= n:
            return 1
        if seen[j]:
            return 2
        seen[j] = True
    return 0


@njit(cache=True)
def total_tardiness(p, d, seq):
    """Return Σ_k max(0, C_k − d[seq[k]]) over the positions of ``seq``. O(len(seq))."""
    check_jobs(p, d, seq)
    t = 0
    total = 0
    for k in range(seq.shape[0]):
        j = seq[k]
        t += p[j]
        if t > d[j]:
            total += t - d[j]
    return total


@njit(cache=True)
def completion_times(p, seq):
    """Return C_k for every position k of ``seq``. O(len(seq))."""
    check_jobs(p, p, seq)
    out = np.empty(seq.shape[0], np.int64)
    t = 0
    for k in range(seq.shape[0]):
        t += p[seq[k]]
        out[k] = t
    return out


@njit(cache=True)
def job_tardiness(p, d, seq):
    """Return max(0, C_k − d[seq[k]]) for every position k of ``seq``. O(len(seq))."""
    check_jobs(p, d, seq)
    out = np.empty(seq.shape[0], np.int64)
    t = 0
    for k in range(seq.shape[0]):
        j = seq[k]
        t += p[j]
        out[k] = t - d[j] if t > d[j] else 0
    return out


@njit(cache=True)
def _check_positions(seq, i, j):
    m = seq.shape[0]
    if i < 0 or i >= m or j < 0 or j >= m:
        raise IndexError("position outside 0..len(seq)-1")


@njit(cache=True)
def _start(p, seq, lo):
    """Return C_{lo−1} (the time position ``lo`` starts), 0 for lo = 0. O(lo)."""
    s = 0
    for k in range(lo):
        s += p[seq[k]]
    return s


@njit(cache=True)
def move_delta(p, d, seq, i, j):
    """Return ΣT after − ΣT before moving the job at position i so that it lands at position j.

    The move is ``x = seq.pop(i); seq.insert(j, x)``: for j > i the jobs at positions i+1..j shift
    one place earlier, for j < i those at j..i−1 shift one place later. O(max(i, j)): the start
    time of position min(i, j) is a prefix sum, then one walk over the positions between.
    """
    check_jobs(p, d, seq)
    _check_positions(seq, i, j)
    if i == j:
        return 0
    x = seq[i]
    px = p[x]
    if j > i:
        c = _start(p, seq, i) + px  # C_i
        before_x = max(0, c - d[x])
        delta = 0
        for k in range(i + 1, j + 1):
            y = seq[k]
            c += p[y]
            delta += max(0, c - px - d[y]) - max(0, c - d[y])
        return delta + max(0, c - d[x]) - before_x
    s = _start(p, seq, j)  # C_{j−1}: x will complete at s + px
    c = s
    delta = 0
    for k in range(j, i):
        y = seq[k]
        c += p[y]
        delta += max(0, c + px - d[y]) - max(0, c - d[y])
    return delta + max(0, s + px - d[x]) - max(0, c + px - d[x])


@njit(cache=True)
def swap_delta(p, d, seq, i, j):
    """Return ΣT after − ΣT before exchanging the jobs at positions i and j. O(max(i, j))."""
    check_jobs(p, d, seq)
    _check_positions(seq, i, j)
    if i == j:
        return 0
    if i > j:
        i, j = j, i
    s = _start(p, seq, i)
    return _swap_delta_from(p, d, seq, i, j, s)


@njit(cache=True)
def _swap_delta_from(p, d, seq, i, j, s):
    """swap_delta for i < j given s = C_{i−1}. O(j − i)."""
    a = seq[i]
    b = seq[j]
    shift = p[b] - p[a]
    delta = max(0, s + p[b] - d[b]) - max(0, s + p[a] - d[a])
    c = s + p[a]
    for k in range(i + 1, j):
        y = seq[k]
        c += p[y]
        delta += max(0, c + shift - d[y]) - max(0, c - d[y])
    c += p[b]  # C_j is the same before and after
    return delta + max(0, c - d[a]) - max(0, c - d[b])


@njit(cache=True)
def _fill_completion(p, seq, c, lo, hi):
    """Recompute c[lo..hi] (inclusive) from c[lo−1]."""
    t = c[lo - 1] if lo > 0 else 0
    for k in range(lo, hi + 1):
        t += p[seq[k]]
        c[k] = t


@njit(cache=True)
def _timed(p, d, seq):
    """Check the jobs; return (C_k of every position, ΣT)."""
    check_jobs(p, d, seq)
    m = seq.shape[0]
    c = np.empty(m, np.int64)
    total = 0
    if m > 0:
        _fill_completion(p, seq, c, 0, m - 1)
    for k in range(m):
        total += max(0, c[k] - d[seq[k]])
    return c, total


@njit(cache=True)
def insertion_pass(p, d, seq):
    """One pass of best insertion, in place; return (seq, ΣT after the pass).

    Every job is taken once, in the order the jobs have at the start of the pass. For the job at
    position i, every other position j is evaluated (``move_delta``, incrementally: O(1) per j); the
    job moves to the j of least delta if that delta is negative. Ties go to the smallest j. A
    move is applied at once, and the next job sees the new sequence. O(n²) per pass, n = len(seq).
    """
    c, total = _timed(p, d, seq)
    m = seq.shape[0]
    pos = np.empty(p.shape[0], np.int64)
    for k in range(m):
        pos[seq[k]] = k
    visit = seq.copy()
    for r in range(m):
        x = visit[r]
        i = pos[x]
        px = p[x]
        here = max(0, c[i] - d[x])
        best = 0
        best_j = -1
        acc = 0
        for j in range(i - 1, -1, -1):  # earlier targets, scanned downwards: ties go to the smaller j
            y = seq[j]
            acc += max(0, c[j] + px - d[y]) - max(0, c[j] - d[y])
            start = c[j - 1] if j > 0 else 0
            delta = acc + max(0, start + px - d[x]) - here
            if delta < 0 and delta <= best:
                best = delta
                best_j = j
        acc = 0
        for j in range(i + 1, m):  # later targets, scanned upwards: ties keep the smaller j
            y = seq[j]
            acc += max(0, c[j] - px - d[y]) - max(0, c[j] - d[y])
            delta = acc + max(0, c[j] - d[x]) - here
            if delta < best:
                best = delta
                best_j = j
        if best_j < 0:
            continue
        if best_j < i:
            for k in range(i, best_j, -1):
                seq[k] = seq[k - 1]
            lo, hi = best_j, i
        else:
            for k in range(i, best_j):
                seq[k] = seq[k + 1]
            lo, hi = i, best_j
        seq[best_j] = x
        for k in range(lo, hi + 1):
            pos[seq[k]] = k
        _fill_completion(p, seq, c, lo, hi)
        total += best
    return seq, total


@njit(cache=True)
def adjacent_swap_pass(p, d, seq):
    """One pass of adjacent interchange, in place; return (seq, ΣT after the pass).

    For k = 0, 1, ..., n−2 in turn: exchange the jobs at positions k and k+1 if that strictly
    lowers ΣT (first improvement, applied at once; a job moved to k+1 is compared with the job at
    k+2 next, so it may travel several places right in one pass). O(n) per pass.
    """
    check_jobs(p, d, seq)
    m = seq.shape[0]
    total = 0
    t = 0
    for k in range(m):
        t += p[seq[k]]
        total += max(0, t - d[seq[k]])
    s = 0  # start time of position k
    for k in range(m - 1):
        a = seq[k]
        b = seq[k + 1]
        both = s + p[a] + p[b]
        old = max(0, s + p[a] - d[a]) + max(0, both - d[b])
        new = max(0, s + p[b] - d[b]) + max(0, both - d[a])
        if new < old:
            seq[k] = b
            seq[k + 1] = a
            total += new - old
        s += p[seq[k]]
    return seq, total


@njit(cache=True)
def pairwise_swap_pass(p, d, seq):
    """One pass of pairwise interchange, in place; return (seq, ΣT after the pass).

    Position pairs (i, j), i < j, are scanned in lexicographic order (i = 0..n−2, j = i+1..n−1);
    whenever exchanging the jobs at i and j strictly lowers ΣT they are exchanged at once (first
    improvement) and the scan goes on with (i, j+1) on the new sequence. O(j − i) per pair with the
    completion times kept up to date: O(n³) per pass.
    """
    c, total = _timed(p, d, seq)
    m = seq.shape[0]
    for i in range(m - 1):
        for j in range(i + 1, m):
            s = c[i - 1] if i > 0 else 0
            delta = _swap_delta_from(p, d, seq, i, j, s)
            if delta < 0:
                a = seq[i]
                seq[i] = seq[j]
                seq[j] = a
                _fill_completion(p, seq, c, i, j - 1)
                total += delta
    return seq, total
