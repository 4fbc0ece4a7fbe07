"""`discover baselines FILE` picks the task through the registry: the file's `task` field, else the
registry's reading of its fields, overridden by `--task`; a task without a table of its own gets the
generic table of its rules; a bad task name is one line naming the file, the field and the value."""

from __future__ import annotations

import json

import numpy as np

from evaluator import tasks
from evaluator.instances import save_set
from evaluator.tasks.weighted_tardiness import WeightedTardiness
from evaluator.weighted.instances import weighted_from_arrays
from tests.conftest import run_cli

WT = tasks.get("weighted_tardiness")


def _weighted_file(tmp_path, **fields):
    wset = WT.generate(8, 1, seed=5)
    opt = [WT.exact(*WT.instance(wset, i)) for i in range(wset.count)]
    wset = weighted_from_arrays([WT.instance(wset, i) for i in range(wset.count)], name="w8", opt=opt)
    path = tmp_path / "w8.json"
    save_set(wset, path)
    raw = json.loads(path.read_text())
    path.write_text(json.dumps(raw | fields))
    return path, wset


def test_the_file_names_its_task_and_the_flag_overrides_it(tmp_path):
    path, wset = _weighted_file(tmp_path, task="weighted_tardiness")
    code, out, err = run_cli("baselines", str(path), "--json")
    assert code == 0, err
    got = json.loads(out)
    assert got["objective"] == "total weighted tardiness" and list(got["heuristics"]) == list(WT.rules())
    gaps = WT.gaps(WT.values(wset, WT.rules()["ATC"](wset)), wset.opt)
    assert abs(got["heuristics"]["ATC"]["mean_gap_pct"] - float(np.nanmean(gaps))) < 1e-9
    code, _, err = run_cli("baselines", str(path), "--task", "nope")
    assert code == 2 and err.startswith("error: option --task: unknown task 'nope'; known tasks:")


def test_a_bad_task_field_is_one_line_naming_file_field_and_value(tmp_path):
    path, _ = _weighted_file(tmp_path, task="weighted_tardines")
    code, _, err = run_cli("baselines", str(path))
    assert code == 2 and "\n" not in err
    assert err == (f"error: {path}: unknown task 'weighted_tardines' (field task); known tasks: "
                   f"{', '.join(tasks.names())}")


def test_a_registered_task_without_a_table_of_its_own_gets_its_rules_gaps(tmp_path):
    class Copy(WeightedTardiness):
        name = "weighted_copy"

    task = tasks.register(Copy())
    try:
        path, wset = _weighted_file(tmp_path, task="weighted_copy")
        code, out, err = run_cli("baselines", str(path), "--json", "--heuristics", "WMDD,EDD")
        assert code == 0, err
        got = json.loads(out)
        assert got["task"] == "weighted_copy" and list(got["heuristics"]) == ["WMDD", "EDD"]
        for name, row in got["heuristics"].items():
            gaps = task.gaps(task.values(wset, task.rules()[name](wset)), wset.opt)
            assert abs(row["mean_gap_pct"] - float(np.nanmean(gaps))) < 1e-9
        code, out, _ = run_cli("baselines", str(path))
        assert code == 0 and "weighted_copy" not in out and "1||Σw_jT_j" in out and "│ WMDD " in out
        code, _, err = run_cli("baselines", str(path), "--heuristics", "MDD")
        assert code == 2 and "option --heuristics: unknown 'MDD'" in err
    finally:
        tasks.unregister("weighted_copy")
