"""`discover evaluate`: text and JSON reports, exit codes, and one-line errors on bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from typer.testing import CliRunner

from discover.cli import app
from discover.cli.common import UserError
from evaluator.heuristics import mdd
from evaluator.instances import generate, load_set, save_set
from evaluator.kernels import total_tardiness
from tests.conftest import shared_path
from tests.evaluator.sandbox.test_compiled import NUMBA_MDD

MDD = """
def schedule(p, d):
    n = len(p)
    left = list(range(n))
    order, t = [], 0
    while left:
        best = min(left, key=lambda j: (max(int(d[j]), t + int(p[j])), j))
        left.remove(best)
        order.append(best)
        t += int(p[best])
    return order
"""
JSON_KEYS = ["status", "error", "instances", "mean_tardiness", "mean_gap_pct", "max_gap_pct", "mean_seconds",
             "mode", "compile_s", "compile_error", "by_class", "sandbox_missing_layers"]
runner = CliRunner()


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    iset = generate(10, 3, 4, rdd_grid=(0.2, 0.6), tf_grid=(0.4, 0.8))
    opt = [total_tardiness(*iset.get(i), mdd(*iset.get(i))) for i in range(iset.count)]
    opt[0] = 0  # unknown-looking zero optimum: no gap is computed for it
    with_opt = iset.with_fields(opt=[max(0, o - 3) if i % 2 else o for i, o in enumerate(opt)])
    save_set(iset, root / "set.json")
    save_set(with_opt, root / "set_opt.json")
    (root / "mdd.py").write_text(MDD)
    (root / "study.py").write_text(MDD.replace("def schedule(p, d)", "def assignment(p, d)"))
    (root / "mdd_numba.py").write_text(NUMBA_MDD)
    (root / "loop.py").write_text("def schedule(p, d):\n    while True:\n        pass\n")
    (root / "bad.json").write_text('{"instances": [{"p": [1, 0], "d": [3, 4]}]}')
    return root


def _run(*args: str):
    result = runner.invoke(app, ["evaluate", *args])
    if isinstance(result.exception, UserError):
        return result, str(result.exception)
    return result, None


def test_json_report_has_exactly_the_documented_keys(files):
    iset = load_set(files / "set.json")
    result, err = _run(str(files / "mdd.py"), "--instances", str(files / "set.json"), "--json")
    assert err is None and result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert list(out) == JSON_KEYS
    ref = np.mean([total_tardiness(*iset.get(i), mdd(*iset.get(i))) for i in range(iset.count)])
    assert out["status"] == "ok" and out["error"] == "" and out["instances"] == 12
    assert out["mean_tardiness"] == pytest.approx(ref)
    assert out["mean_gap_pct"] is None and out["max_gap_pct"] is None  # this set has no optima
    assert out["mean_seconds"] > 0
    assert (out["mode"], out["compile_s"], out["compile_error"]) == ("python", 0.0, "")
    assert out["sandbox_missing_layers"] == []  # this machine's kernel allows every layer
    assert [(r["rdd"], r["tf"], r["instances"]) for r in out["by_class"]] == [
        (0.2, 0.4, 3), (0.2, 0.8, 3), (0.6, 0.4, 3), (0.6, 0.8, 3)]


def test_gaps_follow_the_study_convention(files):
    iset = load_set(files / "set_opt.json")
    result, _ = _run(str(files / "study.py"), "--instances", str(files / "set_opt.json"),
                     "--entry", "assignment", "--json")
    out = json.loads(result.output)
    h = np.array([total_tardiness(*iset.get(i), mdd(*iset.get(i))) for i in range(iset.count)], float)
    mask = iset.opt > 0
    gaps = 100 * (h[mask] - iset.opt[mask]) / iset.opt[mask]
    assert out["mean_gap_pct"] == pytest.approx(gaps.mean())
    assert out["max_gap_pct"] == pytest.approx(gaps.max())


def test_text_report_shows_the_class_table(files):
    result, _ = _run(str(files / "mdd.py"), "--instances", str(files / "set_opt.json"))
    assert result.exit_code == 0
    for text in ("mdd.py on", ": ok", "mean total tardiness", "mean gap", "optimal", "seconds per instance",
                 "RDD", "TF", "0.6"):
        assert text in result.output


def test_a_failing_candidate_exits_1_with_its_status(files):
    result, _ = _run(str(files / "loop.py"), "--instances", str(files / "set.json"), "--timeout", "0.5",
                     "--json")
    assert result.exit_code == 1
    out = json.loads(result.output)
    assert out["status"] == "timeout" and "timed out" in out["error"] and out["mean_tardiness"] is None


@pytest.mark.parametrize(("args", "message"), [
    (["missing.py", "--instances", "set.json"], "missing.py: no such file"),
    (["mdd.py", "--instances", "nope.json"], "nope.json: no such file"),
    (["mdd.py", "--instances", "bad.json"], "bad.json: instance 0: processing time p[1] = 0"),
    (["mdd.py", "--instances", "set.json", "--timeout", "0"], "option --timeout"),
    (["mdd.py", "--instances", "set.json", "--entry", "no-name"], "option --entry"),
])
def test_bad_input_is_one_clear_line(files, args, message):
    args = [str(files / a) if a.endswith((".py", ".json")) else a for a in args]
    _, err = _run(*args)
    assert err is not None and message in err and "\n" not in err


def test_the_command_line_prints_the_error_and_exits_2(files):
    proc = subprocess.run([sys.executable, "-c", "from discover.cli import main; main()", "evaluate",
                           str(files / "missing.py"), "--instances", str(files / "set.json")],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stderr.strip() == f"error: {files / 'missing.py'}: no such file"


@pytest.mark.shared
def test_plain_python_mdd_reproduces_the_published_gap(files):
    path = shared_path("paper_n20_uniform")
    result, _ = _run(str(files / "mdd.py"), "--instances", str(path), "--json")
    out = json.loads(result.output)
    assert out["status"] == "ok" and out["mean_gap_pct"] == pytest.approx(1.86, abs=0.005)



@pytest.mark.slow
def test_a_compiled_candidate_reports_its_mode_and_compile_time_apart(files):
    """The same MDD in numba: equal scores, mode compiled, compile time on its own line and field."""
    iset = load_set(files / "set.json")
    result, _ = _run(str(files / "mdd_numba.py"), "--instances", str(files / "set.json"), "--json")
    compiled = json.loads(result.output)
    assert result.exit_code == 0 and compiled["status"] == "ok", compiled["error"]
    ref = np.mean([total_tardiness(*iset.get(i), mdd(*iset.get(i))) for i in range(iset.count)])
    assert compiled["mean_tardiness"] == pytest.approx(ref)
    assert compiled["mode"] == "compiled" and compiled["compile_s"] > 0 and compiled["compile_error"] == ""
    out = _run(str(files / "mdd_numba.py"), "--instances", str(files / "set.json"))[0].output
    text = " ".join(out.split())
    assert "mode compiled (numba): compile" in text and "not part of the seconds per instance" in text
