"""The evaluation cache: the same program on the same set with the same seed is scored once.

Keys hash what runs: the code object the candidate's process executes (its bytecode, constants
and docstrings, names, line and column table, recursively), the Python version that compiled
it, the entry name, ``evaluator.EVALUATOR_VERSION``, the set's sha256, the seed and, for
results that depend on it, the cascade. Two texts share a key only when they compile to the
same code, so nothing a running program can observe of itself differs between them. Results
that depend on the machine (timeouts, memory, crashes) are never stored. Entries live in
memory and, given a path, in a SQLite file shared across runs.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import sys
import threading
from pathlib import Path
from types import CodeType
from typing import Any

import numpy as np

from evaluator import EVALUATOR_VERSION
from evaluator.sandbox.policy import compile_candidate
from evaluator.sandbox.result import EvalResult

SCHEMA = 3
TABLE = "results_v3"  # results with their mode and compile time (older files keep their own table)
_CODE_FIELDS = (
    "co_argcount", "co_posonlyargcount", "co_kwonlyargcount", "co_nlocals", "co_stacksize", "co_flags",
    "co_code", "co_names", "co_varnames", "co_freevars", "co_cellvars", "co_filename", "co_name",
    "co_qualname", "co_firstlineno", "co_linetable", "co_exceptiontable",
)


def code_digest(code: CodeType) -> str:
    """Return a sha256 of everything in a code object, nested code objects included."""
    h = hashlib.sha256(sys.implementation.cache_tag.encode())
    _feed(h, code)
    return h.hexdigest()


def _feed(h: Any, value: Any) -> None:
    if isinstance(value, CodeType):
        h.update(b"C")
        for name in _CODE_FIELDS:
            _feed(h, getattr(value, name, None))
        _feed(h, value.co_consts)
    elif isinstance(value, tuple):
        h.update(b"T%d(" % len(value))
        for v in value:
            _feed(h, v)
        h.update(b")")
    elif isinstance(value, frozenset):  # its repr order depends on the hash seed
        h.update(b"F" + repr(sorted(repr(v) for v in value)).encode())
    else:
        text = repr(value).encode()
        h.update(b"%s:%d:" % (type(value).__name__.encode(), len(text)) + text)


def cache_key(code: str, entry: str, set_sha256: str, seed: int, variant: str = "") -> str | None:
    """Return the cache key of an evaluation, or None when the code does not compile."""
    compiled, _ = compile_candidate(code)
    if compiled is None:
        return None
    parts = [SCHEMA, EVALUATOR_VERSION, code_digest(compiled), entry, set_sha256, int(seed), variant]
    text = json.dumps(parts)
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
                f"CREATE TABLE IF NOT EXISTS {TABLE} (key TEXT PRIMARY KEY, status TEXT NOT NULL,"
                " error TEXT NOT NULL, cut_short INTEGER NOT NULL, tardiness BLOB NOT NULL,"
                " seconds BLOB NOT NULL, mode TEXT NOT NULL, compile_s REAL NOT NULL,"
                " compile_error TEXT NOT NULL)")
            self._db.commit()

    def __len__(self) -> int:
        with self._lock:
            if self._db is not None:
                return int(self._db.execute(f"SELECT COUNT(*) FROM {TABLE}").fetchone()[0])
            return len(self._mem)

    def get(self, key: str | None) -> EvalResult | None:
        """Return the stored result (marked ``cached``) or None."""
        if key is None:
            return None
        with self._lock:
            hit = self._mem.get(key)
            if hit is None and self._db is not None:
                row = self._db.execute("SELECT status, error, cut_short, tardiness, seconds, mode, compile_s,"
                                       f" compile_error FROM {TABLE} WHERE key = ?", (key,)).fetchone()
                if row is not None:
                    hit = EvalResult(row[0], row[1], np.frombuffer(row[3], dtype="<i8"),
                                     np.frombuffer(row[4], dtype="<f8"), cut_short=bool(row[2]), mode=row[5],
                                     compile_s=float(row[6]), compile_error=row[7])
                    self._mem[key] = hit
        if hit is None:
            return None
        return hit.marked_cached()

    def put(self, key: str | None, result: EvalResult) -> None:
        """Store a result under a key (no-op for a None key)."""
        if key is None:
            return
        with self._lock:
            self._mem[key] = result
            if self._db is not None:
                self._db.execute(
                    f"INSERT OR REPLACE INTO {TABLE} VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (key, result.status, result.error, int(result.cut_short),
                     result.tardiness.astype("<i8").tobytes(), result.seconds.astype("<f8").tobytes(),
                     result.mode, float(result.compile_s), result.compile_error))
                self._db.commit()

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None
