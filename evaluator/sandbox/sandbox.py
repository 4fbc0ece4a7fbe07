"""The public face of the sandbox: check, cache, and score candidate code in confined processes."""

from __future__ import annotations

import itertools
import math
import threading
import weakref
from concurrent.futures import Future
from pathlib import Path

import numpy as np

from evaluator import tasks
from evaluator.instances import InstanceSet
from evaluator.sandbox import policy
from evaluator.sandbox.cache import EvalCache, cache_key
from evaluator.sandbox.cascade import Cascade
from evaluator.sandbox.job import Job
from evaluator.sandbox.pool import Pool, SandboxUnsafe, default_workers, resolved
from evaluator.sandbox.result import EvalResult
from evaluator.task import Task

DEFAULT_TIMEOUT_S = 30.0
DEFAULT_MEMORY_MB = 2048
MIN_MEMORY_MB = 512  # numpy and numba alone take ~450 MB of address space
CPU_LIMIT_S = 3600  # passed to the zygote; each candidate's process gets an RLIMIT_CPU from its own budget

_serial = itertools.count()


class Sandbox:
    """Score untrusted heuristic code, one fresh confined process per shard, scored by the parent.

    A candidate is a module defining ``entry(p, d) -> order`` (the task's fields: p, d for ΣT_j,
    read-only int64 arrays; the
    order any sequence convertible to a permutation of 0..n-1), importing only
    ``policy.ALLOWED_MODULES``. Each shard of a set runs in a new process forked from a warm
    zygote (numpy, numba and the helpers imported) that sees no file, no network and nothing of
    the set but p and d (see ``layers``); nothing it does survives it. Each instance runs in a
    fresh module namespace with ``random`` and ``numpy.random`` seeded from (seed, instance
    index), so the same code, set and seed give the same tardiness however many workers there
    are. The tardiness is computed here, in the parent, from the parent's own copy of the set and
    the orders the process sends back in one frame carrying the request's nonce.

    Parameters
    ----------
    workers
        Zygotes, hence shards run at once (default: one per usable core). Started on
        ``__enter__`` or first use.
    timeout_s
        Default CPU-time budget for one candidate on one whole set, in seconds. A set is cut
        into shards of consecutive instances, one per worker at most; each shard gets the share
        of the budget proportional to its Σn², plus 0.25 s grace, as the CPU time of its process,
        and 3 × that + 2 s of wall clock (for candidates that sleep or block). Code that mentions
        numba also gets the CPU time its process spends compiling, up to ``pool.COMPILE_CAP_S``
        per process (see ``runner.LoadedCandidate``; ``EvalResult.compile_s`` reports it).
    memory_mb
        Address-space limit of each candidate's process, in MB; an allocation beyond it gives
        status "memory".
    cache_path
        SQLite file to persist the evaluation cache in (default: memory only).
    allow_weak
        Run untrusted code even where the kernel refuses one of ``layers.LAYERS``. Without it a
        sandbox that cannot apply every layer refuses to start (``SandboxUnsafe``); with it the
        missing layers are named in one warning line at start-up and in ``missing_layers``.

    Raises
    ------
    ValueError
        On a non-positive worker count or timeout, or a memory limit below ``MIN_MEMORY_MB``.
    """

    def __init__(self, workers: int | None = None, timeout_s: float = DEFAULT_TIMEOUT_S,
                 memory_mb: int = DEFAULT_MEMORY_MB, cache_path: str | Path | None = None, *,
                 allow_weak: bool = False, _enforce_policy: bool = True, _audit: bool = True,
                 _without: tuple[str, ...] = ()):
        self.workers = default_workers() if workers is None else int(workers)
        if self.workers < 1:
            raise ValueError(f"workers = {workers!r} must be at least 1")
        _check_timeout(timeout_s)
        if int(memory_mb) < MIN_MEMORY_MB:
            raise ValueError(f"memory_mb = {memory_mb!r} must be at least {MIN_MEMORY_MB}")
        self.timeout_s = float(timeout_s)
        self.memory_mb = int(memory_mb)
        self.allow_weak = bool(allow_weak)
        # The private switches exist so tests can show each inner layer holds on its own, and what
        # happens where the kernel refuses an OS layer (``_without`` names layers to leave off).
        self._enforce_policy = _enforce_policy
        self._audit = _audit
        self._without = tuple(_without)
        self._variant = ("" if (_enforce_policy and _audit and not _without)
                         else f"policy={_enforce_policy},audit={_audit},without={sorted(_without)}")
        self.cache = EvalCache(cache_path)
        self._pool: Pool | None = None
        self._lock = threading.Lock()
        self._inflight: dict[tuple[str, str], Future] = {}
        self._closed = False
        self._serial = next(_serial)
        self._finalizer: weakref.finalize | None = None
        self._unsafe: SandboxUnsafe | None = None

    def __enter__(self) -> Sandbox:
        try:
            self._ensure_pool()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def worker_info(self) -> list[dict]:
        """Return what each started zygote reported: pid, the uid of its candidates, its layers."""
        return [] if self._pool is None else [dict(v) for _, v in sorted(self._pool.info.items())]

    @property
    def layers(self) -> dict[str, str]:
        """Return ``{layer: ""}`` for each layer that holds, ``{layer: reason}`` for each missing one.

        Starts the sandbox if needed.
        """
        self._ensure_pool()
        return self._pool.layers() if self._pool is not None else {}

    @property
    def missing_layers(self) -> list[str]:
        """Return the layers the kernel refused, as ``"name (reason)"`` (empty when all hold)."""
        return [f"{k} ({v})" for k, v in self.layers.items() if v]

    def _ensure_pool(self) -> Pool:
        with self._lock:
            if self._closed:
                raise RuntimeError("the sandbox is closed")
            if self._pool is not None:
                return self._pool
            if self._unsafe is not None:  # the kernel will not change its mind: say so at once
                raise self._unsafe
            cpu_s = int(max(CPU_LIMIT_S, 4 * self.timeout_s))
            pool = Pool(self.workers, self.memory_mb, cpu_s, self._audit, self._serial, self.allow_weak,
                        self._without)
            # closes the pool when this sandbox is garbage-collected or the interpreter exits
            self._finalizer = weakref.finalize(self, pool.close)
            try:
                pool.wait_ready()
            except BaseException as e:
                self._finalizer()
                if isinstance(e, SandboxUnsafe):
                    self._unsafe = e
                raise
            self._pool = pool
            return pool

    def evaluate(self, code: str, iset: InstanceSet, entry: str = "schedule", timeout_s: float | None = None,
                 cascade: Cascade | None = None, seed: int = 0, task: Task | str | None = None) -> EvalResult:
        """Score ``code`` on every instance of ``iset`` and wait for the result."""
        return self.submit(code, iset, entry, timeout_s, cascade, seed, task).result()

    def submit(self, code: str, iset: InstanceSet, entry: str = "schedule", timeout_s: float | None = None,
               cascade: Cascade | None = None, seed: int = 0, task: Task | str | None = None
               ) -> Future[EvalResult]:
        """Queue ``code`` for scoring on ``iset`` of ``task`` (default: total tardiness); return a future of
        its EvalResult, whose values are the task's objective."""
        task = tasks.get(task)
        timeout = self.timeout_s if timeout_s is None else float(timeout_s)
        _check_timeout(timeout)
        if not isinstance(entry, str) or not entry.isidentifier():
            raise ValueError(f"entry = {entry!r} must be a Python identifier")
        if iset.count == 0:
            return resolved(EvalResult("ok", "", np.zeros(0, np.int64), np.zeros(0)))
        verdict = policy.inspect(code, entry, enforce=self._enforce_policy, fields=task.fields)
        if verdict.status != "ok":
            return resolved(EvalResult.failed(verdict.status, verdict.reason, iset.count))
        set_sha = iset.sha256() if task.name == tasks.DEFAULT else f"{iset.sha256()}:{task.name}"
        full_key = cache_key(code, entry, set_sha, seed, self._variant)
        cascade_key = (cache_key(code, entry, set_sha, seed, f"{self._variant}|cascade={cascade.key()}")
                       if cascade is not None and cascade.subset < iset.count else None)
        hit = self.cache.get(full_key) or self.cache.get(cascade_key)
        if hit is not None:
            return resolved(hit)
        flight = (str(full_key), str(cascade_key))
        with self._lock:
            running = self._inflight.get(flight)
            if running is not None:
                return _chained_cached(running)
            future: Future[EvalResult] = Future()
            self._inflight[flight] = future

        def on_result(result: EvalResult, cacheable: bool) -> None:
            if cacheable:
                complete = cascade_key is None or (result.ok and not result.cut_short)
                self.cache.put(full_key if complete else cascade_key, result)
            with self._lock:
                self._inflight.pop(flight, None)

        future.add_done_callback(lambda f: self._forget(flight, f))
        try:
            pool = self._ensure_pool()
        except BaseException as e:  # e.g. SandboxUnsafe: fail this future too, so no duplicate waits on it
            future.set_exception(e)
            raise
        pool.run(Job(iset, set_sha, code, entry, int(seed), timeout, cascade, self._enforce_policy, future,
                     pool.run, on_result, task))
        return future

    def _forget(self, flight: tuple[str, str], future: Future) -> None:
        with self._lock:
            if self._inflight.get(flight) is future:
                del self._inflight[flight]

    def close(self) -> None:
        """Stop every worker (killing their process groups) and fail evaluations still queued."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._pool = None
        if self._finalizer is not None:
            self._finalizer()  # Pool.close, at most once
        self.cache.close()


def _check_timeout(timeout_s: float) -> None:
    if not (isinstance(timeout_s, (int, float)) and math.isfinite(timeout_s) and timeout_s > 0):
        raise ValueError(f"timeout_s = {timeout_s!r} must be a positive number of seconds")


def _chained_cached(source: Future) -> Future:
    """Return a future resolving like ``source`` but marked cached (a duplicate submission)."""
    out: Future = Future()

    def copy(f: Future) -> None:
        if f.cancelled():
            out.cancel()
        elif f.exception() is not None:
            out.set_exception(f.exception())
        else:
            out.set_result(f.result().marked_cached())

    source.add_done_callback(copy)
    return out

