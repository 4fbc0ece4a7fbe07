"""The evaluation cache: the same program on the same set with the same seed is scored once.

Keys hash the normalised code (an AST dump without layout, comments or docstrings), the entry
name, ``evaluator.EVALUATOR_VERSION``, the set's sha256, the seed and, for results that depend
on it, the cascade. Results that depend on the machine (timeouts, memory, crashes) are never
stored. Entries live in memory and, given a path, in a SQLite file shared across runs.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from pathlib import Path

import numpy as np

from evaluator import EVALUATOR_VERSION
from evaluator.sandbox.policy import normalized_dump
from evaluator.sandbox.result import EvalResult

SCHEMA = 1


def cache_key(code: str, entry: str, set_sha256: str, seed: int, variant: str = "") -> str | None:
    """Return the cache key of an evaluation, or None when the code does not parse."""
    dump = normalized_dump(code)
    if dump is None:
        return None
    text = json.dumps([SCHEMA, EVALUATOR_VERSION, dump, entry, set_sha256, int(seed), variant])
    return hashlib.sha256(text.encode()).hexdigest()


class EvalCache:
    """A thread-safe map from cache keys to results, optionally persisted in SQLite."""

    def __init__(self, path: str | Path | None = None):
        self._mem: dict[str, EvalResult] = {}
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        if path is not None:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(path), timeout=30, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS results (key TEXT PRIMARY KEY, status TEXT NOT NULL,"
                " error TEXT NOT NULL, cut_short INTEGER NOT NULL, tardiness BLOB NOT NULL,"
                " seconds BLOB NOT NULL)")
            self._db.commit()

    def __len__(self) -> int:
        with self._lock:
            if self._db is not None:
                return int(self._db.execute("SELECT COUNT(*) FROM results").fetchone()[0])
            return len(self._mem)

    def get(self, key: str | None) -> EvalResult | None:
        """Return the stored result (marked ``cached``) or None."""
        if key is None:
            return None
        with self._lock:
            hit = self._mem.get(key)
            if hit is None and self._db is not None:
                row = self._db.execute("SELECT status, error, cut_short, tardiness, seconds FROM results"
                                       " WHERE key = ?", (key,)).fetchone()
                if row is not None:
                    hit = EvalResult(row[0], row[1], np.frombuffer(row[3], dtype="<i8"),
                                     np.frombuffer(row[4], dtype="<f8"), cut_short=bool(row[2]))
                    self._mem[key] = hit
        if hit is None:
            return None
        return EvalResult(hit.status, hit.error, hit.tardiness, hit.seconds, hit.cut_short, cached=True)

    def put(self, key: str | None, result: EvalResult) -> None:
        """Store a result under a key (no-op for a None key)."""
        if key is None:
            return
        with self._lock:
            self._mem[key] = result
            if self._db is not None:
                self._db.execute(
                    "INSERT OR REPLACE INTO results VALUES (?, ?, ?, ?, ?, ?)",
                    (key, result.status, result.error, int(result.cut_short),
                     result.tardiness.astype("<i8").tobytes(), result.seconds.astype("<f8").tobytes()))
                self._db.commit()

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None
