"""One evaluation in flight: its phases, the shards' outcomes, and the deterministic final result.

The parent scores every order itself, with the task's objective (``Task.values_at``), from its own
copy of the instances and the orders a candidate's process sent back; nothing the candidate could
touch is trusted beyond "these are the orders", and a status the parent did not ask for
(``stopped``) is refused.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from evaluator.sandbox import machine
from evaluator.sandbox.cascade import Cascade
from evaluator.sandbox.result import NOT_RUN, EvalResult
from evaluator.task import Task

FAILURES = ("invalid_output", "error", "timeout", "memory", "refused")
MAX_ERROR_CHARS = 500
log = logging.getLogger(__name__)


class SandboxClosed(RuntimeError):
    """The sandbox was closed before the evaluation finished."""


def clean_text(value: Any) -> str:
    """Return untrusted text as one printable line of bounded length."""
    text = value if isinstance(value, str) else repr(value)
    text = "".join(c if c.isprintable() else " " for c in text[: 4 * MAX_ERROR_CHARS])
    return text[:MAX_ERROR_CHARS]


@dataclass(frozen=True)
class Ran:
    """How a shard's process ran the candidate, as it says (figures only: nothing here is scored)."""

    mode: str = ""
    compile_s: float = 0.0
    compile_error: str = ""

    @classmethod
    def from_reply(cls, reply: dict[str, Any]) -> Ran:
        mode = reply.get("mode")
        secs = reply.get("compile_s")
        secs = float(secs) if isinstance(secs, (int, float)) and math.isfinite(secs) and secs > 0 else 0.0
        error = reply.get("compile_error")
        return cls(mode if mode in ("python", "compiled") else "", min(secs, 1e6),
                   clean_text(error) if error else "")


@dataclass(frozen=True)
class Outcome:
    """What one shard produced: the instances done, their values, and the failure if any."""

    status: str
    fail: int | None = None
    error: str = ""
    done: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    values: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    seconds: np.ndarray = field(default_factory=lambda: np.zeros(0))
    cacheable: bool = True
    how: Ran = field(default_factory=lambda: Ran())

    @classmethod
    def failure(cls, status: str, at: int, error: str, cacheable: bool = True) -> Outcome:
        return cls(status, int(at), error, cacheable=cacheable)

    @classmethod
    def skipped(cls) -> Outcome:
        return cls("skipped")


class Job:
    """One candidate on one set of a task: phases of indices, shard bookkeeping, and the future to resolve.

    ``columns`` are the task's inputs of the set (what the candidate's processes receive).
    """

    def __init__(self, iset: Any, set_key: str, code: str, entry: str, seed: int, timeout_s: float,
                 cascade: Cascade | None, enforce_policy: bool, future: Future,
                 run_phase: Callable[[Job], None], on_result: Callable[[EvalResult, bool], None],
                 task: Task | None = None):
        from evaluator import tasks

        self.task = tasks.get(task)
        self.columns = self.task.columns(iset)
        self.iset, self.set_key, self.code, self.entry, self.seed = iset, set_key, code, entry, seed
        self.machine_key = machine.key(code) if "numba" in code else ""  # "" for a plain candidate
        self.timeout_s, self.cascade, self.enforce_policy = timeout_s, cascade, enforce_policy
        self.future = future
        self._run_phase, self._on_result = run_phase, on_result
        self.values = np.full(iset.count, NOT_RUN, np.int64)
        self.seconds = np.zeros(iset.count)
        everything = np.arange(iset.count, dtype=np.int64)
        if cascade is not None and cascade.subset < iset.count:
            first = cascade.indices(iset)
            self.phases = [first, np.setdiff1d(everything, first)]
        else:
            self.phases = [everything]
        self.phase = 0
        self._pending = 0
        self._fail: tuple[int, str, str, bool] | None = None
        self._finished = False
        self._attached: set[Any] = set()
        self._ran: dict[int, Ran] = {}  # by the shard's first instance
        self._lock = threading.Lock()

    def current_phase(self) -> np.ndarray:
        return self.phases[self.phase]

    def expect(self, shards: int) -> None:
        with self._lock:
            self._pending += shards

    def stop_at(self) -> int:
        """Return the lowest failing instance known so far (shards at or past it need not run)."""
        f = self._fail
        return f[0] if f is not None else (1 << 63) - 1

    def attach(self, worker: Any) -> None:
        with self._lock:
            self._attached.add(worker)
            worker.set_stop(self.stop_at())

    def detach(self, worker: Any) -> None:
        with self._lock:
            self._attached.discard(worker)

    def parse_reply(self, idx: np.ndarray, reply: dict[str, Any], blob: bytes) -> Outcome:
        """Check a worker's reply against the shard and score its orders with the parent's arrays."""
        status = reply.get("status")
        done = reply.get("done")
        known = status in ("ok", "stopped", *FAILURES)
        if not known or not isinstance(done, int) or not 0 <= done <= len(idx):
            return Outcome.failure("error", int(idx[0]), "the sandboxed process sent a malformed reply",
                                   cacheable=False)
        jobs = int(np.sum(self.iset.sizes[idx[:done]]))
        if len(blob) != 8 * (jobs + done):
            return Outcome.failure("error", int(idx[0]), "the sandboxed process sent a reply of the wrong"
                                   " size", cacheable=False)
        orders = np.frombuffer(blob, dtype="<i8", count=jobs).astype(np.int64)
        secs = np.frombuffer(blob, dtype="<f8", count=done, offset=8 * jobs)
        secs = np.clip(np.nan_to_num(secs, nan=0.0, posinf=0.0, neginf=0.0), 0.0, None)
        done_idx = idx[:done]
        how = Ran.from_reply(reply)
        values = self.task.values_at(self.iset, done_idx, orders)
        bad = np.flatnonzero(values < 0)
        if bad.size:  # only a tampered worker sends a non-permutation as valid
            k = int(bad[0])
            i = int(done_idx[k])
            return Outcome("invalid_output", i, f"instance {i}: the returned order is not a permutation",
                           done_idx[:k], values[:k], secs[:k], how=how)
        if status == "stopped" and (done == len(idx) or self.stop_at() > int(idx[done])):
            at = int(idx[min(done, len(idx) - 1)])
            return Outcome("error", at, f"instance {at}: the candidate's process claimed it was told to stop"
                           " before this instance, and it was not", done_idx, values, secs, cacheable=False)
        if status in ("ok", "stopped"):
            return Outcome(status, None, "", done_idx, values, secs, how=how)
        fail = reply.get("fail")
        if not isinstance(fail, int) or not 0 <= fail < self.iset.count:
            fail = int(idx[min(done, len(idx) - 1)])
        return Outcome(status, fail, clean_text(reply.get("error", "")) or status, done_idx, values, secs,
                       how=how)

    def record(self, indices: np.ndarray, outcome: Outcome) -> None:
        """Take one shard's outcome; finish the phase when it was the last one."""
        with self._lock:
            if self._finished:
                return
            if outcome.status != "skipped":
                if outcome.how.mode:
                    self._ran[int(indices[0])] = outcome.how
                self.values[outcome.done] = outcome.values
                self.seconds[outcome.done] = outcome.seconds
                if outcome.fail is not None and (self._fail is None or outcome.fail < self._fail[0]):
                    self._fail = (outcome.fail, outcome.status, outcome.error, outcome.cacheable)
                    for w in self._attached:
                        w.set_stop(outcome.fail)
            self._pending -= 1
            if self._pending > 0:
                return
            more = (self._fail is None and self.phase + 1 < len(self.phases)
                    and not self.cascade.stops(self.values, self.iset, self.phases[0]))  # type: ignore[union-attr]
            if more:
                self.phase += 1
        if more:
            self._run_phase(self)
        else:
            self._finish()

    def _finish(self) -> None:
        with self._lock:
            if self._finished:
                return
            self._finished = True
            t, s = self.values.copy(), self.seconds.copy()
            cut_short = self._fail is None and self.phase + 1 < len(self.phases)
            if self._fail is not None:
                f, status, error, cacheable = self._fail
                t[f:] = NOT_RUN
                s[f:] = 0.0
            else:
                status, error, cacheable = "ok", "", True
        result = EvalResult(status, error, t, s, cut_short=cut_short, **self._how())
        if self.future.cancelled():  # shards were skipped: the result is incomplete, never store it
            return
        try:
            self._on_result(result, cacheable)
        except Exception:  # noqa: BLE001 - e.g. a cache write failing must not lose the result
            log.exception("storing an evaluation result failed")
        try:
            self.future.set_result(result)
        except InvalidStateError:  # cancelled by the caller meanwhile
            pass

    def _how(self) -> dict[str, Any]:
        """Return the mode, the compile time summed over the processes, and the first compile failure.

        A candidate that compiled in one shard and fell back to Python in another (a function
        only some instances reach failed to compile) is reported as Python, with the reason.
        """
        ran = [self._ran[k] for k in sorted(self._ran)]
        failure = next((r.compile_error for r in ran if r.compile_error), "")
        modes = {r.mode for r in ran}
        mode = "" if not modes else "compiled" if modes == {"compiled"} else "python"
        return {"mode": mode, "compile_s": float(sum(r.compile_s for r in ran)), "compile_error": failure}

    def abort(self, reason: str) -> None:
        """Fail the evaluation with SandboxClosed (e.g. the sandbox is shutting down)."""
        with self._lock:
            if self._finished:
                return
            self._finished = True
        try:
            self.future.set_exception(SandboxClosed(reason))
        except InvalidStateError:
            pass
