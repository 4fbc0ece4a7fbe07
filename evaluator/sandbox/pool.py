"""A pool of long-lived workers, one driver thread each, fed shards of candidate evaluations.

A job (one candidate on one set) is cut into shards of consecutive instances with about equal
Σn²; each shard gets that share of the job's time budget (plus a small grace) as its wall-clock
deadline. A driver thread sends a shard to its worker and waits; on a deadline, a crash or a
garbled reply it kills the worker's whole group and starts a fresh one.
"""

from __future__ import annotations

import logging
import math
import os
import queue
import signal
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass

import numpy as np

from evaluator.sandbox import protocol
from evaluator.sandbox.job import Job, Outcome
from evaluator.sandbox.process import NO_STOP, WorkerProcess, WorkerStartError

log = logging.getLogger(__name__)

SHARD_GRACE_S = 0.25  # per shard, for compiling the code and the round trip
MIN_SHARD = 16  # fewer instances than this per shard is not worth a round trip
LOAD_TIMEOUT_S = 60.0
SETS_PER_WORKER = 4  # instance sets a worker keeps loaded (least recently used dropped first)
RECYCLE_CPU_FRACTION = 0.5  # replace a worker once it has used this much of its CPU-seconds limit
RECYCLE_RSS_FRACTION = 0.5  # ... or holds this much of its memory limit


@dataclass(frozen=True)
class Task:
    """One shard of a job."""

    job: Job
    indices: np.ndarray
    budget_s: float


def split(indices: np.ndarray, sizes: np.ndarray, parts: int) -> list[np.ndarray]:
    """Cut sorted indices into at most ``parts`` consecutive runs of about equal Σn²."""
    parts = max(1, min(parts, math.ceil(len(indices) / MIN_SHARD)))
    if parts == 1:
        return [indices]
    w = np.cumsum(sizes[indices].astype(np.float64) ** 2)
    cuts = np.searchsorted(w, w[-1] * np.arange(1, parts) / parts, side="right")
    return [c for c in np.split(indices, np.unique(cuts)) if len(c)]


class Pool:
    """Driver threads with one worker each; ``run`` queues a job's shards."""

    def __init__(self, workers: int, memory_mb: int, cpu_s: int, audit: bool, serial: int):
        self.size = workers
        self.memory_mb = memory_mb
        self.cpu_s = cpu_s
        self.audit = audit
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
            raise WorkerStartError(next(iter(self.start_errors.values())))

    def run(self, job: Job) -> None:
        """Queue the shards of the job's current phase."""
        if self._closing.is_set():
            job.abort("the sandbox is closed")
            return
        indices = job.current_phase()
        total_w = float(np.sum(job.iset.sizes.astype(np.float64) ** 2)) or 1.0
        shards = split(indices, job.iset.sizes, self.size)
        job.expect(len(shards))
        for s in shards:
            share = float(np.sum(job.iset.sizes[s].astype(np.float64) ** 2)) / total_w
            self._tasks.put(Task(job, s, job.timeout_s * share + SHARD_GRACE_S))

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
            w = WorkerProcess(slot, self.memory_mb, self.cpu_s, self.audit, self.serial)
        except Exception as e:  # noqa: BLE001 - e.g. out of file descriptors: report, retry later
            self.start_errors[slot] = f"sandbox worker failed to start: {e}"
            return None
        with self._lock:
            self._workers[slot] = w
        if self._closing.is_set():
            w.kill()
            return None
        try:
            self.info[slot] = w.handshake()
            self.start_errors.pop(slot, None)
            return w
        except WorkerStartError as e:
            self.start_errors[slot] = str(e)
            return None

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
                    reason = self.start_errors.get(slot, "no worker")
                    task.job.record(task.indices, Outcome.failure("error", int(task.indices[0]), reason,
                                                                  cacheable=False))
                    continue
            try:
                outcome, healthy = self._run_task(w, task)
            except Exception as e:  # noqa: BLE001 - a bug here must not kill the driver
                log.exception("sandbox driver %d failed", slot)
                outcome, healthy = Outcome.failure("error", int(task.indices[0]),
                                                   f"internal sandbox error: {e}", cacheable=False), False
            if self._closing.is_set():  # the worker was killed under it: not the candidate's fault
                task.job.abort("the sandbox is closed")
                break
            if not healthy or self._worn(w):
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

    def _worn(self, w: WorkerProcess) -> bool:
        return (w.cpu_seconds() > RECYCLE_CPU_FRACTION * self.cpu_s
                or w.rss_mb() > RECYCLE_RSS_FRACTION * self.memory_mb)

    def _run_task(self, w: WorkerProcess, task: Task) -> tuple[Outcome, bool]:
        """Run one shard on a worker; return the outcome and whether the worker is still usable."""
        job, idx = task.job, task.indices
        first = int(idx[0])
        if job.stop_at() <= first or job.future.cancelled():
            return Outcome.skipped(), True
        iset = job.iset
        if job.set_key not in w.loaded:
            arrays = (iset.offsets, iset.p, iset.d)
            blob = b"".join(np.ascontiguousarray(a, dtype="<i8").tobytes() for a in arrays)
            meta = {"op": "load", "key": job.set_key, "count": iset.count, "jobs": int(iset.p.shape[0])}
            try:
                w.send(meta, blob, time.monotonic() + LOAD_TIMEOUT_S)
                w.loaded[job.set_key] = None
                while len(w.loaded) > SETS_PER_WORKER:
                    old, _ = w.loaded.popitem(last=False)
                    w.send({"op": "drop", "key": old}, deadline=time.monotonic() + LOAD_TIMEOUT_S)
            except (protocol.Timeout, protocol.ProtocolError):
                w.kill()
                return Outcome.failure("error", first, f"the sandbox worker {w.exit_description()} while"
                                       " loading the instances", cacheable=False), False
        w.loaded.move_to_end(job.set_key)
        w.set_stop(job.stop_at())
        job.attach(w)
        try:
            return self._exchange(w, task)
        finally:
            job.detach(w)
            w.set_stop(NO_STOP)

    def _exchange(self, w: WorkerProcess, task: Task) -> tuple[Outcome, bool]:
        job, idx = task.job, task.indices
        meta = {"op": "run", "key": job.set_key, "code": job.code, "entry": job.entry, "seed": job.seed,
                "policy": job.enforce_policy}
        deadline = time.monotonic() + task.budget_s
        max_blob = 8 * int(np.sum(job.iset.sizes[idx])) + 8 * len(idx)
        try:
            w.send(meta, idx.astype("<i8").tobytes(), deadline)
            reply, blob = w.receive(deadline, max_blob)
        except protocol.Timeout:
            at = w.progress()
            w.kill()
            at = at if at in set(idx.tolist()) else int(idx[0])
            return Outcome.failure(
                "timeout", at, f"instance {at}: timed out: the candidate exceeded its wall-clock budget of "
                f"{job.timeout_s:g} s for this set", cacheable=False), False
        except protocol.ProtocolError as e:
            at = w.progress()
            w.kill()
            at = at if at in set(idx.tolist()) else int(idx[0])
            return self._crash(w, at, e), False
        outcome = job.parse_reply(idx, reply, blob)
        return outcome, not reply.get("retire", False)

    def _crash(self, w: WorkerProcess, at: int, e: Exception) -> Outcome:
        if w.exit_signal() == getattr(signal, "SIGXCPU", None):
            return Outcome.failure("timeout", at, f"instance {at}: the candidate used up the worker's"
                                   " CPU-time limit", cacheable=False)
        garbled = not isinstance(e, protocol.PeerClosed)
        what = f"sent a garbled reply ({e})" if garbled else w.exit_description()
        return Outcome.failure("error", at, f"instance {at}: the sandboxed process {what} while running the"
                               " candidate (a crash, os._exit or stray writes)", cacheable=False)


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
