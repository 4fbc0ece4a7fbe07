"""The numba baselines as sandbox programs: the same schedules as the kernels, run compiled."""

from __future__ import annotations

import numpy as np
import pytest

from evaluator import heuristics
from evaluator.compiled_programs import PROGRAMS, compiled_program
from evaluator.instances import generate
from evaluator.kernels import tardiness_of_set
from evaluator.sandbox import Sandbox, check_code

RULE = {"edd": "EDD", "mdd": "MDD", "aug_mdd": "Aug-MDD", "mddc": "MDDC", "aug_mddc": "Aug-MDDC"}


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_each_program_passes_the_candidates_policy(name):
    assert check_code(compiled_program(name)) is None  # None: nothing refused


@pytest.mark.slow
def test_the_programs_score_as_the_kernels_and_run_compiled():
    iset = generate(40, 1, 9, rdd_grid=(0.2, 0.6), tf_grid=(0.4, 0.8))  # ties in d and p occur at n = 40
    with Sandbox(workers=1, timeout_s=60.0) as sb:
        for name in ("aug_mddc",):  # the default cost reference; the others are built the same way
            r = sb.evaluate(compiled_program(name), iset)
            assert r.status == "ok" and r.mode == "compiled", (name, r.error, r.compile_error)
            kernel = heuristics.run_on_set(RULE[name], iset)
            assert np.array_equal(r.tardiness, tardiness_of_set(iset, kernel))
