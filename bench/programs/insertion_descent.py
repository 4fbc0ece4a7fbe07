"""Insertion descent in plain Python: MDD start, then best-insertion passes until none improves.

Each pass moves every job, in turn, to its best position (O(n) per job: the tardiness change of
all positions is accumulated in one sweep each way), applying improving moves at once.
"""


def schedule(p, d):
    p = [int(x) for x in p]
    d = [int(x) for x in d]
    n = len(p)
    left, order, t = list(range(n)), [], 0
    while left:
        best = min(left, key=lambda j: (max(d[j], t + p[j]), j))
        left.remove(best)
        order.append(best)
        t += p[best]
    improved = True
    while improved:
        improved = False
        for i in range(n):
            c, t = [0] * n, 0
            for k in range(n):
                t += p[order[k]]
                c[k] = t
            x = order[i]
            px, dx = p[x], d[x]
            own = max(0, c[i] - dx)
            best_delta, best_j = 0, i
            shift = 0
            for j in range(i + 1, n):  # after order[j]: the jobs between start px earlier
                dy = d[order[j]]
                shift += max(0, c[j] - px - dy) - max(0, c[j] - dy)
                delta = shift + max(0, c[j] - dx) - own
                if delta < best_delta:
                    best_delta, best_j = delta, j
            shift = 0
            for j in range(i - 1, -1, -1):  # before order[j]: the jobs between start px later
                y = order[j]
                shift += max(0, c[j] + px - d[y]) - max(0, c[j] - d[y])
                delta = shift + max(0, c[j] - p[y] + px - dx) - own
                if delta < best_delta:
                    best_delta, best_j = delta, j
            if best_delta < 0:
                order.pop(i)
                order.insert(best_j, x)
                improved = True
    return order
