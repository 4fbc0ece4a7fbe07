"""Brute-force references shared by the tests: ΣT of a sequence recomputed from scratch with numpy."""

from __future__ import annotations

import numpy as np


def brute_tt(p, d, seq) -> int:
    """Return Σ max(0, C_j - d_j) of the jobs in ``seq`` processed in that order from time 0."""
    seq = list(seq)
    p, d = np.asarray(p), np.asarray(d)
    return int(np.maximum(np.cumsum(p[seq]) - d[seq], 0).sum()) if seq else 0
