"""The committed side of the loop: discover.search.ledger against a real run store, and its restore."""

from __future__ import annotations

from concurrent.futures import Future

import numpy as np
import pytest

from discover.llm.base import ChatRequest, ChatResult
from discover.programs.normalize import code_hash
from discover.search.fitness import Score
from discover.search.ledger import Ledger, failure_line
from discover.search.pipeline import Candidate, InFlight, LLMOutcome
from discover.search.population import Population
from discover.store import PromptRow, RunStore

SEEDS = {"edd": "def schedule(p, d):\n    return sorted(range(len(p)), key=lambda j: d[j])\n",
         "mdd": "def schedule(p, d):\n    return list(range(len(p)))\n"}
NEW = "def schedule(p, d):\n    return sorted(range(len(p)), key=lambda j: p[j])\n"


def score(gap: float, sig: str = "s") -> Score:
    return Score("ok", "", gap, {"rdd=0.2,tf=0.2": gap}, sig, np.array([3, 1], np.int64), 0.01)


def make(tmp_path, islands: int = 2, **kw) -> tuple[RunStore, Ledger]:
    store = RunStore.create(tmp_path / "run", "seed = 1\n")
    ledger = Ledger(store, Population(islands, np.random.default_rng(0)), **kw)
    ledger.seed(SEEDS, {"edd": score(10.0, "e"), "mdd": score(5.0, "m")})
    return store, ledger


def done(value: Score) -> Future:
    fut: Future = Future()
    fut.set_result(value)
    return fut


def prompt(store: RunStore, k: int, cands: tuple[Candidate, ...], n: int, evals=None, first: int = 0,
           error: str = "") -> InFlight:
    request = ChatRequest("m", ({"role": "user", "content": f"prompt {k}"},), n=n, seed=k)
    store.add_prompt(PromptRow(k, 0, "m1", (2,), request.to_dict() | {"first_sample": first}, request.key(0)))
    result = None if error else ChatResult(tuple("reply" for _ in cands), "m", 10, 20)
    job = InFlight(k, 0, "m1", (2,), request, first)
    job.outcome = LLMOutcome(result, error, False, cands, 0.5, evals or {})
    return job


def test_seeds_go_on_every_island_and_the_baseline_gap_is_kept(tmp_path):
    store, ledger = make(tmp_path, islands=3)
    rows = store.programs()
    assert [(r.island, r.operator, r.description) for r in rows] == [
        (i, "seed", name) for name in SEEDS for i in range(3)]
    assert store.get_state("seed_names") == {"edd": 1, "mdd": 4}  # the first copy of each
    assert ledger.baseline_gap == 5.0 and ledger.pop.best().gap == 5.0  # mdd: the ΣT_j baseline
    assert ledger.first == {code_hash(c): pid for c, pid in zip(SEEDS.values(), (1, 4), strict=True)}


def test_commit_records_every_sample_in_order_with_its_reason(tmp_path):
    store, ledger = make(tmp_path)
    cands = (Candidate(0, None, "idea", "no fenced code", None),
             Candidate(1, SEEDS["edd"], "again", None, code_hash(SEEDS["edd"])),
             Candidate(2, NEW, "spt", None, code_hash(NEW)))
    job = prompt(store, 0, cands, n=4, evals={2: done(score(1.5, "n"))})
    ledger.commit(job, lambda fut: fut.result())
    rows = store.programs("sample IS NOT NULL")
    assert [(r.sample, r.status, r.error) for r in rows] == [
        (0, "no_code", "no fenced code"), (1, "duplicate", "same program as #1"), (2, "ok", ""),
        (3, "no_reply", "the LLM returned fewer completions than asked")]
    c = ledger.counters
    assert (c["samples"], c["valid"], c["invalid_streak"], c["best_sample"], c["tokens"]) == (4, 1, 1, 3, 30)
    assert ledger.pop.best().id == rows[2].id and ledger.code[rows[2].id] == NEW
    assert store.prompts(pending_only=True) == []
    assert ledger.failures(0, 0) == ("no_code: no fenced code",)
    assert ledger.failures(0, -1) == ()  # a prompt built before this commit does not see it


def test_a_failed_call_counts_a_streak_and_restore_rebuilds_everything(tmp_path):
    store, ledger = make(tmp_path, reset_period=0)
    ledger.commit(prompt(store, 0, (), n=2, error="LLM error: 503"), lambda fut: fut.result())
    assert (ledger.counters["llm_errors"], ledger.counters["llm_error_streak"]) == (1, 1)
    cands = (Candidate(0, NEW, "spt", None, code_hash(NEW)),)
    ledger.commit(prompt(store, 1, cands, n=1, evals={0: done(score(2.0, "n"))}, first=2),
                  lambda fut: fut.result())
    assert ledger.counters["llm_error_streak"] == 0
    again = Ledger(store, Population(2, np.random.default_rng(99)))
    again.restore()
    assert again.counters == ledger.counters and again.first == ledger.first and again.code == ledger.code
    assert again.next_pid == ledger.next_pid and again.baseline_gap == ledger.baseline_gap
    assert [m.id for m in again.pop.members(0)] == [m.id for m in ledger.pop.members(0)]
    assert again.pop.rng_state() == ledger.pop.rng_state()  # the generator is restored, not reseeded


def test_resets_copy_a_founder_and_the_copy_keeps_its_scores(tmp_path):
    store, ledger = make(tmp_path, reset_period=1)
    cands = (Candidate(0, NEW, "spt", None, code_hash(NEW)),)
    ledger.commit(prompt(store, 0, cands, n=1, evals={0: done(score(1.0, "n"))}), lambda fut: fut.result())
    copies = store.programs("operator = 'reset'")
    assert copies and all(r.is_copy and r.parents for r in copies)
    for r in copies:
        src = store.program(r.parents[0])
        assert (r.gap, r.signature, r.code, r.tardiness.tolist()) == (src.gap, src.signature, src.code,
                                                                      src.tardiness.tolist())
    assert ledger.counters["resets"] == 1


@pytest.mark.parametrize("status, error, line", [
    ("timeout", "instance 17 (n=25): CPU time limit of 10 s exceeded", "timeout: exceeded the time limit"
                                                                       " (CPU-time limit)"),
    ("error", "Traceback (most recent call last):\n  File x\nZeroDivisionError: division by zero",
     "error: ZeroDivisionError: division by zero"),
    ("invalid_output", "instance 3: not a permutation of `range(n)`", "invalid_output: not a permutation of"
                                                                      " 'range(n)'"),
    ("refused", "", "refused: refused"),
])
def test_failure_lines_drop_what_differs_between_identical_runs(status, error, line):
    assert failure_line(status, error) == line
