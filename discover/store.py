"""The run store: a run directory with ``config.toml`` and ``run.sqlite`` (WAL mode).

Every write happens inside one transaction, so ``kill -9`` at any moment leaves the database as it
stood after the last completed step; what was in flight is simply not there and is redone on resume.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from discover.search.operators import COPY_OPERATORS
from evaluator.instances import write_atomic
from evaluator.tasks import DEFAULT as DEFAULT_TASK

CONFIG_FILE = "config.toml"
DB_FILE = "run.sqlite"
TRANSCRIPT_FILE = "transcript.jsonl"
RUN_FILES = (CONFIG_FILE, DB_FILE, DB_FILE + "-wal", DB_FILE + "-shm", TRANSCRIPT_FILE)
"""Every file a run directory holds."""
SCHEMA_VERSION = "2"
COST_COLUMNS = {"cost_ratio": "REAL", "cost_s": "REAL", "train_cost_ratio": "REAL", "cost": "TEXT"}
"""Measured cost of a program (schema 2): see discover.search.cost; a schema-1 store gains them on open."""
TIME_COLUMNS = frozenset({"created", "seconds", "latency_s", *COST_COLUMNS})
"""Columns that legitimately differ between two identical runs (measured times, not decisions)."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS programs (
    id INTEGER PRIMARY KEY,
    prompt INTEGER,
    sample INTEGER,
    island INTEGER NOT NULL,
    operator TEXT NOT NULL,
    parents TEXT NOT NULL,
    code TEXT NOT NULL,
    hash TEXT,
    description TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL,
    error TEXT NOT NULL DEFAULT '',
    gap REAL,
    per_class TEXT,
    signature TEXT,
    tardiness BLOB,
    length INTEGER NOT NULL DEFAULT 0,
    seconds REAL,
    cost_ratio REAL,
    cost_s REAL,
    train_cost_ratio REAL,
    cost TEXT,
    created REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS programs_gap ON programs(status, gap);
CREATE TABLE IF NOT EXISTS prompts (
    id INTEGER PRIMARY KEY,
    island INTEGER NOT NULL,
    operator TEXT NOT NULL,
    parents TEXT NOT NULL,
    request TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    done INTEGER NOT NULL DEFAULT 0,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS llm_calls (
    id INTEGER PRIMARY KEY,
    prompt INTEGER NOT NULL,
    model TEXT NOT NULL,
    samples INTEGER NOT NULL,
    prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    cost_usd REAL NOT NULL,
    latency_s REAL NOT NULL,
    request_hash TEXT NOT NULL,
    error TEXT NOT NULL DEFAULT '',
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    data TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS state (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""


class StoreError(RuntimeError):
    """A run directory that cannot be created, opened or written; the message is one line."""


def check_writable(path: str | Path, what: str) -> None:
    """Raise StoreError unless ``path`` is, or can be created as, a writable directory.

    Nothing is created: the nearest existing ancestor must be a directory this process may write.
    """
    path = Path(path).absolute()
    probe = path
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise StoreError(f"{path}: cannot create the {what}: {probe} is not a directory")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise StoreError(f"{path}: cannot create the {what}: {probe} is not writable")


@dataclass(frozen=True)
class ProgramRow:
    """One row of the programs table."""

    id: int
    prompt: int | None
    sample: int | None
    island: int
    operator: str
    parents: tuple[int, ...]
    code: str
    hash: str | None
    description: str
    status: str
    error: str
    gap: float | None
    per_class: dict[str, float] | None
    signature: str | None
    tardiness: np.ndarray | None
    length: int
    seconds: float | None
    cost_ratio: float | None = None  # seconds per instance at cost.n over the reference's (inf: unfinished)
    cost_s: float | None = None  # seconds per instance at cost.n
    train_cost_ratio: float | None = None  # the same ratio at the training size
    cost: dict[str, Any] | None = None  # discover.search.cost.Cost.to_dict(): every figure, probe included
    created: float | None = field(default=None, compare=False)  # set by the store when written

    @property
    def ok(self) -> bool:
        """True for a valid program (scored on every instance)."""
        return self.status == "ok" and self.gap is not None

    @property
    def is_copy(self) -> bool:
        """True for a program copied unchanged to another island (its parent is the original)."""
        return self.operator in COPY_OPERATORS


_PROGRAM_COLUMNS = tuple(f.name for f in fields(ProgramRow) if f.name != "created")
_ROW_FIELDS = frozenset(f.name for f in fields(ProgramRow))


def _program_values(row: ProgramRow) -> tuple[Any, ...]:
    vals = [getattr(row, c) for c in _PROGRAM_COLUMNS]
    vals[_PROGRAM_COLUMNS.index("parents")] = json.dumps(list(row.parents))
    vals[_PROGRAM_COLUMNS.index("per_class")] = None if row.per_class is None else json.dumps(row.per_class)
    vals[_PROGRAM_COLUMNS.index("cost")] = None if row.cost is None else json.dumps(row.cost, sort_keys=True)
    t = row.tardiness
    vals[_PROGRAM_COLUMNS.index("tardiness")] = None if t is None else np.asarray(t, "<i8").tobytes()
    return (*vals, time.time())


def program_row(r: sqlite3.Row) -> ProgramRow:
    """Read a row of the programs table (any subset of its columns holding ``id`` to ``length``; a
    schema-1 row has no cost columns) into a ProgramRow."""
    kw = {c: r[c] for c in r.keys() if c in _ROW_FIELDS}
    kw["parents"] = tuple(int(x) for x in json.loads(kw["parents"]))
    for name in ("per_class", "cost"):
        kw[name] = None if kw.get(name) is None else json.loads(kw[name])
    kw["tardiness"] = None if kw.get("tardiness") is None else np.frombuffer(kw["tardiness"], "<i8")
    kw.update(code=kw.get("code") or "", description=kw["description"] or "", error=kw["error"] or "",
              length=kw["length"] or 0)
    for name in ("signature", "seconds"):
        kw.setdefault(name, None)
    return ProgramRow(**kw)


@dataclass(frozen=True)
class PromptRow:
    """A prompt built from the population; ``request`` holds everything needed to send it again."""

    id: int
    island: int
    operator: str
    parents: tuple[int, ...]
    request: dict[str, Any]
    request_hash: str


class RunStore:
    """The run's database. Use from one thread; every mutating method runs in a transaction."""

    def __init__(self, run_dir: Path, conn: sqlite3.Connection) -> None:
        self.run_dir = run_dir
        self._conn = conn
        self._depth = 0

    # --- opening -----------------------------------------------------------------------------
    @staticmethod
    def check_new(run_dir: str | Path, overwrite: bool = False) -> None:
        """Raise StoreError if ``run_dir`` already holds a run (unless it may be overwritten)."""
        run_dir = Path(run_dir)
        if (run_dir / DB_FILE).exists() and not overwrite:
            raise StoreError(f"{run_dir} already holds a run; continue it with `discover resume {run_dir}`,"
                             " choose another --run-dir, or pass --overwrite")

    @classmethod
    def create(cls, run_dir: str | Path, config_toml: str, overwrite: bool = False,
               task: str = DEFAULT_TASK) -> RunStore:
        """Create a run directory with its config and an empty database recording the run's task."""
        run_dir = Path(run_dir)
        db = run_dir / DB_FILE
        cls.check_new(run_dir, overwrite)
        check_writable(run_dir, "run directory")
        try:
            run_dir.mkdir(parents=True, exist_ok=True)
            if overwrite:
                for name in RUN_FILES[1:]:
                    (run_dir / name).unlink(missing_ok=True)
            write_atomic(run_dir / CONFIG_FILE, config_toml)
        except OSError as e:
            raise StoreError(f"{run_dir}: cannot create the run directory: {e.strerror or e}") from None
        store = cls(run_dir, cls._connect(db, create=True))
        with store.transaction():
            store._set("schema", SCHEMA_VERSION)
            store._set("task", task)
            store._set("status", "created")
        return store

    @classmethod
    def open(cls, run_dir: str | Path) -> RunStore:
        """Open an existing run directory."""
        run_dir = Path(run_dir)
        db = run_dir / DB_FILE
        if not db.is_file():
            raise StoreError(f"{run_dir}: not a run directory ({DB_FILE} is missing)")
        if db.stat().st_size == 0:
            raise StoreError(f"{db}: not a discover run database: it holds no run state (the file is empty)")
        store = cls(run_dir, cls._connect(db, create=False))
        try:
            tables = {r[0] for r in store.query("SELECT name FROM sqlite_master WHERE type = 'table'")}
            schema = store.get_state("schema") if "state" in tables else None
            if schema == "1":
                store._migrate_1_to_2()
                schema = store.get_state("schema")
        except sqlite3.DatabaseError as e:
            store.close()
            raise StoreError(f"{db}: cannot read the run database: {e}") from None
        if schema != SCHEMA_VERSION:
            store.close()
            if schema is None:
                raise StoreError(f"{db}: not a discover run database: it holds no run state (a copy made"
                                 f" without its {DB_FILE}-wal?)")
            raise StoreError(f"{db}: unknown schema version {schema!r}; this version reads {SCHEMA_VERSION}")
        try:
            store._conn.executescript(_SCHEMA)  # tables added since the run began (idempotent)
            if store.get_state("task") is None:  # a store from before tasks: its runs were all ΣT_j
                with store.transaction():
                    store._set("task", DEFAULT_TASK)
        except sqlite3.DatabaseError as e:
            store.close()
            raise StoreError(f"{db}: cannot open the run database: {e}") from None
        return store

    @property
    def task(self) -> str:
        """The name of the run's task (``evaluator.tasks``)."""
        return self.get_state("task") or DEFAULT_TASK

    def _migrate_1_to_2(self) -> None:
        """Add the cost columns to a schema-1 programs table (their values stay NULL: never measured)."""
        with self.transaction():
            have = {r[1] for r in self._conn.execute("PRAGMA table_info(programs)")}
            for col, kind in COST_COLUMNS.items():
                if col not in have:
                    self._conn.execute(f"ALTER TABLE programs ADD COLUMN {col} {kind}")
            self._set("schema", SCHEMA_VERSION)

    @staticmethod
    def _connect(db: Path, create: bool) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(db, isolation_level=None, timeout=30.0)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            if create:
                conn.executescript(_SCHEMA)
        except sqlite3.DatabaseError as e:
            raise StoreError(f"{db}: cannot open the run database: {e}") from None
        return conn

    def close(self) -> None:
        """Checkpoint and close the database."""
        if self._conn is not None:
            try:
                self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            except sqlite3.DatabaseError:
                pass
            self._conn.close()
            self._conn = None  # type: ignore[assignment]

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def config_path(self) -> Path:
        """The run's resolved config (``config.toml``)."""
        return self.run_dir / CONFIG_FILE

    @property
    def transcript_path(self) -> Path:
        """The run's LLM transcript (``transcript.jsonl``)."""
        return self.run_dir / TRANSCRIPT_FILE

    # --- writing -----------------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Group writes: all of them land, or none (nested uses join the outer one)."""
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        try:
            self._conn.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield
            except BaseException:
                with suppress(sqlite3.DatabaseError):
                    self._conn.execute("ROLLBACK")
                raise
            else:
                self._conn.execute("COMMIT")
            finally:
                self._depth = 0
        except sqlite3.DatabaseError as e:
            raise StoreError(f"{self.run_dir / DB_FILE}: cannot write the run database: {e}") from None

    def add_program(self, row: ProgramRow) -> None:
        """Insert one program."""
        with self.transaction():
            cols = ", ".join((*_PROGRAM_COLUMNS, "created"))
            marks = ", ".join("?" * (len(_PROGRAM_COLUMNS) + 1))
            self._conn.execute(f"INSERT INTO programs ({cols}) VALUES ({marks})", _program_values(row))

    def add_prompt(self, row: PromptRow) -> None:
        """Insert a prompt that has just been built (pending until ``finish_prompt``)."""
        with self.transaction():
            self._conn.execute(
                "INSERT INTO prompts (id, island, operator, parents, request, request_hash, created)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (row.id, row.island, row.operator, json.dumps(list(row.parents)),
                 json.dumps(row.request, sort_keys=True), row.request_hash, time.time()))

    def finish_prompt(self, prompt: int) -> None:
        """Mark a prompt's candidates as committed."""
        with self.transaction():
            self._conn.execute("UPDATE prompts SET done = 1 WHERE id = ?", (prompt,))

    def add_llm_call(self, prompt: int, model: str, samples: int, prompt_tokens: int, completion_tokens: int,
                     cost_usd: float, latency_s: float, request_hash: str, error: str = "") -> None:
        """Record one LLM request with its usage and cost."""
        with self.transaction():
            self._conn.execute(
                "INSERT INTO llm_calls (prompt, model, samples, prompt_tokens, completion_tokens, cost_usd,"
                " latency_s, request_hash, error, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (prompt, model, samples, prompt_tokens, completion_tokens, cost_usd, latency_s, request_hash,
                 error, time.time()))

    def add_event(self, kind: str, **data: Any) -> None:
        """Record an event (a reset, a new best, a stop...)."""
        with self.transaction():
            self._conn.execute("INSERT INTO events (kind, data, created) VALUES (?, ?, ?)",
                               (kind, json.dumps(data, sort_keys=True), time.time()))

    def set_state(self, key: str, value: Any) -> None:
        """Store a JSON-able value under a key."""
        with self.transaction():
            self._set(key, value)

    def _set(self, key: str, value: Any) -> None:
        self._conn.execute("INSERT OR REPLACE INTO state (key, value) VALUES (?, ?)",
                           (key, json.dumps(value, sort_keys=True)))

    # --- reading -----------------------------------------------------------------------------
    def get_state(self, key: str, default: Any = None) -> Any:
        """Return the value stored under a key, or ``default``."""
        r = self._conn.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
        return default if r is None else json.loads(r[0])

    def programs(self, where: str = "", params: tuple[Any, ...] = ()) -> list[ProgramRow]:
        """Return programs in id order (``where`` is an SQL condition on the programs table)."""
        sql = f"SELECT * FROM programs {'WHERE ' + where if where else ''} ORDER BY id"
        return [program_row(r) for r in self._conn.execute(sql, params)]

    def program(self, pid: int) -> ProgramRow | None:
        """Return one program by id."""
        rows = self.programs("id = ?", (pid,))
        return rows[0] if rows else None

    def prompts(self, pending_only: bool = False) -> list[PromptRow]:
        """Return prompts in id order, optionally only those not yet committed."""
        sql = "SELECT * FROM prompts" + (" WHERE done = 0" if pending_only else "") + " ORDER BY id"
        return [PromptRow(id=r["id"], island=r["island"], operator=r["operator"],
                          parents=tuple(json.loads(r["parents"])), request=json.loads(r["request"]),
                          request_hash=r["request_hash"]) for r in self._conn.execute(sql)]

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Return all rows of a read-only query as tuples."""
        return [tuple(r) for r in self._conn.execute(sql, params)]

    def scalar(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        """Return the first column of the first row of a query."""
        r = self._conn.execute(sql, params).fetchone()
        return None if r is None else r[0]

    def rows(self, table: str, ignore: frozenset[str] = TIME_COLUMNS) -> list[tuple[Any, ...]]:
        """Return a whole table in id (or key) order, without the ``ignore`` columns."""
        cols = [r[1] for r in self._conn.execute(f"PRAGMA table_info({table})") if r[1] not in ignore]
        key = "key" if table == "state" else "id"
        return [tuple(r) for r in self._conn.execute(f"SELECT {', '.join(cols)} FROM {table} ORDER BY {key}")]
