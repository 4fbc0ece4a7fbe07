"""Stopping criteria: each a small class that reads the run's state and says whether the run stops.

A new criterion is one class (or one ``CounterLimit``) added to ``CRITERIA``, with its ``stopping.*``
field in the config if it has a limit. They are checked in order before each prompt is built; the
first that holds names the stop reason, so the order decides which reason a run reports when two
hold at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

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

    reason: str

    def hit(self, st: StoppingConfig, run: RunState) -> bool:
        raise NotImplementedError


@dataclass(frozen=True)
class CounterLimit(Criterion):
    """A ledger counter reached its ``stopping.<field>`` limit (a limit of 0 never stops)."""

    reason: str
    field: str
    counter: str

    def hit(self, st: StoppingConfig, run: RunState) -> bool:
        limit = getattr(st, self.field)
        return bool(limit) and run.counters[self.counter] >= limit


class SampleBudget(Criterion):
    """The samples drawn (asked for, not only committed) reached ``stopping.samples``."""

    reason = "samples"

    def hit(self, st: StoppingConfig, run: RunState) -> bool:
        return run.samples_built >= st.samples


class NoImprovement(Criterion):
    """``stopping.no_improvement`` samples since the best program was found."""

    reason = "no_improvement"

    def hit(self, st: StoppingConfig, run: RunState) -> bool:
        c = run.counters
        return bool(st.no_improvement) and c["samples"] - c["best_sample"] >= st.no_improvement


class WallClock(Criterion):
    """This session has run ``stopping.wall_clock_s`` seconds."""

    reason = "wall_clock"

    def hit(self, st: StoppingConfig, run: RunState) -> bool:
        return bool(st.wall_clock_s) and run.elapsed_s >= st.wall_clock_s


class LLMBudgetSpent(Criterion):
    """The LLM backend refused a request: its own budget (calls, tokens, dollars) is spent."""

    reason = "llm_budget"

    def hit(self, st: StoppingConfig, run: RunState) -> bool:
        return run.llm_budget_hit


class ReplayDiverged(Criterion):
    """A replayed run asked for a request its transcript does not hold."""

    reason = "replay_miss"

    def hit(self, st: StoppingConfig, run: RunState) -> bool:
        return run.replay_miss


CRITERIA: tuple[Criterion, ...] = (
    SampleBudget(),
    CounterLimit("tokens", "tokens", "tokens"),
    CounterLimit("dollars", "dollars", "cost"),
    NoImprovement(),
    CounterLimit("invalid_streak", "invalid_streak", "invalid_streak"),
    CounterLimit("llm_errors", "llm_error_streak", "llm_error_streak"),
    WallClock(),
    LLMBudgetSpent(),
    ReplayDiverged(),
)


def stop_reason(st: StoppingConfig, run: RunState, criteria: tuple[Criterion, ...] = CRITERIA) -> str | None:
    """Return the reason of the first criterion that holds, or None while the run goes on."""
    return next((c.reason for c in criteria if c.hit(st, run)), None)
