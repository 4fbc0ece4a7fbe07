"""Weighted sets: the OR-Library loader, its one-line errors, and the generator."""

from __future__ import annotations

import json

import numpy as np
import pytest

from evaluator.instances import InstanceFileError
from evaluator.weighted import instances as WI
from tests.conftest import shared_path


@pytest.mark.parametrize(("name", "n", "proven", "zeros"),
                         [("orlib_wt40", 40, 124, 18), ("orlib_wt50", 50, 115, 17),
                          ("orlib_wt100", 100, 0, 18)])
def test_orlib_sets_load_as_their_readme_says(name, n, proven, zeros):
    path = shared_path(name)
    wset = WI.load_weighted(path)
    assert (wset.count, wset.n, int(wset.proven.sum()), int((wset.opt == 0).sum())) == (125, n, proven, zeros)
    assert WI.is_weighted_file(path)
    assert wset.w.min() >= 1 and wset.w.max() <= 10 and wset.p.min() >= 1 and wset.p.max() <= 100
    if name == "orlib_wt40":
        assert not wset.proven[18] and wset.proven[[0, 17, 19]].all()  # instance 19 (1-based) best known


def test_a_plain_set_is_not_weighted():
    assert not WI.is_weighted_file(shared_path("shang_n100"))


def _write(tmp_path, instances, **head):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"name": "bad", **head, "instances": instances}))
    return path


@pytest.mark.parametrize(("inst", "message"), [
    ({"p": [1, 2], "d": [3, 4]}, "bad.json: instance 0: field w = None must be a list"),
    ({"p": [1, 2], "w": [1], "d": [3, 4]}, "bad.json: instance 0: w has 1 weights but p has 2 jobs"),
    ({"p": [1, 2], "w": [1, 0], "d": [3, 4]}, "bad.json: instance 0: weight w[1] = 0 must be a positive"),
    ({"p": [1, 2], "w": [1, 2.5], "d": [3, 4]}, "weight w[1] = 2.5 must be a positive integer"),
    ({"p": [1, 2], "w": [1, True], "d": [3, 4]}, "weight w[1] = True must be a positive integer"),
    ({"p": [1, 2], "w": [1, 1], "d": [3, 4], "opt": 3, "proven": "yes"}, "field proven = 'yes' must be true"),
    ({"p": [1, 2], "w": [1, 1], "d": [3, 4], "proven": True}, "field proven is true but the instance has no"),
    ({"p": [1, 0], "w": [1, 1], "d": [3, 4]}, "bad.json: instance 0: processing time p[1] = 0"),
])
def test_bad_weighted_files_fail_with_one_line_naming_file_instance_and_field(tmp_path, inst, message):
    path = _write(tmp_path, [inst], objective="total weighted tardiness")
    with pytest.raises(InstanceFileError) as e:
        WI.load_weighted(path)
    assert message in str(e.value) and "\n" not in str(e.value)


def test_round_trip_keeps_weights_opt_and_proven(tmp_path):
    wset = WI.weighted_from_arrays([([3, 1], [2, 5], [1, 0]), ([4], [1], [9])], name="rt", opt=[7, 0],
                                proven=[True, False])
    path = tmp_path / "rt.json"
    path.write_text(json.dumps(wset.to_dict()))
    back = WI.load_weighted(path)
    assert back.sha256() == wset.sha256() and back.proven.tolist() == [True, False]
    assert back.w.tolist() == [2, 5, 1] and WI.is_weighted_file(path)


def test_generator_follows_the_orlib_scheme_and_is_deterministic():
    a = WI.generate_weighted(30, 4, seed=11)
    assert a.count == 100 and a.sha256() == WI.generate_weighted(30, 4, seed=11).sha256()
    assert a.sha256() != WI.generate_weighted(30, 4, seed=12).sha256()
    assert a.p.min() >= 1 and a.p.max() <= 100 and a.w.min() >= 1 and a.w.max() <= 10
    assert sorted(set(a.base.rdd.tolist())) == sorted(set(a.base.tf.tolist())) == [0.2, 0.4, 0.6, 0.8, 1.0]
    for i in range(a.count):
        p, _, d = a.get(i)
        total, rdd, tf = int(p.sum()), a.base.rdd[i], a.base.tf[i]
        lo, hi = np.floor(total * (1 - tf - rdd / 2)), np.floor(total * (1 - tf + rdd / 2))
        assert np.all(d >= max(lo, 0)) and np.all(d <= hi)
    with pytest.raises(ValueError, match="at least 1"):
        WI.generate_weighted(0, 1, seed=1)
