"""Exact solvers for 1||ΣT_j.

* ``solve``: memoised Lawler decomposition ("Branch & Memorize light"), the default; n = 500 in seconds.
* ``solve_mip``: the positional MIP of Keha et al. (2009) with HiGHS, the study's exact model.
* ``solve_dp``: dynamic programme over subsets, the reference for n <= 22.
* ``solve_set``: any of them over an instance set, optionally in worker processes.

Every result is an ``ExactResult`` whose sequence was re-checked with the tardiness kernel.
"""

from evaluator.exact.bb import DEFAULT_MEMO_CAP_MB, solve
from evaluator.exact.dp import MAX_DP_JOBS, brute_force, solve_dp
from evaluator.exact.mip import solve_mip
from evaluator.exact.result import STATUSES, ExactResult
from evaluator.exact.solve_set import METHODS, solve_one, solve_set

__all__ = [
    "DEFAULT_MEMO_CAP_MB",
    "MAX_DP_JOBS",
    "METHODS",
    "STATUSES",
    "ExactResult",
    "brute_force",
    "solve",
    "solve_dp",
    "solve_mip",
    "solve_one",
    "solve_set",
]
