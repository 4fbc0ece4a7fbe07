"""``ast.parse`` behind one process-wide lock, for code that parses from several threads.

CPython 3.11 keeps the AST constructor's recursion counter in per-interpreter state. When a
garbage-collector finaliser switches threads in the middle of ``ast.parse``, a parse in another
thread moves the same counter and the first fails with ``SystemError: AST constructor recursion
depth mismatch`` (CPython gh-106905). The search parses from its LLM threads (the offline model
reads the prompt's programs) while the main thread extracts and checks candidates, so every parse
in ``discover`` and ``evaluator`` goes through :func:`parse`. The lock is re-entrant: a finaliser
that parses inside a parse of its own thread nests properly.
"""

from __future__ import annotations

import ast
import threading

_LOCK = threading.RLock()


def parse(source: str, filename: str = "<unknown>", mode: str = "exec") -> ast.AST:
    """``ast.parse(source, filename, mode)``, one thread at a time."""
    with _LOCK:
        return ast.parse(source, filename=filename, mode=mode)
