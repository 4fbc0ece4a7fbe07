"""`discover show RUN [PROGRAM]`, `discover run --seed-program FILE` and `--prompts DIR`."""

from __future__ import annotations

import json
import shutil
import sqlite3

from discover.paths import PROMPTS_DIR
from discover.programs.extract import extract_code
from discover.programs.normalize import code_hash
from tests.conftest import run_cli
from tests.discover.cli import test_paths as paths
from tests.discover.cli import test_run as base

config_file, finished_run = base.config_file, paths.finished_run  # fixtures


def _sql(run, query, params=()):
    conn = sqlite3.connect(f"file:{run / 'run.sqlite'}?mode=ro", uri=True)
    try:
        return conn.execute(query, params).fetchall()
    finally:
        conn.close()


def test_show_gives_a_program_with_the_prompt_and_the_reply_that_made_it(finished_run):
    pid, prompt, sample, code, h = _sql(finished_run, "SELECT id, prompt, sample, code, hash FROM programs"
                                        " WHERE status = 'ok' AND prompt IS NOT NULL ORDER BY id LIMIT 1")[0]
    rc, out, err = run_cli("show", str(finished_run), str(pid), "--json")
    assert rc == 0, err
    rec = json.loads(out)
    assert rec["id"] == pid and rec["code"] == code and rec["prompt"] == prompt
    text, key = _sql(finished_run, "SELECT request, request_hash FROM prompts WHERE id = ?", (prompt,))[0]
    request = json.loads(text)
    assert rec["prompt_messages"] == request["messages"]
    line = [json.loads(x) for x in (finished_run / "transcript.jsonl").read_text().splitlines()
            if json.loads(x)["request_hash"] == key][-1]
    assert rec["reply"] == line["completions"][sample - request["first_sample"]]
    assert code_hash(extract_code(rec["reply"], "schedule").code) == h  # that reply gave this code
    call = _sql(finished_run, "SELECT prompt_tokens, cost_usd FROM llm_calls WHERE prompt = ?", (prompt,))[0]
    assert (rec["llm_call"]["prompt_tokens"], rec["llm_call"]["cost_usd"]) == call
    rc, out, _ = run_cli("show", str(finished_run), str(pid))
    assert rc == 0 and f"program #{pid}" in out and "reply" in out and "prompt: system" in out


def test_show_defaults_to_the_champion_and_names_a_bad_id(finished_run):
    rc, out, _ = run_cli("show", str(finished_run), "--json")
    champ = json.loads(_sql(finished_run, "SELECT value FROM state WHERE key = 'champion'")[0][0])
    assert rc == 0 and json.loads(out)["id"] == champ["program_id"]
    rc, _, err = run_cli("show", str(finished_run), "99999")
    assert rc == 2 and "\n" not in err
    assert err.startswith(f"error: {finished_run}: no program #99999 in the run")


def test_seed_programs_of_ones_own(config_file, tmp_path):
    mine = tmp_path / "slack_first.py"
    mine.write_text("import numpy as np\n\n\ndef schedule(p, d):\n"
                    "    return np.argsort(d - p, kind='stable')\n")
    run = tmp_path / "r"
    rc, out, err = run_cli("run", "--config", str(config_file), "--samples", "8", "--run-dir", str(run),
                           "--quiet", "--seed-program", str(mine), "--set", "champion.promote=false")
    assert rc == 0, err
    rows = _sql(run, "SELECT DISTINCT description, code, status FROM programs WHERE operator = 'seed'")
    assert {r[0] for r in rows} == {"edd", "spt", "mdd", "slack_first"}
    assert [r[1:] for r in rows if r[0] == "slack_first"] == [(mine.read_text(), "ok")]
    rc, _, err = run_cli("run", "--config", str(config_file), "--run-dir", str(tmp_path / "x"), "--quiet",
                         "--seed-program", str(tmp_path / "missing.py"))
    assert rc == 2 and "seed program 'missing' not found" in err and not (tmp_path / "x").exists()


def test_prompts_folder_from_the_command_line_and_the_config(config_file, tmp_path):
    folder = tmp_path / "my-prompts"
    shutil.copytree(PROMPTS_DIR, folder)
    (folder / "system.txt").write_text("MARKER-7 " + (folder / "system.txt").read_text())
    for how in (["--prompts", str(folder)], ["--set", f"prompts='{folder}'"]):
        run = tmp_path / f"r{len(how[0])}"
        rc, out, err = run_cli("run", "--config", str(config_file), "--samples", "4", "--run-dir", str(run),
                               "--quiet", "--set", "champion.promote=false", *how)
        assert rc == 0, err
        requests = [json.loads(r[0]) for r in _sql(run, "SELECT request FROM prompts")]
        assert requests and all(r["messages"][0]["content"].startswith("MARKER-7 ") for r in requests)
    rc, _, err = run_cli("run", "--config", str(config_file), "--prompts", str(tmp_path / "none"), "--quiet")
    assert rc == 2 and f"{tmp_path / 'none'}/system.txt is missing" in err
