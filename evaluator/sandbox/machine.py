"""Machine code of a compiled candidate, shared by the processes that run the same code.

Every shard runs in a fresh process, and numba would compile a candidate in each of them: the
training set's shards, each timing run and each probe. So the first process that compiles a
candidate sends its machine code back with its reply, in numba's own cache format (each
overload's ``CompileResult._reduce()``, pickled with numba's serializer), and the parent hands
it to the later processes that run *the same code* (``key``: the code's digest with numba's
version), which install it instead of compiling. Installing takes a fraction of compiling.

Why this is safe: the bytes come from a confined process running that code and only ever reach
confined processes running that code, so they can do nothing the code itself could not; the
parent never unpickles them, it stores (bounded: ``MAX_BYTES`` each, ``KEEP`` programs) and
forwards them. Only the candidate's own functions (module ``candidate``) are exported or
installed, never evaluator.helpers'. A payload that fails to install is ignored: the process
compiles as before. A candidate numba cannot cache (dynamic globals, lifted loops) is not shared.
"""

from __future__ import annotations

import hashlib
import pickle
import threading
from collections import OrderedDict
from typing import Any

MAX_BYTES = 16 << 20
"""The largest machine-code payload a reply may carry (and the parent keeps)."""
KEEP = 64
"""Programs whose machine code the parent keeps (least recently used dropped first)."""


def key(code: str) -> str:
    """Return the sharing key of a candidate's source: its digest with numba's version."""
    import numba

    return hashlib.sha256(f"numba {numba.__version__}\n{code}".encode()).hexdigest()


def export(jitted: dict[str, Any]) -> bytes:
    """Return the machine code of every compiled overload of the candidate's functions (b"": none).

    Runs in the candidate's process, after its warm-up compiled it.
    """
    from numba.core.serialize import dumps

    out: dict[tuple[str, Any], tuple] = {}
    for name, disp in jitted.items():
        for sig, cres in list(disp.overloads.items()):
            if cres.lifted or cres.library.has_dynamic_globals or not cres.environment.can_cache():
                return b""
            out[(name, sig)] = cres._reduce()
    if not out:
        return b""
    blob = dumps(out)
    return blob if len(blob) <= MAX_BYTES else b""


def install(jitted: dict[str, Any], payload: bytes) -> bool:
    """Add the overloads in ``payload`` to the candidate's freshly created functions; say if it worked.

    Runs in the candidate's process, after its module ran and before anything compiles. A payload
    naming a function the module does not define is refused whole.
    """
    from numba.core.compiler import CompileResult

    try:
        overloads = pickle.loads(payload)
        if not isinstance(overloads, dict) or not all(
                isinstance(k, tuple) and len(k) == 2 and k[0] in jitted for k in overloads):
            return False
        for (name, _sig), reduced in overloads.items():
            disp = jitted[name]
            disp.targetctx.refresh()
            disp.add_overload(CompileResult._rebuild(disp.targetctx, *reduced))
    except Exception:  # noqa: BLE001 - whatever went wrong, the process compiles instead
        return False
    return True


class Store:
    """The parent's machine code by key: bounded, thread-safe, never unpickled."""

    def __init__(self, keep: int = KEEP) -> None:
        self.keep = keep
        self._items: OrderedDict[str, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, k: str) -> bytes:
        with self._lock:
            blob = self._items.get(k, b"")
            if blob:
                self._items.move_to_end(k)
            return blob

    def put(self, k: str, blob: bytes) -> None:
        if not blob or len(blob) > MAX_BYTES:
            return
        with self._lock:
            self._items[k] = blob
            self._items.move_to_end(k)
            while len(self._items) > self.keep:
                self._items.popitem(last=False)
