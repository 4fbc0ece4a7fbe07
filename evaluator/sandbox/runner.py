"""Inside a candidate's process: run candidate code on a shard of instances and check what it returns.

Every instance gets fresh read-only copies of its inputs (the task's fields: p and d for ΣT_j),
and seeds for ``random`` and ``numpy.random`` (and, once numba is warm, numba's own two
generators) derived from (seed, instance index) alone, so an instance's result does not depend on
which process ran it. A plain candidate's module runs afresh for every instance. A compiled one
(it defines numba functions) runs once per shard, so numba compiles at most once per process (and
not at all once an earlier process of the same code sent its machine code back: ``machine``): a
warm-up call on the task's fixed tiny instance triggers the compile, timed apart (``compile_s``)
and never part of an instance's seconds; every instance then starts from the state the warm-up
left, and if an instance changes the module's globals the module is run and warmed up again
before the next. When numba cannot compile the candidate its functions run as Python (each
dispatcher's ``py_func``), with the reason in ``compile_error``. ``warm`` runs once in the
zygote, before it isolates itself, so that everything a candidate may use is already imported.
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

from evaluator.sandbox import machine, policy

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
_COMPILED = struct.Struct("<d")  # then: CPU seconds the candidate's process says it spent compiling
PAGE_BYTES = _PROGRESS.size + _COMPILED.size
COMPILING = 1e6  # claimed while compiling: whatever the zygote's cap allows


class InvalidOutput(Exception):
    """The candidate returned something that is not a permutation of the jobs."""


_current_seed: list[int] = [0, 0]
_numba_seed: list[Any] = []  # the njit function seeding numba's generators, once numba is warm


def warm() -> None:
    """Import and compile everything a candidate may use; nothing can be loaded after confinement."""
    import importlib

    for name in PRELOAD:
        importlib.import_module(name)
    sys.modules["evaluator.helpers"].warm()
    _make_unseeded_generators_deterministic()
    np.seterr(all="warn", under="ignore")


def warm_numba() -> None:
    """Compile small functions in memory, so that numba's compiler is initialised once for all.

    numba's first compile in a process takes seconds, and each kind of operation it first meets
    (slice assignment alone: 1.8 s) initialises more of its typing and lowering registries. The
    zygote pays for the common ones once, on the first candidate that mentions numba, and every
    child it forks after that starts warm. It needs no file: ``PRELOAD`` holds the modules it
    imports lazily.
    """
    from numba import njit

    from evaluator import helpers

    def kernel(p, d, w):
        n = p.shape[0]
        key = np.empty(n, np.float64)
        acc = 0
        for j in range(n):
            key[j] = d[j] / max(1, p[j]) + w * math.sqrt(j + 1.0) + abs(d[j] - p[j])
            acc += min(p[j], d[j])
        order = np.argsort(key, kind="mergesort")
        seen = [False] * n
        for j in order:
            seen[j] = True
        return order, acc, np.sum(np.maximum(np.cumsum(p[order]) - d[order], 0)), seen[0]

    def shuffle(p, d, order):
        work = order.copy()
        work[0:2] = work[1:3].copy()
        work[2] = order[0]
        c = np.zeros(p.shape[0], np.int64)
        c[:] = np.cumsum(p[work])
        picks = []
        k = 0
        while k < 3:
            picks.append(np.random.randint(0, p.shape[0]))
            k += 1
        picks.pop()
        ones = np.ones(3, np.float64) * 2.0
        return helpers.total_tardiness(p, d, work), len(picks), int(ones.sum()), np.arange(3)[::-1], c.max()

    def seed_numba(s):  # numba keeps its own states for random and numpy.random, per thread
        np.random.seed(s)
        random.seed(s)

    p = np.array([3, 1, 2], np.int64)
    order, _, _, _ = njit(cache=False)(kernel)(p, p + 2, 0.5)
    p.setflags(write=False)
    njit(cache=False)(shuffle)(p, p, order)
    _numba_seed[:] = [njit(cache=False)(seed_numba)]
    _numba_seed[0](1)


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


def claim_compile(page: Any, seconds: float) -> None:
    """Write the CPU seconds spent compiling so far, which the zygote adds to the CPU budget."""
    if page is not None:
        _COMPILED.pack_into(page, _PROGRESS.size, seconds)


def compile_claim(page: Any, cap: float) -> float:
    """Return the compile seconds a candidate's process claims, bounded to 0..cap (it may lie)."""
    claim = _COMPILED.unpack_from(page, _PROGRESS.size)[0]
    return min(max(claim, 0.0), cap) if math.isfinite(claim) else 0.0


def progress_index(page: Any) -> int:
    """Return the instance a candidate's process last started, as it wrote it (informative only)."""
    return _PROGRESS.unpack_from(page, 0)[0]


def seed_instance(seed: int, index: int) -> None:
    """Seed ``random`` and ``numpy.random`` from (seed, instance index)."""
    _current_seed[0], _current_seed[1] = seed, index
    s = _instance_seed_int()
    random.seed(s)
    np.random.seed(s & 0xFFFFFFFF)
    if _numba_seed:
        _numba_seed[0](s & 0xFFFFFFFF)
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
    """One run request: candidate code and the instances (global indices) to run it on.

    ``columns`` are the flat inputs of the set, one array per name in ``fields`` (the entry's
    arguments); ``warm`` is the task's tiny instance of the warm-up call that makes numba compile.
    """

    code: str
    entry: str
    seed: int
    columns: tuple[np.ndarray, ...]
    offsets: np.ndarray
    indices: np.ndarray
    enforce_policy: bool = True
    fields: tuple[str, ...] = ("p", "d")
    warm: tuple[tuple[int, ...], ...] = ((3, 1, 4, 2, 5, 2), (4, 2, 9, 3, 12, 6))
    machine_code: bytes = b""  # a compiled candidate's machine code from an earlier process (machine.py)
    export_machine: bool = False  # send the machine code back once compiled
    compile_failed: str = ""  # an earlier process could not compile it (why): run it as Python at once
    orders: list[np.ndarray] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    machine_out: bytes = b""


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


def _describe(exc: BaseException, code_lines: list[str], fields: tuple[str, ...] = ("p", "d")) -> str:
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
            names = f"{', '.join(fields[:-1])} and {fields[-1]}" if len(fields) > 1 else fields[0]
            verb = "are" if len(fields) > 1 else "is"
            msg += f" ({names} {verb} read-only; copy them first, e.g. p = p.copy())"
        if "no locator available" in msg:
            msg = "numba cannot cache code that has no file: write a plain @njit, without cache=True"
        return f"{where}{name}: {msg}"[:400]
    except BaseException:  # noqa: BLE001 - a hostile exception may fail to print itself
        return "an exception that cannot be printed"


def run_shard(shard: Shard, progress: Any, refused: list[str]) -> dict[str, Any]:
    """Run the shard's instances in order; stop at the first failure; return the reply header.

    ``shard.machine_out`` then holds the candidate's machine code if it was asked for and compiled.
    """
    code_obj, err = policy.compile_candidate(shard.code)
    if code_obj is None:
        return {"status": "error", "fail": int(shard.indices[0]), "error": err}
    base_builtins = _restricted_builtins() if shard.enforce_policy else vars(builtins)
    program = LoadedCandidate(code_obj, shard.code.splitlines(), shard.entry, shard.seed, base_builtins,
                              maybe_compiled="numba" in shard.code, page=progress, fields=shard.fields,
                              warm=shard.warm, machine_code=shard.machine_code,
                              export_machine=shard.export_machine)
    program.compile_error = shard.compile_failed
    sys.setrecursionlimit(RECURSION_LIMIT)
    refused.clear()
    for i in shard.indices.tolist():
        if progress is not None:
            if i >= _PROGRESS.unpack_from(progress, 0)[1]:
                return {"status": "stopped", **program.report()}
            _PROGRESS.pack_into(progress, 0, i, _PROGRESS.unpack_from(progress, 0)[1])
        a, b = int(shard.offsets[i]), int(shard.offsets[i + 1])
        status, error, order, seconds = program.run(tuple(c[a:b] for c in shard.columns), i)
        if refused:
            status = "refused"
            error = f"the sandbox refused {refused[0]} (no files, network, processes or native code)"[:4000]
            refused.clear()
        if status != "ok":
            return {"status": status, "fail": i, "error": f"instance {i} (n={b - a}): {error}",
                    **program.report()}
        shard.orders.append(order)
        shard.seconds.append(seconds)
    shard.machine_out = program.machine_out if program.mode == "compiled" else b""
    return {"status": "ok", **program.report()}


def _readonly(a: Any) -> np.ndarray:
    out = np.array(a, dtype=np.int64)
    out.setflags(write=False)
    return out


class LoadedCandidate:
    """The candidate's module as its instances see it, and how it ran (``mode``, compile time, failure).

    A plain candidate's module runs afresh for every instance, inside the instance's timing. A
    compiled one (its module defines numba functions) runs once, seeded from (seed, -1), followed
    by a warm-up call on the task's ``warm`` instance (what that call returns or raises is ignored): both
    count as compile time. Its globals (references, plain containers, arrays) are compared after
    each instance with what they were after the warm-up; a change means the next instance gets
    the module run and warmed up afresh, so that no instance sees what another left behind.
    """

    def __init__(self, code_obj: Any, code_lines: list[str], entry: str, seed: int,
                 base_builtins: dict[str, Any], maybe_compiled: bool, page: Any = None,
                 fields: tuple[str, ...] = ("p", "d"), warm: tuple[tuple[int, ...], ...] = Shard.warm,
                 machine_code: bytes = b"", export_machine: bool = False):
        self.code_obj, self.code_lines, self.entry, self.seed = code_obj, code_lines, entry, seed
        self.machine_in, self.export_machine, self.machine_out = machine_code, export_machine, b""
        self.base_builtins = base_builtins
        self.maybe_compiled = maybe_compiled
        self.page = page
        self.fields, self.warm = fields, warm
        self.mode = "python"
        self.compile_s = 0.0
        self.compile_error = ""
        self.shared: dict[str, Any] | None = None  # the namespace every instance of a compiled candidate uses
        self.state: tuple[Any, dict[str, np.ndarray]] | None = None

    def report(self) -> dict[str, Any]:
        out: dict[str, Any] = {"mode": self.mode, "compile_s": self.compile_s}
        if self.compile_error:
            out["compile_error"] = self.compile_error
        return out

    def add_compile(self, seconds: float) -> None:
        self.compile_s += seconds
        claim_compile(self.page, self.compile_s)

    def _fresh(self) -> dict[str, Any]:
        module = types.ModuleType("candidate")  # importable by name: numba looks functions' modules up
        namespace = module.__dict__
        namespace["__builtins__"] = dict(self.base_builtins)
        sys.modules["candidate"] = module
        exec(self.code_obj, namespace)
        return namespace

    def _entry(self, namespace: dict[str, Any]) -> Any:
        fn = namespace.get(self.entry)
        if not callable(fn):
            raise InvalidOutput(f"'{self.entry}' is not a function")
        return fn

    def _prepare_shared(self) -> None:
        """Run the module once and warm it up, if it is (still) compiled; else leave ``shared`` None."""
        t0 = time.thread_time()
        claim_compile(self.page, self.compile_s + COMPILING)  # the zygote grants at most its cap meanwhile
        seed_instance(self.seed, -1)
        namespace = self._fresh()
        jitted = _dispatchers(namespace)
        if not jitted:
            self.maybe_compiled = False  # numba mentioned, nothing compiled: a plain candidate after all
            claim_compile(self.page, self.compile_s)
            return
        if self.compile_error:
            _as_python(namespace, jitted)
        installed = bool(self.machine_in) and not self.compile_error and machine.install(jitted,
                                                                                      self.machine_in)
        entry = self._entry(namespace)
        try:
            if any(entry is f for f in jitted.values()):  # compile for the instances' types, then run apart
                entry.compile((_input_type(),) * len(self.warm))
                claim_compile(self.page, self.compile_s + time.thread_time() - t0)
            to_order(entry(*map(_readonly, self.warm)), len(self.warm[0]))  # its checks warm too
        except BaseException as e:  # noqa: BLE001 - the warm-up's own failures are not the instance's
            if _is_numba_error(e):
                self._fall_back(namespace, jitted, e)
        if not self.compile_error:
            self.mode = "compiled"
            if self.export_machine and not installed and not self.machine_out:
                self.machine_out = machine.export(jitted)
        self.add_compile(time.thread_time() - t0)
        self.shared, self.state = namespace, _globals_state(namespace)

    def _fall_back(self, namespace: dict[str, Any], jitted: dict[str, Any], exc: BaseException) -> None:
        self.compile_error = _compile_failure(exc, self.code_lines)
        self.mode = "python"
        _as_python(namespace, jitted)
        self.state = _globals_state(namespace)

    def run(self, inputs: tuple[np.ndarray, ...], index: int) -> tuple[str, str, np.ndarray | None, float]:
        """Run the entry on one instance's inputs; return (status, error, order, CPU seconds of the call)."""
        inputs = tuple(map(_readonly, inputs))
        for attempt in range(2):  # once more as Python when numba fails to compile mid-instance
            status, error, order = "ok", "", None
            seconds = 0.0
            try:
                if self.shared is None and self.maybe_compiled:
                    self._prepare_shared()
                seed_instance(self.seed, index)
                t0 = time.thread_time()
                try:
                    namespace = self.shared if self.shared is not None else self._fresh()
                    out = self._entry(namespace)(*inputs)
                finally:
                    seconds = time.thread_time() - t0
                order = to_order(out, inputs[0].shape[0])  # the sandbox's check: not the candidate's time
            except InvalidOutput as e:
                status, error = "invalid_output", str(e)
            except MemoryError:
                status, error = "memory", "MemoryError: the candidate ran out of memory"
            except BaseException as e:  # noqa: BLE001 - SystemExit and KeyboardInterrupt are failures too
                shared = self.shared is not None and self.mode == "compiled"
                if attempt == 0 and shared and _is_numba_error(e):
                    self.add_compile(seconds)
                    self._fall_back(self.shared, _dispatchers(self.shared), e)
                    continue
                status, error = "error", _describe(e, self.code_lines, self.fields)
                if self.compile_error:
                    error = f"{error} (run as Python: numba could not compile it: {self.compile_error})"
            break
        if self.shared is not None and _globals_state(self.shared, self.state) is None:
            self.shared = None  # the instance changed the module's globals: the next one gets a fresh module
        return status, error, order, seconds


def _input_type() -> Any:
    """Return numba's type of an input as the instances pass them: a read-only C-contiguous int64 array."""
    from numba import types as nt

    return nt.Array(nt.int64, 1, "C", readonly=True)


def _dispatchers(namespace: dict[str, Any]) -> dict[str, Any]:
    """Return the candidate's own numba functions in its namespace, by name."""
    from numba.core.dispatcher import Dispatcher

    return {k: v for k, v in namespace.items()
            if isinstance(v, Dispatcher) and getattr(v.py_func, "__module__", None) == "candidate"}


def _as_python(namespace: dict[str, Any], jitted: dict[str, Any]) -> None:
    """Replace each numba function by its Python function (they call each other by global name)."""
    for k, v in jitted.items():
        namespace[k] = v.py_func


def _is_numba_error(exc: BaseException) -> bool:
    from numba.core.errors import NumbaError

    return isinstance(exc, NumbaError)


def _compile_failure(exc: BaseException, code_lines: list[str]) -> str:
    """Return numba's compile error as one line: 'line L: numba cannot compile it: reason'."""
    import re

    try:
        text = str(exc)
    except BaseException:  # noqa: BLE001
        return type(exc).__name__
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    skip = ("Failed in ", "During:", "File ", "<source", "^", "Enable logging", "- Resolution failure",
            "This error may", ">>>")
    k = next((k for k, ln in enumerate(lines) if not ln.startswith(skip) and not _is_source(ln, code_lines)),
             None)
    reason = lines[k] if k is not None else lines[0] if lines else type(exc).__name__
    if k is not None and reason.endswith(":") and k + 1 < len(lines) and lines[k + 1].startswith(">>>"):
        reason = f"{reason} {lines[k + 1].removeprefix('>>>').strip()}"
    at = [int(m) for m in re.findall(r'File "<candidate>", line (\d+)', text)]
    where = f"line {at[-1]}: " if at else ""
    return clean_line(f"{where}{type(exc).__name__}: {reason}", 300)


def _is_source(line: str, code_lines: list[str]) -> bool:
    return any(line == src.strip() for src in code_lines if src.strip())


def clean_line(text: str, limit: int) -> str:
    return " ".join("".join(c if c.isprintable() else " " for c in text).split())[:limit]


def _globals_state(namespace: dict[str, Any], before: Any = None) -> Any:
    """Return the state of a module's globals, or with ``before``: the state if unchanged, else None."""
    plain, inner = _contents(namespace)
    arrays = {k: v.copy() for k, v in namespace.items() if type(v) is np.ndarray and v.size <= 1 << 22}
    state = (plain, inner, arrays)
    if before is None:
        return state
    old_plain, old_inner, old_arrays = before
    same = (plain.keys() == old_plain.keys() and _same_refs(plain.values(), old_plain.values())
            and inner.keys() == old_inner.keys()
            and all(_same_refs(inner[k][1], old_inner[k][1]) and _same_refs(inner[k][2], old_inner[k][2])
                    for k in inner)
            and arrays.keys() == old_arrays.keys()
            and all(np.array_equal(arrays[k], old_arrays[k], equal_nan=arrays[k].dtype.kind in "fc")
                    for k in arrays))
    return state if same else None
