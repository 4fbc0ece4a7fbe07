"""Where a run writes: the user archive (``$XDG_DATA_HOME/discover/archive`` by default), never the
repository's ``archive/``, which a user archive reads for its references, stored sets and scores."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from discover.programs import provenance
from tests.conftest import REPO, run_cli
from tests.discover.archive.test_archive import _template


def _git_status() -> str:
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("not a git checkout: the repository's cleanliness cannot be checked")
    r = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all", "archive/"], cwd=REPO,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout


@pytest.mark.slow
def test_a_run_and_a_promotion_write_the_user_archive_and_leave_the_repository_clean(
        tmp_path, tmp_path_factory, monkeypatch):
    before = _git_status()
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    user = tmp_path / "data" / "discover" / "archive"
    small = _template(tmp_path_factory.getbasetemp())  # small stored sets, solved exactly
    shutil.copytree(small / "baselines", user / "baselines")  # the user's own sets: quick to score on
    run = tmp_path / "runs" / "mine"
    monkeypatch.chdir(tmp_path)
    code, out, err = run_cli("run", "--quiet", "--samples", "24", "--seed", "2", "--run-dir", str(run),
                             "--set", f"evaluation.train_set='{user / 'baselines' / 'train_n25.json'}'",
                             "--set", f"evaluation.valid_set='{user / 'baselines' / 'valid_n25.json'}'",
                             "--set", "search.islands=2", "--set", "evaluation.workers=1")
    assert code == 0, err
    assert f'dir = "{user}"' in (run / "config.toml").read_text()  # the default archive is the user's
    code, out, err = run_cli("archive", "promote", str(run), "--name", "mine1", "--force")
    assert code == 0, err
    champ = user / "champions" / "mine1.py"
    meta, _ = provenance.parse(champ.read_text())
    assert meta["origin_run"] == "runs/mine"  # relative, no absolute path of this machine
    code, out, err = run_cli("archive", "index")
    assert code == 0, err
    own = json.loads((user / "index.json").read_text())["entries"]
    assert set(own) == {"mine1"}  # the user index holds only the user's champions
    code, out, err = run_cli("archive", "list", "--json")
    ids = {r["id"] for r in json.loads(out)["entries"]}
    assert {"mine1", "MDD", "Aug-MDDC"} <= ids  # the shipped references, read through the user archive
    assert _git_status() == before
