"""COVERT (Carroll's cost over time), k = 2: append the job of greatest
(w_j/p_j)·max(0, 1 − max(0, d_j − p_j − t)/(k·p_j))."""

K = 2.0


def schedule(p, w, d):
    """Build the order greedily; ties go to the earliest due date, then the lowest index."""
    n = len(p)
    left = list(range(n))
    order, t = [], 0
    while left:
        best, best_val = -1, 0.0
        for j in left:
            slack = max(0.0, float(int(d[j]) - t - int(p[j])))
            v = (int(w[j]) / int(p[j])) * max(0.0, 1.0 - slack / (K * int(p[j])))
            if best < 0 or v > best_val or (v == best_val and d[j] < d[best]):
                best, best_val = j, v
        left.remove(best)
        order.append(best)
        t += int(p[best])
    return order
