"""The discovery loop end to end, with the real sandbox and the offline LLM on small sets.

Determinism (same seed → same store), strict replay, SIGKILL then resume equal to an uninterrupted
run, Ctrl-C, a garbage-only LLM, failing LLM calls, budgets and island bookkeeping in the store.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from discover.config import load_config
from discover.llm.base import ChatResult, LLMError
from discover.runner import Parts, compare_runs, replay_run, resume_run, start_run
from discover.store import RunStore
from evaluator.instances import generate, save_set
from evaluator.kernels import total_tardiness
from evaluator.sandbox import Sandbox

DISCOVER = Path(sys.executable).parent / "discover"
SAMPLES = 96
TABLES = ("programs", "prompts", "llm_calls", "events", "state")


def dp_optimum(p, d) -> int:
    """Return the optimal total tardiness by dynamic programming over job subsets (independent reference)."""
    n = len(p)
    f = [0] * (1 << n)
    total = [0] * (1 << n)
    for s in range(1, 1 << n):
        low = s & -s
        total[s] = total[s ^ low] + int(p[low.bit_length() - 1])
        best, m = None, s
        while m:
            b = m & -m
            k = b.bit_length() - 1
            v = f[s ^ b] + max(0, total[s] - int(d[k]))
            best = v if best is None or v < best else best
            m ^= b
        f[s] = best
    return f[-1]


def test_dp_reference_matches_brute_force():
    import itertools

    rng = np.random.default_rng(0)
    for _ in range(20):
        p, d = rng.integers(1, 20, 5), rng.integers(0, 40, 5)
        brute = min(total_tardiness(p, d, list(o)) for o in itertools.permutations(range(5)))
        assert dp_optimum(p, d) == brute


def solved(n: int, per_class: int, seed: int, name: str):
    iset = generate(n, per_class, seed, name=name)
    return iset.with_fields(opt=[dp_optimum(*iset.get(i)) for i in range(iset.count)])


def write_sets(d: Path) -> Path:
    """Write the small solved training and validation sets into ``d``."""
    save_set(solved(8, 2, 11, "train8"), d / "train.json")
    save_set(solved(8, 1, 12, "valid8"), d / "valid.json")
    return d


@pytest.fixture(scope="module")
def sets(tmp_path_factory):
    return write_sets(tmp_path_factory.mktemp("sets"))


def config_text(sets: Path, tmp: Path, samples: int = SAMPLES, **extra: str) -> str:
    lines = [
        "seed = 7",
        "[llm]", "concurrency = 4",
        "[search]", "islands = 3", "reset_period = 30", "migration_period = 45",
        "[evaluation]", f"train_set = '{sets / 'train.json'}'", f"valid_set = '{sets / 'valid.json'}'",
        "workers = 2", "timeout_s = 20.0",
        "[stopping]", f"samples = {samples}",
        "[champion]", f"dir = '{tmp / 'champions'}'", "promote = false",
    ]
    return "\n".join(lines) + "\n" + "".join(f"{k} = {v}\n" for k, v in extra.items())


def config(sets: Path, tmp: Path, run: str, **over):
    path = tmp / "run.toml"
    path.write_text(config_text(sets, tmp))
    return load_config(path, {"run_dir": str(tmp / run), **over})


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox(workers=2, timeout_s=20.0) as sb:
        yield sb


@pytest.fixture(scope="module")
def reference_run(sets, tmp_path_factory, sandbox):
    """One uninterrupted run with the offline LLM; several tests compare against it."""
    tmp = tmp_path_factory.mktemp("ref")
    rep = start_run(config(sets, tmp, "a"), Parts(sandbox=sandbox))
    return tmp, rep


def all_rows(run_dir: Path) -> dict[str, list]:
    """Return every table without time columns; the champion's name (it holds the run's name) is dropped."""
    with RunStore.open(run_dir) as s:
        rows = {t: s.rows(t) for t in TABLES}
    champ = [json.loads(v) for k, v in rows["state"] if k == "champion"][0]
    assert champ.pop("name").startswith(run_dir.name + "-p")
    rows["state"] = [(k, v) for k, v in rows["state"] if k != "champion"] + [("champion", champ)]
    return rows


def test_same_seed_gives_an_identical_store(reference_run, sets, sandbox):
    tmp, rep = reference_run
    assert rep.stop_reason == "samples" and rep.samples == SAMPLES and rep.valid > 0
    rep_b = start_run(config(sets, tmp, "b"), Parts(sandbox=sandbox))
    assert rep_b.samples == SAMPLES
    a, b = all_rows(tmp / "a"), all_rows(tmp / "b")
    for table in TABLES:
        assert a[table] == b[table], table
    with RunStore.open(tmp / "a") as s:  # why the budget's verdicts agree: every cost is far inside it
        ratios = [r for (r,) in s.query("SELECT cost_ratio FROM programs WHERE cost_ratio IS NOT NULL")]
    budget = config(sets, tmp, "a").cost.budget
    assert ratios and max(ratios) < budget / 2, f"a cost near the budget: {max(ratios)} vs {budget}"
    assert len(a["programs"]) > SAMPLES  # candidates plus seeds and copies


def test_store_bookkeeping(reference_run):
    tmp, _ = reference_run
    with RunStore.open(tmp / "a") as s:
        rows = {r.id: r for r in s.programs()}
        cands = [r for r in rows.values() if r.sample is not None]
        assert sorted(r.sample for r in cands) == list(range(SAMPLES))
        for r in cands:
            assert r.parents and all(rows[p].island == r.island for p in r.parents), r.id  # same island
            assert r.status in ("ok", "duplicate", "no_code", "invalid_output", "error", "refused", "timeout")
            assert (r.gap is not None) == (r.status == "ok")
            if r.status != "ok":
                assert r.error
        firsts = [r.hash for r in rows.values() if r.hash and r.status != "duplicate"
                  and r.operator not in ("reset", "migrate")]
        seed_hashes = {r.hash for r in rows.values() if r.operator == "seed"}
        assert len([h for h in firsts if h not in seed_hashes]) == len(set(firsts) - seed_hashes)  # no rerun
        for r in rows.values():
            if r.status == "duplicate":
                first = int(r.error.split("#")[1])
                assert rows[first].hash == r.hash and first < r.id
        resets = [json.loads(e[2]) for e in s.rows("events") if e[1] == "reset"]
        assert [e["sample"] for e in resets] == [32, 60, 92]  # every 30 samples (4 per prompt)
        for e in resets:
            assert len(e["islands"]) == 1  # the weaker half of 3 islands
        copies = [r for r in rows.values() if r.operator == "reset"]
        assert len(copies) == 3 and all(rows[r.parents[0]].island != r.island for r in copies)
        calls = s.query("SELECT COUNT(*), SUM(samples), SUM(prompt_tokens) FROM llm_calls")[0]
        assert calls[0] == SAMPLES // 4 and calls[1] == SAMPLES and calls[2] > 0
        champ = s.get_state("champion")
        assert champ["valid_gap"] is not None and champ["mdd_valid_gap"] is not None
        assert s.get_state("status") == "finished"


def test_replay_reproduces_and_reports_a_divergence(reference_run, tmp_path, sandbox):
    tmp, _ = reference_run
    rep = replay_run(tmp / "a", tmp_path / "replay", Parts(sandbox=sandbox))
    assert rep.divergence is None and rep.programs > SAMPLES
    # Tamper with one recorded completion: the replay must name where it diverges.
    forged = tmp_path / "forged"
    forged.mkdir()
    for name in ("config.toml", "run.sqlite"):
        (forged / name).write_bytes((tmp / "a" / name).read_bytes())
    lines = (tmp / "a" / "transcript.jsonl").read_text().splitlines()
    with RunStore.open(tmp / "a") as s:
        last = s.prompts()[-1].request_hash  # the last prompt: nothing is built from its answers
    k = next(i for i, line in enumerate(lines) if json.loads(line)["request_hash"] == last)
    rec = json.loads(lines[k])
    rec["completions"] = ["I would rather not."] * len(rec["completions"])
    lines[k] = json.dumps(rec)
    (forged / "transcript.jsonl").write_text("\n".join(lines) + "\n")
    bad = replay_run(forged, tmp_path / "replay2", Parts(sandbox=sandbox))
    assert bad.divergence is not None
    assert bad.divergence.startswith("programs row ") and f"(prompt {SAMPLES // 4 - 1})" in bad.divergence
    assert "code differs: original '" in bad.divergence and bad.divergence.endswith("vs replay ''")


def wait_for_samples(db: Path, at_least: int, proc: subprocess.Popen, limit_s: float = 300.0) -> int:
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit_s:
        assert proc.poll() is None, "the run ended before it could be killed"
        if db.exists():
            try:
                with sqlite3.connect(db, timeout=5) as c:
                    row = c.execute("SELECT value FROM state WHERE key = 'counters'").fetchone()
                if row and json.loads(row[0])["samples"] >= at_least:
                    return json.loads(row[0])["samples"]
            except sqlite3.OperationalError:
                pass
        time.sleep(0.05)
    raise AssertionError("the run made no progress")


def test_a_run_resumed_with_a_larger_budget_replays_identically(sets, tmp_path, sandbox):
    cfg = config(sets, tmp_path, "grown", **{"stopping.samples": 30})  # the last prompt asks for 2, not 4
    start_run(cfg, Parts(sandbox=sandbox))
    rep = resume_run(tmp_path / "grown", {"stopping.samples": 62}, Parts(sandbox=sandbox))
    assert rep.samples == 62
    again = replay_run(tmp_path / "grown", tmp_path / "grown-replay", Parts(sandbox=sandbox))
    assert again.divergence is None and again.programs == rep_programs(tmp_path / "grown")


def rep_programs(run_dir: Path) -> int:
    with RunStore.open(run_dir) as s:
        return s.scalar("SELECT COUNT(*) FROM programs")


def test_sigkill_then_resume_equals_an_uninterrupted_run(reference_run, sets, sandbox):
    tmp, _ = reference_run
    cfg = tmp / "kill.toml"
    cfg.write_text(config_text(sets, tmp))
    run_dir = tmp / "killed"
    env = dict(os.environ, COLUMNS="200")
    cmd = [str(DISCOVER), "run", "--config", str(cfg), "--run-dir", str(run_dir), "--quiet"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                            start_new_session=True)
    try:
        done = wait_for_samples(run_dir / "run.sqlite", SAMPLES // 3, proc)
    finally:
        with contextlib.suppress(ProcessLookupError):  # it may have ended on its own (the assert says so)
            os.killpg(proc.pid, signal.SIGKILL)  # the run and its sandbox workers, at once
        proc.wait(timeout=30)
    assert done < SAMPLES
    with RunStore.open(run_dir) as s:
        assert s.get_state("status") == "running"  # killed: nothing had the chance to say otherwise
        assert s.prompts(pending_only=True)  # prompts in flight were lost with the process
    res = subprocess.run([str(DISCOVER), "resume", str(run_dir), "--quiet"], capture_output=True, text=True,
                         env=env, timeout=120)
    assert res.returncode == 0, res.stderr
    assert "champion:" in res.stdout
    with RunStore.open(tmp / "a") as a, RunStore.open(run_dir) as b:
        assert compare_runs(a, b) is None
        assert a.rows("programs") == b.rows("programs")
        assert a.get_state("rng") == b.get_state("rng") and a.get_state("counters") == b.get_state("counters")
        calls = b.scalar("SELECT COUNT(*) FROM llm_calls")
    # The transcript holds the killed session's answers too; the replay uses only the committed ones.
    rep = replay_run(run_dir, tmp / "killed-replay", Parts(sandbox=sandbox))
    assert rep.divergence is None
    recorded = (run_dir / "transcript.jsonl").read_text().splitlines()
    used = (tmp / "killed-replay" / "replay-source.jsonl").read_text().splitlines()
    assert len(used) == calls <= len(recorded)


def test_ctrl_c_stops_cleanly_and_resume_completes(reference_run, sets, sandbox):
    tmp, _ = reference_run
    seen = []

    def interrupt(progress):
        seen.append(progress.samples)
        if progress.samples >= 40:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        start_run(config(sets, tmp, "ctrl_c"), Parts(sandbox=sandbox), on_progress=interrupt)
    with RunStore.open(tmp / "ctrl_c") as s:
        assert s.get_state("status") == "interrupted"
        assert 40 <= s.get_state("counters")["samples"] < SAMPLES
    resume_run(tmp / "ctrl_c", parts=Parts(sandbox=sandbox))
    with RunStore.open(tmp / "a") as a, RunStore.open(tmp / "ctrl_c") as b:
        assert a.rows("programs") == b.rows("programs")
        assert a.rows("llm_calls") == b.rows("llm_calls")


class GarbageLLM:
    def complete(self, request):
        texts = tuple(["Here is my idea: sort by cleverness."] * request.n)
        return ChatResult(texts, request.model, 10, 5 * request.n)


class FlakyLLM:
    """Fails every third request; otherwise answers with one fixed valid program."""

    def complete(self, request):
        if request.seed % 3 == 0:
            raise LLMError("HTTP 503 from the server (after retries)")
        code = "import numpy as np\n\ndef schedule(p, d):\n    return np.argsort(d - p, kind='stable')\n"
        return ChatResult(tuple([f"Slack.\n```python\n{code}```\n"] * request.n), request.model, 10, 10)


def test_garbage_only_llm_ends_cleanly(sets, tmp_path, sandbox):
    cfg = config(sets, tmp_path, "garbage", **{"stopping.samples": 400, "stopping.invalid_streak": 40})
    rep = start_run(cfg, Parts(llm=GarbageLLM(), sandbox=sandbox))
    # The streak is seen at sample 40; the prompts already in flight (4 of them) are still committed.
    assert rep.stop_reason == "invalid_streak" and 40 <= rep.samples <= 56 and rep.valid == 0
    assert rep.statuses == {"no_code": rep.samples}
    assert rep.reasons[0][1] == rep.samples and "prose only" in rep.reasons[0][0]
    assert rep.champion is None  # a seed is never the champion


def test_failing_llm_calls_are_recorded_and_the_run_goes_on(sets, tmp_path, sandbox):
    cfg = config(sets, tmp_path, "flaky", **{"stopping.samples": 40})
    rep = start_run(cfg, Parts(llm=FlakyLLM(), sandbox=sandbox))
    assert rep.samples == 40 and rep.llm_errors > 0
    with RunStore.open(tmp_path / "flaky") as s:
        errors = s.query("SELECT COUNT(*) FROM llm_calls WHERE error LIKE '%HTTP 503%'")[0][0]
        assert errors == rep.llm_errors
        assert rep.statuses["no_reply"] == 4 * errors
        assert rep.statuses["ok"] == 1 and rep.statuses["duplicate"] == 40 - 4 * errors - 1


def test_token_and_no_improvement_budgets_stop_the_run(sets, tmp_path, sandbox):
    cfg = config(sets, tmp_path, "tok", **{"stopping.tokens": 100})
    rep = start_run(cfg, Parts(llm=FlakyLLM(), sandbox=sandbox))
    assert rep.stop_reason == "tokens" and rep.samples < SAMPLES
    cfg = config(sets, tmp_path, "flat", **{"stopping.no_improvement": 20, "stopping.invalid_streak": 0})
    rep = start_run(cfg, Parts(llm=GarbageLLM(), sandbox=sandbox))
    assert rep.stop_reason == "no_improvement" and 20 <= rep.samples < SAMPLES


def test_openai_backend_against_a_local_server(sets, tmp_path, sandbox):
    """The openai kind end to end over HTTP (the mock server wraps the offline backend), faults included."""
    from discover.llm.offline.model import OfflineLLM
    from discover.llm.server import MockServer

    with MockServer(OfflineLLM(seed=1), model="test-model") as server:  # listed: no preflight chat probe
        server.inject("503", count=2)
        cfg = config(sets, tmp_path, "http", **{
            "llm.kind": "openai", "llm.model": "test-model", "llm.base_url": server.url,
            "llm.api_key_env": "", "llm.price_prompt_per_mtok": 1.0, "llm.price_completion_per_mtok": 2.0,
            "stopping.samples": 24})
        rep = start_run(cfg, Parts(sandbox=sandbox))
        stats = server.stats()
    assert rep.samples == 24 and rep.llm_errors == 0 and rep.valid > 0  # the 503s were retried
    assert stats["faults_served"] == {"503": 2} and stats["requests"] == 24 // 4 + 2
    assert rep.tokens > 0 and rep.cost > 0
    with RunStore.open(tmp_path / "http") as s:
        toks = s.query("SELECT SUM(prompt_tokens), SUM(completion_tokens), SUM(cost_usd) FROM llm_calls")[0]
    assert toks[2] == pytest.approx((toks[0] * 1.0 + toks[1] * 2.0) / 1e6)
    lines = (tmp_path / "http" / "transcript.jsonl").read_text().splitlines()
    assert len(lines) == 24 // 4 and all(json.loads(x)["status"] == "ok" for x in lines)


@pytest.mark.parametrize("operator", ["versioned", "e1", "e2", "m1", "m2", "simplify"])
def test_every_prompt_shows_its_parents_as_the_offline_backend_reads_them(operator):
    from discover.llm.offline.model import read_prompt
    from discover.prompts import PARENTS_PER_OPERATOR, Parent, load_templates, seed_programs

    seeds = seed_programs()
    parents = [Parent(1, seeds["edd"], 40.0), Parent(2, seeds["mdd"], 2.0)][: PARENTS_PER_OPERATOR[operator]]
    messages = load_templates().messages(operator, parents, "schedule", 25)
    assert [m["role"] for m in messages] == ["system", "user"]
    user = messages[1]["content"]
    assert user.count("```python") == len(parents) and "$" not in user
    assert "n = 25 jobs" in messages[0]["content"] and "numpy" in messages[0]["content"]
    read = read_prompt(messages)
    assert len(read.parents) == len(parents)
    assert read.entry == ("schedule_v2" if operator == "versioned" else "schedule")
    if operator == "versioned":
        assert "def schedule_v0(p, d):" in user and "def schedule_v1(p, d):" in user
        assert user.index("schedule_v0(p, d)") < user.index("schedule_v1(p, d)")  # worse first


def test_code_hash_ignores_layout_comments_and_docstrings_only():
    from discover.programs.normalize import code_hash, suffix_top_level

    a = "def schedule(p, d):\n    return sorted(range(len(p)), key=lambda j: d[j])\n"
    b = ('def schedule(p,d):\n    """EDD."""\n    # by due date\n    return sorted(range(len(p)),'
         ' key = lambda j: d[j])\n')
    c = a.replace("d[j]", "p[j]")
    assert code_hash(a) == code_hash(b) != code_hash(c)
    renamed = suffix_top_level("K = 2  # weight\n\ndef f(x):\n    return x.f + K\n\ndef schedule(p, d):\n"
                               "    return f(p)\n", "_v1")
    assert renamed == ("K_v1 = 2  # weight\n\ndef f_v1(x):\n    return x.f + K_v1\n\ndef schedule_v1(p, d):\n"
                       "    return f_v1(p)\n")


def test_replay_keeps_only_the_committed_exchanges(tmp_path):
    from collections import Counter

    from discover.runner import committed_exchanges

    lines = [json.dumps({"request_hash": h, "k": k}) for k, h in enumerate("abacb")] + ['{"torn']
    path = tmp_path / "t.jsonl"
    path.write_text("\n".join(lines) + "\n")
    kept = [json.loads(x)["k"] for x in committed_exchanges(path, Counter({"a": 1, "b": 2})).splitlines()]
    assert kept == [1, 2, 4]  # the later 'a', both 'b'; 'c' was never committed


def test_promotion_on_demand_reruns_the_champion_step(reference_run, sets, sandbox, tmp_path):
    from discover.runner import promote_run

    tmp, _ = reference_run
    run = tmp_path / "copy"
    run.mkdir()
    for name in ("config.toml", "run.sqlite"):
        (run / name).write_bytes((tmp / "a" / name).read_bytes())
    text = (run / "config.toml").read_text().replace("promote = false", "promote = true")
    text = text.replace(f"dir = \"{tmp / 'champions'}\"", f"dir = \"{tmp_path / 'champions'}\"")
    (run / "config.toml").write_text(text)
    champ = promote_run(run, Parts(sandbox=sandbox))
    dec = champ["decision"]
    # 20 validation instances: better on average than the archive's best, but not significantly.
    assert champ["valid_gap"] < champ["reference_gap"] and champ["mdd_valid_gap"] > champ["valid_gap"]
    assert not dec["promoted"] and "not significantly (Wilcoxon p = " in dec["reason"]
    assert dec["path"] is None and not (tmp_path / "champions").exists()


def test_promote_candidate_needs_a_significant_paired_win(tmp_path):
    from discover.programs import provenance
    from discover.search.champion import promote_candidate

    rng = np.random.default_rng(5)
    ref = rng.uniform(0.5, 3.0, 40)
    meta = {"name": "run1-p7", "origin_run": "runs/run1", "program_id": 7, "parents": [3], "model": "m",
            "operator": "m1"}
    code = "def schedule(p, d):\n    return list(range(len(p)))\n"
    out = tmp_path / "champions"
    same = promote_candidate(code, ref, ref, meta=meta, reference="mdd", out_dir=out)
    assert not same.promoted and "identical" in same.reason
    worse = promote_candidate(code, ref + 0.1, ref, meta=meta, reference="mdd", out_dir=out)
    assert not worse.promoted and "not below" in worse.reason
    one = ref.copy()
    one[0] -= 0.5  # lower on average, but better on one instance only
    weak = promote_candidate(code, one, ref, meta=meta, reference="mdd", out_dir=out)
    assert not weak.promoted and weak.p_value > 0.05 and "not significantly" in weak.reason
    assert not out.exists()
    better = ref * 0.8
    better[::7] = np.nan  # instances without a defined gap are left out of the pairs
    win = promote_candidate(code, better, ref, meta=meta, reference="mdd", out_dir=out)
    assert win.promoted and win.pairs == 40 - 6 and win.p_value < 0.05 and win.path == out / "run1-p7.py"
    head, body = provenance.parse(win.path.read_text())
    assert body == code and provenance.verify(head, body)
    assert head["reference"] == "mdd" and head["p_value"] == win.p_value and head["parents"] == [3]


def test_a_missing_prompt_folder_fails_clearly(tmp_path, monkeypatch):
    from discover.prompts import PromptError, load_templates

    monkeypatch.setenv("DISCOVER_PROMPTS", str(tmp_path))
    with pytest.raises(PromptError, match=r"prompt templates not found: .*/system.txt is missing"):
        load_templates()
    (tmp_path / "system.txt").write_text("sys")
    with pytest.raises(PromptError, match=r"prompt template missing: .*parent.txt"):
        load_templates()
