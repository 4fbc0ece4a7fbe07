"""An iterated local search of the kind a strong code model writes: MDD start, insertion and interchange
descent, random kicks. Accurate at small n and far slower than the constructive rules."""

import random

KICKS = 4


def _total(order, p, d):
    t = s = 0
    for j in order:
        t += p[j]
        if t > d[j]:
            s += t - d[j]
    return s


def _descent(order, p, d):
    """Best-improvement over all insertions, then all pairwise interchanges, until neither helps."""
    best = _total(order, p, d)
    n = len(order)
    improved = True
    while improved:
        improved = False
        for i in range(n):
            for k in range(n):
                if i != k:
                    trial = order[:]
                    trial.insert(k, trial.pop(i))
                    v = _total(trial, p, d)
                    if v < best:
                        order, best, improved = trial, v, True
        for i in range(n - 1):
            for k in range(i + 1, n):
                trial = order[:]
                trial[i], trial[k] = trial[k], trial[i]
                v = _total(trial, p, d)
                if v < best:
                    order, best, improved = trial, v, True
    return order, best


def schedule(p, d):
    p = [int(x) for x in p]
    d = [int(x) for x in d]
    n = len(p)
    left, order, t = list(range(n)), [], 0
    while left:
        j = min(left, key=lambda j: (max(d[j], t + p[j]), j))
        left.remove(j)
        order.append(j)
        t += p[j]
    order, best = _descent(order, p, d)
    rng = random.Random(12345)
    for _ in range(KICKS if n > 1 else 0):
        trial = order[:]
        for _ in range(3):
            a, b = rng.randrange(n), rng.randrange(n)
            trial[a], trial[b] = trial[b], trial[a]
        trial, v = _descent(trial, p, d)
        if v < best:
            order, best = trial, v
    return order
