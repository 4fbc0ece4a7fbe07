"""The actor each node of a Ray cluster runs: a node-local sandbox, fed candidates by the driver.

A plain class: ``discover.executors.cluster`` wraps it with ``ray.remote``, so importing this module
imports no Ray. It runs as an async actor: every evaluation is a coroutine awaiting the sandbox's
future, so one actor keeps all of its sandbox's workers busy.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from typing import Any


class NodeEvaluator:
    """Own one sandbox on this node; score candidates on the instance sets the driver put in the store.

    Parameters
    ----------
    node_sandbox
        ``node_sandbox(workers) -> Sandbox`` (see ``discover.executors.make_evaluator``).
    workers
        The node's CPUs as Ray sees them, used when the configuration says 0 (all cores).
    """

    def __init__(self, node_sandbox: Callable[[int | None], Any], workers: int) -> None:
        self.sandbox = node_sandbox(workers)
        enter = getattr(self.sandbox, "__enter__", None)
        if enter is not None:
            enter()  # start the workers now, not on the first candidate
        self.sets: dict[str, Any] = {}

    def info(self) -> dict[str, Any]:
        """Return where this actor runs and what it sees (the environment's names, never their values)."""
        import ray

        return {"node_id": ray.get_runtime_context().get_node_id(), "pid": os.getpid(),
                "workers": getattr(self.sandbox, "workers", None), "env": sorted(os.environ),
                "missing_layers": list(getattr(self.sandbox, "missing_layers", []) or [])}

    async def evaluate(self, code: str, set_sha: str, set_box: list, entry: str, timeout_s: float | None,
                       cascade: Any, seed: int, task: Any = None) -> Any:
        """Score ``code`` on the set ``set_box[0]`` (an object reference, fetched once per set) of ``task``:
        a built-in task's name, or a task registered on the driver, sent as the object itself."""
        iset = self.sets.get(set_sha)
        if iset is None:
            iset = self.sets[set_sha] = await set_box[0]
        fut = self.sandbox.submit(code, iset, entry, timeout_s, cascade, seed, task)
        return await asyncio.wrap_future(fut)

    def close(self) -> None:
        """Stop the sandbox's workers."""
        self.sandbox.close()
