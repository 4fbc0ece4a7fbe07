"""Fitness: from a sandbox result on a set to a mean gap, per-class gaps and a behaviour signature."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from evaluator import tasks
from evaluator.instances import InstanceFileError, InstanceSet
from evaluator.sandbox.cascade import stratified_subset
from evaluator.task import Task


class SetError(ValueError):
    """A training or validation set that cannot be used; the message is one line."""


@dataclass(frozen=True)
class Score:
    """What a program achieved on a set; ``gap`` is None unless ``status == "ok"``."""

    status: str
    error: str
    gap: float | None
    per_class: dict[str, float] | None
    signature: str | None
    tardiness: np.ndarray | None
    seconds: float
    cost: Any = None  # discover.search.cost.Cost of a valid program, once measured

    @property
    def ok(self) -> bool:
        """True when the program ran validly on every instance."""
        return self.status == "ok"


def stratified(iset: InstanceSet, count: int) -> InstanceSet:
    """Return ``count`` instances taken round-robin over the (RDD, TF) classes, in set order."""
    if count <= 0 or count >= iset.count:
        return iset
    return iset.subset(stratified_subset(iset, count), name=f"{iset.name}[{count}]")


def load_scoring_set(path: str | Path, subset: int, field: str,
                     task: Task | str | None = None) -> InstanceSet:
    """Load a set of the task for scoring, keep a stratified subset, and check it has optima."""
    try:
        iset = tasks.get(task).load(path)
    except InstanceFileError as e:
        raise SetError(f"{field} = {str(path)!r}: {e}") from None
    iset = stratified(iset, subset)
    if not np.any(iset.opt > 0):
        raise SetError(f"{field} = {str(path)!r}: no instance has a known positive optimum, so no gap"
                       " can be computed")
    return iset


def _class_key(r: float, t: float) -> str:
    return f"rdd={r:g},tf={t:g}"


class Fitness:
    """Turn per-instance objective values on one set into scores (the task's gap convention)."""

    def __init__(self, iset: InstanceSet, task: Task | str | None = None) -> None:
        self.iset = iset
        self.task = tasks.get(task)
        self.opt = iset.opt.astype(np.float64)
        self.mask = iset.opt > 0
        classes = iset.classes()
        index = {c: k for k, c in enumerate(classes)}
        self.class_of = np.array([index[(r, t)] for r, t in zip(iset.rdd.tolist(), iset.tf.tolist(),
                                                                  strict=True)], dtype=np.int64)
        self.class_keys = [_class_key(r, t) for r, t in classes]
        self.class_n = np.bincount(self.class_of[self.mask], minlength=len(classes))

    def gaps(self, tardiness: np.ndarray) -> np.ndarray:
        """Return per-instance gaps % (NaN where the optimum is unknown or zero)."""
        return self.task.gaps(tardiness, self.iset.opt)

    def score(self, status: str, error: str, tardiness: np.ndarray, seconds: float,
              cut_short: bool = False) -> Score:
        """Score one sandbox result; an ``ok`` result with an invalid order becomes ``invalid_output``."""
        if status == "ok" and cut_short:
            return Score("cut_short", error or "stopped early by the cascade: clearly worse than the"
                         " threshold on the first instances", None, None, None, None, seconds)
        if status != "ok":
            return Score(status, error or status, None, None, None, None, seconds)
        t = np.asarray(tardiness, dtype=np.int64)
        if t.shape != (self.iset.count,):
            return Score("error", f"expected {self.iset.count} results, got {t.shape}", None, None, None,
                         None, seconds)
        bad = np.flatnonzero(t < 0)
        if bad.size:
            return Score("invalid_output", f"not a permutation of range(n) on instance {int(bad[0])}",
                         None, None, None, None, seconds)
        g = np.where(self.mask, self.task.gaps(t, self.opt), 0.0)
        per = np.bincount(self.class_of, weights=g, minlength=len(self.class_keys))
        per_class = {k: round(float(per[i] / self.class_n[i]), 10)
                     for i, k in enumerate(self.class_keys) if self.class_n[i]}
        gap = round(float(g.sum() / self.mask.sum()), 10)
        sig = hashlib.blake2b(t.astype("<i8").tobytes(), digest_size=10).hexdigest()
        return Score("ok", "", gap, per_class, sig, t, seconds)
