"""A pool of zygotes, one driver thread each, fed shards of candidate evaluations.

A job (one candidate on one set) is cut into shards of consecutive instances with about equal
Σn²; each shard gets that share of the job's time budget (plus a small grace) as its CPU-time
budget, and a wall-clock backstop. A driver thread sends a shard to its zygote, which forks a
fresh confined process for it and reports how that process ended and what it wrote; the driver
checks the reply (its nonce, its frame, its orders) and scores nothing the child computed. A
process killed from outside, or a zygote that dies, gets the shard once more on a fresh process.
"""

from __future__ import annotations

import logging
import math
import os
import queue
import secrets
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, replace

import numpy as np

from evaluator.sandbox import machine, protocol
from evaluator.sandbox.job import Job, Outcome, Ran
from evaluator.sandbox.layers import EXIT_CONFINE_FAILED
from evaluator.sandbox.process import NO_STOP, WorkerProcess, WorkerStartError

log = logging.getLogger(__name__)

SHARD_GRACE_S = 0.25  # CPU seconds per shard, for compiling the code and confining the process
COMPILE_CAP_S = 10.0  # CPU seconds of compiling per process the budget grants beyond the shard's share
MIN_SHARD = 16  # fewer instances than this per shard is not worth a round trip
LOAD_TIMEOUT_S = 60.0
SETS_PER_WORKER = 4  # instance sets a zygote keeps loaded (least recently used dropped first)
WALL_FACTOR, WALL_EXTRA_S = 3.0, 2.0  # wall-clock backstop of a shard: 3 × its CPU budget + 2 s
ZYGOTE_GRACE_S = 30.0  # beyond the backstop, how long the zygote may take to report (warming numba)
MAX_REPLY_HEADER = 4096  # bytes of a reply's JSON header
REPLY_FIELDS = frozenset({"nonce", "status", "done", "fail", "error", "mode", "compile_s", "compile_error",
                          "machine"})
RETRY = "retry"  # an outcome that says: killed from outside, run the shard again on a fresh process


@dataclass(frozen=True)
class Task:
    """One shard of a job."""

    job: Job
    indices: np.ndarray
    budget_s: float
    then: tuple[Task, ...] = ()  # queued once this one ran (a compiled candidate's first shard runs alone)


def split(indices: np.ndarray, sizes: np.ndarray, parts: int) -> list[np.ndarray]:
    """Cut sorted indices into at most ``parts`` consecutive runs of about equal Σn²."""
    parts = max(1, min(parts, math.ceil(len(indices) / MIN_SHARD)))
    if parts == 1:
        return [indices]
    w = np.cumsum(sizes[indices].astype(np.float64) ** 2)
    cuts = np.searchsorted(w, w[-1] * np.arange(1, parts) / parts, side="right")
    return [c for c in np.split(indices, np.unique(cuts)) if len(c)]


UNSAFE = "the sandbox refuses to run untrusted code"


class SandboxUnsafe(WorkerStartError):
    """The kernel refused a confinement layer and the caller did not allow running without it."""


class Pool:
    """Driver threads with one worker each; ``run`` queues a job's shards."""

    def __init__(self, workers: int, memory_mb: int, cpu_s: int, audit: bool, serial: int,
                 allow_weak: bool = False, without: tuple[str, ...] = ()):
        self.size = workers
        self.machine = machine.Store()  # compiled candidates' machine code, shared between their processes
        self.allow_weak = allow_weak
        self._warned = False
        self.memory_mb = memory_mb
        self.cpu_s = cpu_s
        self.audit = audit
        self.without = without
        self.serial = serial
        self._tasks: queue.Queue[Task | None] = queue.Queue()
        self._closing = threading.Event()
        self._lock = threading.Lock()
        self._workers: dict[int, WorkerProcess] = {}
        self._ready = [threading.Event() for _ in range(workers)]
        self.start_errors: dict[int, str] = {}
        self.info: dict[int, dict] = {}
        self._threads = [threading.Thread(target=self._drive, args=(slot,), name=f"sandbox-driver-{slot}",
                                          daemon=True) for slot in range(workers)]
        for t in self._threads:
            t.start()

    def wait_ready(self, timeout_s: float | None = None) -> None:
        """Wait until every worker has started; raise WorkerStartError if one could not."""
        for ev in self._ready:
            ev.wait(timeout_s)
        if self.start_errors:
            text = next(iter(self.start_errors.values()))
            raise (SandboxUnsafe if text.startswith(UNSAFE) else WorkerStartError)(text)

    def layers(self) -> dict[str, str]:
        """Return the layers the zygotes reported: "" where one holds, the reason where it is missing."""
        out: dict[str, str] = {}
        for info in list(self.info.values()):
            for name, why in dict(info.get("layers", {})).items():
                out[name] = out.get(name) or str(why)
        return out

    def run(self, job: Job) -> None:
        """Queue the shards of the job's current phase."""
        if self._closing.is_set():
            job.abort("the sandbox is closed")
            return
        indices = job.current_phase()
        total_w = float(np.sum(job.iset.sizes.astype(np.float64) ** 2)) or 1.0
        shards = split(indices, job.iset.sizes, self.size)
        job.expect(len(shards))
        weight = [float(np.sum(job.iset.sizes[s].astype(np.float64) ** 2)) / total_w for s in shards]
        tasks = [Task(job, s, job.timeout_s * w + SHARD_GRACE_S) for s, w in zip(shards, weight, strict=True)]
        mkey = job.machine_key
        if len(tasks) > 1 and mkey and not self.machine.get(mkey) and not self.machine.failure(mkey):
            tasks = [replace(tasks[0], then=tuple(tasks[1:]))]
        for t in tasks:
            self._tasks.put(t)

    def close(self) -> None:
        """Stop the drivers, kill every worker, and fail the jobs still queued."""
        self._closing.set()
        with self._lock:
            workers = list(self._workers.values())
        for w in workers:
            w.signal_kill()  # each driver then sees its worker die, reaps it and exits
        while True:
            try:
                task = self._tasks.get_nowait()
            except queue.Empty:
                break
            if task is not None:
                task.job.abort("the sandbox is closed")
        for _ in self._threads:
            self._tasks.put(None)
        for t in self._threads:
            if t is not threading.current_thread():
                t.join(timeout=15)
        with self._lock:
            left = list(self._workers.values())
        for w in left:  # only if a driver did not finish in time
            w.kill()

    # --- driver side -------------------------------------------------------------------------

    def _spawn(self, slot: int) -> WorkerProcess | None:
        try:
            w = WorkerProcess(slot, self.memory_mb, self.cpu_s, self.audit, self.serial, self.without)
        except Exception as e:  # noqa: BLE001 - e.g. out of file descriptors: report, retry later
            self.start_errors[slot] = f"sandbox worker failed to start: {e}"
            return None
        with self._lock:
            self._workers[slot] = w
        if self._closing.is_set():
            w.kill()
            return None
        try:
            hello = w.handshake()
        except WorkerStartError as e:
            self.start_errors[slot] = str(e)
            return None
        missing = ", ".join(f"{k} ({v})" for k, v in dict(hello.get("layers", {})).items() if v)
        if missing and not self.allow_weak:
            self._retire(slot, w)
            self.start_errors[slot] = str(SandboxUnsafe(
                f"the sandbox refuses to run untrusted code: the kernel refused {missing}; to run it anyway,"
                " allow it explicitly (--allow-weak-sandbox, evaluation.allow_weak_sandbox = true)"))
            return None
        if missing and not self._warned:
            self._warned = True
            log.warning("sandbox: running untrusted code without %s (allowed explicitly)", missing)
        self.info[slot] = hello
        self.start_errors.pop(slot, None)
        return w

    def _retire(self, slot: int, w: WorkerProcess) -> None:
        w.kill()
        with self._lock:
            if self._workers.get(slot) is w:
                del self._workers[slot]

    def _drive(self, slot: int) -> None:
        w = self._spawn(slot)
        self._ready[slot].set()
        while not self._closing.is_set():
            task = self._tasks.get()
            if task is None or self._closing.is_set():
                if task is not None:
                    task.job.abort("the sandbox is closed")
                break
            if w is None:
                w = self._spawn(slot)
                if w is None:
                    task.job.record(task.indices, self._no_zygote(slot, task))
                    continue
            try:
                w, outcome, healthy = self._attempt(slot, w, task)
            except Exception as e:  # noqa: BLE001 - a bug here must not kill the driver
                log.exception("sandbox driver %d failed", slot)
                outcome, healthy = Outcome.failure("error", int(task.indices[0]),
                                                   f"internal sandbox error: {e}", cacheable=False), False
            for later in task.then:  # the other shards, which install what this one compiled
                self._tasks.put(later)
            if self._closing.is_set():  # the zygote was killed under it: not the candidate's fault
                task.job.abort("the sandbox is closed")
                break
            if w is not None and not healthy:
                self._retire(slot, w)  # kill before reporting, so no process outlives its result
                w = None
            try:
                task.job.record(task.indices, outcome)
            except Exception:  # noqa: BLE001 - keep driving the other jobs
                log.exception("sandbox driver %d could not record a result", slot)
            if w is None and not self._closing.is_set():
                w = self._spawn(slot)
        if w is not None:
            w.close()
            with self._lock:
                self._workers.pop(slot, None)

    def _no_zygote(self, slot: int, task: Task) -> Outcome:
        reason = self.start_errors.get(slot, "no sandbox process")
        return Outcome.failure("error", int(task.indices[0]), reason, cacheable=False)

    def _attempt(self, slot: int, w: WorkerProcess, task: Task) -> tuple[WorkerProcess | None, Outcome, bool]:
        """Run a shard; once more on a fresh process when the first was killed from outside."""
        outcome, healthy = self._run_task(w, task, last_try=False)
        if outcome.status != RETRY:
            return w, outcome, healthy
        if not healthy:
            self._retire(slot, w)
            if self._closing.is_set() or (fresh := self._spawn(slot)) is None:
                return None, self._no_zygote(slot, task), True
            w = fresh
        outcome, healthy = self._run_task(w, task, last_try=True)
        return w, outcome, healthy

    def _run_task(self, w: WorkerProcess, task: Task, last_try: bool) -> tuple[Outcome, bool]:
        """Run one shard in a fresh process; return the outcome and whether the zygote is still usable."""
        job, idx = task.job, task.indices
        first = int(idx[0])
        if job.stop_at() <= first or job.future.cancelled():
            return Outcome.skipped(), True
        iset = job.iset
        if job.set_key not in w.loaded:
            arrays = (iset.offsets, *job.columns)
            blob = b"".join(np.ascontiguousarray(a, dtype="<i8").tobytes() for a in arrays)
            meta = {"op": "load", "key": job.set_key, "count": iset.count, "jobs": int(iset.p.shape[0]),
                    "columns": len(job.columns)}
            try:
                w.send(meta, blob, time.monotonic() + LOAD_TIMEOUT_S)
                w.loaded[job.set_key] = None
                while len(w.loaded) > SETS_PER_WORKER:
                    old, _ = w.loaded.popitem(last=False)
                    w.send({"op": "drop", "key": old}, deadline=time.monotonic() + LOAD_TIMEOUT_S)
            except (protocol.Timeout, protocol.ProtocolError):
                w.kill()
                if not last_try:
                    return Outcome(RETRY), False
                return Outcome.failure("error", first, f"the sandbox's zygote {w.exit_description()} while"
                                       " loading the instances", cacheable=False), False
        w.loaded.move_to_end(job.set_key)
        w.set_stop(job.stop_at())
        job.attach(w)
        try:
            return self._exchange(w, task, last_try)
        finally:
            job.detach(w)
            w.set_stop(NO_STOP)

    def _exchange(self, w: WorkerProcess, task: Task, last_try: bool) -> tuple[Outcome, bool]:
        job, idx = task.job, task.indices
        nonce = secrets.token_hex(16)
        jobs = int(np.sum(job.iset.sizes[idx]))
        max_reply = protocol.HEADER.size + MAX_REPLY_HEADER + 8 * (jobs + len(idx))
        mkey = job.machine_key
        compiling = COMPILE_CAP_S if mkey else 0.0
        wall_s = WALL_FACTOR * (task.budget_s + compiling) + WALL_EXTRA_S
        code_in = self.machine.get(mkey) if mkey else b""
        failed = self.machine.failure(mkey) if mkey and not code_in else ""
        asked = bool(mkey and not code_in and not failed)
        max_reply += machine.MAX_BYTES if asked else 0
        meta = {"op": "run", "key": job.set_key, "code": job.code, "entry": job.entry, "seed": job.seed,
                "policy": job.enforce_policy, "nonce": nonce, "cpu_s": task.budget_s, "wall_s": wall_s,
                "max_reply": max_reply, "compile_cap_s": compiling, "count": len(idx),
                "export_machine": asked, "compile_failed": failed, "fields": list(job.task.fields),
                "warm": [list(c) for c in job.task.warm]}
        deadline = time.monotonic() + wall_s + ZYGOTE_GRACE_S
        try:
            w.send(meta, idx.astype("<i8").tobytes() + code_in, deadline)
            head, raw = w.receive(deadline, max_reply + 1)
        except (protocol.Timeout, protocol.ProtocolError) as e:
            w.kill()  # the zygote itself hung or died: never the candidate's doing, so try again once
            if not last_try:
                return Outcome(RETRY), False
            what = "stopped answering" if isinstance(e, protocol.Timeout) else w.exit_description()
            return Outcome.failure("error", int(idx[0]), f"instance {int(idx[0])}: the sandbox's zygote"
                                   f" {what} twice while running the candidate", cacheable=False), False
        if head.get("op") != "result" or head.get("nonce") != nonce:
            w.kill()
            return Outcome.failure("error", int(idx[0]), "the sandbox's zygote sent an unexpected message",
                                   cacheable=False), False
        keep = (lambda blob, how: self.machine.keep(mkey, blob, how.compile_error)) if asked else None
        return judge(job, idx, head, raw, nonce, max_reply, last_try, keep), True


def judge(job: Job, idx: np.ndarray, head: dict, raw: bytes, nonce: str, max_reply: int,
          last_try: bool, keep_machine: Callable[[bytes, Ran], None] | None = None) -> Outcome:
    """Turn the zygote's report on one candidate process (how it ended, what it wrote) into an outcome."""
    at = head.get("progress")
    at = at if isinstance(at, int) and at in set(idx.tolist()) else int(idx[0])
    killed, code = head.get("killed"), head.get("exit")
    where = f"instance {at}: "
    if killed == "cpu" or code == -getattr(signal, "SIGXCPU", 0):
        return Outcome.failure("timeout", at, where + "timed out: the candidate used up its CPU-time budget"
                               f" of {job.timeout_s:g} s for this set", cacheable=False)
    if killed == "wall":
        return Outcome.failure("timeout", at, where + "timed out: the candidate ran past the wall-clock limit"
                               f" of {WALL_FACTOR:g} × its CPU budget + {WALL_EXTRA_S:g} s (sleeping or"
                               " blocked)", cacheable=False)
    if killed == "size":
        return Outcome.failure("error", at, where + "the candidate's process wrote more than one reply",
                               cacheable=False)
    if code == -signal.SIGKILL:  # not the zygote's doing: the OOM killer or someone else
        if not last_try:
            return Outcome(RETRY)
        return Outcome.failure("error", at, where + "the candidate's process was killed by SIGKILL from"
                               " outside the sandbox, twice (out of memory?)", cacheable=False)
    if isinstance(code, int) and code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return Outcome.failure("error", at, where + f"the candidate's process was killed by {name}",
                               cacheable=False)
    if code == EXIT_CONFINE_FAILED:
        return Outcome.failure("error", at, "the sandbox could not confine the candidate's process",
                               cacheable=False)
    if code != 0 or not raw:
        how = "" if code == 0 else f" with code {code}"
        return Outcome.failure("error", at, where + f"the candidate's process exited{how} before replying"
                               " (os._exit, a closed reply pipe or a crash)", cacheable=False)
    try:
        reply, blob = protocol.decode(raw, max_reply)
    except protocol.ProtocolError as e:
        return Outcome.failure("error", at, where + f"the candidate's process sent a reply that is not the"
                               f" expected frame ({e})", cacheable=False)
    if reply.get("nonce") != nonce or not set(reply) <= REPLY_FIELDS:
        return Outcome.failure("error", at, where + "the candidate's process sent a reply that is not the"
                               " expected frame (wrong nonce or fields)", cacheable=False)
    size = reply.pop("machine", 0)
    if not isinstance(size, int) or not 0 <= size <= min(len(blob), machine.MAX_BYTES) \
            or (size and keep_machine is None):
        return Outcome.failure("error", at, where + "the candidate's process sent machine code it was not"
                               " asked for, or of a wrong size", cacheable=False)
    code, blob = (blob[len(blob) - size:], blob[:len(blob) - size]) if size else (b"", blob)
    outcome = job.parse_reply(idx, reply, blob)
    if keep_machine is not None and outcome.status == "ok":  # its machine code, or why numba failed
        keep_machine(code if outcome.how.mode == "compiled" else b"", outcome.how)
    return outcome


def default_workers() -> int:
    """Return the number of cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def resolved(value) -> Future:
    """Return a future already holding ``value``."""
    f: Future = Future()
    f.set_result(value)
    return f
