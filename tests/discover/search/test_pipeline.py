"""The in-flight side of the loop: discover.search.pipeline's requests, candidates and shared evaluations."""

from __future__ import annotations

import threading
from concurrent.futures import Future

import pytest

from discover.llm.base import BudgetExhausted, ChatRequest, LLMError
from discover.llm.offline.model import OfflineLLM
from discover.llm.replay import ReplayMiss
from discover.programs.extract import extract_code
from discover.programs.normalize import code_hash
from discover.prompts import Parent, load_templates, seed_programs
from discover.search.pipeline import (
    Candidate,
    Evaluations,
    InFlight,
    LLMOutcome,
    ThreadPool,
    make_candidate,
    request_from_dict,
    request_to_dict,
    run_request,
)


def offline_request(n: int = 3, seed: int = 4) -> ChatRequest:
    seeds = seed_programs()
    messages = load_templates().messages("m1", [Parent(1, seeds["mdd"], 2.0)])
    return ChatRequest("offline", messages, n=n, seed=seed)


def test_a_request_survives_its_stored_form_with_the_same_key():
    request = offline_request()
    stored = request_to_dict(request, first_sample=12)
    assert stored["first_sample"] == 12
    again = request_from_dict(stored)
    assert again == request and again.key(0) == request.key(0) and again.key(1) != request.key(0)


def test_run_request_extracts_each_completion_and_submits_each_program_once():
    submitted = []

    def submit(code: str, bar: float | None) -> Future:
        submitted.append((code, bar))
        fut: Future = Future()
        fut.set_result(len(submitted))
        return fut

    evaluations = Evaluations(submit, committed={})
    out = run_request(OfflineLLM(seed=3, broken_rate=0.0, think_rate=0.0), offline_request(n=4), "schedule",
                      extract_code, evaluations, bar=1.5)
    assert out.error == "" and not out.diverged and len(out.candidates) == 4
    programs = {c.hash: c for c in out.candidates if c.code is not None}
    assert programs and all(c.hash == code_hash(c.code) for c in programs.values())
    assert len(submitted) == len(programs) == evaluations.submitted  # identical replies share one run
    assert all(bar == 1.5 for _code, bar in submitted)
    assert set(out.evals) == {c.index for c in out.candidates if c.code is not None}


def test_shared_evaluations_skip_committed_programs_and_split_on_the_probe_bar():
    calls = []
    committed = {"h-old": 7}
    ev = Evaluations(lambda code, bar: calls.append((code, bar)) or Future(), committed)
    new = Candidate(0, "code", "", None, "h-new")
    assert ev.get(Candidate(0, "old", "", None, "h-old")) is None  # committed already
    assert ev.get(Candidate(0, None, "", "no code", None)) is None
    first = ev.get(new, bar=1.0)
    assert ev.get(new, bar=1.0) is first and ev.get(new, bar=2.0) is not first
    ev.forget(["h-new"], bar=1.0)
    assert ev.get(new, bar=1.0) is not first and len(calls) == 3


def test_a_failing_submit_becomes_the_candidates_error():
    def submit(code, bar):
        raise RuntimeError("sandbox closed")

    fut = Evaluations(submit, {}).get(Candidate(0, "x", "", None, "h"))
    with pytest.raises(RuntimeError, match="sandbox closed"):
        fut.result()


class Failing:
    """A backend that raises the given exception (the failures a real one can end in)."""

    def __init__(self, error: BaseException) -> None:
        self.error = error

    def complete(self, request):
        raise self.error


@pytest.mark.parametrize("error, text, budget, diverged", [
    (LLMError("HTTP 503"), "LLM error: HTTP 503", False, False),
    (BudgetExhausted("tokens spent"), "budget exhausted: tokens spent", True, False),
    (ReplayMiss("replay miss: abc"), "LLM error: replay miss: abc", False, True),
    (ValueError("bad json"), "LLM backend failure: ValueError: bad json", False, False),
])
def test_backend_failures_become_outcomes_and_only_a_replay_miss_diverges(error, text, budget, diverged):
    out = run_request(Failing(error), offline_request(), "schedule", extract_code)
    assert (out.error, out.budget_exhausted, out.diverged, out.candidates) == (text, budget, diverged, ())


def test_a_billed_failure_carries_its_usage():
    err = LLMError("timeout")
    err.prompt_tokens, err.completion_tokens, err.cost_usd, err.usage_unknown = 5, 7, 0.25, 2
    out = run_request(Failing(err), offline_request(), "schedule", extract_code)
    assert out.billed == (5, 7, 0.25) and out.usage_unknown == 2


def test_make_candidate_names_the_reason_when_there_is_no_program():
    c = make_candidate(2, "I would sort by due date.", "schedule", extract_code)
    assert (c.index, c.code, c.hash) == (2, None, None) and c.reason
    reply = "```python\ndef schedule(p, d):\n    return list(range(len(p)))\n```"
    good = make_candidate(0, reply, "schedule", extract_code)
    assert good.reason is None and good.hash == code_hash(good.code)


def test_thread_pool_hands_results_and_exceptions_through_futures():
    pool = ThreadPool(2, name="t")
    try:
        names = [pool.submit(lambda: threading.current_thread().name) for _ in range(4)]
        boom = pool.submit(lambda: 1 / 0)
        assert all(f.result(timeout=10).startswith("t-") for f in names)
        with pytest.raises(ZeroDivisionError):
            boom.result(timeout=10)
    finally:
        pool.shutdown()


def test_an_in_flight_prompt_is_done_once_its_reply_and_every_evaluation_are():
    job = InFlight(0, 0, "m1", (1,), offline_request(n=1), 0)
    assert job.key == job.request.key(0) and not job.done()
    pending: Future = Future()
    job.outcome = LLMOutcome(None, "", False, (), 0.0, {0: pending})
    assert not job.done()
    pending.set_result(None)
    assert job.done()
