"""The time-indexed exact solver of 1||Σw_jT_j (Lagrangian bound, arc elimination, HiGHS) and its parts,
against brute force, the subset DP and OR-Library wt40's proven optima."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings

from evaluator.weighted.exact import solve_dp_weighted
from evaluator.weighted.instances import generate_weighted, load_weighted
from evaluator.weighted.kernels import weighted_tardiness
from evaluator.weighted.lagrange import eliminate, subgradient
from evaluator.weighted.local import descend, incumbent, kick_descend
from evaluator.weighted.reference import brute_force_weighted
from evaluator.weighted.ti import solve_ti
from tests.conftest import shared_path
from tests.evaluator.weighted.test_rules import instances


def _network(p, w, d):
    ts = np.arange(int(p.sum()) + 1)
    cost = (w[:, None] * np.maximum(0, ts[None, :] - d[:, None])).astype(np.float64)
    return cost, ts[None, :] >= p[:, None]


@settings(max_examples=60, deadline=None)
@given(case=instances(max_n=7))
def test_ti_equals_brute_force(case):
    p, w, d = case
    r = solve_ti(p, w, d)
    assert (r.status, r.method) == ("optimal", "ti")
    assert r.value == brute_force_weighted(p, w, d) == weighted_tardiness(p, w, d, r.order)


@settings(max_examples=25, deadline=None)
@given(case=instances(max_n=8))
def test_bounds_and_elimination_keep_the_optimum(case):
    """With and without the adjacent-pair dominance: the bound never exceeds the optimum, and after
    eliminating against UB = opt some path of value opt is left (the bound stays ≤ opt)."""
    p, w, d = case
    opt = brute_force_weighted(p, w, d)
    cost, alive = _network(p, w, d)
    for dom in (False, True):
        a = alive.copy()
        mu = np.zeros(p.shape[0])
        bound, mu, *_ = subgradient(p, cost, mu, a, float(opt) + 5.0, 60, 2.0, 10, dom)
        assert bound <= opt + 1e-6
        eliminate(p, cost, mu, a, float(opt), dom)
        again, *_ = subgradient(p, cost, mu.copy(), a, float(opt) + 5.0, 1, 1.0, 10, dom)
        assert again <= opt + 1e-6


def test_ti_equals_the_subset_dp_on_seeded_instances():
    wset = generate_weighted(14, 1, seed=11)
    for i in range(0, wset.count, 2):
        p, w, d = wset.get(i)
        r = solve_ti(p, w, d)
        assert r.optimal and r.value == solve_dp_weighted(p, w, d).value
        assert r.value == weighted_tardiness(p, w, d, r.order)


@settings(max_examples=40, deadline=None)
@given(case=instances(max_n=10))
def test_local_search_reports_its_order_and_never_worsens(case):
    p, w, d = case
    order = np.arange(p.shape[0], dtype=np.int64)
    start = weighted_tardiness(p, w, d, order)
    v = descend(p, w, d, order)
    assert v == weighted_tardiness(p, w, d, order) <= start
    assert sorted(order.tolist()) == list(range(p.shape[0]))
    k = kick_descend(p, w, d, order, 5, 3)
    assert k == weighted_tardiness(p, w, d, order) <= v
    value, best = incumbent(p, w, d)
    assert value == weighted_tardiness(p, w, d, best) >= solve_dp_weighted(p, w, d).value


def test_ti_agrees_with_proven_optima_on_wt40_and_bounds_under_a_short_limit():
    wset = load_weighted(shared_path("orlib_wt40"))
    for i in (0, 20):
        assert wset.proven[i]
        r = solve_ti(*wset.get(i), time_limit=60.0)
        assert r.optimal and r.value == wset.opt[i] == weighted_tardiness(*wset.get(i), r.order)
    r = solve_ti(*wset.get(2), time_limit=0.05)
    assert r.lower_bound <= wset.opt[2] <= r.value


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match=r"weight w\[0\] = -1"):
        solve_ti([1, 2], [-1, 1], [3, 3])
    with pytest.raises(ValueError, match="time_limit"):
        solve_ti([1, 2], [1, 1], [3, 3], time_limit=0)
