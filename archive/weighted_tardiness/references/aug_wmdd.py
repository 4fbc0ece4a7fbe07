"""Aug-WMDD: WMDD with the weighted "move to end" step after each append (as Aug-MDD for ΣT_j).

Moving S[i] to the end of the partial schedule S gives

    T(i) = Σ_{k<i} w_k max(0, L_k) + Σ_{k>i} w_k max(0, L_k − p_{S[i]}) + w_{S[i]} max(0, C_last − d_{S[i]}),

with L_k the lateness of position k; the middle sum comes from a Fenwick tree of weights and weighted
lateness over the sorted lateness values, so a step costs O(m log m).
"""

from bisect import bisect_left, bisect_right


def move_to_end(p, w, d, order):
    """Apply the best strictly improving "move order[i] to the end" in place (ties to the smallest i)."""
    m = len(order)
    if m < 2:
        return
    late, prefix = [], []
    t = total = 0
    for j in order:
        t += p[j]
        prefix.append(total)
        late.append(t - d[j])
        if t > d[j]:
            total += w[j] * (t - d[j])
    srt = sorted(late)
    cw, sm = [0] * (m + 1), [0] * (m + 1)
    ins_w = ins_sum = 0
    best_i, best_val = -1, total
    for i in range(m - 2, -1, -1):
        v, wk = late[i + 1], w[order[i + 1]]
        r = bisect_left(srt, v) + 1
        while r <= m:
            cw[r] += wk
            sm[r] += wk * v
            r += r & -r
        ins_w += wk
        ins_sum += wk * v
        x = p[order[i]]
        r = bisect_right(srt, x)
        w_le = s_le = 0
        while r > 0:
            w_le += cw[r]
            s_le += sm[r]
            r -= r & -r
        own = t - d[order[i]]
        trial = prefix[i] + (ins_sum - s_le) - x * (ins_w - w_le) + (w[order[i]] * own if own > 0 else 0)
        if trial <= best_val and trial < total:
            best_i, best_val = i, trial
    if best_i >= 0:
        order.append(order.pop(best_i))


def schedule(p, w, d):
    """WMDD's greedy append (least max(p_j, d_j − t)/w_j, ties: lowest index), improved after each job."""
    p, w, d = [int(x) for x in p], [int(x) for x in w], [int(x) for x in d]
    n = len(p)
    done = [False] * n
    order = []
    t = 0
    for _ in range(n):
        best, best_num = -1, 0
        for j in range(n):
            if not done[j]:
                num = max(p[j], d[j] - t)
                if best < 0 or num * w[best] < best_num * w[j]:
                    best, best_num = j, num
        done[best] = True
        order.append(best)
        t += p[best]
        move_to_end(p, w, d, order)
    return order
