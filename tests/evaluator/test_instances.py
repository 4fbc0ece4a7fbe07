"""Instance sets: validation messages, JSON round-trips, the generator's scheme and determinism."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from evaluator import instances as inst
from tests.conftest import shared_path


def _write(tmp_path, obj, name="set.json"):
    path = tmp_path / name
    path.write_text(json.dumps(obj))
    return path


@pytest.mark.parametrize(
    "instance, message",
    [
        ({"p": [3, -3], "d": [1, 2]}, "instance 0: processing time p[1] = -3 must be a positive integer"),
        ({"p": [3, 0], "d": [1, 2]}, "instance 0: processing time p[1] = 0 must be a positive integer"),
        ({"p": [3, 2.5], "d": [1, 2]}, "instance 0: processing time p[1] = 2.5 must be a positive integer"),
        ({"p": [3, 2], "d": [1, "x"]}, "instance 0: due date d[1] = 'x' must be an integer"),
        ({"p": [3, 2], "d": [1]}, "instance 0: p has 2 jobs but d has 1"),
        ({"p": [], "d": []}, "instance 0: p must hold at least one processing time"),
        ({"p": [1], "d": [1], "opt": -4}, "instance 0: opt = -4 must be a non-negative integer or null"),
        ({"p": [1], "d": [1], "rdd": "wide"}, "instance 0: rdd = 'wide' must be a finite number or null"),
        ({"d": [1]}, "instance 0: field p: Field required"),
    ],
)
def test_bad_instance_fails_with_one_clear_line(tmp_path, instance, message):
    path = _write(tmp_path, {"instances": [instance]})
    with pytest.raises(inst.InstanceFileError) as e:
        inst.load_set(path)
    assert str(e.value) == f"set.json: {message}"
    assert "\n" not in str(e.value)


def test_bad_files(tmp_path):
    with pytest.raises(inst.InstanceFileError, match=r"^missing.json: no such file$"):
        inst.load_set(tmp_path / "missing.json")
    (tmp_path / "broken.json").write_text("{not json")
    with pytest.raises(inst.InstanceFileError, match=r"^broken.json: invalid JSON at line 1"):
        inst.load_set(tmp_path / "broken.json")
    path = _write(tmp_path, {"count": 2, "instances": [{"p": [1], "d": [0]}]})
    with pytest.raises(inst.InstanceFileError, match="field count = 2 but the file holds 1 instances"):
        inst.load_set(path)
    path = _write(tmp_path, {"n": 2, "instances": [{"p": [1], "d": [0]}]})
    with pytest.raises(inst.InstanceFileError, match="instance 0: has 1 jobs but field n = 2"):
        inst.load_set(path)


def test_negative_due_dates_are_valid(tmp_path):
    iset = inst.load_set(_write(tmp_path, {"instances": [{"p": [2, 1], "d": [-5, 0]}]}))
    assert iset.d.tolist() == [-5, 0]


@pytest.mark.shared
def test_normal_set_has_125_invalid_instances():
    path = shared_path("paper_n20_normal")
    problems = inst.find_problems(path)
    assert len(problems) == 125
    first = "paper_n20_normal.json: instance 3: processing time p[2] = -3 must be a positive integer"
    assert problems[0] == first
    with pytest.raises(inst.InstanceFileError, match=r"^paper_n20_normal.json: instance 3: processing time"):
        inst.load_set(path)


@pytest.mark.shared
def test_shared_files_load_as_they_are(shared_set):
    s = shared_set("shang_n500")
    assert (s.count, s.n) == (200, 500)
    assert s.extras[0]["opt_as_published"] == 50727
    assert (float(s.rdd[0]), float(s.tf[0])) == (0.2, 0.2)
    train = shared_set("paper_train_n25")
    assert train.count == 10000 and train.n == 25 and not train.has_opt.any()


def test_round_trip_is_exact(tmp_path):
    iset = inst.from_arrays([([3, 1], [2, -1]), ([5], [0])], name="rt", source="unit",
                            opt=[4, -1], rdd=[0.2, math.nan], tf=[0.4, math.nan], extras=[{"k": 1}, {"k": 2}])
    inst.save_set(iset, tmp_path / "rt.json")
    back = inst.load_set(tmp_path / "rt.json")
    assert back.sha256() == iset.sha256()
    assert inst.dumps_set(back) == inst.dumps_set(iset)
    assert back.opt.tolist() == [4, -1] and back.extras == ({"k": 1}, {"k": 2})
    p, d = back.get(0)
    with pytest.raises(ValueError):
        p[0] = 7  # arrays are read-only views


def test_sha256_depends_on_content_only():
    a = inst.from_arrays([([3, 1], [2, 1])], name="a")
    b = inst.from_arrays([([3, 1], [2, 1])], name="b")
    c = inst.from_arrays([([3, 1], [2, 2])], name="a")
    assert a.sha256() == b.sha256() != c.sha256()
    assert a.sha256() != a.with_fields(opt=[3]).sha256()


def test_generator_is_deterministic_and_byte_identical(tmp_path):
    a = inst.generate(30, 2, seed=7)
    b = inst.generate(30, 2, seed=7)
    inst.save_set(a, tmp_path / "a.json")
    inst.save_set(b, tmp_path / "b.json")
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()
    assert inst.generate(30, 2, seed=8).sha256() != a.sha256()


def test_generator_follows_the_scheme():
    iset = inst.generate(40, 3, seed=3, keep_negative=True)
    assert iset.count == 5 * 4 * 3 and iset.n == 40
    assert iset.classes()[:2] == [(0.2, 0.2), (0.2, 0.4)]
    for i in range(iset.count):
        p, d = iset.get(i)
        assert p.min() >= 1 and p.max() <= 100
        total = int(p.sum())
        rdd, tf = float(iset.rdd[i]), float(iset.tf[i])
        assert d.min() >= math.floor(total * (1 - tf - rdd / 2))
        assert d.max() <= math.floor(total * (1 - tf + rdd / 2))
    clipped = inst.generate(40, 3, seed=3)
    assert clipped.d.min() >= 0
    assert np.array_equal(clipped.d, np.maximum(iset.d, 0))
    assert (iset.d < 0).any()  # RDD = 1.0, TF = 0.8 reaches below zero


def test_cli_generate_and_check(tmp_path):
    from typer.testing import CliRunner

    from discover.cli import app

    out = tmp_path / "g.json"
    res = CliRunner().invoke(app, ["instances", "generate", "--n", "12", "--per-class", "1", "--seed", "5",
                                   "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert inst.load_set(out).count == 20
    res = CliRunner().invoke(app, ["instances", "check", str(out)])
    assert res.exit_code == 0 and "20 instances, n=12" in res.output
