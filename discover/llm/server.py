"""An OpenAI-compatible HTTP server over any backend (offline or replay), with fault injection for tests.

Endpoints (a leading ``/v1`` is optional):

* ``POST /v1/chat/completions``: an OpenAI chat request (``model``, ``messages``, ``n``,
  ``temperature``, ``max_tokens`` or ``max_completion_tokens``, ``seed``; no streaming) answered
  with a ``chat.completion`` object including ``usage``. Any model name is accepted, unless the
  server was built with ``only_model=True``: then a request naming another model gets 404 with
  code ``model_not_found``, as OpenAI and vLLM answer.
* ``GET /v1/models``: one model, the served name.
* ``POST /_faults``: queue faults, ``{"faults": [{"kind": K, "count": 1, "delay_s": 1.0,
  "retry_after": null}]}``. Each later chat request takes the next queued fault (first in, first
  out; a fault with ``count`` c serves c requests). Kinds: a status code as a string (``"429"``,
  ``"500"``, ``"503"``, any 4xx/5xx; ``retry_after`` seconds adds a ``Retry-After`` header),
  ``"slow"`` (sleep ``delay_s``, then answer normally), ``"truncated"`` (the normal answer cut in
  half, with a matching Content-Length), ``"garbage"`` (200 with a body that is not JSON),
  ``"empty"`` (200 with JSON holding no choices, but the usage the work cost, as a billing server
  reports it), ``"absurd_usage"`` (the normal answer claiming 10^15 tokens of each kind), ``"drop"``
  (close the connection unanswered).
  ``DELETE /_faults`` clears the queue. In process, :meth:`MockServer.inject` does the same.
* ``GET /_stats``: requests seen, completions served, faults served and pending, most requests
  in flight at once.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter, deque
from dataclasses import asdict, dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from discover.llm.base import LLM, ChatRequest, LLMError
from discover.llm.replay import ReplayMiss

_KINDS = ("slow", "truncated", "garbage", "empty", "absurd_usage", "drop")


@dataclass(frozen=True)
class Fault:
    """One injected fault (see the module docstring for the kinds)."""

    kind: str
    delay_s: float = 1.0
    retry_after: float | None = None

    def __post_init__(self) -> None:
        status = self.kind.isdigit() and 400 <= int(self.kind) <= 599
        if not status and self.kind not in _KINDS:
            raise ValueError(f"fault kind {self.kind!r}: use a 4xx/5xx status or one of {', '.join(_KINDS)}")
        if self.delay_s < 0:
            raise ValueError(f"fault delay_s must be ≥ 0, got {self.delay_s}")


class MockServer:
    """Serve a backend over HTTP like an OpenAI-compatible API; start(), then stop() or use ``with``."""

    def __init__(
        self, backend: LLM, host: str = "127.0.0.1", port: int = 0, model: str = "offline",
        ignore_n: bool = False, log=None, only_model: bool = False,
    ) -> None:
        self.backend = backend
        self.model = model
        self.only_model = only_model  # answer 404 model_not_found for any other model name
        self.ignore_n = ignore_n  # answer one choice whatever n is asked, like some local servers
        self.log = log
        self._faults: deque[Fault] = deque()
        self._lock = threading.Lock()
        self._counts: Counter = Counter()
        self._in_flight = 0
        handler = type("Handler", (_Handler,), {"server_owner": self})
        self.httpd = ThreadingHTTPServer((host, port), handler)
        self.httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Return the base URL to give a client (ends with ``/v1``)."""
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    def start(self) -> MockServer:
        """Serve in a background thread."""
        serve = lambda: self.httpd.serve_forever(poll_interval=0.05)  # noqa: E731 - stop() waits one poll
        self._thread = threading.Thread(target=serve, name="mock-llm-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._thread is not None:
            self.httpd.shutdown()
            self._thread.join()
            self._thread = None
        self.httpd.server_close()

    def __enter__(self) -> MockServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def inject(self, kind: str, count: int = 1, delay_s: float = 1.0, retry_after: float | None = None):
        """Queue a fault for the next ``count`` chat requests."""
        fault = Fault(str(kind), delay_s, retry_after)
        with self._lock:
            self._faults.extend([fault] * count)

    def clear_faults(self) -> None:
        """Drop all queued faults."""
        with self._lock:
            self._faults.clear()

    def stats(self) -> dict:
        """Return counters: requests, completions, faults served and pending, most in flight at once."""
        with self._lock:
            faults = {k[6:]: v for k, v in self._counts.items() if k.startswith("fault:")}
            return {
                "requests": self._counts["requests"],
                "completions": self._counts["completions"],
                "faults_served": faults,
                "pending_faults": [asdict(f) for f in self._faults],
                "max_in_flight": self._counts["max_in_flight"],
            }

    def _enter(self) -> Fault | None:
        with self._lock:
            self._counts["requests"] += 1
            self._in_flight += 1
            self._counts["max_in_flight"] = max(self._counts["max_in_flight"], self._in_flight)
            fault = self._faults.popleft() if self._faults else None
            if fault:
                self._counts[f"fault:{fault.kind}"] += 1
            return fault

    def _leave(self, completions: int) -> None:
        with self._lock:
            self._in_flight -= 1
            self._counts["completions"] += completions


class _BadRequest(Exception):
    pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_owner: MockServer

    def log_message(self, format: str, *args) -> None:
        if self.server_owner.log:
            self.server_owner.log(f"{self.address_string()} {format % args}")

    def do_GET(self) -> None:
        path = self._path()
        if path == "/models":
            owner = self.server_owner
            data = [{"id": owner.model, "object": "model", "created": 0, "owned_by": "discover"}]
            self._json(200, {"object": "list", "data": data})
        elif path == "/_stats":
            self._json(200, self.server_owner.stats())
        else:
            self._error(404, f"no route GET {self.path}", "not_found")

    def do_DELETE(self) -> None:
        if self._path() == "/_faults":
            self._body()
            self.server_owner.clear_faults()
            self._json(200, {"cleared": True})
        else:
            self._error(404, f"no route DELETE {self.path}", "not_found")

    def do_POST(self) -> None:
        path = self._path()
        try:
            body = self._body()
            if path == "/_faults":
                self._queue_faults(body)
            elif path == "/chat/completions":
                self._chat(body)
            else:
                self._error(404, f"no route POST {self.path}", "not_found")
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (e.g. timed out)
            self.close_connection = True

    def _path(self) -> str:
        path = self.path.split("?", 1)[0].rstrip("/")
        return path[3:] if path.startswith("/v1/") else path

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _queue_faults(self, body: bytes) -> None:
        try:  # check every fault before queueing any
            specs = [
                (Fault(str(s["kind"]), s.get("delay_s", 1.0), s.get("retry_after")), int(s.get("count", 1)))
                for s in json.loads(body)["faults"]
            ]
        except (ValueError, KeyError, TypeError) as e:
            self._error(400, f"bad fault list: {e!r}", "invalid_request_error")
            return
        for fault, count in specs:
            self.server_owner.inject(fault.kind, count, fault.delay_s, fault.retry_after)
        self._json(200, {"queued": sum(count for _, count in specs)})

    def _chat(self, body: bytes) -> None:
        owner = self.server_owner
        fault = owner._enter()
        served = 0
        try:
            if fault is not None and fault.kind.isdigit():
                headers = {"Retry-After": f"{fault.retry_after:g}"} if fault.retry_after is not None else {}
                self._error(int(fault.kind), f"injected fault: HTTP {fault.kind}", "injected", headers)
                return
            if fault is not None and fault.kind == "drop":
                self.close_connection = True
                return
            if fault is not None and fault.kind == "slow":
                time.sleep(fault.delay_s)
            try:
                request = _request(json.loads(body), owner.ignore_n)
            except (ValueError, _BadRequest) as e:
                self._error(400, f"bad request: {e}", "invalid_request_error")
                return
            if owner.only_model and request.model != owner.model:
                self._error(404, f"The model `{request.model}` does not exist or you do not have access"
                                 " to it.", "model_not_found")
                return
            try:
                result = owner.backend.complete(request)
            except ReplayMiss as e:
                self._error(400, str(e), "replay_miss")
                return
            except LLMError as e:
                self._error(500, str(e), "backend_error")
                return
            served = len(result.completions)
            self._send_completion(request, result, fault)
        finally:
            owner._leave(served)

    def _send_completion(self, request: ChatRequest, result, fault: Fault | None) -> None:
        finish = list((result.meta or {}).get("finish_reasons") or [])
        finish += ["stop"] * (len(result.completions) - len(finish))
        choices = [
            {"index": i, "message": {"role": "assistant", "content": t}, "finish_reason": f, "logprobs": None}
            for i, (t, f) in enumerate(zip(result.completions, finish, strict=False))
        ]
        payload = {
            "id": f"chatcmpl-{request.key(0)[:24]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": result.model or request.model,
            "system_fingerprint": "discover-mock",
            "choices": choices,
            "usage": {
                "prompt_tokens": result.prompt_tokens,
                "completion_tokens": result.completion_tokens,
                "total_tokens": result.total_tokens,
            },
        }
        kind = fault.kind if fault else None
        if kind == "empty":
            payload = {"id": payload["id"], "object": "chat.completion", "choices": [],
                       "usage": payload["usage"]}
        elif kind == "absurd_usage":
            payload["usage"] = {"prompt_tokens": 10**15, "completion_tokens": 10**15,
                                "total_tokens": 2 * 10**15}
        data = json.dumps(payload).encode()
        if kind == "truncated":
            data = data[: len(data) // 2]
        elif kind == "garbage":
            data = b"<html><body>502 Bad Gateway</body></html>"
        self._raw(200, data, {})

    def _error(self, status: int, message: str, code: str, headers: dict | None = None) -> None:
        kind = "server_error" if status >= 500 else "invalid_request_error"
        kind = "rate_limit_error" if status == 429 else kind
        body = {"error": {"message": message, "type": kind, "param": None, "code": code}}
        self._raw(status, json.dumps(body).encode(), headers or {})

    def _json(self, status: int, obj) -> None:
        self._raw(status, json.dumps(obj).encode(), {})

    def _raw(self, status: int, data: bytes, headers: dict) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)


def _request(body, ignore_n: bool) -> ChatRequest:
    """Build a ChatRequest from an OpenAI request body, or raise _BadRequest naming the field."""
    if not isinstance(body, dict):
        raise _BadRequest("the body must be a JSON object")
    if body.get("stream"):
        raise _BadRequest("stream: streaming is not supported by this server")
    model, messages = body.get("model"), body.get("messages")
    if not isinstance(model, str) or not model:
        raise _BadRequest("model: a non-empty string is required")
    if not isinstance(messages, list) or not messages:
        raise _BadRequest("messages: a non-empty list is required")
    out = []
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or not isinstance(m.get("role"), str):
            raise _BadRequest(f"messages[{i}]: an object with a string role is required")
        content = m.get("content")
        if isinstance(content, list):  # content parts: keep the text ones
            content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
        if not isinstance(content, str):
            raise _BadRequest(f"messages[{i}].content: a string is required")
        out.append({**{k: v for k, v in m.items() if isinstance(v, str)}, "content": content})
    n = 1 if ignore_n else body.get("n") or 1
    temperature = body.get("temperature", 1.0)
    max_tokens = body.get("max_tokens") or body.get("max_completion_tokens") or 2048
    seed = body.get("seed")
    for name, value, ok in (
        ("n", n, isinstance(n, int) and 1 <= n <= 128),
        ("temperature", temperature, isinstance(temperature, (int, float)) and 0 <= temperature <= 2),
        ("max_tokens", max_tokens, isinstance(max_tokens, int) and max_tokens >= 1),
        ("seed", seed, seed is None or isinstance(seed, int)),
    ):
        if not ok or isinstance(value, bool):
            raise _BadRequest(f"{name}: {value!r} is out of range")
    return ChatRequest(model, tuple(out), n, float(temperature), max_tokens, seed)
