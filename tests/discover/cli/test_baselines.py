"""`discover baselines`: the JSON report against the stored values, and one-line errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from evaluator.stored import read_stored
from tests.conftest import REPO, run_cli

TEST_N20 = REPO / "archive" / "baselines" / "test_n20.json"


def test_json_report_matches_the_stored_values():
    code, out, _ = run_cli("baselines", str(TEST_N20), "--json", "--heuristics", "MDD,Aug-MDDC")
    assert code == 0
    report = json.loads(out)
    assert report["set"] == "test_n20" and report["instances"] == 200 and report["n"] == 20
    iset, values, _ = read_stored(TEST_N20)
    pos = iset.opt > 0
    for name in ("MDD", "Aug-MDDC"):
        v = np.array(values[name])
        row = report["heuristics"][name]
        assert row["mean_gap_pct"] == pytest.approx(np.mean(100 * (v[pos] - iset.opt[pos]) / iset.opt[pos]))
        assert row["max_gap_pct"] == pytest.approx(np.max(100 * (v[pos] - iset.opt[pos]) / iset.opt[pos]))
        assert row["optimal"] == int(np.sum(v == iset.opt))
        assert row["mean_seconds"] > 0
    assert list(report["heuristics"]) == ["MDD", "Aug-MDDC"]


def test_without_optima_it_reports_mean_tardiness(tmp_path):
    raw = json.loads(TEST_N20.read_text())
    for inst in raw["instances"]:
        inst.pop("opt")
    path = tmp_path / "no_opt.json"
    path.write_text(json.dumps(raw))
    code, out, _ = run_cli("baselines", str(path), "--json", "--heuristics", "MDD")
    row = json.loads(out)["heuristics"]["MDD"]
    _, values, _ = read_stored(TEST_N20)
    assert code == 0 and "mean_gap_pct" not in row
    assert row["mean_tardiness"] == pytest.approx(np.mean(values["MDD"]))


@pytest.mark.parametrize("args, message", [
    (("missing.json",), "error: missing.json: no such file"),
    ((str(TEST_N20), "--heuristics", "MDD,XYZ"), "error: option --heuristics: unknown 'XYZ'"),
    (("build", "--only", "test_n20,nope"), "error: option --only: no stored set 'nope'; known: train_n25,"),
    (("build", "--jobs", "0"), "error: option --jobs: 0 must be at least 1"),
])
def test_bad_input_is_one_line(args, message):
    code, _, err = run_cli("baselines", *args)
    assert code == 2 and err.startswith(message)
