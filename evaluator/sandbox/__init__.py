"""Score untrusted heuristic code safely, fast and reproducibly.

``Sandbox`` runs each shard of a candidate's evaluation in a fresh process forked from a warm,
isolated zygote, confined by the operating system (no files, no network, no new processes, a
syscall filter, its own uid), and scores the orders it returns in the parent; ``check_code`` is
the static policy alone; ``Cascade`` scores a stratified subset first and stops early on clearly
bad candidates.

Modules: ``policy`` (ast checks), ``layers`` (the operating-system layers), ``confine`` (the
environment and the audit hook), ``zygote`` and ``runner`` (inside the zygote and a candidate's
process), ``protocol`` (framing), ``process`` and ``pool`` (parent side of the zygotes), ``job``
(one evaluation), ``cache``, ``cascade``, ``result``, ``sandbox``.

The names below load on first use, so a zygote, which imports only ``zygote``, never pays for
the parent's side (instances, pydantic, the pool).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from evaluator.sandbox.cascade import Cascade, stratified_subset
    from evaluator.sandbox.job import SandboxClosed
    from evaluator.sandbox.policy import ALLOWED_MODULES, check_code
    from evaluator.sandbox.pool import SandboxUnsafe
    from evaluator.sandbox.result import NOT_RUN, STATUSES, EvalResult
    from evaluator.sandbox.sandbox import DEFAULT_MEMORY_MB, DEFAULT_TIMEOUT_S, Sandbox

_HOME = {
    "Cascade": "cascade", "stratified_subset": "cascade", "SandboxClosed": "job", "SandboxUnsafe": "pool",
    "ALLOWED_MODULES": "policy", "check_code": "policy", "NOT_RUN": "result", "STATUSES": "result",
    "EvalResult": "result",
    "DEFAULT_MEMORY_MB": "sandbox", "DEFAULT_TIMEOUT_S": "sandbox", "Sandbox": "sandbox",
}
__all__ = [
    "ALLOWED_MODULES", "DEFAULT_MEMORY_MB", "DEFAULT_TIMEOUT_S", "NOT_RUN", "STATUSES", "Cascade",
    "EvalResult", "Sandbox", "SandboxClosed", "SandboxUnsafe", "check_code", "stratified_subset",
]


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module 'evaluator.sandbox' has no attribute {name!r}")
    return getattr(importlib.import_module(f"evaluator.sandbox.{_HOME[name]}"), name)
