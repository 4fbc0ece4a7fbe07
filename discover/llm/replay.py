"""Serve completions from a recorded transcript, matched by request hash: a finished run, bit for bit.

A request is matched by ``request.key(0)``, the hash of (model, messages, n, temperature,
max_tokens, seed, sample 0). The k-th time a hash is asked for, the k-th exchange recorded with it
is served: its completions, usage, cost and latency exactly as recorded; a recorded failure is
raised again (``LLMError``, or ``BudgetExhausted`` for a refused request). A request the transcript
does not hold (or holds fewer times) is, in strict mode, a :class:`ReplayMiss` naming the hash and
the nearest recorded prompt with its first difference; in lenient mode it goes to the fallback.
"""

from __future__ import annotations

import difflib
import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from discover.llm.base import LLM, BudgetExhausted, ChatRequest, ChatResult, LLMError


class TranscriptError(ValueError):
    """A transcript that cannot be read; the message names the file, line and field."""


class ReplayMiss(LLMError):
    """A request that the transcript does not hold; in a replayed run it marks a divergence."""

    diverged = True


@dataclass(frozen=True)
class Totals:
    """Usage summed over a transcript's lines."""

    calls: int = 0
    failed: int = 0
    refused: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


def record_request(record: dict) -> ChatRequest:
    """Rebuild the request a transcript record was made for."""
    return ChatRequest.from_dict({**record["params"], "model": record["model"],
                                  "messages": record["messages"]})


def read_transcript(path: str | os.PathLike[str]) -> list[dict]:
    """Read and check a transcript; each record gains ``line``. A torn last line (a crash) is skipped.

    Raises
    ------
    TranscriptError : a file that is missing, or a line that is not a consistent record.
    """
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").split("\n")
    except OSError as e:
        raise TranscriptError(f"{path}: cannot read the transcript ({e.strerror})") from None
    records = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except ValueError as e:
            if number == len(lines):  # the last line, unterminated: torn by a crash
                continue
            raise TranscriptError(f"{path}, line {number}: not valid JSON ({e})") from None
        records.append(_checked(rec, path, number))
    return records


def _checked(rec, path: Path, number: int) -> dict:
    where = f"{path}, line {number}"
    if not isinstance(rec, dict):
        raise TranscriptError(f"{where}: expected a JSON object")
    for name in ("request_hash", "model", "messages", "params", "status", "completions", "usage"):
        if name not in rec:
            raise TranscriptError(f"{where}: field {name!r} is missing")
    try:
        request = record_request(rec)
    except (KeyError, TypeError, AttributeError) as e:
        raise TranscriptError(f"{where}: params or messages are malformed ({e})") from None
    if request.key(0) != rec["request_hash"]:
        raise TranscriptError(
            f"{where}: request_hash does not match the recorded request (edited, or from another version)"
        )
    if rec["status"] == "ok" and (
        len(rec["completions"]) != request.n or not all(isinstance(c, str) for c in rec["completions"])
    ):
        raise TranscriptError(f"{where}: field 'completions' must hold {request.n} strings")
    return {**rec, "line": number}


def transcript_totals(path: str | os.PathLike[str]) -> Totals:
    """Return calls, failures and usage (as billed, failed calls included) summed over a transcript."""
    recs = read_transcript(path)
    ok = [r for r in recs if r["status"] == "ok"]
    billed = [r["usage"] for r in recs if r.get("usage")]  # failed calls are billed too
    return Totals(
        calls=len(ok),
        failed=sum(r["status"] == "error" for r in recs),
        refused=sum(r["status"] == "budget" for r in recs),
        prompt_tokens=sum(u.get("prompt_tokens", 0) for u in billed),
        completion_tokens=sum(u.get("completion_tokens", 0) for u in billed),
        cost_usd=sum(u.get("cost_usd", 0.0) for u in billed),
    )


class ReplayLLM:
    """Answer requests from a transcript (strict), or from a fallback backend on a miss (lenient)."""

    def __init__(self, path: str | os.PathLike[str], strict: bool = True, fallback: LLM | None = None):
        if not strict and fallback is None:
            raise ValueError("replay: lenient mode needs a fallback backend")
        self.path = Path(path)
        self.strict = strict
        self.fallback = fallback
        self._records = read_transcript(self.path)
        self._by_hash: dict[str, list[dict]] = {}
        for rec in self._records:
            self._by_hash.setdefault(rec["request_hash"], []).append(rec)
        self._served: dict[str, int] = {}
        self._lock = threading.Lock()

    def complete(self, request: ChatRequest) -> ChatResult:
        """Serve the next recorded exchange for this request, or handle the miss."""
        key = request.key(0)
        with self._lock:
            recs = self._by_hash.get(key, [])
            k = self._served.get(key, 0)
            if k < len(recs):
                self._served[key] = k + 1
                rec = recs[k]
            else:
                rec = None
        if rec is None:
            if not self.strict:
                return self.fallback.complete(request)
            raise ReplayMiss(self._miss_message(request, key, len(recs)))
        if rec["status"] == "budget":
            raise BudgetExhausted(rec.get("error", "budget exhausted"))
        if rec["status"] != "ok":
            err = LLMError(rec.get("error", "recorded failure"))
            billed = rec.get("usage") or {}
            err.prompt_tokens = int(billed.get("prompt_tokens", 0))
            err.completion_tokens = int(billed.get("completion_tokens", 0))
            err.cost_usd = float(billed.get("cost_usd", 0.0))
            err.usage_unknown = int(billed.get("unknown_attempts", 0))
            raise err
        usage = rec["usage"]
        return ChatResult(
            completions=tuple(rec["completions"]),
            model=rec.get("response_model") or rec["model"],
            prompt_tokens=usage["prompt_tokens"],
            completion_tokens=usage["completion_tokens"],
            latency_s=rec.get("latency_s", 0.0),
            cost_usd=usage["cost_usd"],
            request_hash=key,
            meta={**(rec.get("meta") or {}), "replay_line": rec["line"]},
        )

    def _miss_message(self, request: ChatRequest, key: str, recorded: int) -> str:
        head = f"replay miss: request {key} (model {request.model!r}, n {request.n}, seed {request.seed})"
        if recorded:
            return f"{head} was recorded {recorded} time(s) in {self.path} and is asked for once more"
        if not self._records:
            return f"{head} is not in {self.path}, which holds no exchange"
        rec, diff = _nearest(request, self._records)
        return (
            f"{head} is not in {self.path}; nearest recorded prompt: line {rec['line']}, "
            f"hash {rec['request_hash']}: {diff}"
        )


def _prompt_text(messages) -> str:
    return "\n".join(f"[{m.get('role')}] {m.get('content')}" for m in messages)


def _nearest(request: ChatRequest, records: list[dict]) -> tuple[dict, str]:
    """Return the recorded exchange whose prompt is closest to a request's, and how they differ."""
    asked = _prompt_text(request.messages)

    def similarity(rec: dict, exact: bool) -> float:
        m = difflib.SequenceMatcher(None, asked, _prompt_text(rec["messages"]), autojunk=False)
        return m.ratio() if exact else m.quick_ratio()

    short = sorted(records, key=lambda r: -similarity(r, False))[:5]
    best = max(short, key=lambda r: similarity(r, True))
    theirs = record_request(best)
    if theirs.messages == request.messages:
        fields = ("model", "n", "temperature", "max_tokens", "seed")
        diffs = [f"{f} {getattr(theirs, f)!r} recorded, {getattr(request, f)!r} asked" for f in fields
                 if getattr(theirs, f) != getattr(request, f)]
        return best, "same messages; " + "; ".join(diffs)
    recorded = _prompt_text(theirs.messages)
    pairs = enumerate(zip(asked, recorded, strict=False))
    at = next((i for i, (a, b) in pairs if a != b), min(len(asked), len(recorded)))
    return best, (
        f"{similarity(best, True):.0%} similar, first difference at character {at}: "
        f"recorded {recorded[at:at + 40]!r}, asked {asked[at:at + 40]!r}"
    )
