"""The output of `discover solve` as its own checkpoint: written as instances finish, resumed from.

The output is a copy of the input set with, per instance, ``status`` (``optimal``, ``time_limit``,
``memory_limit``, or ``unsolved`` for one not reached yet) and ``seconds``. A rerun with the same
output reuses every instance recorded ``optimal`` for the same data and solves the others.
Each function takes the set's task (``evaluator.tasks``; None: ΣT_j), which reads, compares and
writes its own fields (a weighted set keeps ``w`` and ``proven``, and where no optimum is proven its
``opt`` holds the best value known, marked ``proven: false``).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from evaluator import tasks
from evaluator.exact import ExactResult
from evaluator.instances import InstanceFileError, InstanceSet, write_atomic

UNSOLVED = "unsolved"
CHECKPOINT_SECONDS = 10.0


def _same_instances(a: InstanceSet, b: InstanceSet, task: tasks.Task) -> bool:
    return (a.count == b.count and np.array_equal(a.offsets, b.offsets)
            and all(np.array_equal(x, y) for x, y in zip(task.columns(a), task.columns(b), strict=True)))


def resumable(out: Path, iset: InstanceSet, method: str, task: str | None = None) -> dict[int, ExactResult]:
    """Return the optimal results recorded in an earlier output ``out`` of the same set.

    Raises
    ------
    ValueError
        If ``out`` exists but is not a solved copy of this set (one line naming the file).
    """
    if not out.exists():
        return {}
    chosen = tasks.get(task)
    try:
        prev = chosen.load(out)
    except InstanceFileError as e:
        raise ValueError(f"{e}; pass --restart to overwrite it") from None
    if not _same_instances(prev, iset, chosen):
        raise ValueError(f"{out} holds other instances than the input; pass --restart to overwrite it, "
                         "or -o another file")
    done = {}
    for i, ex in enumerate(prev.extras):
        if ex.get("status") == "optimal" and prev.opt[i] >= 0:
            v = int(prev.opt[i])
            done[i] = ExactResult(v, np.zeros(0, np.int64), "optimal", v, float(ex.get("seconds", 0.0)),
                                  method=method, message="resumed")
    return done


def extras_of(old: dict, r: ExactResult | None, file_opt: int) -> dict:
    """Return the per-instance extra fields of the solved copy (``r`` None: not solved yet)."""
    ex = {k: v for k, v in old.items() if k not in ("status", "seconds", "lower_bound", "upper_bound")}
    if r is None:
        ex["status"] = UNSOLVED
        return ex
    ex["status"] = r.status
    ex["seconds"] = round(r.seconds, 4)
    if not r.optimal:
        ex["lower_bound"] = r.lower_bound
        ex["upper_bound"] = r.value
    if file_opt >= 0 and r.optimal and r.value != file_opt:
        ex["opt_in_file"] = file_opt
    return ex


def _opt_of(r: ExactResult | None, file_opt: int, file_proven: bool, best_known: bool) -> int:
    """The solved copy's opt: the optimum where proven, else the file's (or, for a task that keeps
    best-known values, the better of the file's unproven value and the best found)."""
    if r is not None and r.optimal:
        return r.value
    if r is None or not best_known or file_proven:
        return file_opt
    return r.value if file_opt < 0 else min(file_opt, r.value)


def write_output(iset: InstanceSet, results: list[ExactResult | None], out: Path, task: str | None = None
                 ) -> None:
    """Write the solved copy (atomically): optima where proven, the file's values elsewhere."""
    chosen = tasks.get(task)
    proven = chosen.proven(iset)
    opt = np.array([_opt_of(r, int(iset.opt[i]), bool(proven[i]), chosen.best_known_opt)
                    for i, r in enumerate(results)], dtype=np.int64)
    new_proven = np.array([bool(r is not None and r.optimal) or bool(proven[i])
                           for i, r in enumerate(results)])
    old = iset.extras or tuple({} for _ in range(iset.count))
    extras = tuple(extras_of(old[i], r, int(iset.opt[i])) for i, r in enumerate(results))
    write_atomic(out, chosen.dumps(chosen.with_solutions(iset, opt, new_proven, extras)))


class Checkpoint:
    """Collects results as they arrive and rewrites the output at most every few seconds."""

    def __init__(self, iset: InstanceSet, out: Path, done: dict[int, ExactResult], task: str | None = None):
        self.iset = iset
        self.out = out
        self.task = task
        self.results: list[ExactResult | None] = [done.get(i) for i in range(iset.count)]
        self.last = -CHECKPOINT_SECONDS  # the first result is written at once
        self.cost = 0.0
        self.dirty = False

    def add(self, i: int, r: ExactResult) -> None:
        """Record a result; write the output if the last write is long enough ago.

        Long enough: 20 times what the last write took (so writing costs at most 5 % of the
        time), and at most ``CHECKPOINT_SECONDS``.
        """
        self.results[i] = r
        self.dirty = True
        if time.monotonic() - self.last >= min(CHECKPOINT_SECONDS, 20 * self.cost):
            self.flush()

    def flush(self) -> None:
        """Write the output now if anything new was solved since the last write."""
        t = time.monotonic()
        if self.dirty:
            write_output(self.iset, self.results, self.out, self.task)
            self.dirty = False
        self.last = time.monotonic()
        self.cost = self.last - t

    @property
    def solved(self) -> int:
        return sum(r is not None for r in self.results)
