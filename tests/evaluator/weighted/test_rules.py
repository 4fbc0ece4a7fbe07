"""Weighted rules and objective: numba against plain Python (with ties), and the OR-Library check."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evaluator.heuristics import aug_mdd, mdd
from evaluator.weighted import reference as R
from evaluator.weighted import rules as W
from evaluator.weighted.instances import generate_weighted, load_weighted
from evaluator.weighted.kernels import INVALID, weighted_of_orders, weighted_of_set, weighted_tardiness
from tests.conftest import shared_path


@st.composite
def instances(draw, max_n=14):
    """Random weighted instances, half with many ties (p in 1..3, w in 1..2, few due dates)."""
    n = draw(st.integers(1, max_n))
    if draw(st.booleans()):
        p = draw(st.lists(st.integers(1, 3), min_size=n, max_size=n))
        w = draw(st.lists(st.integers(1, 2), min_size=n, max_size=n))
        d = draw(st.lists(st.sampled_from([-2, 0, 3, 5, 8]), min_size=n, max_size=n))
    else:
        p = draw(st.lists(st.integers(1, 100), min_size=n, max_size=n))
        w = draw(st.lists(st.integers(1, 10), min_size=n, max_size=n))
        d = draw(st.lists(st.integers(-100, 50 * n), min_size=n, max_size=n))
    return np.array(p, np.int64), np.array(w, np.int64), np.array(d, np.int64)


@pytest.mark.parametrize("name", W.NAMES)
@settings(max_examples=150, deadline=None)
@given(case=instances())
def test_numba_rule_equals_plain_python(name, case):
    p, w, d = case
    assert W.FUNCTIONS[name](p, w, d).tolist() == R.FUNCTIONS_PY[name](p, w, d)


@settings(max_examples=200, deadline=None)
@given(case=instances(), data=st.data())
def test_weighted_move_to_end_equals_plain_python_and_never_worsens(case, data):
    p, w, d = case
    seq = data.draw(st.permutations(list(range(len(p)))))
    m = data.draw(st.integers(0, len(p)))
    order = np.array(seq, np.int64)
    moved = W.move_to_end_weighted(p, w, d, order, m)
    expect = R.move_to_end_weighted_py(p, w, d, list(seq[:m]))
    assert order[:m].tolist() == expect and order[m:].tolist() == list(seq[m:])
    assert moved == (expect != list(seq[:m]))


@settings(max_examples=150, deadline=None)
@given(case=instances())
def test_kernel_equals_plain_python_and_flags_non_permutations(case):
    p, w, d = case
    orders = np.array([np.random.default_rng(k).permutation(len(p)) for k in range(3)], np.int64)
    got = weighted_of_orders(p, w, d, orders)
    assert got.tolist() == [R.weighted_tardiness_py(p, w, d, o) for o in orders]
    if len(p) > 1:
        bad = orders[0].copy()
        bad[0] = bad[1]
        assert weighted_of_orders(p, w, d, bad[None, :])[0] == INVALID
        with pytest.raises(ValueError, match="not a permutation"):
            weighted_tardiness(p, w, d, bad)


@settings(max_examples=100, deadline=None)
@given(case=instances())
def test_unit_weights_make_wmdd_mdd(case):
    """With w = 1, WMDD's max(p, d − t) is MDD's max(d, t + p) − t; the weighted step the unweighted."""
    p, _, d = case
    ones = np.ones_like(p)
    assert W.wmdd(p, ones, d).tolist() == mdd(p, d).tolist()
    assert W.aug_wmdd(p, ones, d).tolist() == aug_mdd(p, d).tolist()


def test_wspt_is_optimal_when_every_job_is_late():
    """Smith's rule: with all due dates 0, Σ w_j C_j − const is minimised by p/w ascending."""
    rng = np.random.default_rng(3)
    for _ in range(20):
        p, w = rng.integers(1, 20, 7), rng.integers(1, 10, 7)
        d = np.zeros(7, np.int64)
        assert weighted_tardiness(p, w, d, W.wspt(p, w, d)) == R.brute_force_weighted(p, w, d)


def test_set_runner_matches_single_calls():
    wset = generate_weighted(12, 1, seed=7)
    for name in W.NAMES:
        flat = W.run_on_set(name, wset)
        values = weighted_of_set(wset, flat)
        for i in range(wset.count):
            p, w, d = wset.get(i)
            assert values[i] == weighted_tardiness(p, w, d, W.FUNCTIONS[name](p, w, d))
    with pytest.raises(KeyError, match="unknown weighted rule"):
        W.run_on_set("MDD", wset)


@pytest.mark.parametrize("name", ["orlib_wt40", "orlib_wt50", "orlib_wt100"])
def test_orlib_rules_never_beat_a_proven_opt_and_readme_check_holds(name):
    """The benchmark README: the better of EDD and WSPT averages 73-79 % above opt, never below it."""
    wset = load_weighted(shared_path(name))
    values = {r: weighted_of_set(wset, W.run_on_set(r, wset)) for r in W.NAMES}
    for r, v in values.items():
        assert np.all(v[wset.proven] >= wset.opt[wset.proven]), r
    best = np.minimum(values["EDD"], values["WSPT"])
    pos = wset.opt > 0
    assert np.all(best >= wset.opt)
    assert 73.0 <= np.mean(100.0 * (best[pos] - wset.opt[pos]) / wset.opt[pos]) <= 79.0
