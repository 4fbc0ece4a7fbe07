"""Cost in the archive: ratios of seconds per instance to each reference, domination and fronts per n.

The figures are the index's ``seconds_per_instance`` on each stored test set, with the mode each
was measured in (``SetScore.mode``: compiled or Python). A ratio or a domination compares an entry
with a reference in the entry's mode only: a Python champion with the reference's plain-Python
file (``python_seconds_per_instance``), a compiled one with the numba kernel; where the reference
has no figure in that mode there is no ratio. An entry *dominates* a reference at one n when its
mean gap there is lower and its seconds per instance no higher."""

from __future__ import annotations

import math
from typing import Any

from discover.archive.index import IndexEntry
from discover.report.front import Point, on_front, scatter


def _by_n(rec: IndexEntry) -> dict[int, Any]:
    return {s.n: s for s in rec.scores.values() if s.n}


def _seconds_like(ref_score: Any, mine: Any) -> float | None:
    """Return the reference's seconds per instance in the mode ``mine`` was measured in (None: none)."""
    if ref_score is None:
        return None
    s = ref_score.seconds_in(mine.mode) if mine.mode else ref_score.seconds_per_instance
    return s if s and s > 0 else None


def cost_ratios(rec: IndexEntry, refs: list[IndexEntry]) -> dict[str, dict[int, float]]:
    """Return reference id → {n: the entry's seconds per instance over the reference's}."""
    mine = _by_n(rec)
    out: dict[str, dict[int, float]] = {}
    for ref in refs:
        if ref.id == rec.id:
            continue
        theirs = _by_n(ref)
        row = {}
        for n in sorted(mine):
            ref_s = _seconds_like(theirs.get(n), mine[n])
            if ref_s and mine[n].seconds_per_instance > 0:
                row[n] = mine[n].seconds_per_instance / ref_s
        if row:
            out[ref.id] = row
    return out


def dominated(rec: IndexEntry, refs: list[IndexEntry]) -> dict[int, list[str]]:
    """Return n → the references this entry dominates there (lower gap at no more seconds per instance)."""
    mine = _by_n(rec)
    out: dict[int, list[str]] = {}
    for n, s in sorted(mine.items()):
        if s.mean_gap_pct is None or s.seconds_per_instance <= 0:
            continue
        for ref in refs:
            r = _by_n(ref).get(n)
            ref_s = _seconds_like(r, s)
            if ref.id == rec.id or r is None or r.mean_gap_pct is None or not ref_s:
                continue
            if s.mean_gap_pct < r.mean_gap_pct and s.seconds_per_instance <= ref_s:
                out.setdefault(n, []).append(ref.id)
    return out


def dominates_text(rec: IndexEntry, refs: list[IndexEntry]) -> str:
    """Return e.g. ``n=100: MDD, MDDC; n=500: MDD`` (``-`` when none)."""
    d = dominated(rec, refs)
    return "; ".join(f"n={n}: {', '.join(ids)}" for n, ids in d.items()) or "-"


def ratio_text(rec: IndexEntry, refs: list[IndexEntry], reference: str = "Aug-MDDC") -> str:
    """Return the cost ratio to ``reference`` at the largest n both have, e.g. ``440× @500``."""
    row = cost_ratios(rec, [r for r in refs if r.id == reference]).get(reference)
    if not row:
        return "-"
    n = max(row)
    return f"{row[n]:.3g}× @{n}"


def fronts(recs: list[IndexEntry]) -> dict[int, list[tuple[IndexEntry, bool]]]:
    """Return n → (entry, on the front) for every entry scored at that n, cheapest first."""
    out: dict[int, list[tuple[IndexEntry, bool]]] = {}
    ns = sorted({n for r in recs for n in _by_n(r)})
    for n in ns:
        have = [r for r in recs if n in _by_n(r) and _by_n(r)[n].mean_gap_pct is not None]
        pts = [Point(r.id, _by_n(r)[n].mean_gap_pct, _by_n(r)[n].seconds_per_instance or math.inf)
               for r in have]
        marks = on_front(pts)
        out[n] = sorted(zip(have, marks, strict=True), key=lambda x: _by_n(x[0])[n].seconds_per_instance)
    return out


def front_svg(recs: list[IndexEntry], n: int) -> str:
    """Return the scatter of mean gap against seconds per instance at one n (references vs champions)."""
    pts = [Point(r.id, _by_n(r)[n].mean_gap_pct, _by_n(r)[n].seconds_per_instance,
                 0 if r.kind == "reference" else 1)
           for r in recs if n in _by_n(r) and _by_n(r)[n].mean_gap_pct is not None]
    return scatter(pts, f"Archive at n = {n}: mean test gap against seconds per instance", "s per instance",
                   ["reference", "champion"])
