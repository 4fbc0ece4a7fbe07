"""Local improvement steps shared by the augmented heuristics.

``move_to_end_step`` is Bean & Hall's augmentation as the study ran it: on the partial schedule
S (timed from 0), try "move S[i] to the end" for every position i but the last and keep the best
trial if it is strictly better than S (ties to the smallest i). Instead of recomputing each trial,
it uses the identity

    T(i) = Σ_{k<i} max(0, L_k) + Σ_{k>i} max(0, L_k − p_{S[i]}) + max(0, C_last − d_{S[i]}),

with L_k the lateness of position k, and answers the middle sums with a Fenwick tree over the
sorted lateness values: O(m log m) per step instead of O(m²).
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def move_to_end_step(p, d, order, m):
    """Apply one best "move to end" step to ``order[:m]`` in place; return True if it moved a job."""
    if m < 2:
        return False
    late = np.empty(m, np.int64)
    t = 0
    total = 0
    for k in range(m):
        t += p[order[k]]
        late[k] = t - d[order[k]]
        if late[k] > 0:
            total += late[k]
    c_last = t
    srt = np.sort(late)
    cnt = np.zeros(m + 1, np.int64)
    sm = np.zeros(m + 1, np.int64)
    ins_cnt = 0
    ins_sum = 0
    # prefix tardiness Σ_{k<i} max(0, L_k), for every i
    prefix = np.empty(m, np.int64)
    acc = 0
    for k in range(m):
        prefix[k] = acc
        if late[k] > 0:
            acc += late[k]
    best_i = -1
    best_val = total
    for i in range(m - 2, -1, -1):
        # insert position i+1 into the tree (1-based rank among the sorted values)
        v = late[i + 1]
        r = np.searchsorted(srt, v, side="left") + 1
        while r <= m:
            cnt[r] += 1
            sm[r] += v
            r += r & (-r)
        ins_cnt += 1
        ins_sum += v
        x = p[order[i]]
        # values ≤ x among the inserted ones
        r = np.searchsorted(srt, x, side="right")
        c_le = 0
        s_le = 0
        while r > 0:
            c_le += cnt[r]
            s_le += sm[r]
            r -= r & (-r)
        tail = (ins_sum - s_le) - x * (ins_cnt - c_le)
        own = c_last - d[order[i]]
        trial = prefix[i] + tail + (own if own > 0 else 0)
        if trial <= best_val and (trial < total):
            best_val = trial
            best_i = i
    if best_i < 0:
        return False
    job = order[best_i]
    for k in range(best_i, m - 1):
        order[k] = order[k + 1]
    order[m - 1] = job
    return True
