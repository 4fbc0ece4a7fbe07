"""Rebuild an optimal sequence from the decisions the search left in the memo."""

from __future__ import annotations

import numpy as np
from numba import njit

from evaluator.exact.memo import LOWER, NO_DEC, lookup
from evaluator.exact.search import EDD, NONE, SPT
from evaluator.exact.subproblem import (
    collect_edd,
    collect_spt,
    list_bounds,
    list_key,
    reduce_lists,
    small_value,
)


@njit(cache=True)
def _push(stack, sp, lo, hi, rmin, rmax, t, start):
    stack[sp, 0] = lo
    stack[sp, 1] = hi
    stack[sp, 2] = rmin
    stack[sp, 3] = rmax
    stack[sp, 4] = t
    stack[sp, 5] = start


@njit(cache=True)
def reconstruct(pe, de, rk, jr, b, bkeys, binfo, pt, pv, pdn, root_dec, edl, spl, rbuf, dead, out, miss,
                mjobs):
    """Write an optimal sequence (EDD indices) into ``out``; return the number of boxes left open.

    Each box is reduced as in the search (the fixed jobs go to its ends), then sequenced by its
    stored decision, or as a leaf. ``root_dec`` overrides the root's decision unless it is ``NONE``.
    A box whose decision is no longer in the memo (dropped by the memo policy) is left open: row
    ``q`` of ``miss`` holds its (first position in ``out``, size, start time) and ``mjobs`` its
    members at those positions, for the caller to sequence. -1 means an invalid decision.
    """
    n = pe.shape[0]
    stack = np.empty((n + 2, 6), np.int64)
    _push(stack, 0, 0, n - 1, 0, n - 1, 0, 0)
    sp = 1
    root = True
    nmiss = 0
    while sp > 0:
        sp -= 1
        t = stack[sp, 4]
        start = stack[sp, 5]
        m, r1, r2, _ = collect_edd(stack[sp, 0], stack[sp, 1], stack[sp, 2], stack[sp, 3], t, pe, de, rk, edl)
        if m == 0:
            continue
        collect_spt(m, r1, r2, rk, jr, edl, spl, rbuf)
        if m > 2:
            m, t, _, start = reduce_lists(edl, spl, m, t, pe, de, dead, start, start + m - 1, out)
        if m <= 2:
            _, swap = small_value(edl, m, t, pe, de)
            for q in range(m):
                out[start + q] = edl[m - 1 - q] if swap else edl[q]
            root = False
            continue
        _, dec = lookup(bkeys, binfo, pt, pv, pdn, list_key(edl, spl, m, rk, b), t)
        if dec == NO_DEC or dec == LOWER:
            dec = NONE
        if root and root_dec != NONE:
            dec = root_dec
        root = False
        if dec == NONE:  # a leaf: its bound meets the EDD or SPT value
            lb, ue, us, _ = list_bounds(edl, spl, m, t, pe, de)
            if lb == ue:
                dec = EDD
            elif lb == us:
                dec = SPT
            else:
                miss[nmiss, 0] = start
                miss[nmiss, 1] = m
                miss[nmiss, 2] = t
                nmiss += 1
                for q in range(m):
                    mjobs[start + q] = edl[q]
                continue
        if dec == EDD:
            for q in range(m):
                out[start + q] = edl[q]
        elif dec == SPT:
            for q in range(m):
                out[start + q] = spl[q]
        elif dec >= 0:  # the longest job right after the members up to ``dec``
            nl = 0
            c = t
            for q in range(m):
                if edl[q] <= dec:
                    c += pe[edl[q]]
                    nl += 1
            k = spl[m - 1]
            out[start + nl - 1] = k
            _push(stack, sp, edl[0], dec, rk[spl[0]], rk[k] - 1, t, start)
            _push(stack, sp + 1, dec + 1, edl[m - 1], rk[spl[0]], rk[k], c, start + nl)
            sp += 2
        else:
            return -1
    return nmiss
