"""Scores from the sandbox equal in-process references, are deterministic, cascade and cache correctly."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from evaluator.heuristics import edd, mdd
from evaluator.instances import from_arrays, generate
from evaluator.kernels import tardiness_of_orders, total_tardiness
from evaluator.sandbox import Cascade, Sandbox, stratified_subset

PY_EDD = "def schedule(p, d):\n    return sorted(range(len(p)), key=lambda j: (d[j], j))\n"
PY_MDD = """
def schedule(p, d):
    n = len(p)
    p, d = p.tolist(), d.tolist()
    done = [False] * n
    order, t = [], 0
    for _ in range(n):
        best, best_val = -1, 0
        for j in range(n):
            if not done[j]:
                v = max(d[j], t + p[j])
                if best < 0 or v < best_val:
                    best, best_val = j, v
        order.append(best)
        done[best] = True
        t += p[best]
    return order
"""
NP_EDD = "import numpy as np\n\ndef schedule(p, d):\n    return np.argsort(d, kind='stable')\n"
STUDY_EDD = ("import numpy as np\n\ndef assignment(processing_times, due_dates):\n"
             "    return list(np.argsort(due_dates, kind='stable'))\n")
BRUTE = """
import itertools
from evaluator.helpers import total_tardiness

def schedule(p, d):
    return min(itertools.permutations(range(len(p))), key=lambda o: (total_tardiness(p, d, o), o))
"""
RANDOMISED = """
import random
import numpy as np

def schedule(p, d):
    n = len(p)
    a = [random.random() for _ in range(n)]
    b = np.random.rand(n)
    c = np.random.default_rng().random(n)
    e = random.Random().random()
    names = list({f"job{j}" for j in range(n)})  # string set order depends on the hash seed
    key = [a[j] + b[j] + c[j] + e + names.index(f"job{j}") for j in range(n)]
    return sorted(range(n), key=lambda j: key[j])
"""
HELPER_SWAPS = """
from evaluator.helpers import total_tardiness

def schedule(p, d):
    order = sorted(range(len(p)), key=lambda j: (d[j], j))
    best = total_tardiness(p, d, order)
    for k in range(len(order) - 1):
        order[k], order[k + 1] = order[k + 1], order[k]
        value = total_tardiness(p, d, order)
        if value < best:
            best = value
        else:
            order[k], order[k + 1] = order[k + 1], order[k]
    return order
"""


def _mixed_set():
    a, b = generate(12, 2, 1), generate(30, 1, 2)
    items = [a.get(i) for i in range(a.count)] + [b.get(i) for i in range(b.count)]
    return from_arrays(items, name="mixed", rdd=np.r_[a.rdd, b.rdd], tf=np.r_[a.tf, b.tf])


def _with_brute_force_optima(iset):
    perms = np.array(list(itertools.permutations(range(iset.n))), dtype=np.int64)
    opt = [int(tardiness_of_orders(*iset.get(i), perms).min()) for i in range(iset.count)]
    return iset.with_fields(opt=opt)


def reference(iset, heuristic):
    return np.array([total_tardiness(*iset.get(i), heuristic(*iset.get(i))) for i in range(iset.count)])


def in_process(iset, code, entry="schedule"):
    ns: dict = {}
    exec(compile(code, "<trusted>", "exec"), ns)  # trusted test code, as the reference
    return np.array([total_tardiness(*iset.get(i), np.asarray(ns[entry](*(a.copy() for a in iset.get(i)))))
                     for i in range(iset.count)])


@pytest.fixture(scope="module")
def mixed():
    return _mixed_set()


@pytest.fixture(scope="module")
def small_opt():
    return _with_brute_force_optima(generate(6, 2, 5))


@pytest.fixture(scope="module")
def sb():
    with Sandbox(workers=2, timeout_s=20) as box:
        yield box


@pytest.fixture(scope="module")
def sb1():
    with Sandbox(workers=1, timeout_s=20) as box:
        yield box


@pytest.mark.parametrize(("code", "entry", "heuristic"), [
    (PY_EDD, "schedule", edd), (NP_EDD, "schedule", edd), (STUDY_EDD, "assignment", edd),
    (PY_MDD, "schedule", mdd),
])
def test_honest_programs_score_as_the_in_process_reference(code, entry, heuristic, sb, mixed):
    r = sb.evaluate(code, mixed, entry=entry)
    assert r.status == "ok" and r.error == "" and not r.cut_short
    assert np.array_equal(r.tardiness, reference(mixed, heuristic))
    assert np.all(r.seconds > 0)


def test_candidates_can_use_the_read_only_helpers(sb, mixed):
    r = sb.evaluate(HELPER_SWAPS, mixed)
    assert r.status == "ok", r.error
    assert np.array_equal(r.tardiness, in_process(mixed, HELPER_SWAPS))
    assert np.all(r.tardiness <= reference(mixed, edd))


def test_brute_force_candidate_reaches_the_optimum(sb, small_opt):
    r = sb.evaluate(BRUTE, small_opt)
    assert r.status == "ok", r.error
    assert np.array_equal(r.tardiness, small_opt.opt)


def test_scores_are_deterministic_across_runs_and_worker_counts(sb, sb1, mixed):
    one = sb1.evaluate(RANDOMISED, mixed, seed=7)
    two = sb1.evaluate(RANDOMISED + "\n", mixed, seed=7)  # same normalised code: cached
    assert two.cached and np.array_equal(one.tardiness, two.tardiness)
    three = sb.evaluate(RANDOMISED + "\nUNUSED = 1\n", mixed, seed=7)  # a real run on two workers
    assert not three.cached and three.status == "ok"
    assert np.array_equal(one.tardiness, three.tardiness)
    other_seed = sb.evaluate(RANDOMISED, mixed, seed=8)
    assert not np.array_equal(one.tardiness, other_seed.tardiness)


FAILS_LATE = """
def schedule(p, d):
    if len(p) == 30 and int(p.sum()) % 3 == 0:
        raise ZeroDivisionError("boom on a big one")
    if len(p) == 30 and int(d.sum()) % 5 == 0:
        return [0] * len(p)
    return sorted(range(len(p)), key=lambda j: (d[j], j))
"""


def _first_failure(iset):
    for i in range(iset.count):
        p, d = iset.get(i)
        if len(p) == 30 and (int(p.sum()) % 3 == 0 or int(d.sum()) % 5 == 0):
            return i, "ZeroDivisionError" if int(p.sum()) % 3 == 0 else "appears"
    return None, None


def test_failures_are_reported_at_the_lowest_instance_whatever_the_sharding(sb, sb1, mixed):
    f, what = _first_failure(mixed)
    assert f is not None and f > 0
    one, two = sb1.evaluate(FAILS_LATE, mixed), sb.evaluate(FAILS_LATE + "\nX = 1\n", mixed)
    assert one.status == two.status == ("error" if what == "ZeroDivisionError" else "invalid_output")
    assert one.error == two.error and one.error.startswith(f"instance {f} (n=30): ") and what in one.error
    assert np.array_equal(one.tardiness, two.tardiness)
    assert np.array_equal(one.tardiness[:f], reference(mixed, edd)[:f]) and np.all(one.tardiness[f:] == -1)


def test_error_text_names_the_line(sb, mixed):
    code = "def schedule(p, d):\n    x = 1\n    return [int(d[j]) // 0 for j in range(len(p))]\n"
    r = sb.evaluate(code, mixed)
    assert r.status == "error"
    assert r.error.startswith("instance 0 (n=12): line 3 in ") and "ZeroDivisionError" in r.error


SPIN = "def schedule(p, d):\n    for _ in range(4_000_000):\n        pass\n    return list(range(len(p)))\n"


def test_the_time_budget_covers_the_whole_set(sb1):
    """The budget is CPU time of the candidate's process: load on the machine does not change the verdict."""
    iset = generate(5, 1, 3, rdd_grid=(0.2, 0.6, 1.0))  # 12 instances, each ≥ 0.06 s of CPU on a fast core
    fast = sb1.evaluate(SPIN, iset, timeout_s=0.05)  # 0.05 s + 0.25 s grace for the shard: < 12 × 0.06 s
    assert fast.status == "timeout" and "CPU-time budget of 0.05 s" in fast.error
    assert 0 < int(fast.error.split()[1].rstrip(":")) < iset.count  # some instances ran before it ran out
    slow = sb1.evaluate(SPIN, iset, timeout_s=60)
    assert slow.status == "ok" and np.all(slow.tardiness >= 0)
    assert slow.total_seconds > 0.3  # per-instance CPU seconds of the child, all of them counted


def test_a_sleeping_candidate_meets_the_wall_clock_backstop(sb1):
    iset = generate(5, 1, 1, rdd_grid=(0.2,), tf_grid=(0.2,))
    code = "import time\ndef schedule(p, d):\n    time.sleep(60)\n    return [0, 1, 2, 3, 4]\n"
    with Sandbox(workers=1, timeout_s=0.1, _enforce_policy=False) as box:
        r = box.evaluate(code, iset)
    assert r.status == "timeout" and "wall-clock" in r.error, r.error


def test_memory_limit_is_configurable(sb):
    iset = generate(5, 1, 3, rdd_grid=(0.2,), tf_grid=(0.2,))
    code = ("import numpy as np\ndef schedule(p, d):\n    x = np.ones(400 * 2**20 // 8)\n"
            "    return [0, 1, 2, 3, 4]\n")
    with Sandbox(workers=1, memory_mb=600) as tight:
        assert tight.evaluate(code, iset).status == "memory"
    assert sb.evaluate(code, iset).status == "ok"


def test_cascade_with_infinite_threshold_scores_everything(sb, small_opt):
    plain = sb.evaluate(PY_MDD, small_opt)
    r = sb.evaluate(PY_MDD + "\nA = 1\n", small_opt, cascade=Cascade(subset=8, threshold=math.inf))
    assert r.status == "ok" and not r.cut_short and np.array_equal(r.tardiness, plain.tardiness)


def test_cascade_stops_clearly_worse_candidates_after_the_subset(sb, small_opt):
    cascade = Cascade(subset=8, threshold=0.0)  # any positive mean gap on the subset stops
    r = sb.evaluate(PY_EDD, small_opt, cascade=cascade)
    sub = stratified_subset(small_opt, 8)
    assert r.status == "ok" and r.cut_short
    assert np.array_equal(np.flatnonzero(r.valid), sub)
    assert np.array_equal(r.tardiness[sub], reference(small_opt, edd)[sub])
    optimal = sb.evaluate(BRUTE, small_opt, cascade=cascade)  # gap 0 is not above 0: runs everything
    assert not optimal.cut_short and np.array_equal(optimal.tardiness, small_opt.opt)


def test_cascade_reports_a_failure_in_the_subset(sb, small_opt):
    none = "def schedule(p, d):\n    return None\n"
    r = sb.evaluate(none, small_opt, cascade=Cascade(subset=8, threshold=50))
    assert r.status == "invalid_output" and not r.cut_short and "instance 0" in r.error


def test_cascade_subset_is_stratified_and_validated(small_opt):
    classes = small_opt.classes()
    sub = stratified_subset(small_opt, len(classes))
    assert {(small_opt.rdd[i], small_opt.tf[i]) for i in sub} == set(classes)
    assert np.array_equal(stratified_subset(small_opt, 10_000), np.arange(small_opt.count))
    with pytest.raises(ValueError):
        Cascade(subset=0)
    with pytest.raises(ValueError):
        Cascade(threshold=math.nan)


def test_cache_serves_only_the_same_code_and_persists_in_sqlite(tmp_path, sb, mixed):
    path = tmp_path / "cache.sqlite"
    with Sandbox(workers=1, cache_path=path) as box:
        first = box.evaluate(PY_EDD, mixed)
        again = box.evaluate(PY_EDD + "# the same code object\n", mixed)
        assert not first.cached and again.cached and np.array_equal(first.tardiness, again.tardiness)
        assert not box.evaluate("# shifts every line\n" + PY_EDD, mixed).cached
    fresh = Sandbox(workers=1, cache_path=path)
    try:
        hit = fresh.evaluate(PY_EDD, mixed)
        assert hit.cached and np.array_equal(hit.tardiness, first.tardiness)
        assert fresh.worker_info == []  # answered without starting a worker
        assert not fresh.evaluate(PY_EDD, mixed, seed=1).cached
    finally:
        fresh.close()


DOCSTRING_READER = '''
import numpy as np

def schedule(p, d):
    """EDD"""
    order = np.argsort(d, kind="stable")
    return order if "EDD" in schedule.__doc__ else order[::-1]
'''


def test_cache_tells_programs_apart_by_what_they_can_read_of_themselves(sb, mixed):
    """A program that behaves differently under another docstring is never served the other's score."""
    runtime = Sandbox(workers=1, _enforce_policy=False)  # the policy refuses __doc__, the cache must not
    try:
        edd_like = runtime.evaluate(DOCSTRING_READER, mixed)
        reversed_ = runtime.evaluate(DOCSTRING_READER.replace('"""EDD"""', '"""reversed"""'), mixed)
    finally:
        runtime.close()
    assert edd_like.status == reversed_.status == "ok" and not reversed_.cached
    assert np.array_equal(edd_like.tardiness, reference(mixed, edd))
    assert not np.array_equal(reversed_.tardiness, edd_like.tardiness)


def test_timeouts_are_not_cached(sb1):
    iset = generate(5, 1, 3, rdd_grid=(0.2,), tf_grid=(0.2,))
    loop = "def schedule(p, d):\n    while True:\n        pass\n"
    assert sb1.evaluate(loop, iset, timeout_s=0.1).status == "timeout"
    again = sb1.evaluate(loop, iset, timeout_s=0.1)
    assert again.status == "timeout" and not again.cached


def test_concurrent_submissions_and_duplicates(sb, mixed):
    codes = [PY_EDD + f"\nK = {k}\n" for k in range(5)]
    futures = [sb.submit(c, mixed) for c in codes] + [sb.submit(codes[0], mixed)]
    results = [f.result(timeout=60) for f in futures]
    expected = reference(mixed, edd)
    assert all(r.status == "ok" and np.array_equal(r.tardiness, expected) for r in results)
    assert results[-1].cached and not results[0].cached


def test_a_crash_ends_only_the_candidates_process(sb1, mixed):
    zygote = sb1.worker_info[0]["pid"]
    crash = ("from numpy.lib.stride_tricks import as_strided\ndef schedule(p, d):\n"
             "    return [int(x) for x in as_strided(p, shape=(4,), strides=(2**44,))]\n")
    r = sb1.evaluate(crash, mixed)
    assert r.status == "error" and "SIGSEGV" in r.error and r.error.startswith("instance 0:")
    ok = sb1.evaluate(PY_EDD + "\nZ = 2\n", mixed)
    assert ok.status == "ok" and np.array_equal(ok.tardiness, reference(mixed, edd))
    assert sb1.worker_info[0]["pid"] == zygote  # the zygote never ran the candidate, so it lives on


def test_bad_arguments_are_refused(sb, mixed):
    with pytest.raises(ValueError, match="timeout_s"):
        sb.submit(PY_EDD, mixed, timeout_s=0)
    with pytest.raises(ValueError, match="entry"):
        sb.submit(PY_EDD, mixed, entry="not a name")
    with pytest.raises(ValueError, match="workers"):
        Sandbox(workers=0)
    with pytest.raises(ValueError, match="memory_mb"):
        Sandbox(memory_mb=10)
    refused = sb.evaluate("import os\ndef schedule(p, d):\n    return []\n", mixed)
    assert refused.status == "refused" and "import of 'os'" in refused.error
    assert np.all(refused.tardiness == -1)


def test_more_sets_than_a_worker_keeps_are_reloaded_correctly(sb1):
    sets = [generate(6 + k, 1, k, rdd_grid=(0.2, 1.0)) for k in range(6)]  # more than SETS_PER_WORKER
    for rnd in range(2):
        for iset in sets:
            r = sb1.evaluate(PY_EDD + f"\nROUND = {rnd}\n", iset)
            assert r.status == "ok" and np.array_equal(r.tardiness, reference(iset, edd))


NUMBA_EDD = """
import numpy as np
from numba import njit

@njit(cache=False)
def due_date_order(p, d):
    n = p.shape[0]
    key = np.empty(n, np.int64)
    for j in range(n):
        key[j] = d[j] * (n + 1) + j  # ties by index: the stable EDD order
    return np.argsort(key)

def schedule(p, d):
    return due_date_order(p, d)
"""


@pytest.mark.slow
def test_candidates_can_compile_with_numba_inside_the_confined_process(sb1):
    """numba compiles in memory under the syscall filter, with no file in sight (once per process)."""
    iset = generate(30, 1, 4, rdd_grid=(0.6,), tf_grid=(0.4, 0.8))
    r = sb1.evaluate(NUMBA_EDD, iset)
    assert r.status == "ok", r.error
    assert np.array_equal(r.tardiness, reference(iset, edd))
