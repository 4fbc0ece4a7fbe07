"""`discover archive ...` end to end: the list and its sort, tamper detection, show, diff, add, promote."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from evaluator.exact import solve
from evaluator.heuristics import NAMES, run_on_set
from evaluator.instances import generate, write_atomic
from evaluator.kernels import tardiness_of_set
from evaluator.stored import dumps_stored
from tests.conftest import REPO, run_cli
from tests.discover.archive.test_archive import SLACK, _champion, make_archive, make_run

cli = run_cli


@pytest.fixture
def archive(tmp_path, tmp_path_factory):
    return make_archive(tmp_path, tmp_path_factory.getbasetemp())


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    return make_run(tmp_path_factory.getbasetemp())


def test_list_json_is_sorted_by_mean_test_gap_computed_from_the_values(archive):
    code, out, _ = cli("archive", "--archive-dir", str(archive), "list", "--json")
    assert code == 0
    rows = json.loads(out)["entries"]
    assert {r["id"] for r in rows} == {"EDD", "SPT", "MDD", "PSK", "EDDC", "MDDC", "Aug-MDD", "Aug-MDDC"}
    gaps = [r["test_gap_pct"] for r in rows]
    assert gaps == sorted(gaps)
    sets = {}
    for name in ("test_n20", "test_n100"):
        raw = json.loads((archive / "baselines" / f"{name}.json").read_text())
        opt = np.array([i["opt"] for i in raw["instances"]])
        sets[name] = (opt, np.array(raw["baselines"]["SPT"]))
    by_hand = np.mean([np.mean(100.0 * (v[o > 0] - o[o > 0]) / o[o > 0]) for o, v in sets.values()])
    spt = next(r for r in rows if r["id"] == "SPT")
    assert spt["test_gap_pct"] == pytest.approx(by_hand, rel=1e-9)
    assert all(r["status"] == "ok" for r in rows)


def test_list_table_shows_every_entry_with_runtime_and_origin(archive):
    code, out, _ = cli("archive", "--archive-dir", str(archive), "list")
    assert code == 0
    for ident in ("Aug-MDDC", "MDDC", "SPT"):
        assert ident in out
    assert "s/inst" in out and "reference" in out and "n=20" in out and "n=100" in out


def test_list_flags_a_tampered_champion_and_exits_2(archive):
    """Acceptance: tampering with an archived file is detected by `discover archive list` (real process)."""
    path = _champion(archive, "slack", SLACK)
    cmd = [sys.executable, "-c", "from discover.cli import main; main()", "archive", "--archive-dir",
           str(archive), "list"]
    ok = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, timeout=120)
    assert ok.returncode == 0, ok.stderr
    path.write_text(path.read_text().replace("- 0.1 * p[k]", "- 0.5 * p[k]"))
    bad = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, timeout=120)
    assert bad.returncode == 2
    assert "HASH MISMATCH" in bad.stdout
    last = bad.stderr.strip().splitlines()[-1]
    assert last.startswith("error: hash mismatch: champions/slack.py: header code_sha256 = ")


def test_show_and_diff_refuse_a_tampered_entry(archive):
    path = _champion(archive, "slack", SLACK)
    path.write_text(path.read_text() + "\n# an edit\n")
    for args in (("show", "slack"), ("diff", "MDD", "slack")):
        code, _, err = cli("archive", "--archive-dir", str(archive), *args)
        assert code == 2 and err.startswith("error: hash mismatch: champions/slack.py")


@pytest.mark.parametrize("args, message", [
    (("show", "nope"), "error: no archive entry 'nope'; known: EDD, SPT"),
    (("diff", "MDD", "nope"), "error: no archive entry 'nope'"),
    (("add", "missing.py", "--name", "x1"), "error: missing.py: no such file"),
    (("promote", "no-such-run"), "error: no-such-run: not a run directory (run.sqlite is missing)"),
    (("show", "MDD", "--n", "7"), "error: option --n: MDD has no score at n = 7"),
])
def test_bad_arguments_are_one_line_and_exit_2(archive, args, message):
    code, _, err = cli("archive", "--archive-dir", str(archive), *args)
    assert code == 2 and err.startswith(message) and "\n" not in err


def test_a_file_is_not_an_archive_and_an_empty_folder_is_a_user_archive(tmp_path):
    (tmp_path / "f").write_text("x")
    code, _, err = cli("archive", "--archive", str(tmp_path / "f"), "list")
    assert code == 2
    assert err == f"error: {tmp_path / 'f'}: not an archive folder (not a folder at all)"
    code, out, _ = cli("archive", "--archive", str(tmp_path), "list", "--json")  # read over the shipped one
    assert code == 0
    assert {"EDD", "MDD", "Aug-MDDC"} <= {r["id"] for r in json.loads(out)["entries"]}
    assert [p.name for p in tmp_path.iterdir()] == ["f"]  # looking wrote nothing


def test_show_prints_code_scores_against_references_and_classes(archive):
    code, out, _ = cli("archive", "--archive-dir", str(archive), "show", "MDDC", "--n", "20")
    assert code == 0
    assert "def schedule(p, d):" in out
    assert "against the references" in out and "better/equal/worse" in out
    for ident in ("Aug-MDD", "PSK", "EDD"):
        assert ident in out
    assert "per (RDD, TF) class, on test_n20" in out
    assert "a reference rule (no lineage)" in out


def test_diff_shows_the_code_diff_and_score_deltas(archive):
    code, out, _ = cli("archive", "--archive-dir", str(archive), "diff", "MDD", "Aug-MDD")
    assert code == 0
    assert "--- MDD (mdd.py)" in out and "+++ Aug-MDD (aug_mdd.py)" in out
    assert "score deltas (Aug-MDD − MDD" in out and "per (RDD, TF) class" in out


def test_add_then_list_then_show(archive, tmp_path):
    src = tmp_path / "slack.py"
    src.write_text(SLACK)
    code, out, err = cli("archive", "--archive-dir", str(archive), "add", str(src), "--name", "slack01")
    assert code == 0, err
    assert "archived" in out and "champions/slack01.py" in out.replace("\n", "")
    rows = json.loads(cli("archive", "--archive-dir", str(archive), "list", "--json")[1])["entries"]
    assert next(r for r in rows if r["id"] == "slack01")["origin"] == "hand-written"
    code, out, _ = cli("archive", "--archive-dir", str(archive), "show", "slack01")
    assert code == 0 and "slack01" in out and "a hand-written entry" in out


def test_add_refuses_bad_code_with_one_line(archive, tmp_path):
    src = tmp_path / "bad.py"
    src.write_text("def schedule(p, d):\n    return [0] * len(p)\n")
    code, _, err = cli("archive", "--archive-dir", str(archive), "add", str(src), "--name", "bad01")
    assert code == 2 and "bad.py: test_n" in err and "invalid_output" in err
    assert not list((archive / "champions").iterdir())


def test_promote_then_show_prints_the_lineage(archive, run_dir):
    code, out, err = cli("archive", "--archive-dir", str(archive), "promote", str(run_dir), "--name",
                         "champ1", "--force")
    assert code == 0, err
    assert "wrote" in out
    code, out, _ = cli("archive", "--archive-dir", str(archive), "show", "champ1")
    assert code == 0
    assert "lineage" in out and "main line:" in out and "seeds" in out
    rows = json.loads(cli("archive", "--archive-dir", str(archive), "list", "--json")[1])["entries"]
    champ = next(r for r in rows if r["id"] == "champ1")
    assert champ["status"] == "ok" and champ["origin"].startswith(run_dir.name + " #")  # no absolute path


def test_list_gains_a_large_set_column_marked_where_optima_are_unproven(archive):
    """A test_n1000 file (small n here) with one unproven instance: its column is marked † and explained."""
    iset = generate(30, 1, seed=9, name="test_n1000")
    values = {h: tardiness_of_set(iset, run_on_set(h, iset)).tolist() for h in NAMES}
    best = np.min(np.array(list(values.values())), axis=0)
    extras = tuple({"proven": False, "lower_bound": 0} if i == 3 else {} for i in range(iset.count))
    opt = [int(best[i]) if i == 3 else solve(*iset.get(i)).value for i in range(iset.count)]
    iset = iset.with_fields(opt=opt, extras=extras)
    write_atomic(archive / "baselines" / "test_n1000.json", dumps_stored(iset, values))
    assert cli("archive", "--archive-dir", str(archive), "index")[0] == 0
    code, out, _ = cli("archive", "--archive-dir", str(archive), "list", "--json")
    listing = json.loads(out)
    assert code == 0 and listing["unproven"] == {"test_n1000": 1} and "test_n1000" in listing["sets"]
    code, out, _ = cli("archive", "--archive-dir", str(archive), "list")
    assert code == 0 and "n=30†" in out and "1 optimum of test_n1000 is not proven" in out
