"""Gaps to the optimum and per-class summaries, with the study's conventions."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from evaluator.instances import InstanceSet


def gaps_pct(values: np.ndarray, opt: np.ndarray) -> np.ndarray:
    """Return 100·(H − opt)/opt per instance; NaN where opt is unknown or zero (study's convention)."""
    values = np.asarray(values, dtype=np.float64)
    opt = np.asarray(opt, dtype=np.float64)
    out = np.full(values.shape, np.nan)
    mask = (opt > 0) & (values >= 0)
    out[mask] = 100.0 * (values[mask] - opt[mask]) / opt[mask]
    return out


@dataclass(frozen=True)
class ClassRow:
    """Scores of one (RDD, TF) class."""

    rdd: float
    tf: float
    instances: int
    mean_tardiness: float
    mean_gap_pct: float | None
    optimal: int


@dataclass(frozen=True)
class Summary:
    """Scores of one heuristic on one set; gap fields are None when no optimum is known."""

    instances: int
    invalid: int
    mean_tardiness: float
    mean_gap_pct: float | None
    max_gap_pct: float | None
    optimal: int | None
    by_class: tuple[ClassRow, ...] = field(default=())


def _mean_or_none(a: np.ndarray) -> float | None:
    a = a[~np.isnan(a)]
    return float(a.mean()) if a.size else None


def summarize(values: np.ndarray, iset: InstanceSet) -> Summary:
    """Summarise per-instance tardiness values (−1 = invalid) on a set."""
    values = np.asarray(values, dtype=np.int64)
    valid = values >= 0
    known = iset.has_opt
    gaps = gaps_pct(values, iset.opt)
    has_gap = bool(known.any())
    rows = []
    for rdd, tf in iset.classes():
        if math.isnan(rdd) and math.isnan(tf):
            continue
        m = (iset.rdd == rdd) & (iset.tf == tf)
        v = values[m & valid]
        rows.append(ClassRow(
            rdd=rdd, tf=tf, instances=int(m.sum()),
            mean_tardiness=float(v.mean()) if v.size else math.nan,
            mean_gap_pct=_mean_or_none(gaps[m]) if has_gap else None,
            optimal=int(np.sum(m & valid & known & (values == iset.opt))),
        ))
    return Summary(
        instances=len(values),
        invalid=int((~valid).sum()),
        mean_tardiness=float(values[valid].mean()) if valid.any() else math.nan,
        mean_gap_pct=_mean_or_none(gaps) if has_gap else None,
        max_gap_pct=float(np.nanmax(gaps)) if has_gap and not np.all(np.isnan(gaps)) else None,
        optimal=int(np.sum(valid & known & (values == iset.opt))) if has_gap else None,
        by_class=tuple(rows),
    )
