"""Where candidates are scored: on this machine, or on the nodes of a Ray cluster.

An *evaluator* is anything with the sandbox's public API (``Evaluator``). The local one is
``evaluator.sandbox.Sandbox`` itself; the Ray one (``discover.executors.cluster.RayEvaluator``) keeps a
long-lived actor on each node that owns a node-local ``Sandbox``, so the operating-system boundary is
the same as locally and Ray only moves candidates and results. Ray is imported only by the Ray path.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, Protocol

EXECUTORS = ("local", "ray")
RAY_MISSING = "the ray executor needs Ray, which is not installed: pip install 'discover[ray]'"


class Evaluator(Protocol):
    """Scores candidate code on an instance set of a task (see ``evaluator.sandbox.Sandbox``)."""

    def submit(self, code: str, iset: Any, entry: str = "schedule", timeout_s: float | None = None,
               cascade: Any = None, seed: int = 0, task: Any = None) -> Future: ...

    def evaluate(self, code: str, iset: Any, entry: str = "schedule", timeout_s: float | None = None,
                 cascade: Any = None, seed: int = 0, task: Any = None) -> Any: ...

    def close(self) -> None: ...


class ExecutorError(RuntimeError):
    """The executor cannot be used (Ray missing, no cluster at the address); the message is one line."""


class InfrastructureError(RuntimeError):
    """An evaluation lost to the cluster (its node died, twice): not the candidate's fault."""


class ClusterLost(ExecutorError):
    """The cluster's head is gone: the run stops, and ``discover resume`` continues it."""


def make_evaluator(executor: str, node_sandbox: Callable[[int | None], Any], address: str = "") -> Any:
    """Return the local sandbox (``node_sandbox(None)``) or a ``RayEvaluator`` running it on every node.

    ``node_sandbox(workers)`` builds a sandbox; ``workers`` None means the configured count (on a Ray
    node, a count of 0 configured means the node's CPUs as Ray sees them).
    """
    if executor not in EXECUTORS:
        raise ExecutorError(f"executor {executor!r} is not one of {', '.join(EXECUTORS)}")
    if executor == "local":
        return node_sandbox(None)
    try:
        import ray  # noqa: F401
    except ImportError:
        raise ExecutorError(RAY_MISSING) from None
    from discover.executors.cluster import RayEvaluator

    return RayEvaluator(node_sandbox, address)


def sandbox_builder(**settings: Any) -> Callable[[int | None], Any]:
    """Return ``node_sandbox(workers)`` building ``Sandbox(**settings)``; a Ray node's CPU count (when
    given) replaces ``settings["workers"]``."""
    return functools.partial(_build_sandbox, settings)


def _build_sandbox(settings: dict[str, Any], workers: int | None) -> Any:
    from evaluator.sandbox import Sandbox

    return Sandbox(**{**settings, **({"workers": workers} if workers else {})})
