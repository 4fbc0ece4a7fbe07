"""Cascade scoring: a small stratified subset first, the rest only if the candidate looks good enough."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from evaluator.instances import InstanceSet
from evaluator.scoring import gaps_pct


@dataclass(frozen=True)
class Cascade:
    """Score ``subset`` instances first; stop when their score exceeds ``threshold``.

    The subset takes instances round-robin from the set's (RDD, TF) classes in file order, so
    every class is represented; it is the same for the same set. Its score is the mean gap %
    to ``opt`` over the subset's instances with ``opt > 0`` when there is at least one such
    instance, otherwise the mean total tardiness. When the score is strictly above
    ``threshold`` the evaluation stops there: the result has ``cut_short=True``, the subset's
    values, and -1 elsewhere. ``threshold=inf`` never stops early. A subset at least as large as
    the set disables the cascade.

    Raises
    ------
    ValueError
        If ``subset`` is below 1 or ``threshold`` is NaN.
    """

    subset: int = 200
    threshold: float = math.inf

    def __post_init__(self) -> None:
        if int(self.subset) != self.subset or self.subset < 1:
            raise ValueError(f"cascade subset = {self.subset!r} must be a positive integer")
        if math.isnan(self.threshold):
            raise ValueError("cascade threshold must be a number, not NaN")

    def key(self) -> str:
        """Return a stable text form for cache keys."""
        return f"{int(self.subset)}:{float(self.threshold)!r}"

    def indices(self, iset: InstanceSet) -> np.ndarray:
        """Return the sorted indices of the stratified subset of ``iset``."""
        return stratified_subset(iset, int(self.subset))

    def score(self, tardiness: np.ndarray, iset: InstanceSet, idx: np.ndarray) -> float:
        """Return the subset's score: mean gap % where optima > 0 are known, else mean tardiness."""
        t = np.asarray(tardiness, dtype=np.int64)[idx]
        opt = iset.opt[idx]
        if np.any(opt > 0):
            g = gaps_pct(t, opt)
            g = g[~np.isnan(g)]
            return float(g.mean()) if g.size else math.inf
        valid = t[t >= 0]
        return float(valid.mean()) if valid.size else math.inf

    def stops(self, tardiness: np.ndarray, iset: InstanceSet, idx: np.ndarray) -> bool:
        """Say whether the subset's score is clearly worse than the threshold."""
        return self.score(tardiness, iset, idx) > self.threshold


def stratified_subset(iset: InstanceSet, k: int) -> np.ndarray:
    """Return ``k`` sorted instance indices taken round-robin over the (RDD, TF) classes, in set order.

    The classes are taken in order of first appearance; instances with an unknown RDD or TF form one
    class. ``k`` of 0 or below, or at least the set's size, means every instance.
    """
    count = iset.count
    if k <= 0 or k >= count:
        return np.arange(count, dtype=np.int64)
    groups: dict[tuple[float, float] | None, list[int]] = {}
    for i, key in enumerate(zip(iset.rdd.tolist(), iset.tf.tolist(), strict=True)):
        groups.setdefault(None if any(map(math.isnan, key)) else key, []).append(i)
    picked: list[int] = []
    depth = 0
    while len(picked) < k:
        for members in groups.values():
            if depth < len(members) and len(picked) < k:
                picked.append(members[depth])
        depth += 1
    return np.array(sorted(picked), dtype=np.int64)
