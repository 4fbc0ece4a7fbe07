"""Instance sets for 1||ΣT_j: one in-memory form, JSON load/save, and the generator.

A set is stored as flat int64 arrays with CSR-style offsets so that a numba kernel can
process the whole set in one call: instance ``i`` owns ``p[offsets[i]:offsets[i+1]]``.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

UNKNOWN = -1  # marker for an unknown optimum in ``InstanceSet.opt``

DEFAULT_RDD = (0.2, 0.4, 0.6, 0.8, 1.0)
DEFAULT_TF = (0.2, 0.4, 0.6, 0.8)


class InstanceFileError(ValueError):
    """A set file that cannot be read; the message is one line naming file, instance and field."""


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


class _InstanceModel(BaseModel):
    """One instance as it stands in a set file; validators phrase errors for people."""

    model_config = ConfigDict(extra="allow")

    p: list[Any]
    d: list[Any]
    opt: Any = None
    rdd: Any = None
    tf: Any = None

    @field_validator("p")
    @classmethod
    def _positive_ints(cls, v: list[Any]) -> list[int]:
        if len(v) < 1:
            raise ValueError("p must hold at least one processing time")
        for k, x in enumerate(v):
            if not _is_int(x) or x <= 0:
                raise ValueError(f"processing time p[{k}] = {x!r} must be a positive integer")
        return v

    @field_validator("d")
    @classmethod
    def _ints(cls, v: list[Any]) -> list[int]:
        for k, x in enumerate(v):
            if not _is_int(x):
                raise ValueError(f"due date d[{k}] = {x!r} must be an integer")
        return v

    @field_validator("opt")
    @classmethod
    def _opt(cls, v: Any) -> Any:
        if v is not None and (not _is_int(v) or v < 0):
            raise ValueError(f"opt = {v!r} must be a non-negative integer or null")
        return v

    @field_validator("rdd", "tf")
    @classmethod
    def _finite(cls, v: Any, info: Any) -> Any:
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v)):
            raise ValueError(f"{info.field_name} = {v!r} must be a finite number or null")
        return v


@dataclass(frozen=True, eq=False)
class InstanceSet:
    """A batch of instances in flat arrays.

    Parameters
    ----------
    name, source
        Identification carried through to reports.
    p, d
        Flat int64 processing times and due dates of all instances, concatenated.
    offsets
        int64 array of length ``count + 1``; instance ``i`` is ``p[offsets[i]:offsets[i+1]]``.
    opt
        int64 per instance, ``UNKNOWN`` (-1) where no optimum is known.
    rdd, tf
        float64 per instance, NaN where the generator class is unknown.
    extras
        Per-instance fields beyond the standard ones (kept for round-trips).
    """

    name: str
    source: str
    p: np.ndarray
    d: np.ndarray
    offsets: np.ndarray
    opt: np.ndarray
    rdd: np.ndarray
    tf: np.ndarray
    extras: tuple[dict[str, Any], ...] = field(default=())

    def __post_init__(self) -> None:
        for a in (self.p, self.d, self.offsets, self.opt, self.rdd, self.tf):
            a.setflags(write=False)

    @property
    def count(self) -> int:
        return len(self.offsets) - 1

    def __len__(self) -> int:
        return self.count

    @property
    def sizes(self) -> np.ndarray:
        return np.diff(self.offsets)

    @property
    def n(self) -> int | None:
        """The common number of jobs, or None when sizes differ."""
        s = self.sizes
        return int(s[0]) if len(s) and np.all(s == s[0]) else None

    def get(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """Return (p, d) of instance ``i`` as read-only views."""
        a, b = self.offsets[i], self.offsets[i + 1]
        return self.p[a:b], self.d[a:b]

    @property
    def has_opt(self) -> np.ndarray:
        return self.opt >= 0

    def classes(self) -> list[tuple[float, float]]:
        """Return the distinct (rdd, tf) classes in order of first appearance."""
        seen: dict[tuple[float, float], None] = {}
        for r, t in zip(self.rdd.tolist(), self.tf.tolist(), strict=True):
            seen.setdefault((r, t), None)
        return list(seen)

    def sha256(self) -> str:
        """Return a digest of the instance data and optima (not of names or extras)."""
        h = hashlib.sha256()
        for a in (self.offsets, self.p, self.d, self.opt):
            h.update(np.ascontiguousarray(a, dtype="<i8").tobytes())
        return h.hexdigest()

    def subset(self, indices: Any, name: str | None = None) -> InstanceSet:
        """Return a new set made of the given instance indices, in that order."""
        idx = np.asarray(indices, dtype=np.int64)
        items = [self.get(int(i)) for i in idx]
        return from_arrays(
            items, name=name or self.name, source=self.source,
            opt=self.opt[idx], rdd=self.rdd[idx], tf=self.tf[idx],
            extras=[self.extras[i] for i in idx] if self.extras else None,
        )

    def with_fields(self, **changes: Any) -> InstanceSet:
        """Return a copy with some arrays replaced (e.g. ``opt``)."""
        kw = {k: getattr(self, k) for k in self.__dataclass_fields__}
        kw.update(changes)
        for k in ("opt",):
            kw[k] = np.array(kw[k], dtype=np.int64)
        return InstanceSet(**kw)

    def to_dict(self) -> dict[str, Any]:
        out = []
        for i in range(self.count):
            p, d = self.get(i)
            item: dict[str, Any] = {"p": p.tolist(), "d": d.tolist()}
            if self.opt[i] >= 0:
                item["opt"] = int(self.opt[i])
            if not math.isnan(self.rdd[i]):
                item["rdd"] = float(self.rdd[i])
            if not math.isnan(self.tf[i]):
                item["tf"] = float(self.tf[i])
            if self.extras:
                item.update(self.extras[i])
            out.append(item)
        head: dict[str, Any] = {"name": self.name, "source": self.source}
        if self.n is not None:
            head["n"] = self.n
        head["count"] = self.count
        head["instances"] = out
        return head


def from_arrays(
    items: list[tuple[Any, Any]],
    name: str = "set",
    source: str = "",
    opt: Any = None,
    rdd: Any = None,
    tf: Any = None,
    extras: list[dict[str, Any]] | None = None,
) -> InstanceSet:
    """Build a set from a list of (p, d) pairs."""
    count = len(items)
    sizes = np.array([len(p) for p, _ in items], dtype=np.int64)
    offsets = np.zeros(count + 1, dtype=np.int64)
    np.cumsum(sizes, out=offsets[1:])
    p = np.concatenate([np.asarray(a, dtype=np.int64) for a, _ in items]) if count else np.zeros(0, np.int64)
    d = np.concatenate([np.asarray(b, dtype=np.int64) for _, b in items]) if count else np.zeros(0, np.int64)
    return InstanceSet(
        name=name, source=source, p=p, d=d, offsets=offsets,
        opt=np.full(count, UNKNOWN, np.int64) if opt is None else np.array(opt, dtype=np.int64),
        rdd=np.full(count, np.nan) if rdd is None else np.array(rdd, dtype=np.float64),
        tf=np.full(count, np.nan) if tf is None else np.array(tf, dtype=np.float64),
        extras=tuple(extras) if extras else (),
    )


def _fail(path: Path, where: str, msg: str) -> InstanceFileError:
    return InstanceFileError(f"{path.name}: {where}{msg}")


def load_set(path: str | os.PathLike[str]) -> InstanceSet:
    """Read and validate a set file; raise InstanceFileError with one clear line on bad input."""
    return _read(Path(path), collect=None)


def find_problems(path: str | os.PathLike[str]) -> list[str]:
    """Return one line per invalid instance of a set file (empty if the file is valid)."""
    problems: list[str] = []
    try:
        _read(Path(path), collect=problems)
    except InstanceFileError as e:
        problems.append(str(e))
    return problems


def _read(path: Path, collect: list[str] | None) -> InstanceSet:
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError:
        raise _fail(path, "", "no such file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise _fail(path, "", f"cannot read: {e}") from None
    except json.JSONDecodeError as e:
        raise _fail(path, "", f"invalid JSON at line {e.lineno} column {e.colno}: {e.msg}") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("instances"), list):
        raise _fail(path, "", "field 'instances' must be a list of instances")
    items, opt, rdd, tf, extras = [], [], [], [], []
    for i, inst in enumerate(raw["instances"]):
        if not isinstance(inst, dict):
            raise _fail(path, f"instance {i}: ", "must be an object with fields p and d")
        try:
            m = _InstanceModel.model_validate(inst)
        except ValidationError as e:
            err = e.errors()[0]
            ctx_err = err.get("ctx", {}).get("error")
            loc = ".".join(str(x) for x in err["loc"])
            msg = str(ctx_err) if ctx_err is not None else f"field {loc}: {err['msg']}"
            if collect is None:
                raise _fail(path, f"instance {i}: ", msg) from None
            collect.append(str(_fail(path, f"instance {i}: ", msg)))
            continue
        if len(m.p) != len(m.d):
            problem = _fail(path, f"instance {i}: ", f"p has {len(m.p)} jobs but d has {len(m.d)}")
            if collect is None:
                raise problem
            collect.append(str(problem))
            continue
        items.append((m.p, m.d))
        opt.append(UNKNOWN if m.opt is None else m.opt)
        rdd.append(np.nan if m.rdd is None else float(m.rdd))
        tf.append(np.nan if m.tf is None else float(m.tf))
        extras.append(dict(m.model_extra or {}))
    count = raw.get("count")
    if count is not None and count != len(raw["instances"]):
        raise _fail(path, "", f"field count = {count!r} but the file holds {len(raw['instances'])} instances")
    n = raw.get("n")
    if n is not None and any(len(p) != n for p, _ in items):
        bad = next(i for i, (p, _) in enumerate(items) if len(p) != n)
        raise _fail(path, f"instance {bad}: ", f"has {len(items[bad][0])} jobs but field n = {n!r}")
    name = raw.get("name")
    return from_arrays(
        items, name=name if isinstance(name, str) else path.stem, source=str(raw.get("source", "")),
        opt=opt, rdd=rdd, tf=tf, extras=extras if any(extras) else None,
    )


def dumps_set(iset: InstanceSet) -> str:
    """Serialise compactly and deterministically (same set → same bytes)."""
    return json.dumps(iset.to_dict(), separators=(",", ":")) + "\n"


def write_atomic(path: str | os.PathLike[str], text: str) -> None:
    """Write text to path through a temporary file and a rename: never half-written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; these are ordinary, shareable files
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_set(iset: InstanceSet, path: str | os.PathLike[str]) -> None:
    """Write a set in the shared benchmark JSON format, atomically."""
    write_atomic(path, dumps_set(iset))


def generate(
    n: int,
    per_class: int,
    seed: int,
    rdd_grid: tuple[float, ...] = DEFAULT_RDD,
    tf_grid: tuple[float, ...] = DEFAULT_TF,
    keep_negative: bool = False,
    name: str | None = None,
) -> InstanceSet:
    """Draw a set with the Potts–Van Wassenhove scheme, class by class (RDD outer, TF inner).

    p is uniform on 1..100; d is uniform on [⌊P(1−TF−RDD/2)⌋, ⌊P(1−TF+RDD/2)⌋] with P = Σp,
    clipped at 0 unless ``keep_negative``.
    """
    if n < 1 or per_class < 1:
        raise ValueError(f"n = {n} and per_class = {per_class} must both be at least 1")
    rng = np.random.Generator(np.random.PCG64(seed))
    items, rdds, tfs = [], [], []
    for rdd in rdd_grid:
        for tf in tf_grid:
            for _ in range(per_class):
                p = rng.integers(1, 101, size=n, dtype=np.int64)
                total = int(p.sum())
                lo = math.floor(total * (1 - tf - rdd / 2))
                hi = math.floor(total * (1 - tf + rdd / 2))
                d = rng.integers(lo, hi + 1, size=n, dtype=np.int64)
                if not keep_negative:
                    d = np.maximum(d, 0)
                items.append((p, d))
                rdds.append(round(float(rdd), 10))
                tfs.append(round(float(tf), 10))
    return from_arrays(
        items, name=name or f"generated_n{n}_s{seed}",
        source=f"discover generator (Potts-Van Wassenhove), n={n}, per_class={per_class}, seed={seed}",
        rdd=rdds, tf=tfs,
    )
