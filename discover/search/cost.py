"""Cost of a program: seconds per instance, measured side by side with a reference program.

How it is measured. The program and the reference (``cost.reference``: a plain-Python entry of
``archive/references`` for a Python program, its numba twin from ``evaluator.compiled_programs`` for
a compiled one, so both run in the same execution mode) are run in the same sandbox on the
same instances, in interleaved pairs (reference, program, reference, program, ...). Each side's
figure is, per instance, the fastest of its ``cost.repeats`` runs, summed over the instances; the
cost is the ratio of the two and, for display, the program's seconds per instance. This is done at
the training size (on ``cost.train_instances`` training instances) and at ``cost.n`` (on
``cost.instances`` generated instances of that size, the size at which cost counts), both sets
joined into one sandbox run per side and repeat, so a program costs ``2 × cost.repeats`` runs. A program
that beats the best of its island (as its prompt saw it) and is within the budget is also scored on
the scale-probe sets: gap and seconds per instance (the bounds that keep the probe a small share of
the loop, with ``cost.probe_timeout_s`` per set).

The sandbox reports the CPU time of the candidate's call per instance (``EvalResult.seconds``,
``time.thread_time`` in the candidate's process), so preemption by other processes does not count.
Minima of interleaved runs and a ratio to a reference run at the same moment cancel what is left
of the machine's state (caches, frequency); ``make bench`` prints the spread of 5 measurements.

Determinism: record and reuse. A measured time is not reproducible, so it is never recomputed
where a run must be reproduced: every measurement is stored with its program in ``run.sqlite``
(columns ``cost_*`` and ``probe``), a resumed run restores the population's costs from there, and a
replay is handed the original run's measurements (by code hash) and reuses them instead of
timing again, so strict replay compares equal. The measured columns are listed with the other
times in ``store.TIME_COLUMNS``.

What depends on cost: the ``budget`` objective's ``over_budget`` status, the ``pareto``
objective's front ranks (and so its parents), the measured cost a prompt shows under ``gap`` and
``pareto``, and the budget test at promotion. A counted measure (bytecodes executed) would be
reproducible, but it needs instrumenting the sandbox's worker and counts a numpy call as one
step, so it does not measure what users pay; that is why cost is measured and recorded instead.
Under the default objective (``budget``) prompts leave the measured time out (a parent is within
the budget the system prompt states; its scale-probe gaps, which are counted, are shown), so the
only time-dependent decision is the budget's verdict: a fresh run with the same seed is
bit-identical as long as no program is within the measurement spread of the budget. That holds
for the determinism test's configuration (the offline model writes dispatch rules measured at a
small fraction of the budget; the test asserts the margin) but not for arbitrary runs, which is
why resume and replay reuse the record instead of relying on it.
"""

from __future__ import annotations

import itertools
import math
from concurrent.futures import Future
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from discover.config import CostConfig
from discover.programs.normalize import code_hash
from discover.search.fitness import Fitness, stratified
from evaluator import pyparse, tasks
from evaluator.instances import InstanceFileError, InstanceSet, from_arrays
from evaluator.sandbox.result import NOT_RUN
from evaluator.task import Task

COST_SET_SEED = 20_251_201  # the generated instances of size cost.n: fixed, so every run times the same ones
_seeds = itertools.count(1_000_003)  # a fresh seed per timing run, so the evaluation cache never answers


@dataclass(frozen=True)
class Timing:
    """One side-by-side measurement of a program and the reference on one set."""

    n: int
    instances: int
    status: str  # the program's worst status over the repeats ("ok" when every run finished)
    seconds: float | None  # program, seconds per instance (min over repeats); None unless ok
    reference_seconds: float  # reference, seconds per instance (min over repeats)
    ratio: float | None  # program / reference; None unless ok
    spread: float  # (max - min) / min of the program's repeats
    mode: str = "python"  # how the program ran: python or compiled (EvalResult.mode)
    reference_mode: str = "python"  # how the reference ran: compiled for a compiled program where it can

    def text(self, reference: str) -> str:
        """Return e.g. ``1.3 ms/inst (0.42 × aug_mddc) at n = 100`` (``compiled`` said where it was)."""
        if self.status != "ok" or self.seconds is None:
            return f"did not finish at n = {self.n} ({self.status})"
        how = "" if self.mode == "python" else f"{self.mode}, "
        ref = reference if self.reference_mode == "python" else f"{reference} {self.reference_mode}"
        return f"{fmt_seconds(self.seconds)}/inst ({how}{self.ratio:.2g} × {ref}) at n = {self.n}"


@dataclass(frozen=True)
class Cost:
    """Every cost figure of one program; stored as JSON in the ``probe`` column plus flat columns."""

    train: Timing | None
    at_n: Timing | None
    probe: dict[str, dict[str, Any]] = field(default_factory=dict)  # set name → n, gap, seconds, status

    @property
    def ratio(self) -> float | None:
        """Cost at ``cost.n`` as a ratio to the reference (inf when it did not finish)."""
        if self.at_n is None:
            return None
        return self.at_n.ratio if self.at_n.status == "ok" else math.inf

    @property
    def seconds(self) -> float | None:
        """Seconds per instance at ``cost.n`` (None when unknown)."""
        return None if self.at_n is None else self.at_n.seconds

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {"train": None if self.train is None else asdict(self.train),
                "at_n": None if self.at_n is None else asdict(self.at_n), "probe": self.probe}

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> Cost | None:
        """Rebuild from ``to_dict`` output (None stays None)."""
        if not d:
            return None
        return cls(Timing(**d["train"]) if d.get("train") else None,
                   Timing(**d["at_n"]) if d.get("at_n") else None, dict(d.get("probe") or {}))


@dataclass(frozen=True)
class Assessment:
    """A program's training-set result and, when it is valid, its cost."""

    train: Any  # EvalResult
    cost: Cost | None


def _seconds(r: Any) -> np.ndarray:
    """Return a result's per-instance CPU seconds."""
    return np.asarray(r.seconds, float)


def _timing(iset: InstanceSet, mine: list[np.ndarray], ref: list[np.ndarray], status: str,
            modes: tuple[str, str]) -> Timing:
    """Return one set's figures from its instances' seconds in each finished repeat of both sides."""
    k = iset.count
    rs = float(np.min(ref, axis=0).sum()) / k if ref else math.nan  # per instance, its fastest run
    if status != "ok" or not mine:
        return Timing(int(iset.n), k, status, None, rs, None, 0.0, *modes)
    cs = float(np.min(mine, axis=0).sum()) / k
    totals = [float(m.sum()) for m in mine]
    lo, hi = min(totals), max(totals)
    ratio = cs / rs if rs > 0 else math.inf
    return Timing(int(iset.n), k, "ok", cs, rs, ratio, (hi - lo) / lo if lo > 0 else 0.0, *modes)


def fmt_seconds(s: float | None) -> str:
    """Return seconds in a short unit: ``12 µs``, ``3.4 ms``, ``1.2 s``."""
    if s is None or not math.isfinite(s):
        return "—"
    if s < 1e-3:
        return f"{s * 1e6:.3g} µs"
    return f"{s * 1e3:.3g} ms" if s < 1 else f"{s:.3g} s"


def over_budget(cost: Cost | None, cfg: CostConfig) -> str | None:
    """Return why a program exceeds the budget (one line), or None when it is within it or unmeasured."""
    if cost is None or cost.at_n is None:
        return None
    t = cost.at_n
    if t.status != "ok" or t.seconds is None:
        return f"over budget: did not finish {t.instances} instances of n = {t.n} ({t.status})"
    if cfg.budget_ms > 0:
        if 1000 * t.seconds > cfg.budget_ms:
            return f"over budget: {1000 * t.seconds:.3g} ms per instance at n = {t.n} > {cfg.budget_ms:g} ms"
        return None
    if t.ratio is not None and t.ratio > cfg.budget:
        return (f"over budget: {t.ratio:.3g} × {cfg.reference} at n = {t.n} (budget {cfg.budget:g} ×;"
                f" {fmt_seconds(t.seconds)} vs {fmt_seconds(t.reference_seconds)} per instance)")
    return None


def cost_set(cfg: CostConfig, task: Task | str | None = None) -> InstanceSet:
    """Return the generated instances of the task, of size ``cost.n``, every program is timed on."""
    per_class = max(1, math.ceil(cfg.instances / 20))
    iset = tasks.get(task).generate(cfg.n, per_class, COST_SET_SEED, name=f"cost_n{cfg.n}")
    return stratified(iset, cfg.instances)


def probe_sets(cfg: CostConfig, task: Task | str | None = None) -> list[InstanceSet]:
    """Return the scale-probe sets that exist (cut to ``cost.probe_instances``), smallest n first."""
    out = []
    for path in cfg.probe_sets if cfg.probe else ():
        if not Path(path).is_file():
            continue
        try:
            out.append(stratified(tasks.get(task).load(path), cfg.probe_instances))
        except InstanceFileError:
            continue
    return sorted(out, key=lambda s: int(s.n))


class CostMeter:
    """Assess programs: score on the training set, then time them against the reference.

    Parameters
    ----------
    sandbox
        Anything with ``submit(code, iset, entry=, timeout_s=, cascade=, seed=) -> Future``.
    reference
        The reference program's code (same entry name as the candidates).
    train
        The training set; ``cfg.train_instances`` of it (stratified) are timed.
    recorded
        Code hash → ``Cost.to_dict()`` of earlier measurements to reuse instead of timing (replay).
    objective
        The search objective (kept for the record; a program over the budget is never probed, as it
        can never be promoted).
    """

    def __init__(self, sandbox: Any, reference: str, cfg: CostConfig, train: InstanceSet, entry: str,
                 timeout_s: float, recorded: dict[str, dict] | None = None, objective: str = "gap",
                 compiled_reference: str | None = None, task: Task | str | None = None) -> None:
        self.task = tasks.get(task)
        self.sandbox = sandbox
        self.objective = objective
        self.reference = reference
        self.compiled_reference = compiled_reference  # the reference's numba twin, for compiled programs
        self.cfg = cfg
        self.entry = entry
        self.timeout_s = timeout_s
        self.train_timed = stratified(train, cfg.train_instances)
        self.at_n = cost_set(cfg, self.task)
        self.probes = [(s, Fitness(s, self.task)) for s in probe_sets(cfg, self.task)]
        self.recorded = dict(recorded or {})

    def submit(self, code: str, iset: InstanceSet, seed: int, timeout_s: float | None = None,
               cascade: Any = None) -> Future:
        """Queue one run in the sandbox."""
        with pyparse.LOCK:
            return self.sandbox.submit(code, iset, entry=self.entry, timeout_s=timeout_s or self.timeout_s,
                                       cascade=cascade, seed=seed, task=self.task)

    def time(self, code: str, iset: InstanceSet, repeats: int | None = None, mode: str = "python") -> Timing:
        """Time ``code`` against the reference on ``iset`` in interleaved pairs (blocking)."""
        return self.time_sets(code, [iset], repeats, mode)[0]

    def time_sets(self, code: str, sets: list[InstanceSet], repeats: int | None = None,
                  mode: str = "python") -> list[Timing]:
        """Time ``code`` against the reference on each set, all sets in one sandbox run per side and repeat.

        The sets are joined into one (so a repeat is one process for the program and one for the
        reference, not one per set), with ``len(sets)`` times the time limit; each set's figures come
        from its own instances. A program that ran compiled (``mode``) is timed against the
        reference's compiled twin when there is one (``evaluator.compiled_programs``), so both run in
        the same mode.
        """
        repeats = repeats or self.cfg.repeats
        compiled = mode == "compiled" and self.compiled_reference is not None
        reference = self.compiled_reference if compiled else self.reference
        if len(sets) > 1 and not all(type(s) is InstanceSet for s in sets):  # e.g. weighted: one by one
            return [self.time_sets(code, [s], repeats, mode)[0] for s in sets]
        joint = sets[0] if len(sets) == 1 else from_arrays(
            [s.get(i) for s in sets for i in range(s.count)], name="+".join(s.name for s in sets))
        limit = self.timeout_s * len(sets)
        mine, ref, status, done = [], [], "ok", np.ones(joint.count, bool)
        for _ in range(repeats):  # one after the other: the pair shares the machine's state of the moment
            r = self.submit(reference, joint, next(_seeds), limit).result()
            c = self.submit(code, joint, next(_seeds), limit).result()
            if r.ok:
                ref.append(_seconds(r))
            mine.append(_seconds(c))  # a failed run still times the sets it finished
            if not c.ok:
                status, done = c.status, np.asarray(c.tardiness) != NOT_RUN
                break
        modes = (mode or "python", "compiled" if compiled else "python")
        out, a = [], 0
        for s in sets:
            part = slice(a, a + s.count)
            a += s.count
            ok = bool(done[part].all())
            runs = [m[part] for m in (mine if ok else ())]
            out.append(_timing(s, runs, [x[part] for x in ref], "ok" if ok else status, modes))
        return out

    def measure(self, code: str, train_gap: float | None, bar: float | None = None,
                mode: str = "python") -> Cost:
        """Time a valid program at the training size and at ``cost.n``; probe it when its training gap
        is below ``bar`` (the best of its island when its prompt was built). ``mode``: how it ran."""
        train, at_n = self.time_sets(code, [self.train_timed, self.at_n], mode=mode)
        probe: dict[str, dict[str, Any]] = {}
        slow = over_budget(Cost(train, at_n), self.cfg) is not None  # never promoted: not worth the probe
        if bar is not None and train_gap is not None and train_gap < bar and not slow:
            for iset, fit in self.probes:  # the program alone: its gap, and its seconds as a figure to show
                c = self.submit(code, iset, 0, self.cfg.probe_timeout_s).result()  # seed 0: the gap repeats
                sc = fit.score(c.status, c.error, c.tardiness, float(np.sum(c.seconds)))
                s = float(np.sum(c.seconds)) / iset.count if sc.ok else None
                probe[iset.name] = {"n": int(iset.n), "status": sc.status, "gap": sc.gap, "seconds": s}
        return Cost(train, at_n, probe)

    def assess(self, code: str, train: InstanceSet, fitness: Fitness, cascade: Any = None,
               bar: float | None = None) -> Assessment:
        """Score ``code`` on the training set and, when valid, measure its cost (blocking).

        A program whose code hash has a recorded measurement reuses it (replay: nothing is timed again).
        """
        r = self.submit(code, train, 0, None, cascade).result()
        sc = fitness.score(r.status, r.error, r.tardiness, float(np.sum(r.seconds)),
                           bool(getattr(r, "cut_short", False)))
        if not sc.ok:
            return Assessment(r, None)
        if self.recorded:
            with pyparse.LOCK:  # hashing parses (see evaluator.pyparse)
                h = code_hash(code)
        if self.recorded and h in self.recorded:
            return Assessment(r, Cost.from_dict(self.recorded[h]))
        return Assessment(r, self.measure(code, sc.gap, bar, getattr(r, "mode", "") or "python"))
