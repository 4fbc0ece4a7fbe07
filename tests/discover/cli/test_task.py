"""The task seam at the edges: the config's task field and the defaults it decides, the store's record
of the task, and the commands that read instances taking the task from the file or the flag."""

from __future__ import annotations

import json

import pytest

from discover.config import ConfigError, load_config
from discover.store import RunStore
from evaluator import tasks
from tests.conftest import REPO, run_cli

WT = REPO / "archive" / "weighted_tardiness" / "references"


def test_the_task_decides_the_fields_a_run_does_not_set(tmp_path):
    tt, wt = load_config(), load_config(overrides={"task": "weighted_tardiness"})
    assert tt.task == "total_tardiness" and tt.search.seeds == ["edd", "spt", "mdd"]
    assert tt.evaluation.train_set.endswith("train_n25.json") and tt.cost.reference == "aug_mddc"
    assert wt.search.seeds == ["edd", "wspt", "wmdd"] and wt.cost.reference == "aug_wmdd"
    assert wt.evaluation.valid_set.endswith("wt_valid_n20.json") and wt.cost.probe_sets == []
    mine = load_config(overrides={"task": "weighted_tardiness", "search.seeds": ["wspt"]})
    assert mine.search.seeds == ["wspt"]  # what the run sets stays
    assert load_config(overrides=dict(wt.model_dump(mode="json"))) == wt  # a resolved config is kept as is
    with pytest.raises(ConfigError, match="task: unknown task 'nope'; known tasks: total_tardiness"):
        load_config(overrides={"task": "nope"})


def test_a_store_records_its_task_and_an_old_store_reads_as_total_tardiness(tmp_path):
    with RunStore.create(tmp_path / "w", "", task="weighted_tardiness") as s:
        assert s.task == "weighted_tardiness"
    with RunStore.create(tmp_path / "old", "") as s:
        s._conn.execute("DELETE FROM state WHERE key = 'task'")
    with RunStore.open(tmp_path / "old") as s:
        assert s.task == "total_tardiness" and s.get_state("task") == "total_tardiness"


def test_evaluate_reads_the_task_of_the_file_or_the_flag(tmp_path):
    out = tmp_path / "w.json"
    code, _, _ = run_cli("instances", "generate", "--task", "weighted_tardiness", "--n", "8",
                         "--per-class", "1", "--seed", "2", "-o", str(out))
    assert code == 0 and tasks.task_of_file(out).name == "weighted_tardiness"
    code, stdout, _ = run_cli("evaluate", str(WT / "wmdd.py"), "--instances", str(out), "--json")
    assert code == 0 and json.loads(stdout)["status"] == "ok" and json.loads(stdout)["instances"] == 25
    wrong = REPO / "archive" / "references" / "mdd.py"
    code, stdout, _ = run_cli("evaluate", str(wrong), "--instances", str(out), "--json")
    assert code == 1 and "three positional arguments (p, w, d)" in json.loads(stdout)["error"]
    code, _, err = run_cli("evaluate", str(wrong), "--instances", str(out), "--task", "nope")
    assert code == 2 and "option --task: unknown task 'nope'" in err
    code, stdout, _ = run_cli("solve", str(out), "-o", str(tmp_path / "w_solved.json"), "--json")
    assert code == 0 and json.loads(stdout)["optimal"] == 25 and json.loads(stdout)["method"] == "ti"
    named = tmp_path / "named.json"
    named.write_text(json.dumps({"task": "no_such_task", "instances": []}))
    code, _, err = run_cli("evaluate", str(wrong), "--instances", str(named))
    assert code == 2 and "named.json: unknown task 'no_such_task'" in err


@pytest.mark.shared
def test_archive_list_shows_a_tasks_references_on_its_test_sets(tmp_path):
    from tests.conftest import shared_path

    shared_path("orlib_wt40")
    code, stdout, _ = run_cli("archive", "--archive", str(tmp_path), "list", "--task", "weighted_tardiness",
                              "--json")
    data = json.loads(stdout)
    assert code == 0 and list(data["sets"]) == ["orlib_wt40", "orlib_wt50", "orlib_wt100"]
    entries = {e["id"]: e for e in data["entries"]}  # the shipped weighted index, read through tmp_path
    wt40 = entries["Aug-WMDD"]["scores"]["orlib_wt40"]
    assert wt40["instances"] == 125 and wt40["proven"] == 124 and wt40["gap_proven_pct"] is not None
    assert entries["WSPT"]["scores"]["orlib_wt100"]["proven"] == 0  # wt100: best known values only
    assert data["unproven"] == {"orlib_wt40": 1, "orlib_wt50": 10, "orlib_wt100": 125}
