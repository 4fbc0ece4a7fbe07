"""Comparisons between indexed entries: instance-by-instance wins and per-class gaps."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from discover.archive.index import IndexEntry
from discover.archive.scoring import SetScore

Class = tuple[float, float]


@dataclass(frozen=True)
class Tally:
    """How often A beats, ties or loses to B on the instances both solved."""

    better: int
    equal: int
    worse: int

    def __str__(self) -> str:
        return f"{self.better}/{self.equal}/{self.worse}"


def tally(a: SetScore, b: SetScore) -> Tally | None:
    """Return A's wins / ties / losses (lower tardiness wins) against B on the same set, or None."""
    if a.sha256 != b.sha256 or len(a.values) != len(b.values) or not a.values:
        return None
    va, vb = np.array(a.values), np.array(b.values)
    ok = (va >= 0) & (vb >= 0)
    return Tally(int(np.sum(ok & (va < vb))), int(np.sum(ok & (va == vb))), int(np.sum(ok & (va > vb))))


def class_gaps(rec: IndexEntry, set_name: str | None = None) -> dict[Class, float]:
    """Return mean gap % per (RDD, TF) class: on one set, or averaged over the sets scored."""
    sums: dict[Class, list[float]] = {}
    for name, s in rec.scores.items():
        if set_name is not None and name != set_name:
            continue
        for c in s.by_class:
            if c.mean_gap_pct is not None:
                sums.setdefault((c.rdd, c.tf), []).append(c.mean_gap_pct)
    return {k: sum(v) / len(v) for k, v in sorted(sums.items())}


def set_names(*recs: IndexEntry) -> list[str]:
    """Return the set names any of the records was scored on, smallest n first."""
    names = {n: s.n or 0 for r in recs for n, s in r.scores.items()}
    return sorted(names, key=lambda n: (names[n], n))


def max_gap(rec: IndexEntry) -> float | None:
    """Return the largest instance gap % over all sets scored."""
    gaps = [s.max_gap_pct for s in rec.scores.values() if s.max_gap_pct is not None]
    return max(gaps) if gaps else None


def optimal_count(rec: IndexEntry) -> tuple[int, int]:
    """Return (instances solved optimally, instances) over all sets scored."""
    return (sum(s.optimal or 0 for s in rec.scores.values()), sum(s.instances for s in rec.scores.values()))
