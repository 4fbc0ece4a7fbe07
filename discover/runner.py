"""Wiring: turn a config into a run directory, an LLM, a sandbox and a controller; start, resume, replay.

Everything the CLI does is a function call here, so tests and notebooks drive runs the same way.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import shutil
import sqlite3
import time
from collections import Counter
from collections.abc import Callable
from contextlib import closing, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from discover.archive.layers import CHAMPION_DIR, archive_folders, task_archive
from discover.config import Config, ConfigError, load_config
from discover.llm.base import TranscriptWriteError
from discover.llm.recording import RecordingLLM
from discover.programs.normalize import rename
from discover.prompts import PromptError, load_templates, references_dir, seed_programs
from discover.search.champion import ChampionReport, archive_programs, champion_step, provenance_meta
from discover.search.controller import Controller, Progress, RunError
from discover.search.fitness import load_scoring_set
from discover.store import DB_FILE, RUN_FILES, TIME_COLUMNS, RunStore, StoreError, check_writable
from evaluator import tasks
from evaluator.compiled_programs import PROGRAMS, compiled_program
from evaluator.instances import write_atomic


@dataclass(frozen=True)
class RunReport:
    """How a run (or one session of it) ended."""

    run_dir: Path
    stop_reason: str
    samples: int
    valid: int
    statuses: dict[str, int]
    reasons: tuple[tuple[str, int], ...]  # most common rejection reasons
    best_id: int | None
    best_gap: float | None
    baseline_gap: float | None  # the task's live-view baseline seed (MDD for ΣT_j)
    llm_errors: int
    tokens: int
    cost: float
    elapsed_s: float  # the whole session: start-up, search and champion step
    search_s: float  # seeding and search
    controller_ms: float
    champion: dict[str, Any] | None = None  # the champion step's record (see ChampionReport.to_dict)
    last_llm_error: str = ""  # the last failed LLM request's error, in full
    usage_unknown: int = 0  # failed attempts whose usage the server did not report (billed, not counted)
    usage_capped: int = 0  # answers whose reported usage was implausible and was capped
    baseline: str = "MDD"  # the baseline's name
    test_scores: dict[str, Any] | None = None  # another task's test sets, as the champion step scored them


@dataclass
class Parts:
    """What a run needs besides its config; tests inject fakes here."""

    llm: Any = None
    sandbox: Any = None
    extract: Callable | None = None
    cascade_type: Any = None
    costs: dict[str, dict] | None = None  # code hash → recorded cost to reuse (replay)
    owns_sandbox: bool = False  # set when the runner built the sandbox (and so must close it)


RESUMABLE = ("stopping.", "champion.", "llm.base_url", "llm.api_key_env", "llm.request_timeout_s",
             "llm.max_retries", "llm.price_", "evaluation.workers", "evaluation.memory_mb",
             "evaluation.executor", "evaluation.ray_address")
"""Config fields a resume may change: budgets and plumbing, nothing that shapes the search."""


def default_run_dir(seed: int) -> Path:
    """Return ``runs/<date>-<time>-s<seed>``."""
    return Path("runs") / f"{dt.datetime.now():%Y%m%d-%H%M%S}-s{seed}"


def _absolute(cfg: Config, run_dir: Path) -> Config:
    ev = cfg.evaluation
    return cfg.replace(**{
        "run_dir": str(run_dir.resolve()),
        "evaluation.train_set": str(Path(ev.train_set).resolve()),
        "evaluation.valid_set": str(Path(ev.valid_set).resolve()),
        "champion.dir": str(Path(cfg.champion.dir).resolve()),
        **({"llm.transcript": str(Path(cfg.llm.transcript).resolve())} if cfg.llm.transcript else {}),
        **({"prompts": str(Path(cfg.prompts).resolve())} if cfg.prompts else {}),
        "search.seeds": [str(Path(x).resolve()) if x.endswith(".py") or "/" in x else x
                         for x in cfg.search.seeds],
    })


def make_llm(cfg: Config) -> Any:
    """Build the configured LLM backend (the runner records its exchanges to the run's transcript)."""
    from discover.llm.factory import BACKENDS
    from discover.llm.factory import make_llm as factory

    settings = BACKENDS[cfg.llm.kind].settings(cfg)
    try:
        return factory(cfg.llm.kind, **settings)
    except (ValueError, OSError) as e:
        raise RunError(f"cannot start the {cfg.llm.kind} LLM: {e}") from None


def preflight(cfg: Config, llm: Any) -> None:
    """Check that a remote endpoint answers and serves the model before anything is written."""
    from discover.llm.base import LLMError

    check = getattr(llm, "preflight", None)
    if check is None:
        return
    try:
        check(cfg.llm.model)
    except LLMError as e:
        close = getattr(llm, "close", None)
        if close:
            close()
        raise RunError(f"cannot use the LLM: {e}") from None


def make_sandbox(cfg: Config) -> Any:
    """Build the sandbox worker pool from the evaluation settings."""
    from evaluator.sandbox import Sandbox

    ev = cfg.evaluation
    return Sandbox(workers=ev.workers or None, timeout_s=ev.timeout_s, memory_mb=ev.memory_mb,
                   allow_weak=ev.allow_weak_sandbox)


def make_evaluator(cfg: Config) -> Any:
    """Build the sandbox, or with ``evaluation.executor = "ray"`` a sandbox on every node of the cluster."""
    from discover.executors import ExecutorError, make_evaluator

    node_cfg = Config(evaluation=cfg.evaluation)  # what a node needs: no LLM settings, no key names
    try:
        return make_evaluator(cfg.evaluation.executor, functools.partial(_node_sandbox, node_cfg),
                              cfg.evaluation.ray_address)
    except ExecutorError as e:
        raise RunError(str(e)) from None


def _node_sandbox(cfg: Config, workers: int | None) -> Any:
    """Build one node's sandbox; ``workers`` (a Ray node's CPUs) stands in for a configured 0."""
    if workers is not None and not cfg.evaluation.workers:
        cfg = cfg.replace(**{"evaluation.workers": workers})
    return make_sandbox(cfg)


@dataclass
class _Session:
    """Everything a run needs, built (and so checked) before anything is written."""

    cfg: Config
    train: Any
    valid: Any
    parts: Parts
    record: bool  # the runner built the LLM: record its exchanges

    def close(self) -> None:
        if self.parts.owns_sandbox:
            self.parts.sandbox.close()


def _prepare(cfg: Config, parts: Parts | None) -> _Session:
    _check_inputs(cfg)
    ev, task = cfg.evaluation, tasks.get(cfg.task)
    train = load_scoring_set(ev.train_set, ev.train_subset, "evaluation.train_set", task)
    valid = load_scoring_set(ev.valid_set, ev.valid_subset, "evaluation.valid_set", task)
    load_templates(cfg.prompts)  # fail now, with its message, if the prompt folder is missing
    seed_programs(cfg.search.seeds, task=task)
    try:
        seed_programs((cfg.cost.reference,), task=task)
    except PromptError:
        raise ConfigError(f"field cost.reference = {cfg.cost.reference!r}: no such program"
                          f" {references_dir(task) / (cfg.cost.reference + '.py')}") from None
    parts = Parts(**vars(parts)) if parts is not None else Parts()  # the caller's object stays untouched
    if parts.extract is None:
        from discover.programs.extract import extract_code

        parts.extract = functools.partial(extract_code, params=task.fields, inputs=task.inputs)
    if parts.cascade_type is None:
        from evaluator.sandbox import Cascade

        parts.cascade_type = Cascade
    record = parts.llm is None
    if record:
        parts.llm = make_llm(cfg)
        preflight(cfg, parts.llm)
    if parts.sandbox is None:
        parts.sandbox = make_evaluator(cfg)
        parts.owns_sandbox = True
    return _Session(cfg, train, valid, parts, record)


def start_run(cfg: Config, parts: Parts | None = None, overwrite: bool = False,
              on_progress: Callable[[Progress], None] | None = None,
              barriers: tuple[int, ...] = ()) -> RunReport:
    """Create the run directory and run the search and the champion step to the end.

    Inputs, the LLM and the sandbox are set up first: a bad one fails before anything is written.
    ``barriers``: see ``Controller`` (a replay of a run resumed with a larger budget).
    """
    run_dir = (Path(cfg.run_dir) if cfg.run_dir else default_run_dir(cfg.seed)).resolve()
    cfg = _absolute(cfg, run_dir)
    RunStore.check_new(run_dir, overwrite)
    check_writable(run_dir, "run directory")
    existed = run_dir.exists()
    session = _prepare(cfg, parts)
    try:
        store = RunStore.create(run_dir, cfg.to_toml(), overwrite=overwrite, task=cfg.task)
    except BaseException:
        session.close()
        _discard_unstarted(run_dir, existed)
        raise
    try:
        return _drive(session, store, on_progress, barriers)
    except BaseException:
        _discard_unstarted(run_dir, existed)
        raise


def _discard_unstarted(run_dir: Path, existed: bool) -> None:
    """Remove what a run that failed before its seeds were scored wrote, so a retry starts clean."""
    db = run_dir / DB_FILE
    if db.is_file():
        try:
            with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
                if conn.execute("SELECT 1 FROM state WHERE key = 'seeded'").fetchone():
                    return  # the run began: keep it for `discover resume`
        except sqlite3.DatabaseError:
            pass
    if not existed:
        shutil.rmtree(run_dir, ignore_errors=True)
        return
    for name in RUN_FILES:
        with suppress(OSError):
            (run_dir / name).unlink(missing_ok=True)


def resume_run(run_dir: str | Path, overrides: dict[str, Any] | None = None, parts: Parts | None = None,
               on_progress: Callable[[Progress], None] | None = None) -> RunReport:
    """Continue a run from its store: same islands, same random state; ``overrides`` may raise budgets."""
    run_dir = Path(run_dir)
    for key in overrides or {}:
        if not key.startswith(RESUMABLE):
            raise ConfigError(f"command line: field {key} cannot change when resuming (the run's islands,"
                              f" prompts and scores depend on it); fields that can: {', '.join(RESUMABLE)}")
    store = RunStore.open(run_dir)
    try:
        cfg = load_config(store.config_path, overrides)
        drawn = store.get_state("counters", {}).get("samples", 0)
        asked = (overrides or {}).get("stopping.samples")
        if asked is not None and asked < drawn:
            raise ConfigError(f"command line: --samples {asked} is below the {drawn} samples {run_dir} has"
                              f" drawn already; give more than {drawn} to continue the search")
        session = _prepare(cfg, parts)
    except BaseException:
        store.close()
        raise
    given = {k: v for k, v in (overrides or {}).items() if v is not None}
    if given:
        write_atomic(store.config_path, cfg.to_toml())
        store.add_event("config", overrides=given)
    return _drive(session, store, on_progress)


def promote_run(run_dir: str | Path, parts: Parts | None = None) -> dict[str, Any]:
    """Run the champion step again on a run that has searched (on demand, e.g. after the archive changed).

    Returns the champion record (also stored in the run's state, replacing the previous one).
    """
    store = RunStore.open(run_dir)
    session = None
    try:
        if store.get_state("status") not in ("searched", "finished"):
            raise StoreError(f"{run_dir}: the run is {store.get_state('status')}; finish it with"
                             f" `discover resume {run_dir}` first")
        cfg = load_config(store.config_path)
        session = _prepare(cfg, Parts(**{**vars(parts or Parts()), "llm": "unused"}))
        _champion(cfg, store, session.parts.sandbox, session.train, session.valid)
        return store.get_state("champion")
    finally:
        if session is not None:
            session.close()
        store.close()


def _with_entry(programs: dict[str, str], entry: str) -> dict[str, str]:
    """Return the programs (written with ``schedule``) with their entry renamed to ``entry``."""
    if entry == "schedule":
        return programs
    return {k: rename(c, {"schedule": entry}) for k, c in programs.items()}


def _check_inputs(cfg: Config) -> None:
    for fld in ("train_set", "valid_set"):
        path = Path(getattr(cfg.evaluation, fld))
        if not path.is_file():
            raise ConfigError(f"evaluation.{fld} = {str(path)!r}: no such file (build the stored sets with"
                              " `discover baselines build`, or point the field at a set with optima)")


def _drive(session: _Session, store: RunStore, on_progress: Callable[[Progress], None] | None,
           barriers: tuple[int, ...] = ()) -> RunReport:
    t0 = time.perf_counter()
    cfg, parts, ev = session.cfg, session.parts, session.cfg.evaluation
    try:
        try:
            llm = RecordingLLM(parts.llm, store.transcript_path) if session.record else parts.llm
        except TranscriptWriteError as e:
            raise RunError(str(e)) from None
        cascade = None
        if ev.cascade and parts.cascade_type is not None:
            cascade = parts.cascade_type(subset=ev.cascade_subset, threshold=ev.cascade_threshold)
        seeds = _with_entry(seed_programs(cfg.search.seeds, task=cfg.task), ev.entry)
        ref = cfg.cost.reference
        reference = _with_entry(seed_programs((ref,), task=cfg.task), ev.entry)[ref]
        plain = tasks.get(cfg.task).name == "total_tardiness"  # the numba twins are ΣT_j rules
        twin = compiled_program(ref, ev.entry) if plain and ref in PROGRAMS else None
        ctl = Controller(cfg, store, llm, parts.sandbox, session.train, load_templates(cfg.prompts), seeds,
                         parts.extract, cascade, on_progress, barriers, reference=reference,
                         recorded_costs=parts.costs, compiled_reference=twin)
        reason = ctl.run()
        prog = ctl.progress()
        if store.get_state("status") != "finished":
            _champion(cfg, store, parts.sandbox, session.train, session.valid)
        return _report(store, reason, time.perf_counter() - t0, prog.elapsed_s, prog.controller_ms)
    finally:
        session.close()
        store.close()


def _champion(cfg: Config, store: RunStore, sandbox: Any, train: Any, valid: Any) -> ChampionReport | None:
    """Run the promotion step, record its outcome and mark the run finished.

    Only programs the LLM wrote compete: when none is valid there is no champion (a seed is never one).
    """
    if not store.scalar("SELECT COUNT(*) FROM programs WHERE status = 'ok' AND operator NOT IN"
                        " ('seed', 'reset', 'migrate')"):
        with store.transaction():
            store.set_state("champion", None)
            store.set_state("status", "finished")
        return None
    ev, ch, task = cfg.evaluation, cfg.champion, tasks.get(cfg.task)
    root = task_archive(ch.dir, task)
    refs = _with_entry(archive_programs(archive_folders(root)), ev.entry)
    meta = provenance_meta(str(store.run_dir), cfg.llm.model or cfg.llm.kind, train, valid, task)
    timeout = ev.timeout_s * max(1.0, valid.count / max(1, train.count))
    rep = champion_step(store, sandbox, valid, top_k=ch.top_k, entry=ev.entry, timeout_s=timeout,
                        references=refs, out_dir=root / CHAMPION_DIR, alpha=ch.alpha,
                        promote=ch.promote, meta=meta, cost=cfg.cost, front=cfg.search.objective == "pareto",
                        task=task)
    tests = scores = None
    if task.name != tasks.DEFAULT:  # the ΣT_j archive scores its (large) test sets in `archive index`
        from discover.archive.task_tests import champion_tests

        tests, scores = champion_tests(store.program(rep.program_id).code, sandbox, task, ev.entry)
    with store.transaction():
        store.set_state("champion", rep.to_dict())
        if tests is not None:
            store.set_state("test_scores", tests)
        store.add_event("champion", program=rep.program_id, valid_gap=rep.valid_gap,
                        promoted=bool(rep.decision and rep.decision.promoted))
        store.set_state("status", "finished")
    path = rep.decision.path if rep.decision is not None else None
    if scores and path is not None:  # promoted: its test-set scores go into the task archive's index
        from discover.archive.errors import ArchiveError
        from discover.archive.promote import index_run_champion

        try:
            index_run_champion(root, path, scores, store.run_dir, rep.program_id)
        except ArchiveError as e:  # the champion stays archived; `discover archive index` scores it
            store.add_event("champion_not_indexed", program=rep.program_id, error=str(e))
    return rep


def _report(store: RunStore, reason: str, elapsed: float, search: float, controller_ms: float) -> RunReport:
    counters = store.get_state("counters", {})
    statuses = dict(store.query(
        "SELECT status, COUNT(*) FROM programs WHERE sample IS NOT NULL GROUP BY status ORDER BY status"))
    reasons: Counter[str] = Counter()
    for (err,) in store.query("SELECT error FROM programs WHERE sample IS NOT NULL AND status != 'ok'"):
        reasons[err.split("\n")[0]] += 1  # the first line, uncut
    rows = store.query("SELECT id, gap FROM programs WHERE status = 'ok' ORDER BY gap, id LIMIT 1")
    best = rows[0] if rows else None
    task = tasks.get(store.task)
    base = (store.get_state("seed_names") or {}).get(task.baseline)
    base_gap = store.scalar("SELECT gap FROM programs WHERE id = ?", (base,)) if base else None
    return RunReport(
        run_dir=store.run_dir, stop_reason=reason, samples=counters.get("samples", 0),
        valid=counters.get("valid", 0), statuses=statuses, reasons=tuple(reasons.most_common(3)),
        best_id=best[0] if best else None, best_gap=best[1] if best else None, baseline_gap=base_gap,
        llm_errors=counters.get("llm_errors", 0), tokens=counters.get("tokens", 0),
        cost=counters.get("cost", 0.0), elapsed_s=elapsed, search_s=search, controller_ms=controller_ms,
        champion=store.get_state("champion"), last_llm_error=store.get_state("last_llm_error") or "",
        usage_unknown=counters.get("usage_unknown", 0), usage_capped=counters.get("usage_capped", 0),
        baseline=task.baseline.upper(), test_scores=store.get_state("test_scores"))


COMPARED = ("llm_calls", "programs", "prompts")  # at equal prompt, the LLM call explains the most


def compare_runs(a: RunStore, b: RunStore) -> str | None:
    """Return the earliest difference between two runs' LLM calls, programs and prompts, or None."""
    found = []
    for rank, table in enumerate(COMPARED):
        cols = [r[1] for r in a.query(f"PRAGMA table_info({table})") if r[1] not in TIME_COLUMNS]
        at = cols.index("id" if table == "prompts" else "prompt")
        ra, rb = a.rows(table), b.rows(table)
        for x, y in zip(ra, rb, strict=False):
            if x != y:
                col = next(c for c, u, v in zip(cols, x, y, strict=True) if u != v)
                u, v = (_short(z[cols.index(col)]) for z in (x, y))
                prompt = -1 if x[at] is None else x[at]
                found.append((prompt, rank, f"{table} row {x[0]} (prompt {prompt}): {col} differs:"
                                            f" original {u} vs replay {v}"))
                break
        else:
            if len(ra) != len(rb):
                found.append((10**18, rank, f"{table}: the original has {len(ra)} rows,"
                                            f" the replay {len(rb)}"))
    return min(found)[2] if found else None


def _short(v: Any) -> str:
    text = repr(v.hex()[:32] + "…") if isinstance(v, bytes) else repr(v)
    return text if len(text) <= 80 else text[:77] + "…"


@dataclass(frozen=True)
class ReplayReport:
    """The outcome of replaying a run from its transcript."""

    original: Path
    replay: Path
    programs: int
    divergence: str | None
    run: RunReport


def committed_exchanges(transcript: Path, committed: Counter[str]) -> str:
    """Return the transcript lines the run committed: per request, its last ``committed[hash]`` exchanges.

    A run killed and resumed sent its in-flight requests twice; only the later answers were kept, so
    the earlier ones must not be replayed (a real model answers differently each time).
    """
    lines = [ln for ln in transcript.read_text().splitlines() if ln.strip()]
    keys = []
    for ln in lines:
        try:
            keys.append(json.loads(ln).get("request_hash"))
        except json.JSONDecodeError:
            keys.append(None)  # a torn last line: the reader skips it too
    seen: Counter[str] = Counter()
    keep = [False] * len(lines)
    for i in range(len(lines) - 1, -1, -1):
        h = keys[i]
        if h is not None and seen[h] < committed.get(h, 0):
            seen[h] += 1
            keep[i] = True
    return "".join(ln + "\n" for ln, k in zip(lines, keep, strict=True) if k)


def recorded_costs(store: RunStore) -> dict[str, dict]:
    """Return code hash → the cost recorded for it (the first program measured with that code)."""
    out: dict[str, dict] = {}
    for h, cost in store.query("SELECT hash, cost FROM programs WHERE cost IS NOT NULL AND hash IS NOT NULL"
                               " ORDER BY id"):
        out.setdefault(h, json.loads(cost))
    return out


def replay_run(run_dir: str | Path, out: str | Path | None = None, parts: Parts | None = None,
               on_progress: Callable[[Progress], None] | None = None) -> ReplayReport:
    """Re-run a finished run with the replay backend (strict) and compare every program and score."""
    run_dir = Path(run_dir)
    with RunStore.open(run_dir) as orig:
        status = orig.get_state("status")
        counters = orig.get_state("counters", {})
        transcript = orig.transcript_path
        cfg = load_config(orig.config_path)
        committed = Counter(h for (h,) in orig.query("SELECT request_hash FROM llm_calls"))
        stops = [json.loads(d).get("samples", 0) for (d,) in orig.query(
            "SELECT data FROM events WHERE kind = 'stop' ORDER BY id")]
        costs = recorded_costs(orig)
    if status not in ("searched", "finished"):
        raise StoreError(f"{run_dir}: the run is {status}; finish it with `discover resume {run_dir}`"
                         " before replaying it")
    if not transcript.is_file() and (parts is None or parts.llm is None):
        raise StoreError(f"{run_dir}: no {transcript.name} to replay from")
    out = Path(out) if out else run_dir.parent / f"{run_dir.name}-replay"
    if (out / "run.sqlite").exists():
        raise StoreError(f"{out} already holds a run; choose another --out")
    check_writable(out, "replay directory")
    existed = out.exists()
    try:
        if transcript.is_file():
            source = out / "replay-source.jsonl"
            try:
                write_atomic(source, committed_exchanges(transcript, committed))
            except OSError as e:
                raise StoreError(f"{source}: cannot write: {e.strerror or e}") from None
            transcript = source
        cfg = cfg.replace(**{
            "run_dir": str(out), "llm.kind": "replay", "llm.model": cfg.llm.model or cfg.llm.kind,
            "llm.transcript": str(transcript), "stopping.samples": max(1, counters.get("samples", 0)),
            "stopping.wall_clock_s": 0.0, "champion.promote": False})
        parts = Parts(**{**vars(parts or Parts()), "costs": costs})  # measured times are reused, not retaken
        report = start_run(cfg, parts, on_progress=on_progress, barriers=tuple(stops[:-1]))
    except BaseException:
        if not existed and not (out / DB_FILE).exists():
            shutil.rmtree(out, ignore_errors=True)
        raise
    with RunStore.open(run_dir) as a, RunStore.open(out) as b:
        diff = compare_runs(a, b)
        count = b.scalar("SELECT COUNT(*) FROM programs")
    return ReplayReport(run_dir, out, count, diff, report)


__all__ = ["Parts", "ReplayReport", "RunReport", "StoreError", "compare_runs", "promote_run", "replay_run",
           "resume_run", "start_run"]
