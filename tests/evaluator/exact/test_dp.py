"""The subset dynamic programme, the reference of the exact solvers, against plain enumeration."""

from __future__ import annotations

import numpy as np
import pytest

from evaluator.exact import MAX_DP_JOBS, brute_force, solve_dp
from evaluator.kernels import total_tardiness


def test_dp_equals_enumeration_with_ties_and_negative_due_dates():
    rng = np.random.default_rng(21)
    for it in range(300):
        n = int(rng.integers(1, 8))
        p = rng.integers(1, 4 if it % 2 else 40, n)
        d = rng.integers(-5, 3 * n if it % 2 else 25 * n, n)
        r = solve_dp(p, d)
        assert r.value == brute_force(p, d)
        assert total_tardiness(p, d, r.order) == r.value
        assert (r.status, r.lower_bound, r.method) == ("optimal", r.value, "dp")


def test_brute_force_on_a_hand_example():
    # p = (3, 2), d = (1, 2): job 0 first gives 2 + 3 = 5, job 1 first gives 0 + 4 = 4
    assert brute_force([3, 2], [1, 2]) == 4
    assert solve_dp([3, 2], [1, 2]).order.tolist() == [1, 0]


def test_dp_refuses_too_many_jobs_and_bad_input():
    n = MAX_DP_JOBS + 1
    with pytest.raises(ValueError, match=f"at most {MAX_DP_JOBS} jobs"):
        solve_dp(np.ones(n, np.int64), np.zeros(n, np.int64))
    with pytest.raises(ValueError, match=r"p\[0\] = 0"):
        solve_dp([0, 1], [1, 1])
    assert solve_dp(np.zeros(0, np.int64), np.zeros(0, np.int64)).value == 0
