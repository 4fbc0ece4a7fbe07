"""Stopping criteria: each a small class that reads the run's state and says whether the run stops.

A new criterion is one class added to ``CRITERIA`` (with its ``stopping.*`` field in the config if it
has a limit). They are checked in order before each prompt is built; the first that holds names the
stop reason, so the order decides which reason a run reports when two hold at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from discover.config import StoppingConfig


@dataclass(frozen=True)
class RunState:
    """What the criteria read: samples drawn, the ledger's counters, time and the LLM's signals."""

    samples_built: int
    counters: dict[str, Any]
    elapsed_s: float
    llm_budget_hit: bool = False
    replay_miss: bool = False


class Criterion:
    """One reason to stop; ``reason`` is what the run reports (``discover.cli.run`` explains each)."""

    reason: ClassVar[str]

    def hit(self, st: StoppingConfig, run: RunState) -> bool:
        raise NotImplementedError


class SampleBudget(Criterion):
    reason = "samples"

    def hit(self, st: StoppingConfig, run: RunState) -> bool:
        return run.samples_built >= st.samples


class TokenBudget(Criterion):
    reason = "tokens"

    def hit(self, st: StoppingConfig, run: RunState) -> bool:
        return bool(st.tokens) and run.counters["tokens"] >= st.tokens


class DollarBudget(Criterion):
    reason = "dollars"

    def hit(self, st: StoppingConfig, run: RunState) -> bool:
        return bool(st.dollars) and run.counters["cost"] >= st.dollars


class NoImprovement(Criterion):
    reason = "no_improvement"

    def hit(self, st: StoppingConfig, run: RunState) -> bool:
        c = run.counters
        return bool(st.no_improvement) and c["samples"] - c["best_sample"] >= st.no_improvement


class InvalidStreak(Criterion):
    reason = "invalid_streak"

    def hit(self, st: StoppingConfig, run: RunState) -> bool:
        return bool(st.invalid_streak) and run.counters["invalid_streak"] >= st.invalid_streak


class LLMErrorStreak(Criterion):
    reason = "llm_errors"

    def hit(self, st: StoppingConfig, run: RunState) -> bool:
        return bool(st.llm_error_streak) and run.counters["llm_error_streak"] >= st.llm_error_streak


class WallClock(Criterion):
    reason = "wall_clock"

    def hit(self, st: StoppingConfig, run: RunState) -> bool:
        return bool(st.wall_clock_s) and run.elapsed_s >= st.wall_clock_s


class LLMBudgetSpent(Criterion):
    reason = "llm_budget"

    def hit(self, st: StoppingConfig, run: RunState) -> bool:
        return run.llm_budget_hit


class ReplayDiverged(Criterion):
    reason = "replay_miss"

    def hit(self, st: StoppingConfig, run: RunState) -> bool:
        return run.replay_miss


CRITERIA: tuple[Criterion, ...] = (
    SampleBudget(), TokenBudget(), DollarBudget(), NoImprovement(), InvalidStreak(), LLMErrorStreak(),
    WallClock(), LLMBudgetSpent(), ReplayDiverged())


def stop_reason(st: StoppingConfig, run: RunState, criteria: tuple[Criterion, ...] = CRITERIA) -> str | None:
    """Return the reason of the first criterion that holds, or None while the run goes on."""
    return next((c.reason for c in criteria if c.hit(st, run)), None)
