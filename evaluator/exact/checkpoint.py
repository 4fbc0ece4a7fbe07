"""A results log that makes a long set solve resumable: one JSON line per solved instance.

Each line names the instance index and a digest of its data, so a log never feeds results to a
different set; lines are flushed and synced as they are written, so a crash loses at most the
instance being solved. A torn last line (the process was killed mid-write) is ignored.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from evaluator.exact.result import ExactResult, from_record, to_record
from evaluator.instances import InstanceSet


def instance_digest(p: np.ndarray, d: np.ndarray) -> str:
    """Return a short digest of one instance's data."""
    h = hashlib.sha256(np.ascontiguousarray(p, dtype="<i8").tobytes())
    h.update(np.ascontiguousarray(d, dtype="<i8").tobytes())
    return h.hexdigest()[:16]


def read_log(path: str | Path, iset: InstanceSet) -> dict[int, ExactResult]:
    """Return the results the log holds for this set (an absent log holds none).

    Raises
    ------
    ValueError
        If a complete line is not a record of an instance of this set (named by file and line).
    """
    path = Path(path)
    if not path.exists():
        return {}
    lines = path.read_text().split("\n")
    out: dict[int, ExactResult] = {}
    for no, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            if no == len(lines):  # the torn tail of an interrupted write
                break
            raise ValueError(f"{path}: line {no} is not JSON") from None
        try:
            i = int(rec["i"])
            if not 0 <= i < iset.count:
                raise ValueError(f"instance {i} is not in the set ({iset.count} instances)")
            if rec.get("digest") != instance_digest(*iset.get(i)):
                raise ValueError(f"instance {i} has other data than the set's (field digest)")
            out[i] = from_record(rec)
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"{path}: line {no}: {e}") from None
    return out


class ResultLog:
    """Appends results to a log file as they arrive."""

    def __init__(self, path: str | Path, iset: InstanceSet):
        self.path = Path(path)
        self.iset = iset
        if self.path.exists():  # cut a torn last line, so that the next record starts a line
            text = self.path.read_bytes()
            if text and not text.endswith(b"\n"):
                with open(self.path, "r+b") as f:
                    f.truncate(text.rfind(b"\n") + 1)

    def append(self, i: int, r: ExactResult) -> None:
        """Write one result, durably."""
        rec = {"i": i, "digest": instance_digest(*self.iset.get(i)), **to_record(r)}
        with open(self.path, "a") as f:
            f.write(json.dumps(rec, separators=(",", ":")) + "\n")
            f.flush()
            os.fsync(f.fileno())
