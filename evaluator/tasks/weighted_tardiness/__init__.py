"""1||Σw_jT_j, total weighted tardiness: wraps ``evaluator.weighted`` (instances, kernels, rules, exact
solvers, stored sets) and the plain-Python references of ``archive/weighted_tardiness/references/``.

Its stored train/valid sets are generated at n = 20 with DP optima; its test sets are the OR-Library
sets wt40, wt50 and wt100 in ``../shared/benchmarks`` (read there), whose ``opt`` is optimal where
``proven`` is true and the best known value otherwise.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from numba import njit

from evaluator.task import ARCHIVE_DIR, BASELINES_DIR, Task
from evaluator.tasks import register
from evaluator.weighted.kernels import weighted_tardiness_kernel

SHARED_DIR = ARCHIVE_DIR.parent.parent / "shared" / "benchmarks"


@njit(cache=True)
def weighted_at(p, w, d, offsets, idx, orders):
    """Return the weighted tardiness of instance ``idx[k]`` under the k-th order in flat ``orders``."""
    out = np.empty(idx.shape[0], np.int64)
    pos = 0
    for k in range(idx.shape[0]):
        a = offsets[idx[k]]
        b = offsets[idx[k] + 1]
        out[k] = weighted_tardiness_kernel(p[a:b], w[a:b], d[a:b], orders[pos:pos + b - a])
        pos += b - a
    return out


class WeightedTardiness(Task):
    """Order n jobs (p, w, d) to minimise Σ w_j max(0, C_j − d_j); optima by the subset DP (n ≤ 22)."""

    name = "weighted_tardiness"
    title = "1||Σw_jT_j"
    objective = "total weighted tardiness"
    fields = ("p", "w", "d")
    inputs = "the processing times, the weights and the due dates"
    warm = ((3, 1, 4, 2, 5, 2), (2, 1, 3, 1, 2, 1), (4, 2, 9, 3, 12, 6))
    seeds = ("edd", "wspt", "wmdd")
    baseline = "wmdd"
    cost_reference = "aug_wmdd"
    references = ARCHIVE_DIR / "weighted_tardiness" / "references"
    prompt_file = Path(__file__).with_name("prompt.txt")
    scoring = ("Your program is scored by its mean gap (%) to the optimal total weighted tardiness over many"
               " instances\nwith $jobs jobs drawn from the OR-Library generator (Crauwels, Potts & Van"
               " Wassenhove): lower is better.")
    train_set = BASELINES_DIR / "wt_train_n20.json"
    valid_set = BASELINES_DIR / "wt_valid_n20.json"
    test_ns = (40, 50, 100)
    test_sets = tuple(SHARED_DIR / f"orlib_wt{n}.json" for n in test_ns)
    class_references = ("WMDD", "Aug-WMDD")
    exact_methods = ("ti", "mip", "dp")
    best_known_opt = True

    def load(self, path: Any) -> Any:
        from evaluator.weighted.instances import load_weighted

        return load_weighted(path)

    def accepts(self, raw: dict[str, Any]) -> bool:
        from evaluator.weighted.instances import is_weighted

        return is_weighted(raw)

    def generate(self, n: int, per_class: int, seed: int, name: str | None = None) -> Any:
        from evaluator.weighted.instances import generate_weighted

        return generate_weighted(n, per_class, seed, name=name)

    def proven(self, iset: Any) -> np.ndarray:
        return iset.proven & iset.has_opt

    def values_at(self, iset: Any, idx: np.ndarray, orders: np.ndarray) -> np.ndarray:
        return weighted_at(iset.p, iset.w, iset.d, iset.offsets, idx, orders)

    def rules(self) -> dict[str, Any]:
        from evaluator.weighted.rules import NAMES, run_on_set

        return {name: (lambda iset, name=name: run_on_set(name, iset)) for name in NAMES}

    def exact(self, p: np.ndarray, w: np.ndarray, d: np.ndarray) -> int | None:
        from evaluator.weighted.exact import MAX_DP_JOBS, solve_dp_weighted

        return int(solve_dp_weighted(p, w, d).value) if len(p) <= MAX_DP_JOBS else None

    def solve_exact(self, inputs: tuple, method: str, time_limit: float | None = None, **options: Any) -> Any:
        from evaluator.weighted.exact import solve_weighted

        return solve_weighted(*inputs, method=method, time_limit=time_limit)

    def with_solutions(self, iset: Any, opt: np.ndarray, proven: np.ndarray, extras: tuple[dict, ...]) -> Any:
        from evaluator.weighted.instances import WeightedSet

        base = iset.base.with_fields(opt=opt, extras=extras)
        return WeightedSet(base, iset.w, np.asarray(proven, np.bool_))

    def dumps(self, iset: Any) -> str:
        import json

        return json.dumps({"task": self.name, **iset.to_dict()}, separators=(",", ":")) + "\n"


TASK = register(WeightedTardiness())
