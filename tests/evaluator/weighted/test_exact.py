"""Exact weighted solvers: the subset DP and the weighted MIP against brute force, and OR-Library."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings

from evaluator.exact import solve_dp, solve_mip
from evaluator.weighted.exact import MAX_DP_JOBS, solve_dp_weighted, solve_mip_weighted
from evaluator.weighted.instances import generate_weighted, load_weighted
from evaluator.weighted.kernels import weighted_tardiness
from evaluator.weighted.reference import brute_force_weighted
from evaluator.weighted.rules import FUNCTIONS, NAMES
from tests.conftest import shared_path
from tests.evaluator.weighted.test_rules import instances


@settings(max_examples=120, deadline=None)
@given(case=instances(max_n=7))
def test_dp_equals_brute_force_and_beats_every_rule(case):
    p, w, d = case
    r = solve_dp_weighted(p, w, d)
    assert r.optimal and r.value == brute_force_weighted(p, w, d) == weighted_tardiness(p, w, d, r.order)
    assert all(weighted_tardiness(p, w, d, FUNCTIONS[k](p, w, d)) >= r.value for k in NAMES)


@pytest.mark.parametrize("n", [6, 8])
def test_weighted_mip_equals_dp_and_brute_force(n):
    wset = generate_weighted(n, 1, seed=n)
    for i in range(0, wset.count, 3):
        p, w, d = wset.get(i)
        m = solve_mip_weighted(p, w, d)
        assert (m.status, m.method) == ("optimal", "mip")
        assert m.value == solve_dp_weighted(p, w, d).value == brute_force_weighted(p, w, d)


def test_unit_weights_give_the_unweighted_optimum():
    wset = generate_weighted(10, 1, seed=5)
    for i in range(0, wset.count, 5):
        p, _, d = wset.get(i)
        ones = np.ones_like(p)
        value = solve_dp(p, d).value
        assert solve_dp_weighted(p, ones, d).value == value == solve_mip_weighted(p, ones, d).value
        assert solve_mip(p, d).value == solve_dp(p, d).value


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match=r"weight w\[1\] = 0"):
        solve_dp_weighted([1, 2], [1, 0], [3, 3])
    with pytest.raises(ValueError, match="w has 1 weights but p has 2 jobs"):
        solve_mip_weighted([1, 2], [1], [3, 3])
    with pytest.raises(ValueError, match="at most"):
        solve_dp_weighted(np.ones(MAX_DP_JOBS + 1, np.int64), np.ones(MAX_DP_JOBS + 1, np.int64),
                          np.zeros(MAX_DP_JOBS + 1, np.int64))


def test_mip_time_limit_gives_a_valid_bound_on_wt40():
    """A small sample of OR-Library wt40: the MIP never contradicts a proven opt under a short limit."""
    wset = load_weighted(shared_path("orlib_wt40"))
    for i in (0, 2):
        r = solve_mip_weighted(*wset.get(i), time_limit=2.0)
        assert r.lower_bound <= wset.opt[i] <= r.value
        if r.optimal:
            assert r.value == wset.opt[i]
