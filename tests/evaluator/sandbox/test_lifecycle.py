"""Workers start confined, and every worker is reaped: on close, with work in flight, at exit, on SIGKILL."""

from __future__ import annotations

import gc
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from evaluator.heuristics import edd
from evaluator.instances import generate
from evaluator.kernels import total_tardiness
from evaluator.sandbox import Sandbox, SandboxClosed, SandboxUnsafe, process
from evaluator.sandbox.layers import LAYERS
from tests.conftest import REPO

ROOT = REPO
LOOP = "def schedule(p, d):\n    while True:\n        pass\n"
EDD = "def schedule(p, d):\n    return sorted(range(len(p)), key=lambda j: (d[j], j))\n"
SCRIPT = """
import sys, time
from evaluator.sandbox import Sandbox
sb = Sandbox(workers=2)
sb.__enter__()
print(" ".join(str(i["pid"]) for i in sb.worker_info), flush=True)
if sys.argv[1] == "hang":
    time.sleep(120)
"""


def reference(iset, heuristic):
    return np.array([total_tardiness(*iset.get(i), heuristic(*iset.get(i))) for i in range(iset.count)])


def _state(pid: int) -> str | None:
    """Return the process state letter, or None when the pid no longer exists."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None


def _wait_gone(pids: list[int], timeout_s: float = 10, allow_zombie: bool = False) -> list[int]:
    deadline = time.monotonic() + timeout_s
    while True:
        alive = [p for p in pids if _state(p) not in ((None, "Z") if allow_zombie else (None,))]
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.05)


def test_zygotes_report_every_layer():
    with Sandbox(workers=1) as sb:
        info = sb.worker_info[0]
        assert info["ok"] and set(info["layers"]) == set(LAYERS)
        if os.geteuid() == 0:  # as root each candidate's process must become its own unprivileged user
            assert info["uid"] >= process.UID_BASE
        assert sb.missing_layers == [], sb.layers  # this machine's kernel allows them all


def test_close_reaps_every_worker_and_is_final():
    sb = Sandbox(workers=2)
    sb.__enter__()
    pids = [i["pid"] for i in sb.worker_info]
    assert len(pids) == 2 and all(_state(p) not in (None, "Z") for p in pids)
    sb.close()
    sb.close()  # idempotent
    assert _wait_gone(pids, 1) == []  # not even zombies: close() waited for them
    with pytest.raises(RuntimeError, match="closed"):
        sb.submit(EDD, generate(5, 1, 1))


def test_close_with_work_in_flight_fails_the_futures_and_kills_the_workers():
    iset = generate(5, 1, 1)
    sb = Sandbox(workers=1, timeout_s=60)
    sb.__enter__()
    pids = [i["pid"] for i in sb.worker_info]
    running = sb.submit(LOOP, iset)
    queued = [sb.submit(EDD + f"\nK = {k}\n", iset) for k in range(3)]
    time.sleep(0.3)
    t0 = time.monotonic()
    sb.close()
    assert time.monotonic() - t0 < 10
    for f in [running, *queued]:
        with pytest.raises(SandboxClosed):
            f.result(timeout=5)
    assert _wait_gone(pids, 1) == []


def test_a_forgotten_sandbox_reaps_its_workers_when_collected():
    sb = Sandbox(workers=1)
    sb.__enter__()
    pids = [i["pid"] for i in sb.worker_info]
    del sb
    gc.collect()
    assert _wait_gone(pids, 5) == []


def test_an_empty_set_needs_no_worker():
    sb = Sandbox(workers=1)
    try:
        r = sb.evaluate(EDD, generate(5, 1, 1).subset([]))
        assert r.status == "ok" and r.instances == 0 and sb.worker_info == []
    finally:
        sb.close()


def _spawn_script(mode: str, tmp: Path) -> tuple[subprocess.Popen, list[int]]:
    env = dict(os.environ, TMPDIR=str(tmp))  # a killed parent cannot remove its workers' directories
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT, mode], cwd=ROOT, stdout=subprocess.PIPE, text=True,
                            env=env)
    line = proc.stdout.readline()  # type: ignore[union-attr]
    pids = [int(x) for x in line.split()]
    assert len(pids) == 2, line
    return proc, pids


def test_interpreter_exit_reaps_the_workers(tmp_path):
    proc, pids = _spawn_script("exit", tmp_path)
    assert proc.wait(timeout=30) == 0
    assert _wait_gone(pids) == []
    assert list(tmp_path.iterdir()) == []  # and removed their working directories


def test_workers_die_with_a_killed_parent(tmp_path):
    proc, pids = _spawn_script("hang", tmp_path)
    assert all(_state(p) not in (None, "Z") for p in pids)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    # the parent cannot reap them any more; whoever adopts them does, so a zombie counts as gone
    assert _wait_gone(pids, allow_zombie=True) == []
    assert len(list(tmp_path.iterdir())) == 2  # left behind, empty: the next sandbox removes them


def test_a_new_sandbox_removes_directories_of_dead_parents(tmp_path, monkeypatch):
    proc, pids = _spawn_script("hang", tmp_path)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    _wait_gone(pids, allow_zombie=True)
    assert len(list(tmp_path.iterdir())) == 2
    (tmp_path / "discover-sandbox-1-live").mkdir()  # pid 1 is alive: not ours to remove
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(process, "_swept_homes", False)
    with Sandbox(workers=1) as sb:
        assert sb.evaluate(EDD, generate(5, 1, 1)).ok
    assert [p.name for p in tmp_path.iterdir()] == ["discover-sandbox-1-live"]


BUSY = ("def schedule(p, d):\n    for _ in range(8_000_000):\n        pass\n"
        "    return sorted(range(len(p)), key=lambda j: (d[j], j))\n")


def _children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(entry.name))
        except (OSError, IndexError, ValueError):
            pass
    return out


def _cpu_ticks(pid: int) -> int:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])
    except (OSError, IndexError, ValueError):
        return 0


def _kill_busy(parent_of, times: int, stop: threading.Event) -> list[int]:
    """SIGKILL, ``times`` times, a process running a candidate (a child of a zygote using the CPU)."""
    killed: list[int] = []

    def run():
        while len(killed) < times and not stop.is_set():
            for pid in _children(parent_of()):
                if pid not in killed and _cpu_ticks(pid) >= 3:  # a spare waiting for work uses ~none
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
                    break
            time.sleep(0.005)

    threading.Thread(target=run, daemon=True).start()
    return killed


def _evaluate_while_killing(times: int):
    iset = generate(6, 1, 2, rdd_grid=(0.6,), tf_grid=(0.4,))
    with Sandbox(workers=1, timeout_s=60) as sb:
        stop = threading.Event()
        killed = _kill_busy(lambda: sb.worker_info[0]["pid"], times, stop)
        r = sb.evaluate(BUSY, iset)
        stop.set()
        again = sb.evaluate(BUSY, iset)
    assert len(killed) == times
    return iset, r, again


def test_a_process_killed_from_outside_is_retried_once_on_a_fresh_one():
    iset, r, _ = _evaluate_while_killing(1)
    assert r.status == "ok", r.error  # not blamed on the candidate
    assert np.array_equal(r.tardiness, reference(iset, edd))


def test_a_process_killed_twice_is_blamed_with_the_reason():
    iset, r, again = _evaluate_while_killing(2)
    assert r.status == "error" and "killed by SIGKILL from outside the sandbox, twice" in r.error
    assert again.ok and not again.cached  # a machine fault is never cached


def test_a_zygote_killed_mid_run_is_replaced_and_the_shard_run_again():
    iset = generate(6, 1, 2, rdd_grid=(0.6,), tf_grid=(0.4,))
    with Sandbox(workers=1, timeout_s=60) as sb:
        first = sb.worker_info[0]["pid"]
        fut = sb.submit(BUSY, iset)
        deadline = time.monotonic() + 20
        while not any(_cpu_ticks(c) >= 3 for c in _children(first)) and time.monotonic() < deadline:
            time.sleep(0.005)
        os.kill(first, signal.SIGKILL)
        r = fut.result(timeout=60)
        assert r.status == "ok", r.error
        assert np.array_equal(r.tardiness, reference(iset, edd))
        assert sb.worker_info[0]["pid"] != first


def test_a_missing_layer_refuses_untrusted_code_with_its_name():
    sb = Sandbox(workers=1, _without=("seccomp",))
    try:
        for _ in range(2):  # at start-up and on every later call, without starting again
            with pytest.raises(SandboxUnsafe, match=r"refused seccomp \(switched off by the caller\)"):
                sb.evaluate(EDD, generate(5, 1, 1))
        assert sb.worker_info == []
    finally:
        sb.close()


def test_a_missing_layer_allowed_explicitly_is_named_once_at_start_up(caplog):
    iset = generate(5, 1, 1)
    with caplog.at_level("WARNING", logger="evaluator.sandbox"):
        with Sandbox(workers=2, allow_weak=True, _without=("landlock", "mntns")) as sb:
            off = "(switched off by the caller)"
            assert sb.missing_layers == [f"netns {off}", f"mntns {off}", f"landlock {off}"]
            r = sb.evaluate(EDD, iset)
            assert r.ok and np.array_equal(r.tardiness, reference(iset, edd))
            code = "import socket\ndef schedule(p, d):\n    socket.socket()\n    return [0, 1, 2, 3, 4]\n"
            assert sb.evaluate(code, iset).status == "refused"  # the other layers still hold
    lines = [r.getMessage() for r in caplog.records if "without" in r.getMessage()]
    assert len(lines) == 1 and lines[0].startswith("sandbox: running untrusted code without netns (switched")
    assert "landlock" in lines[0] and "(allowed explicitly)" in lines[0]
