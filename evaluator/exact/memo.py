"""Memo table of solved subproblems, grouped by job set so that nearby start times give bounds.

A box (job set) is an int64 key in an open-addressing hash table (``bkeys``, linear probing,
``EMPTY`` = free). Each box owns a run of a shared pool, sorted by start time ``t``, holding the
optimal value ``V(t)`` (or only a lower bound, with decision ``LOWER``), the decision and
``N(t)``, the number of members with d_j < t + p_j (tardy wherever they stand). For a start
time t' >= t every such job is tardy and delayed by t' - t in any sequence, and no job gains, so
V(t') >= V(t) + (t' - t) N(t): a nearby solved start time gives a lower bound that is usually
within a few per cent (also when V(t) is itself only a lower bound).

``meta`` holds [pool top, boxes, entries, largest run capacity]. Running out of pool or box
slots is reported to the caller (``room``), who grows the arrays between solver slices.
"""

from __future__ import annotations

import numpy as np
from numba import njit

EMPTY = -1
NO_DEC = -(1 << 30)  # returned by ``lookup`` when a start time is not stored
LOWER = -5  # decision of an entry whose value is only a lower bound
M_TOP, M_BOXES, M_ENTRIES, M_MAXCAP = 0, 1, 2, 3
_FIRST_CAP = 4
BYTES_PER_BOX = 8 + 3 * 8
BYTES_PER_ENTRY = 8 + 8 + 8


@njit(cache=True)
def slot_of(key, mask):
    """Return the home slot of a key (a 64-bit finaliser mix, then the mask)."""
    h = np.uint64(key)
    h = (h ^ (h >> np.uint64(33))) * np.uint64(0xFF51AFD7ED558CCD)
    h = (h ^ (h >> np.uint64(33))) * np.uint64(0xC4CEB9FE1A85EC53)
    h = h ^ (h >> np.uint64(33))
    return np.int64(h & np.uint64(mask))


@njit(cache=True)
def box_slot(bkeys, box):
    """Return the slot of ``box``, or -1 if it has no entry."""
    mask = bkeys.shape[0] - 1
    s = slot_of(box, mask)
    while True:
        k = bkeys[s]
        if k == box:
            return s
        if k == EMPTY:
            return -1
        s = (s + 1) & mask


@njit(cache=True)
def _position(pt, start, count, t):
    """Return the first index in ``pt[start:start + count]`` whose time is >= t."""
    lo = start
    hi = start + count
    while lo < hi:
        mid = (lo + hi) >> 1
        if pt[mid] < t:
            lo = mid + 1
        else:
            hi = mid
    return lo


@njit(cache=True)
def lookup(bkeys, binfo, pt, pv, pdn, box, t):
    """Return (value, decision) stored for (box, t), or (0, NO_DEC) if absent."""
    s = box_slot(bkeys, box)
    if s < 0:
        return 0, NO_DEC
    start = binfo[s, 0]
    count = binfo[s, 1]
    q = _position(pt, start, count, t)
    if q < start + count and pt[q] == t:
        return pv[q], pdn[q] >> 32
    return 0, NO_DEC


@njit(cache=True)
def probe(bkeys, binfo, pt, pv, pdn, box, t):
    """Return (V(box, t), 1) if stored exactly, else (a lower bound, kind).

    kind is 2 for a stored lower bound for t itself, 0 for one from the nearest earlier start time.
    """
    s = box_slot(bkeys, box)
    if s < 0:
        return 0, 0
    start = binfo[s, 0]
    count = binfo[s, 1]
    q = _position(pt, start, count, t)
    if q < start + count and pt[q] == t:
        if (pdn[q] >> 32) == LOWER:
            return pv[q], 2
        return pv[q], 1
    if q == start:
        return 0, 0
    q -= 1
    return pv[q] + (t - pt[q]) * (pdn[q] & 0xFFFFFFFF), 0


@njit(cache=True)
def near_bound(bkeys, binfo, pt, pv, pdn, box, t):
    """Return a lower bound on V(box, t) from the nearest stored earlier start time (exact if stored)."""
    v, _ = probe(bkeys, binfo, pt, pv, pdn, box, t)
    return v


@njit(cache=True)
def room(bkeys, pt, meta):
    """Return 0 if three more stores surely fit, 1 if the box table, 2 if the pool must grow."""
    if 2 * (meta[M_BOXES] + 3) > bkeys.shape[0]:
        return 1
    if meta[M_TOP] + 3 * (2 * meta[M_MAXCAP] + _FIRST_CAP) > pt.shape[0]:
        return 2
    return 0


@njit(cache=True)
def store(bkeys, binfo, pt, pv, pdn, meta, box, t, value, dec, ntardy):
    """Store (value, decision, N) for (box, t), overwriting an entry of the same start time."""
    mask = bkeys.shape[0] - 1
    s = slot_of(box, mask)
    while bkeys[s] != box and bkeys[s] != EMPTY:
        s = (s + 1) & mask
    if bkeys[s] == EMPTY:
        bkeys[s] = box
        binfo[s, 0] = meta[M_TOP]
        binfo[s, 1] = 0
        binfo[s, 2] = _FIRST_CAP
        meta[M_TOP] += _FIRST_CAP
        meta[M_BOXES] += 1
        meta[M_MAXCAP] = max(meta[M_MAXCAP], _FIRST_CAP)
    start = binfo[s, 0]
    count = binfo[s, 1]
    q = _position(pt, start, count, t)
    packed = (dec << 32) | ntardy
    if q < start + count and pt[q] == t:
        pv[q] = value
        pdn[q] = packed
        return
    if count == binfo[s, 2]:  # move the run to a twice larger place at the top of the pool
        cap = 2 * count
        top = meta[M_TOP]
        for r in range(count):
            pt[top + r] = pt[start + r]
            pv[top + r] = pv[start + r]
            pdn[top + r] = pdn[start + r]
        q += top - start
        start = top
        binfo[s, 0] = top
        binfo[s, 2] = cap
        meta[M_TOP] = top + cap
        meta[M_MAXCAP] = max(meta[M_MAXCAP], cap)
    for r in range(start + count, q, -1):
        pt[r] = pt[r - 1]
        pv[r] = pv[r - 1]
        pdn[r] = pdn[r - 1]
    pt[q] = t
    pv[q] = value
    pdn[q] = packed
    binfo[s, 1] = count + 1
    meta[M_ENTRIES] += 1


@njit(cache=True)
def _copy(bkeys, binfo, pt, pv, pdn, nkeys, ninfo, npt, npv, npdn):
    """Copy every box into the new arrays, runs packed with capacity rounded up to a power of two."""
    mask = nkeys.shape[0] - 1
    top = 0
    maxcap = _FIRST_CAP
    for s in range(bkeys.shape[0]):
        box = bkeys[s]
        if box == EMPTY:
            continue
        count = binfo[s, 1]
        cap = _FIRST_CAP
        while cap < count:
            cap *= 2
        r = slot_of(box, mask)
        while nkeys[r] != EMPTY:
            r = (r + 1) & mask
        nkeys[r] = box
        ninfo[r, 0] = top
        ninfo[r, 1] = count
        ninfo[r, 2] = cap
        start = binfo[s, 0]
        for q in range(count):
            npt[top + q] = pt[start + q]
            npv[top + q] = pv[start + q]
            npdn[top + q] = pdn[start + q]
        top += cap
        maxcap = max(maxcap, cap)
    return top, maxcap


def new_memo(box_slots: int, pool: int) -> tuple[np.ndarray, ...]:
    """Return an empty memo (bkeys, binfo, pt, pv, pdn, meta); ``box_slots`` is a power of two."""
    if box_slots < 2 or box_slots & (box_slots - 1):
        raise ValueError(f"box_slots = {box_slots} must be a power of two of at least 2")
    return (np.full(box_slots, EMPTY, np.int64), np.zeros((box_slots, 3), np.int64),
            np.zeros(pool, np.int64), np.zeros(pool, np.int64), np.zeros(pool, np.int64),
            np.zeros(4, np.int64))


def memo_bytes(box_slots: int, pool: int) -> int:
    """Return the size in bytes of a memo with these dimensions."""
    return box_slots * BYTES_PER_BOX + pool * BYTES_PER_ENTRY


def grown(tab: tuple[np.ndarray, ...], box_slots: int, pool: int) -> tuple[np.ndarray, ...]:
    """Return a memo with the given dimensions holding the same entries (runs compacted)."""
    bkeys, binfo, pt, pv, pdn, meta = tab
    new = new_memo(box_slots, pool)
    top, maxcap = _copy(bkeys, binfo, pt, pv, pdn, *new[:5])
    new[5][:] = (top, meta[M_BOXES], meta[M_ENTRIES], maxcap)
    return new
