"""`discover solve`: the solved copy, the summary, and loud disagreement with a file's optima."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from evaluator.exact import bb as bb_module
from evaluator.exact import solve_dp
from evaluator.instances import from_arrays, generate, load_set, save_set
from tests.conftest import run_cli

cli = run_cli


@pytest.fixture
def set_file(tmp_path):
    """A small set whose instance 1 carries a wrong optimum and instance 2 a right one."""
    iset = generate(8, 1, seed=4, rdd_grid=(0.2, 0.6), tf_grid=(0.4, 0.8))
    want = [solve_dp(*iset.get(i)).value for i in range(iset.count)]
    opt = np.full(iset.count, -1)
    opt[1], opt[2] = want[1] + 1, want[2]
    extras = tuple({"note": f"n{i}"} for i in range(iset.count))
    path = tmp_path / "small.json"
    save_set(iset.with_fields(opt=opt, extras=extras), path)
    return path, want


def test_writes_a_solved_copy_and_reports_the_disagreement_loudly(set_file, tmp_path):
    path, want = set_file
    out = tmp_path / "out.json"
    code, stdout, stderr = cli("solve", str(path), "-o", str(out))
    assert code == 1
    assert "DISAGREEMENT" in stderr and "instance 1:" in stderr and f"opt = {want[1] + 1}" in stderr
    assert "instance 2:" not in stderr
    assert "4/4 solved" in stdout and "1 agree, 1 disagree" in stdout
    solved = load_set(out)
    assert solved.opt.tolist() == want
    for i, ex in enumerate(solved.extras):
        assert ex["status"] == "optimal" and ex["seconds"] >= 0 and ex["note"] == f"n{i}"
    assert solved.extras[1]["opt_in_file"] == want[1] + 1
    assert "opt_in_file" not in solved.extras[2]


def test_json_summary_and_default_output_in_the_current_directory(set_file, tmp_path, monkeypatch):
    path, want = set_file
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    code, stdout, _ = cli("solve", str(path), "--json", "--method", "dp")
    assert code == 1
    summary = json.loads(stdout)
    assert summary["instances"] == 4 and summary["optimal"] == 4 and summary["method"] == "dp"
    assert summary["checked_against_file"] == 2
    assert [d["instance"] for d in summary["disagreements"]] == [1]
    assert summary["output"] == "small.solved.json"
    assert load_set(work / "small.solved.json").opt.tolist() == want
    assert not path.with_name("small.solved.json").exists()


def test_agreeing_file_exits_zero(tmp_path):
    iset = generate(7, 1, seed=2, rdd_grid=(0.4,), tf_grid=(0.6,))
    path = tmp_path / "ok.json"
    save_set(iset.with_fields(opt=[solve_dp(*iset.get(0)).value]), path)
    out = tmp_path / "o.json"
    code, stdout, stderr = cli("solve", str(path), "--time-limit", "5", "--method", "mip", "-o", str(out))
    assert code == 0 and "DISAGREEMENT" not in stderr and "1 agree, 0 disagree" in stdout
    assert load_set(out).extras[0]["status"] == "optimal"


def test_a_time_limit_keeps_opt_unknown_and_records_the_bounds(tmp_path, monkeypatch):
    iset = generate(260, 1, seed=1, rdd_grid=(0.2,), tf_grid=(0.6,))
    path = tmp_path / "hard.json"
    save_set(iset, path)
    monkeypatch.setattr(bb_module, "_BUDGET", 50)  # look at the clock often
    out = tmp_path / "hard_out.json"
    code, stdout, _ = cli("solve", str(path), "--time-limit", "0.001", "--json", "-o", str(out))
    summary = json.loads(stdout)
    assert code == 0 and summary["optimal"] == 0 and summary["time_limit"] == 1
    solved = load_set(out)
    ex = solved.extras[0]
    assert solved.opt[0] == -1 and ex["status"] == "time_limit"
    assert 0 <= ex["lower_bound"] <= ex["upper_bound"]


@pytest.mark.parametrize("args, msg", [
    (["--method", "cp"], "option --method: 'cp' must be one of bb, mip, dp"),
    (["--time-limit", "0"], "option --time-limit"),
    (["--jobs", "0"], "option --jobs"),
    (["--memo-policy", "drop"], "option --memo-policy: 'drop' must be one of stop, reset"),
])
def test_bad_options_are_one_line_errors(set_file, args, msg, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path, _ = set_file
    code, _, err = cli("solve", str(path), *args)
    assert code == 2 and msg in err


def test_bad_files_are_one_line_errors(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"instances": [{"p": [1, 0], "d": [1, 2]}]}))
    code, _, err = cli("solve", str(bad))
    assert code == 2 and "bad.json: instance 0:" in err and "p[1] = 0" in err
    assert not bad.with_name("bad.solved.json").exists()
    big = tmp_path / "big.json"
    save_set(generate(30, 1, seed=1, rdd_grid=(0.2,), tf_grid=(0.2,)), big)
    code, _, err = cli("solve", str(big), "--method", "dp")
    assert code == 2 and "big.json" in err and "at most 22 jobs" in err


def _easy_then_hard(tmp_path):
    """Three instances solved in milliseconds, then one that takes minutes."""
    easy = [generate(12, 1, seed=s, rdd_grid=(0.6,), tf_grid=(0.4,)).get(0) for s in (1, 2, 3)]
    hard = generate(1000, 1, seed=100001, rdd_grid=(0.2,), tf_grid=(0.6,)).get(0)
    path = tmp_path / "mixed.json"
    save_set(from_arrays([*easy, hard], name="mixed"), path)
    return path, [solve_dp(p, d).value for p, d in easy]


@pytest.mark.slow
@pytest.mark.parametrize("jobs", ["1", "2"])
def test_ctrl_c_keeps_the_solved_instances_and_a_rerun_resumes(tmp_path, jobs):
    path, want = _easy_then_hard(tmp_path)
    out = tmp_path / "mixed_out.json"
    exe = str(Path(sys.executable).parent / "discover")
    proc = subprocess.Popen([exe, "solve", str(path), "-o", str(out), "--jobs", jobs],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not out.exists():  # written once the first is solved
        time.sleep(0.2)
    time.sleep(3)  # the other two take milliseconds; the fourth takes minutes
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "interrupted: 3 of 4 instances solved" in err
    kept = load_set(out)
    assert [ex["status"] for ex in kept.extras] == ["optimal"] * 3 + ["unsolved"]
    assert kept.opt.tolist()[:3] == want and kept.opt[3] == -1
    code, stdout, stderr = cli("solve", str(path), "-o", str(out), "--time-limit", "0.2", "--json")
    assert "resuming: 3 of 4 instances already solved" in stderr
    summary = json.loads(stdout)
    assert summary["optimal"] == 3 and summary["time_limit"] == 1
    assert load_set(out).opt.tolist()[:3] == want


def test_an_output_of_other_instances_is_not_overwritten(set_file, tmp_path):
    path, _ = set_file
    other = tmp_path / "other.json"
    save_set(generate(9, 1, seed=5), other)
    before = other.read_bytes()
    code, _, err = cli("solve", str(path), "-o", str(other))
    assert code == 2 and "holds other instances than the input; pass --restart" in err
    assert other.read_bytes() == before
    code, _, _ = cli("solve", str(path), "-o", str(other), "--restart")
    assert code == 1 and load_set(other).count == 4  # 1: the file's wrong optimum is reported
