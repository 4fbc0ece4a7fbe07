"""The local-improvement passes the offline stand-in writes into programs, as plain-Python source.

Each pass takes ``(order, p, d)`` with plain int lists, returns an order that is never worse, and
computes tardiness itself (candidates may not import the evaluator). The sources are written out
verbatim into generated programs, so they stay short, allowlist-only and O(n²) per sweep.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Pass:
    """A pass: the function name it defines, a phrase for prose, and its source."""

    function: str
    phrase: str
    source: str


PASSES = {
    "interchange": Pass("_pass_adjacent_interchange", "adjacent pairwise interchanges", '''
def _pass_adjacent_interchange(order, p, d):
    """Swap adjacent jobs while that lowers total tardiness."""
    improved = True
    while improved:
        improved = False
        t = 0
        for i in range(len(order) - 1):
            a, b = order[i], order[i + 1]
            ab = max(0, t + p[a] - d[a]) + max(0, t + p[a] + p[b] - d[b])
            ba = max(0, t + p[b] - d[b]) + max(0, t + p[b] + p[a] - d[a])
            if ba < ab:
                order[i], order[i + 1] = b, a
                improved = True
            t += p[order[i]]
    return order
'''),
    "move_to_end": Pass("_pass_move_to_end", "move-to-end moves", '''
def _total_tardiness_of(order, p, d):
    t = total = 0
    for j in order:
        t += p[j]
        if t > d[j]:
            total += t - d[j]
    return total


def _pass_move_to_end(order, p, d):
    """Move a job to the end of the sequence whenever that lowers total tardiness."""
    best = _total_tardiness_of(order, p, d)
    i = steps = 0
    while i < len(order) - 1 and steps < 2 * len(order):
        steps += 1
        trial = order[:i] + order[i + 1:] + [order[i]]
        value = _total_tardiness_of(trial, p, d)
        if value < best:
            order, best = trial, value
        else:
            i += 1
    return order
'''),
    "insertion": Pass("_pass_insertion", "best single-job insertions", '''
def _pass_insertion(order, p, d):
    """Move single jobs to the position that lowers total tardiness most, until no move helps."""
    n = len(order)
    start = [0] * (n + 1)
    moved, sweeps = True, 0
    while moved and sweeps < 3:
        moved, sweeps, stale = False, sweeps + 1, True
        for k in range(n):
            if stale:
                for i in range(n):
                    start[i + 1] = start[i] + p[order[i]]
                stale = False
            job = order[k]
            pk, dk = p[job], d[job]
            here = max(0, start[k + 1] - dk)
            best, target, shift = 0, k, 0
            for i in range(k - 1, -1, -1):  # earlier: the jobs at i..k-1 finish pk later
                c, dj = start[i + 1], d[order[i]]
                if c + pk > dj:
                    shift += pk if c >= dj else c + pk - dj
                if shift - here >= best:
                    break  # the shift only grows from here on
                late = start[i] + pk - dk
                if shift + (late if late > 0 else 0) - here < best:
                    best, target = shift + (late if late > 0 else 0) - here, i
            shift = 0
            for i in range(k + 1, n):  # later: the jobs at k+1..i finish pk earlier
                c, dj = start[i + 1], d[order[i]]
                if c > dj:
                    shift -= pk if c - pk >= dj else c - dj
                if shift + (c - dk if c > dk else 0) - here < best:
                    best, target = shift + (c - dk if c > dk else 0) - here, i
            if target != k:
                order.insert(target, order.pop(k))
                moved = stale = True
    return order
'''),
}

WEIGHTED_PASSES = {  # the same passes on the weighted objective, for a weighted task's (p, w, d) programs
    "interchange_w": Pass("_pass_adjacent_interchange_w", "weighted adjacent pairwise interchanges", '''
def _pass_adjacent_interchange_w(order, p, w, d):
    """Swap adjacent jobs while that lowers total weighted tardiness."""
    improved = True
    while improved:
        improved = False
        t = 0
        for i in range(len(order) - 1):
            a, b = order[i], order[i + 1]
            ab = w[a] * max(0, t + p[a] - d[a]) + w[b] * max(0, t + p[a] + p[b] - d[b])
            ba = w[b] * max(0, t + p[b] - d[b]) + w[a] * max(0, t + p[b] + p[a] - d[a])
            if ba < ab:
                order[i], order[i + 1] = b, a
                improved = True
            t += p[order[i]]
    return order
'''),
    "insertion_w": Pass("_pass_insertion_w", "best single-job insertions on the weighted objective", '''
def _pass_insertion_w(order, p, w, d):
    """Move single jobs to the position that lowers total weighted tardiness most, until no move helps."""
    n = len(order)
    start = [0] * (n + 1)
    moved, sweeps = True, 0
    while moved and sweeps < 3:
        moved, sweeps, stale = False, sweeps + 1, True
        for k in range(n):
            if stale:
                for i in range(n):
                    start[i + 1] = start[i] + p[order[i]]
                stale = False
            job = order[k]
            pk, dk, wk = p[job], d[job], w[job]
            here = wk * max(0, start[k + 1] - dk)
            best, target, shift = 0, k, 0
            for i in range(k - 1, -1, -1):  # earlier: the jobs at i..k-1 finish pk later
                c, dj = start[i + 1], d[order[i]]
                if c + pk > dj:
                    shift += w[order[i]] * (pk if c >= dj else c + pk - dj)
                if shift - here >= best:
                    break  # the shift only grows from here on
                late = start[i] + pk - dk
                gain = shift + (wk * late if late > 0 else 0) - here
                if gain < best:
                    best, target = gain, i
            shift = 0
            for i in range(k + 1, n):  # later: the jobs at k+1..i finish pk earlier
                c, dj = start[i + 1], d[order[i]]
                if c > dj:
                    shift -= w[order[i]] * (pk if c - pk >= dj else c - dj)
                gain = shift + (wk * (c - dk) if c > dk else 0) - here
                if gain < best:
                    best, target = gain, i
            if target != k:
                order.insert(target, order.pop(k))
                moved = stale = True
    return order
'''),
    "move_to_end_w": Pass("_pass_move_to_end_w", "weighted move-to-end moves", '''
def _weighted_tardiness_of(order, p, w, d):
    t = total = 0
    for j in order:
        t += p[j]
        if t > d[j]:
            total += w[j] * (t - d[j])
    return total


def _pass_move_to_end_w(order, p, w, d):
    """Move a job to the end of the sequence whenever that lowers total weighted tardiness."""
    best = _weighted_tardiness_of(order, p, w, d)
    i = steps = 0
    while i < len(order) - 1 and steps < 2 * len(order):
        steps += 1
        trial = order[:i] + order[i + 1:] + [order[i]]
        value = _weighted_tardiness_of(trial, p, w, d)
        if value < best:
            order, best = trial, value
        else:
            i += 1
    return order
'''),
}
