"""An MDD-like dispatch rule: append the job with the least max(d_j, t + p_j), ties by shorter p."""


def schedule(p, d):
    p = [int(x) for x in p]
    d = [int(x) for x in d]
    left, order, t = list(range(len(p))), [], 0
    while left:
        j = min(left, key=lambda j: (max(d[j], t + p[j]), p[j], j))
        left.remove(j)
        order.append(j)
        t += p[j]
    return order
