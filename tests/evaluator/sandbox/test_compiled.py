"""Compiled candidates: numba compiles once per process, apart from the instances' timing, seeded
per instance, with a fallback to Python that says why; numba's dangerous parts are refused."""

from __future__ import annotations

import numpy as np
import pytest

from evaluator.heuristics import edd, mdd
from evaluator.instances import generate
from evaluator.sandbox import Sandbox, check_code
from tests.conftest import REPO
from tests.evaluator.sandbox.test_scoring import reference

NUMBA_MDD = (REPO / "bench" / "programs" / "mdd_numba.py").read_text().replace("@njit", "@njit(cache=True)")
RANDOM_KEYS = """
import random
import numpy as np
from numba import njit


@njit
def keys(p, d):
    n = p.shape[0]
    out = np.empty(n, np.float64)
    for j in range(n):
        out[j] = d[j] * (0.5 + np.random.random()) + p[j] * random.random()
    return out


def schedule(p, d):
    return np.argsort(keys(p, d), kind="stable")
"""
UNCOMPILABLE = """
import numpy as np
from numba import njit


@njit
def key(p, d):
    table = {}
    table["due"] = 1
    table[2] = "mixed keys and values: numba cannot type this dict"
    return d


def schedule(p, d):
    return np.argsort(key(p, d), kind="stable")
"""
STATEFUL = """
import numpy as np
from numba import njit

calls = []


@njit
def due_order(d):
    return np.argsort(d, kind="mergesort")


def schedule(p, d):
    calls.append(1)  # the warm-up call is the first: every instance must see exactly one before it
    order = due_order(d)
    return order if len(calls) == 2 else order[::-1]
"""


@pytest.fixture(scope="module")
def boxes():
    """Sandboxes with one and with two processes."""
    with Sandbox(workers=1, timeout_s=20.0) as one, Sandbox(workers=2, timeout_s=20.0) as two:
        yield {1: one, 2: two}


@pytest.fixture(scope="module")
def iset():
    return generate(30, 3, 5, rdd_grid=(0.2, 0.6), tf_grid=(0.4, 0.8))  # 12 instances


@pytest.mark.slow
def test_a_compiled_candidate_compiles_once_per_process_apart_from_its_timing(boxes, iset):
    """cache=True is dropped, the scores are MDD's, and no instance's CPU time holds a compile."""
    r = boxes[1].evaluate(NUMBA_MDD, iset)
    assert r.status == "ok", r.error
    assert np.array_equal(r.tardiness, reference(iset, mdd))
    assert r.mode == "compiled" and r.compile_error == ""
    # compiling takes tens of ms of CPU at the least; one n = 30 MDD call takes microseconds
    assert r.compile_s > 0.02
    assert r.seconds.max() * 20 < r.compile_s, (r.seconds.max(), r.compile_s)
    assert r.to_dict()["mode"] == "compiled"


@pytest.mark.slow
def test_numbas_own_generators_are_seeded_per_instance(boxes, iset):
    """Same seed: the same scores with one process or two; another seed: other draws."""
    one = boxes[1].evaluate(RANDOM_KEYS, iset, seed=11)
    two = boxes[2].evaluate(RANDOM_KEYS, iset, seed=11)
    other = boxes[2].evaluate(RANDOM_KEYS, iset, seed=12)
    assert one.status == two.status == other.status == "ok", (one.error, two.error, other.error)
    assert one.mode == "compiled"
    assert np.array_equal(one.tardiness, two.tardiness)
    assert not np.array_equal(one.tardiness, other.tardiness)


@pytest.mark.slow
def test_code_numba_cannot_compile_runs_as_python_and_says_why(boxes, iset):
    r = boxes[1].evaluate(UNCOMPILABLE, iset)
    assert r.status == "ok" and r.error == ""
    assert np.array_equal(r.tardiness, reference(iset, edd))
    assert r.mode == "python"
    assert r.compile_error.startswith("line 10: TypingError: ") and "setitem" in r.compile_error
    assert "\n" not in r.compile_error and len(r.compile_error) <= 300
    broken = boxes[1].evaluate(UNCOMPILABLE.replace('kind="stable")', 'kind="stable")[: len(p) // 0]'), iset)
    assert broken.status == "error" and "ZeroDivisionError" in broken.error
    assert "numba could not compile it: line 10: TypingError" in broken.error


@pytest.mark.slow
def test_an_instance_that_changes_the_modules_globals_leaves_the_next_a_fresh_module(boxes, iset):
    """Each instance starts from the module as it was after the warm-up, however the set is sharded."""
    for sb in boxes.values():
        r = sb.evaluate(STATEFUL, iset)
        assert r.status == "ok", r.error
        assert r.mode == "compiled"
        assert np.array_equal(r.tardiness, reference(iset, edd))


@pytest.mark.parametrize("code, reason", [
    ("from numba.extending import intrinsic\n", "'numba.extending.intrinsic' is not allowed"),
    ("from numba.extending import overload\n", "'numba.extending.overload' is not allowed"),
    ("from numba import extending\n", "'numba.extending' is not allowed"),
    ("import numba.core.errors\n", "'numba.core.errors' is not allowed"),
    ("import numba\nX = numba.core.unsafe\n", "use of 'numba.core.unsafe' is not allowed"),
    ("import numba as nb\nX = nb.extending.intrinsic\n", "use of 'numba.extending.intrinsic'"),
    ("from numba.experimental import jitclass\n", "'numba.experimental.jitclass' is not allowed"),
    ("from numba import carray\n", "'numba.carray' is not allowed"),
    ("from numba import farray\n", "'numba.farray' is not allowed"),
    ("import numba\nX = numba.farray\n", "'numba.farray' is not allowed"),
    ("from numba import cfunc\n", "'numba.cfunc' is not allowed"),
    ("from numba import objmode\n", "'numba.objmode' is not allowed"),
    ("import numba\nX = numba.objmode\n", "'numba.objmode' is not allowed"),
    ("from numba.np.unsafe.ndarray import empty_inferred\n", "'numba.np.unsafe.ndarray"),
])
def test_numbas_dangerous_parts_are_refused(code, reason):
    got = check_code(code + "def schedule(p, d):\n    return list(range(len(p)))\n")
    assert got is not None and reason in got, got
    assert "numba's compiler internals" in got


def test_plain_numba_stays_allowed():
    code = ("import numba\nfrom numba import njit, prange, types\nfrom numba.typed import List\n\n"
            "@numba.njit(cache=True, fastmath=True)\ndef schedule(p, d):\n    return list(range(len(p)))\n")
    assert check_code(code) is None


@pytest.mark.slow
def test_parallel_numba_runs_on_the_one_thread_it_has(boxes, iset):
    """parallel=True would start a threading layer; the policy drops it and prange runs as range."""
    code = ("import numpy as np\nfrom numba import njit, prange\n\n@njit(parallel=True)\ndef keys(d):\n"
            "    out = np.empty(d.shape[0], np.int64)\n    for j in prange(d.shape[0]):\n"
            "        out[j] = d[j] * (d.shape[0] + 1) + j\n    return out\n\n"
            "def schedule(p, d):\n    return np.argsort(keys(d))\n")
    r = boxes[1].evaluate(code, iset)
    assert r.status == "ok" and r.mode == "compiled", r.error
    assert np.array_equal(r.tardiness, reference(iset, edd))


@pytest.mark.slow
def test_later_processes_install_the_machine_code_the_first_one_compiled(iset):
    """The same code on another set: a fraction of the compile time, and the scores of a fresh compile."""
    other = generate(30, 3, 6, rdd_grid=(0.2, 0.6), tf_grid=(0.4, 0.8))
    with Sandbox(workers=1, timeout_s=20.0) as sb:
        first = sb.evaluate(RANDOM_KEYS, iset, seed=3)
        again = sb.evaluate(RANDOM_KEYS, other, seed=3)
    with Sandbox(workers=1, timeout_s=20.0) as fresh:
        compiled_here = fresh.evaluate(RANDOM_KEYS, other, seed=3)
    assert first.status == again.status == compiled_here.status == "ok", (again.error, compiled_here.error)
    assert again.mode == compiled_here.mode == "compiled"
    assert np.array_equal(again.tardiness, compiled_here.tardiness)  # numba's generators seeded alike too
    assert again.compile_s * 4 < compiled_here.compile_s, (again.compile_s, compiled_here.compile_s)


def test_machine_code_that_does_not_fit_the_module_is_ignored():
    """A payload naming a function the module lacks, or not a payload at all, installs nothing."""
    from numba import njit
    from numba.core.serialize import dumps

    from evaluator.sandbox import machine

    def f(x):
        return x + 1

    f.__module__ = "candidate"
    jitted = {"f": njit(f)}
    assert not machine.install(jitted, b"not a pickle")
    assert not machine.install(jitted, dumps({("g", None): ()}))
    assert not jitted["f"].overloads
    assert machine.key("x = 1\n") != machine.key('"""doc"""\nx = 1\n')


@pytest.mark.slow
def test_code_numba_could_not_compile_runs_as_python_at_once_in_later_processes(iset):
    """The reason is remembered: the next set runs as Python with it, without numba trying again."""
    other = generate(30, 3, 6, rdd_grid=(0.2, 0.6), tf_grid=(0.4, 0.8))
    with Sandbox(workers=1, timeout_s=20.0) as sb:
        first = sb.evaluate(UNCOMPILABLE, iset)
        again = sb.evaluate(UNCOMPILABLE, other)
    assert first.status == again.status == "ok" and first.mode == again.mode == "python"
    assert again.compile_error == first.compile_error != ""
    assert again.compile_s * 4 < first.compile_s, (again.compile_s, first.compile_s)
