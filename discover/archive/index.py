"""The archive index (``index.json``): each entry's scores on the stored test sets, and its lineage.

The index is a file people review in pull requests, so its text is deterministic and compact: one
line per list of numbers. Each entry records the sha256 of the code it scored and each set's
sha256, so an edited file or a rebuilt set shows up as *stale* instead of silently wrong numbers.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from discover.archive.entries import Entry
from discover.archive.errors import ArchiveError
from discover.archive.layers import base_of, own_ids
from discover.archive.lineage import Lineage
from discover.archive.scoring import (
    DEFAULT_TIMEOUT_S,
    SetScore,
    StoredSet,
    score_code,
    score_reference,
    verify_reference,
    with_python_seconds,
)
from evaluator import EVALUATOR_VERSION
from evaluator.instances import write_atomic

INDEX_FILE = "index.json"
FORMAT = 1
ORIGIN_FIELDS = ("name", "origin_run", "program_id", "parents", "model", "operator", "date")


@dataclass(frozen=True)
class IndexEntry:
    """What the index holds about one entry."""

    id: str
    kind: str
    path: str  # relative to the archive folder
    code_sha256: str
    scores: dict[str, SetScore]
    origin: dict[str, Any] = field(default_factory=dict)
    lineage: Lineage | None = None

    def test_gap(self) -> float | None:
        """Return the mean over the scored test sets of the mean gap % (the list's sort key)."""
        gaps = [s.mean_gap_pct for s in self.scores.values() if s.mean_gap_pct is not None]
        return sum(gaps) / len(gaps) if gaps else None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"kind": self.kind, "path": self.path, "code_sha256": self.code_sha256}
        if self.origin:
            d["origin"] = self.origin
        d["scores"] = {k: self.scores[k].to_dict() for k in sorted(self.scores, key=_set_order)}
        if self.lineage is not None:
            d["lineage"] = self.lineage.to_dict()
        return d

    @classmethod
    def from_dict(cls, ident: str, d: dict[str, Any]) -> IndexEntry:
        lin = d.get("lineage")
        return cls(ident, str(d["kind"]), str(d["path"]), str(d["code_sha256"]),
                   {k: SetScore.from_dict(v) for k, v in d.get("scores", {}).items()},
                   dict(d.get("origin", {})), Lineage.from_dict(lin) if lin else None)


@dataclass(frozen=True)
class Index:
    """The whole index; changes make a new value."""

    entries: dict[str, IndexEntry] = field(default_factory=dict)
    evaluator_version: str = EVALUATOR_VERSION

    def get(self, ident: str) -> IndexEntry | None:
        """Return an entry's record, or None when it was never scored."""
        return self.entries.get(ident)

    def with_entry(self, e: IndexEntry) -> Index:
        """Return the index with ``e`` added or replaced."""
        return replace(self, entries={**self.entries, e.id: e})

    def keep_only(self, ids: set[str]) -> Index:
        """Return the index without entries whose file is gone."""
        return replace(self, entries={k: v for k, v in self.entries.items() if k in ids})


def _set_order(name: str) -> tuple[int, str]:
    digits = "".join(ch for ch in name.rsplit("_n", 1)[-1] if ch.isdigit())
    return (int(digits) if digits else 10**9, name)


# --- reading and writing ----------------------------------------------------------------------------

def read_index(archive_dir: str | Path) -> Index:
    """Read ``index.json`` (an empty index when the file does not exist).

    Raises
    ------
    ArchiveError
        When the file is not a valid index.
    """
    root = Path(archive_dir)
    own = _read_one(root / INDEX_FILE)
    base = base_of(root)
    if base is None:
        return own
    shipped = _read_one(base / INDEX_FILE)  # a user archive: its records over the shipped ones
    return Index({**shipped.entries, **own.entries}, own.evaluator_version or shipped.evaluator_version)


def _read_one(path: Path) -> Index:
    if not path.exists():
        return Index()
    try:
        raw = json.loads(path.read_text())
        if raw.get("format") != FORMAT:
            raise ArchiveError(f"{path}: field format = {raw.get('format')!r}; this version reads {FORMAT}")
        entries = {k: IndexEntry.from_dict(k, v) for k, v in raw["entries"].items()}
    except ArchiveError:
        raise
    except (OSError, UnicodeDecodeError, KeyError, TypeError, ValueError, IndexError) as e:  # JSON errors too
        raise ArchiveError(f"{path}: not a valid archive index ({type(e).__name__}: {e}); "
                           "rebuild it with `discover archive index --all`") from None
    return Index(entries, str(raw.get("evaluator_version", "")))


def dumps_index(index: Index) -> str:
    """Return the index as deterministic JSON text (lists of numbers on one line)."""
    body = {"format": FORMAT, "evaluator_version": index.evaluator_version,
            "entries": {k: index.entries[k].to_dict() for k in sorted(index.entries, key=str.lower)}}
    return _dump(body, 0) + "\n"


def _dump(obj: Any, level: int) -> str:
    pad, inner = "  " * level, "  " * (level + 1)
    if isinstance(obj, dict) and obj:
        items = [f"{inner}{json.dumps(str(k))}: {_dump(v, level + 1)}" for k, v in obj.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(obj, (list, tuple)) and obj and not all(isinstance(x, (int, float, str, type(None), list))
                                                          for x in obj):
        return "[\n" + ",\n".join(inner + _dump(x, level + 1) for x in obj) + "\n" + pad + "]"
    if isinstance(obj, float) and not math.isfinite(obj):
        return "null"
    return json.dumps(obj, separators=(", ", ": "))


def write_index(archive_dir: str | Path, index: Index) -> None:
    """Write ``index.json`` atomically (a user archive's holds only its own champions)."""
    own = own_ids(archive_dir)
    write_atomic(Path(archive_dir) / INDEX_FILE, dumps_index(index if own is None else index.keep_only(own)))


# --- status and scoring -----------------------------------------------------------------------------

def entry_status(entry: Entry, rec: IndexEntry | None, sets: list[StoredSet]) -> tuple[str, str]:
    """Return (status, detail): ``ok``, ``not scored``, ``stale``, or the entry's problem (hash mismatch)."""
    if entry.problem:
        return entry.problem.split(":", 1)[0], entry.problem
    if rec is None:
        return "not scored", f"{entry.id}: not scored yet; run `discover archive index`"
    if rec.code_sha256 != entry.code_sha256:
        return "stale", (f"{entry.path.name}: the code changed since it was scored (index code_sha256 = "
                         f"{rec.code_sha256[:12]}…, file {entry.code_sha256[:12]}…); "
                         "run `discover archive index`")
    for s in sets:
        got = rec.scores.get(s.name)
        if got is None:
            return "stale", f"{entry.id}: not scored on {s.name}; run `discover archive index`"
        if got.sha256 != s.sha256:
            return "stale", (f"{entry.id}: scored on another {s.name} (sha256 {got.sha256[:12]}…, "
                             f"now {s.sha256[:12]}…); run `discover archive index`")
    return "ok", ""


def origin_of(entry: Entry) -> dict[str, Any]:
    """Return the provenance fields the index repeats for a champion."""
    return {k: entry.meta[k] for k in ORIGIN_FIELDS if k in entry.meta}


def score_entry(entry: Entry, rel_path: str, sets: list[StoredSet], evaluator: Any = None,
                lineage: Lineage | None = None, timeout_s: float = DEFAULT_TIMEOUT_S) -> IndexEntry:
    """Score one entry on the stored sets: a reference with numba, a champion in ``evaluator``.

    Raises
    ------
    ArchiveError
        When the entry cannot be trusted (hash mismatch) or fails on a set.
    """
    if entry.problem:
        raise ArchiveError(entry.problem)
    if entry.is_reference:  # by its numba twin, the rule of the sets' task
        scores = {s.name: with_python_seconds(score_reference(entry.id, s), entry.code, s) for s in sets}
    else:
        if evaluator is None:
            raise ArchiveError(f"{entry.id}: champions are scored in the sandbox, but none was given")
        scores = score_code(entry.code, entry.entry, sets, evaluator, rel_path, timeout_s)
    return IndexEntry(entry.id, entry.kind, rel_path, entry.code_sha256, scores, origin_of(entry), lineage)


def refresh_index(archive_dir: str | Path, entries: list[Entry], sets: list[StoredSet], evaluator: Any,
                  everything: bool = False, verify: bool = True, lineages: dict[str, Lineage] | None = None,
                  on_entry: Any = None, timeout_s: float = DEFAULT_TIMEOUT_S) -> tuple[Index, list[str]]:
    """Score the entries that are missing or stale (all with ``everything``); return the new index and notes.

    The index is written after each entry, so a failure keeps the work done so far. Entries with a
    problem (hash mismatch, bad header) keep their old record and are reported in the notes. With
    ``verify`` (and an evaluator), each reference's Python file is run on the smallest set and must
    give its numba twin's values.
    """
    root = Path(archive_dir)
    index = read_index(root).keep_only({e.id for e in entries})
    notes = []
    smallest = min(sets, key=lambda s: s.iset.p.size) if sets else None
    own = own_ids(root)
    for e in entries:
        if own is not None and e.id not in own:
            continue  # the shipped archive's entry: scored there, read only here
        if e.problem:
            notes.append(e.problem)
            continue
        status, _ = entry_status(e, index.get(e.id), sets)
        if status == "ok" and not everything:
            continue
        if verify and e.is_reference and smallest is not None and evaluator is not None:
            verify_reference(e.id, e.code, smallest, evaluator)
        old = index.get(e.id)
        lin = (lineages or {}).get(e.id) or (old.lineage if old else None)
        rec = score_entry(e, str(e.path.relative_to(root)), sets, evaluator, lin, timeout_s)
        index = replace(index.with_entry(rec), evaluator_version=EVALUATOR_VERSION)
        write_index(root, index)
        if on_entry is not None:
            on_entry(rec)
    if read_index(root) != index:
        write_index(root, index)
    return index, notes
