"""The archive, index and report of a task other than ΣT_j: a seeded offline weighted run through the CLI
promotes a champion against the best weighted reference into the user archive's weighted_tardiness/,
indexed there with its OR-Library scores (gaps to proven optima apart from best known values); list,
show, diff and front read it; the report names Σw_jT_j and WMDD."""

from __future__ import annotations

import json

import numpy as np
import pytest

from discover.archive import scoring as S
from discover.archive.entries import load_entries
from discover.archive.index import dumps_index, read_index
from discover.paths import ARCHIVE_DIR
from discover.store import RunStore
from evaluator import tasks
from evaluator.instances import save_set
from evaluator.weighted.instances import weighted_from_arrays
from tests.conftest import SHARED, run_cli

WT = tasks.get("weighted_tardiness")
SHIPPED = ARCHIVE_DIR / "weighted_tardiness"


def _solved(n: int, per_class: int, seed: int, name: str):
    raw = WT.generate(n, per_class, seed)
    opt = [WT.exact(*WT.instance(raw, i)) for i in range(raw.count)]
    return weighted_from_arrays([WT.instance(raw, i) for i in range(raw.count)], name=name, opt=opt,
                                rdd=raw.rdd, tf=raw.tf)


@pytest.fixture(scope="module")
def weighted_run(tmp_path_factory):
    """A short seeded offline weighted run, promoting into its own user archive (module-scoped)."""
    tmp = tmp_path_factory.mktemp("wrun")
    save_set(_solved(8, 1, 21, "wt_train8"), tmp / "train.json")
    save_set(_solved(8, 2, 22, "wt_valid8"), tmp / "valid.json")
    sets = {"search.islands": 2, "llm.concurrency": 4, "evaluation.workers": 1, "cost.instances": 1,
            "cost.train_instances": 2, "cost.repeats": 1, "evaluation.train_set": str(tmp / "train.json"),
            "evaluation.valid_set": str(tmp / "valid.json")}
    args = ["run", "--task", "weighted_tardiness", "--llm", "offline", "--seed", "2", "--samples", "16",
            "--run-dir", str(tmp / "run"), "--archive", str(tmp / "a"), "--quiet"]
    code, out, err = run_cli(*args, *(f"--set={k}={json.dumps(v)}" for k, v in sets.items()))
    assert code == 0, out + err
    return tmp / "run", tmp / "a", out


def _champion(run_dir) -> str:
    """Return the name the run's champion step gave its champion."""
    with RunStore.open(run_dir) as s:
        return s.get_state("champion")["name"]


def _listing(archive) -> dict:
    code, out, err = run_cli("archive", "--archive", str(archive), "list", "--task", "weighted_tardiness",
                             "--json")
    assert code == 0, err
    return json.loads(out)


def test_the_weighted_run_promotes_over_the_best_weighted_reference_and_indexes_its_test_scores(weighted_run):
    run_dir, archive, out = weighted_run
    flat = " ".join(out.split())
    assert "WMDD" in flat and "MDD " not in flat.replace("WMDD ", "")
    champs = [archive / "weighted_tardiness" / "champions" / f"{_champion(run_dir)}.py"]
    assert champs[0].is_file() and not (archive / "champions").exists()  # the task's archive only
    assert "promoted to" in flat and champs[0].name in flat
    listing = _listing(archive)
    assert listing["task"] == "weighted_tardiness"
    rows = {r["id"]: r for r in listing["entries"]}
    assert {"WSPT", "EDD", "WMDD", "ATC", "COVERT", "Aug-WMDD", champs[0].stem} <= set(rows)
    assert {r["kind"] for k, r in rows.items() if k not in WT.rules()} == {"champion"}
    champ = rows[champs[0].stem]
    assert champ["kind"] == "champion" and champ["status"] == "ok" and champ["origin"].startswith("run #")
    present = [p.stem for p in WT.test_sets if p.is_file()]
    assert sorted(champ["scores"]) == sorted(present)
    if not present:
        pytest.skip(f"../shared/benchmarks not found ({SHARED}): no OR-Library scores to check")
    assert "test sets (mean gap; best rule there): orlib_wt40 opt (124) " in flat  # with its instance counts
    assert "orlib_wt40 opt (124) " in flat and ", bk (1) " in flat and "orlib_wt100 bk (125) " in flat
    wt40 = champ["scores"]["orlib_wt40"]
    assert wt40["instances"] == 125 and wt40["proven"] == 124 and wt40["gap_best_known_pct"] is not None
    assert champ["scores"]["orlib_wt100"]["proven"] == 0  # wt100: best known values only
    # the indexed values are the task's objective of the champion's orders, scored again here
    rec = read_index(archive / "weighted_tardiness").get(champs[0].stem)
    code = next(e for e in load_entries(archive / "weighted_tardiness") if e.id == champs[0].stem).code
    (wt40_set,) = S.load_test_sets(archive / "weighted_tardiness", ("orlib_wt40",))
    with S.open_evaluator(workers=1, timeout_s=120) as ev:
        again = S.score_code(code, "schedule", [wt40_set], ev, "champion")["orlib_wt40"]
    assert again.values == rec.scores["orlib_wt40"].values
    gaps = WT.gaps(np.array(again.values), wt40_set.iset.opt)
    proven = WT.proven(wt40_set.iset)
    assert abs(np.nanmean(gaps[proven]) - wt40["gap_proven_pct"]) < 1e-5


def test_show_diff_and_front_read_the_weighted_champion(weighted_run):
    run_dir, archive, _ = weighted_run
    champ = _champion(run_dir)
    base = ("archive", "--archive", str(archive))
    code, out, err = run_cli(*base, "show", champ, "--task", "weighted_tardiness")
    assert code == 0, err
    assert "def schedule(p, w, d)" in out and "main line:" in out and "Aug-WMDD" in out and "s/inst" in out
    assert "task: weighted_tardiness" in out
    if (SHARED / "orlib_wt40.json").is_file():
        assert "to proven optima (opt) and to best known values (bk)" in " ".join(out.split())
    code, out, err = run_cli(*base, "diff", "Aug-WMDD", champ, "--task", "weighted_tardiness")
    assert code == 0 and f"score deltas ({champ} − Aug-WMDD" in " ".join(out.split()), err
    if (SHARED / "orlib_wt40.json").is_file():  # wt40: 124 proven, 1 best known; wt100: 125 best known
        assert "n=40†" in out and "opt (124)" in out and "bk (1)" in out and "bk (125)" in out
    code, out, err = run_cli(*base, "front", "--task", "weighted_tardiness")
    assert code == 0 and ("n = 40" in out or not (SHARED / "orlib_wt40.json").is_file())
    code, _, err = run_cli(*base, "show", champ)  # not in the ΣT_j archive
    assert code == 2 and f"no archive entry {champ!r}" in err


def test_promote_takes_the_task_from_the_run_and_writes_into_its_archive(weighted_run):
    run_dir, archive, _ = weighted_run
    champ_code = {e.code for e in load_entries(archive / "weighted_tardiness") if not e.is_reference}
    with RunStore.open(run_dir) as s:
        written = s.programs("status = 'ok' AND operator NOT IN ('seed', 'reset', 'migrate')")
    other = next(r.id for r in written if r.code not in champ_code)
    code, out, err = run_cli("archive", "--archive", str(archive), "promote", str(run_dir), str(other),
                             "--name", "second", "--force")
    assert code == 0, out + err
    path = archive / "weighted_tardiness" / "champions" / "second.py"
    assert path.is_file() and '# task: "weighted_tardiness"' in path.read_text()
    rows = {r["id"]: r for r in _listing(archive)["entries"]}
    assert rows["second"]["status"] == "ok" and sorted(rows["second"]["scores"]) == sorted(
        p.stem for p in WT.test_sets if p.is_file())
    code, _, err = run_cli("archive", "--archive", str(archive / "weighted_tardiness"), "promote",
                           str(run_dir), str(other), "--name", "third", "--force")  # the task's folder itself
    assert code == 2 and "already archived as second" in err


def test_add_scores_a_weighted_file_on_the_tasks_test_sets_and_refuses_a_total_tardiness_one(tmp_path):
    if not (SHARED / "orlib_wt40.json").is_file():
        pytest.skip(f"../shared/benchmarks not found ({SHARED}): no test set to score on")
    mine = tmp_path / "mine.py"
    mine.write_text("def schedule(p, w, d):\n    return sorted(range(len(p)), key=lambda j: (d[j], -w[j]))\n")
    base = ("archive", "--archive", str(tmp_path / "a"))
    code, out, err = run_cli(*base, "add", str(mine), "--name", "edd_w", "--task", "weighted_tardiness")
    assert code == 0, err
    assert (tmp_path / "a" / "weighted_tardiness" / "champions" / "edd_w.py").is_file()
    rows = {r["id"]: r for r in _listing(tmp_path / "a")["entries"]}
    assert rows["edd_w"]["status"] == "ok" and rows["edd_w"]["scores"]["orlib_wt40"]["proven"] == 124
    header = (tmp_path / "a" / "weighted_tardiness" / "champions" / "edd_w.py").read_text()
    assert '# task: "weighted_tardiness"' in header
    wrong = ARCHIVE_DIR / "references" / "mdd.py"
    code, _, err = run_cli(*base, "add", str(wrong), "--name", "mdd2", "--task", "weighted_tardiness")
    assert code == 2 and "mdd.py" in err and "(p, w, d)" in err and "\n" not in err
    code, _, err = run_cli(*base, "list", "--task", "nope")
    assert code == 2 and "option --task: unknown task 'nope'" in err


def test_the_report_names_the_weighted_objective_and_shows_the_or_library_results(weighted_run, tmp_path):
    run_dir, _, _ = weighted_run
    out = tmp_path / "r.html"
    code, _, err = run_cli("report", str(run_dir), "-o", str(out))
    assert code == 0, err
    page = out.read_text()
    assert "1||Σw_jT_j" in page and "WMDD seed" in page and "MDD and MDDC" not in page
    if (SHARED / "orlib_wt40.json").is_file():
        assert "orlib_wt40" in page and "best known" in page and "Aug-WMDD" in page


def test_the_shipped_weighted_index_is_current_and_the_total_tardiness_index_reads_back_byte_for_byte():
    text = (ARCHIVE_DIR / "index.json").read_text()
    assert dumps_index(read_index(ARCHIVE_DIR)) == text
    index = read_index(SHIPPED)
    assert set(index.entries) == {"WSPT", "EDD", "WMDD", "ATC", "COVERT", "Aug-WMDD"}
    sets = S.load_test_sets(SHIPPED)
    if not sets:
        pytest.skip(f"../shared/benchmarks not found ({SHARED}): the OR-Library sets absent")
    rules = WT.rules()
    for s in sets:
        for name, rec in index.entries.items():
            sc = rec.scores[s.name]
            want = WT.values(s.iset, rules[name](s.iset)).tolist()
            assert sc.sha256 == s.sha256 and list(sc.values) == want, (name, s.name)


def test_without_the_shared_sets_list_warns_and_add_says_which_files_are_missing(tmp_path, monkeypatch):
    gone = tmp_path / "shared" / "orlib_wt40.json"
    monkeypatch.setattr(type(WT), "test_sets", (gone,))
    base = ("archive", "--archive", str(tmp_path / "a"))
    code, out, err = run_cli(*base, "list", "--task", "weighted_tardiness")
    assert code == 0 and f"warning:testsetnotfound:{gone}" in "".join(err.split())  # wrapped anywhere
    mine = tmp_path / "mine.py"
    mine.write_text("def schedule(p, w, d):\n    return list(range(len(p)))\n")
    code, _, err = run_cli(*base, "add", str(mine), "--name", "plain", "--task", "weighted_tardiness")
    assert code == 2 and f"no test set of weighted_tardiness found ({gone})" in err
    assert not (tmp_path / "a" / "weighted_tardiness" / "champions" / "plain.py").exists()
