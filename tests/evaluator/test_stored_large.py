"""The large stored sets' build: resumable from its partial log, unproven instances marked, solve metadata."""

from __future__ import annotations

import json

import numpy as np
import pytest

from evaluator import stored
from evaluator.exact import bb as bb_module
from evaluator.exact import solve, solve_dp
from evaluator.exact.checkpoint import read_log
from evaluator.stored import StoredSpec, build_stored_sets, generate_spec, proven_mask, read_stored
from tests.conftest import REPO

STORED = REPO / "archive" / "baselines"

TINY = StoredSpec("test_tiny", 14, 1, seed=7, large=True, time_limit=60.0)


def _build(tmp_path, monkeypatch, spec=TINY):
    monkeypatch.setattr(stored, "SPECS", (spec,))
    lines = []

    class Say:
        def print(self, text, **_):
            lines.append(text)

    (path,) = build_stored_sets(tmp_path, Say(), jobs=1)
    return path, lines


def test_a_large_set_records_its_optima_and_per_class_figures(tmp_path, monkeypatch):
    path, lines = _build(tmp_path, monkeypatch)
    iset, values, _ = read_stored(path)
    want = [solve_dp(*iset.get(i)).value for i in range(iset.count)]
    assert iset.opt.tolist() == want and proven_mask(iset).all()
    meta = json.loads(path.read_text())["solve"]
    assert meta["proven"] == 20 and meta["clock"] == "cpu" and meta["time_limit_s"] == 60.0
    assert [(c["rdd"], c["tf"]) for c in meta["classes"]] == iset.classes()
    assert all(c["instances"] == 1 and c["max_s"] >= c["mean_s"] >= 0 for c in meta["classes"])
    assert sum("done; instance" in x for x in lines) == 20
    log = tmp_path / "test_tiny.partial.jsonl"
    assert len(read_log(log, generate_spec(TINY))) == 20  # kept: building again solves nothing
    before = path.read_bytes()
    again, lines = _build(tmp_path, monkeypatch)
    assert not any("done; instance" in x for x in lines)
    assert json.loads(again.read_bytes())["instances"] == json.loads(before)["instances"]
    assert values["MDD"] == [int(v) for v in values["MDD"]]


def test_the_build_resumes_from_its_partial_log(tmp_path, monkeypatch):
    (tmp_path / "a").mkdir()
    first, _ = _build(tmp_path / "a", monkeypatch)
    iset = generate_spec(TINY)
    log = tmp_path / "b" / "test_tiny.partial.jsonl"
    log.parent.mkdir()
    # a log cut by a kill: 7 whole records and a torn eighth
    full = tmp_path / "full.jsonl"
    monkeypatch.setattr(stored, "SPECS", (TINY,))
    stored.make_set(TINY, log_path=full)
    text = full.read_text().splitlines(keepends=True)
    log.write_text("".join(text[:7]) + text[7][:20])
    assert len(read_log(log, iset)) == 7
    solved = []
    monkeypatch.setattr(stored, "_progress_line", lambda spec, say: lambda c, t, i, r: solved.append(i))
    second, _ = _build(tmp_path / "b", monkeypatch)
    assert len(solved) == 13 and not set(solved) & {json.loads(x)["i"] for x in text[:7]}
    a, b = read_stored(first), read_stored(second)
    assert a[0].sha256() == b[0].sha256() and a[1] == b[1]


def test_a_log_of_another_set_is_refused(tmp_path):
    log = tmp_path / "x.jsonl"
    stored.make_set(TINY, log_path=log)
    other = generate_spec(StoredSpec("other", 14, 1, seed=8))
    with pytest.raises(ValueError, match=r"x.jsonl: line 1: instance \d+ has other data"):
        read_log(log, other)


def test_unproven_instances_keep_the_best_known_value_and_a_bound(tmp_path, monkeypatch):
    spec = StoredSpec("test_hard", 260, 1, seed=1, tf_grid=(0.6,), large=True, time_limit=0.001)
    monkeypatch.setattr(bb_module, "_BUDGET", 50)  # look at the clock often
    path, _ = _build(tmp_path, monkeypatch, spec)
    iset, values, _ = read_stored(path)
    raw = json.loads(path.read_text())
    unproven = ~proven_mask(iset)
    assert unproven.any() and raw["solve"]["proven"] == int((~unproven).sum())
    for i in np.flatnonzero(unproven):
        ex = iset.extras[i]
        assert ex["proven"] is False and 0 <= ex["lower_bound"] <= iset.opt[i]
        assert iset.opt[i] <= min(v[i] for v in values.values())  # the best known of all


def check_sample(path, spec, limit_s=0.5):
    """Check a large stored set against a rebuild: all instances regenerated, the first of each class solved.

    A sample instance solved within ``limit_s`` CPU seconds must equal the stored optimum (and be
    proven there); one that is not must bound it: its lower bound <= stored value, and a stored
    proven optimum <= its value. Returns the number of instances checked for equality.
    """
    iset, _, _ = read_stored(path)
    gen = generate_spec(spec)
    assert np.array_equal(gen.offsets, iset.offsets) and np.array_equal(gen.p, iset.p)
    assert np.array_equal(gen.d, iset.d)
    proven = proven_mask(iset)
    equal = 0
    for rdd, tf in iset.classes():
        i = next(k for k in range(iset.count) if iset.rdd[k] == rdd and iset.tf[k] == tf)
        r = solve(*gen.get(i), time_limit=limit_s, clock="cpu")
        if r.optimal:
            assert r.value == iset.opt[i] and proven[i], f"{path.name} instance {i}"
            equal += 1
        else:
            assert r.lower_bound <= iset.opt[i], f"{path.name} instance {i}"
            assert not proven[i] or iset.opt[i] <= r.value, f"{path.name} instance {i}"
    return equal


@pytest.mark.slow
@pytest.mark.parametrize("name", ["test_n800", "test_n1000"])
def test_a_sample_of_each_class_rebuilds_to_the_stored_optima(name):
    path = STORED / f"{name}.json"
    if not path.exists():
        pytest.skip(f"{path.name} is not built yet (`discover baselines build --only {name}`)")
    assert check_sample(path, stored.spec_named(name)) >= 8  # the easy classes are proven in time
