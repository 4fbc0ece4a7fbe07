"""Bringing programs into the archive: a hand-written file (``add``) or a run's program (``promote``).

Both score the code in the sandbox on the stored test sets before anything is written, so a bad
program leaves the archive untouched. A run's program is promoted only when it beats the archive's
best on the validation set by the paired test of ``discover.search.champion`` (unless forced).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from discover.archive.entries import CHAMPION_DIR, Entry, load_champion, load_entries, taken
from discover.archive.errors import ArchiveError
from discover.archive.index import IndexEntry, origin_of, read_index, write_index
from discover.archive.layers import archive_task, task_archive
from discover.archive.lineage import lineage
from discover.archive.runs import RunView
from discover.archive.scoring import (
    DEFAULT_TIMEOUT_S,
    StoredSet,
    check_code,
    load_test_sets,
    require_sets,
    score_code,
)
from discover.programs import provenance
from discover.search.champion import evaluator_digest, promote_candidate, run_label
from evaluator import EVALUATOR_VERSION, tasks
from evaluator.instances import InstanceSet, write_atomic
from evaluator.task import Task

NAME_RE = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,79}")
DEFAULT_VALID = "baselines/valid_n25.json"


@dataclass(frozen=True)
class Promotion:
    """The outcome of ``promote_program``."""

    program_id: int
    name: str
    promoted: bool
    reason: str
    candidate_gap: float
    reference: str
    reference_gap: float
    record: IndexEntry | None = None
    path: Path | None = None


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _set_meta(sets: list[StoredSet]) -> dict[str, Any]:
    return {s.name: {"name": s.name, "sha256": s.sha256, "instances": s.iset.count} for s in sets}


def _check_name(name: str, entries: list[Entry]) -> None:
    if not NAME_RE.fullmatch(name):
        raise ArchiveError(f"--name {name!r}: use a letter, then letters, digits, '_', '.' or '-' "
                           "(at most 80 characters)")
    clash = taken(entries, name)
    if clash is not None:
        raise ArchiveError(f"--name {name!r}: the archive already has {clash.kind} {clash.id} "
                           f"({clash.path.name}); choose another name")


def _check_new_code(code: str, entries: list[Entry]) -> None:
    digest = provenance.code_digest(code)
    same = next((e for e in entries if e.code_sha256 == digest), None)
    if same is not None:
        raise ArchiveError(f"this code is already archived as {same.id} ({same.path.name})")


def add_file(archive_dir: str | Path, file: str | Path, name: str, evaluator: Any, entry: str = "schedule",
             timeout_s: float = DEFAULT_TIMEOUT_S) -> IndexEntry:
    """Score a hand-written heuristic on the stored test sets, then archive it as champion ``name``.

    A file that already carries a champion header keeps its provenance (a champion from elsewhere).

    Raises
    ------
    ArchiveError
        On a missing file, a bad name, code the sandbox refuses or that fails on a set.
    """
    root, file = Path(archive_dir), Path(file)
    try:
        text = file.read_text()
    except FileNotFoundError:
        raise ArchiveError(f"{file}: no such file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ArchiveError(f"{file}: cannot read: {e}") from None
    meta: dict[str, Any] = {}
    code = text
    if text.startswith(provenance.START):
        try:
            meta, code = provenance.parse(text, str(file))
        except provenance.HeaderError as e:
            raise ArchiveError(str(e)) from None
        if not provenance.verify(meta, code):
            raise ArchiveError(f"{file}: header code_sha256 does not match the code "
                               "(edited after it was archived)")
    entries = load_entries(root)
    _check_name(name, entries)
    entry = str(meta.get("entry") or entry)
    task = archive_task(root)
    check_code(code, entry, str(file), task.fields)
    _check_new_code(code, entries)
    sets = require_sets(load_test_sets(root), root)
    scores = score_code(code, entry, sets, evaluator, str(file), timeout_s)
    hand_written = {"origin_run": "", "program_id": None, "parents": [], "model": None,
                    "operator": "hand-written", "source": file.name, "date": _now()}
    named = {} if task.name == tasks.DEFAULT else {"task": task.name}
    meta = hand_written | meta | named | {  # a champion from elsewhere keeps its provenance
        "name": name, "entry": entry, "evaluator_version": EVALUATOR_VERSION,
        "evaluator_sha256": evaluator_digest(), "sets": {**meta.get("sets", {}), **_set_meta(sets)}}
    path = root / CHAMPION_DIR / f"{name}.py"
    write_atomic(path, provenance.render(meta, code))
    champ = load_champion(path, root)
    rec = IndexEntry(champ.id, "champion", str(path.relative_to(root)), champ.code_sha256, scores,
                     origin_of(champ))
    write_index(root, read_index(root).with_entry(rec))
    return rec


def index_champion(archive_dir: str | Path, path: Path, scores: dict[str, Any],
                   lin: Any = None) -> IndexEntry:
    """Record an archived champion file's test-set scores (and lineage) in the archive's index."""
    root = Path(archive_dir)
    champ = load_champion(path, root)
    rel = path.relative_to(root) if path.is_relative_to(root) else path.resolve().relative_to(root.resolve())
    rec = IndexEntry(champ.id, "champion", str(rel), champ.code_sha256, scores, origin_of(champ), lin)
    write_index(root, read_index(root).with_entry(rec))
    return rec


def index_run_champion(archive_dir: str | Path, path: Path, scores: dict[str, Any], run_dir: str | Path,
                       pid: int) -> IndexEntry:
    """Index a champion the run's champion step just archived, with its lineage in the run."""
    with RunView(run_dir) as view:
        lin = lineage(view, pid)
    return index_champion(archive_dir, path, scores, lin)


# --- promotion from a run -----------------------------------------------------------------------------

def _valid_set(view: RunView, root: Path, task: Task) -> InstanceSet:
    from discover.search.fitness import SetError, load_scoring_set

    ev = view.config().get("evaluation", {})
    default = root / DEFAULT_VALID if task.name == tasks.DEFAULT else task.valid_set
    path = Path(ev.get("valid_set") or default)
    if not path.is_absolute() and not path.exists():
        path = root.resolve().parent / path
    try:
        return load_scoring_set(path, int(ev.get("valid_subset", 0)), "evaluation.valid_set", task)
    except SetError as e:
        raise ArchiveError(f"{view.run_dir / 'config.toml'}: {e}") from None


def _values(code: str, entry: str, iset: InstanceSet, evaluator: Any, source: str,
            timeout_s: float, task: Task) -> np.ndarray:
    r = evaluator.evaluate(code, iset, entry=entry, timeout_s=timeout_s, task=task)
    t = np.asarray(r.values, dtype=np.int64)
    if r.status != "ok" or t.shape != (iset.count,) or (t < 0).any():
        why = (r.error or "not a permutation of range(n)").strip().splitlines()[-1][:200]
        raise ArchiveError(f"{source}: {iset.name}: {r.status}: {why}")
    return t


def archive_valid_gaps(entries: list[Entry], valid: InstanceSet, evaluator: Any,
                       timeout_s: float, task: Task | str | None = None) -> dict[str, np.ndarray]:
    """Return per-instance validation gaps of every trusted entry (references by their numba twins, the
    task's rules)."""
    task = tasks.get(task)
    rules = task.rules()
    out = {}
    for e in entries:
        if e.problem:
            continue
        if e.is_reference and e.id in rules:
            values = task.values(valid, rules[e.id](valid))
        else:
            values = _values(e.code, e.entry, valid, evaluator, str(e.path.name), timeout_s, task)
        out[e.id] = task.gaps(values, valid.opt)
    return out


def _pick(view: RunView, program: int | None) -> Any:
    if program is None:
        champ = view.state("champion") or {}
        pid = champ.get("program_id") if isinstance(champ, dict) else None
        p = view.program(pid) if isinstance(pid, int) else view.best()
        if p is None:
            raise ArchiveError(f"{view.run_dir}: the run holds no valid program to promote")
        return p
    p = view.original(program)
    if p is None:
        raise ArchiveError(f"{view.run_dir}: no program #{program} in the run")
    if not p.ok:
        raise ArchiveError(f"{view.run_dir}: program #{program} is not valid (status {p.status}): "
                           f"{p.error.splitlines()[0][:120] if p.error else 'no score'}")
    return p


def promote_program(archive_dir: str | Path, run_dir: str | Path, program: int | None, evaluator: Any,
                    name: str | None = None, force: bool = False, alpha: float | None = None,
                    timeout_s: float = DEFAULT_TIMEOUT_S) -> Promotion:
    """Promote a run's program (default: the run's champion, else its best) into the archive of the
    run's task (``archive_dir`` itself for ΣT_j, else its subfolder named after the task).

    The program and the archive's trusted entries are scored on the run's validation set; the
    program is written only if it beats the best of them significantly (``discover.search.champion``'s
    Wilcoxon test), or if ``force``. It is then scored on the stored test sets and indexed with its
    lineage.

    Raises
    ------
    ArchiveError
        On a bad run, program or name, or code that fails on a set.
    """
    with RunView(run_dir) as view:
        task = view.task()
        root = Path(archive_dir) if archive_task(archive_dir).name == task.name else \
            task_archive(archive_dir, task)
        if archive_task(root).name != task.name:
            raise ArchiveError(f"{run_dir}: a {task.name} run; {archive_dir} is the archive of "
                               f"{archive_task(archive_dir).name}")
        p = _pick(view, program)
        code = view.code(p.id) or ""
        cfg = view.config()
        entry = str(cfg.get("evaluation", {}).get("entry") or "schedule")
        name = name or re.sub(r"[^A-Za-z0-9_.-]", "_", f"{Path(run_dir).resolve().name}-p{p.id}")
        entries = load_entries(root)
        _check_name(name, entries)
        _check_new_code(code, entries)
        valid = _valid_set(view, root, task)
        ref_gaps = archive_valid_gaps(entries, valid, evaluator, timeout_s, task)
        if not ref_gaps:
            raise ArchiveError(f"{root}: the archive holds no trusted entry to compare with")
        cand = task.gaps(_values(code, entry, valid, evaluator, f"program #{p.id}", timeout_s, task),
                         valid.opt)
        best_ref = min(ref_gaps, key=lambda k: (float(np.nanmean(ref_gaps[k])), k))
        a = alpha if alpha is not None else float(cfg.get("champion", {}).get("alpha", 0.05))
        meta = {"name": name, "origin_run": run_label(run_dir), "program_id": p.id,
                "parents": list(p.parents),
                "model": view.model_of_prompt(p.prompt) or cfg.get("llm", {}).get("model") or
                cfg.get("llm", {}).get("kind"), **({} if task.name == tasks.DEFAULT else {"task": task.name}),
                "operator": p.operator, "date": _now(), "entry": entry,
                "evaluator_version": EVALUATOR_VERSION, "evaluator_sha256": evaluator_digest(),
                "train_gap": p.gap}
        decision = promote_candidate(code, cand, ref_gaps[best_ref], meta=meta, reference=best_ref,
                                     out_dir=root / CHAMPION_DIR, alpha=a, write=False)
        out = Promotion(p.id, name, decision.promoted, decision.reason, decision.candidate_gap, best_ref,
                        decision.reference_gap)
        if not decision.promoted and not force:
            return out
        sets = require_sets(load_test_sets(root), root)
        scores = score_code(code, entry, sets, evaluator, f"program #{p.id}", timeout_s)
        meta["sets"] = {"valid": {"name": valid.name, "sha256": valid.sha256(), "instances": valid.count},
                        **_set_meta(sets)}
        lin = lineage(view, p.id)
    path = root / CHAMPION_DIR / f"{name}.py"
    if decision.promoted:
        written = promote_candidate(code, cand, ref_gaps[best_ref], meta=meta, reference=best_ref,
                                    out_dir=root / CHAMPION_DIR, alpha=a, write=True)
        path = written.path or path
    else:
        meta |= {"forced": True, "decision": decision.reason}
        write_atomic(path, provenance.render(meta, code))
    rec = index_champion(root, path, scores, lin)
    return Promotion(p.id, name, decision.promoted, decision.reason, decision.candidate_gap, best_ref,
                     decision.reference_gap, rec, path)
