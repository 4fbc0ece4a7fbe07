"""Plain-Python versions of the weighted rules and objective: the yardstick of the numba ones.

Written for clarity, with Python lists and no Fenwick tree; the tie rules are those of ``rules``.
"""

from __future__ import annotations

import math
from itertools import permutations

from evaluator.weighted.rules import ATC_K, COVERT_K


def weighted_tardiness_py(p, w, d, order) -> int:
    """Return Σ w_j max(0, C_j − d_j) of ``order``; raise ValueError if it is not a permutation."""
    n = len(p)
    if sorted(int(j) for j in order) != list(range(n)):
        raise ValueError(f"order is not a permutation of 0..{n - 1}")
    return _partial(p, w, d, order)


def _partial(p, w, d, seq) -> int:
    t = total = 0
    for j in seq:
        t += int(p[j])
        total += int(w[j]) * max(0, t - int(d[j]))
    return total


def brute_force_weighted(p, w, d) -> int:
    """Return the optimal weighted tardiness by trying every order (n ≤ 8 or so)."""
    return min(_partial(p, w, d, perm) for perm in permutations(range(len(p))))


def wspt_py(p, w, d) -> list[int]:
    return sorted(range(len(p)), key=lambda j: (float(p[j]) / float(w[j]), j))


def edd_py(p, w, d) -> list[int]:
    return sorted(range(len(p)), key=lambda j: (int(d[j]), j))


def move_to_end_weighted_py(p, w, d, seq: list[int]) -> list[int]:
    """Return seq after one best strictly improving "move seq[i] to the end" (ties to the smallest i)."""
    best, best_seq = _partial(p, w, d, seq), seq
    for i in range(len(seq) - 1):
        trial = seq[:i] + seq[i + 1:] + [seq[i]]
        value = _partial(p, w, d, trial)
        if value < best:
            best, best_seq = value, trial
    return best_seq


def _wmdd_py(p, w, d, augmented: bool) -> list[int]:
    from fractions import Fraction

    left = list(range(len(p)))
    seq: list[int] = []
    t = 0
    while left:
        best = min(left, key=lambda j: (Fraction(max(int(p[j]), int(d[j]) - t), int(w[j])), j))
        left.remove(best)
        seq.append(best)
        t += int(p[best])
        if augmented:
            seq = move_to_end_weighted_py(p, w, d, seq)
    return seq


def wmdd_py(p, w, d) -> list[int]:
    return _wmdd_py(p, w, d, False)


def aug_wmdd_py(p, w, d) -> list[int]:
    return _wmdd_py(p, w, d, True)


def _index_rule_py(p, w, d, kind: str, k: float) -> list[int]:
    left = list(range(len(p)))
    order, t = [], 0
    while left:
        pbar = sum(int(p[j]) for j in left) / len(left)

        def value(j, t=t, pbar=pbar):
            slack = max(0.0, float(int(d[j]) - t - int(p[j])))
            ratio = int(w[j]) / int(p[j])
            if kind == "ATC":
                return ratio * math.exp(-slack / (k * pbar))
            return ratio * max(0.0, 1.0 - slack / (k * int(p[j])))

        best = left[0]
        for j in left[1:]:
            if value(j) > value(best) or (value(j) == value(best) and d[j] < d[best]):
                best = j
        left.remove(best)
        order.append(best)
        t += int(p[best])
    return order


def atc_py(p, w, d) -> list[int]:
    return _index_rule_py(p, w, d, "ATC", ATC_K)


def covert_py(p, w, d) -> list[int]:
    return _index_rule_py(p, w, d, "COVERT", COVERT_K)


FUNCTIONS_PY = {"WSPT": wspt_py, "EDD": edd_py, "WMDD": wmdd_py, "ATC": atc_py, "COVERT": covert_py,
                "Aug-WMDD": aug_wmdd_py}
