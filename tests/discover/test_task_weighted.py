"""The weighted tardiness task: its files, its references as plain Python against the numba rules,
scoring through the sandbox, and the offline model's weighted grammar."""

from __future__ import annotations

import ast
import random

import numpy as np
import pytest

from discover.llm.offline import rewrites as rw
from discover.llm.offline.model import read_prompt
from discover.prompts import Parent, load_templates, seed_programs
from evaluator import tasks
from evaluator.sandbox import Sandbox
from evaluator.weighted.kernels import weighted_of_set
from evaluator.weighted.reference import weighted_tardiness_py
from tests.conftest import REPO, shared_path

WT = tasks.get("weighted_tardiness")
RULE_OF = {"wspt": "WSPT", "edd": "EDD", "wmdd": "WMDD", "aug_wmdd": "Aug-WMDD", "atc": "ATC",
           "covert": "COVERT"}


@pytest.fixture(scope="module")
def small():
    return WT.generate(15, 2, seed=7)  # 50 instances over the 25 (RDD, TF) classes


def test_weighted_files_are_recognised_by_their_fields():
    assert tasks.task_of_file(REPO / "archive" / "baselines" / "wt_valid_n20.json") is WT
    assert tasks.task_of_file(REPO / "archive" / "baselines" / "valid_n25.json").name == "total_tardiness"
    assert tasks.task_of_file(shared_path("orlib_wt40")) is WT


def test_each_reference_program_orders_as_its_numba_rule(small):
    for name, rule in RULE_OF.items():
        code = (WT.references / f"{name}.py").read_text()
        ns: dict = {}
        exec(compile(code, name, "exec"), ns)
        orders = np.concatenate([np.asarray(ns["schedule"](*WT.instance(small, i)), dtype=np.int64)
                                 for i in range(small.count)])
        assert np.array_equal(WT.values(small, orders), WT.values(small, WT.rules()[rule](small))), name


def test_values_are_the_weighted_objective_and_the_exact_solver_is_a_lower_bound(small):
    rng = np.random.default_rng(1)
    orders = np.concatenate([rng.permutation(int(n)) for n in small.sizes])
    values = WT.values(small, orders)
    assert np.array_equal(values, weighted_of_set(small, orders))
    p, w, d = WT.instance(small, 3)
    assert values[3] == weighted_tardiness_py(p, w, d, orders[45:60].tolist())
    assert WT.exact(p, w, d) <= values[3] and WT.exact(*WT.instance(WT.generate(30, 1, 1), 0)) is None


def test_the_sandbox_runs_weighted_code_and_the_task_scores_it(small):
    seeds = seed_programs(task=WT)
    assert set(seeds) == {"edd", "wspt", "wmdd"}
    with Sandbox(workers=1, timeout_s=30) as sb:
        r = sb.evaluate(seeds["wmdd"], small, task=WT)
        tt = sb.evaluate("def schedule(p, d):\n    return list(range(len(p)))\n", small, task=WT)
    assert r.ok and np.array_equal(r.values, WT.values(small, WT.rules()["WMDD"](small)))
    assert tt.status == "error" and "three positional arguments (p, w, d)" in tt.error


def test_the_prompts_state_the_weighted_contract_and_the_offline_model_answers_in_it():
    t = load_templates()
    parents = [rw.read_program(ast.parse(c), "schedule") for c in seed_programs(task=WT).values()]
    assert all(p is not None and p.params == ("p", "w", "d") and p.terms for p in parents)
    msgs = t.messages("m1", [Parent(1, seed_programs(task=WT)["wmdd"], 12.5)], task=WT)
    assert "1||Σw_jT_j" in msgs[0]["content"] and "def schedule(p, w, d)" in msgs[0]["content"]
    assert "def schedule(p, d)" not in msgs[0]["content"] + msgs[1]["content"]
    prompt = read_prompt(msgs)
    assert prompt.params == ("p", "w", "d")
    rng = random.Random(3)
    terms = {rw.term_name(term) for _ in range(60) for _, term in rw.fresh(prompt.params, rng).program.terms}
    assert terms & {"wspt", "wmdd", "wslack", "watc"}
    assert not {rw.term_name(term) for _ in range(60)
                for _, term in rw.fresh(("p", "d"), rng).program.terms} & {"wspt", "wmdd", "wslack", "watc"}


def _solved(n: int, per_class: int, seed: int, name: str):
    from evaluator.weighted.instances import weighted_from_arrays

    raw = WT.generate(n, per_class, seed)
    opt = [WT.exact(*WT.instance(raw, i)) for i in range(raw.count)]
    return weighted_from_arrays([WT.instance(raw, i) for i in range(raw.count)], name=name, opt=opt,
                                rdd=raw.rdd, tf=raw.tf)


@pytest.mark.slow
def test_a_weighted_run_goes_end_to_end_offline_and_replays_bit_for_bit(tmp_path):
    from discover.config import load_config
    from discover.runner import replay_run, start_run
    from discover.store import RunStore
    from evaluator.instances import save_set

    save_set(_solved(8, 1, 21, "wt_train8"), tmp_path / "train.json")
    save_set(_solved(8, 1, 22, "wt_valid8"), tmp_path / "valid.json")
    cfg = load_config(overrides={
        "task": "weighted_tardiness", "seed": 2, "run_dir": str(tmp_path / "run"), "search.islands": 2,
        "stopping.samples": 32, "llm.concurrency": 4, "evaluation.workers": 1,
        "evaluation.train_set": str(tmp_path / "train.json"),
        "evaluation.valid_set": str(tmp_path / "valid.json"), "cost.instances": 1,
        "cost.train_instances": 2, "cost.repeats": 1, "champion.dir": str(tmp_path / "a")})
    rep = start_run(cfg)
    assert rep.valid > 0 and rep.baseline == "WMDD" and rep.best_gap <= rep.baseline_gap
    with RunStore.open(rep.run_dir) as s:
        assert s.task == "weighted_tardiness"
        tests = s.get_state("test_scores")
        codes = [r.code for r in s.programs("status = 'ok' AND operator != 'seed'")]
    assert all("def schedule(p, w, d)" in c for c in codes)
    assert rep.champion["baseline"] == "wmdd" and rep.champion["reference"] in {
        "aug_wmdd", "wmdd", "atc", "covert", "wspt", "edd"}  # compared with the weighted references only
    present = [p.stem for p in WT.test_sets if p.is_file()]
    assert tests["sets"] == present and set(tests["references"]) == set(WT.rules())
    assert present == [] or tests["champion"][present[0]]["instances"] == 125
    again = replay_run(rep.run_dir, tmp_path / "replay")
    assert again.divergence is None


def test_the_weighted_passes_never_make_an_order_worse_and_keep_it_a_permutation(small):
    from discover.llm.offline.passes import WEIGHTED_PASSES

    rng = np.random.default_rng(4)
    for name, ps in WEIGHTED_PASSES.items():
        ns: dict = {}
        exec(ps.source, ns)
        for i in range(0, small.count, 5):
            p, w, d = (c.tolist() for c in WT.instance(small, i))
            order = rng.permutation(len(p)).tolist()
            out = ns[ps.function](list(order), p, w, d)
            assert sorted(out) == list(range(len(p))), name
            assert weighted_tardiness_py(p, w, d, out) <= weighted_tardiness_py(p, w, d, order), name
    ns = {}
    exec(WEIGHTED_PASSES["insertion_w"].source, ns)
    p, w, d = [3, 1, 2], [1, 5, 1], [3, 1, 6]  # job 1 (heavy, due at 1) belongs first
    assert ns["_pass_insertion_w"]([0, 1, 2], p, w, d) == [1, 0, 2]
