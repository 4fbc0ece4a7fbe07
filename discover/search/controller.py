"""The discovery loop: build prompts from the population, send them, score the answers, commit in order.

Determinism despite concurrency: prompt ``k`` is built only once prompts ``0..k-W`` are committed
(``W`` = ``llm.concurrency``), finished prompts are committed strictly in prompt order, and every
random choice is drawn from the population's generator at those fixed points. Each build and each
commit is one store transaction that also saves the generator's state, so a killed run resumes
exactly: committed programs are replayed into the population and pending prompts are sent again.
"""

from __future__ import annotations

import queue
import time
from collections.abc import Callable
from concurrent.futures import Future
from contextlib import suppress
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from discover.config import Config
from discover.executors import ClusterLost, Evaluator, InfrastructureError
from discover.llm.base import LLM, ChatRequest, TranscriptWriteError
from discover.prompts import Parent, Templates, limits_text
from discover.search.cost import Assessment, CostMeter
from discover.search.fitness import Fitness, Score
from discover.search.ledger import COMPILE_NOTE, Ledger
from discover.search.operators import REGISTRY
from discover.search.pipeline import (
    Evaluations,
    InFlight,
    LLMOutcome,
    ThreadPool,
    request_from_dict,
    request_to_dict,
    run_request,
)
from discover.search.population import Population
from discover.search.stopping import RunState, stop_reason
from discover.store import PromptRow, RunStore, StoreError
from evaluator import pyparse, tasks


class RunError(RuntimeError):
    """The run cannot go on (e.g. a seed program fails); the message is one line."""


@dataclass(frozen=True)
class Progress:
    """A snapshot for the live view."""

    samples: int
    samples_budget: int
    valid: int
    best_gap: float | None
    best_id: int | None
    baseline_gap: float | None  # the task's live-view baseline (a seed: MDD for ΣT_j)
    tokens: int
    cost: float
    evals_per_s: float
    elapsed_s: float
    time_left_s: float | None
    controller_ms: float
    stop_reason: str | None
    best_cost: str = ""  # the best program's measured cost, in words
    over_budget: int = 0  # valid programs rejected for their cost
    baseline: str = "MDD"  # the baseline's name, as people write it
    task: str = "1||ΣT_j"  # the task's title: the objective the gaps are of


class Controller:
    """Run (or resume) the search of one run directory.

    Parameters
    ----------
    config
        The resolved run configuration.
    store
        The run's store (fresh, or holding a run to resume).
    llm
        An ``LLM`` (``complete(ChatRequest) -> ChatResult``, thread-safe); one whose
        ``waits_on_network`` is true is called concurrently, others one call at a time.
    sandbox
        An ``Evaluator``: ``submit(code, iset, entry=, timeout_s=, cascade=, seed=) -> Future[EvalResult]``.
    train
        The training set (already cut to ``evaluation.train_subset``).
    templates, seeds
        Prompt templates and the seed programs (name → code).
    extract
        ``extract_code(reply, entry)`` returning an object with ``code``, ``description``, ``reason``.
    cascade
        Passed to ``sandbox.submit`` (None: score the whole training set).
    barriers
        Sample counts at which an earlier session of the run ended on a budget and was resumed: a
        replay builds no prompt past one until everything before it is committed, as the resumed run
        did, so it asks the very same requests.
    reference
        The cost reference's code (``cost.reference``); None: costs are not measured.
    recorded_costs
        Code hash → recorded cost to reuse instead of timing (a replay of a run).
    compiled_reference
        The cost reference's numba twin (``evaluator.compiled_programs``), for compiled programs.
    """

    def __init__(self, config: Config, store: RunStore, llm: LLM, sandbox: Evaluator, train: Any,
                 templates: Templates, seeds: dict[str, str], extract: Callable,
                 cascade: Any = None,
                 on_progress: Callable[[Progress], None] | None = None,
                 barriers: tuple[int, ...] = (), reference: str | None = None,
                 recorded_costs: dict[str, dict] | None = None,
                 compiled_reference: str | None = None) -> None:
        self.cfg = config
        self.store = store
        self.llm = llm
        self.sandbox = sandbox
        self.train = train
        self.task = tasks.get(config.task)
        self.fitness = Fitness(train, self.task)
        self.templates = templates
        self.seeds = seeds
        self.extract = extract
        self.cascade = cascade
        self.on_progress = on_progress
        s = config.search
        self.pop = Population(s.islands, np.random.default_rng(config.seed), s.temperature_init,
                              s.temperature_period, pareto=s.objective == "pareto")
        self.ledger = Ledger(store, self.pop, s.reset_period, s.migration_period, s.objective, config.cost,
                             baseline=self.task.baseline)
        ev = config.evaluation
        self.meter = None if reference is None else CostMeter(
            sandbox, reference, config.cost, train, ev.entry, ev.timeout_s, recorded_costs, s.objective,
            compiled_reference, self.task)
        self.assessors = ThreadPool(2 * (ev.workers or 2) + 2, name="assess") if self.meter else None
        cc = config.cost
        probe_ns = tuple(int(p.n) for p, _ in self.meter.probes) if self.meter else ()
        self.limits = limits_text(ev.timeout_s, train.count, int(train.n), cc.budget_text(), cc.n,
                                  s.objective, probe_ns, self.task.test_ns,
                                  cc.probe_timeout_s / cc.probe_instances)
        w = np.array(s.operators.as_tuple(), dtype=float)
        self.op_probs = w / w.sum()
        self.window = config.llm.concurrency
        self.entry = config.evaluation.entry
        self.evaluations = Evaluations(self._submit, self.ledger.first)
        self.jobs: dict[int, InFlight] = {}
        self.events: queue.SimpleQueue = queue.SimpleQueue()
        self.next_build = self.next_commit = self.samples_built = 0
        self.barriers = tuple(sorted(b for b in barriers if 0 < b < config.stopping.samples))
        self.stop_reason: str | None = None
        self.budget_hit = False
        self.replay_miss = False
        self.pool: ThreadPool | None = None
        self.t0 = time.perf_counter()
        self.evals_done = 0
        self.cpu0 = time.thread_time()  # CPU time of the loop's thread: the controller's own cost
        self.handled = 0
        self.session_start = 0

    # --- public ------------------------------------------------------------------------------
    def run(self) -> str:
        """Seed or restore, then loop until a budget is spent; return the stop reason.

        On KeyboardInterrupt (or any failure) the work in flight is cancelled, the run is marked
        ``interrupted`` (or ``failed``) and the exception propagates.
        """
        self.t0 = time.perf_counter()
        if self.store.get_state("seeded"):
            self._restore()
        else:
            self._seed()
        self.store.set_state("status", "running")
        self.pool = ThreadPool(self.window)
        self.cpu0 = time.thread_time()
        try:
            self._loop()
        except BaseException as e:
            self._abort()
            self.stop_reason = "interrupted" if isinstance(e, KeyboardInterrupt) else "failed"
            error = "" if isinstance(e, KeyboardInterrupt) else f"{type(e).__name__}: {e}"
            with suppress(StoreError), self.store.transaction():  # memory may be ahead of the store
                committed = self.store.get_state("counters", {}).get("samples", 0)
                self.store.set_state("status", self.stop_reason)
                self.store.add_event(self.stop_reason, samples=committed, error=error)
            raise
        finally:
            self.pool.shutdown()
            if self.assessors is not None:
                self.assessors.shutdown()
        with self.store.transaction():
            self.store.set_state("status", "searched")
            self.store.add_event("stop", reason=self.stop_reason, samples=self.ledger.counters["samples"])
        self._progress()
        return self.stop_reason or "samples"

    def progress(self) -> Progress:
        """Return the current snapshot."""
        c = self.ledger.counters
        best = self.pop.best()
        elapsed = time.perf_counter() - self.t0
        wall = self.cfg.stopping.wall_clock_s
        left = None
        done_now = c["samples"] - self.session_start
        if done_now > 0:
            left = elapsed / done_now * max(0, self.cfg.stopping.samples - c["samples"])
        if wall:
            left = min(left if left is not None else wall, max(0.0, wall - elapsed))
        return Progress(
            samples=c["samples"], samples_budget=self.cfg.stopping.samples, valid=c["valid"],
            best_gap=best.gap if best else None, best_id=best.id if best else None,
            baseline_gap=self.ledger.baseline_gap, tokens=c["tokens"], cost=c["cost"],
            evals_per_s=self.evals_done / elapsed if elapsed else 0.0, elapsed_s=elapsed, time_left_s=left,
            controller_ms=1000 * (time.thread_time() - self.cpu0) / self.handled if self.handled else 0.0,
            stop_reason=self.stop_reason, best_cost=self._cost_words(best.id if best else None),
            over_budget=c.get("over_budget", 0), baseline=self.task.baseline.upper(), task=self.task.title)

    def _cost_words(self, pid: int | None) -> str:
        cost = self.ledger.costs.get(pid) if pid is not None else None
        if cost is None or cost.at_n is None:
            return "—"
        return cost.at_n.text(self.cfg.cost.reference)

    # --- start: seeds or restore ---------------------------------------------------------------
    def _seed(self) -> None:
        # Seeds are scored on the whole set: the cascade is for candidates, and a seed is the yardstick.
        futs = {name: self._submit(code, cascade=False) for name, code in self.seeds.items()}
        scores = {name: self._score(fut) for name, fut in futs.items()}
        for name, sc in scores.items():
            if not sc.ok:
                raise RunError(f"seed program {name!r} failed on the training set ({sc.status}): {sc.error}")
        scores = {name: self.ledger.budgeted(sc) for name, sc in scores.items()}
        if not any(sc.ok for sc in scores.values()):
            raise RunError(f"every seed program is over the cost budget ({self.cfg.cost.budget_text()}):"
                           f" {scores[next(iter(scores))].error}")
        self.ledger.seed(self.seeds, scores)
        self.store.add_event("start", seeds=sorted(self.seeds))

    def _restore(self) -> None:
        self.ledger.restore()
        self.session_start = self.ledger.counters["samples"]
        prompts = self.store.prompts()
        self.next_build = self.next_commit = prompts[-1].id + 1 if prompts else 0
        if prompts:
            self.samples_built = prompts[-1].request["first_sample"] + prompts[-1].request["n"]
        for p in self.store.prompts(pending_only=True):
            self.next_commit = min(self.next_commit, p.id)
            self.jobs[p.id] = InFlight(p.id, p.island, p.operator, p.parents, request_from_dict(p.request),
                                       p.request["first_sample"], bar=p.request.get("probe_bar"))
        self.store.add_event("resume", pending=len(self.jobs), samples=self.session_start)

    # --- the loop ------------------------------------------------------------------------------
    def _loop(self) -> None:
        for job in self.jobs.values():  # prompts restored as pending are sent again, unchanged
            self._send(job)
        last_progress = 0.0
        while True:
            self._fill()
            if self.next_commit >= self.next_build:
                break
            try:
                item = self.events.get(timeout=0.25)
            except queue.Empty:
                item = None
            while item is not None:
                if item[0] == "llm" and item[1] in self.jobs:
                    self._on_reply(self.jobs[item[1]])
                try:
                    item = self.events.get_nowait()
                except queue.Empty:
                    item = None
            while self.next_commit in self.jobs and self.jobs[self.next_commit].done():
                job = self.jobs.pop(self.next_commit)
                with self.store.transaction():  # the commit and the build it allows land together
                    self.ledger.commit(job, self._score)
                    self.next_commit += 1
                    self._fill()
                self._forget(job)
                self.handled += job.request.n
            t = time.perf_counter()
            if self.on_progress is not None and t - last_progress > 0.1:
                last_progress = t
                self._progress()

    def _progress(self) -> None:
        if self.on_progress is not None:
            self.on_progress(self.progress())

    def _stop_check(self) -> str | None:
        run = RunState(self.samples_built, self.ledger.counters, time.perf_counter() - self.t0,
                       self.budget_hit, self.replay_miss)
        return stop_reason(self.cfg.stopping, run)

    def _limit(self) -> int:
        """Return the sample count the next prompt may reach: the next session boundary, else the budget."""
        return next((b for b in self.barriers if b > self.samples_built), self.cfg.stopping.samples)

    def _fill(self) -> None:
        while self.stop_reason is None and self.next_build < self.next_commit + self.window:
            if self.samples_built in self.barriers and self.next_commit < self.next_build:
                return  # a session ended here: wait until all of it is committed
            self.stop_reason = self._stop_check()
            if self.stop_reason is None:
                self._build()

    def _build(self) -> None:
        k, rng = self.next_build, self.pop.rng
        operator = REGISTRY[int(rng.choice(len(REGISTRY), p=self.op_probs))]
        op = operator.name
        island = self.pop.choose_island()
        parents = self.pop.sample(island, operator.parents, upto=k - self.window)
        bar = self.pop.best_gap(island, upto=k - self.window)  # a child beating it is probed at larger n
        seed = int(rng.integers(2**31))
        shown = [Parent(m.id, self.ledger.code[m.id], m.gap, self.ledger.note(m.id)) for m in parents]
        with pyparse.LOCK:
            messages = self.templates.messages(op, shown, self.entry, self.train.n, self.limits,
                                               self.ledger.failures(island, k - self.window), self.task)
        lc = self.cfg.llm
        n = min(lc.samples_per_prompt, self._limit() - self.samples_built)
        request = ChatRequest(model=lc.model or lc.kind, messages=messages, n=n, temperature=lc.temperature,
                              max_tokens=lc.max_tokens, seed=seed)
        job = InFlight(k, island, op, tuple(m.id for m in parents), request, self.samples_built, bar=bar)
        row = PromptRow(k, island, op, job.parents, request_to_dict(request, self.samples_built) |
                        {"probe_bar": bar}, job.key)
        with self.store.transaction():
            self.store.add_prompt(row)
            self.ledger.save_state()
        self.samples_built += n
        self.next_build += 1
        self.jobs[k] = job
        self._send(job)

    def _send(self, job: InFlight) -> None:
        serial = not getattr(self.llm, "waits_on_network", False)  # see LLM
        fut = self.pool.submit(lambda: run_request(self.llm, job.request, self.entry, self.extract,
                                                   self.evaluations, serial, job.bar))
        job.llm_future = fut
        fut.add_done_callback(lambda _f, k=job.prompt: self.events.put(("llm", k)))

    def _on_reply(self, job: InFlight) -> None:
        try:
            job.outcome = job.llm_future.result()
        except TranscriptWriteError as e:
            raise RunError(f"{e}; the run stops (it could not be replayed)") from None
        except BaseException as e:  # noqa: BLE001 - run_request catches everything; belt and braces
            job.outcome = LLMOutcome(None, f"LLM stage failure: {e}", False, (), 0.0)
        if job.outcome.budget_exhausted:
            self.budget_hit = True
        if job.outcome.diverged:
            self.replay_miss = True  # the run left its transcript: what follows cannot match either
        for fut in job.outcome.evals.values():
            fut.add_done_callback(lambda _f, k=job.prompt: self.events.put(("eval", k)))

    def _forget(self, job: InFlight) -> None:
        self.evaluations.forget([c.hash for c in job.outcome.candidates if c.hash], job.bar)

    def _submit(self, code: str, bar: float | None = None, cascade: bool = True) -> Future:
        meter, limit = self.meter, self.cfg.evaluation.timeout_s
        chosen = self.cascade if cascade else None
        if meter is not None:  # training set, then cost (on an assessor thread: it waits on the sandbox)
            fut = self.assessors.submit(
                lambda: meter.assess(code, self.train, self.fitness, chosen, bar))
        else:
            with pyparse.LOCK:
                fut = self.sandbox.submit(code, self.train, entry=self.entry, timeout_s=limit,
                                          cascade=chosen, seed=0, task=self.task)
        fut.add_done_callback(self._count_eval)
        return fut

    def _count_eval(self, _fut: Future) -> None:
        self.evals_done += 1

    def _score(self, fut: Future) -> Score:
        try:
            r = fut.result()
        except ClusterLost as e:
            raise RunError(f"{e}; the run stops: continue it with"
                           f" `discover resume {self.store.run_dir}`") from None
        except InfrastructureError as e:  # the cluster lost it: recorded, never blamed on the candidate
            return self.fitness.score("infrastructure", str(e), np.zeros(0, np.int64), 0.0)
        except Exception as e:  # noqa: BLE001 - a sandbox failure is the candidate's error
            return self.fitness.score("error", f"sandbox failure: {type(e).__name__}: {e}",
                                      np.zeros(0, np.int64), 0.0)
        cost = None
        if isinstance(r, Assessment):
            r, cost = r.train, r.cost
        sc = self.fitness.score(r.status, r.error, r.tardiness, float(np.sum(r.seconds)),
                                bool(getattr(r, "cut_short", False)))
        if not sc.ok:
            return sc
        failed = getattr(r, "compile_error", "")  # ran, but as Python: the next prompt says why
        return replace(sc, cost=cost, error=f"{COMPILE_NOTE}{failed}" if failed else "")

    def _abort(self) -> None:
        for job in self.jobs.values():
            if job.llm_future is not None:
                job.llm_future.cancel()
        self.evaluations.cancel()
        self.jobs.clear()
