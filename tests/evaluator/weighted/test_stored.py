"""Stored weighted sets: their recorded content is what the spec rebuilds, instance by instance."""

from __future__ import annotations

import numpy as np
import pytest

from evaluator.stored import dumps_stored
from evaluator.weighted.exact import solve_dp_weighted
from evaluator.weighted.kernels import weighted_tardiness
from evaluator.weighted.rules import FUNCTIONS, NAMES
from evaluator.weighted.stored import (
    SPECS,
    WeightedSpec,
    generate_spec,
    make_set,
    read_weighted_stored,
    spec_named,
)
from tests.conftest import REPO

SIZES = {"wt_train_n20": 2000, "wt_valid_n20": 500}


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_stored_set_matches_a_rebuild_of_some_instances(spec):
    wset, values = read_weighted_stored(REPO / "archive" / "baselines" / f"{spec.name}.json")
    assert wset.count == SIZES[spec.name] and wset.n == 20 and wset.proven.all()
    fresh = generate_spec(spec)
    for field in ("p", "w", "d", "offsets"):
        assert np.array_equal(getattr(fresh, field), getattr(wset, field)), field
    for i in (0, wset.count // 2 + 7, wset.count - 1):
        p, w, d = fresh.get(i)
        assert solve_dp_weighted(p, w, d).value == wset.opt[i]
        for name in NAMES:
            assert values[name][i] == weighted_tardiness(p, w, d, FUNCTIONS[name](p, w, d)) >= wset.opt[i]


def test_a_small_spec_rebuilds_byte_for_byte():
    spec = WeightedSpec("tiny", 9, 1, seed=4)
    assert dumps_stored(*make_set(spec)) == dumps_stored(*make_set(spec, jobs=2))


def test_a_changed_file_is_refused(tmp_path):
    text = dumps_stored(*make_set(WeightedSpec("tiny", 6, 1, seed=4)))
    path = tmp_path / "tiny.json"
    path.write_text(text.replace('"opt":', '"opt":1', 1))
    with pytest.raises(ValueError, match="sha256"):
        read_weighted_stored(path)
    with pytest.raises(KeyError, match="known: wt_train_n20, wt_valid_n20"):
        spec_named("wt_test")
