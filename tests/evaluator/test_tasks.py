"""The task seam: the registry, and the total tardiness task against the code it wraps."""

from __future__ import annotations

import json

import numpy as np
import pytest

from evaluator import tasks
from evaluator.instances import generate
from evaluator.reference import total_tardiness_py
from evaluator.task import Task


def test_the_registry_finds_the_builtin_tasks_by_name():
    tt = tasks.get()
    assert tt.name == "total_tardiness" and tasks.get("total_tardiness") is tt and tasks.get(tt) is tt
    assert "total_tardiness" in tasks.names() and "weighted_tardiness" in tasks.names()
    with pytest.raises(tasks.UnknownTask, match="unknown task 'nope'; known tasks: total_tardiness"):
        tasks.get("nope")


def test_a_registered_task_is_found_and_can_be_removed():
    class Other(Task):
        name = "other_problem"

    t = tasks.register(Other())
    assert tasks.get("other_problem") is t and "other_problem" in tasks.names()
    tasks.unregister("other_problem")
    with pytest.raises(tasks.UnknownTask):
        tasks.get("other_problem")
    with pytest.raises(ValueError, match="must be a Python identifier"):
        tasks.register(type("Bad", (Task,), {"name": "not a name"})())


def test_a_file_names_its_task_and_a_file_without_one_is_total_tardiness(tmp_path):
    plain = tmp_path / "plain.json"
    plain.write_text(json.dumps({"instances": [{"p": [1, 2], "d": [1, 1]}]}))
    named = tmp_path / "named.json"
    named.write_text(json.dumps({"task": "nope", "instances": []}))
    assert tasks.task_of_file(plain).name == "total_tardiness"
    assert tasks.task_of_file(tmp_path / "missing.json").name == "total_tardiness"
    with pytest.raises(tasks.UnknownTask, match="'nope'"):
        tasks.task_of_file(named)
    assert tasks.load(plain).count == 1


def test_total_tardiness_scores_orders_like_the_plain_python_reference():
    t = tasks.get("total_tardiness")
    iset = generate(12, 2, seed=5)
    rng = np.random.default_rng(0)
    orders = np.concatenate([rng.permutation(int(n)) for n in iset.sizes])
    values = t.values(iset, orders)
    for i in range(iset.count):
        p, d = t.instance(iset, i)
        a, b = iset.offsets[i], iset.offsets[i + 1]
        assert values[i] == total_tardiness_py(p, d, orders[a:b].tolist())
    bad = orders.copy()
    bad[0] = bad[1]  # instance 0 is no permutation any more
    got = t.values_at(iset, np.array([1, 0]), np.concatenate([orders[12:24], bad[:12]]))
    assert got.tolist() == [values[1], -1]


def test_total_tardiness_owns_its_rules_exact_solver_and_gaps():
    t = tasks.get("total_tardiness")
    iset = generate(8, 1, seed=3)
    mdd = t.values(iset, t.rules()["MDD"](iset))
    opt = np.array([t.exact(*t.instance(iset, i)) for i in range(iset.count)])
    assert np.all(opt <= mdd)
    gaps = t.gaps(mdd, opt)
    assert np.allclose(gaps[opt > 0], 100 * (mdd - opt)[opt > 0] / opt[opt > 0])
    assert np.all(np.isnan(gaps[opt == 0]))


def test_total_tardiness_prompt_text_states_the_contract():
    text = tasks.get().prompt(entry="schedule", imports="numpy", helpers="(helpers)")
    assert "def schedule(p, d)" in text and "$" not in text and text.endswith("(helpers)")
    assert "$jobs" in tasks.get().scoring
