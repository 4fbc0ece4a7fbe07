"""Workers start confined, and every worker is reaped: on close, with work in flight, at exit, on SIGKILL."""

from __future__ import annotations

import gc
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from evaluator.instances import generate
from evaluator.sandbox import Sandbox, SandboxClosed, process
from evaluator.sandbox.layers import LAYERS

ROOT = Path(__file__).resolve().parents[1]
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
