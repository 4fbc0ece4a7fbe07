"""A read-only view of a run directory: ``config.toml`` and ``run.sqlite`` read through plain SQL.

The run store (``discover/store.py``) owns the schema; this module only reads it, with the database
opened read-only so that looking at a run never changes it, even while the run is going on.
"""

from __future__ import annotations

import json
import sqlite3
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from discover.archive.errors import ArchiveError
from discover.store import ProgramRow, program_row
from evaluator import tasks
from evaluator.task import Task

DB_FILE = "run.sqlite"
CONFIG_FILE = "config.toml"

@dataclass(frozen=True)
class LLMCall:
    """One LLM request of the run with its usage."""

    id: int
    prompt: int
    model: str
    samples: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    latency_s: float
    error: str
    created: float


@dataclass(frozen=True)
class Event:
    """One entry of the run's event log."""

    id: int
    kind: str
    data: dict[str, Any]
    created: float


def _connect(db: Path) -> sqlite3.Connection:
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.OperationalError:
        # A run folder we may not write to (no room for the WAL index): read the file as it stands.
        conn = sqlite3.connect(f"file:{db}?immutable=1", uri=True)
    conn.row_factory = sqlite3.Row
    return conn


class RunView:
    """Read a run directory.

    Parameters
    ----------
    run_dir
        A folder made by ``discover run`` (holding ``run.sqlite``).

    Raises
    ------
    ArchiveError
        When the folder holds no run database or the database cannot be read.
    """

    def __init__(self, run_dir: str | Path) -> None:
        self.run_dir = Path(run_dir)
        db = self.run_dir / DB_FILE
        if not db.is_file():
            raise ArchiveError(f"{self.run_dir}: not a run directory ({DB_FILE} is missing)")
        try:
            self._conn = _connect(db)
            tables = self._conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            self._tables = {r[0] for r in tables}
        except sqlite3.DatabaseError as e:
            raise ArchiveError(f"{db}: cannot read the run database: {e}") from None
        if "programs" not in self._tables or self.state("schema") is None:
            why = "the file is empty" if db.stat().st_size == 0 else f"a copy made without its {DB_FILE}-wal?"
            raise ArchiveError(f"{db}: not a discover run database: it holds no run state ({why})")
        self._programs: list[ProgramRow] | None = None

    def close(self) -> None:
        """Close the database."""
        self._conn.close()

    def __enter__(self) -> RunView:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _query(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        try:
            return self._conn.execute(sql, params).fetchall()
        except sqlite3.DatabaseError as e:
            raise ArchiveError(f"{self.run_dir / DB_FILE}: {e} (in: {sql.split(' FROM ')[0][:60]})") from None

    # --- tables --------------------------------------------------------------------------------
    def programs(self) -> list[ProgramRow]:
        """Return every program in id order (cached)."""
        if self._programs is None:
            self._programs = [program_row(r) for r in self._query("SELECT * FROM programs ORDER BY id")]
        return self._programs

    def cost_rows(self) -> list[tuple[int, int, str, float, float | None]]:
        """Return (id, island, operator, gap, cost ratio) of every valid program in id order.

        A run from before cost was measured (schema 1) has no cost column: its costs are None.
        """
        cols = {r[1] for r in self._query("PRAGMA table_info(programs)")}
        cost = "cost_ratio" if "cost_ratio" in cols else "NULL"
        return [tuple(r) for r in self._query(
            f"SELECT id, island, operator, gap, {cost} FROM programs WHERE status = 'ok' ORDER BY id")]

    def program(self, pid: int) -> ProgramRow | None:
        """Return one program by id, or None."""
        return self.by_id().get(pid)

    def by_id(self) -> dict[int, ProgramRow]:
        """Return the programs keyed by id."""
        return {p.id: p for p in self.programs()}

    def code(self, pid: int) -> str | None:
        """Return the code of a program, or None if there is no such program."""
        rows = self._query("SELECT code FROM programs WHERE id = ?", (pid,))
        return rows[0][0] if rows else None

    def llm_calls(self) -> list[LLMCall]:
        """Return the LLM requests in id order (empty if the table is absent)."""
        if "llm_calls" not in self._tables:
            return []
        rows = self._query("SELECT id, prompt, model, samples, prompt_tokens, completion_tokens, cost_usd,"
                           " latency_s, error, created FROM llm_calls ORDER BY id")
        return [LLMCall(**dict(r)) for r in rows]

    def model_of_prompt(self, prompt: int | None) -> str | None:
        """Return the model that answered a prompt, if recorded."""
        if prompt is None or "llm_calls" not in self._tables:
            return None
        rows = self._query("SELECT model FROM llm_calls WHERE prompt = ? ORDER BY id LIMIT 1", (prompt,))
        return rows[0][0] if rows else None

    def events(self, kind: str | None = None) -> list[Event]:
        """Return the events in id order, optionally of one kind."""
        if "events" not in self._tables:
            return []
        where = " WHERE kind = ?" if kind else ""
        sql = f"SELECT id, kind, data, created FROM events{where} ORDER BY id"
        return [Event(r["id"], r["kind"], _json(r["data"], {}), r["created"])
                for r in self._query(sql, (kind,) if kind else ())]

    def state(self, key: str, default: Any = None) -> Any:
        """Return a value of the run's state table (JSON-decoded), or ``default``."""
        if "state" not in self._tables:
            return default
        rows = self._query("SELECT value FROM state WHERE key = ?", (key,))
        return default if not rows else _json(rows[0][0], default)

    def task(self) -> Task:
        """Return the run's task (a run from before tasks: total tardiness)."""
        return tasks.get(self.state("task") or self.config().get("task") or tasks.DEFAULT)

    def config(self) -> dict[str, Any]:
        """Return the run's ``config.toml`` as a dict (empty when absent or unreadable)."""
        path = self.run_dir / CONFIG_FILE
        try:
            return tomllib.loads(path.read_text())
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
            return {}

    # --- derived -------------------------------------------------------------------------------
    def original(self, pid: int) -> ProgramRow | None:
        """Follow reset / migration copies back to the program that was first scored."""
        by_id = self.by_id()
        p = by_id.get(pid)
        seen = set()
        while p is not None and p.is_copy and p.parents and p.id not in seen:
            seen.add(p.id)
            p = by_id.get(p.parents[0], p)
        return p

    def best(self) -> ProgramRow | None:
        """Return the valid program with the lowest training gap (ties: lowest id), copies excluded."""
        ok = [p for p in self.programs() if p.ok and not p.is_copy]
        return min(ok, key=lambda p: (p.gap, p.id)) if ok else None

    def seed_names(self) -> dict[int, str]:
        """Return {program id: seed name} for the seed programs (every island's copy)."""
        names = {}
        for p in self.programs():
            if p.operator == "seed":
                names[p.id] = p.description or f"seed #{p.id}"
        return names


def _json(text: Any, default: Any) -> Any:
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return default
