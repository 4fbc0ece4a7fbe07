"""The archive library: entries and tamper detection, scores against independent references, the index,
lineage walked from a real run, adding and promoting champions.

The helpers at the top (``make_archive``, ``make_run``) are shared with test_cli_archive.py and
test_report.py: an archive folder in tmp with small stored sets solved exactly, and a real offline
run (controller, sandbox and offline LLM) on a tiny budget, both built once per session.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from discover.archive import entries as E
from discover.archive import index as I
from discover.archive import scoring as S
from discover.archive.errors import ArchiveError
from discover.archive.lineage import lineage
from discover.archive.promote import add_file, promote_program
from discover.archive.runs import RunView
from discover.programs import provenance
from evaluator.exact import solve
from evaluator.heuristics import NAMES, run_on_set
from evaluator.instances import generate, write_atomic
from evaluator.kernels import tardiness_of_set
from evaluator.reference import brute_force_optimum, total_tardiness_py
from evaluator.stored import dumps_stored
from tests.conftest import REPO

# --- shared builders ---------------------------------------------------------------------------------

TEST_SETS = (("test_n20", 20, 2001), ("test_n100", 100, 10001))  # one instance per (RDD, TF) class
_CACHE: dict[str, Path] = {}


def _stored(name: str, n: int, seed: int, tf_grid=(0.2, 0.4, 0.6, 0.8), keep_negative=False, per_class=1):
    iset = generate(n, per_class, seed, tf_grid=tf_grid, keep_negative=keep_negative, name=name)
    iset = iset.with_fields(opt=np.array([solve(*iset.get(i)).value for i in range(iset.count)]))
    values = {h: tardiness_of_set(iset, run_on_set(h, iset)).tolist() for h in NAMES}
    return iset, dumps_stored(iset, values)


def _template(base: Path) -> Path:
    """Build (once) an archive: the repo's references, small stored sets, an index of the references."""
    if "archive" not in _CACHE:
        root = base / "archive-template"
        shutil.copytree(REPO / "archive" / "references", root / "references")
        (root / "champions").mkdir()
        for name, n, seed in TEST_SETS:
            write_atomic(root / "baselines" / f"{name}.json", _stored(name, n, seed)[1])
        for name, seed in (("train_n25", 2501), ("valid_n25", 2502)):
            text = _stored(name, 20, seed, tf_grid=(0.2, 0.4, 0.6, 0.8, 1.0), keep_negative=True)[1]
            write_atomic(root / "baselines" / f"{name}.json", text)
        entries = E.load_entries(root)
        I.refresh_index(root, entries, S.load_test_sets(root), None, verify=False)
        _CACHE["archive"] = root
    return _CACHE["archive"]


def make_archive(tmp_path: Path, base: Path) -> Path:
    """Return a fresh copy of the template archive under ``tmp_path``."""
    dst = tmp_path / "archive"
    shutil.copytree(_template(base), dst)
    return dst


def make_run(base: Path) -> Path:
    """Return (running it once) a finished offline `discover run` of 48 samples on the small sets."""
    if "run" not in _CACHE:
        root = _template(base)
        run_dir = base / "run-offline"
        settings = {"evaluation.train_set": root / "baselines" / "train_n25.json",
                    "evaluation.valid_set": root / "baselines" / "valid_n25.json",
                    "champion.dir": base / "run-champions", "search.islands": 3, "search.reset_period": 24,
                    "llm.samples_per_prompt": 4, "llm.concurrency": 2, "evaluation.workers": 1}
        cmd = [sys.executable, "-c", "from discover.cli import main; main()", "run", "--quiet", "--llm",
               "offline", "--samples", "48", "--seed", "5", "--run-dir", str(run_dir)]
        for key, value in settings.items():
            cmd += ["--set", f"{key}={json.dumps(str(value)) if isinstance(value, Path) else value}"]
        r = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, timeout=300)
        assert r.returncode == 0, f"discover run failed: {r.stderr[-2000:]}"
        _CACHE["run"] = run_dir
    return _CACHE["run"]


@pytest.fixture
def archive(tmp_path, tmp_path_factory):
    return make_archive(tmp_path, tmp_path_factory.getbasetemp())


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    return make_run(tmp_path_factory.getbasetemp())


@pytest.fixture(scope="module")
def sandbox():
    from evaluator.sandbox import Sandbox

    with Sandbox(workers=1, timeout_s=60) as sb:
        yield sb


def _module(path: Path):
    spec = importlib.util.spec_from_file_location(f"m_{path.stem}", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _champion(root: Path, name: str, code: str, **meta) -> Path:
    path = root / "champions" / f"{name}.py"
    path.write_text(provenance.render({"name": name, "operator": "hand-written"} | meta, code))
    return path


SLACK = '''"""Least modified due date, with a small bonus for long jobs."""


def schedule(p, d):
    left = list(range(len(p)))
    order, t = [], 0
    while left:
        j = min(left, key=lambda k: (max(d[k], t + p[k]) - 0.1 * p[k], k))
        order.append(j)
        left.remove(j)
        t += p[j]
    return order
'''


# --- entries -------------------------------------------------------------------------------------------

def test_references_load_in_order_and_answer_to_names_and_stems(archive):
    entries = E.load_entries(archive)
    assert [e.id for e in entries] == ["EDD", "SPT", "MDD", "PSK", "EDDC", "MDDC", "Aug-MDD", "Aug-MDDC"]
    assert all(e.is_reference and e.problem is None for e in entries)
    assert E.find_entry(entries, "aug-mddc").path.name == "aug_mddc.py"
    assert E.find_entry(entries, "aug_mdd").id == "Aug-MDD"
    assert E.find_entry(entries, "references/mdd.py").id == "MDD"
    with pytest.raises(ArchiveError, match=r"no archive entry 'WSPT'; known: EDD, SPT, MDD"):
        E.find_entry(entries, "WSPT")


def test_a_champion_with_a_reference_stem_is_ambiguous(archive):
    _champion(archive, "mdd", SLACK)
    with pytest.raises(ArchiveError, match="ambiguous.*references/NAME or champions/NAME"):
        E.find_entry(E.load_entries(archive), "mdd")
    assert E.find_entry(E.load_entries(archive), "champions/mdd").kind == "champion"


def test_an_edited_champion_is_flagged_as_a_hash_mismatch(archive):
    path = _champion(archive, "slack", SLACK)
    assert E.load_champion(path, archive).problem is None
    path.write_text(path.read_text().replace("0.1 * p[k]", "0.2 * p[k]"))
    problem = E.load_champion(path, archive).problem
    assert problem.startswith("hash mismatch: champions/slack.py: header code_sha256 = ")
    assert "edited after it was archived" in problem and "\n" not in problem


def test_a_broken_header_is_flagged(archive):
    path = _champion(archive, "slack", SLACK)
    path.write_text(path.read_text().replace('# operator: "hand-written"', "# operator hand-written"))
    problem = E.load_champion(path, archive).problem
    assert problem.startswith("bad header: champions/slack.py: line 3: expected")


# --- scores ----------------------------------------------------------------------------------------------

def test_exact_optima_of_the_builder_match_brute_force():
    iset, _ = _stored("tiny", 7, 3, per_class=1)
    for i in range(0, iset.count, 3):
        assert iset.opt[i] == brute_force_optimum(*iset.get(i))


def test_reference_scores_equal_the_python_files_and_hand_computed_gaps(archive):
    sets = {s.name: s for s in S.load_test_sets(archive)}
    rec = I.read_index(archive).get("MDDC")
    mddc = _module(archive / "references" / "mddc.py").schedule
    for name, stored in sets.items():
        iset = stored.iset
        want = [total_tardiness_py(*iset.get(i), mddc(*(a.copy() for a in iset.get(i))))
                for i in range(iset.count)]
        got = rec.scores[name]
        assert list(got.values) == want
        gaps = [100.0 * (v - o) / o for v, o in zip(want, iset.opt.tolist(), strict=True) if o > 0]
        assert got.mean_gap_pct == pytest.approx(np.mean(gaps), abs=1e-6)
        assert got.max_gap_pct == pytest.approx(max(gaps), abs=1e-6)
        assert got.optimal == sum(v == o for v, o in zip(want, iset.opt.tolist(), strict=True))
        assert got.sha256 == iset.sha256() and got.runtime == "numba"


def test_changed_stored_baselines_are_refused(archive):
    path = archive / "baselines" / "test_n20.json"
    raw = json.loads(path.read_text())
    raw["baselines"]["MDD"][3] += 1
    path.write_text(json.dumps(raw))
    (stored,) = S.load_test_sets(archive, ("test_n20",))
    with pytest.raises(ArchiveError, match=r"field baselines.MDD: instance 3 records .* rebuild the stored"):
        S.score_reference("MDD", stored)


def test_python_references_give_their_numba_twins_values_in_the_sandbox(archive, sandbox):
    (stored,) = S.load_test_sets(archive, ("test_n20",))
    for e in E.load_entries(archive):
        S.verify_reference(e.id, e.code, stored, sandbox)
    wrong = (archive / "references" / "edd.py").read_text()
    with pytest.raises(ArchiveError, match="reference MDD: the Python file gives"):
        S.verify_reference("MDD", wrong, stored, sandbox)


@pytest.mark.slow
def test_runtimes_carry_their_mode_and_are_compared_in_the_same_mode(archive, sandbox):
    """References: numba seconds, and their plain-Python file's; champions: the mode they ran in."""
    from discover.archive.views import score_table
    from tests.evaluator.sandbox.test_compiled import NUMBA_MDD

    rec = I.read_index(archive).get("Aug-MDD")
    for s in rec.scores.values():
        assert s.mode == "compiled" and s.seconds_in("compiled") == s.seconds_per_instance
        assert s.python_seconds_per_instance > s.seconds_per_instance > 0  # Python is the slower
        assert S.SetScore.from_dict(json.loads(json.dumps(s.to_dict()))) == s
    sets = S.load_test_sets(archive, ("test_n20",))
    mdd_py = (archive / "references" / "mdd.py").read_text()
    python = S.score_code(mdd_py, "schedule", sets, sandbox, "mdd.py")
    compiled = S.score_code(NUMBA_MDD, "schedule", sets, sandbox, "mdd_numba.py")
    assert python["test_n20"].mode == "python" and compiled["test_n20"].mode == "compiled"
    ref = I.read_index(archive).get("MDD")
    assert python["test_n20"].values == compiled["test_n20"].values == ref.scores["test_n20"].values
    for champion, mode, figure in ((python, "python", "python_seconds_per_instance"),
                                   (compiled, "compiled", "seconds_per_instance")):
        entry = I.IndexEntry("mine", "champion", "champions/mine.py", "0" * 64, champion, {}, None)
        table = score_table(entry, [ref])
        assert table.columns[-1].header == f"s/inst {'c' if mode == 'compiled' else 'py'}"
        cells = list(table.columns[-1].cells)
        assert cells[1] == f"{getattr(ref.scores['test_n20'], figure):.1e}"  # the reference, in that mode


# --- index -----------------------------------------------------------------------------------------------

def test_index_round_trips_and_is_deterministic(archive):
    text = (archive / "index.json").read_text()
    idx = I.read_index(archive)
    assert I.dumps_index(idx) == text
    assert set(idx.entries) == set(NAMES[:8])
    assert '"values": [' in text and text.count("\n") < 40 * len(idx.entries) * len(TEST_SETS)


def test_index_goes_stale_when_a_reference_or_a_set_changes(archive):
    sets = S.load_test_sets(archive)
    idx = I.read_index(archive)
    spt = next(e for e in E.load_entries(archive) if e.id == "SPT")
    assert I.entry_status(spt, idx.get("SPT"), sets) == ("ok", "")
    (archive / "references" / "spt.py").write_text(spt.code + "\n# tweak\n")
    spt = next(e for e in E.load_entries(archive) if e.id == "SPT")
    status, detail = I.entry_status(spt, idx.get("SPT"), sets)
    assert status == "stale" and "spt.py: the code changed since it was scored" in detail
    name, n, seed = TEST_SETS[0]
    write_atomic(archive / "baselines" / f"{name}.json", _stored(name, n, seed + 1)[1])
    mdd = next(e for e in E.load_entries(archive) if e.id == "MDD")
    status, detail = I.entry_status(mdd, idx.get("MDD"), S.load_test_sets(archive))
    assert status == "stale" and "scored on another test_n20" in detail
    index, notes = I.refresh_index(archive, E.load_entries(archive), S.load_test_sets(archive), None,
                                   verify=False)
    assert notes == [] and all(I.entry_status(e, index.get(e.id), S.load_test_sets(archive))[0] == "ok"
                               for e in E.load_entries(archive))


def test_a_malformed_index_is_one_clear_error(archive):
    (archive / "index.json").write_text('{"format": 1, "entries": {"MDD": {"kind": "reference"}}}')
    with pytest.raises(ArchiveError, match=r"index.json: not a valid archive index \(KeyError"):
        I.read_index(archive)


# --- add --------------------------------------------------------------------------------------------------

def test_add_scores_a_hand_written_heuristic_in_the_sandbox(archive, sandbox):
    src = archive.parent / "slack.py"
    src.write_text(SLACK)
    rec = add_file(archive, src, "slack01", sandbox, timeout_s=60)
    entry = E.find_entry(E.load_entries(archive), "slack01")
    assert entry.problem is None and entry.meta["operator"] == "hand-written" and entry.code == SLACK
    assert set(entry.meta["sets"]) == {"test_n20", "test_n100"}
    fn = _module(src).schedule
    for stored in S.load_test_sets(archive):
        iset = stored.iset
        want = [total_tardiness_py(*iset.get(i), fn(*iset.get(i))) for i in range(iset.count)]
        assert list(rec.scores[stored.name].values) == want
        assert rec.scores[stored.name].runtime == "sandbox"
        assert entry.meta["sets"][stored.name]["sha256"] == stored.sha256
    assert I.read_index(archive).get("slack01") == rec


@pytest.mark.parametrize("code, message", [
    ("def schedule(p, d)\n    return list(range(len(p)))\n", r"bad\.py: line 1: expected ':'"),
    ("def order(p, d):\n    return list(range(len(p)))\n", r"bad\.py: .*schedule"),
    ("def schedule(p, d):\n    return [0] * len(p)\n", r"bad\.py: test_n(20|100): invalid_output"),
    ("import os\n\ndef schedule(p, d):\n    return os.listdir('.')\n", r"bad\.py: .*os"),
])
def test_add_refuses_bad_code_and_writes_nothing(archive, sandbox, code, message):
    src = archive.parent / "bad.py"
    src.write_text(code)
    before = (archive / "index.json").read_text()
    with pytest.raises(ArchiveError, match=message) as e:
        add_file(archive, src, "bad01", sandbox, timeout_s=60)
    assert "\n" not in str(e.value)
    assert not list((archive / "champions").iterdir()) and (archive / "index.json").read_text() == before


def test_add_keeps_the_provenance_of_a_champion_from_elsewhere(archive, sandbox, tmp_path):
    meta = {"name": "far", "origin_run": "runs/elsewhere", "program_id": 17, "parents": [3], "model": "m",
            "operator": "e2"}
    src = tmp_path / "far.py"
    src.write_text(provenance.render(meta, SLACK))
    add_file(archive, src, "far-away", sandbox, timeout_s=60)
    entry = E.find_entry(E.load_entries(archive), "far-away")
    assert entry.problem is None and entry.code == SLACK and entry.meta["name"] == "far-away"
    m = entry.meta
    assert (m["origin_run"], m["program_id"], m["operator"]) == ("runs/elsewhere", 17, "e2")
    src.write_text(src.read_text().replace("0.1 * p[k]", "0.3 * p[k]"))
    with pytest.raises(ArchiveError, match="far.py: header code_sha256 does not match the code"):
        add_file(archive, src, "far2", sandbox)


def test_add_refuses_a_taken_name_and_code_already_archived(archive, sandbox):
    src = archive.parent / "edd_copy.py"
    src.write_text((archive / "references" / "edd.py").read_text())
    with pytest.raises(ArchiveError, match="--name 'mdd': the archive already has reference MDD"):
        add_file(archive, src, "mdd", sandbox)
    with pytest.raises(ArchiveError, match=r"this code is already archived as EDD \(edd.py\)"):
        add_file(archive, src, "edd2", sandbox)
    with pytest.raises(ArchiveError, match="no such file"):
        add_file(archive, archive / "missing.py", "x1", sandbox)


# --- runs: lineage and promotion ---------------------------------------------------------------------------

def _ancestors_by_sql(db: Path, pid: int) -> set[int]:
    """Walk parents with plain SQL, following copies to their source: the independent reference."""
    conn = sqlite3.connect(db)
    query = "SELECT id, operator, parents FROM programs"
    rows = {r[0]: (r[1], json.loads(r[2])) for r in conn.execute(query)}
    conn.close()

    def orig(q):
        while rows[q][0] in ("reset", "migrate"):
            q = rows[q][1][0]
        return q

    seen, todo = set(), [orig(pid)]
    while todo:
        q = todo.pop()
        if q not in seen:
            seen.add(q)
            todo += [orig(x) for x in rows[q][1]]
    return seen


def test_lineage_walks_back_to_the_seeds_with_copies_collapsed(run_dir):
    with RunView(run_dir) as view:
        best = view.best()
        lin = lineage(view, best.id)
        assert {n.id for n in lin.nodes} == _ancestors_by_sql(run_dir / "run.sqlite", best.id)
        assert lin.root.id == best.id and lin.root.depth == 0
        assert all(n.operator not in ("reset", "migrate") for n in lin.nodes)
        assert lin.seeds() and all(n.description in ("edd", "spt", "mdd") for n in lin.seeds())
        by_id = lin.by_id()
        assert all(by_id[q].depth <= n.depth + 1 for n in lin.nodes for q in n.parents)
        with pytest.raises(ArchiveError, match="no program #99999"):
            lineage(view, 99999)


def test_run_view_reads_without_writing(run_dir):
    db = run_dir / "run.sqlite"
    before = db.read_bytes()
    with RunView(run_dir) as view:
        assert view.programs() and view.llm_calls() and view.state("status") == "finished"
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            view._conn.execute("DELETE FROM programs")
    assert db.read_bytes() == before
    with pytest.raises(ArchiveError, match="not a run directory"):
        RunView(run_dir.parent)


def test_promote_forced_writes_a_verified_champion_with_lineage(archive, run_dir, sandbox):
    with RunView(run_dir) as view:
        best = view.best()
    out = promote_program(archive, run_dir, best.id, sandbox, name="offline-best", force=True, timeout_s=60)
    entry = E.find_entry(E.load_entries(archive), "offline-best")
    assert entry.problem is None and out.path == entry.path
    m = entry.meta
    assert (m["program_id"], m["operator"], m["origin_run"]) == (best.id, best.operator, run_dir.name)
    assert m["parents"] == list(best.parents) and m["model"] and m["evaluator_version"]
    assert {"valid", "test_n20", "test_n100"} <= set(m["sets"])
    assert out.promoted or m.get("forced") is True
    rec = I.read_index(archive).get("offline-best")
    assert rec.lineage is not None and rec.lineage.root.id == best.id
    assert set(rec.scores) == {"test_n20", "test_n100"}


def test_promote_without_force_respects_the_decision(archive, run_dir, sandbox):
    out = promote_program(archive, run_dir, None, sandbox, name="maybe", timeout_s=60)
    written = list((archive / "champions").glob("*.py"))
    assert (out.record is not None) == out.promoted == bool(written)
    assert out.reason and out.reference in NAMES


def test_promote_refuses_an_invalid_program(archive, run_dir, sandbox):
    with RunView(run_dir) as view:
        bad = next(p for p in view.programs() if p.sample is not None and not p.ok)
    with pytest.raises(ArchiveError, match=f"program #{bad.id} is not valid"):
        promote_program(archive, run_dir, bad.id, sandbox)


def test_lineage_view_prints_llm_text_literally():
    """Descriptions come from the LLM: rich markup in them must be shown, not interpreted (nor crash)."""
    import io

    from rich.console import Console

    from discover.archive.lineage import Lineage, Node
    from discover.archive.views import lineage_view

    lin = Lineage((Node(7, "m1", 0, 0.5, (3,), "use [bold]slack[/] and [/oops]", 0),
                   Node(3, "seed", 0, 1.5, (), "mdd", 1)))
    out = io.StringIO()
    Console(file=out, width=200).print(lineage_view(lin, None))
    text = out.getvalue()
    assert "use [bold]slack[/] and [/oops]" in text and "main line: #7 m1 ← #3 mdd" in text
