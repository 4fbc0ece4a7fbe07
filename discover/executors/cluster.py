"""The driver side of the Ray executor: one sandbox actor per node, candidates dispatched with backpressure.

``RayEvaluator`` has the sandbox's public API. Each candidate goes to the actor with the most free
slots (at most ``SLOTS_PER_WORKER`` × its workers in flight, so the in-flight count stays bounded
and a slow node is not flooded); results come back as they complete. A candidate whose node dies
is sent once more to another node, then fails with ``InfrastructureError``. When the head itself is
gone, every evaluation fails with ``ClusterLost``.

Secrets stay here: the actors get an explicit, empty ``runtime_env`` and nothing of the driver's
environment; what crosses is the sandbox's settings, the instance set (once per node) and the code.
"""

from __future__ import annotations

import collections
import logging
import queue
import re
import socket
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from discover.executors import ClusterLost, ExecutorError, InfrastructureError
from discover.executors.node import NodeEvaluator

log = logging.getLogger(__name__)
SLOTS_PER_WORKER = 2  # candidates in flight per sandbox worker: one running, one on its way
START_TIMEOUT_S = 300.0  # an actor's sandbox starting (numba warm-up on a busy node)
PROBE_TIMEOUT_S = 5.0
HEAD_CHECK_S = 3.0  # how often the dispatcher checks that the head answers
HEAD_SILENT_CHECKS = 3  # checks in a row without an answer: the head is lost
ATTEMPTS = 2  # a candidate whose node dies is retried elsewhere once
RUNTIME_ENV: dict[str, Any] = {"env_vars": {}}  # the workers see nothing of the driver's environment
LOST = (ray.exceptions.RayActorError, ray.exceptions.NodeDiedError, ray.exceptions.WorkerCrashedError,
        ray.exceptions.ObjectLostError, ray.exceptions.OwnerDiedError, ray.exceptions.LocalRayletDiedError)


@dataclass
class _Task:
    future: Future
    args: tuple
    attempts: int = 0


@dataclass
class _Node:
    node_id: str
    handle: Any
    capacity: int
    info: dict = field(default_factory=dict)
    busy: int = 0
    alive: bool = True


def node_task(task: Any) -> Any:
    """Return how a task travels to the nodes: a built-in one by name (each node imports its package); one
    registered on the driver only (``evaluator.tasks.register``) as the object itself, its module pickled
    by value, so a node knows it without importing the module that defined it."""
    from evaluator import tasks

    t = tasks.get(task)
    if t.name in tasks.BUILTIN and tasks.get(t.name) is t:
        return t.name
    module = sys.modules.get(type(t).__module__)
    if module is not None and module.__name__ != "__main__":
        ray.cloudpickle.register_pickle_by_value(module)
    return t


class RayEvaluator:
    """Score candidates on every node of a Ray cluster, each node in its own sandbox.

    Parameters
    ----------
    node_sandbox
        ``node_sandbox(workers) -> Sandbox``, pickled to each node and called there.
    address
        The cluster (``host:port`` of the head's GCS); empty: the one started on this machine.

    Raises
    ------
    ExecutorError
        When there is no cluster at the address, or a node's sandbox cannot start.
    """

    def __init__(self, node_sandbox: Callable[[int | None], Any], address: str = "") -> None:
        self.address = address
        self._owns_ray = not ray.is_initialized()
        self._gcs = address
        if self._owns_ray:
            try:
                self._gcs = _probe(address)  # ray.init waits forever on a head that is gone
                ray.init(address=address or "auto", runtime_env=RUNTIME_ENV, log_to_driver=False,
                         logging_level="ERROR", configure_logging=True)
            except (ConnectionError, OSError, RuntimeError, ValueError) as e:
                where = address or "this machine"
                raise ExecutorError(f"no Ray cluster at {where} ({_one_line(e)}); start one with"
                                    " `ray start --head` or give its address with --ray-address") from None
        self._actor = ray.remote(num_cpus=0, max_restarts=0, max_task_retries=0)(NodeEvaluator)
        self._factory = node_sandbox
        self._nodes: dict[str, _Node] = {}
        self._pending: collections.deque[_Task] = collections.deque()
        self._inflight: dict[Any, tuple[_Task, _Node]] = {}
        self._events: queue.SimpleQueue = queue.SimpleQueue()
        self._sets: dict[int, tuple[Any, str, Any]] = {}
        self._lock = threading.Lock()
        self._closed = False
        self._lost: str | None = None
        self.retried = 0  # evaluations sent again because their node died
        self.max_inflight = 0  # the most evaluations ever in flight at once (the backpressure's bound)
        try:
            self._refresh()
            if not self._nodes:
                raise ExecutorError(f"the Ray cluster at {address or 'this machine'} has no node with a CPU")
        except BaseException:
            self.close()
            raise
        self._thread = threading.Thread(target=self._loop, name="ray-dispatch", daemon=True)
        self._thread.start()

    # --- the public API (the sandbox's) ----------------------------------------------------------
    def __enter__(self) -> RayEvaluator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def workers(self) -> int:
        """Sandbox workers over all live nodes."""
        return sum(int(n.info.get("workers") or 0) for n in self._nodes.values() if n.alive)

    @property
    def nodes(self) -> list[dict]:
        """What each live node's actor reported (node id, pid, workers, environment names)."""
        return [dict(n.info) for n in self._nodes.values() if n.alive]

    @property
    def missing_layers(self) -> list[str]:
        """The sandbox layers some node's kernel refused, named with the node."""
        return [f"{n['node_id'][:8]}: {m}" for n in self.nodes for m in n.get("missing_layers", [])]

    def submit(self, code: str, iset: Any, entry: str = "schedule", timeout_s: float | None = None,
               cascade: Any = None, seed: int = 0, task: Any = None) -> Future:
        """Queue ``code`` for scoring on ``iset`` on some node; return a future of its EvalResult."""
        fut: Future = Future()
        with self._lock:
            if self._closed:
                raise RuntimeError("the Ray evaluator is closed")
            if self._lost is not None:
                fut.set_exception(ClusterLost(self._lost))
                return fut
            held = self._sets.get(id(iset))
            if held is None or held[0] is not iset:
                held = self._sets[id(iset)] = (iset, iset.sha256(), ray.put(iset))
            self._pending.append(_Task(fut, (code, held[1], [held[2]], entry, timeout_s, cascade, int(seed),
                                             node_task(task))))
        self._events.put(("new",))
        return fut

    def evaluate(self, code: str, iset: Any, entry: str = "schedule", timeout_s: float | None = None,
                 cascade: Any = None, seed: int = 0, task: Any = None) -> Any:
        """Score ``code`` on ``iset`` and wait for the result."""
        return self.submit(code, iset, entry, timeout_s, cascade, seed, task).result()

    def close(self) -> None:
        """Cancel what is queued, stop every node's sandbox, and leave the cluster."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._events.put(("stop",))
        thread = getattr(self, "_thread", None)
        if thread is not None:
            thread.join(timeout=10)
        for task in list(self._pending) + [t for t, _ in self._inflight.values()]:
            task.future.cancel() or _fail(task.future, RuntimeError("the Ray evaluator was closed"))
        for node in self._nodes.values():
            if node.alive and self._lost is None:
                try:
                    ray.get(node.handle.close.remote(), timeout=10)
                except Exception:  # noqa: BLE001 - a node already gone has nothing to close
                    pass
                ray.kill(node.handle)
        self._nodes.clear()
        if self._owns_ray and ray.is_initialized() and self._lost is None:
            ray.shutdown()  # without its head, Ray's shutdown waits on it; the process exits instead

    # --- nodes ----------------------------------------------------------------------------------
    def _refresh(self) -> None:
        """Start an actor on every live node with a CPU that has none yet; wait until they are ready."""
        started = []
        for n in ray.nodes():
            cpus = int(n.get("Resources", {}).get("CPU", 0))
            if not n.get("Alive") or cpus < 1 or n["NodeID"] in self._nodes:
                continue
            handle = self._actor.options(
                scheduling_strategy=NodeAffinitySchedulingStrategy(n["NodeID"], soft=False),
                runtime_env=RUNTIME_ENV).remote(self._factory, cpus)
            started.append(_Node(n["NodeID"], handle, 0))
        for node in started:
            try:
                node.info = ray.get(node.handle.info.remote(), timeout=START_TIMEOUT_S)
            except LOST as e:
                if "creation task" not in str(e):
                    continue  # died while starting: the next refresh tries again
                raise ExecutorError(f"the sandbox cannot start on Ray node {node.node_id[:8]}:"
                                    f" {_cause(e)}") from None
            except ray.exceptions.RayTaskError as e:
                raise ExecutorError(f"the sandbox cannot start on Ray node {node.node_id[:8]}:"
                                    f" {_one_line(e)}") from None
            except ray.exceptions.GetTimeoutError:
                raise ExecutorError(f"the sandbox on Ray node {node.node_id[:8]} did not start within"
                                    f" {START_TIMEOUT_S:g} s") from None
            node.capacity = SLOTS_PER_WORKER * max(1, int(node.info.get("workers") or 1))
            if node.info.get("missing_layers"):
                log.warning("sandbox on Ray node %s: running untrusted code without %s (allowed explicitly)",
                            node.node_id[:8], ", ".join(node.info["missing_layers"]))
            self._nodes[node.node_id] = node

    # --- the dispatch thread ----------------------------------------------------------------------
    def _loop(self) -> None:
        checked, silent = time.monotonic(), 0
        while True:
            try:
                event = self._events.get(timeout=HEAD_CHECK_S)
            except queue.Empty:
                event = ("tick",)
            if event[0] == "stop":
                return
            if self._gcs and self._lost is None and time.monotonic() - checked >= HEAD_CHECK_S:
                # Ray ends the driver's process after 60 s without its head: stop the run before that
                checked = time.monotonic()
                try:
                    _probe(self._gcs)
                    silent = 0
                except (ConnectionError, OSError) as e:
                    silent += 1
                    if silent >= HEAD_SILENT_CHECKS:
                        self._give_up(f"the Ray cluster's head at {self._gcs} is lost ({_one_line(e)})")
            try:
                if event[0] == "done":
                    self._finish(event[1], event[2])
                self._dispatch()
            except Exception as e:  # noqa: BLE001 - the GCS is unreachable: the head is gone
                self._give_up(f"the Ray cluster at {self.address or 'this machine'} is lost"
                              f" ({type(e).__name__}: {_one_line(e)})")

    def _dispatch(self) -> None:
        while self._pending:
            free = [n for n in self._nodes.values() if n.alive and n.busy < n.capacity]
            if not free:
                if not any(n.alive for n in self._nodes.values()):
                    try:
                        _probe(self._gcs)  # ray.nodes() would wait on a head that is gone
                    except (ConnectionError, OSError) as e:
                        self._give_up(f"the Ray cluster's head at {self._gcs} is lost ({_one_line(e)})")
                        return
                    self._refresh()
                    if not any(n.alive for n in self._nodes.values()):
                        self._give_up(f"no node of the Ray cluster at {self.address or 'this machine'}"
                                      " is left")
                return
            node = max(free, key=lambda n: (n.capacity - n.busy, n.node_id))
            with self._lock:
                task = self._pending.popleft()
            if task.attempts == 0 and not task.future.set_running_or_notify_cancel():
                continue
            ref = node.handle.evaluate.remote(*task.args)
            node.busy += 1
            self._inflight[ref] = (task, node)
            self.max_inflight = max(self.max_inflight, len(self._inflight))
            ref.future().add_done_callback(lambda f, r=ref: self._events.put(("done", r, f)))

    def _finish(self, ref: Any, done: Future) -> None:
        task, node = self._inflight.pop(ref)
        node.busy -= 1
        try:
            task.future.set_result(done.result())
        except ray.exceptions.RayTaskError as e:  # the sandbox raised: the same error as locally
            task.future.set_exception(e.as_instanceof_cause())
        except LOST as e:
            self._drop(node)
            task.attempts += 1
            if task.attempts < ATTEMPTS:
                self.retried += 1
                with self._lock:
                    self._pending.appendleft(task)
            else:
                task.future.set_exception(InfrastructureError(
                    f"infrastructure: the evaluation was lost {ATTEMPTS} times on the Ray cluster (last on"
                    f" node {node.node_id[:8]}: {type(e).__name__}); not the candidate's fault"))
        except BaseException as e:  # noqa: BLE001 - anything else Ray raises: carried to the candidate
            task.future.set_exception(e)

    def _drop(self, node: _Node) -> None:
        if node.alive:
            node.alive = False
            try:
                ray.kill(node.handle)
            except Exception:  # noqa: BLE001 - already gone
                pass

    def _give_up(self, why: str) -> None:
        with self._lock:
            self._lost = why
            tasks = list(self._pending) + [t for t, _ in self._inflight.values()]
            self._pending.clear()
        self._inflight.clear()
        for task in tasks:
            _fail(task.future, ClusterLost(why))


def _probe(address: str) -> str:
    """Return the head's GCS address (``host:port``, or the one recorded here); ConnectionError if silent."""
    from ray._private.services import canonicalize_bootstrap_address

    where = address or canonicalize_bootstrap_address("auto")
    if not where:
        raise ConnectionError("no address")
    host, _, port = where.rpartition(":")
    try:
        socket.create_connection((host, int(port)), timeout=PROBE_TIMEOUT_S).close()
    except OSError as e:
        raise ConnectionError(f"{where} does not answer: {e.strerror or e}") from None
    return where


def _fail(fut: Future, exc: BaseException) -> None:
    if not fut.done():
        try:
            fut.set_exception(exc)
        except Exception:  # noqa: BLE001 - resolved meanwhile
            pass


def _cause(e: BaseException) -> str:
    """Return the last line of the traceback a Ray error carries that names an exception."""
    lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
    named = [ln for ln in lines if re.match(r"^[A-Za-z_][\w.]*(Error|Exception|Unsafe)\b", ln)]
    return (named or lines or [type(e).__name__])[-1]


def _one_line(e: BaseException) -> str:
    lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
    return lines[-1] if lines else type(e).__name__
