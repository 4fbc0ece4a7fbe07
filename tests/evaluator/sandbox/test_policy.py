"""The static policy (check_code), output conversion, framing and small values: no worker needed."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import numpy as np
import pytest

from evaluator.sandbox import EvalResult, check_code
from evaluator.sandbox import protocol as proto
from evaluator.sandbox.cache import cache_key
from evaluator.sandbox.confine import worker_env
from evaluator.sandbox.policy import inspect
from evaluator.sandbox.pool import split
from evaluator.sandbox.runner import InvalidOutput, to_order

EDD = "import numpy as np\n\ndef schedule(p, d):\n    return np.argsort(d, kind='stable')\n"

ALLOWED = [
    EDD,
    "from heapq import heappush, heappop\nimport math, itertools, functools, collections, bisect, operator\n"
    "import random\nfrom collections import defaultdict\ndef schedule(p, d):\n"
    "    return list(range(len(p)))\n",
    "from evaluator.helpers import total_tardiness\ndef schedule(p, d, k=3):\n    return [0]\n",
    "from evaluator import helpers\ndef schedule(p, d):\n    return helpers\n",
    "import numpy.linalg as la\ndef schedule(*args):\n    return []\n",
    "from numba import njit\n\n@njit\ndef key(p, d):\n    return d - p\n\ndef schedule(p, d):\n"
    "    return []\n",
    "schedule = lambda p, d: sorted(range(len(p)), key=lambda j: d[j])\n",
    "class Job:\n    def __init__(self, j):\n        self.j = j\n\ndef schedule(p, d):\n"
    "    return [Job(j).j for j in range(len(p))]\n",
    'def schedule(p, d):\n    """Uses __dunder__ words in its docstring."""\n    return []\n',
    "import numpy as np\ndef schedule(p, d):\n    return getattr(np, 'argsort')(d)\n",
    # the main guard never runs in the sandbox, so what it imports does not matter
    "def schedule(p, d):\n    return []\n\nif __name__ == '__main__':\n    import sys\n    sys.exit(0)\n",
]


@pytest.mark.parametrize("code", ALLOWED)
def test_allowed_code_passes(code):
    assert check_code(code) is None


REFUSED = [
    ("import os\ndef schedule(p, d): return []", "import of 'os'"),
    ("from subprocess import run\ndef schedule(p, d): return []", "import of 'subprocess'"),
    ("import numpy.ctypeslib\ndef schedule(p, d): return []", "numpy.ctypeslib"),
    ("from numba import cuda\ndef schedule(p, d): return []", "import of 'numba.cuda'"),
    ("import numba.pycc\ndef schedule(p, d): return []", "numba.pycc"),
    ("from evaluator import kernels\ndef schedule(p, d): return []", "evaluator.kernels"),
    ("from . import x\ndef schedule(p, d): return []", "relative"),
    ("import importlib\ndef schedule(p, d): return []", "importlib"),
    ("def schedule(p, d):\n    return __import__('os')", "__import__"),
    ("def schedule(p, d):\n    return eval('1')", "'eval'"),
    ("def schedule(p, d):\n    return open('/etc/passwd').read()", "'open'"),
    ("def schedule(p, d):\n    return ().__class__.__bases__", "no dunder attributes"),
    ("def schedule(p, d):\n    return getattr(p, '__class__')", "getattr"),
    ("def schedule(p, d):\n    n = '__cl' + 'ass__'\n    return getattr(p, n)", "getattr"),
    ("def schedule(p, d):\n    return '{0.__class__}'.format(p)", "'__'"),
    ("import numpy as np\ndef schedule(p, d):\n    np.argsort = sorted\n    return []", "read-only"),
    ("import numpy as np\ndef schedule(p, d):\n    np.random.seed = None\n    return []", "read-only"),
    ("import math\ndef schedule(p, d):\n    del math.pi\n    return []", "read-only"),
    ("def schedule(p, d):\n    p.setflags(write=True)\n    return []", "setflags"),
    ("import numpy as np\ndef schedule(p, d):\n    np.save('x', p)\n    return []", "save"),
    ("def schedule(p, d):\n    g = (x for x in p)\n    return g.gi_frame.f_globals", "f_globals"),
    ("def schedule(p, d):\n    global __builtins__\n    return []", "__builtins__"),
]


@pytest.mark.parametrize(("code", "reason"), REFUSED)
def test_forbidden_code_is_refused_with_a_reason(code, reason):
    got = check_code(code)
    assert got is not None and reason in got
    assert inspect(code).status == "refused"


ERRORS = [
    ("def schedule(p, d)\n    return []", "SyntaxError"),
    ("import numpy\nreturn 5\ndef schedule(p, d):\n    return []",
     "line 2: SyntaxError: 'return' outside function"),
    ("def schedule(p, d):\n    return []\nyield 1\n", "line 3: SyntaxError: 'yield' outside function"),
    ("def other(p, d):\n    return []", "no function 'schedule'"),
    ("def schedule(p):\n    return []", "two positional"),
    ("def schedule(p, d, k):\n    return []", "two positional"),
    ("def schedule(p, d, *, k):\n    return []", "keyword-only"),
    ("async def schedule(p, d):\n    return []", "async"),
    ("schedule = sorted\n", "def schedule"),
    ("x = 1\n" * 40_000, "limit"),
]


@pytest.mark.parametrize(("code", "reason"), ERRORS)
def test_code_that_cannot_run_is_an_error(code, reason):
    v = inspect(code)
    assert v.status == "error" and reason in v.reason


def test_entry_name_is_configurable():
    study = "def assignment(processing_times, due_dates):\n    return []\n"
    assert check_code(study, entry="assignment") is None
    assert "no function 'schedule'" in check_code(study)


def test_policy_can_be_limited_to_syntax_and_entry():
    assert inspect("import os\ndef schedule(p, d): return []", enforce=False).status == "ok"
    assert inspect("import os\n", enforce=False).status == "error"


def test_cache_key_is_the_executed_code():
    """Docstrings, line numbers and columns are part of what runs, so they are part of the key."""
    k = cache_key(EDD, "schedule", "a" * 64, 0)
    assert k == cache_key(EDD + "\n# a trailing comment\n", "schedule", "a" * 64, 0)  # compiles the same
    assert k == cache_key(EDD + "if __name__ == '__main__':\n    print(1)\n", "schedule", "a" * 64, 0)
    documented = EDD.replace("):\n", '):\n    """Sort by due date."""\n')
    variants = [documented, documented.replace("due date", "due dates"), "\n" + EDD,
                EDD.replace("(d, kind", "(d,  kind"), EDD.replace("stable", "quicksort")]
    keys = {cache_key(v, "schedule", "a" * 64, 0) for v in variants}
    assert len(keys) == len(variants) and k not in keys


def test_cache_key_separates_entry_set_seed_and_variant():
    k = cache_key(EDD, "schedule", "a" * 64, 0)
    others = {cache_key(EDD, "assignment", "a" * 64, 0), cache_key(EDD, "schedule", "b" * 64, 0),
              cache_key(EDD, "schedule", "a" * 64, 1), cache_key(EDD, "schedule", "a" * 64, 0, "cascade")}
    assert k not in others and len(others) == 4
    assert cache_key("def (", "schedule", "a" * 64, 0) is None
    assert cache_key("return 1\ndef schedule(p, d):\n    return []\n", "schedule", "a" * 64, 0) is None


def test_cache_key_does_not_depend_on_the_hash_seed():
    code = "def schedule(p, d):\n    return [j for j in range(len(p)) if 'x' not in {'a', 'b', 'c', 'x'}]\n"
    script = ("import sys; from evaluator.sandbox.cache import cache_key;"
              f"print(cache_key({code!r}, 'schedule', 'a' * 64, 0))")
    keys = {subprocess.run([sys.executable, "-c", script], env={**os.environ, "PYTHONHASHSEED": str(seed)},
                           capture_output=True, text=True, check=True).stdout for seed in (1, 2, 3)}
    assert len(keys) == 1


GOOD_OUTPUTS = [
    ([2, 0, 1], [2, 0, 1]),
    ((2, 0, 1), [2, 0, 1]),
    (np.array([2, 0, 1], dtype=np.int32), [2, 0, 1]),
    (np.array([2, 0, 1], dtype=np.uint8), [2, 0, 1]),
    ([np.int64(1), 0, 2], [1, 0, 2]),
    (range(3), [0, 1, 2]),
]


@pytest.mark.parametrize(("out", "order"), GOOD_OUTPUTS)
def test_valid_outputs_convert_to_int64_orders(out, order):
    got = to_order(out, 3)
    assert got.dtype == np.int64 and got.tolist() == order


BAD_OUTPUTS = [
    (None, "returned None"),
    ([0.0, 1.0, 2.0], "float64"),
    ([True, False, True], "bool"),
    ([0, 0, 1], "job 0 appears 2 times and job 2 is missing"),
    ([0, 1], "returned 2 indices for 3 jobs"),
    ([0, 1, 3], "index 3 is out of range 0..2"),
    ([0, -1, 1], "index -1 is out of range"),
    ([[0, 1, 2]], "shape (1, 3)"),
    ({0, 1, 2}, "set"),
    (iter([0, 1, 2]), "list_iterator"),
    ("012", "str"),
    ([0, 1, 2**70], "object"),
    ([0, 1, "2"], "returned <U21"),
]


@pytest.mark.parametrize(("out", "reason"), BAD_OUTPUTS)
def test_invalid_outputs_are_named(out, reason):
    with pytest.raises(InvalidOutput, match=None) as e:
        to_order(out, 3)
    assert reason in str(e.value)


def test_worker_environment_keeps_no_secrets():
    parent = {"PATH": "/usr/bin", "OPENAI_API_KEY": "sk-x", "GITHUB_TOKEN": "t", "AWS_SECRET_ACCESS_KEY": "s",
              "HTTPS_PROXY": "http://p", "no_proxy": "x", "NUMBA_CACHE_DIR": "/c", "NUMBA_AUTH_TOKEN": "z",
              "HOME": "/root", "PYTHONPATH": "/evil", "LD_PRELOAD": "/evil.so", "LANG": "C.UTF-8"}
    env = worker_env(parent, "/tmp/empty")
    assert env["PATH"] == "/usr/bin" and env["LANG"] == "C.UTF-8" and env["NUMBA_CACHE_DIR"] == "/c"
    assert env["HOME"] == env["TMPDIR"] == "/tmp/empty" and env["PYTHONHASHSEED"] == "0"
    for gone in ("OPENAI_API_KEY", "GITHUB_TOKEN", "AWS_SECRET_ACCESS_KEY", "HTTPS_PROXY", "no_proxy",
                 "NUMBA_AUTH_TOKEN", "PYTHONPATH", "LD_PRELOAD"):
        assert gone not in env


def _pipe_with(data: bytes) -> int:
    r, w = os.pipe()
    os.set_blocking(r, False)
    os.write(w, data)
    os.close(w)
    return r


def _read(data: bytes, **kw):
    r = _pipe_with(data)
    try:
        return proto.read_message(r, time.monotonic() + 1, **kw)
    finally:
        os.close(r)


def test_framing_round_trip_and_limits():
    assert _read(proto.encode({"a": 1}, b"xyz")) == ({"a": 1}, b"xyz")
    with pytest.raises(proto.ProtocolError, match="too large"):
        _read(proto.encode({"a": 1}, b"x" * 100), max_blob=10)
    with pytest.raises(proto.ProtocolError, match="not an object"):
        _read(proto.HEADER.pack(5, 0) + b"[1,2]")
    with pytest.raises(proto.ProtocolError, match="malformed"):
        _read(proto.HEADER.pack(3, 0) + b"\xff\xfe{")
    with pytest.raises(proto.PeerClosed):
        _read(proto.encode({"a": 1}, b"xyz")[:-1])


def test_decoding_takes_exactly_one_frame():
    frame = proto.encode({"a": 1}, b"xyz")
    assert proto.decode(frame) == ({"a": 1}, b"xyz")
    for bad, why in [(frame + b"!", "one message"), (frame + frame, "one message"),
                     (frame[:-1], "one message"), (frame[:5], "shorter"),
                     (proto.encode({"a": 1}, b"x" * 100), "too large")]:
        with pytest.raises(proto.ProtocolError, match=why):
            proto.decode(bad, max_blob=50)


def test_framing_read_times_out_on_a_silent_peer():
    r, w = os.pipe()
    try:
        os.set_blocking(r, False)
        os.write(w, proto.encode({"a": 1}, b"xyz")[:-2])  # a partial message, then silence
        t0 = time.monotonic()
        with pytest.raises(proto.Timeout):
            proto.read_message(r, time.monotonic() + 0.2)
        assert 0.15 < time.monotonic() - t0 < 2
    finally:
        os.close(r)
        os.close(w)


def test_split_makes_consecutive_balanced_shards():
    sizes = np.array([10] * 50 + [40] * 50)
    parts = split(np.arange(100), sizes, 4)
    assert np.array_equal(np.concatenate(parts), np.arange(100))
    work = [float(np.sum(sizes[s] ** 2)) for s in parts]
    assert len(parts) == 4 and max(work) < 1.3 * min(work)
    assert len(split(np.arange(10), np.full(10, 5), 4)) == 1  # too few instances to be worth splitting


def test_eval_result_validates_itself():
    r = EvalResult("ok", "", np.array([3, -1]), np.array([0.1, 0.0]))
    assert r.mean_tardiness == 3.0 and r.valid.tolist() == [True, False] and r.instances == 2
    with pytest.raises(ValueError):
        r.tardiness[0] = 0
    with pytest.raises(ValueError, match="status"):
        EvalResult("fine", "", np.zeros(1), np.zeros(1))
    with pytest.raises(ValueError, match="equal length"):
        EvalResult("error", "x", np.zeros(2), np.zeros(1))
    with pytest.raises(ValueError, match="no error text"):
        EvalResult("ok", "boom", np.zeros(1), np.zeros(1))
    assert EvalResult.failed("refused", "no", 3).tardiness.tolist() == [-1, -1, -1]
