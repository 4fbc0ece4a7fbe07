"""The candidate toolkit: every helper, from Python, as a kernel and from njit code, against brute force.

Brute force here means recomputing ΣT of every trial sequence from scratch; the plain-Python twins
(``evaluator.helpers_reference``) must agree too. Instances come from the heuristics tests' strategy:
half of them with many ties (p in 1..3, five due-date values) and negative due dates.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numba import njit

from evaluator import helpers as H
from evaluator import helpers_reference as R
from evaluator import heuristics as Hr
from tests.brute import brute_tt
from tests.evaluator.test_heuristics import PY_REFERENCES, instances

EXAMPLES = 200


def brute_move(p, d, seq, i, j) -> int:
    trial = list(seq)
    trial.insert(j, trial.pop(i))
    return brute_tt(p, d, trial) - brute_tt(p, d, seq)


def brute_swap(p, d, seq, i, j) -> int:
    trial = list(seq)
    trial[i], trial[j] = trial[j], trial[i]
    return brute_tt(p, d, trial) - brute_tt(p, d, seq)


def brute_insertion_pass(p, d, seq):
    seq = list(seq)
    for x in list(seq):
        i, now = seq.index(x), brute_tt(p, d, seq)
        trials = []
        for j in range(len(seq)):
            if j != i:
                trial = list(seq)
                trial.insert(j, trial.pop(i))
                trials.append((brute_tt(p, d, trial), j, trial))
        if trials and min(trials)[0] < now:
            seq = min(trials, key=lambda t: (t[0], t[1]))[2]
    return seq, brute_tt(p, d, seq)


def brute_adjacent_pass(p, d, seq):
    seq = list(seq)
    for k in range(len(seq) - 1):
        trial = list(seq)
        trial[k], trial[k + 1] = trial[k + 1], trial[k]
        if brute_tt(p, d, trial) < brute_tt(p, d, seq):
            seq = trial
    return seq, brute_tt(p, d, seq)


def brute_pairwise_pass(p, d, seq):
    seq = list(seq)
    for i in range(len(seq) - 1):
        for j in range(i + 1, len(seq)):
            trial = list(seq)
            trial[i], trial[j] = trial[j], trial[i]
            if brute_tt(p, d, trial) < brute_tt(p, d, seq):
                seq = trial
    return seq, brute_tt(p, d, seq)


@njit
def _via_njit(p, d, order, i, j):
    """Call every helper by its plain name from njit code (the overloads)."""
    o1, t1 = H.insertion_pass(p, d, order.copy())
    o2, t2 = H.adjacent_swap_pass(p, d, order.copy())
    o3, t3 = H.pairwise_swap_pass(p, d, order.copy())
    return (H.total_tardiness(p, d, order), H.completion_times(p, order), H.job_tardiness(p, d, order),
            H.move_delta(p, d, order, i, j), H.swap_delta(p, d, order, i, j), o1, t1, o2, t2, o3, t3)


def _readonly(*arrays):
    out = []
    for a in arrays:
        a = np.array(a, np.int64)
        a.setflags(write=False)
        out.append(a)
    return out


@st.composite
def cases(draw, max_n=12):
    """(p, d, seq, i, j): seq a permutation or (one time in three) a partial schedule; i, j positions."""
    p, d = draw(instances(max_n=max_n))
    seq = draw(st.permutations(range(len(p))))
    if draw(st.integers(0, 2)) == 0:
        seq = seq[:draw(st.integers(1, len(seq)))]
    i = draw(st.integers(0, len(seq) - 1))
    j = draw(st.integers(0, len(seq) - 1))
    return p, d, list(seq), i, j


@settings(max_examples=EXAMPLES, deadline=None)
@given(case=cases())
def test_sequence_values_and_deltas_equal_brute_force(case):
    p, d, seq, i, j = case
    want_c = np.cumsum(p[seq]).tolist()
    want_t = [max(0, c - int(d[x])) for c, x in zip(want_c, seq, strict=True)]
    want = (brute_tt(p, d, seq), want_c, want_t, brute_move(p, d, seq, i, j), brute_swap(p, d, seq, i, j))
    arr = np.array(seq, np.int64)
    before = arr.copy()
    python = (H.total_tardiness(p, d, arr), H.completion_times(p, arr).tolist(),
              H.job_tardiness(p, d, arr).tolist(), H.move_delta(p, d, arr, i, j),
              H.swap_delta(p, d, arr, i, j))
    twins = (R.total_tardiness_py(p, d, seq), R.completion_times_py(p, seq), R.job_tardiness_py(p, d, seq),
             R.move_delta_py(p, d, seq, i, j), R.swap_delta_py(p, d, seq, i, j))
    pr, dr = _readonly(p, d)
    kernels = (H.total_tardiness_nb(pr, dr, arr), H.completion_times_nb(pr, arr).tolist(),
               H.job_tardiness_nb(pr, dr, arr).tolist(), H.move_delta_nb(pr, dr, arr, i, j),
               H.swap_delta_nb(pr, dr, arr, i, j))
    inside = _via_njit(pr, dr, arr, i, j)
    inside = (inside[0], inside[1].tolist(), inside[2].tolist(), inside[3], inside[4])
    assert python == want and twins == want and kernels == want and inside == want
    assert np.array_equal(arr, before)


@settings(max_examples=EXAMPLES, deadline=None)
@given(case=cases(max_n=10))
def test_passes_equal_brute_force(case):
    p, d, seq, i, j = case
    want = {"insertion": brute_insertion_pass(p, d, seq), "adjacent": brute_adjacent_pass(p, d, seq),
            "pairwise": brute_pairwise_pass(p, d, seq)}
    arr = np.array(seq, np.int64)
    pr, dr = _readonly(p, d)
    inside = _via_njit(pr, dr, arr, i, j)[5:]
    for k, (name, python, twin, kernel) in enumerate((
            ("insertion", H.insertion_pass, R.insertion_pass_py, H.insertion_pass_nb),
            ("adjacent", H.adjacent_swap_pass, R.adjacent_swap_pass_py, H.adjacent_swap_pass_nb),
            ("pairwise", H.pairwise_swap_pass, R.pairwise_swap_pass_py, H.pairwise_swap_pass_nb))):
        w_seq, w_total = want[name]
        got, total = python(p, d, arr)
        assert (got.tolist(), total) == (w_seq, w_total), name
        assert got is not arr and arr.tolist() == seq  # the Python wrapper copies
        assert twin(p, d, seq) == (w_seq, w_total), name
        own = arr.copy()
        k_seq, k_total = kernel(pr, dr, own)
        assert k_seq is own and own.tolist() == w_seq and k_total == w_total  # the kernel works in place
        assert (inside[2 * k].tolist(), inside[2 * k + 1]) == (w_seq, w_total), name
        assert w_total <= brute_tt(p, d, seq)


@settings(max_examples=EXAMPLES, deadline=None)
@given(case=instances())
def test_mdd_and_edd_orders_are_the_baselines(case):
    p, d = case
    want_mdd = [int(j) for j in PY_REFERENCES["MDD"](p.copy(), d.copy())]
    want_edd = [int(j) for j in PY_REFERENCES["EDD"](p.copy(), d.copy())]
    pr, dr = _readonly(p, d)
    assert H.mdd_order(p.tolist(), d.tolist()).tolist() == want_mdd == Hr.mdd(p, d).tolist()
    assert H.edd_order(p.tolist(), d.tolist()).tolist() == want_edd == Hr.edd(p, d).tolist()
    assert _orders_via_njit(pr, dr)[0].tolist() == want_mdd
    assert _orders_via_njit(pr, dr)[1].tolist() == want_edd


@njit
def _orders_via_njit(p, d):
    return H.mdd_order(p, d), H.edd_order(p, d)


def test_a_descent_with_the_passes_reaches_a_local_optimum():
    from evaluator.instances import generate

    iset = generate(40, 3, seed=11)
    for k in range(iset.count):
        p, d = iset.get(k)
        order, total = H.mdd_order(p, d), H.total_tardiness(p, d, H.mdd_order(p, d))
        start = total
        while True:
            order, t1 = H.insertion_pass(p, d, order)
            order, t2 = H.pairwise_swap_pass(p, d, order)
            if t2 == total:
                break
            assert t1 <= total and t2 <= t1
            total = t2
        assert total <= start and total == H.total_tardiness(p, d, order)
        deltas = [H.move_delta(p, d, order, i, j) for i in range(40) for j in range(40)]
        assert min(deltas) == 0  # no improving move is left


BAD = [
    (lambda: H.total_tardiness([1, 2], [1], [0, 1]), ValueError, "p and d must have equal length, got 2 and"),
    (lambda: H.total_tardiness([1, 2], [1, 2], [0, 0]), ValueError, "order holds a job more than once"),
    (lambda: H.total_tardiness([1, 2], [1, 2], [0, 2]), ValueError, r"job index outside 0\.\.1"),
    (lambda: H.completion_times([1, 2], [-1]), ValueError, r"job index outside 0\.\.1"),
    (lambda: H.job_tardiness([1.5, 2], [1, 2], [0]), TypeError, "p must hold integers, got dtype float64"),
    (lambda: H.move_delta([1, 2], [1, 2], [0, 1], 0, 2), IndexError, r"position j = 2 is outside 0\.\.1"),
    (lambda: H.swap_delta([1, 2], [1, 2], [1], -1, 0), IndexError, r"position i = -1 is outside 0\.\.0"),
    (lambda: H.insertion_pass([1, 2], [1, 2], [[0]]), ValueError, r"order must be 1-D, got shape \(1, 1\)"),
    (lambda: H.mdd_order([1, 2], [1, 2, 3]), ValueError, "p and d must have equal length"),
    (lambda: H.total_tardiness_nb(np.ones(2, np.int64), np.ones(2, np.int64), np.array([0, 5])), ValueError,
     "job index outside"),
    (lambda: H.move_delta_nb(np.ones(2, np.int64), np.ones(2, np.int64), np.array([0, 1]), 0, 9), IndexError,
     "position outside"),
    (lambda: H.pairwise_swap_pass_nb(np.ones(2, np.int64), np.ones(3, np.int64), np.array([0, 1])),
     ValueError, "p and d must have equal length"),
]


@pytest.mark.parametrize("call, error, message", BAD)
def test_bad_input_is_refused_with_one_clear_line(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_empty_and_single_job_orders():
    assert H.total_tardiness([], [], []) == 0 and H.insertion_pass([], [], [])[1] == 0
    assert H.pairwise_swap_pass([3], [1], [0])[0].tolist() == [0]
    assert H.adjacent_swap_pass([3], [1], [0])[1] == 2 and H.move_delta([3], [1], [0], 0, 0) == 0


def test_warm_compiles_every_signature_a_candidate_uses():
    """After warm(), the calls a sandboxed candidate makes compile nothing new."""
    from evaluator.moves import order_problem

    H.warm()
    kernels = [*H.HELPERS.values(), order_problem]
    before = {k: len(k.signatures) for k in kernels}
    p, d, ro_order = _readonly([3, 1, 2, 4], [2, -1, 5, 5], [3, 0, 1, 2])
    order = np.array([3, 0, 1, 2])
    for wrapper, kernel in H.HELPERS.items():
        n_args = wrapper.__code__.co_argcount
        args = {2: (p, d), 3: (p, d, order), 5: (p, d, order, 0, 3)}[n_args]
        if wrapper is H.completion_times:
            args = (p, order)
        wrapper(*(a.tolist() if isinstance(a, np.ndarray) else a for a in args))
        wrapper(*(ro_order if a is order else a for a in args))
        kernel(*args)
        kernel(*(a.copy() if isinstance(a, np.ndarray) else a for a in args))
    assert {k: len(k.signatures) for k in kernels} == before


def test_describe_lists_each_helper_in_two_lines():
    text = H.describe()
    lines = text.splitlines()
    assert len(lines) == 2 * len(H.HELPERS)
    for fn, (sig, summary) in zip(H.HELPERS, zip(lines[::2], lines[1::2], strict=True), strict=True):
        assert sig.startswith(f"- {fn.__name__}(p, ") and " -> " in sig
        assert summary.startswith("  Return ") and "O(" in summary and len(summary) <= 110
    public = [n for n in H.__all__ if not n.endswith("_nb")]
    assert [fn.__name__ for fn in H.HELPERS] == public
    assert [k.__name__ for k in H.HELPERS.values()] != [] and all(f"{n}_nb" in H.__all__ for n in public)


def _descent(p, d):
    """An LLM-style program built from the toolkit: MDD start, insertion and interchange descent."""
    order = H.mdd_order(p, d)
    best = H.total_tardiness(p, d, order)
    while True:
        order, _ = H.insertion_pass(p, d, order)
        order, value = H.adjacent_swap_pass(p, d, order)
        if value == best:
            order, value = H.pairwise_swap_pass(p, d, order)
            if value == best:
                return order
        best = value


_descent_njit = njit(_descent)


def test_the_same_program_gives_the_same_orders_compiled_and_in_python():
    from evaluator.instances import generate

    iset = generate(30, 2, seed=5)
    for k in range(iset.count):
        p, d = _readonly(*iset.get(k))
        python = _descent(p, d)
        assert _descent_njit(p, d).tolist() == python.tolist()
        assert H.total_tardiness(p, d, python) <= H.total_tardiness(p, d, H.mdd_order(p, d))
