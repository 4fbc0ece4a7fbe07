"""Helpers shared by the benchmark scripts: where the shared sets are, and a best-of timer."""

from __future__ import annotations

import time
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared" / "benchmarks"


def shared_file(name: str) -> Path | None:
    """Return the path of a shared benchmark set, or None (and say so) when it is missing."""
    path = SHARED / f"{name}.json"
    if not path.exists():
        print(f"  skipped: {path} not found (../shared/benchmarks is not beside this checkout)")
        return None
    return path


def best_of(fn, repeat: int = 3) -> float:
    """Return the best wall time of ``repeat`` calls of fn, in seconds."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best
