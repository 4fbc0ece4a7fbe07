"""Record every exchange with any backend to ``transcript.jsonl``, one JSON object per line.

Each line (``"v": 1``) holds ``time`` (UTC, ISO 8601), ``request_hash`` (``request.key(0)``),
``sample_hashes`` (``request.key(i)`` per completion), ``model``, ``messages``, ``params`` (``n``,
``temperature``, ``max_tokens``, ``seed``), ``status`` (``ok``; ``error`` for a call that failed;
``budget`` for a request refused by a budget), ``completions``, ``usage`` (``prompt_tokens``,
``completion_tokens``, ``total_tokens``, ``cost_usd``; for a failed call, what its attempts were billed
and ``unknown_attempts``, those whose usage the server did not report), ``latency_s``,
``response_model``, ``meta`` and, unless ok, ``error``. Lines are appended under a lock and flushed per
call, so a crash loses at most the line being written (readers skip a torn last line). No secret is
ever written: requests carry none, and backends keep their keys to themselves.
"""

from __future__ import annotations

import json
import os
import threading
from datetime import UTC, datetime
from pathlib import Path

from discover.llm.base import LLM, BudgetExhausted, ChatRequest, ChatResult, LLMError, TranscriptWriteError

VERSION = 1


def request_record(request: ChatRequest) -> dict:
    """Return the transcript fields that identify a request."""
    return {
        "v": VERSION,
        "time": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "request_hash": request.key(0),
        "sample_hashes": [request.key(i) for i in range(request.n)],
        "model": request.model,
        "messages": [dict(m) for m in request.messages],
        "params": request.params(),
    }


def result_record(request: ChatRequest, result: ChatResult) -> dict:
    """Return the transcript line of a completed call."""
    return {
        **request_record(request),
        "status": "ok",
        "completions": list(result.completions),
        "usage": {
            "prompt_tokens": result.prompt_tokens,
            "completion_tokens": result.completion_tokens,
            "total_tokens": result.total_tokens,
            "cost_usd": result.cost_usd,
        },
        "latency_s": result.latency_s,
        "response_model": result.model,
        "meta": _jsonable(result.meta),
    }


def error_record(request: ChatRequest, error: LLMError) -> dict:
    """Return the transcript line of a failed or refused call."""
    return {
        **request_record(request),
        "status": "budget" if isinstance(error, BudgetExhausted) else "error",
        "error": str(error),
        "completions": [],
        "usage": {"prompt_tokens": error.prompt_tokens, "completion_tokens": error.completion_tokens,
                  "total_tokens": error.prompt_tokens + error.completion_tokens, "cost_usd": error.cost_usd,
                  "unknown_attempts": error.usage_unknown},  # what its failed attempts were billed
    }


def _jsonable(meta: dict) -> dict:
    try:
        json.dumps(meta)
        return meta
    except (TypeError, ValueError):
        return {k: v for k, v in meta.items() if isinstance(v, (str, int, float, bool, list, type(None)))}


def dumps_line(record: dict) -> str:
    """Serialise one transcript record as a line: UTF-8, or ASCII escapes if it holds lone surrogates."""
    text = json.dumps(record, ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = json.dumps(record)
    return text + "\n"


class RecordingLLM:
    """Wrap a backend and append each exchange to a transcript file."""

    def __init__(self, inner: LLM, path: str | os.PathLike[str]) -> None:
        self.inner = inner
        self.path = Path(path)
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self.path, "a", encoding="utf-8")  # kept open; flushed per call
        except OSError as e:
            msg = f"{self.path}: cannot open the transcript: {e.strerror or e}"
            raise TranscriptWriteError(msg) from None

    @property
    def waits_on_network(self) -> bool:
        """The wrapped backend's (see ``LLM``)."""
        return bool(getattr(self.inner, "waits_on_network", False))

    def complete(self, request: ChatRequest) -> ChatResult:
        """Call the wrapped backend and record the exchange, failures included."""
        try:
            result = self.inner.complete(request)
        except LLMError as e:
            self._append(error_record(request, e))
            raise
        self._append(result_record(request, result))
        return result

    def _append(self, record: dict) -> None:
        line = dumps_line(record)
        with self._lock:
            try:
                self._file.write(line)
                self._file.flush()
            except (OSError, ValueError) as e:  # ValueError: the file was closed
                raise TranscriptWriteError(f"{self.path}: cannot write the transcript: {e}") from None

    def close(self) -> None:
        """Close the transcript (and the wrapped backend if it can be closed)."""
        with self._lock:
            try:
                self._file.close()
            except OSError:
                pass  # the write that failed was reported already
        close = getattr(self.inner, "close", None)
        if close:
            close()

    def __enter__(self) -> RecordingLLM:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
