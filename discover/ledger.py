"""The committed side of a run: the population and the store, kept in step one transaction at a time.

Everything the population holds can be rebuilt from the programs table read in id order (a
``reset`` row empties its island before joining it), so resume needs no snapshot of the islands:
only the generator's state and a few counters, saved with every transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import replace
from typing import Any

from discover.fitness import Score
from discover.normalize import code_hash
from discover.pipeline import Candidate, Job
from discover.population import Member, Population
from discover.store import ProgramRow, RunStore

COPY_OPERATORS = ("reset", "migrate")
COUNTERS = dict(samples=0, valid=0, tokens=0, cost=0.0, best_sample=0, invalid_streak=0, resets=0,
                migrations=0, llm_errors=0, llm_error_streak=0, usage_unknown=0, usage_capped=0)


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
    """

    def __init__(self, store: RunStore, population: Population, reset_period: int = 0,
                 migration_period: int = 0) -> None:
        self.store = store
        self.pop = population
        self.reset_period = reset_period
        self.migration_period = migration_period
        self.counters = dict(COUNTERS)
        self.code: dict[int, str] = {}  # code of every program in the population
        self.first: dict[str, int] = {}  # normalised hash → first program with that code
        self.next_pid = 1
        self.mdd_gap: float | None = None

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
        self.mdd_gap = scores["mdd"].gap if "mdd" in scores else None

    def restore(self) -> None:
        """Rebuild the population, the hashes and the counters from the store."""
        rows = self.store.query("SELECT id, island, operator, status, hash, gap, signature, length,"
                                " CASE WHEN status = 'ok' THEN code END FROM programs ORDER BY id")
        for pid, island, operator, status, h, gap, signature, length, code in rows:
            if operator == "reset":
                self.pop.clear(island)
            if status == "ok":
                self.pop.add(island, Member(pid, gap, signature, length))
                self.code[pid] = code
            if h and operator not in COPY_OPERATORS and status != "duplicate":
                self.first.setdefault(h, pid)
            self.next_pid = pid + 1
        self.pop.set_rng_state(self.store.get_state("rng"))
        self.counters.update(self.store.get_state("counters", {}))
        mdd = self.store.get_state("seed_names", {}).get("mdd")
        if mdd is not None:
            self.mdd_gap = self.store.scalar("SELECT gap FROM programs WHERE id = ?", (mdd,))

    def save_state(self) -> None:
        """Save the generator and the counters (inside the caller's transaction)."""
        self.store.set_state("rng", self.pop.rng_state())
        self.store.set_state("counters", self.counters)

    # --- commit --------------------------------------------------------------------------------
    def commit(self, job: Job, score: Callable[[Future], Score]) -> None:
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
            self._periodic()
            self.save_state()

    def _candidate(self, job: Job, j: int, cand: Candidate | None, llm_error: str,
                   score: Callable[[Future], Score]) -> None:
        c = self.counters
        sample = job.first_sample + j
        args = (job.prompt, sample, job.island, job.operator, job.parents)
        if cand is None:
            reason = llm_error or "the LLM returned fewer completions than asked"
            self._insert(*args, "", None, "", _fail("no_reply", reason))
        elif cand.code is None:
            self._insert(*args, "", None, cand.description, _fail("no_code", cand.reason or "no code"))
        elif cand.hash in self.first:
            self._insert(*args, cand.code, cand.hash, cand.description,
                         _fail("duplicate", f"same program as #{self.first[cand.hash]}"))
        else:
            fut = job.outcome.evals.get(j)
            sc = score(fut) if fut is not None else _fail("error", "not evaluated (no sandbox result)")
            best = self.pop.best()
            pid = self._insert(*args, cand.code, cand.hash, cand.description, sc)
            self.first[cand.hash] = pid
            if sc.ok:
                self.pop.add(job.island, Member(pid, sc.gap, sc.signature, len(cand.code)))
                self.code[pid] = cand.code
                c["valid"] += 1
                c["invalid_streak"] = 0
                if best is None or sc.gap < best.gap:
                    c["best_sample"] = sample + 1
                    self.store.add_event("best", program=pid, gap=sc.gap, sample=sample)
                return
        c["invalid_streak"] += 1

    def _periodic(self) -> None:
        c = self.counters
        if self.reset_period and c["samples"] // self.reset_period > c["resets"]:
            c["resets"] = c["samples"] // self.reset_period
            plan = self.pop.plan_reset()
            for island, founder in plan:
                self.pop.clear(island)
                self._copy(island, founder, "reset")
            self.store.add_event("reset", islands=[i for i, _ in plan], founders=[m.id for _, m in plan],
                                 sample=c["samples"])
        if self.migration_period and c["samples"] // self.migration_period > c["migrations"]:
            c["migrations"] = c["samples"] // self.migration_period
            plan = self.pop.plan_migration()
            for island, m in plan:
                self._copy(island, m, "migrate")
            self.store.add_event("migrate", moves=[[i, m.id] for i, m in plan], sample=c["samples"])

    def _copy(self, island: int, m: Member, operator: str) -> None:
        src = self.store.program(m.id)
        sc = Score(src.status, src.error, src.gap, src.per_class, src.signature, src.tardiness, 0.0)
        pid = self._insert(None, None, island, operator, (m.id,), src.code, src.hash, src.description, sc)
        self.pop.add(island, replace(m, id=pid))
        self.code[pid] = src.code

    def _insert(self, prompt: int | None, sample: int | None, island: int, operator: str,
                parents: tuple[int, ...], code: str, h: str | None, description: str, sc: Any) -> int:
        pid = self.next_pid
        self.next_pid += 1
        self.store.add_program(ProgramRow(
            id=pid, prompt=prompt, sample=sample, island=island, operator=operator, parents=tuple(parents),
            code=code, hash=h, description=description, status=sc.status, error=sc.error, gap=sc.gap,
            per_class=sc.per_class, signature=sc.signature, tardiness=sc.tardiness, length=len(code),
            seconds=sc.seconds))
        if sc.status == "ok" and operator == "seed":
            self.code[pid] = code
            self.pop.add(island, Member(pid, sc.gap, sc.signature, len(code)))
        return pid
