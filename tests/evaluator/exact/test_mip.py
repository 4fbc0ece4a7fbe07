"""The study's positional MIP (HiGHS) as an independent check of the decomposition solver."""

from __future__ import annotations

import numpy as np
import pytest

from evaluator.exact import solve, solve_dp, solve_mip
from evaluator.kernels import total_tardiness


def _instances(count: int, n_max: int, seed: int):
    rng = np.random.default_rng(seed)
    for it in range(count):
        n = int(rng.integers(2, n_max + 1))
        if it % 3 == 0:  # ties and negative due dates
            p, d = rng.integers(1, 4, n), rng.integers(-3, 2 * n, n)
        else:
            p = rng.integers(1, 100, n)
            total = int(p.sum())
            d = rng.integers(-total // 5, total, n)
        yield p, d


@pytest.mark.parametrize("spt_cuts", [True, False])
def test_mip_equals_the_decomposition_and_the_dp(spt_cuts):
    for p, d in _instances(8, 7, seed=31 + spt_cuts):
        r = solve_mip(p, d, spt_cuts=spt_cuts)
        assert (r.status, r.method) == ("optimal", "mip")
        assert r.value == solve(p, d).value == solve_dp(p, d).value
        assert total_tardiness(p, d, r.order) == r.value


@pytest.mark.slow
@pytest.mark.parametrize("n", [10, 12])
def test_mip_equals_the_decomposition_up_to_twelve_jobs(n):
    rng = np.random.default_rng(33 + n)
    p = rng.integers(1, 100, n)
    total = int(p.sum())
    d = rng.integers(int(0.2 * total), int(0.8 * total), n)
    assert solve_mip(p, d).value == solve(p, d).value == solve_dp(p, d).value


def test_mip_time_limit_gives_a_sequence_and_a_valid_bound():
    rng = np.random.default_rng(34)
    p = rng.integers(1, 100, 30)
    total = int(p.sum())
    d = rng.integers(int(0.3 * total), int(0.5 * total), 30)
    opt = solve(p, d).value
    r = solve_mip(p, d, time_limit=0.3)
    assert r.status == "time_limit" and "time limit" in r.message
    assert r.lower_bound <= opt <= r.value
    assert total_tardiness(p, d, r.order) == r.value


def test_mip_refuses_bad_input():
    with pytest.raises(ValueError, match=r"p\[1\] = 0"):
        solve_mip([2, 0], [1, 1])
    with pytest.raises(ValueError, match="time_limit"):
        solve_mip([2, 1], [1, 1], time_limit=0)
