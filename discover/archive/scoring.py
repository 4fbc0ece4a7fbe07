"""Scores of archive entries on the stored test sets.

Champions run in the sandbox (``evaluator.sandbox``). The references are scored with their numba
twins, the task's rules (``evaluator.heuristics`` for ΣT_j; bit-identical orders, checked by the
test suite and, on the smallest set, by ``verify_reference``): running Aug-MDD in plain Python on a
whole n = 500 set takes long. A task other than ΣT_j scores on its own test sets, wherever they lie
(weighted tardiness: the OR-Library sets in ``../shared/benchmarks``); a set whose ``opt`` is only
the best known value on some instances has its gaps split by that (``SetScore.proven``). Every
seconds figure carries the mode it was measured in (``SetScore.mode``:
``compiled`` or ``python``); a reference also carries the seconds of its plain-Python file on a
few instances, so a Python champion's runtime is compared with the reference in Python too.
"""

from __future__ import annotations

import ast
import math
import time
import types
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from discover.archive.errors import ArchiveError
from discover.archive.layers import archive_task, sets_root
from evaluator import pyparse, tasks
from evaluator.instances import InstanceFileError, InstanceSet
from evaluator.scoring import summarize
from evaluator.stored import SPECS, read_stored
from evaluator.task import Task

TEST_SETS = tuple(s.name for s in SPECS if s.name.startswith("test_"))
BASELINE_DIR = "baselines"
DEFAULT_TIMEOUT_S = 1800.0


@dataclass(frozen=True)
class StoredSet:
    """A stored set as scoring needs it."""

    name: str
    iset: InstanceSet
    baselines: dict[str, list[int]]
    sha256: str
    task: Task | None = None  # None: total tardiness

    @property
    def of(self) -> Task:
        """The task the set's instances belong to."""
        return tasks.get(self.task)


def load_test_sets(archive_dir: str | Path, names: tuple[str, ...] | None = None) -> list[StoredSet]:
    """Return the stored test sets found in ``archive_dir/baselines`` (missing ones are skipped); a user
    archive without its own ``baselines/`` reads the shipped archive's. The archive of another task
    (``layers.archive_task``) reads that task's test sets (``Task.test_sets``) where they lie.

    Raises
    ------
    ArchiveError
        When a set file exists but cannot be read, or its content no longer matches its sha256.
    """
    task = archive_task(archive_dir)
    if task.name != tasks.DEFAULT:
        return task_test_sets(task, names)
    out = []
    names = TEST_SETS if names is None else names
    for name in names:
        path = sets_root(archive_dir) / BASELINE_DIR / f"{name}.json"
        if not path.exists():
            continue
        try:
            iset, baselines, sha = read_stored(path)
        except ValueError as e:
            raise ArchiveError(f"{path}: {e}") from None
        out.append(StoredSet(name, iset, baselines, sha or iset.sha256()))
    return out


def task_test_sets(task: Task, names: tuple[str, ...] | None = None) -> list[StoredSet]:
    """Return the task's test sets that exist (``Task.test_sets``; named by their file stem).

    Raises
    ------
    ArchiveError
        When a set file exists but cannot be read (one line: file, instance, field).
    """
    out = []
    for path in task.test_sets:
        if Path(path).is_file() and (names is None or Path(path).stem in names):
            try:
                iset = task.load(path)
            except InstanceFileError as e:
                raise ArchiveError(str(e)) from None
            out.append(StoredSet(Path(path).stem, iset, {}, iset.sha256(), task))
    return out


def require_sets(sets: list[StoredSet], archive_dir: str | Path) -> list[StoredSet]:
    """Return ``sets``, or raise ArchiveError saying how to build them when there are none."""
    task = archive_task(archive_dir)
    if not sets and task.name != tasks.DEFAULT:
        where = ", ".join(str(p) for p in task.test_sets) or "(the task names none)"
        raise ArchiveError(f"{archive_dir}: no test set of {task.name} found ({where})")
    if not sets:
        names = ", ".join(f"{n}.json" for n in TEST_SETS)
        raise ArchiveError(f"{sets_root(archive_dir) / BASELINE_DIR}: no stored test set ({names}); "
                           "build them with `discover baselines build`")
    return sets


@dataclass(frozen=True)
class ClassScore:
    """Scores on one (RDD, TF) class."""

    rdd: float
    tf: float
    instances: int
    mean_gap_pct: float | None
    optimal: int


@dataclass(frozen=True)
class SetScore:
    """One entry's scores on one stored set; ``values`` is the task's objective per instance."""

    set: str
    sha256: str
    n: int | None
    instances: int
    invalid: int
    mean_gap_pct: float | None
    max_gap_pct: float | None
    optimal: int | None
    seconds_per_instance: float
    runtime: str  # "sandbox", "numba" or "in-process"
    by_class: tuple[ClassScore, ...]
    values: tuple[int, ...]
    mode: str = ""  # what seconds_per_instance was measured in: "compiled", "python" ("" = not recorded)
    python_seconds_per_instance: float | None = None  # a reference's plain-Python file, on a sample
    # Only on a set where some opt is the best known value, not a proven optimum (None elsewhere):
    proven: int | None = None  # instances whose opt is proven optimal
    gap_proven_pct: float | None = None  # mean gap to the optimum over those
    gap_best_known_pct: float | None = None  # mean gap to the best known value over the others

    def gap_label(self) -> str:
        """Return what the gaps are to: ``opt`` (proven optima), ``bk`` (best known) or ``opt+bk``."""
        if self.proven is None:
            return "opt"
        return "bk" if not self.proven else "opt+bk"

    def seconds_in(self, mode: str) -> float | None:
        """Return the seconds per instance measured in ``mode`` ("compiled" or "python"), if any."""
        if mode == self.mode:
            return self.seconds_per_instance
        return self.python_seconds_per_instance if mode == "python" else None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        if self.proven is None:  # every opt proven: the record reads as before
            for k in ("proven", "gap_proven_pct", "gap_best_known_pct"):
                del d[k]
        d["by_class"] = [[c.rdd, c.tf, c.instances, c.mean_gap_pct, c.optimal] for c in self.by_class]
        d["values"] = list(self.values)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SetScore:
        kw = {k: d.get(k) for k in cls.__dataclass_fields__}
        kw["by_class"] = tuple(ClassScore(float(r[0]), float(r[1]), int(r[2]), r[3], int(r[4]))
                               for r in d.get("by_class", ()))
        kw["values"] = tuple(int(v) for v in d.get("values", ()))
        kw["seconds_per_instance"] = float(d.get("seconds_per_instance") or 0.0)
        kw["runtime"] = str(d.get("runtime") or "")
        kw["mode"] = str(d.get("mode") or ("compiled" if kw["runtime"] == "numba" else ""))
        kw["proven"] = int(d["proven"]) if isinstance(d.get("proven"), int) else None
        py = d.get("python_seconds_per_instance")
        kw["python_seconds_per_instance"] = float(py) if isinstance(py, (int, float)) else None
        return cls(**kw)

    def class_gaps(self) -> dict[tuple[float, float], float | None]:
        """Return {(rdd, tf): mean gap %}."""
        return {(c.rdd, c.tf): c.mean_gap_pct for c in self.by_class}


def _round(x: float | None, digits: int = 6) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else round(float(x), digits)


def set_score(values: np.ndarray, seconds_per_instance: float, stored: StoredSet, runtime: str,
              mode: str = "") -> SetScore:
    """Summarise per-instance values (−1 = invalid) on a stored set; ``mode`` is what the seconds were
    measured in ("compiled" or "python")."""
    values = np.asarray(values, dtype=np.int64)
    s = summarize(values, stored.iset)
    rows = tuple(ClassScore(r.rdd, r.tf, r.instances, _round(r.mean_gap_pct), r.optimal) for r in s.by_class)
    score = SetScore(stored.name, stored.sha256, stored.iset.n, s.instances, s.invalid,
                     _round(s.mean_gap_pct), _round(s.max_gap_pct), s.optimal,
                     float(f"{seconds_per_instance:.3g}"), runtime, rows, tuple(int(v) for v in values), mode)
    return with_proven_split(score, values, stored)


def with_proven_split(score: SetScore, values: np.ndarray, stored: StoredSet) -> SetScore:
    """Return the score with its gaps split into proven optima and best known values, where the set
    has both kinds (unchanged where every opt is proven)."""
    iset, task = stored.iset, stored.of
    proven = task.proven(iset) & iset.has_opt
    known = iset.has_opt & ~proven
    if not known.any():
        return score
    gaps = task.gaps(values, iset.opt)

    def mean(mask: np.ndarray) -> float | None:
        g = gaps[mask & ~np.isnan(gaps)]
        return _round(float(g.mean())) if g.size else None

    return replace(score, proven=int(proven.sum()), gap_proven_pct=mean(proven),
                   gap_best_known_pct=mean(known))


def score_reference(name: str, stored: StoredSet) -> SetScore:
    """Score a reference rule with its numba twin; check the values against the stored baselines.

    Raises
    ------
    ArchiveError
        When the set's recorded baseline values differ from what the kernel computes now.
    """
    task = stored.of
    rules = task.rules()
    if name not in rules:
        raise ArchiveError(f"reference {name!r} has no numba twin among the rules of {task.name} (known: "
                           f"{', '.join(rules)})")
    iset, rule = stored.iset, rules[name]
    rule(iset.subset([0]) if iset.count else iset)  # compile or load the cache first
    t0 = time.perf_counter()
    orders = rule(iset)
    seconds = (time.perf_counter() - t0) / max(iset.count, 1)
    values = task.values(iset, orders)
    recorded = stored.baselines.get(name)
    if recorded is not None and list(recorded) != values.tolist():
        i = next(k for k, (a, b) in enumerate(zip(recorded, values.tolist(), strict=False)) if a != b)
        raise ArchiveError(f"{stored.name}.json: field baselines.{name}: instance {i} records {recorded[i]} "
                           f"but the kernel gives {values[i]}; the evaluator changed: "
                           "rebuild the stored sets")
    return set_score(values, seconds, stored, "numba", "compiled")


PYTHON_SAMPLE = 3  # instances per set a reference's plain-Python file is timed on (Aug-MDD, n = 500: ~1 s)


def python_seconds(code: str, stored: StoredSet, sample: int = PYTHON_SAMPLE) -> float:
    """Return the CPU seconds per instance of a reference's plain-Python file, in this process, on
    ``sample`` instances spread over the set: what a Python candidate's seconds compare with."""
    iset = stored.iset
    module = types.ModuleType("reference")
    exec(compile(code, "reference.py", "exec"), module.__dict__)  # noqa: S102 - the archive's own file
    fn = module.__dict__["schedule"]
    picks = np.unique(np.linspace(0, iset.count - 1, min(sample, iset.count)).astype(int))
    inputs = [tuple(a.copy() for a in stored.of.instance(iset, int(i))) for i in picks]
    t0 = time.process_time()
    for args in inputs:
        fn(*args)
    return (time.process_time() - t0) / max(len(inputs), 1)


def with_python_seconds(score: SetScore, code: str, stored: StoredSet) -> SetScore:
    """Return a reference's score with the seconds of its plain-Python file added."""
    return replace(score, python_seconds_per_instance=float(f"{python_seconds(code, stored):.3g}"))


# --- running code ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class LocalResult:
    """The fields of the sandbox's ``EvalResult`` that scoring reads."""

    status: str
    error: str
    values: np.ndarray
    seconds: np.ndarray

    @property
    def tardiness(self) -> np.ndarray:
        """The values under their ΣT_j name (as ``EvalResult`` has it)."""
        return self.values


class InProcessEvaluator:
    """Run code in this process: only a stand-in for when ``evaluator.sandbox`` is not installed.

    It enforces no time or memory limit; use it for trusted code (the references, tests).
    """

    kind = "in-process"

    def evaluate(self, code: str, iset: InstanceSet, entry: str = "schedule",
                 timeout_s: float | None = None, task: Task | str | None = None) -> LocalResult:
        """Run ``entry`` of ``code`` on every instance's inputs; value −1 where the order is invalid."""
        task = tasks.get(task)
        values = np.full(iset.count, -1, np.int64)
        seconds = np.zeros(iset.count)
        module = types.ModuleType("candidate")
        try:
            exec(compile(code, "candidate.py", "exec"), module.__dict__)  # noqa: S102 - trusted stand-in
            fn = module.__dict__[entry]
        except Exception as e:  # noqa: BLE001 - the candidate's error, reported as such
            return LocalResult("error", f"{type(e).__name__}: {e}", values, seconds)
        for i in range(iset.count):
            args = task.instance(iset, i)
            t0 = time.perf_counter()
            try:
                order = np.asarray(fn(*(a.copy() for a in args)), dtype=np.int64).ravel()
            except Exception as e:  # noqa: BLE001
                return LocalResult("error", f"instance {i}: {type(e).__name__}: {e}", values, seconds)
            seconds[i] = time.perf_counter() - t0
            if order.shape == args[0].shape:
                values[i] = task.values_at(iset, np.array([i], np.int64), order)[0]
        status = "ok" if (values >= 0).all() else "invalid_output"
        return LocalResult(status, "" if status == "ok" else "not a permutation of range(n)", values, seconds)


class _LazySandbox:
    """The sandbox, started on first use (commands that fail early never pay for its workers)."""

    kind = "sandbox"

    def __init__(self, factory: Any, workers: int | None, timeout_s: float) -> None:
        self._factory, self._workers, self._timeout_s = factory, workers, timeout_s
        self._sb: Any = None

    def evaluate(self, code: str, iset: InstanceSet, entry: str = "schedule",
                 timeout_s: float | None = None, task: Task | str | None = None) -> Any:
        """Score code on a set in the sandbox (see ``evaluator.sandbox.Sandbox.evaluate``)."""
        if self._sb is None:
            self._sb = self._factory(workers=self._workers, timeout_s=self._timeout_s)
        return self._sb.evaluate(code, iset, entry=entry, timeout_s=timeout_s, task=task)

    def close(self) -> None:
        """Stop the workers, if they were started."""
        if self._sb is not None:
            self._sb.close()


@contextmanager
def open_evaluator(workers: int | None = None, timeout_s: float = DEFAULT_TIMEOUT_S, executor: str = "local",
                   ray_address: str = "") -> Iterator[Any]:
    """Yield the sandbox (started lazily), or the in-process stand-in when ``evaluator.sandbox`` is absent.

    ``executor = "ray"``: a sandbox on each node of the Ray cluster at ``ray_address`` (see
    ``discover.executors``).
    """
    try:
        from evaluator.sandbox import Sandbox
    except ImportError:
        yield InProcessEvaluator()
        return
    factory: Any = Sandbox
    if executor != "local":
        from discover.executors import make_evaluator, sandbox_builder

        factory = lambda **kw: make_evaluator(executor, sandbox_builder(**kw), ray_address)
    ev = _LazySandbox(factory, workers, timeout_s)
    try:
        yield ev
    finally:
        ev.close()


def evaluator_kind(ev: Any) -> str:
    """Return how an evaluator runs code: ``sandbox`` or ``in-process``."""
    return str(getattr(ev, "kind", "sandbox"))


def check_code(code: str, entry: str, source: str, fields: tuple[str, ...] = ("p", "d")) -> None:
    """Refuse code that does not parse or breaks the sandbox's policy, with one line naming the file.

    Raises
    ------
    ArchiveError
        Naming the file, the line and the reason.
    """
    try:
        tree = pyparse.parse(code, source)
    except SyntaxError as e:
        raise ArchiveError(f"{source}: line {e.lineno}: {e.msg}") from None
    try:
        from evaluator.sandbox.policy import inspect as policy
    except ImportError:
        policy = None
    verdict = policy(code, entry, fields=fields) if policy is not None else None
    reason = verdict.reason if verdict is not None and verdict.status != "ok" else None
    defined = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    if reason is None and entry not in defined:
        reason = f"defines no function {entry}({', '.join(fields)})"
    if reason:
        raise ArchiveError(f"{source}: {reason}")


def score_code(code: str, entry: str, sets: list[StoredSet], evaluator: Any, source: str,
               timeout_s: float = DEFAULT_TIMEOUT_S) -> dict[str, SetScore]:
    """Score code on each stored set; refuse it at the first set where it fails.

    Raises
    ------
    ArchiveError
        ``<source>: <set>: <status>: <error>`` at the first failure.
    """
    out = {}
    runtime = evaluator_kind(evaluator)
    for s in sets:
        r = evaluator.evaluate(code, s.iset, entry=entry, timeout_s=timeout_s, task=s.of)
        tard = np.asarray(r.values, dtype=np.int64)
        if r.status != "ok" or tard.shape != (s.iset.count,) or (tard < 0).any():
            bad = np.flatnonzero(tard < 0)
            where = f" (instance {int(bad[0])})" if r.status == "ok" and bad.size else ""
            why = (r.error or "not a permutation of range(n)").strip().splitlines()[-1]
            raise ArchiveError(f"{source}: {s.name}: {r.status}{where}: {why}")
        sec = np.asarray(r.seconds, dtype=np.float64)
        out[s.name] = set_score(tard, float(sec.mean()) if sec.size else 0.0, s, runtime,
                                str(getattr(r, "mode", "") or "python"))
    return out


def verify_reference(name: str, code: str, stored: StoredSet, evaluator: Any) -> None:
    """Check that a reference's Python code gives the numba twin's values on a stored set.

    Raises
    ------
    ArchiveError
        Naming the first instance where they differ.
    """
    python = score_code(code, "schedule", [stored], evaluator, f"references/{name}")[stored.name].values
    numba = score_reference(name, stored).values
    if python != numba:
        i = next(k for k, (a, b) in enumerate(zip(python, numba, strict=True)) if a != b)
        raise ArchiveError(f"reference {name}: the Python file gives {python[i]} on {stored.name} instance "
                           f"{i}, the numba twin {numba[i]}: they must agree")
