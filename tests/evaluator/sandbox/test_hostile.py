"""Hostile candidates (tests/hostile/*.py) are contained with the right status and the host is untouched.

Each program states ``# expect: <status with the policy> <status without it>``: the first
column is the production sandbox, the second the same sandbox with the static policy switched
off, which shows the process limits hold on their own. A third mode also drops the audit hook
and checks that the OS layers (empty root, seccomp, own uid, no processes, no network) still
hold. ``# scores: identity|reversed`` names the order an ``ok`` result must score as (nothing
leaked into it). After every hostile program an honest one, run in the same sandbox, must
score exactly as in a fresh sandbox, and no marker file may appear anywhere.
"""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

import numpy as np
import pytest

from evaluator.heuristics import edd
from evaluator.instances import generate
from evaluator.kernels import total_tardiness
from evaluator.sandbox import Sandbox
from evaluator.sandbox.process import UID_BASE
from tests.conftest import REPO, TESTS

HOSTILE = TESTS / "hostile"
CASES = sorted(p.name for p in HOSTILE.glob("*.py"))
SECRET_ENV = "DISCOVER_TEST_API_KEY"
ANSWERS = REPO / "archive" / "baselines" / "train_n25.json"
FOLLOWER = """
import random
import numpy as np
from evaluator.helpers import total_tardiness

def schedule(p, d):
    order = [int(j) for j in np.argsort(d, kind="stable")]
    k = random.Random(7).randrange(len(order)) + random.randrange(2)
    rotated = order[k:] + order[:k]
    return rotated if total_tardiness(p, d, rotated) < total_tardiness(p, d, order) else order
"""
WORKER_MARK = "evaluator.sandbox.zygote"


def _header(name: str) -> dict[str, str]:
    out = {}
    for line in (HOSTILE / name).read_text().splitlines():
        if line.startswith("# ") and ":" in line:
            k, v = line[2:].split(":", 1)
            out[k.strip()] = v.strip()
    return out


def _proc_table() -> list[dict]:
    rows = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            uid = int((entry / "status").read_text().split("\nUid:", 1)[1].split()[0])
            cmd = (entry / "cmdline").read_bytes().decode(errors="replace")
        except (OSError, IndexError, ValueError):
            continue
        rows.append({"pid": int(entry.name), "state": stat[0], "ppid": int(stat[1]), "sid": int(stat[3]),
                     "uid": uid, "cmd": cmd})
    return rows


def strays() -> list[dict]:
    """Return processes that should not exist: zombies, escaped uids, anything under a zygote but its spare.

    A zygote keeps one child forked and confined ahead of time, waiting for its request; any
    other process in a zygote's session or under a candidate uid outlived its result.
    """
    me = os.getpid()
    lo = UID_BASE + (me % 100_000) * 4096
    table = _proc_table()
    zygotes = {r["pid"] for r in table if r["ppid"] == me and WORKER_MARK in r["cmd"]}
    spares: dict[int, int] = {}
    bad = []
    for r in table:
        if r["pid"] in zygotes:
            if r["state"] == "Z":
                bad.append(r)
            continue
        if r["ppid"] in zygotes and r["state"] == "S" and r["ppid"] not in spares:
            spares[r["ppid"]] = r["pid"]
            continue
        if (r["ppid"] in zygotes or r["sid"] in zygotes or lo <= r["uid"] < lo + 4096
                or (r["ppid"] == me and r["state"] == "Z")):
            bad.append(r)
    return bad


def assert_no_strays() -> None:
    deadline = time.monotonic() + 3
    while (found := strays()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not found, f"stray processes: {found}"


@pytest.fixture(scope="module")
def iset():
    return generate(8, 1, 7, rdd_grid=(0.6,), tf_grid=(0.2, 0.4, 0.6, 0.8))


@pytest.fixture(scope="module")
def env_secret():
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(SECRET_ENV, "sk-test-not-a-real-key")
        mp.setenv("HTTPS_PROXY", "http://proxy.invalid:3128")
        yield


@pytest.fixture(scope="module")
def sandboxes(env_secret):
    boxes = {
        "policy": Sandbox(workers=2, timeout_s=1.0),
        "runtime": Sandbox(workers=2, timeout_s=1.0, _enforce_policy=False),
    }
    yield boxes
    for sb in boxes.values():
        sb.close()
    assert_no_strays()
    mine = [r for r in _proc_table() if r["ppid"] == os.getpid() and WORKER_MARK in r["cmd"]]
    assert not mine, f"workers left after close: {mine}"


@pytest.fixture
def host(tmp_path):
    """A canary path, a secret file and a listening socket the candidates try to reach."""
    secret = tmp_path / "id_rsa"
    secret.write_text("-----BEGIN OPENSSH PRIVATE KEY-----\n")
    secret.chmod(0o600)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.setblocking(False)
    marker = f"discover-hostile-marker-{os.getpid()}-{tmp_path.name}"
    yield {"canary": tmp_path / "canary.txt", "secret": secret, "listener": listener, "marker": marker,
           "places": [tmp_path, Path("/tmp"), Path("/dev/shm"), Path.cwd(), Path.home()]}
    listener.close()


@pytest.fixture(scope="module")
def follower_fresh(iset):
    """What the honest follower scores in a sandbox that has run nothing else."""
    with Sandbox(workers=1) as fresh:
        r = fresh.evaluate(FOLLOWER, iset)
    assert r.status == "ok", r.error
    return r.tardiness


def _code(name: str, host: dict) -> str:
    port = str(host["listener"].getsockname()[1])
    return ((HOSTILE / name).read_text().replace("{CANARY}", str(host["canary"]))
            .replace("{SECRET}", str(host["secret"])).replace("{PORT}", port)
            .replace("{MARKER}", host["marker"]).replace("{ANSWERS}", str(ANSWERS)))


def _reference(iset, order_of) -> np.ndarray:
    return np.array([total_tardiness(*iset.get(i), order_of(*iset.get(i))) for i in range(iset.count)])


def _identity(p, d):
    return np.arange(len(p))


def _reversed(p, d):
    return np.arange(len(p))[::-1]


SCORES = {"identity": _identity, "reversed": _reversed, "edd": edd}


def assert_host_untouched(host: dict) -> None:
    assert not host["canary"].exists(), "the candidate wrote a file"
    for place in host["places"]:
        left = sorted(place.glob(host["marker"] + "*"))
        assert not left, f"the candidate left {left}"
    with pytest.raises(BlockingIOError):
        host["listener"].accept()
    assert os.environ.get(SECRET_ENV) == "sk-test-not-a-real-key"
    assert_no_strays()


def test_suite_is_large_enough():
    assert len(CASES) >= 20


@pytest.mark.parametrize("mode", ["policy", "runtime"])
@pytest.mark.parametrize("name", CASES)
def test_hostile_candidate_is_contained(name, mode, sandboxes, iset, host, capfd, follower_fresh):
    head = _header(name)
    expected = head["expect"].split()[0 if mode == "policy" else 1].split("|")
    sb = sandboxes[mode]
    r = sb.evaluate(_code(name, host), iset)
    assert r.status in expected, f"{name} [{mode}]: {r.status}: {r.error}"
    assert r.tardiness.shape == (iset.count,)
    if r.status != "ok":
        assert r.error and len(r.error) <= 500
        assert any(m in r.error for m in head.get("message", "").split("|")), r.error
        assert np.all(r.tardiness == -1)  # every hostile program fails on its first instance
    elif "scores" in head:  # an honest score: what that order is worth, nothing leaked into it
        assert np.array_equal(r.tardiness, _reference(iset, SCORES[head["scores"]]))
    assert_host_untouched(host)
    after = sb.evaluate(FOLLOWER + f"\nAFTER = {name!r}\n", iset)  # new code: never a cache hit
    assert after.status == "ok" and not after.cached, after.error
    assert np.array_equal(after.tardiness, follower_fresh), f"{name} changed the next candidate's score"
    out, err = capfd.readouterr()
    assert "SPAM-FROM-CANDIDATE" not in out + err


@pytest.mark.parametrize("name", ["env_keys.py", "write_into_inputs_forced.py"])
def test_runtime_tricks_gain_nothing(name, sandboxes, iset, host):
    """Without the policy these run, but score exactly as the plain identity order would."""
    r = sandboxes["runtime"].evaluate(_code(name, host), iset)
    assert r.status == "ok", r.error
    assert np.array_equal(r.tardiness, _reference(iset, _identity))


def test_flooding_stdout_still_scores_correctly(sandboxes, iset, host):
    r = sandboxes["policy"].evaluate(_code("huge_stdout.py", host), iset)
    assert r.status == "ok"
    assert np.array_equal(r.tardiness, _reference(iset, edd))


def test_monkeypatched_numpy_does_not_leak_into_later_candidates(sandboxes, iset, host):
    sb = sandboxes["runtime"]
    edd_code = "import numpy as np\ndef schedule(p, d):\n    return np.argsort(d, kind='stable')\n"
    assert sb.evaluate(_code("monkeypatch_numpy.py", host), iset).status == "refused"
    for k in range(4):  # distinct code each time (no cache), landing on both workers
        r = sb.evaluate(edd_code + f"K = {k}\n", iset)
        assert r.status == "ok" and np.array_equal(r.tardiness, _reference(iset, edd))


BARE = {  # with neither the policy nor the audit hook: what the OS layers alone make of each
    "fork_bomb.py": "error", "write_file.py": "error", "socket_connect.py": "error",
    "kill_parent.py": "error",
    "ctypes_segfault.py": "error", "parent_environ.py": "error", "thread_outlives.py": "error",
    "subprocess_run.py": "error", "os_system.py": "ok", "read_ssh_key.py": "ok",
    "hook_neutered_ctypes.py": "ok", "mknod_mkfifo.py": "ok", "stat_shadow.py": "ok",
    "str_subclass_path.py": "ok", "read_parent_cmdline.py": "ok", "read_instance_file.py": "ok",
    "pipe_forgery.py": "error", "fake_stopped.py": "error", "persist_to_order.py": "invalid_output",
    "close_reply_pipe.py": "error",
}


@pytest.fixture(scope="module")
def bare(env_secret):
    sb = Sandbox(workers=1, timeout_s=2.0, _enforce_policy=False, _audit=False)
    with sb:
        if sb.missing_layers:
            pytest.skip(f"the OS layers are not all available here: {', '.join(sb.missing_layers)}")
        yield sb
    assert_no_strays()


@pytest.mark.parametrize("name", sorted(BARE))
def test_os_layers_hold_without_the_audit_hook(name, bare, iset, host):
    r = bare.evaluate(_code(name, host), iset)
    assert r.status == BARE[name], r.error
    if r.status == "ok":  # the secret could not be read, the command could not run
        assert np.array_equal(r.tardiness, _reference(iset, _identity))
    assert_host_untouched(host)
