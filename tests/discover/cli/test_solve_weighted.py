"""`discover solve` on weighted sets (1||Σw_jT_j): the task from the file or --task, the solved copy,
best-known values, bad task names, Ctrl-C and resume, through the real CLI."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from evaluator.weighted.exact import solve_dp_weighted
from evaluator.weighted.instances import WeightedSet, generate_weighted, load_weighted, weighted_from_arrays
from tests.conftest import run_cli, shared_path

cli = run_cli


def _write(wset, path: Path, task: str | None = "weighted_tardiness", **head) -> Path:
    body = wset.to_dict()
    if task is not None:
        body = {"task": task, **body}
    body.pop("objective", None)  # the task comes from the field (or the flag), not from this
    path.write_text(json.dumps({**body, **head}))
    return path


@pytest.fixture
def weighted_file(tmp_path):
    """Four instances: 1 with a wrong proven opt, 2 with a right one, 3 with a best-known value above
    the optimum (proven false), 0 without opt."""
    wset = generate_weighted(9, 1, seed=3, rdd_grid=(0.2, 0.6), tf_grid=(0.4, 0.8))
    want = [solve_dp_weighted(*wset.get(i)).value for i in range(wset.count)]
    items = [wset.get(i) for i in range(wset.count)]
    opt = [-1, want[1] + 1, want[2], want[3] + 7]
    marked = weighted_from_arrays(items, name="w9", opt=opt, proven=[False, True, True, False])
    return _write(marked, tmp_path / "w9.json"), want


def test_solves_a_weighted_set_from_its_task_field(weighted_file, tmp_path):
    path, want = weighted_file
    out = tmp_path / "out.json"
    code, stdout, stderr = cli("solve", str(path), "-o", str(out))
    assert code == 1, stderr
    assert "DISAGREEMENT" in stderr and "instance 1:" in stderr and "instance 3:" not in stderr
    assert "4/4 solved to optimality by ti" in stdout and "2 agree, 1 disagree" in stdout
    solved = load_weighted(out)
    assert solved.opt.tolist() == want and solved.proven.all()
    assert json.loads(out.read_text())["task"] == "weighted_tardiness"
    assert np.array_equal(solved.w, load_weighted(path).w)
    assert solved.extras[3]["opt_in_file"] == want[3] + 7
    code, stdout, _ = cli("solve", str(out), "-o", str(tmp_path / "again.json"), "--method", "dp", "--json")
    assert code == 0 and json.loads(stdout)["optimal"] == 4


def test_the_task_flag_for_a_file_without_the_field(tmp_path):
    wset = generate_weighted(8, 1, seed=5, rdd_grid=(0.6,), tf_grid=(0.6,))
    path = _write(wset, tmp_path / "plain.json", task=None)
    out = tmp_path / "o.json"
    code, stdout, _ = cli("solve", str(path), "--task", "weighted_tardiness", "--method", "mip",
                          "--time-limit", "30", "-o", str(out), "--json")
    assert code == 0 and json.loads(stdout)["method"] == "mip"
    assert load_weighted(out).opt.tolist() == [solve_dp_weighted(*wset.get(0)).value]


def test_a_wrong_task_name_is_one_line_and_writes_nothing(weighted_file, tmp_path):
    path, _ = weighted_file
    body = json.loads(path.read_text())
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**body, "task": "weighted_tardines"}))
    out = tmp_path / "never.json"
    code, _, err = cli("solve", str(bad), "-o", str(out))
    assert code == 2 and f"{bad}: field task = 'weighted_tardines' is not a known task" in err
    assert "\n" not in err.strip() and not out.exists()
    code, _, err = cli("solve", str(path), "-o", str(out), "--task", "total_tardiness")
    assert code == 2 and "field task = 'weighted_tardiness' but option --task = 'total_tardiness'" in err
    code, _, err = cli("solve", str(path), "-o", str(out), "--method", "bb")
    assert code == 2 and "option --method: 'bb' must be one of ti, mip, dp" in err
    assert not out.exists()


def test_an_unproven_instance_keeps_the_best_value_and_a_bound(tmp_path):
    wt40 = load_weighted(shared_path("orlib_wt40"))
    one = wt40.subset([2])
    path = _write(one, tmp_path / "one.json")
    out = tmp_path / "one_out.json"
    code, stdout, stderr = cli("solve", str(path), "-o", str(out), "--time-limit", "0.01", "--json")
    assert code == 0, stderr
    assert json.loads(stdout)["time_limit"] == 1
    kept = load_weighted(out)
    ex = kept.extras[0]
    assert ex["status"] == "time_limit" and ex["lower_bound"] <= wt40.opt[2] <= ex["upper_bound"]
    assert kept.proven[0]  # the file's proven optimum stays, with the solver's bounds beside it
    one = wt40.subset([2])
    best_known = _write(WeightedSet(one.base, one.w, np.array([False])), tmp_path / "bk.json")
    cli("solve", str(best_known), "-o", str(out), "--time-limit", "0.01", "--restart")
    kept = load_weighted(out)
    assert not kept.proven[0] and kept.opt[0] == min(int(wt40.opt[2]), kept.extras[0]["upper_bound"])


@pytest.mark.slow
def test_ctrl_c_keeps_the_solved_weighted_instances_and_a_rerun_resumes(tmp_path):
    easy = generate_weighted(10, 1, seed=7, rdd_grid=(0.6,), tf_grid=(0.4, 0.6))
    hard = generate_weighted(90, 1, seed=8, rdd_grid=(0.2,), tf_grid=(0.6,))
    items = [easy.get(0), easy.get(1), hard.get(0)]
    path = _write(weighted_from_arrays(items, name="mixed"), tmp_path / "mixed.json")
    want = [solve_dp_weighted(*easy.get(i)).value for i in range(2)]
    out = tmp_path / "mixed_out.json"
    exe = str(Path(sys.executable).parent / "discover")
    proc = subprocess.Popen([exe, "solve", str(path), "-o", str(out)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not out.exists():  # written once the first is solved
        time.sleep(0.2)
    time.sleep(2)  # the second takes milliseconds; the third many seconds
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "interrupted: 2 of 3 instances solved" in err
    kept = load_weighted(out)
    assert [ex["status"] for ex in kept.extras] == ["optimal", "optimal", "unsolved"]
    assert kept.opt.tolist()[:2] == want and kept.opt[2] == -1
    code, stdout, stderr = cli("solve", str(path), "-o", str(out), "--time-limit", "0.2", "--json")
    assert "resuming: 2 of 3 instances already solved" in stderr
    summary = json.loads(stdout)
    assert summary["optimal"] + summary["time_limit"] == 3 and summary["optimal"] >= 2
    assert load_weighted(out).opt.tolist()[:2] == want
