"""`discover baselines` on a weighted set: the weighted rules' gaps, proven and best known."""

from __future__ import annotations

import json

from evaluator.weighted.instances import load_weighted
from evaluator.weighted.kernels import weighted_of_set
from evaluator.weighted.rules import NAMES, run_on_set
from tests.conftest import run_cli, shared_path


def test_orlib_wt40_table_names_every_rule_and_the_proven_split():
    path = shared_path("orlib_wt40")
    code, out, _ = run_cli("baselines", str(path))
    assert code == 0
    flat = " ".join(out.split())  # the title may wrap
    assert "total weighted tardiness" in flat and "proven optimal on 124, best known on 1" in flat
    for name in ("WSPT", "EDD", "WMDD", "ATC", "COVERT", "Aug-WMDD"):
        assert f"│ {name} " in out
    assert "MDD " not in out.replace("WMDD ", "")  # not the ΣT_j table


def test_json_gaps_are_those_of_the_kernels(tmp_path):
    path = shared_path("orlib_wt100")
    code, out, _ = run_cli("baselines", str(path), "--json", "--heuristics", "ATC,Aug-WMDD")
    assert code == 0
    got = json.loads(out)
    assert (got["proven"], got["best_known"], list(got["heuristics"])) == (0, 125, ["ATC", "Aug-WMDD"])
    wset = load_weighted(path)
    pos = wset.opt > 0
    for name, row in got["heuristics"].items():
        v = weighted_of_set(wset, run_on_set(name, wset))
        gap = float((100.0 * (v[pos] - wset.opt[pos]) / wset.opt[pos]).mean())
        assert abs(row["mean_gap_pct"] - gap) < 1e-9 and row["mean_gap_proven_pct"] is None
        assert abs(row["mean_gap_best_known_pct"] - gap) < 1e-9
        assert row["below_best_known"] == int((v < wset.opt).sum()) == 0


def test_bad_weighted_file_and_unknown_rule_give_one_line(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"objective": "total weighted tardiness",
                               "instances": [{"p": [1, 2], "w": [1, -3], "d": [0, 0]}]}))
    code, _, err = run_cli("baselines", str(bad))
    assert code == 2 and err == "error: bad.json: instance 0: weight w[1] = -3 must be a positive integer"
    code, _, err = run_cli("baselines", str(shared_path("orlib_wt40")), "--heuristics", "MDD")
    assert code == 2 and "unknown weighted rule 'MDD'" in err and ", ".join(NAMES) in err
