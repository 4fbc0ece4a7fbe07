"""The value an exact solver returns, and the input checks all solvers share."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from evaluator.kernels import total_tardiness

STATUSES = ("optimal", "time_limit", "memory_limit")


@dataclass(frozen=True, eq=False)
class ExactResult:
    """Outcome of an exact solve of one instance.

    Parameters
    ----------
    value
        Total tardiness of ``order``: the optimum when ``status == "optimal"``, else the best found.
    order
        int64 job indices (a permutation of 0..n-1), re-checked with the tardiness kernel.
    status
        ``"optimal"``, ``"time_limit"`` (stopped by the clock) or ``"memory_limit"`` (memo cap reached).
    lower_bound
        A proven lower bound on the optimum (equal to ``value`` when optimal).
    seconds
        Wall-clock time of the solve.
    nodes
        Branched subproblems (B&B), MIP nodes, or DP states, depending on ``method``.
    method
        ``"bb"``, ``"mip"`` or ``"dp"``.
    message
        Why the solve stopped early (empty when optimal).
    cpu_seconds
        CPU time of the solving process over the solve (0 where not measured).
    memo_mb
        Size of the memo table at the end of a ``bb`` solve, in MiB: its peak, as it only grows.

    Raises
    ------
    ValueError
        On an unknown status, a bound above the value, a negative time, or an optimal result
        whose bound differs from its value.
    """

    value: int
    order: np.ndarray
    status: str
    lower_bound: int
    seconds: float
    nodes: int = 0
    method: str = "bb"
    message: str = field(default="")
    cpu_seconds: float = 0.0
    memo_mb: float = 0.0

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status = {self.status!r} must be one of {', '.join(STATUSES)}")
        if self.lower_bound > self.value:
            raise ValueError(f"lower_bound = {self.lower_bound} exceeds value = {self.value}")
        if self.status == "optimal" and self.lower_bound != self.value:
            raise ValueError(f"an optimal result needs lower_bound = value = {self.value}, "
                             f"got {self.lower_bound}")
        if not self.seconds >= 0:
            raise ValueError(f"seconds = {self.seconds!r} must be non-negative")
        self.order.setflags(write=False)

    @property
    def optimal(self) -> bool:
        """Whether ``value`` is a proven optimum."""
        return self.status == "optimal"


def check_instance(p, d) -> tuple[np.ndarray, np.ndarray]:
    """Return p and d as int64 arrays; raise ValueError on a bad instance.

    Raises
    ------
    ValueError
        If p or d is not 1-D integer data of one length, or a processing time is not positive.
    """
    pa, da = np.asarray(p), np.asarray(d)
    for name, a in (("p", pa), ("d", da)):
        if a.ndim != 1 or (a.size and a.dtype.kind not in "iu"):
            raise ValueError(f"{name} must be a 1-D array of integers, got shape {a.shape} dtype {a.dtype}")
    if pa.shape != da.shape:
        raise ValueError(f"p has {pa.shape[0]} jobs but d has {da.shape[0]}")
    pa = np.ascontiguousarray(pa, dtype=np.int64)
    da = np.ascontiguousarray(da, dtype=np.int64)
    if pa.size and pa.min() <= 0:
        j = int(np.argmin(pa))
        raise ValueError(f"processing time p[{j}] = {int(pa[j])} must be a positive integer")
    return pa, da


def check_time_limit(time_limit: float | None) -> None:
    """Raise ValueError unless the time limit is None or positive."""
    if time_limit is not None and not time_limit > 0:
        raise ValueError(f"time_limit = {time_limit!r} must be positive (or None)")


def verified(p: np.ndarray, d: np.ndarray, order: np.ndarray, value: int, method: str) -> np.ndarray:
    """Return ``order`` as int64 after checking that its tardiness equals ``value``.

    Raises
    ------
    RuntimeError
        If the order is not a permutation or its tardiness differs (an internal solver error).
    """
    order = np.ascontiguousarray(order, dtype=np.int64)
    try:
        got = total_tardiness(p, d, order)
    except ValueError as e:
        raise RuntimeError(f"{method}: internal error, the returned order is invalid: {e}") from None
    if got != value:
        raise RuntimeError(f"{method}: internal error, the order has tardiness {got}, not {value}")
    return order


_RECORD_FIELDS = ("value", "status", "lower_bound", "seconds", "nodes", "method", "message", "cpu_seconds",
                  "memo_mb")


def to_record(r: ExactResult) -> dict:
    """Return a result as a JSON-ready dict (without the sequence)."""
    return {f: getattr(r, f) for f in _RECORD_FIELDS}


def from_record(rec: dict) -> ExactResult:
    """Return the result a record of ``to_record`` describes; its sequence is empty (not kept).

    Raises
    ------
    ValueError
        On a missing field or values an ``ExactResult`` refuses.
    """
    missing = [f for f in _RECORD_FIELDS if f not in rec]
    if missing:
        raise ValueError(f"field {missing[0]!r} is missing")
    kw = {f: rec[f] for f in _RECORD_FIELDS}
    return ExactResult(order=np.zeros(0, np.int64), **kw)
