"""MDD (Baker & Bertrand's modified due date): append the job with the least max(d_j, t + p_j)."""


def schedule(p, d):
    """Build the order greedily; ties go to the lowest job index."""
    n = len(p)
    left = list(range(n))
    order = []
    t = 0
    while left:
        best = min(left, key=lambda j: max(int(d[j]), t + int(p[j])))
        left.remove(best)
        order.append(best)
        t += int(p[best])
    return order
