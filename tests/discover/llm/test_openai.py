"""The real `openai` client against the in-process mock server: recording, replay, faults, budgets."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import openai
import pytest

from discover.llm.accounting import Budget, Price
from discover.llm.base import BudgetExhausted, ChatRequest, LLMError
from discover.llm.offline.model import OfflineLLM
from discover.llm.openai_client import OpenAILLM, OpenAISettings
from discover.llm.recording import RecordingLLM
from discover.llm.replay import ReplayLLM, read_transcript, transcript_totals
from discover.llm.server import MockServer

SECRET = "sk-test-0123456789abcdef"
KEY_ENV = "DISCOVER_TEST_LLM_KEY"
MODEL = "test-model"
PRICE = Price(input_per_mtok=2.0, output_per_mtok=8.0)
PARENT = "def schedule(p, d):\n    return sorted(range(len(p)), key=lambda j: d[j])\n"


def req(i: int, n: int = 2) -> ChatRequest:
    text = f"Parent {i}:\n```python\n{PARENT}```\nWrite an improved `def schedule(p, d)`. Σ ü ✓"
    return ChatRequest(MODEL, ({"role": "user", "content": text},), n=n, temperature=0.8, seed=i)


@pytest.fixture
def server():
    with MockServer(OfflineLLM(seed=0)) as srv:
        yield srv


@pytest.fixture
def make_client(monkeypatch, server):
    monkeypatch.setenv(KEY_ENV, SECRET)
    made = []

    def make(**overrides) -> OpenAILLM:
        settings = {
            "base_url": server.url, "api_key_env": KEY_ENV, "timeout_s": 5.0, "max_retries": 3,
            "backoff_base_s": 0.005, "backoff_max_s": 0.02, "prices": {MODEL: PRICE}, **overrides,
        }
        made.append(OpenAILLM(OpenAISettings(**settings)))
        return made[-1]

    yield make
    for llm in made:
        llm.close()


def test_end_to_end_recorded_then_replayed_byte_for_byte(make_client, server, tmp_path) -> None:
    path = tmp_path / "transcript.jsonl"
    llm = RecordingLLM(make_client(max_concurrency=3), path)
    with ThreadPoolExecutor(3) as pool:
        results = list(pool.map(llm.complete, [req(i) for i in range(6)]))
    direct = [OfflineLLM(seed=0).complete(req(i)) for i in range(6)]
    assert [r.completions for r in results] == [d.completions for d in direct]  # HTTP changes no byte
    assert [r.prompt_tokens for r in results] == [d.prompt_tokens for d in direct]

    text = path.read_text(encoding="utf-8")
    assert SECRET not in text and len(text.splitlines()) == 6
    records = read_transcript(path)
    assert {r["request_hash"] for r in records} == {req(i).key(0) for i in range(6)}
    for r in records:
        assert r["sample_hashes"] == [req(r["params"]["seed"]).key(k) for k in range(2)]

    replay = ReplayLLM(path)
    for i, original in enumerate(results):
        again = replay.complete(req(i))
        assert [c.encode() for c in again.completions] == [c.encode() for c in original.completions]
        assert (again.prompt_tokens, again.completion_tokens, again.cost_usd, again.latency_s) == (
            original.prompt_tokens, original.completion_tokens, original.cost_usd, original.latency_s)

    with MockServer(ReplayLLM(path)) as replay_server:  # and over HTTP again, from the transcript
        again = make_client(base_url=replay_server.url).complete(req(4))
    assert again.completions == results[4].completions


def test_429_then_success_is_retried_and_counted_once(make_client, server, tmp_path) -> None:
    llm = RecordingLLM(make_client(), tmp_path / "t.jsonl")
    server.inject("429")
    result = llm.complete(req(1))
    assert result.meta["attempts"] == 2 and len(result.completions) == 2
    assert server.stats()["requests"] == 2
    assert llm.inner.spent().calls == 1
    assert transcript_totals(tmp_path / "t.jsonl").calls == 1


def test_retry_after_header_is_honoured(make_client, server) -> None:
    server.inject("429", retry_after=0.3)
    t0 = time.perf_counter()
    make_client(backoff_max_s=1.0).complete(req(1))
    assert time.perf_counter() - t0 >= 0.3


def test_repeated_500_fails_cleanly_after_the_bound_then_the_run_goes_on(make_client, server, tmp_path):
    llm = RecordingLLM(make_client(max_retries=2), tmp_path / "t.jsonl")
    server.inject("500", count=10)
    with pytest.raises(LLMError, match=r"gave up after 3 attempts .*HTTP 500"):
        llm.complete(req(1))
    assert server.stats()["requests"] == 3
    assert llm.inner.spent().calls == 0
    server.clear_faults()
    assert len(llm.complete(req(2)).completions) == 2  # the next call works
    lines = read_transcript(tmp_path / "t.jsonl")
    assert [r["status"] for r in lines] == ["error", "ok"] and "HTTP 500" in lines[0]["error"]


def test_client_errors_are_not_retried(make_client, server) -> None:
    server.inject("400")
    with pytest.raises(LLMError, match="HTTP 400"):
        make_client().complete(req(1))
    assert server.stats()["requests"] == 1


def test_timeout_fails_then_a_retry_succeeds(make_client, server) -> None:
    server.inject("slow", delay_s=1.0)
    t0 = time.perf_counter()
    with pytest.raises(LLMError, match=r"timed out after 0.2 s"):
        make_client(timeout_s=0.2, max_retries=0).complete(req(1))
    assert time.perf_counter() - t0 < 0.9
    server.inject("slow", delay_s=1.0)
    result = make_client(timeout_s=0.2, max_retries=1).complete(req(1))
    assert result.meta["attempts"] == 2


@pytest.mark.parametrize("kind", ["truncated", "garbage", "empty", "drop"])
def test_malformed_answers_are_retried(make_client, server, kind: str) -> None:
    server.inject(kind)
    result = make_client().complete(req(1))
    assert result.meta["attempts"] == 2 and result.completions == OfflineLLM().complete(req(1)).completions


@pytest.mark.parametrize(("kind", "message"), [("truncated", "malformed JSON"), ("empty", "no choices")])
def test_persistent_malformed_answers_fail_cleanly(make_client, server, kind: str, message: str) -> None:
    server.inject(kind, count=5)
    with pytest.raises(LLMError, match=message):
        make_client(max_retries=1).complete(req(1))


def test_call_budget_stops_at_the_exact_limit_even_under_concurrency(make_client, server) -> None:
    llm = make_client(budget=Budget(max_calls=5), max_concurrency=4)
    outcomes = []

    def call(i: int) -> None:
        try:
            llm.complete(req(i))
            outcomes.append("ok")
        except BudgetExhausted:
            outcomes.append("refused")

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(call, range(9)))
    assert sorted(outcomes) == ["ok"] * 5 + ["refused"] * 4
    assert server.stats()["requests"] == 5 and llm.spent().calls == 5


def test_token_budget_stops_at_the_exact_limit(make_client, server) -> None:
    usage = [OfflineLLM().complete(req(i)).total_tokens for i in range(4)]
    llm = make_client(budget=Budget(max_tokens=usage[0] + usage[1]))
    llm.complete(req(0))
    llm.complete(req(1))
    with pytest.raises(BudgetExhausted, match=f"{usage[0] + usage[1]} tokens of {usage[0] + usage[1]}"):
        llm.complete(req(2))
    llm = make_client(budget=Budget(max_tokens=usage[0] + usage[1] + 1))
    for i in range(3):  # one token left: the third call may start, and crosses the limit
        llm.complete(req(i))
    with pytest.raises(BudgetExhausted):
        llm.complete(req(3))
    assert server.stats()["requests"] == 5


def test_dollar_budget_stops_at_the_exact_limit(make_client, server) -> None:
    first = OfflineLLM().complete(req(0))
    cost = PRICE.cost(first.prompt_tokens, first.completion_tokens)
    llm = make_client(budget=Budget(max_usd=cost))
    assert llm.complete(req(0)).cost_usd == pytest.approx(cost)
    with pytest.raises(BudgetExhausted, match="allowed"):
        llm.complete(req(1))
    with pytest.raises(LLMError, match="has no price"):
        make_client(budget=Budget(max_usd=1.0), prices={}).complete(req(0))


def test_transcript_totals_equal_the_sum_of_per_call_usage(make_client, server, tmp_path) -> None:
    path = tmp_path / "t.jsonl"
    llm = RecordingLLM(make_client(max_retries=0), path)
    results = [llm.complete(req(i, n=1 + i % 3)) for i in range(5)]
    server.inject("503")
    with pytest.raises(LLMError):
        llm.complete(req(9))
    totals = transcript_totals(path)
    spent = llm.inner.spent()
    assert (totals.calls, totals.failed) == (5, 1)
    assert totals.prompt_tokens == sum(r.prompt_tokens for r in results) == spent.prompt_tokens
    assert totals.completion_tokens == sum(r.completion_tokens for r in results) == spent.completion_tokens
    expected = sum(PRICE.cost(r.prompt_tokens, r.completion_tokens) for r in results)
    assert totals.cost_usd == pytest.approx(expected) and spent.cost_usd == pytest.approx(expected)
    assert expected > 0


def test_a_server_that_ignores_n_is_asked_n_times(monkeypatch) -> None:
    monkeypatch.setenv(KEY_ENV, SECRET)
    with MockServer(OfflineLLM(), ignore_n=True) as srv:
        llm = OpenAILLM(OpenAISettings(base_url=srv.url, api_key_env=KEY_ENV, prices={MODEL: PRICE}))
        result = llm.complete(req(1, n=3))
        llm.close()
        assert len(result.completions) == 3 and len(set(result.completions)) == 3
        assert result.meta["requests"] == 3 and srv.stats()["requests"] == 3
        assert result.total_tokens == llm.spent().total_tokens > 0


def test_concurrency_is_capped(make_client, server) -> None:
    server.inject("slow", count=6, delay_s=0.15)
    llm = make_client(max_concurrency=2)
    with ThreadPoolExecutor(6) as pool:
        list(pool.map(llm.complete, [req(i) for i in range(6)]))
    assert server.stats()["max_in_flight"] == 2


def test_the_key_comes_from_the_named_variable_only(monkeypatch, server) -> None:
    monkeypatch.delenv(KEY_ENV, raising=False)
    with pytest.raises(ValueError, match=f"environment variable {KEY_ENV}"):
        OpenAILLM(OpenAISettings(base_url=server.url, api_key_env=KEY_ENV))
    monkeypatch.setenv(KEY_ENV, SECRET)
    llm = OpenAILLM(OpenAISettings(base_url=server.url, api_key_env=KEY_ENV))
    assert SECRET not in repr(llm.settings) and SECRET not in repr(vars(llm).get("settings"))
    llm.close()


def test_models_endpoint_and_http_fault_control(server) -> None:
    client = openai.OpenAI(base_url=server.url, api_key="unused", max_retries=0)
    assert [m.id for m in client.models.list()] == ["offline"]
    base = server.url.removesuffix("/v1")
    body = json.dumps({"faults": [{"kind": "503", "count": 2}, {"kind": "slow", "delay_s": 0.01}]}).encode()
    post = urllib.request.Request(f"{base}/_faults", data=body, headers={"Content-Type": "application/json"})
    assert json.loads(urllib.request.urlopen(post).read()) == {"queued": 3}
    with pytest.raises(openai.InternalServerError):
        client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
    stats = json.loads(urllib.request.urlopen(f"{base}/_stats").read())
    assert stats["faults_served"] == {"503": 1}
    assert [f["kind"] for f in stats["pending_faults"]] == ["503", "slow"]
    urllib.request.urlopen(urllib.request.Request(f"{base}/_faults", method="DELETE")).read()
    assert server.stats()["pending_faults"] == []
    with pytest.raises(urllib.error.HTTPError) as bad:
        urllib.request.urlopen(urllib.request.Request(f"{base}/v1/chat/completions", data=b"{not json"))
    assert bad.value.code == 400 and "bad request" in json.loads(bad.value.read())["error"]["message"]
    with pytest.raises(ValueError, match="fault kind 'boom'"):
        server.inject("boom")
    client.close()


def test_close_cuts_a_backoff_short(make_client, server) -> None:
    llm = make_client(backoff_base_s=30.0, backoff_max_s=30.0, max_retries=1)
    server.inject("500", count=2)
    errors = []
    worker = threading.Thread(target=lambda: errors.append(pytest.raises(LLMError, llm.complete, req(1))))
    t0 = time.perf_counter()
    worker.start()
    time.sleep(0.2)
    llm.close()
    worker.join(5)
    assert not worker.is_alive() and time.perf_counter() - t0 < 5
