"""The Ray executor on a real local cluster (a head and a worker node on loopback, one CPU each).

A seeded offline search on the cluster gives the same store as the local sandbox; a worker node
killed mid-run changes nothing and blames no candidate; the driver's environment never reaches the
nodes; without Ray the executor fails with one line.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from discover.config import load_config
from discover.runner import Parts, make_evaluator, resume_run, start_run
from discover.store import RunStore
from evaluator import tasks
from evaluator.instances import load_set
from evaluator.sandbox import Sandbox
from tests.conftest import REPO, run_cli
from tests.discover.search.test_controller import DISCOVER, TABLES, config_text, wait_for_samples, write_sets
from tests.raycluster import SECRET_NAMES, LocalCluster
from tests.toy_task import TotalCompletionTime

SAMPLES = 100  # enough for the kill to strike mid-run; each of the four runs costs CI time
EDD = (REPO / "archive" / "references" / "edd.py").read_text()


@pytest.fixture(scope="module")
def cluster():
    """A head and one worker node; the driver holds a fake API key and a marker the nodes must not see."""
    ray = pytest.importorskip("ray", reason="Ray is not installed (make setup installs discover[ray])")
    c = LocalCluster(workers=1)
    saved = {k: os.environ.get(k) for k in SECRET_NAMES}
    os.environ.update({"OPENAI_API_KEY": "sk-driver-only-0000", "DISCOVER_TEST_MARKER": "driver-only"})
    try:
        ray.init(address=c.address, log_to_driver=False, logging_level="ERROR")
        yield c
    finally:
        ray.shutdown()
        c.close()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture(scope="module")
def sets(tmp_path_factory):
    return write_sets(tmp_path_factory.mktemp("sets"))


def ray_config(sets: Path, tmp: Path, run: str, executor: str, address: str = ""):
    path = tmp / "run.toml"
    path.write_text(config_text(sets, tmp, SAMPLES))
    return load_config(path, {"run_dir": str(tmp / run), "evaluation.workers": 0,
                              "evaluation.executor": executor, "evaluation.ray_address": address})


def rows(run_dir: Path) -> dict[str, list]:
    """Every table without time columns; the champion's name (it names the run) is dropped."""
    with RunStore.open(run_dir) as s:
        out = {t: s.rows(t) for t in TABLES}
    out["state"] = [(k, v) for k, v in out["state"] if k != "champion"]
    return out


@pytest.fixture(scope="module")
def local_run(sets, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("local")
    rep = start_run(ray_config(sets, tmp, "local", "local"))
    assert rep.stop_reason == "samples" and rep.samples == SAMPLES and rep.valid > 0
    return tmp / "local"


def test_without_ray_the_executor_fails_with_one_line(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    code, _, err = run_cli("run", "--executor", "ray", "--samples", "4", "--run-dir", str(tmp_path / "r"),
                           "--quiet")
    assert code == 2
    assert err == "error: the ray executor needs Ray, which is not installed: pip install 'discover[ray]'"
    assert not (tmp_path / "r").exists()


def test_the_local_path_never_imports_ray():
    probe = ("import sys, discover.cli, discover.cli.run, discover.cli.evaluate, discover.cli.archive,"
             " discover.runner, discover.search.controller, discover.executors, discover.executors.node,"
             " discover.archive.scoring; assert 'ray' not in sys.modules, 'ray imported'")
    subprocess.run([sys.executable, "-c", probe], check=True, cwd=REPO, timeout=120)


def test_no_cluster_at_the_address_is_one_line(tmp_path):
    pytest.importorskip("ray")
    from tests.raycluster import free_port

    code, _, err = run_cli("run", "--executor", "ray", "--ray-address", f"127.0.0.1:{free_port()}",
                           "--samples", "4", "--run-dir", str(tmp_path / "r"), "--quiet")
    assert code == 2 and err.startswith("error: no Ray cluster at 127.0.0.1:") and "\n" not in err
    assert not (tmp_path / "r").exists()


@pytest.mark.slow
def test_each_node_scores_like_the_local_sandbox_and_sees_no_driver_secret(cluster, sets, tmp_path):
    cfg = ray_config(sets, tmp_path, "x", "ray", cluster.address)
    ev = make_evaluator(cfg)
    try:
        nodes = ev.nodes
        assert len({n["node_id"] for n in nodes}) == 2 and [n["workers"] for n in nodes] == [1, 1]
        for n in nodes:
            assert n["pid"] != os.getpid()
            assert not set(SECRET_NAMES) & set(n["env"]), n["env"]
        iset = load_set(sets / "train.json")
        with Sandbox(workers=1) as sb:
            want = sb.evaluate(EDD, iset)
        got = [f.result() for f in [ev.submit(EDD + f"\n# copy {k}\n", iset) for k in range(12)]]
        for r in got:
            assert r.status == "ok" and np.array_equal(r.tardiness, want.tardiness)
        assert 1 <= ev.max_inflight <= 2 * 2  # two slots per worker, one worker per node: the rest waited
        bad = ev.evaluate("def schedule(p, d):\n    return [0] * len(p)\n", iset)
        assert bad.status == "invalid_output"  # the candidate's fault, reported as locally
        toy = tasks.register(TotalCompletionTime(tmp_path))  # registered on the driver only
        spt = "def schedule(p, d):\n    return sorted(range(len(p)), key=lambda j: p[j])\n"
        on_nodes = [ev.submit(spt + f"\n# copy {k}\n", iset, task=toy) for k in range(4)]
        for r in (f.result() for f in on_nodes):  # scored on the nodes by Σ C_j: SPT's order is optimal
            assert r.status == "ok" and np.array_equal(r.values, toy.values(iset, np.concatenate(
                [np.argsort(toy.instance(iset, i)[0], kind="stable") for i in range(iset.count)])))
    finally:
        tasks.unregister("total_completion")
        ev.close()
    assert "OPENAI_API_KEY" in os.environ  # the driver kept its key


@pytest.mark.slow
def test_evaluate_on_the_cluster_prints_what_it_prints_locally(cluster, sets, tmp_path):
    rule = tmp_path / "edd.py"
    rule.write_text(EDD)
    args = ("evaluate", str(rule), "--instances", str(sets / "train.json"), "--json")
    code_l, out_l, _ = run_cli(*args)
    code_r, out_r, _ = run_cli(*args, "--executor", "ray", "--ray-address", cluster.address)
    assert code_l == code_r == 0
    strip = lambda text: {k: v for k, v in json.loads(text).items() if "second" not in k}
    assert strip(out_l) == strip(out_r) and json.loads(out_r)["status"] == "ok"


@pytest.mark.slow
def test_a_sandbox_that_cannot_start_on_a_node_is_one_line(cluster):
    from discover.executors import ExecutorError, sandbox_builder
    from discover.executors import make_evaluator as executor

    with pytest.raises(ExecutorError) as e:
        executor("ray", sandbox_builder(memory_mb=1), cluster.address)
    assert "the sandbox cannot start on Ray node" in str(e.value) and "\n" not in str(e.value)
    assert "memory_mb = 1 must be at least 512" in str(e.value)


@pytest.mark.slow
def test_a_seeded_search_on_two_nodes_gives_the_local_store(cluster, sets, local_run, tmp_path):
    rep = start_run(ray_config(sets, tmp_path, "ray", "ray", cluster.address))
    assert rep.samples == SAMPLES
    a, b = rows(local_run), rows(tmp_path / "ray")
    for table in TABLES:
        assert a[table] == b[table], table


@pytest.mark.slow
def test_a_worker_node_killed_mid_run_changes_nothing(cluster, sets, local_run, tmp_path):
    cfg = ray_config(sets, tmp_path, "killed", "ray", cluster.address)
    ev = make_evaluator(cfg)
    killed: list[int] = []

    def kill_once(progress):
        if not killed and progress.samples >= SAMPLES // 3:
            killed.extend(cluster.kill_worker_raylet())

    try:
        assert len(ev.nodes) == 2
        rep = start_run(cfg, Parts(sandbox=ev), on_progress=kill_once)
        assert killed and rep.samples == SAMPLES
        assert len(ev.nodes) == 1 and ev.retried >= 1  # its candidates went to the head
    finally:
        ev.close()
    with RunStore.open(tmp_path / "killed") as s:
        statuses = dict(s.query("SELECT status, COUNT(*) FROM programs GROUP BY status"))
        blamed = s.scalar("SELECT COUNT(*) FROM programs WHERE error LIKE '%sandbox failure%'"
                          " OR error LIKE '%Ray%' OR status = 'infrastructure'")
    assert blamed == 0, statuses
    a, b = rows(local_run), rows(tmp_path / "killed")
    for table in TABLES:
        assert a[table] == b[table], table


@pytest.mark.slow
def test_a_lost_head_stops_the_run_with_one_line_and_resume_finishes_it(sets, local_run, tmp_path):
    own = LocalCluster(workers=0)  # its own cluster: this test process never joins it
    try:
        cfg_path = tmp_path / "run.toml"
        cfg_path.write_text(config_text(sets, tmp_path, SAMPLES))
        run_dir = tmp_path / "lost"
        proc = subprocess.Popen(
            [str(DISCOVER), "run", "--config", str(cfg_path), "--run-dir", str(run_dir), "--quiet",
             "--executor", "ray", "--ray-address", own.address, "--set", "evaluation.workers=0"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=own.env)
        try:
            wait_for_samples(run_dir / "run.sqlite", SAMPLES // 4, proc)
            own.close()  # the head machine goes down: GCS, raylet, the actor and its sandbox
            _, err = proc.communicate(timeout=55)  # before Ray's own 60 s limit ends the process
        finally:
            proc.kill()
    finally:
        own.close()
    assert proc.returncode == 2, err
    line = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert len(line) == 1 and "head at 127.0.0.1:" in line[0] and "is lost" in line[0], err
    assert f"discover resume {run_dir}" in line[0]
    rep = resume_run(run_dir, {"evaluation.executor": "local"})
    assert rep.samples == SAMPLES
    a, b = rows(local_run), rows(run_dir)
    for table in ("programs", "prompts", "llm_calls"):
        assert a[table] == b[table], table


def test_a_lost_evaluation_is_infrastructure_and_a_lost_cluster_stops_the_run(sets, tmp_path):
    from concurrent.futures import Future
    from types import SimpleNamespace

    from discover.executors import ClusterLost, InfrastructureError
    from discover.search.controller import Controller, RunError
    from discover.search.fitness import Fitness

    train = Fitness(load_set(sets / "train.json"))
    ctl = SimpleNamespace(fitness=train, store=SimpleNamespace(run_dir="runs/x"))
    lost, gone = Future(), Future()
    lost.set_exception(InfrastructureError("infrastructure: lost twice"))
    gone.set_exception(ClusterLost("the Ray cluster's head at 10.0.0.5:6379 is lost"))
    score = Controller._score(ctl, lost)
    assert (score.status, score.error, score.gap) == ("infrastructure", "infrastructure: lost twice", None)
    with pytest.raises(RunError, match=r"head at 10.0.0.5:6379 is lost; .*`discover resume runs/x`"):
        Controller._score(ctl, gone)
