"""A toy task defined in the tests folder alone: 1||ΣC_j, total completion time, where SPT is optimal.

It shows that a new problem is one package: it reuses the ΣT_j instance files (d is ignored), scores
orders by Σ C_j, and knows its optimum exactly (the SPT order).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from evaluator.instances import generate, load_set
from evaluator.task import Task

HERE = Path(__file__).resolve().parent


def completion_time(p: np.ndarray, order: np.ndarray) -> int:
    """Return Σ C_j of an order, or -1 when it is not a permutation of range(n)."""
    n = len(p)
    if len(order) != n or not np.array_equal(np.sort(order), np.arange(n)):
        return -1
    return int(np.cumsum(p[order]).sum())


class TotalCompletionTime(Task):
    name = "total_completion"
    title = "1||ΣC_j"
    objective = "total completion time"
    fields = ("p", "d")
    inputs = "the processing times and the due dates"
    warm = ((3, 1, 4, 2, 5, 2), (4, 2, 9, 3, 12, 6))
    seeds = ("edd", "lpt")
    baseline = "edd"
    cost_reference = "edd"
    references = HERE / "references"
    prompt_file = HERE / "prompt.txt"
    scoring = "Your program is scored by its mean gap (%) to the optimal ΣC_j ($jobs): lower is better."

    def __init__(self, folder: Path) -> None:
        self.train_set, self.valid_set = folder / "toy_train.json", folder / "toy_valid.json"

    def load(self, path: Any) -> Any:
        return load_set(path)

    def generate(self, n: int, per_class: int, seed: int, name: str | None = None) -> Any:
        iset = generate(n, per_class, seed, name=name)
        return iset.with_fields(opt=[self.exact(*self.instance(iset, i)) for i in range(iset.count)])

    def values_at(self, iset: Any, idx: np.ndarray, orders: np.ndarray) -> np.ndarray:
        out, pos = np.empty(len(idx), np.int64), 0
        for k, i in enumerate(idx.tolist()):
            p = iset.p[iset.offsets[i]:iset.offsets[i + 1]]
            out[k] = completion_time(p, orders[pos:pos + len(p)])
            pos += len(p)
        return out

    def exact(self, p: np.ndarray, d: np.ndarray) -> int:
        return completion_time(p, np.argsort(p, kind="stable"))
