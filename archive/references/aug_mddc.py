"""Aug-MDDC: MDDC with the "move to end" improvement step after each append (the study's best).

The step is evaluated incrementally, as in the numba twin (``evaluator.improve``): moving S[i] to the
end of the partial schedule S gives

    T(i) = Σ_{k<i} max(0, L_k) + Σ_{k>i} max(0, L_k − p_{S[i]}) + max(0, C_last − d_{S[i]}),

with L_k the lateness of position k; the middle sums come from a Fenwick tree over the sorted
lateness values, so a step costs O(m log m) instead of O(m²).
"""

from bisect import bisect_left, bisect_right

import numpy as np


def move_to_end(p, d, order):
    """Apply the best strictly improving "move order[i] to the end" in place (ties to the smallest i)."""
    m = len(order)
    if m < 2:
        return
    late, prefix = [], []
    t = total = 0
    for j in order:
        t += p[j]
        prefix.append(total)  # Σ_{k<i} max(0, L_k)
        late.append(t - d[j])
        if t > d[j]:
            total += t - d[j]
    srt = sorted(late)
    cnt, sm = [0] * (m + 1), [0] * (m + 1)
    ins_cnt = ins_sum = 0
    best_i, best_val = -1, total
    for i in range(m - 2, -1, -1):
        v = late[i + 1]  # position i+1 joins the tree of the positions after i
        r = bisect_left(srt, v) + 1
        while r <= m:
            cnt[r] += 1
            sm[r] += v
            r += r & -r
        ins_cnt += 1
        ins_sum += v
        x = p[order[i]]
        r = bisect_right(srt, x)
        c_le = s_le = 0
        while r > 0:
            c_le += cnt[r]
            s_le += sm[r]
            r -= r & -r
        trial = prefix[i] + (ins_sum - s_le) - x * (ins_cnt - c_le) + max(0, t - d[order[i]])
        if trial <= best_val and trial < total:
            best_i, best_val = i, trial
    if best_i >= 0:
        order.append(order.pop(best_i))


def schedule(p, d):
    """Append by the MDDC urgency; after each append keep the best strictly improving move to the end."""
    pl, dl = [int(x) for x in p], [int(x) for x in d]
    t = 0
    order = []
    left = np.lexsort((p, d))
    while left.size > 0:
        pu = p[left]
        urgency = np.maximum(pu * 1.1 + t, d[left])
        rho = np.minimum(pu / (t + np.max(pu)), 1.0)
        urgency *= 1 + rho**2 / (1 + rho**2)
        urgency += pu / (t + np.sum(pu) / len(left))
        k = int(np.argmin(urgency))
        job = int(left[k])
        order.append(job)
        t += pl[job]
        left = np.delete(left, k)
        move_to_end(pl, dl, order)
    return order
