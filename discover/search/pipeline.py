"""The in-flight side of the loop: LLM requests on daemon threads, candidates extracted from the replies
and sent to the sandbox.

Nothing here touches the population or the store; the controller consumes finished jobs in prompt
order, which keeps a concurrent run deterministic.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from discover.llm.base import LLM, BudgetExhausted, ChatRequest, ChatResult, LLMError, TranscriptWriteError
from discover.programs.normalize import code_hash
from evaluator import pyparse


class ThreadPool:
    """A small executor on daemon threads: a Ctrl-C never waits for a hung HTTP request."""

    def __init__(self, workers: int, name: str = "llm") -> None:
        self._tasks: queue.SimpleQueue[tuple[Future, Callable[[], Any]] | None] = queue.SimpleQueue()
        self._threads = [threading.Thread(target=self._work, name=f"{name}-{k}", daemon=True)
                         for k in range(max(1, workers))]
        for t in self._threads:
            t.start()

    def _work(self) -> None:
        while True:
            item = self._tasks.get()
            if item is None:
                return
            fut, fn = item
            if not fut.set_running_or_notify_cancel():
                continue
            try:
                fut.set_result(fn())
            except BaseException as e:  # noqa: BLE001 - handed to the consumer through the future
                fut.set_exception(e)

    def submit(self, fn: Callable[[], Any]) -> Future:
        """Run ``fn()`` on a worker thread; return its future."""
        fut: Future = Future()
        self._tasks.put((fut, fn))
        return fut

    def shutdown(self) -> None:
        """Stop the workers once they finish their current task (they are daemons: exit never waits)."""
        for _ in self._threads:
            self._tasks.put(None)


@dataclass(frozen=True)
class Candidate:
    """One completion turned into a program (or the reason it is none)."""

    index: int
    code: str | None
    description: str
    reason: str | None  # why there is no code
    hash: str | None


@dataclass(frozen=True)
class LLMOutcome:
    """What one request produced: the reply, its candidates and their evaluations (by index)."""

    result: ChatResult | None
    error: str
    budget_exhausted: bool
    candidates: tuple[Candidate, ...]
    latency_s: float
    evals: dict[int, Future] = field(default_factory=dict)
    billed: tuple[int, int, float] = (0, 0, 0.0)  # a failed call: tokens and dollars its attempts were billed
    usage_unknown: int = 0  # attempts whose usage the server did not report
    diverged: bool = False  # the backend can answer nothing later either (LLMError.diverged): the run stops


Extractor = Callable[[str, str], Any]  # extract_code(reply, entry) -> object with code, description, reason


class Evaluations:
    """Submit candidates to the sandbox, sharing one evaluation among identical programs; thread-safe.

    ``committed`` (normalised hash → program id) is read, never written, here: a candidate already
    committed is not run again. Whether a candidate is submitted or shares a run never changes what
    is committed (the controller decides duplicates in commit order), only how much work is done.
    """

    def __init__(self, submit: Callable[[str, float | None], Future], committed: dict[str, int]) -> None:
        self._submit = submit
        self._committed = committed
        self._inflight: dict[str, Future] = {}
        self._lock = threading.Lock()
        self.submitted = 0

    def get(self, cand: Candidate, bar: float | None = None) -> Future | None:
        """Return the evaluation of a candidate (new or shared), or None if there is nothing to run.

        ``bar``: the training gap below which the candidate is also scored on the scale probe (the
        island's best when its prompt was built); evaluations are shared only at an equal bar.
        """
        if cand.code is None or cand.hash is None or cand.hash in self._committed:
            return None
        key = f"{cand.hash}|{bar!r}"
        with self._lock:
            fut = self._inflight.get(key)
        if fut is not None:
            return fut
        try:
            fut = self._submit(cand.code, bar)
        except Exception as e:  # noqa: BLE001 - e.g. a closed sandbox; the candidate carries the error
            fut = Future()
            fut.set_exception(e)
        with self._lock:
            self.submitted += 1
            return self._inflight.setdefault(key, fut)

    def forget(self, hashes: list[str], bar: float | None = None) -> None:
        """Drop finished evaluations whose programs are committed."""
        with self._lock:
            for h in hashes:
                self._inflight.pop(f"{h}|{bar!r}", None)

    def cancel(self) -> None:
        """Cancel every evaluation not yet started."""
        with self._lock:
            for fut in self._inflight.values():
                fut.cancel()
            self._inflight.clear()


def make_candidate(index: int, reply: str, entry: str, extract: Extractor) -> Candidate:
    """Extract (``entry_v2`` of a versioned prompt is renamed back to ``entry``) and hash a reply."""
    ex = extract(reply, entry)
    desc = (getattr(ex, "description", "") or "").strip()[:500]
    if ex.code is None:
        return Candidate(index, None, desc, ex.reason or "no program found in the reply", None)
    return Candidate(index, ex.code, desc, None, code_hash(ex.code))


def run_request(llm: LLM, request: ChatRequest, entry: str, extract: Extractor,
                evaluations: Evaluations | None = None, serial: bool = True,
                bar: float | None = None) -> LLMOutcome:
    """Send one request, extract its candidates and submit their evaluations (runs on a pool thread).

    ``serial``: hold ``pyparse.LOCK`` during the call too (a local, CPU-bound backend); a remote backend
    waits on the network without it.
    """
    t0 = time.perf_counter()
    try:
        with pyparse.LOCK if serial else contextlib.nullcontext():
            result = llm.complete(request)
    except BudgetExhausted as e:
        return LLMOutcome(None, f"budget exhausted: {e}", True, (), time.perf_counter() - t0)
    except LLMError as e:
        return LLMOutcome(None, f"LLM error: {e}", False, (), time.perf_counter() - t0,
                          billed=(e.prompt_tokens, e.completion_tokens, e.cost_usd),
                          usage_unknown=e.usage_unknown, diverged=e.diverged)
    except TranscriptWriteError:
        raise  # the run cannot go on without its record: the controller stops it
    except Exception as e:  # noqa: BLE001 - a broken backend must not kill the run; it is recorded
        return LLMOutcome(None, f"LLM backend failure: {type(e).__name__}: {e}", False, (),
                          time.perf_counter() - t0)
    latency = time.perf_counter() - t0
    cands = []
    evals = {}
    with pyparse.LOCK:
        for j, reply in enumerate(result.completions[: request.n]):
            try:
                cands.append(make_candidate(j, reply if isinstance(reply, str) else "", entry, extract))
            except Exception as e:  # noqa: BLE001 - e.g. a pathological AST; the candidate is rejected
                cands.append(Candidate(j, None, "", f"cannot process the reply: {type(e).__name__}: {e}",
                                       None))
        if evaluations is not None:
            for c in cands:
                fut = evaluations.get(c, bar)
                if fut is not None:
                    evals[c.index] = fut
    return LLMOutcome(result, "", False, tuple(cands), latency, evals)


def request_to_dict(request: ChatRequest, first_sample: int) -> dict[str, Any]:
    """Return a JSON-able form of a request (kept with its prompt so it can be sent again on resume)."""
    return request.to_dict() | {"first_sample": first_sample}


def request_from_dict(d: dict[str, Any]) -> ChatRequest:
    """Rebuild a request from ``request_to_dict`` output."""
    return ChatRequest.from_dict(d)


@dataclass
class InFlight:
    """A prompt in flight: its LLM outcome, then one evaluation future per usable candidate."""

    prompt: int
    island: int
    operator: str
    parents: tuple[int, ...]
    request: ChatRequest
    first_sample: int
    bar: float | None = None  # probe a candidate whose training gap is below this (see Evaluations.get)
    llm_future: Future | None = None
    outcome: LLMOutcome | None = None
    key: str = ""  # the request's hash, computed once

    def __post_init__(self) -> None:
        self.key = self.key or self.request.key(0)

    def done(self) -> bool:
        """True when the reply is in and every evaluation has finished."""
        return self.outcome is not None and all(f.done() for f in self.outcome.evals.values())
