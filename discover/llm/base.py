"""The one interface every LLM backend implements, and its value objects."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class ChatRequest:
    """A chat request: messages plus sampling parameters. ``n`` completions are asked for."""

    model: str
    messages: tuple[dict[str, str], ...]
    n: int = 1
    temperature: float = 1.0
    max_tokens: int = 2048
    seed: int | None = None

    def params(self) -> dict[str, Any]:
        """Return the sampling parameters: ``n``, ``temperature``, ``max_tokens``, ``seed``."""
        return {"n": self.n, "temperature": self.temperature, "max_tokens": self.max_tokens,
                "seed": self.seed}

    def to_dict(self) -> dict[str, Any]:
        """Return the request as JSON-able fields (the one serialised form; ``from_dict`` reads it)."""
        return {"model": self.model, "messages": [dict(m) for m in self.messages], **self.params()}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ChatRequest:
        """Rebuild a request from ``to_dict`` output (other keys are ignored)."""
        return cls(d["model"], tuple(dict(m) for m in d["messages"]), d["n"], d["temperature"],
                   d["max_tokens"], d["seed"])

    def key(self, sample_index: int = 0) -> str:
        """Return the hash that identifies this request (and sample) in transcripts and replay."""
        payload = {**self.to_dict(), "sample": sample_index}
        blob = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(blob.encode()).hexdigest()


@dataclass(frozen=True)
class ChatResult:
    """The completions of one request with usage, latency and cost."""

    completions: tuple[str, ...]
    model: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0
    cost_usd: float = 0.0
    request_hash: str = ""
    meta: dict = field(default_factory=dict)

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class LLMError(RuntimeError):
    """A call that failed for good (after retries); the run goes on without it.

    A paid API bills failed attempts too: the usage the server reported for them is carried here,
    and ``usage_unknown`` counts the attempts whose usage it did not report (timeouts, cut bodies).
    """

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    usage_unknown: int = 0
    diverged: bool = False
    """True when the backend can answer no later request of the run either (a replay that left its
    transcript): the run stops."""


class BudgetExhausted(LLMError):
    """A budget (calls, tokens, dollars) is spent: no new requests are sent."""


class TranscriptWriteError(RuntimeError):
    """The run's transcript cannot be written: the run must stop (it could not be replayed)."""


class LLM(Protocol):
    """Anything that answers chat requests.

    ``waits_on_network``: the backend spends a call waiting on a remote server, so calls run side by
    side; a local, CPU-bound backend without it (or False) is called one at a time under the AST lock.
    """

    waits_on_network: bool

    def complete(self, request: ChatRequest) -> ChatResult:
        """Return ``request.n`` completions, or raise LLMError."""
        ...
