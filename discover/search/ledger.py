"""The committed side of a run: the population and the store, kept in step one transaction at a time.

Everything the population holds can be rebuilt from the programs table read in id order (a
``reset`` row empties its island before joining it), so resume needs no snapshot of the islands:
only the generator's state and a few counters, saved with every transaction.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import replace
from typing import Any

from discover.config import CostConfig
from discover.programs.normalize import code_hash
from discover.search.cost import Cost, over_budget
from discover.search.fitness import Score
from discover.search.operators import COPY_OPERATORS
from discover.search.pipeline import Candidate, InFlight
from discover.search.population import Member, Population
from discover.store import ProgramRow, RunStore

FAILURES = ("timeout", "memory", "error", "invalid_output", "refused", "over_budget", "cut_short", "no_code")
"""Statuses shown to the model as the island's last failures."""
FAILURES_SHOWN = 3
COMPILE_NOTE = "numba could not compile it, so it ran as Python: "
"""How a valid program's error begins when its numba code fell back to Python (shown as a failure)."""
COUNTERS = dict(samples=0, valid=0, tokens=0, cost=0.0, best_sample=0, invalid_streak=0, resets=0,
                migrations=0, llm_errors=0, llm_error_streak=0, usage_unknown=0, usage_capped=0,
                over_budget=0)


def _fail(status: str, error: str) -> Score:
    """Return the (empty) scores of a candidate that was never evaluated."""
    return Score(status, error, None, None, None, None, None)  # type: ignore[arg-type]


class Ledger:
    """Commit finished work to the store and the population; restore both on resume.

    Parameters
    ----------
    store, population
        The run's store and its population (whose generator is the run's only randomness).
    reset_period, migration_period
        Samples between resets of the weaker half and between ring migrations (0 = never).
    objective, cost
        The search objective and the cost settings: under ``budget`` a valid program over the budget
        is committed with status ``over_budget`` (its gap and cost kept) and joins no island.
    baseline
        The seed whose gap the live view shows (the task's ``baseline``: ``mdd`` for ΣT_j).
    """

    def __init__(self, store: RunStore, population: Population, reset_period: int = 0,
                 migration_period: int = 0, objective: str = "gap", cost: CostConfig | None = None,
                 baseline: str = "mdd") -> None:
        self.baseline = baseline
        self.store = store
        self.objective = objective
        self.cost_cfg = cost or CostConfig()
        self.pop = population
        self.reset_period = reset_period
        self.migration_period = migration_period
        self.counters = dict(COUNTERS)
        self.code: dict[int, str] = {}  # code of every program in the population
        self.first: dict[str, int] = {}  # normalised hash → first program with that code
        self.next_pid = 1
        self.baseline_gap: float | None = None
        self.costs: dict[int, Cost] = {}  # measured cost of every program in the population
        self.fails: dict[int, list[tuple[int, str]]] = {}  # island → (prompt, one line) of its failures

    def budgeted(self, sc: Score) -> Score:
        """Return the score, turned ``over_budget`` when the budget objective rejects its cost."""
        why = over_budget(sc.cost, self.cost_cfg) if sc.ok and self.objective == "budget" else None
        if why is None:
            return sc
        self.counters["over_budget"] += 1
        return replace(sc, status="over_budget", error=why)

    # --- what prompts show -----------------------------------------------------------------------
    def note(self, pid: int) -> str:
        """Return the ``; ...`` clauses a prompt adds after a parent's gap: cost and scale-probe gaps.

        The measured cost is shown under the ``gap`` and ``pareto`` objectives; under ``budget`` every
        parent is within the budget the system prompt states, and its exact time is left out so that
        prompts (and so fresh runs with the same seed) do not depend on the machine's speed.
        """
        cost = self.costs.get(pid)
        if cost is None:
            return ""
        out = ""
        if self.objective != "budget" and cost.at_n is not None:
            out += f"; cost {cost.at_n.text(self.cost_cfg.reference)}"
        probes = [f"{v['gap']:.3f} % at n = {v['n']}" for v in cost.probe.values()
                  if v.get("gap") is not None]
        if probes:
            out += "; gap " + ", ".join(probes)
        return out

    def failures(self, island: int, up_to_prompt: int) -> tuple[str, ...]:
        """Return the island's last failures (status: one-line reason) from prompts ``<= up_to_prompt``.

        A prompt is built once the prompts ``concurrency`` before it are committed; the bound keeps what
        it shows the same whether later prompts happen to be committed already (e.g. after a resume).
        """
        lines = [text for prompt, text in self.fails.get(island, ()) if prompt <= up_to_prompt]
        return tuple(lines[-FAILURES_SHOWN:])

    def _failed(self, island: int, prompt: int | None, status: str, error: str) -> None:
        if prompt is None:
            return
        if status in FAILURES:
            self.fails.setdefault(island, []).append((prompt, failure_line(status, error)))
        elif status == "ok" and error.startswith(COMPILE_NOTE):  # valid, but not compiled as written
            self.fails.setdefault(island, []).append((prompt, failure_line("not_compiled", error)))

    # --- start ---------------------------------------------------------------------------------
    def seed(self, seeds: dict[str, str], scores: dict[str, Score]) -> None:
        """Put every seed program on every island, in one transaction."""
        with self.store.transaction():
            for name, code in seeds.items():
                h = code_hash(code)
                for island in range(self.pop.islands):
                    pid = self._insert(None, None, island, "seed", (), code, h, name, scores[name])
                    self.first.setdefault(h, pid)
            self.store.set_state("seed_names", {n: self.first[code_hash(c)] for n, c in seeds.items()})
            self.store.set_state("seeded", True)
            self.save_state()
        self.baseline_gap = scores[self.baseline].gap if self.baseline in scores else None

    def restore(self) -> None:
        """Rebuild the population, the hashes and the counters from the store."""
        rows = self.store.query(
            "SELECT id, island, operator, status, hash, gap, signature, length, CASE WHEN status = 'ok' THEN"
            " code END, cost_ratio, cost, error, prompt FROM programs ORDER BY id")
        last_prompt = -1
        for pid, island, operator, status, h, gap, signature, length, code, cost, cost_json, error, prompt \
                in rows:
            last_prompt = -1 if operator == "seed" else last_prompt
            last_prompt = prompt if prompt is not None else last_prompt  # a copy: its commit's prompt
            if operator == "reset":
                self.pop.clear(island)
            if status == "ok":
                self.pop.add(island, Member(pid, gap, signature, length, _ratio(cost), last_prompt))
                self.code[pid] = code
                if cost_json:
                    self.costs[pid] = Cost.from_dict(json.loads(cost_json))
            if operator not in COPY_OPERATORS and operator != "seed":
                self._failed(island, prompt, status, error or "")
            if h and operator not in COPY_OPERATORS and status != "duplicate":
                self.first.setdefault(h, pid)
            self.next_pid = pid + 1
        self.pop.set_rng_state(self.store.get_state("rng"))
        self.counters.update(self.store.get_state("counters", {}))
        base = self.store.get_state("seed_names", {}).get(self.baseline)
        if base is not None:
            self.baseline_gap = self.store.scalar("SELECT gap FROM programs WHERE id = ?", (base,))

    def save_state(self) -> None:
        """Save the generator and the counters (inside the caller's transaction)."""
        self.store.set_state("rng", self.pop.rng_state())
        self.store.set_state("counters", self.counters)

    # --- commit --------------------------------------------------------------------------------
    def commit(self, job: InFlight, score: Callable[[Future], Score]) -> None:
        """Record a finished prompt: its LLM call, one row per sample, then resets and migrations."""
        out, c = job.outcome, self.counters
        res = out.result
        billed = (res.prompt_tokens, res.completion_tokens, float(res.cost_usd)) if res else out.billed
        meta = (res.meta or {}) if res else {}
        with self.store.transaction():
            self.store.add_llm_call(job.prompt, res.model if res else job.request.model, job.request.n,
                                    *billed, out.latency_s, job.key, out.error)
            c["tokens"] += billed[0] + billed[1]  # what was billed, failed attempts included
            c["cost"] += billed[2]
            c["usage_unknown"] += out.usage_unknown + int((meta.get("failed_attempts") or {}).get(
                "usage_unknown", 0))
            if meta.get("usage_capped"):
                c["usage_capped"] += 1
                self.store.add_event("usage_capped", prompt=job.prompt, usage=meta["usage_capped"])
            if res is not None:
                c["llm_error_streak"] = 0
            else:
                c["llm_errors"] += 1
                if not out.budget_exhausted:
                    c["llm_error_streak"] += 1
                    self.store.set_state("last_llm_error", out.error)
            by_index = {cand.index: cand for cand in out.candidates}
            for j in range(job.request.n):
                self._candidate(job, j, by_index.get(j), out.error, score)
            c["samples"] += job.request.n
            self.store.finish_prompt(job.prompt)
            self._periodic(job.prompt)
            self.save_state()

    def _candidate(self, job: InFlight, j: int, cand: Candidate | None, llm_error: str,
                   score: Callable[[Future], Score]) -> None:
        c = self.counters
        sample = job.first_sample + j
        args = (job.prompt, sample, job.island, job.operator, job.parents)
        if cand is None:
            reason = llm_error or "the LLM returned fewer completions than asked"
            self._insert(*args, "", None, "", _fail("no_reply", reason))
        elif cand.code is None:
            self._insert(*args, "", None, cand.description, _fail("no_code", cand.reason or "no code"))
            self._failed(job.island, job.prompt, "no_code", cand.reason or "no code")
        elif cand.hash in self.first:
            self._insert(*args, cand.code, cand.hash, cand.description,
                         _fail("duplicate", f"same program as #{self.first[cand.hash]}"))
        else:
            fut = job.outcome.evals.get(j)
            sc = score(fut) if fut is not None else _fail("error", "not evaluated (no sandbox result)")
            sc = self.budgeted(sc)
            best = self.pop.best()
            pid = self._insert(*args, cand.code, cand.hash, cand.description, sc)
            self.first[cand.hash] = pid
            self._failed(job.island, job.prompt, sc.status, sc.error)
            if sc.ok:
                self.pop.add(job.island, Member(pid, sc.gap, sc.signature, len(cand.code), _cost_of(sc),
                                                job.prompt))
                self.code[pid] = cand.code
                c["valid"] += 1
                c["invalid_streak"] = 0
                if best is None or sc.gap < best.gap:
                    c["best_sample"] = sample + 1
                    self.store.add_event("best", program=pid, gap=sc.gap, sample=sample)
                return
        c["invalid_streak"] += 1

    def _periodic(self, prompt: int) -> None:
        c = self.counters
        if self.reset_period and c["samples"] // self.reset_period > c["resets"]:
            c["resets"] = c["samples"] // self.reset_period
            plan = self.pop.plan_reset()
            for island, founder in plan:
                self.pop.clear(island)
                self._copy(island, founder, "reset", prompt)
            self.store.add_event("reset", islands=[i for i, _ in plan], founders=[m.id for _, m in plan],
                                 sample=c["samples"])
        if self.migration_period and c["samples"] // self.migration_period > c["migrations"]:
            c["migrations"] = c["samples"] // self.migration_period
            plan = self.pop.plan_migration()
            for island, m in plan:
                self._copy(island, m, "migrate", prompt)
            self.store.add_event("migrate", moves=[[i, m.id] for i, m in plan], sample=c["samples"])

    def _copy(self, island: int, m: Member, operator: str, prompt: int) -> None:
        src = self.store.program(m.id)
        sc = Score(src.status, src.error, src.gap, src.per_class, src.signature, src.tardiness, 0.0,
                   Cost.from_dict(src.cost))
        pid = self._insert(None, None, island, operator, (m.id,), src.code, src.hash, src.description, sc)
        self.pop.add(island, replace(m, id=pid, prompt=prompt))
        self.code[pid] = src.code
        if sc.cost is not None:
            self.costs[pid] = sc.cost

    def _insert(self, prompt: int | None, sample: int | None, island: int, operator: str,
                parents: tuple[int, ...], code: str, h: str | None, description: str, sc: Any) -> int:
        pid = self.next_pid
        self.next_pid += 1
        self.store.add_program(ProgramRow(
            id=pid, prompt=prompt, sample=sample, island=island, operator=operator, parents=tuple(parents),
            code=code, hash=h, description=description, status=sc.status, error=sc.error, gap=sc.gap,
            per_class=sc.per_class, signature=sc.signature, tardiness=sc.tardiness, length=len(code),
            seconds=sc.seconds, **_cost_columns(getattr(sc, "cost", None))))
        if getattr(sc, "cost", None) is not None and sc.status == "ok":
            self.costs[pid] = sc.cost
        if sc.status == "ok" and operator == "seed":
            self.code[pid] = code
            self.pop.add(island, Member(pid, sc.gap, sc.signature, len(code), _cost_of(sc)))
        return pid


def failure_line(status: str, error: str) -> str:
    """Return ``status: reason`` in one line, without what differs between identical runs.

    A timeout's message names the instance that was running when the limit struck, which depends
    on the machine; the line keeps only the limit. An exception keeps its last line (the error).
    """
    lines = [ln.strip() for ln in (error or "").splitlines() if ln.strip()]
    if status == "timeout":
        text = "exceeded the time limit" + (" (CPU-time limit)" if "CPU" in error else "")
    elif status == "error" and len(lines) > 1:
        text = lines[-1]
    else:
        text = lines[0] if lines else status
    text = re.sub(r"^instance \d+( \(n=\d+\))?: ", "", text).replace("`", "'")
    return f"{status}: {text[:200]}"


def _ratio(x: float | None) -> float:
    return math.inf if x is None else float(x)


def _cost_of(sc: Any) -> float:
    cost = getattr(sc, "cost", None)
    return _ratio(None if cost is None else cost.ratio)


def _cost_columns(cost: Cost | None) -> dict[str, Any]:
    """Return the programs-table cost columns of a measured cost (all None when unmeasured)."""
    if cost is None:
        return {}
    train = cost.train.ratio if cost.train is not None and cost.train.status == "ok" else None
    return {"cost_ratio": cost.ratio, "cost_s": cost.seconds, "train_cost_ratio": train,
            "cost": cost.to_dict()}
