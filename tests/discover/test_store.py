"""The run store: round trips, transactions all-or-nothing, WAL mode, and survival of kill -9."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from discover.store import ProgramRow, PromptRow, RunStore, StoreError


def row(pid: int, **kw) -> ProgramRow:
    base = dict(id=pid, prompt=0, sample=pid, island=1, operator="m1", parents=(3, 4),
                code="def schedule(p, d):\n    return list(range(len(p)))\n", hash="h", description="idea",
                status="ok", error="", gap=1.25, per_class={"rdd=0.2,tf=0.4": 0.5},
                signature="sig", tardiness=np.array([5, 0, 17], np.int64), length=48, seconds=0.01)
    base.update(kw)
    return ProgramRow(**base)


def test_program_round_trip(tmp_path):
    with RunStore.create(tmp_path / "r", "seed = 1\n") as s:
        s.add_program(row(1))
        s.add_program(row(2, status="error", error="boom", gap=None, per_class=None, signature=None,
                          tardiness=None))
    with RunStore.open(tmp_path / "r") as s:
        a, b = s.programs()
        assert a.parents == (3, 4) and a.per_class == {"rdd=0.2,tf=0.4": 0.5}
        assert a.tardiness.tolist() == [5, 0, 17] and a.gap == 1.25
        assert b.status == "error" and b.error == "boom" and b.tardiness is None
        assert s.program(2) == b and s.program(9) is None
        assert (tmp_path / "r" / "config.toml").read_text() == "seed = 1\n"


def test_wal_mode_and_schema(tmp_path):
    with RunStore.create(tmp_path / "r", "") as s:
        assert s.scalar("PRAGMA journal_mode") == "wal"
        tables = {r[0] for r in s.query("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert {"programs", "llm_calls", "events", "state", "prompts"} <= tables


def test_transaction_is_all_or_nothing(tmp_path):
    with RunStore.create(tmp_path / "r", "") as s:
        with pytest.raises(RuntimeError):
            with s.transaction():
                s.add_program(row(1))
                s.set_state("x", 1)
                raise RuntimeError("crash in the middle")
        assert s.scalar("SELECT COUNT(*) FROM programs") == 0 and s.get_state("x") is None
        with s.transaction():
            s.add_program(row(1))
            with s.transaction():  # nested: joins the outer one
                s.add_program(row(2))
        assert s.scalar("SELECT COUNT(*) FROM programs") == 2


def test_prompts_pending_and_done(tmp_path):
    with RunStore.create(tmp_path / "r", "") as s:
        for k in range(3):
            s.add_prompt(PromptRow(k, 0, "e1", (1,), {"n": 4, "first_sample": 4 * k}, f"h{k}"))
        s.finish_prompt(1)
        assert [p.id for p in s.prompts(pending_only=True)] == [0, 2]
        assert s.prompts()[2].request == {"n": 4, "first_sample": 8}


def test_rows_ignore_time_columns(tmp_path):
    stores = []
    for name in ("a", "b"):
        s = RunStore.create(tmp_path / name, "")
        s.add_program(row(1, seconds=0.1 if name == "a" else 9.0))
        s.add_llm_call(0, "m", 4, 10, 20, 0.0, latency_s=0.5 if name == "a" else 3.0, request_hash="h")
        s.add_event("best", program=1)
        time.sleep(0.01)
        stores.append(s)
    for table in ("programs", "llm_calls", "events", "state"):
        assert stores[0].rows(table) == stores[1].rows(table)
    assert stores[0].rows("programs", ignore=frozenset()) != stores[1].rows("programs", ignore=frozenset())
    for s in stores:
        s.close()


def test_create_refuses_an_existing_run_and_open_a_non_run(tmp_path):
    RunStore.create(tmp_path / "r", "").close()
    with pytest.raises(StoreError, match="already holds a run; continue it with `discover resume"):
        RunStore.create(tmp_path / "r", "")
    RunStore.create(tmp_path / "r", "", overwrite=True).close()
    with pytest.raises(StoreError, match="not a run directory"):
        RunStore.open(tmp_path / "empty")


WRITER = """
import sys
import numpy as np
from discover.store import ProgramRow, RunStore
s = RunStore.create(sys.argv[1], "")
pid = 0
print("ready", flush=True)
while True:
    with s.transaction():
        for _ in range(4):
            pid += 1
            s.add_program(ProgramRow(pid, 0, pid, 0, "m1", (), "x" * 2000, "h", "", "ok", "", 1.0, None, "s",
                                     np.arange(500), 1, 0.0))
        s.set_state("count", pid)
"""


def test_kill_9_leaves_only_whole_transactions(tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path / "r")], stdout=subprocess.PIPE)
    assert proc.stdout.readline().strip() == b"ready"
    time.sleep(0.5)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    with RunStore.open(tmp_path / "r") as s:
        count = s.scalar("SELECT COUNT(*) FROM programs")
        assert count > 0 and count % 4 == 0
        assert s.get_state("count") == count
        assert s.scalar("PRAGMA integrity_check") == "ok"
