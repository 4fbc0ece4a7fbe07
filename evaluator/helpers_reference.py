"""Plain-Python twins of the ``evaluator.helpers`` kernels: the same algorithms on Python lists.

Each function takes p, d and an order as any sequences of ints and gives what its helper gives
(lists instead of arrays). They are what the helpers cost in plain Python (``bench/bench_helpers.py``
sets them side by side with numba); the tests check both against brute-force recomputation.
The MDD and EDD twins are the archive's reference programs (``archive/references/{mdd,edd}.py``).
"""

from __future__ import annotations


def _ints(a) -> list[int]:
    return a if type(a) is list else [int(x) for x in a]


def _lists(p, d, order, copy: bool = False) -> tuple[list[int], list[int], list[int]]:
    """Return p, d and the order as lists of ints (the order copied with ``copy``: the passes write it)."""
    return _ints(p), _ints(d), ([int(x) for x in order] if copy else _ints(order))


def completion_times_py(p, order) -> list[int]:
    """C_k of every position k; O(n)."""
    out, t = [], 0
    for j in order:
        t += int(p[j])
        out.append(t)
    return out


def job_tardiness_py(p, d, order) -> list[int]:
    """max(0, C_k − d[order[k]]) of every position k; O(n)."""
    return [max(0, c - int(d[j])) for c, j in zip(completion_times_py(p, order), order, strict=True)]


def total_tardiness_py(p, d, order) -> int:
    """ΣT of the order; O(n)."""
    return sum(job_tardiness_py(p, d, order))


def move_delta_py(p, d, order, i: int, j: int) -> int:
    """Change of ΣT of ``x = order.pop(i); order.insert(j, x)``; O(max(i, j))."""
    p, d, seq = _lists(p, d, order)
    if i == j:
        return 0
    x = seq[i]
    px, dx = p[x], d[x]
    delta = 0
    if j > i:
        c = sum(p[y] for y in seq[:i]) + px
        before = max(0, c - dx)
        for y in seq[i + 1:j + 1]:
            c += p[y]
            delta += max(0, c - px - d[y]) - max(0, c - d[y])
        return delta + max(0, c - dx) - before
    s = c = sum(p[y] for y in seq[:j])
    for y in seq[j:i]:
        c += p[y]
        delta += max(0, c + px - d[y]) - max(0, c - d[y])
    return delta + max(0, s + px - dx) - max(0, c + px - dx)


def swap_delta_py(p, d, order, i: int, j: int) -> int:
    """Change of ΣT of exchanging the jobs at positions i and j; O(max(i, j))."""
    p, d, seq = _lists(p, d, order)
    if i == j:
        return 0
    i, j = min(i, j), max(i, j)
    return _swap_delta(p, d, seq, i, j, sum(p[y] for y in seq[:i]))


def _swap_delta(p: list[int], d: list[int], seq: list[int], i: int, j: int, s: int) -> int:
    a, b = seq[i], seq[j]
    shift = p[b] - p[a]
    delta = max(0, s + p[b] - d[b]) - max(0, s + p[a] - d[a])
    c = s + p[a]
    for y in seq[i + 1:j]:
        c += p[y]
        delta += max(0, c + shift - d[y]) - max(0, c - d[y])
    c += p[b]
    return delta + max(0, c - d[a]) - max(0, c - d[b])


def insertion_pass_py(p, d, order) -> tuple[list[int], int]:
    """One pass of best insertion as ``evaluator.helpers.insertion_pass``; O(n²)."""
    p, d, seq = _lists(p, d, order, copy=True)
    c = completion_times_py(p, seq)
    total = sum(max(0, ck - d[y]) for ck, y in zip(c, seq, strict=True))
    pos = {y: k for k, y in enumerate(seq)}
    for x in list(seq):
        i, px, dx = pos[x], p[x], d[x]
        here = max(0, c[i] - dx)
        best, best_j, acc = 0, -1, 0
        for j in range(i - 1, -1, -1):
            y, cj = seq[j], c[j]
            acc += max(0, cj + px - d[y]) - max(0, cj - d[y])
            delta = acc + max(0, (c[j - 1] if j else 0) + px - dx) - here
            if delta < 0 and delta <= best:
                best, best_j = delta, j
        acc = 0
        for j in range(i + 1, len(seq)):
            y, cj = seq[j], c[j]
            acc += max(0, cj - px - d[y]) - max(0, cj - d[y])
            delta = acc + max(0, cj - dx) - here
            if delta < best:
                best, best_j = delta, j
        if best_j < 0:
            continue
        seq.insert(best_j, seq.pop(i))
        lo, hi = min(i, best_j), max(i, best_j)
        t = c[lo - 1] if lo else 0
        for k in range(lo, hi + 1):
            pos[seq[k]] = k
            t += p[seq[k]]
            c[k] = t
        total += best
    return seq, total


def adjacent_swap_pass_py(p, d, order) -> tuple[list[int], int]:
    """One pass of adjacent interchange as ``evaluator.helpers.adjacent_swap_pass``; O(n)."""
    p, d, seq = _lists(p, d, order, copy=True)
    total = total_tardiness_py(p, d, seq)
    s = 0
    for k in range(len(seq) - 1):
        a, b = seq[k], seq[k + 1]
        both = s + p[a] + p[b]
        old = max(0, s + p[a] - d[a]) + max(0, both - d[b])
        new = max(0, s + p[b] - d[b]) + max(0, both - d[a])
        if new < old:
            seq[k], seq[k + 1] = b, a
            total += new - old
        s += p[seq[k]]
    return seq, total


def pairwise_swap_pass_py(p, d, order) -> tuple[list[int], int]:
    """One pass of pairwise interchange as ``evaluator.helpers.pairwise_swap_pass``; O(n³)."""
    p, d, seq = _lists(p, d, order, copy=True)
    c = completion_times_py(p, seq)
    total = sum(max(0, ck - d[y]) for ck, y in zip(c, seq, strict=True))
    for i in range(len(seq) - 1):
        for j in range(i + 1, len(seq)):
            delta = _swap_delta(p, d, seq, i, j, c[i - 1] if i else 0)
            if delta < 0:
                seq[i], seq[j] = seq[j], seq[i]
                t = c[i - 1] if i else 0
                for k in range(i, j):
                    t += p[seq[k]]
                    c[k] = t
                total += delta
    return seq, total
