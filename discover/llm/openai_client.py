"""Any OpenAI-compatible server (OpenAI, vLLM, Ollama, llama.cpp) through the ``openai`` SDK.

The SDK's own retries are off (``max_retries=0``): this module retries 408/409/429/5xx answers,
connection errors, timeouts and unreadable bodies at most ``max_retries`` times, waiting
``backoff_base_s · 2^k`` (capped at ``backoff_max_s``) with equal jitter, or the server's
``Retry-After`` (same cap); then it raises :class:`LLMError` and the run goes on. Other 4xx
answers fail at once. At most ``max_concurrency`` calls run at a time (a call keeps its slot
through its retries, which also eases a rate-limited server).
The API key is read from the environment variable *named* in the settings, once, and handed to the
SDK; it is never stored in settings, results, transcripts or logs.
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import openai

from discover.llm.accounting import Budget, Price, Spend, SpendAccount, price_for
from discover.llm.base import ChatRequest, ChatResult, LLMError

_RETRY_STATUS = frozenset({408, 409, 429})
PREFLIGHT_TIMEOUT_S = 30.0  # the check before a run waits at most this long (or llm.request_timeout_s)


@dataclass(frozen=True)
class OpenAISettings:
    """How to reach the server, how hard to retry, what things cost and how much may be spent."""

    base_url: str | None = None  # None: the SDK default (api.openai.com)
    api_key_env: str = "OPENAI_API_KEY"  # the variable's NAME; "" for a server that needs no key
    timeout_s: float = 120.0
    max_retries: int = 4
    backoff_base_s: float = 1.0
    backoff_max_s: float = 30.0
    max_concurrency: int = 4
    prices: Mapping[str, Price] = field(default_factory=dict)  # model (or name prefix) -> Price
    budget: Budget = field(default_factory=Budget)
    max_tokens_param: str = "max_tokens"  # "max_completion_tokens" for OpenAI reasoning models

    def __post_init__(self) -> None:
        checks = {
            "timeout_s": self.timeout_s > 0,
            "max_retries": self.max_retries >= 0,
            "backoff_base_s": self.backoff_base_s >= 0,
            "backoff_max_s": self.backoff_max_s >= 0,
            "max_concurrency": self.max_concurrency >= 1,
            "max_tokens_param": self.max_tokens_param in ("max_tokens", "max_completion_tokens"),
        }
        for name, ok in checks.items():
            if not ok:
                raise ValueError(f"openai settings: {name} = {getattr(self, name)!r} is out of range")


class _Malformed(Exception):
    """A 2xx answer whose body is not a chat completion (``data``: the body, if it was JSON)."""

    def __init__(self, message: str, data: object = None) -> None:
        super().__init__(message)
        self.data = data


class _Failed:
    """What the failed attempts of one call were billed."""

    def __init__(self) -> None:
        self.prompt = self.completion = self.unknown = 0

    def add(self, usage: tuple[int, int] | None, request: ChatRequest, n: int) -> None:
        if usage is None:
            self.unknown += 1
            return
        p, c = _plausible(usage, request, n)
        self.prompt += p
        self.completion += c


class OpenAILLM:
    """Chat completions from an OpenAI-compatible server, with retries, a concurrency cap and budgets."""

    waits_on_network = True

    def __init__(self, settings: OpenAISettings | None = None) -> None:
        self.settings = s = settings or OpenAISettings()
        if s.api_key_env:
            key = os.environ.get(s.api_key_env)
            if not key:
                raise ValueError(
                    f"openai settings: environment variable {s.api_key_env} (the API key) is not set;"
                    " set it, or set api_key_env to '' for a server that needs no key"
                )
        else:
            key = "no-key"
        self._client = openai.OpenAI(base_url=s.base_url, api_key=key, timeout=s.timeout_s, max_retries=0)
        self._slots = threading.BoundedSemaphore(s.max_concurrency)
        self._closed = threading.Event()
        self._jitter = random.Random()
        self.ledger = SpendAccount(s.budget)

    def spent(self) -> Spend:
        """Return what completed calls have spent."""
        return self.ledger.spent()

    def close(self) -> None:
        """Close the HTTP client and cut short any backoff sleep (idempotent)."""
        if not self._closed.is_set():
            self._closed.set()
            self._client.close()

    def preflight(self, model: str) -> None:
        """Check, before a run's first sample, that the endpoint answers and serves ``model``.

        One ``GET /models``; when it does not list the model (or the server has no such route), one
        short chat request (``max_tokens`` 1). Raises LLMError with one line naming the URL, the model
        and the cause.
        """
        where = f"model {model!r} at {self._where()}"
        wait = min(self.settings.timeout_s, PREFLIGHT_TIMEOUT_S)
        client = self._client.with_options(timeout=wait)
        try:
            listed = [m.id for m in client.models.list()]
        except openai.APIStatusError as e:
            if e.status_code in (401, 403):
                raise LLMError(f"{where}: the server refused the API key (HTTP {e.status_code}:"
                               f" {_message(e)})") from None
            listed = []  # no /models route: ask the model itself
        except openai.APITimeoutError:
            raise LLMError(f"{where}: no answer within {wait:g} s") from None
        except openai.APIConnectionError as e:
            raise LLMError(f"{where}: cannot connect ({_cause(e)})") from None
        except Exception:  # noqa: BLE001 - a body that is not a model list: ask the model instead
            listed = []
        if model in listed:
            return
        try:
            client.chat.completions.create(
                model=model, messages=[{"role": "user", "content": "Reply with OK."}], n=1,
                **{self.settings.max_tokens_param: 1})
        except openai.APIStatusError as e:
            if e.status_code in _RETRY_STATUS or e.status_code >= 500:
                return  # it answers; a busy or failing server is retried during the run
            offered = f" (it lists: {', '.join(listed[:8])})" if listed else ""
            raise LLMError(f"{where}: HTTP {e.status_code}: {_message(e)}{offered}") from None
        except openai.APITimeoutError:
            raise LLMError(f"{where}: no answer within {wait:g} s") from None
        except openai.APIConnectionError as e:
            raise LLMError(f"{where}: cannot connect ({_cause(e)})") from None

    def complete(self, request: ChatRequest) -> ChatResult:
        """Return ``request.n`` completions, or raise LLMError (BudgetExhausted once a budget is spent)."""
        price = price_for(self.settings.prices, request.model)
        if price is None and self.settings.budget.max_usd is not None:
            raise LLMError(f"openai: a dollar budget is set but model {request.model!r} has no price")
        self.ledger.reserve()
        failed = _Failed()
        try:
            with self._slots:
                t0 = time.perf_counter()
                texts, meta, usage = self._collect(request, failed)
                latency = time.perf_counter() - t0
        except LLMError as e:
            e.prompt_tokens, e.completion_tokens = failed.prompt, failed.completion
            e.usage_unknown = failed.unknown
            e.cost_usd = price.cost(failed.prompt, failed.completion) if price else 0.0
            self.ledger.release(e.prompt_tokens, e.completion_tokens, e.cost_usd)
            raise
        except BaseException:
            self.ledger.release()
            raise
        if failed.prompt or failed.completion or failed.unknown:  # billed too, though they gave nothing
            meta["failed_attempts"] = {"prompt_tokens": failed.prompt, "completion_tokens": failed.completion,
                                       "usage_unknown": failed.unknown}
            usage = (usage[0] + failed.prompt, usage[1] + failed.completion)
        cost = price.cost(*usage) if price else 0.0
        self.ledger.settle(usage[0], usage[1], cost)
        return ChatResult(
            completions=tuple(texts),
            model=meta.pop("model") or request.model,
            prompt_tokens=usage[0],
            completion_tokens=usage[1],
            latency_s=latency,
            cost_usd=cost,
            request_hash=request.key(0),
            meta=meta,
        )

    def _collect(self, request: ChatRequest, failed: _Failed) -> tuple[list[str], dict, tuple[int, int]]:
        """Ask for n completions; if the server ignores ``n``, ask again one at a time with seed + k."""
        texts: list[str] = []
        meta = {"backend": "openai", "model": None, "attempts": 0, "requests": 0, "finish_reasons": []}
        prompt_tokens = completion_tokens = 0
        while len(texts) < request.n:
            k = meta["requests"]
            seed = request.seed if k == 0 or request.seed is None else request.seed + k
            asked = request.n if k == 0 else 1
            data, attempts = self._post(request, asked, seed, failed)
            meta["attempts"] += attempts
            meta["requests"] += 1
            meta["model"] = meta["model"] or data.get("model")
            choices = sorted(data["choices"], key=lambda c: c.get("index", 0))[: request.n - len(texts)]
            new = [(c.get("message") or {}).get("content") or "" for c in choices]
            texts += new
            meta["finish_reasons"] += [c.get("finish_reason") for c in choices]
            usage = _usage(data)
            if usage is not None:
                kept = _plausible(usage, request, len(choices) or asked)
                if kept != usage:
                    meta.setdefault("usage_capped", []).append({"reported": list(usage), "kept": list(kept)})
                prompt_tokens += kept[0]
                completion_tokens += kept[1]
            else:  # some servers omit usage: estimate it, and say so
                meta["usage_estimated"] = True
                prompt_tokens += sum(len(m.get("content") or "") for m in request.messages) // 4
                completion_tokens += sum(len(t) // 4 for t in new)
        return texts, meta, (prompt_tokens, completion_tokens)

    def _post(self, request: ChatRequest, n: int, seed: int | None, failed: _Failed) -> tuple[dict, int]:
        """Send one HTTP request with bounded retries; return the parsed body and the attempts made.

        What each failed attempt was billed is added to ``failed``: the usage its body reports, else
        one more attempt of unknown usage (a timeout, a cut body, a server error); a refused request
        (429, 4xx) bills nothing.
        """
        s = self.settings
        kwargs = {
            "model": request.model,
            "messages": [dict(m) for m in request.messages],
            "n": n,
            "temperature": request.temperature,
            s.max_tokens_param: request.max_tokens,
        }
        if seed is not None:
            kwargs["seed"] = seed
        for attempt in range(s.max_retries + 1):
            if self._closed.is_set():
                raise LLMError("openai: the client is closed")
            retry_after = None
            try:
                raw = self._client.chat.completions.with_raw_response.create(**kwargs)
                return _parse(raw.http_response.content), attempt + 1
            except openai.APIStatusError as e:
                status = e.status_code
                if status >= 500:
                    failed.add(_usage(e.body) if isinstance(e.body, dict) else None, request, n)
                if status not in _RETRY_STATUS and status < 500:
                    raise LLMError(f"openai: HTTP {status} from {self._where()}: {_message(e)}") from None
                why = f"HTTP {status}: {_message(e)}"
                retry_after = _retry_after(e.response.headers)
            except openai.APITimeoutError:
                failed.add(None, request, n)
                why = f"timed out after {s.timeout_s:g} s"
            except openai.APIConnectionError as e:
                failed.add(None, request, n)
                why = f"connection error ({_cause(e)})"
            except _Malformed as e:
                failed.add(_usage(e.data), request, n)
                why = str(e)
            if attempt == s.max_retries:
                raise LLMError(f"openai: gave up after {attempt + 1} attempts at {self._where()}: {why}")
            delay = min(s.backoff_max_s, s.backoff_base_s * 2**attempt)
            delay = retry_after if retry_after is not None else delay * (0.5 + 0.5 * self._jitter.random())
            self._closed.wait(min(delay, s.backoff_max_s))
        raise AssertionError("unreachable")

    def _where(self) -> str:
        return str(self._client.base_url).rstrip("/")


def _parse(body: bytes) -> dict:
    try:
        data = json.loads(body)
    except ValueError:
        snippet = body[:60].decode("utf-8", "replace")
        raise _Malformed(f"malformed JSON in the response ({len(body)} bytes: {snippet!r}...)") from None
    choices = data.get("choices") if isinstance(data, dict) else None
    if not isinstance(choices, list) or not choices or not all(isinstance(c, dict) for c in choices):
        raise _Malformed("the response has no choices", data)
    return data


def _usage(data: object) -> tuple[int, int] | None:
    """Return (prompt, completion) tokens of a body's ``usage``, or None when it reports none."""
    usage = data.get("usage") if isinstance(data, dict) else None
    if not isinstance(usage, dict):
        return None
    p, c = usage.get("prompt_tokens"), usage.get("completion_tokens")
    ok = all(isinstance(x, int) and not isinstance(x, bool) and x >= 0 for x in (p, c))
    return (p, c) if ok else None


def _plausible(usage: tuple[int, int], request: ChatRequest, n: int) -> tuple[int, int]:
    """Cap reported usage at what the request could have used: a token covers at least one byte of
    the prompt (plus a chat template's overhead), and no choice exceeds ``max_tokens``."""
    prompt_bytes = sum(len((m.get("content") or "").encode()) for m in request.messages)
    cap_p = prompt_bytes + 32 * len(request.messages) + 256
    cap_c = max(1, n) * request.max_tokens
    return min(usage[0], cap_p), min(usage[1], cap_c)


def _cause(e: BaseException) -> str:
    """Return the innermost cause of a connection error (e.g. ``[Errno 111] Connection refused``)."""
    while e.__cause__ is not None or e.__context__ is not None:
        e = e.__cause__ or e.__context__
    return str(e) or type(e).__name__


def _message(e: openai.APIStatusError) -> str:
    body = e.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])[:300]
    return str(e.message)[:300]


def _retry_after(headers) -> float | None:
    for name, scale in (("retry-after-ms", 1e-3), ("retry-after", 1.0)):
        try:
            return max(0.0, float(headers.get(name)) * scale)
        except (TypeError, ValueError):
            continue
    return None
