"""Score the weighted rules on a weighted set: gaps against ``opt``, split into proven and best known.

Gaps follow the project's convention (``evaluator.scoring``): 100·(H − opt)/opt averaged over the
instances with opt > 0. Where ``proven`` is false, ``opt`` is only the best known value, so those
gaps are upper bounds on the true ones and a value below it is a new best known. The total gap
100·(ΣH/Σopt − 1) is given beside it: the mean of ratios is dominated by instances of tiny opt.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from evaluator.scoring import Summary, gaps_pct, summarize
from evaluator.weighted.instances import WeightedSet
from evaluator.weighted.kernels import weighted_of_set
from evaluator.weighted.rules import NAMES, run_on_set


@dataclass(frozen=True)
class WeightedScore:
    """One rule on a set: values, the summary, gap means over proven and best-known opt, seconds."""

    name: str
    values: np.ndarray
    summary: Summary
    gap_proven_pct: float | None
    gap_best_known_pct: float | None
    below_best_known: int
    total_gap_pct: float | None
    mean_seconds: float


def _mean(a: np.ndarray) -> float | None:
    a = a[~np.isnan(a)]
    return float(a.mean()) if a.size else None


def _total_gap(values: np.ndarray, opt: np.ndarray) -> float | None:
    """Return 100·(ΣH/Σopt − 1) over the instances with a known opt (None if Σopt is 0)."""
    known = opt >= 0
    total = int(opt[known].sum())
    return 100.0 * (int(values[known].sum()) / total - 1.0) if total > 0 else None


def score_weighted(wset: WeightedSet, names: tuple[str, ...] = NAMES) -> list[WeightedScore]:
    """Run each named rule on every instance (one numba call each) and summarise it."""
    out = []
    known = wset.opt >= 0
    for name in names:
        run_on_set(name, wset)  # warm up: compile or load the cache
        t0 = time.perf_counter()
        orders = run_on_set(name, wset)
        seconds = time.perf_counter() - t0
        values = weighted_of_set(wset, orders)
        gaps = gaps_pct(values, wset.opt)
        out.append(WeightedScore(
            name, values, summarize(values, wset.base),
            _mean(gaps[wset.proven]), _mean(gaps[known & ~wset.proven]),
            int(np.sum(known & ~wset.proven & (values < wset.opt))), _total_gap(values, wset.opt),
            seconds / max(wset.count, 1)))
    return out
