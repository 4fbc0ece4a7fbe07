"""A new task is one package: the toy 1||ΣC_j of ``tests/toy_task`` is registered from the tests folder
alone, and a short offline search runs on it end to end (SPT is optimal, and the search finds it)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from discover.config import load_config
from discover.runner import start_run
from discover.store import RunStore
from evaluator import tasks
from evaluator.instances import save_set
from tests.toy_task import TotalCompletionTime, completion_time


@pytest.fixture
def toy(tmp_path):
    task = tasks.register(TotalCompletionTime(tmp_path))
    save_set(task.generate(10, 2, seed=3, name="toy_train"), task.train_set)
    save_set(task.generate(10, 2, seed=4, name="toy_valid"), task.valid_set)
    yield task
    tasks.unregister(task.name)


def test_the_toy_task_scores_completion_times_and_knows_its_optimum(toy):
    iset = toy.load(toy.train_set)
    assert iset.opt[0] == toy.exact(*toy.instance(iset, 0))
    small = toy.generate(6, 1, seed=5)
    for i in range(small.count):
        p, d = toy.instance(small, i)
        brute = min(completion_time(p, np.array(o)) for o in itertools.permutations(range(len(p))))
        assert toy.exact(p, d) == brute == small.opt[i]
    assert tasks.get("total_completion") is toy and tasks.task_of({"task": "total_completion"}) is toy


def test_a_short_offline_search_runs_on_the_toy_task(toy, tmp_path):
    cfg = load_config(overrides={
        "task": "total_completion", "seed": 3, "run_dir": str(tmp_path / "run"), "search.islands": 2,
        "search.objective": "gap", "stopping.samples": 24, "llm.concurrency": 4, "evaluation.workers": 1,
        "cost.instances": 1, "cost.train_instances": 1, "cost.repeats": 1, "cost.n": 10,
        "champion.dir": str(tmp_path / "archive")})
    assert cfg.evaluation.train_set == str(toy.train_set) and cfg.search.seeds == ["edd", "lpt"]
    rep = start_run(cfg)
    assert rep.stop_reason == "samples" and rep.valid > 0 and rep.baseline == "EDD"
    assert rep.best_gap < rep.baseline_gap  # better than the seeds
    with RunStore.open(rep.run_dir) as s:
        assert s.task == "total_completion"
        best = s.program(rep.best_id)
        iset = toy.load(toy.train_set)
        ns: dict = {}
        exec(best.code, ns)
        values = [completion_time(p, np.asarray(ns["schedule"](p, d), dtype=np.int64))
                  for p, d in (toy.instance(iset, i) for i in range(iset.count))]
        assert np.array_equal(np.frombuffer(best.tardiness, "<i8") if isinstance(best.tardiness, bytes)
                              else best.tardiness, values)  # the store holds the task's values
    champ = rep.champion
    assert champ is not None and champ["baseline"] == "edd" and champ["valid_gap"] is not None
