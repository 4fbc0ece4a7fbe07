"""Weighted instance sets: the OR-Library JSON format (p, w, d, opt, proven) and the generator.

A ``WeightedSet`` is an ``evaluator.instances.InstanceSet`` (p, d, offsets, opt) plus flat int64
weights ``w`` and a per-instance ``proven`` flag: ``opt`` is optimal where ``proven`` is true and
best known otherwise. Files are read with the ΣT_j loader (its checks of p, d and opt) and the
weights are checked on top of it, with the same one-line messages naming file, instance and field.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from evaluator.instances import InstanceFileError, InstanceSet, from_arrays, load_set

OBJECTIVE = "total weighted tardiness"
RDD_GRID = (0.2, 0.4, 0.6, 0.8, 1.0)  # OR-Library's grids (Crauwels, Potts & Van Wassenhove)
TF_GRID = (0.2, 0.4, 0.6, 0.8, 1.0)


@dataclass(frozen=True, eq=False)
class WeightedSet:
    """Instances of 1||Σw_jT_j: ``base`` holds p, d, offsets and opt; ``w`` is flat like ``base.p``."""

    base: InstanceSet
    w: np.ndarray
    proven: np.ndarray

    def __post_init__(self) -> None:
        self.w.setflags(write=False)
        self.proven.setflags(write=False)

    name = property(lambda self: self.base.name)
    source = property(lambda self: self.base.source)
    p = property(lambda self: self.base.p)
    d = property(lambda self: self.base.d)
    offsets = property(lambda self: self.base.offsets)
    opt = property(lambda self: self.base.opt)
    rdd = property(lambda self: self.base.rdd)
    tf = property(lambda self: self.base.tf)
    extras = property(lambda self: self.base.extras)
    count = property(lambda self: self.base.count)
    n = property(lambda self: self.base.n)
    sizes = property(lambda self: self.base.sizes)
    has_opt = property(lambda self: self.base.has_opt)

    def __len__(self) -> int:
        return self.count

    def classes(self) -> list[tuple[float, float]]:
        """Return the distinct (rdd, tf) classes in order of first appearance."""
        return self.base.classes()

    def subset(self, indices: Any, name: str | None = None) -> WeightedSet:
        """Return a new set made of the given instance indices, in that order."""
        idx = np.asarray(indices, dtype=np.int64)
        w = [self.w[self.offsets[i]:self.offsets[i + 1]] for i in idx]
        return WeightedSet(self.base.subset(idx, name), np.concatenate(w) if w else np.zeros(0, np.int64),
                           self.proven[idx].copy())

    def get(self, i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return (p, w, d) of instance ``i`` as read-only views."""
        a, b = self.offsets[i], self.offsets[i + 1]
        return self.p[a:b], self.w[a:b], self.d[a:b]

    def sha256(self) -> str:
        """Return a digest of offsets, p, w, d and opt."""
        h = hashlib.sha256()
        for a in (self.offsets, self.p, self.w, self.d, self.opt):
            h.update(np.ascontiguousarray(a, dtype="<i8").tobytes())
        return h.hexdigest()

    def to_dict(self) -> dict[str, Any]:
        body = self.base.to_dict()
        for i, item in enumerate(body["instances"]):
            a, b = self.offsets[i], self.offsets[i + 1]
            item.pop("proven", None)
            ordered = {"p": item.pop("p"), "w": self.w[a:b].tolist(), "d": item.pop("d")}
            if "opt" in item:
                ordered["opt"] = item.pop("opt")
                ordered["proven"] = bool(self.proven[i])
            ordered.update(item)
            body["instances"][i] = ordered
        head = {k: v for k, v in body.items() if k != "instances"}
        head["objective"] = OBJECTIVE
        head["instances"] = body["instances"]
        return head


def is_weighted_file(path: str | os.PathLike[str]) -> bool:
    """Whether a set file holds weighted instances (an ``objective`` naming them, or a ``w`` field).

    A file that cannot be read as JSON is not weighted; the ΣT_j loader then names the problem.
    """
    try:
        raw = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False
    return is_weighted(raw)


def is_weighted(raw: Any) -> bool:
    """Whether a parsed set file holds weighted instances (see ``is_weighted_file``)."""
    if not isinstance(raw, dict):
        return False
    if raw.get("objective") == OBJECTIVE:
        return True
    inst = raw.get("instances")
    return isinstance(inst, list) and bool(inst) and isinstance(inst[0], dict) and "w" in inst[0]


def _int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def load_weighted(path: str | os.PathLike[str]) -> WeightedSet:
    """Read and validate a weighted set file; raise InstanceFileError with one clear line on bad input."""
    path = Path(path)
    base = load_set(path)
    extras = base.extras or tuple({} for _ in range(base.count))
    w_parts, proven, kept = [], [], []
    for i, ex in enumerate(extras):
        where = f"{path.name}: instance {i}: "
        w = ex.get("w")
        n_i = int(base.offsets[i + 1] - base.offsets[i])
        if not isinstance(w, list):
            raise InstanceFileError(where + f"field w = {w!r} must be a list of positive integer weights")
        if len(w) != n_i:
            raise InstanceFileError(where + f"w has {len(w)} weights but p has {n_i} jobs")
        for k, x in enumerate(w):
            if not _int(x) or x <= 0:
                raise InstanceFileError(where + f"weight w[{k}] = {x!r} must be a positive integer")
        pr = ex.get("proven", bool(base.opt[i] >= 0))
        if not isinstance(pr, bool):
            raise InstanceFileError(where + f"field proven = {pr!r} must be true or false")
        if pr and base.opt[i] < 0:
            raise InstanceFileError(where + "field proven is true but the instance has no opt")
        w_parts.append(np.asarray(w, dtype=np.int64))
        proven.append(pr)
        kept.append({k: v for k, v in ex.items() if k not in ("w", "proven")})
    w_flat = np.concatenate(w_parts) if w_parts else np.zeros(0, np.int64)
    base = InstanceSet(name=base.name, source=base.source, p=base.p, d=base.d, offsets=base.offsets,
                       opt=base.opt, rdd=base.rdd, tf=base.tf, extras=tuple(kept) if any(kept) else ())
    return WeightedSet(base, w_flat, np.array(proven, dtype=np.bool_))


def weighted_from_arrays(items: list[tuple[Any, Any, Any]], name: str = "set", source: str = "",
                         opt: Any = None, proven: Any = None, rdd: Any = None, tf: Any = None) -> WeightedSet:
    """Build a weighted set from a list of (p, w, d) triples."""
    base = from_arrays([(p, d) for p, _, d in items], name=name, source=source, opt=opt, rdd=rdd, tf=tf)
    w = (np.concatenate([np.asarray(w, dtype=np.int64) for _, w, _ in items]) if items
         else np.zeros(0, np.int64))
    pr = base.opt >= 0 if proven is None else np.array(proven, dtype=np.bool_)
    return WeightedSet(base, w, pr)


def generate_weighted(n: int, per_class: int, seed: int, rdd_grid: tuple[float, ...] = RDD_GRID,
                      tf_grid: tuple[float, ...] = TF_GRID, name: str | None = None) -> WeightedSet:
    """Draw a set after the OR-Library scheme, class by class (RDD outer, TF inner).

    Per instance: p uniform on 1..100, then w uniform on 1..10, then d uniform on
    [⌊P(1−TF−RDD/2)⌋, ⌊P(1−TF+RDD/2)⌋] with P = Σp, clipped at 0.
    """
    if n < 1 or per_class < 1:
        raise ValueError(f"n = {n} and per_class = {per_class} must both be at least 1")
    rng = np.random.Generator(np.random.PCG64(seed))
    items, rdds, tfs = [], [], []
    for rdd in rdd_grid:
        for tf in tf_grid:
            for _ in range(per_class):
                p = rng.integers(1, 101, size=n, dtype=np.int64)
                w = rng.integers(1, 11, size=n, dtype=np.int64)
                total = int(p.sum())
                lo = math.floor(total * (1 - tf - rdd / 2))
                hi = math.floor(total * (1 - tf + rdd / 2))
                d = np.maximum(rng.integers(lo, hi + 1, size=n, dtype=np.int64), 0)
                items.append((p, w, d))
                rdds.append(round(float(rdd), 10))
                tfs.append(round(float(tf), 10))
    return weighted_from_arrays(
        items, name=name or f"generated_wt_n{n}_s{seed}",
        source=f"discover generator (OR-Library weighted scheme), n={n}, per_class={per_class}, seed={seed}",
        rdd=rdds, tf=tfs)
