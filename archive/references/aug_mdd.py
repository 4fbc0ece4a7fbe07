"""Aug-MDD: MDD with Bean & Hall's "move to end" improvement step after each append (as the study ran it)."""


def tardiness(seq, p, d):
    """Return the total tardiness of a partial sequence timed from 0."""
    t = 0
    total = 0
    for j in seq:
        t += int(p[j])
        total += max(0, t - int(d[j]))
    return total


def schedule(p, d):
    """Append by MDD; after each append keep the best strictly improving "move S[i] to the end"."""
    n = len(p)
    left = list(range(n))
    order = []
    t = 0
    while left:
        best = min(left, key=lambda j: max(int(d[j]), t + int(p[j])))
        left.remove(best)
        order.append(best)
        t += int(p[best])
        best_value = tardiness(order, p, d)
        best_order = order
        for i in range(len(order) - 1):
            trial = order[:i] + order[i + 1:] + [order[i]]
            value = tardiness(trial, p, d)
            if value < best_value:
                best_value, best_order = value, trial
        order = best_order
    return order
