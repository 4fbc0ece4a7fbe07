"""Plain-Python references for the kernels, kept deliberately simple: the tests' yardstick."""

from __future__ import annotations

from itertools import permutations


def total_tardiness_py(p, d, order) -> int:
    """Return Σ max(0, C_j − d_j) of ``order``; raise ValueError if it is not a permutation."""
    n = len(p)
    if sorted(int(j) for j in order) != list(range(n)):
        raise ValueError(f"order is not a permutation of 0..{n - 1}")
    t = 0
    total = 0
    for j in order:
        t += int(p[j])
        total += max(0, t - int(d[j]))
    return total


def brute_force_optimum(p, d) -> int:
    """Return the optimal total tardiness by trying every order (n ≤ 8 or so)."""
    n = len(p)
    return min(total_tardiness_py(p, d, perm) for perm in permutations(range(n)))


def move_to_end_step_py(p, d, seq: list[int]) -> list[int]:
    """Return seq after one best strictly improving "move seq[i] to the end" (ties to the smallest i)."""
    best, best_seq = _partial(p, d, seq), seq
    for i in range(len(seq) - 1):
        trial = seq[:i] + seq[i + 1:] + [seq[i]]
        value = _partial(p, d, trial)
        if value < best:
            best, best_seq = value, trial
    return best_seq


def _partial(p, d, seq) -> int:
    t = total = 0
    for j in seq:
        t += int(p[j])
        total += max(0, t - int(d[j]))
    return total


def index_rule_py(p, d, kind: str, k: float = 2.0) -> list[int]:
    """ATC or COVERT dispatching: pick the max index at each step (ties: earliest due date, lowest index)."""
    import math

    left = list(range(len(p)))
    order, t = [], 0
    while left:
        pbar = sum(int(p[j]) for j in left) / len(left)

        def value(j, t=t, pbar=pbar):
            slack = max(0.0, float(d[j] - t - p[j]))
            if kind == "ATC":
                return math.exp(-slack / (k * pbar)) / p[j]
            return max(0.0, 1.0 - slack / (k * p[j])) / p[j]

        best = left[0]
        for j in left[1:]:
            if value(j) > value(best) or (value(j) == value(best) and d[j] < d[best]):
                best = j
        left.remove(best)
        order.append(best)
        t += int(p[best])
    return order


def wilkerson_irwin_py(p, d) -> list[int]:
    """Wilkerson–Irwin as documented in evaluator.heuristics, written with Python lists."""
    jobs = sorted(range(len(p)), key=lambda j: (d[j], p[j], j))

    def first(a, b, t):
        return p[a] <= p[b] or t + max(p[a], p[b]) <= max(d[a], d[b])

    fixed, t, alpha = [], 0, jobs[0]
    for beta in jobs[1:]:
        if first(alpha, beta, t):
            fixed.append(alpha)
            t += int(p[alpha])
            alpha = beta
            continue
        pos, tb = len(fixed), t
        while pos > 0 and not first(fixed[pos - 1], beta, tb - int(p[fixed[pos - 1]])):
            tb -= int(p[fixed[pos - 1]])
            pos -= 1
        fixed.insert(pos, beta)
        t += int(p[beta])
    return fixed + [alpha]
