"""1||ΣT_j, total tardiness: the study's problem, wrapping ``evaluator.kernels``, ``heuristics``,
``instances``, ``stored``, ``exact`` and the plain-Python references of ``archive/references/``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from numba import njit

from evaluator.kernels import tardiness_kernel
from evaluator.task import ARCHIVE_DIR, BASELINES_DIR, Task
from evaluator.tasks import register


@njit(cache=True)
def tardiness_at(p, d, offsets, idx, orders):
    """Return the tardiness of instance ``idx[k]`` under the k-th order in flat ``orders`` (-1: invalid)."""
    out = np.empty(idx.shape[0], np.int64)
    pos = 0
    for k in range(idx.shape[0]):
        a = offsets[idx[k]]
        b = offsets[idx[k] + 1]
        out[k] = tardiness_kernel(p[a:b], d[a:b], orders[pos:pos + b - a])
        pos += b - a
    return out


class TotalTardiness(Task):
    """Order n jobs (p, d) to minimise Σ max(0, C_j − d_j); optima from the memoised Lawler decomposition."""

    name = "total_tardiness"
    title = "1||ΣT_j"
    objective = "total tardiness"
    fields = ("p", "d")
    inputs = "the processing times and the due dates"
    warm = ((3, 1, 4, 2, 5, 2), (4, 2, 9, 3, 12, 6))
    seeds = ("edd", "spt", "mdd")
    baseline = "mdd"
    cost_reference = "aug_mddc"
    references = ARCHIVE_DIR / "references"
    prompt_file = Path(__file__).with_name("prompt.txt")
    scoring = ("Your program is scored by its mean gap (%) to the optimal total tardiness over many instances"
               " with\n$jobs jobs drawn from the classical Potts–Van Wassenhove generator: lower is better.")
    train_set = BASELINES_DIR / "train_n25.json"
    valid_set = BASELINES_DIR / "valid_n25.json"
    probe_sets = tuple(BASELINES_DIR / f"probe_n{n}.json" for n in (100, 500))
    test_ns = (20, 100, 200, 500)
    test_sets = tuple(BASELINES_DIR / f"test_n{n}.json" for n in test_ns)
    class_references = ("MDD", "MDDC")
    exact_methods = ("bb", "mip", "dp")

    def load(self, path: Any) -> Any:
        from evaluator.instances import load_set

        return load_set(path)

    def generate(self, n: int, per_class: int, seed: int, name: str | None = None) -> Any:
        from evaluator.instances import generate

        return generate(n, per_class, seed, name=name)

    def values_at(self, iset: Any, idx: np.ndarray, orders: np.ndarray) -> np.ndarray:
        return tardiness_at(iset.p, iset.d, iset.offsets, idx, orders)

    def rules(self) -> dict[str, Any]:
        from evaluator.heuristics import NAMES, run_on_set

        return {name: (lambda iset, name=name: run_on_set(name, iset)) for name in NAMES}

    def exact(self, p: np.ndarray, d: np.ndarray) -> int | None:
        from evaluator.exact import solve

        return int(solve(p, d).value)

    def solve_exact(self, inputs: tuple, method: str, time_limit: float | None = None, **options: Any) -> Any:
        from evaluator.exact import solve_one

        return solve_one(*inputs, method, time_limit, **options)


TASK = register(TotalTardiness())
