"""The toolkit a candidate heuristic may import: ``from evaluator.helpers import insertion_pass``.

Every helper works the same from plain Python and from inside a candidate's ``@njit`` function:

- called from Python, it checks its inputs (integers, equal lengths, distinct jobs in range,
  positions in range), converts them to int64 arrays (copying all but int64 arrays it only
  reads) and never writes into the caller's arrays;
- called from njit code, the same name compiles to a direct call of its numba kernel (registered
  with ``numba.extending.overload``); the kernels are also exported as ``<name>_nb`` dispatchers.
  In njit code the passes modify ``order`` in place (and return it).

Terms (see ``evaluator.moves``): an *order* is a sequence of distinct jobs (a permutation of
0..n-1, or a partial schedule) processed from time 0; positions index the order, jobs index p and d.
``warm()`` compiles (or loads from the cache) every kernel for the argument types a candidate
passes: the sandbox worker calls it before confinement, after which nothing new can be compiled.

A candidate can reach every name of this module, so at module level it binds only allowed modules
(numpy, operator), the helpers and their kernels; ``inspect`` and ``numba.extending`` are imported
inside the functions that use them.
"""

from __future__ import annotations

import operator

import numpy as np

from evaluator.heuristics import edd as edd_order_nb
from evaluator.heuristics import mdd as mdd_order_nb
from evaluator.moves import adjacent_swap_pass as adjacent_swap_pass_nb
from evaluator.moves import completion_times as completion_times_nb
from evaluator.moves import insertion_pass as insertion_pass_nb
from evaluator.moves import job_tardiness as job_tardiness_nb
from evaluator.moves import move_delta as move_delta_nb
from evaluator.moves import order_problem as _order_problem
from evaluator.moves import pairwise_swap_pass as pairwise_swap_pass_nb
from evaluator.moves import swap_delta as swap_delta_nb
from evaluator.moves import total_tardiness as total_tardiness_nb

__all__ = [
    "total_tardiness", "completion_times", "job_tardiness", "move_delta", "swap_delta", "insertion_pass",
    "adjacent_swap_pass", "pairwise_swap_pass", "mdd_order", "edd_order",
    "total_tardiness_nb", "completion_times_nb", "job_tardiness_nb", "move_delta_nb", "swap_delta_nb",
    "insertion_pass_nb", "adjacent_swap_pass_nb", "pairwise_swap_pass_nb", "mdd_order_nb", "edd_order_nb",
]


def _ints(a, name: str, copy: bool) -> np.ndarray:
    """Return ``a`` as a 1-D C-contiguous int64 array: ``a`` itself if it is one already (a writable
    one for an order: the kernels are warmed for read-only p and d only), else a converted copy; with
    ``copy`` (the passes write into the order), always a fresh copy."""
    if (type(a) is np.ndarray and a.dtype == np.int64 and a.ndim == 1 and a.flags.c_contiguous
            and (a.flags.writeable or name != "order")):
        return a.copy() if copy else a
    raw = np.asarray(a)
    if raw.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {raw.shape}")
    if raw.size and raw.dtype.kind not in "iu":
        raise TypeError(f"{name} must hold integers, got dtype {raw.dtype}")
    return np.array(raw, dtype=np.int64, copy=True)


def _instance(p, d) -> tuple[np.ndarray, np.ndarray]:
    p, d = _ints(p, "p", False), _ints(d, "d", False)
    if p.shape != d.shape:
        raise ValueError(f"p and d must have equal length, got {p.shape[0]} and {d.shape[0]}")
    return p, d


def _order(order, n: int, copy: bool = False) -> np.ndarray:
    seq = _ints(order, "order", copy)
    problem = _order_problem(n, seq)
    if problem == 1:
        raise ValueError(f"order holds a job index outside 0..{n - 1}")
    if problem == 2:
        raise ValueError("order holds a job more than once")
    return seq


def _positions(seq: np.ndarray, i, j) -> tuple[int, int]:
    i, j = operator.index(i), operator.index(j)
    for name, v in (("i", i), ("j", j)):
        if not 0 <= v < seq.size:
            raise IndexError(f"position {name} = {v} is outside 0..{seq.size - 1}")
    return i, j


def total_tardiness(p, d, order) -> int:
    """Return ΣT = Σ_k max(0, C_k − d[order[k]]) of an order (a permutation or a partial one); O(n).

    Raises ValueError when p and d differ in length or the order holds a job twice
    or outside 0..n-1.
    """
    p, d = _instance(p, d)
    return int(total_tardiness_nb(p, d, _order(order, p.size)))


def completion_times(p, order) -> np.ndarray:
    """Return the completion time C_k of each position k of the order (int64 array); O(n)."""
    p = _ints(p, "p", False)
    return completion_times_nb(p, _order(order, p.size))


def job_tardiness(p, d, order) -> np.ndarray:
    """Return the tardiness max(0, C_k − d[order[k]]) of each position k of the order; O(n)."""
    p, d = _instance(p, d)
    return job_tardiness_nb(p, d, _order(order, p.size))


def move_delta(p, d, order, i, j) -> int:
    """Return the change of ΣT (< 0: better) of order.insert(j, order.pop(i)), a job moved; O(n).

    The move is ``x = order.pop(i); order.insert(j, x)``: for j > i the jobs at positions i+1..j
    move one place earlier, for j < i those at j..i-1 one place later. O(max(i, j)) ≤ O(n), from a
    prefix sum of p. Raises IndexError when i or j is outside 0..len(order)-1.
    """
    p, d = _instance(p, d)
    seq = _order(order, p.size)
    i, j = _positions(seq, i, j)
    return int(move_delta_nb(p, d, seq, i, j))


def swap_delta(p, d, order, i, j) -> int:
    """Return the change of ΣT (< 0: better) of exchanging order[i] and order[j]; O(n).

    Exactly O(max(i, j)). Raises IndexError when i or j is outside 0..len(order)-1.
    """
    p, d = _instance(p, d)
    seq = _order(order, p.size)
    i, j = _positions(seq, i, j)
    return int(swap_delta_nb(p, d, seq, i, j))


def insertion_pass(p, d, order) -> tuple[np.ndarray, int]:
    """Return (order, ΣT) after one best-insertion pass: each job once to its best position; O(n²).

    Jobs are visited once each, in the order they have at the start of the pass; the visited job
    moves to the position j of least ``move_delta`` if that is negative (ties: smallest j), at
    once, so later jobs see the new order. O(n²) per pass. Repeat until ΣT stops falling for a
    local optimum. From Python the result is a new array; in njit code ``order`` is changed in place.
    """
    p, d = _instance(p, d)
    seq, total = insertion_pass_nb(p, d, _order(order, p.size, copy=True))
    return seq, int(total)


def adjacent_swap_pass(p, d, order) -> tuple[np.ndarray, int]:
    """Return (order, ΣT) after one adjacent-interchange pass (k = 0..n-2, first improvement); O(n).

    For k = 0, 1, ..., n-2 in turn the jobs at positions k and k+1 are exchanged if that strictly
    lowers ΣT, at once (so a job may travel several places right in one pass). O(n) per pass.
    From Python the result is a new array; in njit code ``order`` is changed in place.
    """
    p, d = _instance(p, d)
    seq, total = adjacent_swap_pass_nb(p, d, _order(order, p.size, copy=True))
    return seq, int(total)


def pairwise_swap_pass(p, d, order) -> tuple[np.ndarray, int]:
    """Return (order, ΣT) after one pairwise-interchange pass (all i < j, first improvement); O(n³).

    Position pairs (i, j), i < j, are scanned in lexicographic order; whenever exchanging the jobs
    at i and j strictly lowers ΣT they are exchanged at once and the scan goes on with (i, j+1).
    O(n³) per pass (O(j − i) per pair). From Python the result is a new array; in njit code
    ``order`` is changed in place.
    """
    p, d = _instance(p, d)
    seq, total = pairwise_swap_pass_nb(p, d, _order(order, p.size, copy=True))
    return seq, int(total)


def mdd_order(p, d) -> np.ndarray:
    """Return the MDD order: append the unscheduled job of least max(d_j, t + p_j), lowest index; O(n²).

    Ties go to the lowest job index: the same order as the MDD baseline (``evaluator.heuristics.mdd``).
    """
    p, d = _instance(p, d)
    return mdd_order_nb(p, d)


def edd_order(p, d) -> np.ndarray:
    """Return the EDD order: jobs by due date, ties by job index (a stable sort); O(n log n).

    The same order as the EDD baseline (``evaluator.heuristics.edd``).
    """
    p, d = _instance(p, d)
    return edd_order_nb(p, d)


HELPERS = {
    total_tardiness: total_tardiness_nb, completion_times: completion_times_nb,
    job_tardiness: job_tardiness_nb, move_delta: move_delta_nb, swap_delta: swap_delta_nb,
    insertion_pass: insertion_pass_nb, adjacent_swap_pass: adjacent_swap_pass_nb,
    pairwise_swap_pass: pairwise_swap_pass_nb, mdd_order: mdd_order_nb, edd_order: edd_order_nb,
}
"""Each Python wrapper and the numba kernel its name stands for inside njit code."""


def _register(wrapper, kernel) -> None:
    from numba.extending import overload

    @overload(wrapper)
    def _impl(*args):
        return lambda *args: kernel(*args)


for _wrapper, _kernel in HELPERS.items():
    _register(_wrapper, _kernel)
del _wrapper, _kernel


def signature(fn) -> str:
    """Return ``name(args) -> returns`` of a helper, as its source declares it."""
    import inspect

    params = ", ".join(inspect.signature(fn).parameters)
    return f"{fn.__name__}({params}) -> {fn.__annotations__['return']}"


def summary(fn) -> str:
    """Return the first paragraph of a helper's docstring on one line."""
    import inspect

    return " ".join(inspect.getdoc(fn).split("\n\n")[0].split())


def describe() -> str:
    """Return the helpers for a prompt: per helper its signature, then its summary, indented."""
    return "\n".join(f"- {signature(fn)}\n  {summary(fn)}" for fn in HELPERS)


def warm() -> None:
    """Compile (or load from the cache) every kernel, for read-only and writable p and d."""
    import inspect

    p = np.array([2, 1, 3], np.int64)
    d = np.array([1, 4, 2], np.int64)
    for ro in (False, True):
        pp, dd = p.copy(), d.copy()
        if ro:
            pp.setflags(write=False)
            dd.setflags(write=False)
        values = {"p": pp, "d": dd, "i": 0, "j": 2}
        for wrapper, kernel in HELPERS.items():
            names = inspect.signature(kernel.py_func).parameters
            kernel(*(values.get(a, np.array([2, 0, 1], np.int64)) for a in names))
            wrapper(*(values.get(a, [2, 0, 1]) for a in inspect.signature(wrapper).parameters))
