"""discover.search.fitness: scores of a sandbox result against brute-force optima, the stratified subset."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest

from discover.search.fitness import Fitness, SetError, load_scoring_set, stratified
from evaluator.instances import from_arrays
from evaluator.sandbox.cascade import stratified_subset
from tests.brute import brute_tt


def optimum(p, d) -> int:
    return min(brute_tt(p, d, order) for order in itertools.permutations(range(len(p))))


@pytest.fixture(scope="module")
def small():
    """Twelve random 5-job instances in three (RDD, TF) classes, with optima by enumeration."""
    rng = np.random.default_rng(11)
    items, opt, rdd, tf = [], [], [], []
    for k in range(12):
        p = rng.integers(1, 10, 5).tolist()
        d = rng.integers(0, 20, 5).tolist()
        items.append((p, d))
        opt.append(optimum(p, d))
        rdd.append((0.2, 0.6, 1.0)[k % 3])
        tf.append(0.4)
    return from_arrays(items, name="small", opt=opt, rdd=rdd, tf=tf)


def test_score_is_the_mean_gap_over_instances_with_a_positive_optimum(small):
    f = Fitness(small)
    orders = [list(range(5)) for _ in range(small.count)]  # the identity order on every instance
    t = np.array([brute_tt(*small.get(i), o) for i, o in enumerate(orders)], np.int64)
    sc = f.score("ok", "", t, 0.5)
    gaps = [100 * (t[i] - small.opt[i]) / small.opt[i] for i in range(small.count) if small.opt[i] > 0]
    assert sc.ok and sc.gap == pytest.approx(sum(gaps) / len(gaps), abs=1e-9)
    for r in (0.2, 0.6, 1.0):
        members = [i for i in range(small.count) if small.rdd[i] == r and small.opt[i] > 0]
        want = sum(100 * (t[i] - small.opt[i]) / small.opt[i] for i in members) / len(members)
        assert sc.per_class[f"rdd={r:g},tf=0.4"] == pytest.approx(want, abs=1e-9)
    optimal = f.score("ok", "", small.opt.astype(np.int64), 0.5)
    assert optimal.gap == 0.0 and optimal.signature != sc.signature
    assert f.score("ok", "", t.copy(), 9.9).signature == sc.signature  # the results, not the time


@pytest.mark.parametrize("status, values, cut, want", [
    ("ok", [-1] + [0] * 11, False, ("invalid_output", "not a permutation of range(n) on instance 0")),
    ("ok", [0] * 5, False, ("error", "expected 12 results, got (5,)")),
    ("timeout", [], False, ("timeout", "timeout")),
    ("ok", [0] * 12, True, ("cut_short", None)),
])
def test_failures_score_nothing_and_say_why(small, status, values, cut, want):
    sc = Fitness(small).score(status, "", np.array(values, np.int64), 1.0, cut_short=cut)
    assert sc.status == want[0] and sc.gap is None and sc.per_class is None and not sc.ok
    assert want[1] is None or sc.error == want[1]


def test_stratified_takes_classes_round_robin_in_set_order(small):
    sub = stratified(small, 5)
    assert sub.count == 5 and sub.name == "small[5]"
    assert stratified_subset(small, 5).tolist() == [0, 1, 2, 3, 4]  # one of each class, then again
    assert sorted(sub.rdd.tolist()) == [0.2, 0.2, 0.6, 0.6, 1.0]
    assert stratified(small, 0) is small and stratified(small, 99) is small


def test_instances_without_a_class_form_one_class():
    items = [([1, 2], [1, 1])] * 6
    iset = from_arrays(items, opt=[1] * 6, rdd=[math.nan, 0.2, math.nan, 0.2, 0.2, math.nan],
                       tf=[0.4, 0.4, math.nan, 0.4, 0.4, math.nan])
    assert stratified_subset(iset, 2).tolist() == [0, 1]
    assert stratified_subset(iset, 4).tolist() == [0, 1, 2, 3]


def test_a_scoring_set_needs_a_file_and_optima(tmp_path, small):
    with pytest.raises(SetError, match=r"^evaluation.train_set = '.*missing.json': "):
        load_scoring_set(tmp_path / "missing.json", 0, "evaluation.train_set")
    data = small.subset(range(3)).to_dict()
    for inst in data["instances"]:
        inst.pop("opt", None)
    path = tmp_path / "no_opt.json"
    path.write_text(json.dumps(data))
    with pytest.raises(SetError, match="no instance has a known positive optimum"):
        load_scoring_set(path, 0, "evaluation.valid_set")
    data["instances"][0]["opt"] = 3
    path.write_text(json.dumps(data))
    assert load_scoring_set(path, 0, "evaluation.valid_set").count == 3
