"""The stored sets in archive/baselines: content hashes, optima, baseline values, deterministic rebuild."""

from __future__ import annotations

import json

import numpy as np
import pytest

from evaluator.exact import solve_dp
from evaluator.heuristics import run_on_set
from evaluator.kernels import tardiness_of_set
from evaluator.stored import SPECS, build_stored_sets, proven_mask, read_stored
from tests.conftest import REPO

STORED = REPO / "archive" / "baselines"


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_stored_file_is_consistent(spec):
    path = STORED / f"{spec.name}.json"
    if spec.large and not path.exists():
        pytest.skip(f"{path.name} is not built yet (`discover baselines build --only {spec.name}`)")
    iset, values, digest = read_stored(path)
    assert digest == iset.sha256()
    assert iset.n == spec.n and iset.count == spec.per_class * 5 * len(spec.tf_grid)
    assert iset.has_opt.all()
    assert proven_mask(iset).all() or spec.large
    for name in ("MDD", "Aug-MDDC", "EDDC"):
        assert values[name] == tardiness_of_set(iset, run_on_set(name, iset)).tolist()
        assert (np.array(values[name]) >= iset.opt).all()  # no heuristic beats an optimum
    assert spec.keep_negative == bool((iset.d < 0).any())


def test_n20_optima_equal_the_subset_dp():
    iset, _, _ = read_stored(STORED / "test_n20.json")
    for i in range(0, iset.count, 10):
        assert solve_dp(*iset.get(i)).value == iset.opt[i]


def test_rebuild_is_byte_identical(tmp_path):
    written = build_stored_sets(tmp_path, names=("valid_n25", "test_n20", "probe_n100"))
    assert [p.name for p in written] == ["valid_n25.json", "test_n20.json", "probe_n100.json"]
    for path in written:
        assert path.read_bytes() == (STORED / path.name).read_bytes()


@pytest.mark.parametrize("n", [100, 500])
def test_probe_sets_share_no_instance_with_the_test_sets(n):
    probe, _, _ = read_stored(STORED / f"probe_n{n}.json")
    test, _, _ = read_stored(STORED / f"test_n{n}.json")
    seen = {(tuple(p), tuple(d)) for p, d in (test.get(i) for i in range(test.count))}
    assert probe.classes() == test.classes()  # stratified over the same 20 classes
    assert not any((tuple(p), tuple(d)) in seen for p, d in (probe.get(i) for i in range(probe.count)))


def test_tampered_stored_file_is_refused(tmp_path):
    raw = json.loads((STORED / "test_n20.json").read_text())
    raw["instances"][3]["opt"] += 1
    path = tmp_path / "test_n20.json"
    path.write_text(json.dumps(raw))
    with pytest.raises(ValueError, match=r"^test_n20.json: field sha256 = .* does not match the content"):
        read_stored(path)
