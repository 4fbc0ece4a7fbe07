"""WMDD (Kanet & Li's weighted modified due date): append the job with the least max(p_j, d_j − t)/w_j."""


def schedule(p, w, d):
    """Build the order greedily; ties go to the lowest job index."""
    n = len(p)
    left = list(range(n))
    order = []
    t = 0
    while left:
        best = min(left, key=lambda j: max(int(p[j]), int(d[j]) - t) / int(w[j]))
        left.remove(best)
        order.append(best)
        t += int(p[best])
    return order
