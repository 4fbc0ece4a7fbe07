"""The paths a user walks when something is wrong: an endpoint that does not answer, a disk that
refuses a write, a damaged run database. Each ends in one line naming the file (or URL) and the
cause, a non-zero exit, and nothing half-written."""

from __future__ import annotations

import shutil
import socket

import pytest

from discover.llm.offline.model import OfflineLLM
from discover.llm.server import MockServer
from discover.store import RunStore
from tests.discover.cli import test_run as base

cli, config_file = base.cli, base.config_file  # the fixtures of the CLI tests

OPENAI = ("--llm", "openai", "--set", "llm.api_key_env=''", "--quiet")


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def one_line(err: str) -> str:
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    return err


# --- 1. preflight and a failing endpoint -------------------------------------------------------------

def test_a_closed_port_fails_before_anything_is_written(cli, config_file, tmp_path):
    url = f"http://127.0.0.1:{closed_port()}/v1"
    run = tmp_path / "r"
    code, out, err = cli("run", "--config", str(config_file), *OPENAI, "--model", "gpt-x", "--base-url", url,
                         "--run-dir", str(run))
    assert code == 2
    line = one_line(err)
    assert url in line and "'gpt-x'" in line and "Connection refused" in line
    assert not run.exists()


def test_a_model_the_server_does_not_have_fails_before_anything_is_written(cli, config_file, tmp_path):
    run = tmp_path / "r"
    with MockServer(OfflineLLM(), model="served", only_model=True) as srv:
        code, out, err = cli("run", "--config", str(config_file), *OPENAI, "--model", "gpt-x", "--base-url",
                             srv.url, "--run-dir", str(run))
        assert srv.stats()["requests"] == 1  # /models, then one probe: no sample was drawn
    assert code == 2
    line = one_line(err)
    assert srv.url in line and "'gpt-x'" in line and "HTTP 404" in line and "does not exist" in line
    assert "it lists: served" in line
    assert not run.exists()


def test_an_endpoint_that_never_answers_fails_the_preflight_in_its_time(cli, config_file, tmp_path):
    with socket.socket() as mute:  # accepts connections (the backlog) but never answers
        mute.bind(("127.0.0.1", 0))
        mute.listen(8)
        url = f"http://127.0.0.1:{mute.getsockname()[1]}/v1"
        code, out, err = cli("run", "--config", str(config_file), *OPENAI, "--model", "m", "--base-url", url,
                             "--run-dir", str(tmp_path / "r"), "--set", "llm.request_timeout_s=1")
    assert code == 2
    assert f"model 'm' at {url}: no answer within 1 s" in one_line(err)
    assert not (tmp_path / "r").exists()


def test_a_streak_of_failed_requests_stops_the_run_with_its_cause(cli, config_file, tmp_path):
    with MockServer(OfflineLLM(), model="m") as srv:
        srv.inject("drop", count=1000)  # every chat request: the connection closes unanswered
        code, out, err = cli("run", "--config", str(config_file), *OPENAI, "--model", "m", "--base-url",
                             srv.url, "--run-dir", str(tmp_path / "r"), "--set", "llm.max_retries=0",
                             "--set", "stopping.llm_error_streak=3")
    text = " ".join(out.split())
    assert code == 1, out + err
    assert "the LLM requests kept failing" in text
    assert (f"last LLM error: LLM error: openai: gave up after 1 attempts at {srv.url}: connection error"
            in text)
    assert "Server disconnected without sending a response" in text  # the cause, uncut
    assert "no champion" in text and "promoted to" not in text
    assert not list((config_file.parent / "champions").rglob("*.py"))


# --- 2. cascade with the seeds; a failed start leaves nothing ----------------------------------------

def test_the_cascade_works_with_the_seeds(cli, config_file, tmp_path):
    run = tmp_path / "c"
    code, out, err = cli("run", "--config", str(config_file), "--samples", "16", "--run-dir", str(run),
                         "--quiet", "--set", "evaluation.cascade=true", "--set",
                         "evaluation.cascade_subset=2", "--set", "evaluation.cascade_threshold=0.0",
                         "--set", "champion.promote=false")
    assert code == 0, err
    with RunStore.open(run) as s:
        seeds = s.query("SELECT DISTINCT status FROM programs WHERE operator = 'seed'")
        cut = s.scalar("SELECT COUNT(*) FROM programs WHERE status = 'cut_short'")
    assert seeds == [("ok",)] and cut > 0  # seeds scored in full, clearly bad candidates cut short


def test_a_run_that_fails_at_start_leaves_nothing_and_a_retry_works(cli, config_file, tmp_path):
    run = tmp_path / "f"
    bad_seed = tmp_path / "bad.py"
    bad_seed.write_text("def schedule(p, d):\n    return [0] * len(p)\n")
    code, out, err = cli("run", "--config", str(config_file), "--samples", "8", "--run-dir", str(run),
                         "--seed-program", str(bad_seed), "--quiet")
    assert code == 2 and "seed program 'bad' failed on the training set" in one_line(err)
    assert not run.exists()
    code, out, err = cli("run", "--config", str(config_file), "--samples", "8", "--run-dir", str(run),
                         "--quiet")
    assert code == 0, err


# --- 5. files and folders that cannot be written or read ---------------------------------------------

@pytest.fixture
def a_file(tmp_path):
    f = tmp_path / "plain-file"
    f.write_text("not a folder\n")
    return f


def test_an_unwritable_run_dir(cli, config_file, a_file):
    code, out, err = cli("run", "--config", str(config_file), "--run-dir", str(a_file / "run"), "--quiet")
    assert code == 2
    assert f"{a_file / 'run'}: cannot create the run directory: {a_file} is not a directory" in one_line(err)


@pytest.fixture(scope="module")
def finished_run(config_file, tmp_path_factory):
    from discover.config import load_config
    from discover.runner import start_run

    run = tmp_path_factory.mktemp("done") / "run"
    start_run(load_config(config_file, {"run_dir": str(run), "stopping.samples": 8,
                                        "champion.promote": False}))
    return run


def test_an_unwritable_replay_out(cli, finished_run, a_file):
    code, out, err = cli("replay", str(finished_run), "--out", str(a_file / "rep"))
    assert code == 2
    line = one_line(err)
    assert f"{a_file / 'rep'}: cannot create the replay directory: {a_file} is not a directory" in line


def test_an_unwritable_instances_out(cli, a_file):
    code, out, err = cli("instances", "generate", "--n", "5", "--per-class", "1", "-o",
                         str(a_file / "x.json"))
    assert code == 2
    line = one_line(err)
    assert f"-o {a_file / 'x.json'}: {a_file}: cannot create the folder: {a_file} is not a directory" in line
    assert not (a_file.parent / "x.json").exists()


@pytest.fixture(params=["empty", "wal-less"])
def damaged_run(request, finished_run, tmp_path):
    run = tmp_path / "copy"
    run.mkdir()
    shutil.copy(finished_run / "config.toml", run / "config.toml")
    if request.param == "empty":
        (run / "run.sqlite").write_bytes(b"")
    else:  # a copy of run.sqlite taken while the run was going on, without its -wal file
        store = RunStore.create(tmp_path / "live", "seed = 1\n")
        store.add_event("start")
        shutil.copy(tmp_path / "live" / "run.sqlite", run / "run.sqlite")
        store.close()
    return run, request.param


@pytest.mark.parametrize("command", ["resume", "replay", "report"])
def test_a_damaged_run_database(cli, damaged_run, command, tmp_path):
    run, kind = damaged_run
    before = (run / "run.sqlite").read_bytes()
    args = {"replay": ["--out", str(tmp_path / "rep")], "report": ["-o", str(tmp_path / "r.html")]}
    code, out, err = cli(command, str(run), *args.get(command, []))
    assert code == 2
    line = one_line(err)
    assert str(run / "run.sqlite") in line
    assert ("empty" if kind == "empty" else "holds no run state") in line
    assert (run / "run.sqlite").read_bytes() == before  # looking did not change it
    assert not (tmp_path / "rep").exists() and not (tmp_path / "r.html").exists()


# --- 6. a transcript or a database that cannot be written ---------------------------------------------

def test_an_unwritable_transcript_stops_the_run_and_promotes_nothing(cli, config_file, tmp_path):
    run = tmp_path / "t"
    run.mkdir()
    (run / "transcript.jsonl").symlink_to("/dev/full")  # every write fails: no space left on device
    code, out, err = cli("run", "--config", str(config_file), "--samples", "16", "--run-dir", str(run),
                         "--quiet")
    assert code == 2
    line = one_line(err)
    assert f"{run / 'transcript.jsonl'}: cannot write the transcript" in line and "No space left" in line
    with RunStore.open(run) as s:
        assert s.get_state("status") == "failed" and s.get_state("champion") is None
    assert not list((config_file.parent / "champions").rglob("*.py"))


def test_an_unwritable_database_is_one_line(cli, config_file, tmp_path, monkeypatch):
    connect = RunStore._connect

    def full_soon(db, create):  # the disk fills up a few pages into the run
        conn = connect(db, create)
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count = {pages + 3}")
        return conn

    monkeypatch.setattr(RunStore, "_connect", staticmethod(full_soon))
    run = tmp_path / "db"
    code, out, err = cli("run", "--config", str(config_file), "--samples", "64", "--run-dir", str(run),
                         "--quiet")
    assert code == 2
    assert f"{run / 'run.sqlite'}: cannot write the run database: database or disk is full" in one_line(err)
    assert not list((config_file.parent / "champions").rglob("*.py"))
