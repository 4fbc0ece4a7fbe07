"""Numba kernels of the memoised Lawler decomposition: depth-first search on an explicit stack.

A subproblem (a box, see ``subproblem``) is first reduced; if its lower bound meets its EDD/SPT
upper bound it is a leaf. Otherwise it is branched on its longest job k (largest rank): by Lawler's
theorem some optimal sequence puts k right after exactly the members with EDD index <= some
member ``split`` (k itself excluded), i.e. k at position k + delta. Only one rule family filters
the positions, and it is consistent (both rules keep an optimal position; see ``admissible``).

Positions are tried in order of lower bound, each part with a cutoff (alpha-beta style): a part
that cannot beat the best position found so far returns a lower bound of at least its cutoff
instead of its value, and the position is dropped. A frame stores its exact value with its
decision (the ``split`` of its best position, or ``EDD`` / ``SPT`` / ``HEUR`` when that sequence
is optimal) or, when nothing beat its own cutoff, a lower bound (decision ``LOWER``); a set met
again with a bound below its new cutoff is then solved exactly, so no set is searched more than
twice at one start time. Bounds of the parts take the best of the SPT/EDD matching bound and the
bound from the same set solved at a nearby earlier start time (see ``memo``).

The search runs in slices of at most ``budget`` steps so that the caller can check the clock, and
stops when the memo or the candidate stack may run out of room so that the caller can grow them.
"""

from __future__ import annotations

from numba import njit

from evaluator.exact.memo import LOWER, near_bound, probe, room, store
from evaluator.exact.subproblem import (
    collect_edd,
    collect_spt,
    list_bounds,
    list_key,
    pack,
    reduce_lists,
    small_value,
    split_bounds,
)

# decisions other than a split index (NONE: no decision known)
EDD, SPT, HEUR, NONE = -1, -2, -3, -4
INF = 1 << 62

# frame fields
F_LO, F_HI, F_RMIN, F_RMAX, F_T, F_KEYRAW, F_KEYRED, F_COST = 0, 1, 2, 3, 4, 5, 6, 7
F_NC, F_CI, F_STAGE, F_BEST, F_DEC, F_LEFT = 8, 9, 10, 11, 12, 13
F_TRAW, F_NRAW, F_NRED, F_LBMIN, F_COFF = 14, 15, 16, 17, 18
N_FIELDS = 19
# candidate (position) fields; a frame's candidates are rows F_COFF .. F_COFF + F_NC - 1
C_SPLIT, C_RLO, C_C, C_TK, C_LB, C_LBR = 0, 1, 2, 3, 4, 5
N_CAND = 6
# stages of a frame
NEXT, WAIT_LEFT, AFTER_LEFT, WAIT_RIGHT = 0, 1, 2, 3
# counters
K_SP, K_NODES, K_ROOT, K_BAD = 0, 1, 2, 3
N_COUNTERS = 4
# return codes of ``run``
DONE, PAUSED, GROW_MEMO, GROW_CAND = 0, 1, 2, 3


@njit(cache=True)
def admissible(pos, a, m, c, edl, de):
    """Return whether k (at EDD position ``a`` of ``edl``) may complete at ``c`` after ``edl[pos]``.

    (a) c < d of the next member: Lawler's proof builds an optimal sequence in which k is preceded
        by exactly the jobs with d_j <= max(C*, d_k), C* >= c (the latest completion of k in an
        optimal sequence), so the first job after the prefix has d > c.
    (b) c > d of ``edl[pos]`` when pos > a: otherwise moving that job from before k to right
        after k delays no one and it stays on time, giving position pos - 1 at no cost; and
        pos - 1 then satisfies (a) since c - p < c <= d. Both rules thus keep an optimum.
    """
    if pos > a and c <= de[edl[pos]]:
        return False
    if pos < m - 1 and c >= de[edl[pos + 1]]:
        return False
    return True


@njit(cache=True)
def _positions(edl, spl, m, t, coff, pe, de, cand):
    """Write the admissible positions of the longest job as candidates; return (count, its EDD position)."""
    k = spl[m - 1]
    a = 0
    c = t
    while edl[a] != k:
        c += pe[edl[a]]
        a += 1
    c += pe[k]
    nc = 0
    for pos in range(a, m):
        if pos > a:
            c += pe[edl[pos]]
        if not admissible(pos, a, m, c, edl, de):
            continue
        row = cand[coff + nc]
        row[C_SPLIT] = edl[pos]
        row[C_RLO] = edl[pos + 1] if pos < m - 1 else -1
        row[C_C] = c
        row[C_TK] = max(0, c - de[k])
        row[C_LB] = pos  # the position, until the bounds are known
        row[C_LBR] = 0
        nc += 1
    return nc, a


@njit(cache=True)
def _bound_positions(edl, spl, m, a, t, nc, coff, pe, de, rk, b, cand, bkeys, binfo, pt, pv, pdn):
    """Replace each candidate's position by its lower bound and sort the candidates by it."""
    for q in range(nc):
        row = cand[coff + q]
        lbl, lbr, key_l, key_r = split_bounds(edl, spl, m, a, row[C_LB], t, row[C_C], pe, de, rk, b)
        if key_l >= 0:
            lbl = max(lbl, near_bound(bkeys, binfo, pt, pv, pdn, key_l, t))
        if key_r >= 0:
            lbr = max(lbr, near_bound(bkeys, binfo, pt, pv, pdn, key_r, row[C_C]))
        row[C_LB] = lbl + row[C_TK] + lbr
        row[C_LBR] = lbr
        r = coff + q  # insertion sort by lower bound
        while r > coff and cand[r - 1, C_LB] > cand[r, C_LB]:
            for f in range(N_CAND):
                tmp = cand[r - 1, f]
                cand[r - 1, f] = cand[r, f]
                cand[r, f] = tmp
            r -= 1


@njit(cache=True)
def prepare(lo, hi, rmin, rmax, t, beta, fidx, coff, pe, de, rk, jr, b, frames, cand, edl, spl, rbuf, dead,
            bkeys, binfo, pt, pv, pdn, meta, ctr):
    """Settle a box at once, or set up frame ``fidx`` to branch on it and return -1.

    A settled box returns its exact value when that is below the cutoff ``beta``, else any lower
    bound of at least ``beta`` (the caller drops the branch then, so the exact value is not needed).
    """
    m, r1, r2, nraw = collect_edd(lo, hi, rmin, rmax, t, pe, de, rk, edl)
    if m <= 2:
        v, _ = small_value(edl, m, t, pe, de)
        return v
    keyraw = pack(edl[0], edl[m - 1], r1, r2, b)
    known, kind = probe(bkeys, binfo, pt, pv, pdn, keyraw, t)
    if kind == 1 or known >= beta:
        return known
    if kind == 2:  # searched before under a lower cutoff: solve it exactly this time
        beta = INF
    traw = t
    collect_spt(m, r1, r2, rk, jr, edl, spl, rbuf)
    m, t, cost, _ = reduce_lists(edl, spl, m, t, pe, de, dead, 0, 0, edl[:0])
    if m <= 2:
        v, _ = small_value(edl, m, t, pe, de)
        return cost + v
    keyred = list_key(edl, spl, m, rk, b)
    beta -= cost
    known = max(0, known - cost)
    if cost > 0 or keyred != keyraw or t != traw:
        v, kind = probe(bkeys, binfo, pt, pv, pdn, keyred, t)
        if kind == 1:
            return cost + v
        if kind == 2:
            beta = INF
        known = max(known, v)
    lb, ue, us, nred = list_bounds(edl, spl, m, t, pe, de)
    ub = min(ue, us)
    dec = EDD if ue <= us else SPT
    if lb >= ub:
        return cost + ub
    if known >= ub:  # settled by the table: record it so that the sequence can be rebuilt
        store(bkeys, binfo, pt, pv, pdn, meta, keyred, t, ub, dec, nred)
        return cost + ub
    lb = max(lb, known)
    if lb >= beta:
        return cost + lb
    nc, a = _positions(edl, spl, m, t, coff, pe, de, cand)
    if nc == 0:
        ctr[K_BAD] += 1  # impossible by Lawler's theorem; the caller refuses the result
        return cost + ub
    if nc > 1:  # bounds only matter to order and drop positions
        _bound_positions(edl, spl, m, a, t, nc, coff, pe, de, rk, b, cand, bkeys, binfo, pt, pv, pdn)
    else:
        cand[coff, C_LB] = lb
    best = min(ub, beta)
    if cand[coff, C_LB] >= best:
        if ub <= cand[coff, C_LB]:
            store(bkeys, binfo, pt, pv, pdn, meta, keyred, t, ub, dec, nred)
            return cost + ub
        return cost + cand[coff, C_LB]
    fr = frames[fidx]
    fr[F_LO] = edl[0]
    fr[F_HI] = edl[m - 1]
    fr[F_RMIN] = rk[spl[0]]
    fr[F_RMAX] = rk[spl[m - 1]]
    fr[F_T] = t
    fr[F_KEYRAW] = keyraw
    fr[F_KEYRED] = keyred
    fr[F_TRAW] = traw
    fr[F_NRAW] = nraw
    fr[F_NRED] = nred
    fr[F_COST] = cost
    fr[F_NC] = nc
    fr[F_CI] = 0
    fr[F_COFF] = coff
    fr[F_STAGE] = NEXT
    fr[F_BEST] = best
    fr[F_DEC] = dec if ub < beta else NONE
    fr[F_LEFT] = 0
    fr[F_LBMIN] = ub
    ctr[K_NODES] += 1
    return -1


@njit(cache=True)
def _close(fr, row, v):
    """Close the current position of a frame with the value (or bound) ``v`` of its right part."""
    total = fr[F_LEFT] + row[C_TK] + v
    if total < fr[F_BEST]:
        fr[F_BEST] = total
        fr[F_DEC] = row[C_SPLIT]
    else:
        fr[F_LBMIN] = min(fr[F_LBMIN], total)
    fr[F_CI] += 1
    fr[F_STAGE] = NEXT


@njit(cache=True)
def _finish(fr, rest_lb, bkeys, binfo, pt, pv, pdn, meta):
    """Store a finished frame, its exact value or (nothing beat its cutoff) a lower bound; return it."""
    dec = fr[F_DEC]
    val = fr[F_BEST]
    if dec == NONE:
        dec = LOWER
        val = min(fr[F_LBMIN], rest_lb)
    store(bkeys, binfo, pt, pv, pdn, meta, fr[F_KEYRED], fr[F_T], val, dec, fr[F_NRED])
    if fr[F_COST] > 0 or fr[F_KEYRAW] != fr[F_KEYRED] or fr[F_TRAW] != fr[F_T]:
        store(bkeys, binfo, pt, pv, pdn, meta, fr[F_KEYRAW], fr[F_TRAW], fr[F_COST] + val, dec, fr[F_NRAW])
    return fr[F_COST] + val


@njit(cache=True)
def run(pe, de, rk, jr, b, frames, cand, edl, spl, rbuf, dead, bkeys, binfo, pt, pv, pdn, meta, ctr, budget):
    """Advance the search by at most ``budget`` steps; return DONE, PAUSED, GROW_MEMO or GROW_CAND."""
    n = pe.shape[0]
    sp = ctr[K_SP]
    it = 0
    while sp > 0:
        f = sp - 1
        fr = frames[f]
        coff = fr[F_COFF] + fr[F_NC]  # where a child frame's candidates go
        if room(bkeys, pt, meta) != 0:
            ctr[K_SP] = sp
            return GROW_MEMO
        if coff + n + 1 > cand.shape[0]:
            ctr[K_SP] = sp
            return GROW_CAND
        if it >= budget:
            ctr[K_SP] = sp
            return PAUSED
        it += 1
        st = fr[F_STAGE]
        if st == NEXT:
            ci = fr[F_CI]
            row = cand[fr[F_COFF] + ci]
            if ci < fr[F_NC] and row[C_LB] < fr[F_BEST]:
                cut = fr[F_BEST] - row[C_TK] - row[C_LBR]
                v = prepare(fr[F_LO], row[C_SPLIT], fr[F_RMIN], fr[F_RMAX] - 1, fr[F_T], cut, sp, coff,
                            pe, de, rk, jr, b, frames, cand, edl, spl, rbuf, dead, bkeys, binfo, pt, pv, pdn,
                            meta, ctr)
                if v >= 0:
                    fr[F_LEFT] = v
                    fr[F_STAGE] = AFTER_LEFT
                else:
                    fr[F_STAGE] = WAIT_LEFT
                    sp += 1
            else:
                rest_lb = row[C_LB] if ci < fr[F_NC] else INF
                ret = _finish(fr, rest_lb, bkeys, binfo, pt, pv, pdn, meta)
                sp -= 1
                if sp == 0:
                    ctr[K_ROOT] = ret
                    break
                g = frames[sp - 1]
                if g[F_STAGE] == WAIT_LEFT:
                    g[F_LEFT] = ret
                    g[F_STAGE] = AFTER_LEFT
                else:
                    _close(g, cand[g[F_COFF] + g[F_CI]], ret)
        elif st == AFTER_LEFT:
            row = cand[fr[F_COFF] + fr[F_CI]]
            bound = fr[F_LEFT] + row[C_TK] + row[C_LBR]
            if bound >= fr[F_BEST]:
                fr[F_LBMIN] = min(fr[F_LBMIN], bound)
                fr[F_CI] += 1
                fr[F_STAGE] = NEXT
            else:
                v = 0
                if row[C_RLO] >= 0:
                    cut = fr[F_BEST] - fr[F_LEFT] - row[C_TK]
                    v = prepare(row[C_RLO], fr[F_HI], fr[F_RMIN], fr[F_RMAX], row[C_C], cut, sp, coff,
                                pe, de, rk, jr, b, frames, cand, edl, spl, rbuf, dead, bkeys, binfo, pt, pv,
                                pdn, meta, ctr)
                if v >= 0:
                    _close(fr, row, v)
                else:
                    fr[F_STAGE] = WAIT_RIGHT
                    sp += 1
    ctr[K_SP] = sp
    return DONE
