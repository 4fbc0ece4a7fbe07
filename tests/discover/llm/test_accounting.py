"""Accounting as a paid API bills: failed attempts count where the server reports their usage ("unknown"
where it does not), implausible usage is capped with a warning, and budgets stop on what was billed."""

from __future__ import annotations

import pytest

from discover.llm.accounting import Budget
from discover.llm.base import BudgetExhausted, LLMError
from discover.llm.offline.model import OfflineLLM
from discover.llm.server import MockServer
from discover.store import RunStore
from tests.conftest import run_cli
from tests.discover.cli import test_run as base
from tests.discover.llm import test_openai as http

PRICE, req = http.PRICE, http.req
config_file, make_client, server = base.config_file, http.make_client, http.server  # fixtures


def usage_of(i: int) -> tuple[int, int]:
    r = OfflineLLM(seed=0).complete(req(i))  # what the mock server reports for request i
    return r.prompt_tokens, r.completion_tokens


def test_a_failed_attempt_whose_usage_is_reported_is_counted(make_client, server):
    server.inject("empty")  # 200, no choices, but the usage of the work done
    llm = make_client()
    res = llm.complete(req(1))
    p, c = usage_of(1)
    assert (res.prompt_tokens, res.completion_tokens) == (2 * p, 2 * c)
    assert res.meta["failed_attempts"] == {"prompt_tokens": p, "completion_tokens": c, "usage_unknown": 0}
    assert res.cost_usd == pytest.approx(PRICE.cost(2 * p, 2 * c))
    assert llm.spent().total_tokens == 2 * (p + c)


@pytest.mark.parametrize("kind", ["truncated", "drop"])
def test_a_failed_attempt_without_usage_is_unknown(make_client, server, kind):
    server.inject(kind)
    res = make_client().complete(req(1))
    assert (res.prompt_tokens, res.completion_tokens) == usage_of(1)
    assert res.meta["failed_attempts"] == {"prompt_tokens": 0, "completion_tokens": 0, "usage_unknown": 1}


def test_a_call_that_fails_for_good_still_bills_and_the_budget_sees_it(make_client, server):
    p, c = usage_of(1)
    server.inject("empty", count=2)
    llm = make_client(max_retries=1, budget=Budget(max_tokens=2 * (p + c)))
    with pytest.raises(LLMError, match="no choices") as e:
        llm.complete(req(1))
    assert (e.value.prompt_tokens, e.value.completion_tokens) == (2 * p, 2 * c)
    assert e.value.cost_usd == pytest.approx(PRICE.cost(2 * p, 2 * c))
    assert llm.spent().calls == 0 and llm.spent().total_tokens == 2 * (p + c)
    with pytest.raises(BudgetExhausted):  # nothing succeeded, but the tokens were billed
        llm.complete(req(2))


def test_implausible_usage_is_capped(make_client, server):
    server.inject("absurd_usage")
    r = req(1)
    res = make_client().complete(r)
    prompt_bytes = sum(len(m["content"].encode()) for m in r.messages)
    assert res.prompt_tokens <= prompt_bytes + 32 * len(r.messages) + 256
    assert res.completion_tokens <= r.n * r.max_tokens
    (capped,) = res.meta["usage_capped"]
    assert capped["reported"] == [10**15, 10**15]
    assert capped["kept"] == [res.prompt_tokens, res.completion_tokens]


def test_a_run_stops_on_billed_tokens_and_warns_of_capped_usage(config_file, tmp_path):
    with MockServer(OfflineLLM(), model="m") as srv:
        srv.inject("absurd_usage")
        srv.inject("empty", count=1000)  # then nothing but billed failures
        rc, out, err = run_cli("run", "--config", str(config_file), "--llm", "openai", "--model", "m",
                               "--base-url", srv.url, "--set", "llm.api_key_env=''", "--quiet",
                               "--set", "llm.max_retries=0", "--set", "stopping.llm_error_streak=0",
                               "--set", "stopping.tokens=60000", "--set", "llm.concurrency=1",
                               "--run-dir", str(tmp_path / "r"))
    text = " ".join(out.split())
    assert rc == 0, err
    assert "the token budget is spent" in text
    assert "1 answer(s) reported implausible token usage" in text
    with RunStore.open(tmp_path / "r") as s:
        billed = s.scalar("SELECT SUM(prompt_tokens + completion_tokens) FROM llm_calls WHERE error != ''")
        tokens = s.get_state("counters")["tokens"]
        assert billed > 0 and tokens >= 60000
        assert tokens == s.scalar("SELECT SUM(prompt_tokens + completion_tokens) FROM llm_calls")
