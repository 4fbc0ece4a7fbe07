"""Solving whole sets: every method, worker processes, progress reports, argument checks."""

from __future__ import annotations

import numpy as np
import pytest

from evaluator.exact import solve_dp, solve_set
from evaluator.instances import generate
from evaluator.kernels import tardiness_of_set


@pytest.fixture(scope="module")
def small_set():
    return generate(9, 1, seed=8, keep_negative=True)


@pytest.mark.parametrize("method", ["bb", "dp", "mip"])
def test_every_method_gives_the_dp_optima_in_instance_order(small_set, method):
    iset = small_set if method != "mip" else small_set.subset(range(3))
    calls = []
    results = solve_set(iset, method=method, progress=lambda *a: calls.append(a))
    want = [solve_dp(*iset.get(i)).value for i in range(iset.count)]
    assert [r.value for r in results] == want
    assert {r.method for r in results} == {method}
    orders = np.concatenate([r.order for r in results])
    assert tardiness_of_set(iset, orders).tolist() == want
    assert [c[0] for c in calls] == list(range(1, iset.count + 1))
    assert all(c[1] == iset.count and results[c[2]] is c[3] for c in calls)


def test_worker_processes_give_the_same_results(small_set):
    seen = []
    results = solve_set(small_set, jobs=2, progress=lambda done, total, i, r: seen.append(i))
    assert sorted(seen) == list(range(small_set.count))
    assert [r.value for r in results] == [r.value for r in solve_set(small_set)]
    with pytest.raises(ValueError):
        results[0].order[0] = 0  # still read-only after the trip through pickle


@pytest.mark.parametrize("kwargs, msg", [
    ({"method": "cp"}, "method"),
    ({"jobs": 0}, "jobs"),
    ({"time_limit": -1.0}, "time_limit"),
])
def test_bad_arguments_are_refused(small_set, kwargs, msg):
    with pytest.raises(ValueError, match=msg):
        solve_set(small_set, **kwargs)


def test_dp_refuses_a_set_with_large_instances():
    with pytest.raises(ValueError, match="instance 0 has 30"):
        solve_set(generate(30, 1, seed=1), method="dp")
