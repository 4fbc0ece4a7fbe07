"""The outcome of scoring one candidate on one instance set."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

STATUSES = ("ok", "invalid_output", "error", "timeout", "memory", "refused")
"""Every status a result can carry; only ``ok`` means all instances that ran were valid."""

NOT_RUN = -1
"""Objective-value marker for an instance that is invalid or was not run."""

MODES = ("python", "compiled", "")
"""How the candidate's own code ran: ``compiled`` when its numba functions compiled (the toolkit's
kernels do not count: a plain-Python candidate calling them is ``python``); "" when nothing ran."""


@dataclass(frozen=True, eq=False)
class EvalResult:
    """Scores of one candidate on one set.

    Parameters
    ----------
    status
        One of ``STATUSES``.
    error
        Short text fit to feed back to an LLM; "" when ``status == "ok"``.
    values
        int64 per instance of the set: the task's objective (total tardiness for ``total_tardiness``,
        also readable as ``tardiness``); ``NOT_RUN`` (-1) where invalid or not run. When a candidate
        fails at instance ``f`` (the lowest failing index), instances before ``f`` keep their
        values and every instance from ``f`` on is -1, however the work was sharded.
    seconds
        float64 CPU seconds (its thread's) of the candidate's call per instance, the check of the order
        it returns excluded (0 where not run).
    cut_short
        The cascade stopped after its subset: only the subset's instances were run.
    cached
        The result came from the evaluation cache, not from a new run.
    mode
        One of ``MODES``: the mode every figure in ``seconds`` was measured in.
    compile_s
        CPU seconds spent compiling the candidate's numba functions, summed over the processes
        that ran it (each compiles once); never part of ``seconds``.
    compile_error
        One line saying why numba could not compile the candidate ("" when it could or did not
        try). The candidate then ran as Python (``mode == "python"``): with status ``ok`` the error
        text stays empty, so this field is where the reason is shown.

    Raises
    ------
    ValueError
        On an unknown status, arrays of different lengths, or an error text on an ``ok`` result.
    """

    status: str
    error: str
    values: np.ndarray
    seconds: np.ndarray
    cut_short: bool = False
    cached: bool = False
    mode: str = ""
    compile_s: float = 0.0
    compile_error: str = ""

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status {self.status!r} is not one of {', '.join(STATUSES)}")
        if self.mode not in MODES:
            raise ValueError(f"mode {self.mode!r} is not one of {', '.join(repr(m) for m in MODES)}")
        if self.status == "ok" and self.error:
            raise ValueError(f"an ok result carries no error text, got {self.error!r}")
        t = np.array(self.values, dtype=np.int64)
        s = np.array(self.seconds, dtype=np.float64)
        if t.ndim != 1 or t.shape != s.shape:
            raise ValueError(f"values and seconds must be 1-D of equal length, got {t.shape} and"
                             f" {s.shape}")
        t.setflags(write=False)
        s.setflags(write=False)
        object.__setattr__(self, "values", t)
        object.__setattr__(self, "seconds", s)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def tardiness(self) -> np.ndarray:
        """The values under their ΣT_j name (the objective of the task the set was scored for)."""
        return self.values

    @property
    def instances(self) -> int:
        return int(self.values.shape[0])

    @property
    def valid(self) -> np.ndarray:
        """Mask of instances with a valid value."""
        return self.values >= 0

    @property
    def mean_tardiness(self) -> float:
        """Mean objective value over the valid instances (NaN when none)."""
        v = self.values[self.valid]
        return float(v.mean()) if v.size else math.nan

    @property
    def total_seconds(self) -> float:
        return float(self.seconds.sum())

    @property
    def mean_seconds(self) -> float:
        """Mean seconds per instance that ran (NaN when none ran)."""
        v = self.seconds[self.valid]
        return float(v.mean()) if v.size else math.nan

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (arrays as lists)."""
        return {
            "status": self.status, "error": self.error, "tardiness": self.values.tolist(),
            "seconds": self.seconds.tolist(), "cut_short": self.cut_short, "cached": self.cached,
            "mode": self.mode, "compile_s": self.compile_s, "compile_error": self.compile_error,
        }

    def marked_cached(self) -> EvalResult:
        """Return a copy marked as coming from the cache."""
        return dataclasses.replace(self, cached=True)

    @classmethod
    def failed(cls, status: str, error: str, count: int) -> EvalResult:
        """Return a result where nothing ran (e.g. refused by the policy)."""
        return cls(status, error, np.full(count, NOT_RUN, np.int64), np.zeros(count))
