"""The memoised Lawler decomposition against the subset DP, brute force and published optima."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evaluator.exact import ExactResult, solve, solve_dp
from evaluator.exact import bb as bb_module
from evaluator.exact.search import admissible
from evaluator.exact.subproblem import collect_edd, collect_spt, key_bits, pack, reduce_lists, relabel
from evaluator.instances import generate
from evaluator.kernels import total_tardiness


def _random_instance(rng: np.random.Generator, kind: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Draw one small instance; most kinds are full of ties, several have negative due dates."""
    if kind == 0:  # p in 1..3, due dates in a narrow range, some negative
        p = rng.integers(1, 4, n)
        d = rng.integers(-3, 2 * n + 1, n)
    elif kind == 1:  # one common due date (possibly negative)
        p = rng.integers(1, 4, n)
        d = np.full(n, int(rng.integers(-4, 2 * n)))
    elif kind == 2:  # two due-date values and equal processing times
        p = np.full(n, int(rng.integers(1, 4)))
        d = rng.choice(np.array([-1, n]), n)
    elif kind == 3:  # the benchmark generator's tight class
        p = rng.integers(1, 101, n)
        total = int(p.sum())
        d = rng.integers(int(0.3 * total), int(0.5 * total) + 1, n)
    else:  # wide p, due dates from well below 0 to P
        p = rng.integers(1, 30, n)
        total = int(p.sum())
        d = rng.integers(-total // 3, total + 1, n)
    return p.astype(np.int64), d.astype(np.int64)


@pytest.mark.parametrize("kind", range(5))
def test_equals_subset_dp_on_thousands_of_small_instances(kind):
    rng = np.random.default_rng(100 + kind)
    for _ in range(700):
        n = int(rng.integers(1, 13))
        p, d = _random_instance(rng, kind, n)
        got, want = solve(p, d), solve_dp(p, d)
        assert got.status == "optimal"
        assert got.value == want.value, (p.tolist(), d.tolist())
        assert got.lower_bound == got.value
        assert total_tardiness(p, d, got.order) == got.value


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_equals_brute_force_on_tiny_instances(data):
    n = data.draw(st.integers(1, 7))
    p = np.array(data.draw(st.lists(st.integers(1, 4), min_size=n, max_size=n)))
    d = np.array(data.draw(st.lists(st.integers(-4, 12), min_size=n, max_size=n)))
    best = min(total_tardiness(p, d, np.array(perm)) for perm in itertools.permutations(range(n)))
    assert solve(p, d).value == best


def _boxes(n):
    for lo, hi in itertools.combinations_with_replacement(range(n), 2):
        for rmin, rmax in itertools.combinations_with_replacement(range(n), 2):
            yield lo, hi, rmin, rmax


def _members(rk, lo, hi, rmin, rmax):
    return frozenset(i for i in range(lo, hi + 1) if rmin <= rk[i] <= rmax)


def test_box_key_identifies_the_member_set_exactly():
    rng = np.random.default_rng(7)
    for _ in range(30):
        n = int(rng.integers(2, 9))
        _, pe, de, rk, jr = relabel(rng.integers(1, 4, n), rng.integers(0, 5, n))
        b = key_bits(n)
        edl = np.zeros(n + 1, np.int64)
        seen: dict[int, frozenset] = {}
        for box in _boxes(n):
            members = _members(rk, *box)
            m, r1, r2, _ = collect_edd(*box, 0, pe, de, rk, edl)
            assert sorted(members) == edl[:m].tolist()
            if not members:
                continue
            key = pack(edl[0], edl[m - 1], r1, r2, b)
            assert seen.setdefault(key, members) == members  # one key, one set


def _subset_value(pe, de, members, t):
    """Optimal tardiness of a job subset started at t (subset DP on the shifted due dates)."""
    idx = sorted(members)
    if not idx:
        return 0
    return solve_dp(pe[idx], de[idx] - t).value


def test_a_looser_key_merges_subproblems_of_different_value():
    """(first, last, size, t) is not enough: two different boxes share it and differ in value."""
    rng = np.random.default_rng(3)
    found = 0
    for _ in range(40):
        n = 8
        _, pe, de, rk, jr = relabel(rng.integers(1, 20, n), rng.integers(0, 60, n))
        by_loose: dict[tuple, set] = {}
        for box in _boxes(n):
            members = _members(rk, *box)
            if members:
                by_loose.setdefault((min(members), max(members), len(members)), set()).add(members)
        for sets in by_loose.values():
            values = {_subset_value(pe, de, s, 10) for s in sets}
            found += len(values) > 1
    assert found > 0


def test_first_last_longest_size_is_exact_on_boxes():
    """Documenting why the key is a normalised box: with the longest member fixed, size fixes rmin."""
    rng = np.random.default_rng(4)
    for _ in range(20):
        n = int(rng.integers(3, 9))
        _, pe, de, rk, jr = relabel(rng.integers(1, 4, n), rng.integers(0, 6, n))
        seen: dict[tuple, frozenset] = {}
        for box in _boxes(n):
            members = _members(rk, *box)
            if members:
                longest = max(members, key=lambda i: rk[i])
                key = (min(members), max(members), longest, len(members))
                assert seen.setdefault(key, members) == members


def test_reductions_keep_the_optimum():
    rng = np.random.default_rng(11)
    checked = reduced = 0
    for _ in range(400):
        n = int(rng.integers(3, 10))
        _, pe, de, rk, jr = relabel(*_random_instance(rng, int(rng.integers(0, 5)), n))
        lo, rmin = rng.integers(0, n // 3 + 1, 2)
        hi, rmax = rng.integers(2 * n // 3, n, 2)
        t = int(rng.integers(-2, 3 * n))
        edl, spl, rbuf, dead = (np.zeros(n + 1, np.int64) for _ in range(4))
        m, r1, r2, _ = collect_edd(lo, hi, rmin, rmax, t, pe, de, rk, edl)
        if m < 3:
            continue
        collect_spt(m, r1, r2, rk, jr, edl, spl, rbuf)
        before = set(edl[:m].tolist())
        out = np.full(m, -1, np.int64)
        m2, t2, cost, front = reduce_lists(edl, spl, m, t, pe, de, dead, 0, m - 1, out)
        rest = set(edl[:m2].tolist())
        assert sorted(spl[:m2].tolist(), key=lambda j: rk[j]) == spl[:m2].tolist()
        assert rest == set(spl[:m2].tolist()) and not dead.any()
        assert cost + _subset_value(pe, de, rest, t2) == _subset_value(pe, de, before, t)
        fixed = out[out >= 0].tolist()
        assert len(fixed) == m - m2 and set(fixed) == before - rest
        checked += 1
        reduced += m2 < m
    assert checked > 200 and reduced > 50


def test_admissible_positions_keep_an_optimal_position():
    """Lawler's decomposition with the (a) + (b) filter: the best admissible position is optimal."""
    rng = np.random.default_rng(12)
    for _ in range(300):
        n = int(rng.integers(2, 9))
        _, pe, de, rk, jr = relabel(*_random_instance(rng, int(rng.integers(0, 5)), n))
        edl = np.arange(n, dtype=np.int64)
        k = int(jr[n - 1])
        opt = _subset_value(pe, de, range(n), 0)
        c = int(pe[: k + 1].sum())
        best_all = best_adm = None
        for pos in range(k, n):
            if pos > k:
                c += int(pe[pos])
            left = set(range(pos + 1)) - {k}
            right = set(range(pos + 1, n))
            v = _subset_value(pe, de, left, 0) + max(0, c - int(de[k])) + _subset_value(pe, de, right, c)
            best_all = v if best_all is None else min(best_all, v)
            if admissible(pos, k, n, c, edl, de):
                best_adm = v if best_adm is None else min(best_adm, v)
        assert best_all == opt  # Lawler's theorem
        assert best_adm == opt


def test_generated_instances_of_all_classes_match_the_dp():
    iset = generate(14, 2, seed=5, keep_negative=True)
    for i in range(iset.count):
        p, d = iset.get(i)
        assert solve(p, d).value == solve_dp(p, d).value


def _hard_instance(n=260, seed=1):
    iset = generate(n, 1, seed=seed, rdd_grid=(0.2,), tf_grid=(0.6,))
    return iset.get(0)


def test_time_limit_returns_a_valid_bound_and_sequence(monkeypatch):
    p, d = _hard_instance()
    opt = solve(p, d).value
    monkeypatch.setattr(bb_module, "_BUDGET", 50)
    r = solve(p, d, time_limit=1e-3)
    assert r.status == "time_limit" and "time limit" in r.message
    assert r.lower_bound <= opt <= r.value
    assert total_tardiness(p, d, r.order) == r.value


def test_memory_cap_stops_with_a_clear_message():
    p, d = _hard_instance()
    opt = solve(p, d).value
    r = solve(p, d, memo_cap_mb=1)
    assert r.status == "memory_limit"
    assert "memo table cap of 1 MiB" in r.message
    assert r.lower_bound <= opt <= r.value
    assert total_tardiness(p, d, r.order) == r.value


@pytest.mark.parametrize("p, d, msg", [
    ([3, 0, 2], [1, 2, 3], "p[1] = 0"),
    ([3, -1], [1, 2], "p[1] = -1"),
    ([1, 2], [1], "p has 2 jobs but d has 1"),
    ([1.5, 2], [1, 2], "integers"),
])
def test_bad_instances_are_refused_with_a_sentence(p, d, msg):
    with pytest.raises(ValueError, match=msg.replace("[", r"\[").replace("]", r"\]")):
        solve(p, d)


def test_trivial_sizes():
    r = solve(np.zeros(0, np.int64), np.zeros(0, np.int64))
    assert (r.value, r.order.tolist(), r.status) == (0, [], "optimal")
    assert solve([5], [2]).value == 3
    assert solve([2, 3], [-10, -10]).value == (12 + 15)


def test_results_are_read_only_values_that_check_themselves():
    r = solve([3, 1, 2], [2, 1, 3])
    with pytest.raises(ValueError):
        r.order[0] = 1
    with pytest.raises(ValueError, match="status"):
        ExactResult(1, np.arange(2), "maybe", 0, 0.0)
    with pytest.raises(ValueError, match="exceeds"):
        ExactResult(1, np.arange(2), "time_limit", 2, 0.0)
    with pytest.raises(ValueError, match="lower_bound = value"):
        ExactResult(3, np.arange(2), "optimal", 2, 0.0)


@pytest.mark.shared
def test_every_published_optimum_of_the_n20_uniform_set(shared_set):
    iset = shared_set("paper_n20_uniform")
    assert iset.has_opt.all()
    for i in range(iset.count):
        assert solve(*iset.get(i)).value == iset.opt[i], i


@pytest.mark.slow
@pytest.mark.shared
@pytest.mark.parametrize("name", ["shang_n100", "shang_n200"])
def test_every_published_optimum_of_the_shang_sets(shared_set, name):
    iset = shared_set(name)
    assert iset.has_opt.all()
    for i in range(iset.count):
        r = solve(*iset.get(i))
        assert (r.status, r.value) == ("optimal", iset.opt[i]), i


# quick instances (well under a second each) from ten classes, most of them where the columns differ
N500_SAMPLE = (0, 5, 8, 41, 45, 71, 77, 79, 94, 111, 115, 131, 132, 151, 181, 191)


@pytest.mark.shared
def test_realigned_optima_of_n500_on_a_sample(shared_set):
    iset = shared_set("shang_n500")
    published = [ex.get("opt_as_published") for ex in iset.extras]
    differs = 0
    for i in N500_SAMPLE:
        r = solve(*iset.get(i))
        assert (r.status, r.value) == ("optimal", iset.opt[i]), i
        differs += published[i] != r.value
    assert differs >= 10  # the published column is misaligned (all 200: bench/bench_exact.py)


def test_memo_reset_policy_equals_the_subset_dp_when_the_memo_is_always_full(monkeypatch):
    """Every growth refused: the memo is reset over and over, and dropped decisions are re-solved."""
    monkeypatch.setattr(bb_module, "_INITIAL_BOXES", 16)
    monkeypatch.setattr(bb_module, "_INITIAL_POOL", 64)
    monkeypatch.setattr(bb_module._Search, "grow", lambda self, cap: False)
    rng = np.random.default_rng(7)
    resets = 0
    for k in range(300):
        n = int(rng.integers(3, 15))
        p, d = _random_instance(rng, k % 5, n)
        got, want = solve(p, d, memo_policy="reset"), solve_dp(p, d)
        assert got.status == "optimal" and got.value == want.value, (p.tolist(), d.tolist())
        assert total_tardiness(p, d, got.order) == got.value
        resets += "memo reset" in got.message
    assert resets >= 10  # the policy was exercised, not just allowed


@pytest.mark.parametrize("i", [21, 60])
def test_memo_reset_policy_keeps_the_stored_optima_under_a_small_cap(i):
    from evaluator.stored import read_stored
    from tests.conftest import REPO

    iset, _, _ = read_stored(REPO / "archive" / "baselines" / "test_n200.json")
    p, d = iset.get(i)
    r = solve(p, d, memo_cap_mb=1, memo_policy="reset")
    assert r.status == "optimal" and r.value == iset.opt[i] and "memo reset" in r.message
    assert total_tardiness(p, d, r.order) == r.value


def test_an_unknown_memo_policy_is_refused():
    with pytest.raises(ValueError, match="memo_policy = 'drop' must be one of stop, reset"):
        solve([1, 2], [1, 2], memo_policy="drop")
