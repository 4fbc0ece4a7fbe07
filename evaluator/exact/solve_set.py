"""Solve every instance of a set exactly, in this process or in worker processes."""

from __future__ import annotations

import dataclasses
import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed

import numpy as np

from evaluator.exact.bb import DEFAULT_MEMO_CAP_MB, solve
from evaluator.exact.dp import MAX_DP_JOBS, solve_dp
from evaluator.exact.mip import solve_mip
from evaluator.exact.result import ExactResult, check_time_limit
from evaluator.instances import InstanceSet

METHODS = ("bb", "mip", "dp")

Progress = Callable[[int, int, int, ExactResult], None]
"""Called as ``progress(done, total, index, result)`` each time an instance is finished."""


def solve_one(p, d, method: str = "bb", time_limit: float | None = None,
              memo_cap_mb: int = DEFAULT_MEMO_CAP_MB, clock: str = "wall", memo_policy: str = "stop"
              ) -> ExactResult:
    """Solve one instance with the named method (``time_limit`` is ignored by ``dp``; ``clock`` and
    ``memo_policy`` are bb's)."""
    if method == "bb":
        return solve(p, d, time_limit=time_limit, memo_cap_mb=memo_cap_mb, clock=clock,
                     memo_policy=memo_policy)
    if method == "mip":
        return solve_mip(p, d, time_limit=time_limit)
    if method == "dp":
        return solve_dp(p, d)
    raise ValueError(f"method = {method!r} must be one of {', '.join(METHODS)}")


def _warm_up(method: str = "bb", task: str | None = None) -> None:
    """Load (or compile) the numba kernels, so that no instance's time includes it."""
    if task is not None:
        from evaluator import tasks

        chosen = tasks.get(task)
        chosen.solve_exact(tuple(np.array(f, np.int64) for f in chosen.warm), method)
        return
    solve_one(np.array([2, 1, 3]), np.array([1, 2, 0]), method="dp" if method == "dp" else "bb")


def _worker(job: tuple) -> tuple[int, ExactResult]:
    index, task, inputs, method, time_limit, memo_cap_mb, clock, policy = job
    try:
        if task is None:
            return index, solve_one(*inputs, method, time_limit, memo_cap_mb, clock, policy)
        from evaluator import tasks

        return index, tasks.get(task).solve_exact(inputs, method, time_limit, memo_cap_mb=memo_cap_mb,
                                                  clock=clock, memo_policy=policy)
    except SystemError as e:
        # A Ctrl-C that lands while a numba function boxes its result surfaces as "returned a result
        # with an exception set", the KeyboardInterrupt as its cause: it is still a Ctrl-C.
        if isinstance(e.__cause__, KeyboardInterrupt):
            raise KeyboardInterrupt from None
        raise


def solve_set(
    iset: InstanceSet,
    method: str = "bb",
    time_limit: float | None = None,
    jobs: int = 1,
    progress: Progress | None = None,
    memo_cap_mb: int = DEFAULT_MEMO_CAP_MB,
    done: dict[int, ExactResult] | None = None,
    clock: str = "wall",
    memo_policy: str = "stop",
    task: str | None = None,
) -> list[ExactResult]:
    """Solve every instance of a set; return the results in instance order.

    Interrupting (Ctrl-C) raises ``KeyboardInterrupt`` once the workers are stopped; the results
    passed to ``progress`` so far are the ones to keep, and ``done`` resumes from them.

    Parameters
    ----------
    iset
        The instances.
    method
        ``"bb"`` (memoised decomposition), ``"mip"`` (positional MIP) or ``"dp"`` (subset DP).
    time_limit
        Seconds per instance (None: no limit; ``dp`` has none).
    jobs
        Worker processes; 1 solves in this process.
    progress
        Called after each instance as ``progress(done, total, index, result)``.
    memo_cap_mb
        Memo cap per instance of ``bb``.
    done
        Results already known, by instance index: they are returned as given, not solved again
        (``progress`` counts them as done but is not called for them).
    clock
        What ``time_limit`` counts for ``bb``: ``"wall"`` or ``"cpu"`` seconds.
    memo_policy
        What ``bb`` does at its memo cap: ``"stop"`` or ``"reset"`` (see ``bb.solve``).
    task
        A registered task's name (``evaluator.tasks``): its ``solve_exact`` and ``exact_methods``
        replace the ΣT_j methods above, and ``iset`` is that task's set. None: ΣT_j.

    Raises
    ------
    ValueError
        On an unknown method, ``jobs < 1``, a non-positive time limit, or ``dp`` on a set with
        more than ``MAX_DP_JOBS`` jobs in an instance.
    """
    methods = METHODS
    if task is not None:
        from evaluator import tasks

        methods = tasks.get(task).exact_methods
    if method not in methods:
        raise ValueError(f"method = {method!r} must be one of {', '.join(methods)}")
    if jobs < 1:
        raise ValueError(f"jobs = {jobs} must be at least 1")
    check_time_limit(time_limit)
    sizes = iset.sizes
    if method == "dp" and sizes.size and int(sizes.max()) > MAX_DP_JOBS:
        i = int(np.argmax(sizes))
        raise ValueError(f"the subset DP handles at most {MAX_DP_JOBS} jobs; instance {i} has "
                         f"{int(sizes[i])}")
    total = iset.count
    known = dict(done or {})
    bad = [i for i in known if not 0 <= i < total]
    if bad:
        raise ValueError(f"done holds instance {bad[0]}, but the set has {total} instances")
    results: list[ExactResult | None] = [known.get(i) for i in range(total)]
    todo = [(i, task, tuple(iset.get(i)), method, time_limit, memo_cap_mb, clock, memo_policy)
            for i in range(total) if i not in known]
    if not todo:
        return results  # type: ignore[return-value]
    _warm_up(method, task)  # before the workers start, so that they load the cache rather than compile
    if jobs == 1 or len(todo) <= 1:
        for count, job in enumerate(todo, start=len(known) + 1):
            i, r = _worker(job)
            results[i] = r
            if progress is not None:
                progress(count, total, i, r)
        return results  # type: ignore[return-value]
    ctx = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(max_workers=min(jobs, len(todo)), mp_context=ctx, initializer=_warm_up,
                               initargs=(method, task))
    try:
        futures = [pool.submit(_worker, job) for job in todo]
        for count, fut in enumerate(as_completed(futures), start=len(known) + 1):
            i, r = fut.result()
            r = dataclasses.replace(r)  # re-validates and makes the order read-only again
            results[i] = r
            if progress is not None:
                progress(count, total, i, r)
    except BaseException:
        _stop(pool)
        raise
    pool.shutdown()
    return results  # type: ignore[return-value]


def _stop(pool: ProcessPoolExecutor) -> None:
    """Stop a pool at once: drop the queued tasks and end the workers still solving."""
    procs = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for proc in procs:
        if proc.is_alive():
            proc.terminate()
    for proc in procs:
        proc.join(timeout=5)
