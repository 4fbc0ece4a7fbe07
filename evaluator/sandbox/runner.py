"""Inside a candidate's process: run candidate code on a shard of instances and check what it returns.

Every instance gets a fresh module namespace, fresh read-only copies of p and d, and seeds for
``random`` and ``numpy.random`` derived from (seed, instance index) alone, so an instance's
result does not depend on which process ran it. ``warm`` runs once in the zygote, before it
isolates itself, so that everything a candidate may use is already imported.
"""

from __future__ import annotations

import builtins
import functools
import hashlib
import math
import operator
import random
import signal
import struct
import sys
import threading
import time
import traceback
import types
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from evaluator.sandbox import policy

WATCHED_MODULES = (
    "builtins", "numpy", "numpy.random", "numpy.linalg", "math", "heapq", "itertools", "functools",
    "collections", "bisect", "operator", "random", "evaluator.helpers",
)
PRELOAD = (
    "numpy.random", "numpy.linalg", "numpy.fft", "numpy.polynomial", "numpy.ma", "numpy.lib.stride_tricks",
    "numpy.rec", "numpy.char", "numpy.strings", "math", "heapq", "itertools", "functools", "collections",
    "collections.abc", "bisect", "operator", "random", "evaluator.helpers", "traceback", "linecache",
    "numba", "numba.core.boxing", "numba.core.runtime.context",  # what numba's first compile imports
)
_SIGNALS = tuple(getattr(signal, n) for n in (
    "SIGALRM", "SIGVTALRM", "SIGPROF", "SIGINT", "SIGTERM", "SIGHUP", "SIGUSR1", "SIGUSR2", "SIGCHLD",
    "SIGPIPE", "SIGXFSZ"))
_TIMERS = (signal.ITIMER_REAL, signal.ITIMER_VIRTUAL, signal.ITIMER_PROF)
RECURSION_LIMIT = 1000
_MISSING = object()
NO_STOP = (1 << 63) - 1
_PROGRESS = struct.Struct("<qq")  # (instance running now, stop before this instance)


class InvalidOutput(Exception):
    """The candidate returned something that is not a permutation of the jobs."""


_current_seed: list[int] = [0, 0]


def warm() -> None:
    """Import and compile everything a candidate may use; nothing can be loaded after confinement."""
    import importlib

    for name in PRELOAD:
        importlib.import_module(name)
    sys.modules["evaluator.helpers"].warm()
    _make_unseeded_generators_deterministic()
    np.seterr(all="warn", under="ignore")


def warm_numba() -> None:
    """Compile one small function in memory, so that numba's compiler is initialised once for all.

    numba's first compile in a process takes seconds (its typing and lowering registries); the
    zygote pays it once, on the first candidate that mentions numba, and every child it forks
    after that starts warm. It needs no file: ``PRELOAD`` holds the modules it imports lazily.
    """
    from numba import njit

    def kernel(p, d, w):
        n = p.shape[0]
        key = np.empty(n, np.float64)
        acc = 0
        for j in range(n):
            key[j] = d[j] / max(1, p[j]) + w * math.sqrt(j + 1.0)
            acc += min(p[j], d[j])
        order = np.argsort(key, kind="mergesort")
        seen = [False] * n
        for j in order:
            seen[j] = True
        return order, acc, np.sum(np.maximum(np.cumsum(p[order]) - d[order], 0)), seen[0]

    p = np.array([3, 1, 2], np.int64)
    njit(cache=False)(kernel)(p, p + 2, 0.5)


def _make_unseeded_generators_deterministic() -> None:
    """Let ``default_rng()`` and ``random.Random()`` without a seed draw from the instance's seed."""
    original = np.random.default_rng

    @functools.wraps(original)
    def default_rng(seed=None):
        return original(np.random.SeedSequence(list(_current_seed)) if seed is None else seed)

    class Random(random.Random):
        """``random.Random`` seeded from the instance's seed when given none."""

        def __init__(self, x=None):
            super().__init__(_instance_seed_int() if x is None else x)

    np.random.default_rng = default_rng
    random.Random = Random


def _instance_seed_int() -> int:
    h = hashlib.blake2b(f"{_current_seed[0]}:{_current_seed[1]}".encode(), digest_size=8).digest()
    return int.from_bytes(h, "little")


def progress_index(page: Any) -> int:
    """Return the instance a candidate's process last started, as it wrote it (informative only)."""
    return _PROGRESS.unpack_from(page, 0)[0]


def seed_instance(seed: int, index: int) -> None:
    """Seed ``random`` and ``numpy.random`` from (seed, instance index)."""
    _current_seed[0], _current_seed[1] = seed, index
    s = _instance_seed_int()
    random.seed(s)
    np.random.seed(s & 0xFFFFFFFF)
    np.seterr(all="warn", under="ignore")


def snapshot_modules() -> dict[str, tuple[dict[str, Any], dict[str, tuple]]]:
    """Return references to every attribute of the modules a candidate can touch, and more state.

    For each watched module: a shallow copy of its dict, and copies of the plain dicts, lists and
    sets in it. References are compared with ``is``, never through ``id()``: ``id`` is audited.
    """
    snap = {name: _contents(vars(sys.modules[name])) for name in WATCHED_MODULES if name in sys.modules}
    snap["<sys.modules>"] = ({name: sys.modules.get(name) for name in WATCHED_MODULES}, {})
    snap["<signal handlers>"] = ({s.name: signal.getsignal(s) for s in _SIGNALS}, {})
    return snap


def _contents(namespace: dict[str, Any]) -> tuple[dict[str, Any], dict[str, tuple]]:
    inner = {}
    for k, v in namespace.items():
        kind = type(v)
        if kind is dict:
            inner[k] = (v, tuple(v.keys()), tuple(v.values()))
        elif kind is list or kind is set:
            inner[k] = (v, tuple(v), ())
    return dict(namespace), inner


def _same_refs(a, b) -> bool:
    return len(a) == len(b) and all(map(operator.is_, a, b))


def tampering(before: dict[str, tuple[dict[str, Any], dict[str, tuple]]]) -> str:
    """Return what a candidate changed in the watched modules, signals, timers or threads, or ""."""
    if threading.active_count() > 1:
        return "the candidate left threads running"
    if any(signal.getitimer(t) != (0.0, 0.0) for t in _TIMERS):
        return "the candidate left a timer running"
    for name, (plain, inner) in snapshot_modules().items():
        old_plain, old_inner = before.get(name, ({}, {}))
        if plain.keys() != old_plain.keys() or not _same_refs(plain.values(), old_plain.values()):
            for k, v in plain.items():
                if k not in old_plain and type(v).__name__ == "module":
                    continue  # a submodule imported on first use
                if old_plain.get(k, _MISSING) is not v:
                    return f"the candidate changed {name}.{k}; imported modules are read-only"
            for k in old_plain.keys() - plain.keys():
                return f"the candidate deleted {name}.{k}; imported modules are read-only"
        for k, (obj, keys, values) in old_inner.items():
            now = inner.get(k, (None, (), ()))
            if now[0] is not obj or not (_same_refs(now[1], keys) and _same_refs(now[2], values)):
                return f"the candidate changed the contents of {name}.{k}; imported modules are read-only"
    return ""


def _restricted_builtins() -> dict[str, Any]:
    """Return the builtins a candidate sees: no file, eval or interpreter access; imports allowlisted."""
    real_import = builtins.__import__

    def guarded_import(name, globals=None, locals=None, fromlist=(), level=0):
        subs = [f"{name}.{f}" for f in (fromlist or ())]
        if level or any(policy.module_denied(s) for s in subs) or not policy.module_allowed(name) and not (
                subs and all(policy.module_allowed(s) for s in subs)):
            raise ImportError(f"import of '{name}' is not allowed in the sandbox")
        return real_import(name, globals, locals, fromlist, level)

    allowed = {k: v for k, v in vars(builtins).items() if k not in policy.FORBIDDEN_NAMES}
    allowed["__import__"] = guarded_import
    return allowed


@dataclass
class Shard:
    """One run request: candidate code and the instances (global indices) to run it on."""

    code: str
    entry: str
    seed: int
    p: np.ndarray
    d: np.ndarray
    offsets: np.ndarray
    indices: np.ndarray
    enforce_policy: bool = True
    orders: list[np.ndarray] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)


def to_order(out: Any, n: int) -> np.ndarray:
    """Convert a candidate's return value to an int64 permutation of 0..n-1 or raise InvalidOutput."""
    if out is None:
        raise InvalidOutput(f"returned None; return a sequence of the {n} job indices in processing order")
    if isinstance(out, (str, bytes, dict, set, frozenset, Iterator)):
        raise InvalidOutput(f"returned a {type(out).__name__}; return a list or array of the {n} job indices")
    try:
        arr = np.asarray(out)
    except Exception as e:  # noqa: BLE001 - any conversion failure is the candidate's output
        raise InvalidOutput(f"returned a {type(out).__name__} that is not an array of indices ({e})"
                            ) from None
    if arr.ndim != 1:
        raise InvalidOutput(f"returned an array of shape {arr.shape}; expected a flat sequence of {n}"
                            " job indices")
    ints = arr.dtype.kind == "O" and all(isinstance(x, (int, np.integer)) and not isinstance(x, bool)
                                         for x in arr)
    if ints:
        if all(-(1 << 63) <= int(x) < (1 << 63) for x in arr):
            arr = arr.astype(np.int64)
    if arr.dtype.kind not in "iu":
        sample = ", ".join(repr(x) for x in arr[:3].tolist())
        raise InvalidOutput(f"returned {arr.dtype} values ({sample}, ...); job indices must be integers")
    if arr.shape[0] != n:
        raise InvalidOutput(f"returned {arr.shape[0]} indices for {n} jobs")
    if n == 0:
        return arr.astype(np.int64)
    bad = arr[(arr < 0) | (arr >= n)]
    if bad.size:
        raise InvalidOutput(f"index {int(bad[0])} is out of range 0..{n - 1}")
    arr = arr.astype(np.int64)
    counts = np.bincount(arr, minlength=n)
    if np.any(counts != 1):
        dup = int(np.argmax(counts > 1))
        missing = int(np.argmax(counts == 0))
        raise InvalidOutput(f"job {dup} appears {int(counts[dup])} times and job {missing} is missing")
    return arr


def _describe(exc: BaseException, code_lines: list[str]) -> str:
    """Return 'line L in fn (`source`): Type: message' for the candidate's deepest frame."""
    try:
        name = type(exc).__name__
        msg = str(exc)
        where = ""
        for frame in traceback.extract_tb(exc.__traceback__):
            if frame.filename == "<candidate>" and frame.lineno:
                src = code_lines[frame.lineno - 1].strip() if frame.lineno <= len(code_lines) else ""
                where = f"line {frame.lineno} in {frame.name}" + (f" (`{src[:80]}`)" if src else "") + ": "
        if isinstance(exc, ValueError) and "read-only" in msg:
            msg += " (p and d are read-only; copy them first, e.g. p = p.copy())"
        return f"{where}{name}: {msg}"[:400]
    except BaseException:  # noqa: BLE001 - a hostile exception may fail to print itself
        return "an exception that cannot be printed"


def run_shard(shard: Shard, progress: Any, refused: list[str]) -> dict[str, Any]:
    """Run the shard's instances in order; stop at the first failure; return the reply header."""
    code_obj, err = policy.compile_candidate(shard.code)
    if code_obj is None:
        return {"status": "error", "fail": int(shard.indices[0]), "error": err}
    code_lines = shard.code.splitlines()
    base_builtins = _restricted_builtins() if shard.enforce_policy else vars(builtins)
    sys.setrecursionlimit(RECURSION_LIMIT)
    refused.clear()
    for i in shard.indices.tolist():
        if progress is not None:
            if i >= _PROGRESS.unpack_from(progress, 0)[1]:
                return {"status": "stopped"}
            _PROGRESS.pack_into(progress, 0, i, _PROGRESS.unpack_from(progress, 0)[1])
        a, b = int(shard.offsets[i]), int(shard.offsets[i + 1])
        p, d = shard.p[a:b].copy(), shard.d[a:b].copy()
        p.setflags(write=False)
        d.setflags(write=False)
        seed_instance(shard.seed, i)
        module = types.ModuleType("candidate")  # importable by name: numba looks functions' modules up
        namespace = module.__dict__
        namespace["__builtins__"] = dict(base_builtins)
        sys.modules["candidate"] = module
        t0 = time.thread_time()
        status, error = "ok", ""
        try:
            exec(code_obj, namespace)
            fn = namespace.get(shard.entry)
            if not callable(fn):
                raise InvalidOutput(f"'{shard.entry}' is not a function")
            order = to_order(fn(p, d), b - a)
        except InvalidOutput as e:
            status, error = "invalid_output", str(e)
        except MemoryError:
            status, error = "memory", "MemoryError: the candidate ran out of memory"
        except BaseException as e:  # noqa: BLE001 - SystemExit and KeyboardInterrupt are failures too
            status, error = "error", _describe(e, code_lines)
        seconds = time.thread_time() - t0
        if refused:
            status = "refused"
            error = f"the sandbox refused {refused[0]} (no files, network, processes or native code)"[:4000]
            refused.clear()
        if status != "ok":
            return {"status": status, "fail": i, "error": f"instance {i} (n={b - a}): {error}"}
        shard.orders.append(order)
        shard.seconds.append(seconds)
    return {"status": "ok"}
