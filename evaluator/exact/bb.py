"""Exact 1||ΣT_j by a memoised Lawler decomposition ("Branch & Memorize light")."""

from __future__ import annotations

import time

import numpy as np

from evaluator import heuristics
from evaluator.exact import memo, search
from evaluator.exact.rebuild import reconstruct
from evaluator.exact.result import ExactResult, check_instance, check_time_limit, verified
from evaluator.exact.subproblem import key_bits, relabel
from evaluator.kernels import total_tardiness

DEFAULT_MEMO_CAP_MB = 4096
_INITIAL_BOXES = 1 << 10
_INITIAL_POOL = 1 << 14
_BUDGET = 1 << 24  # search steps times jobs between two looks at the clock (a step costs O(n))


class _Search:
    """Arrays of one running search (problem, stack, candidates, memo table, counters)."""

    def __init__(self, pe: np.ndarray, de: np.ndarray, rk: np.ndarray, jr: np.ndarray, b: int):
        n = pe.shape[0]
        self.args = (pe, de, rk, jr, b)
        self.frames = np.zeros((n + 2, search.N_FIELDS), np.int64)
        self.cand = np.zeros((4 * (n + 1), search.N_CAND), np.int64)  # a stack, grown on demand
        self.lists = tuple(np.zeros(n + 1, np.int64) for _ in range(4))  # edl, spl, rank buffer, dead flags
        self.table = memo.new_memo(_INITIAL_BOXES, _INITIAL_POOL)
        self.ctr = np.zeros(search.N_COUNTERS, np.int64)

    def start(self, ub: int) -> int:
        """Prepare the root; return its value if solved at once, else -1 (frame 0 set up)."""
        pe = self.args[0]
        n = pe.shape[0]
        v = search.prepare(0, n - 1, 0, n - 1, 0, search.INF, 0, 0, *self.args, self.frames, self.cand,
                           *self.lists, *self.table, self.ctr)
        if v < 0:
            root = self.frames[0]
            if ub - root[search.F_COST] < root[search.F_BEST]:
                root[search.F_BEST] = ub - root[search.F_COST]
                root[search.F_DEC] = search.HEUR
            self.ctr[search.K_SP] = 1
        return int(v)

    def step(self) -> int:
        """Run one slice of the search; return its code."""
        budget = max(16, _BUDGET // self.args[0].shape[0])
        code = search.run(*self.args, self.frames, self.cand, *self.lists, *self.table, self.ctr, budget)
        return int(code)

    def grow_cand(self) -> None:
        """Double the candidate stack."""
        self.cand = np.concatenate([self.cand, np.zeros_like(self.cand)])

    def grow(self, cap_bytes: int) -> bool:
        """Grow the memo where it lacks room; return False if that would pass ``cap_bytes``."""
        bkeys, _, pt = self.table[:3]
        boxes, pool = bkeys.shape[0], pt.shape[0]
        need = int(memo.room(bkeys, pt, self.table[5]))
        if need == 1:
            boxes *= 2
        else:
            pool *= 2
        if memo.memo_bytes(boxes, pool) > cap_bytes:
            return False
        self.table = memo.grown(self.table, boxes, pool)
        return True

    def reset(self) -> None:
        """Drop every memo entry, keeping the table's size (the memo policy ``"reset"``)."""
        bkeys, pt = self.table[0], self.table[2]
        boxes, pool = bkeys.shape[0], pt.shape[0]
        self.table = None
        self.table = memo.new_memo(boxes, pool)

    def megabytes(self) -> float:
        """Return the memo table's size in MiB."""
        return memo.memo_bytes(self.table[0].shape[0], self.table[2].shape[0]) / 2**20

    def entries(self) -> int:
        return int(self.table[5][memo.M_ENTRIES])

    def root_bounds(self) -> tuple[int, int, int]:
        """Return (best value, lower bound, decision) of the unfinished root."""
        root = self.frames[0]
        cost, best = int(root[search.F_COST]), int(root[search.F_BEST])
        lb = min(best, int(root[search.F_LBMIN]))
        ci = int(root[search.F_CI])
        if ci < root[search.F_NC]:  # positions are sorted by bound: the next one has the least
            lb = min(lb, int(self.cand[ci, search.C_LB]))
        return cost + best, cost + lb, int(root[search.F_DEC])

    def order(self, root_dec: int, memo_cap_mb: int, exact: bool) -> np.ndarray:
        """Return an optimal sequence in EDD labels, following the stored decisions.

        A box whose decision the memo policy dropped is solved again on its own (its due dates
        shifted by its start time), which gives an optimal sequence of it; unless not ``exact``
        (the search was stopped), then it gets the better of its EDD and SPT orders.
        """
        pe, de = self.args[0], self.args[1]
        n = pe.shape[0]
        out = np.full(n, -1, np.int64)
        miss = np.zeros((n + 1, 3), np.int64)
        mjobs = np.zeros(n, np.int64)
        k = reconstruct(*self.args, *self.table[:5], root_dec, *self.lists, out, miss, mjobs)
        if k < 0:
            raise RuntimeError("bb: internal error, an invalid decision in the memo table")
        self.table = memo.new_memo(2, 4)  # free it before solving the open boxes
        for start, m, t in miss[:k].tolist():
            members = mjobs[start:start + m].copy()
            sp, sd = pe[members], de[members] - t
            if exact:
                sub = solve(sp, sd, memo_cap_mb=memo_cap_mb, memo_policy="reset").order
            else:
                sub = min((heuristics.edd(sp, sd), heuristics.spt(sp, sd)),
                          key=lambda o: total_tardiness(sp, sd, o))
            out[start:start + m] = members[sub]
        return out


def _best_heuristic(p: np.ndarray, d: np.ndarray) -> tuple[int, np.ndarray]:
    best = None
    for rule in (heuristics.edd, heuristics.spt, heuristics.mdd):
        order = rule(p, d)
        v = total_tardiness(p, d, order)
        if best is None or v < best[0]:
            best = (v, order)
    return best


CLOCKS = ("wall", "cpu")
MEMO_POLICIES = ("stop", "reset")


def solve(p, d, time_limit: float | None = None, memo_cap_mb: int = DEFAULT_MEMO_CAP_MB,
          clock: str = "wall", memo_policy: str = "stop") -> ExactResult:
    """Solve one instance exactly by the memoised Lawler decomposition.

    Parameters
    ----------
    p, d
        Processing times (positive integers) and due dates (integers, may be negative).
    time_limit
        Seconds after which the search stops with status ``"time_limit"`` (None: no limit).
    memo_cap_mb
        Largest memo table in MiB.
    memo_policy
        What reaching the cap does: ``"stop"`` the search (status ``"memory_limit"``), or
        ``"reset"`` the memo (drop every entry, keep its size) and go on: the subproblems on the
        search stack keep their state, so the search stays exact and only repeats work; boxes
        of the final sequence whose decisions were dropped are solved again on their own.
    clock
        What ``time_limit`` counts: ``"wall"`` seconds, or ``"cpu"`` seconds of this process (the
        fair measure on a loaded machine).

    Raises
    ------
    ValueError
        On a bad instance, an unknown clock, or an instance too large for the packed subproblem key.
    """
    t0 = time.perf_counter()
    c0 = time.process_time()
    p, d = check_instance(p, d)
    check_time_limit(time_limit)
    if clock not in CLOCKS:
        raise ValueError(f"clock = {clock!r} must be one of {', '.join(CLOCKS)}")
    if memo_policy not in MEMO_POLICIES:
        raise ValueError(f"memo_policy = {memo_policy!r} must be one of {', '.join(MEMO_POLICIES)}")
    now, start = (time.perf_counter, t0) if clock == "wall" else (time.process_time, c0)
    n = p.shape[0]
    if n == 0:
        return ExactResult(0, np.zeros(0, np.int64), "optimal", 0, time.perf_counter() - t0)
    b = key_bits(n)
    if 4 * b > 63:
        raise ValueError(f"n = {n} jobs is too many for the exact solver's subproblem key (at most 32768)")
    ub, ub_order = _best_heuristic(p, d)
    perm, pe, de, rk, jr = relabel(p, d)
    st = _Search(pe, de, rk, jr, b)
    status, message = "optimal", ""
    resets = 0
    v = st.start(ub)
    if v < 0:
        while True:
            code = st.step()
            if code == search.DONE:
                break
            if code == search.GROW_CAND:
                st.grow_cand()
            elif code == search.GROW_MEMO:
                if not st.grow(memo_cap_mb * 2**20):
                    if memo_policy == "reset":
                        st.reset()
                        resets += 1
                        continue
                    status = "memory_limit"
                    message = (f"memo table cap of {memo_cap_mb} MiB reached after {st.entries()} "
                               "solved subproblems; raise memo_cap_mb")
                    break
            elif time_limit is not None and now() - start > time_limit:
                status, message = "time_limit", f"time limit of {time_limit:g} s ({clock}) reached"
                break
    if st.ctr[search.K_BAD]:
        raise RuntimeError("bb: internal error, a subproblem had no admissible position for its longest job")
    nodes = int(st.ctr[search.K_NODES])
    if status == "optimal":
        value = int(st.ctr[search.K_ROOT]) if v < 0 else v
        lower = value
        root_dec = int(st.frames[0, search.F_DEC]) if v < 0 else search.NONE
    else:
        value, lower, root_dec = st.root_bounds()
        lower = max(0, lower)
    mb = st.megabytes()
    if root_dec == search.HEUR:
        order = ub_order
    else:
        order = perm[st.order(root_dec if v < 0 else search.NONE, memo_cap_mb, status == "optimal")]
        if status != "optimal":  # an open box got a heuristic order: take the value it has
            value = total_tardiness(p, d, order)
            if value > ub:
                value, order = ub, ub_order
    order = verified(p, d, order, value, "bb")
    if resets:
        note = f"memo reset {resets} times at its cap of {memo_cap_mb} MiB"
        message = f"{message}; {note}" if message else note
    seconds = time.perf_counter() - t0
    return ExactResult(value, order, status, min(lower, value), seconds, nodes, "bb", message,
                       time.process_time() - c0, mb)
