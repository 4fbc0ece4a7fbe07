"""Score the baseline heuristics on an instance set."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from evaluator.heuristics import NAMES, run_on_set
from evaluator.instances import InstanceSet
from evaluator.kernels import tardiness_of_set
from evaluator.scoring import Summary, summarize


@dataclass(frozen=True)
class BaselineScore:
    """One heuristic's values on a set, with its summary and mean seconds per instance."""

    name: str
    values: np.ndarray
    summary: Summary
    mean_seconds: float


def score_baselines(iset: InstanceSet, names: tuple[str, ...] = NAMES) -> list[BaselineScore]:
    """Run each named heuristic on every instance (one numba call each) and summarise it."""
    out = []
    for name in names:
        run_on_set(name, iset.subset([0]) if iset.count else iset)  # warm up: compile or load cache
        t0 = time.perf_counter()
        orders = run_on_set(name, iset)
        seconds = time.perf_counter() - t0
        values = tardiness_of_set(iset, orders)
        out.append(BaselineScore(name, values, summarize(values, iset), seconds / max(iset.count, 1)))
    return out
