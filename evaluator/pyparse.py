"""``ast.parse`` behind one process-wide lock, for code that parses from several threads.

CPython 3.11 keeps the AST constructor's recursion counter in per-interpreter state. When a
garbage-collector finaliser switches threads in the middle of ``ast.parse``, a parse in another
thread moves the same counter and the first fails with ``SystemError: AST constructor recursion
depth mismatch`` (CPython gh-106905). The search parses from its LLM threads (the offline model
reads the prompt's programs) while the main thread extracts and checks candidates, so every parse
in ``discover`` and ``evaluator`` goes through :func:`parse`, and a tree is compiled back to code
through :func:`compile_tree` (the same counter guards the conversion back). :data:`LOCK` is
re-entrant, so a caller may hold it around a larger step (the search holds it while it builds a
prompt or submits a candidate) and the parses inside nest properly.
"""

from __future__ import annotations

import ast
import threading
from types import CodeType

LOCK = threading.RLock()
"""Held by every parse and tree compilation of the process."""


def parse(source: str, filename: str = "<unknown>", mode: str = "exec") -> ast.AST:
    """``ast.parse(source, filename, mode)``, one thread at a time."""
    with LOCK:
        return ast.parse(source, filename=filename, mode=mode)


def compile_tree(tree: ast.AST, filename: str) -> CodeType:
    """``compile(tree, filename, "exec", dont_inherit=True)``, one thread at a time."""
    with LOCK:
        return compile(tree, filename, "exec", dont_inherit=True)
