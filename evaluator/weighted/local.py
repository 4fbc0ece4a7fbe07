"""Upper bounds for 1||Σw_jT_j: the best reference rule, then a descent on insertions and swaps.

``incumbent(p, w, d)`` runs every rule of ``rules.py``, keeps the best order, and improves it by
best-improvement descent over all insertions (job at position i moved to position k) and all
pairwise swaps, until no move lowers the weighted tardiness (each pass O(n³)), then iterates it
from random three-job kicks. ``repair`` makes a schedule of a Lagrangian path the same way.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from evaluator.weighted.kernels import weighted_tardiness_kernel
from evaluator.weighted.rules import FUNCTIONS

KICKS = 100


@njit(cache=True)
def _apply_insert(order, i, k):
    job = order[i]
    if i < k:
        for m in range(i, k):
            order[m] = order[m + 1]
    else:
        for m in range(i, k, -1):
            order[m] = order[m - 1]
    order[k] = job


@njit(cache=True)
def descend(p, w, d, order):
    """Improve ``order`` in place by best-improvement insertions and swaps; return its value."""
    n = order.shape[0]
    best = weighted_tardiness_kernel(p, w, d, order)
    trial = order.copy()
    while True:
        move_val = best
        kind = -1
        bi = 0
        bk = 0
        for i in range(n):
            for k in range(n):
                if k == i:
                    continue
                trial[:] = order
                _apply_insert(trial, i, k)
                v = weighted_tardiness_kernel(p, w, d, trial)
                if v < move_val:
                    move_val, kind, bi, bk = v, 0, i, k
        for i in range(n):
            for k in range(i + 1, n):
                trial[:] = order
                trial[i], trial[k] = trial[k], trial[i]
                v = weighted_tardiness_kernel(p, w, d, trial)
                if v < move_val:
                    move_val, kind, bi, bk = v, 1, i, k
        if kind < 0:
            return best
        if kind == 0:
            _apply_insert(order, bi, bk)
        else:
            order[bi], order[bk] = order[bk], order[bi]
        best = move_val


def incumbent(p: np.ndarray, w: np.ndarray, d: np.ndarray, kicks: int = KICKS) -> tuple[int, np.ndarray]:
    """Return (value, order): the best reference rule's order after ``descend``, then ``kick_descend``."""
    best_v, best_o = -1, np.zeros(0, np.int64)
    for rule in FUNCTIONS.values():
        order = np.ascontiguousarray(rule(p, w, d), dtype=np.int64)
        v = int(descend(p, w, d, order))
        if best_v < 0 or v < best_v:
            best_v, best_o = v, order
    return int(kick_descend(p, w, d, best_o, kicks, 0)), best_o


def repair(p: np.ndarray, w: np.ndarray, d: np.ndarray, path: np.ndarray, kicks: int = KICKS // 2
           ) -> tuple[int, np.ndarray]:
    """Return (value, order) from a relaxed path (jobs may repeat or be missing): each job at its
    first visit, the missing ones after them by due date, then ``kick_descend``."""
    seen = dict.fromkeys(int(j) for j in path)
    order = np.array([*seen, *(int(j) for j in np.argsort(d, kind="stable") if int(j) not in seen)], np.int64)
    return int(kick_descend(p, w, d, order, kicks, 1)), order


@njit(cache=True)
def kick_descend(p, w, d, order, kicks, seed):
    """Iterated descent: ``kicks`` times, move three random jobs to random places and descend; keep
    the result when it is no worse. Deterministic in ``seed``; improves ``order`` in place."""
    np.random.seed(seed)
    n = order.shape[0]
    best = descend(p, w, d, order)
    trial = order.copy()
    if n < 3:
        return best
    for _ in range(kicks):
        trial[:] = order
        for _ in range(3):
            _apply_insert(trial, np.random.randint(n), np.random.randint(n))
        v = descend(p, w, d, trial)
        if v <= best:
            best = v
            order[:] = trial
    return best
