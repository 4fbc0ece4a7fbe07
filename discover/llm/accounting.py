"""Prices, budgets and the thread-safe ledger that stops new requests once a budget is spent."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass

from discover.llm.base import BudgetExhausted


@dataclass(frozen=True)
class Price:
    """What a model costs, in US dollars per million prompt and completion tokens."""

    input_per_mtok: float = 0.0
    output_per_mtok: float = 0.0

    def __post_init__(self) -> None:
        if self.input_per_mtok < 0 or self.output_per_mtok < 0:
            raise ValueError(f"price: dollars per million tokens must be ≥ 0, got {self}")

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        """Return the cost in dollars of one call's usage."""
        return (prompt_tokens * self.input_per_mtok + completion_tokens * self.output_per_mtok) / 1e6


def price_for(prices: Mapping[str, Price], model: str) -> Price | None:
    """Return the price of a model: an exact entry, else the longest entry that prefixes its name."""
    if model in prices:
        return prices[model]
    prefixes = [k for k in prices if model.startswith(k)]
    return prices[max(prefixes, key=len)] if prefixes else None


@dataclass(frozen=True)
class Budget:
    """Limits on calls, tokens (prompt + completion) and dollars; None means unlimited."""

    max_calls: int | None = None
    max_tokens: int | None = None
    max_usd: float | None = None

    def __post_init__(self) -> None:
        for name in ("max_calls", "max_tokens", "max_usd"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"budget: {name} must be ≥ 0 or unset, got {value}")


@dataclass(frozen=True)
class Spend:
    """What has been spent so far."""

    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class SpendAccount:
    """Count spend and refuse new requests once a budget is reached; safe to share between threads.

    Calls are reserved before a request is sent, so the call limit is exact even with requests in
    flight; tokens and dollars are known only afterwards, so the call that crosses those limits
    completes and the next one is refused.
    """

    def __init__(self, budget: Budget | None = None) -> None:
        self.budget = budget or Budget()
        self._lock = threading.Lock()
        self._spend = Spend()
        self._in_flight = 0

    def reserve(self) -> None:
        """Reserve one call, or raise BudgetExhausted naming the limit that is spent."""
        b = self.budget
        with self._lock:
            s = self._spend
            if b.max_calls is not None and s.calls + self._in_flight >= b.max_calls:
                raise BudgetExhausted(f"budget exhausted: {s.calls} calls of {b.max_calls} allowed")
            if b.max_tokens is not None and s.total_tokens >= b.max_tokens:
                raise BudgetExhausted(f"budget exhausted: {s.total_tokens} tokens of {b.max_tokens} allowed")
            if b.max_usd is not None and s.cost_usd >= b.max_usd:
                raise BudgetExhausted(f"budget exhausted: ${s.cost_usd:.4f} of ${b.max_usd:.4f} allowed")
            self._in_flight += 1

    def settle(self, prompt_tokens: int, completion_tokens: int, cost_usd: float) -> None:
        """Turn a reservation into a completed call with its usage."""
        with self._lock:
            s = self._spend
            self._in_flight -= 1
            self._spend = Spend(
                s.calls + 1, s.prompt_tokens + prompt_tokens, s.completion_tokens + completion_tokens,
                s.cost_usd + cost_usd,
            )

    def release(self, prompt_tokens: int = 0, completion_tokens: int = 0, cost_usd: float = 0.0) -> None:
        """Give back a reservation whose call failed, counting what its attempts were billed."""
        with self._lock:
            s = self._spend
            self._in_flight -= 1
            self._spend = Spend(s.calls, s.prompt_tokens + prompt_tokens,
                                s.completion_tokens + completion_tokens, s.cost_usd + cost_usd)

    def spent(self) -> Spend:
        """Return what completed calls have spent."""
        with self._lock:
            return self._spend
