"""Cost: side-by-side timing, the three objectives end to end, reuse on replay, promotion within the budget.

The runs use a scripted LLM that answers with two kinds of programs far apart in cost: one-line
``argsort`` rules (a fraction of MDDC's time) and an iterated local search (tens of times MDDC's),
so which side of a budget each falls on does not depend on the machine's load.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from discover.config import CostConfig, load_config
from discover.llm.base import ChatResult
from discover.programs.normalize import code_hash
from discover.prompts import references_dir
from discover.report.page import render_report
from discover.runner import Parts, replay_run, start_run
from discover.search.champion import champion_step
from discover.search.cost import Cost, CostMeter, Timing, cost_set, over_budget
from discover.search.fitness import stratified
from discover.search.population import _dominates, front_ranks
from discover.store import ProgramRow, RunStore
from evaluator.compiled_programs import compiled_program
from evaluator.instances import load_set
from evaluator.sandbox import Sandbox
from tests.conftest import REPO, TESTS
from tests.discover.search import test_controller

sets = test_controller.sets  # the loop tests' small training and validation sets (a module fixture)
PROGRAMS = TESTS / "programs"
ILS = (PROGRAMS / "ils.py").read_text()
MDD_RULE = (PROGRAMS / "mdd_rule.py").read_text()
VALID = REPO / "archive" / "baselines" / "valid_n25.json"
FAST = {"cost.reference": "mddc", "cost.n": 30, "cost.instances": 3, "cost.repeats": 2,
        "cost.train_instances": 5}


class MixedLLM:
    """Answers with distinct programs: an argsort rule or an iterated local search, by the sample's hash."""

    def complete(self, request):
        outs = []
        for j in range(request.n):
            k = int(hashlib.sha256(request.key(j).encode()).hexdigest()[:8], 16)
            if k % 2:
                code = ILS.replace("KICKS = 4", f"KICKS = {1 + k % 97}")
            else:
                code = ("import numpy as np\n\n\ndef schedule(p, d):\n"
                        f"    return np.argsort(d + {k % 10_000 / 1000} * p, kind='stable')\n")
            outs.append(f"An idea.\n```python\n{code}```\n")
        return ChatResult(tuple(outs), request.model, 100, 40 * request.n)


def _brute_ranks(points):
    ranks, left, rank = [-1] * len(points), set(range(len(points))), 0
    while left:
        front = {i for i in left if not any(_dominates(points[j], points[i]) for j in left if j != i)}
        for i in front:
            ranks[i] = rank
        left -= front
        rank += 1
    return ranks


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 6), st.sampled_from([0.0, 1.0, 2.0, 3.0, math.inf])), max_size=14))
def test_front_ranks_equal_repeated_removal_of_the_non_dominated(points):
    assert front_ranks([(float(g), c) for g, c in points]) == _brute_ranks([(float(g), c) for g, c in points])


def _timing(ratio, status="ok"):
    return Timing(50, 5, status, None if status != "ok" else ratio * 1e-3, 1e-3,
                  None if status != "ok" else ratio, 0.0)


def test_over_budget_reads_the_ratio_the_milliseconds_and_unfinished_runs():
    cfg = CostConfig(reference="aug_mddc", n=50, budget=2.0)
    assert over_budget(Cost(None, _timing(1.9)), cfg) is None
    why = over_budget(Cost(None, _timing(2.5)), cfg)
    assert why.startswith("over budget: 2.5 × aug_mddc at n = 50 (budget 2 ×")
    unfinished = over_budget(Cost(None, _timing(0, "timeout")), cfg)
    assert "did not finish 5 instances of n = 50 (timeout)" in unfinished
    ms = CostConfig(n=50, budget_ms=1.0)
    assert over_budget(Cost(None, _timing(0.9)), ms) is None  # 0.9 ms per instance
    assert "1.5 ms per instance at n = 50 > 1 ms" in over_budget(Cost(None, _timing(1.5)), ms)
    assert over_budget(None, cfg) is None and Cost.from_dict(Cost(None, _timing(1.0)).to_dict()).ratio == 1.0


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox(workers=2, timeout_s=60.0) as sb:
        yield sb


def _reference(name: str) -> str:
    return (references_dir() / f"{name}.py").read_text()


def test_a_program_timed_against_itself_costs_about_one_and_the_search_costs_far_more(sandbox, sets):
    cfg = CostConfig(reference="mdd", n=40, instances=4, repeats=3)
    meter = CostMeter(sandbox, _reference("mdd"), cfg, load_set(sets / "train.json"), "schedule", 60.0)
    same = meter.time(_reference("mdd"), meter.at_n)
    slow = meter.time(ILS, meter.at_n)
    assert same.status == slow.status == "ok" and same.instances == 4 and same.n == 40
    assert 0.5 < same.ratio < 2.0, same  # identical code: only noise separates them
    assert slow.ratio > 10 * same.ratio, (slow, same)  # O(n^3) descent with kicks against O(n^2)
    assert meter.at_n.sha256() == cost_set(cfg).sha256()  # every run times the same instances


@pytest.mark.slow
def test_a_compiled_program_is_timed_against_the_reference_s_compiled_twin(sandbox, sets):
    """Same mode on both sides: about one against the numba twin, a sliver of the plain-Python file."""
    cfg = CostConfig(reference="mdd", n=200, instances=3, repeats=2)
    train = load_set(sets / "train.json")
    numba_mdd = (PROGRAMS.parents[1] / "bench" / "programs" / "mdd_numba.py").read_text()
    twin = CostMeter(sandbox, _reference("mdd"), cfg, train, "schedule", 60.0,
                     compiled_reference=compiled_program("mdd")).time(numba_mdd, cost_set(cfg),
                                                                       mode="compiled")
    mixed = CostMeter(sandbox, _reference("mdd"), cfg, train, "schedule", 60.0).time(
        numba_mdd, cost_set(cfg), mode="compiled")
    assert twin.status == mixed.status == "ok"
    assert (twin.mode, twin.reference_mode, mixed.reference_mode) == ("compiled", "compiled", "python")
    assert 0.2 < twin.ratio < 5, twin
    assert mixed.ratio * 5 < twin.ratio, (mixed, twin)
    assert "compiled" in twin.text("mdd") and "mdd compiled" in twin.text("mdd")


def _run(sets: Path, tmp: Path, name: str, objective: str, **over):
    cfg = load_config(None, {
        "run_dir": str(tmp / name), "seed": 5, "search.islands": 2, "search.objective": objective,
        "llm.concurrency": 2, "llm.samples_per_prompt": 2, "stopping.samples": 16,
        "evaluation.train_set": str(sets / "train.json"), "evaluation.valid_set": str(sets / "valid.json"),
        "evaluation.workers": 2, "evaluation.timeout_s": 30.0, "champion.dir": str(tmp / "champions"),
        "champion.promote": False, **FAST, **over})
    return cfg, start_run(cfg, Parts(llm=MixedLLM()))


@pytest.fixture(scope="module")
def budget_run(sets, tmp_path_factory, sandbox):
    tmp = tmp_path_factory.mktemp("budget")
    cfg, rep = _run(sets, tmp, "budget", "budget", **{"cost.budget": 3.0})
    return tmp, cfg, rep


@pytest.mark.slow
def test_under_budget_no_valid_program_and_no_champion_exceeds_the_budget(budget_run):
    tmp, cfg, rep = budget_run
    with RunStore.open(tmp / "budget") as s:
        ok = s.query("SELECT id, cost_ratio FROM programs WHERE status = 'ok'")
        over = s.query("SELECT code, cost_ratio, error FROM programs WHERE status = 'over_budget'")
        champ = s.get_state("champion")
        counters = s.get_state("counters")
        champ_cost = s.scalar("SELECT cost_ratio FROM programs WHERE id = ?", (champ["program_id"],))
    assert ok and all(r is not None and r <= 3.0 for _, r in ok), ok
    assert over and all("KICKS" in code and r > 3.0 and "over budget" in e for code, r, e in over)
    assert counters["over_budget"] == len(over)
    assert champ_cost is not None and champ_cost <= 3.0
    assert champ["budget"] == "3 × mddc at n = 30"


@pytest.mark.slow
def test_the_next_prompt_shows_the_limits_and_the_island_s_last_failures(budget_run):
    tmp, _, _ = budget_run
    with RunStore.open(tmp / "budget") as s:
        prompts = s.prompts()
    system = prompts[0].request["messages"][0]["content"]
    assert "Time limit: 30 s of CPU time for all 40 training instances of n = 8" in system
    assert "one slower than 3 × mddc at n = 30 is rejected (status over_budget)" in system
    assert "the test sets use n = 20, 100, 200, 500" in system and "good rule" not in system
    assert "also scored at n = 100, 500 (within 2 s of CPU time per instance)" in system  # 20 s / 10
    later = [p.request["messages"][1]["content"] for p in prompts[3:]]
    assert any("The last failed attempts" in u and "- over_budget: over budget: " in u for u in later)


class UncompilableLLM:
    """Answers with numba code numba cannot type (it runs as Python), a distinct constant each time."""

    def complete(self, request):
        from tests.evaluator.sandbox.test_compiled import UNCOMPILABLE

        keys = [hashlib.sha256(request.key(j).encode()).hexdigest()[:8] for j in range(request.n)]
        outs = [f"```python\n{UNCOMPILABLE}\nK = {k!r}\n```\n" for k in keys]
        return ChatResult(tuple(outs), request.model, 100, 40 * request.n)


@pytest.mark.slow
def test_the_next_prompt_says_when_numba_could_not_compile_the_last_attempt(sets, tmp_path):
    cfg = load_config(None, {
        "run_dir": str(tmp_path / "nc"), "seed": 2, "search.islands": 1, "llm.concurrency": 1,
        "llm.samples_per_prompt": 1, "stopping.samples": 2, "evaluation.train_set": str(sets / "train.json"),
        "evaluation.valid_set": str(sets / "valid.json"), "evaluation.workers": 1,
        "evaluation.timeout_s": 30.0, "champion.dir": str(tmp_path / "champions"), "champion.promote": False,
        **FAST})
    start_run(cfg, Parts(llm=UncompilableLLM()))
    with RunStore.open(tmp_path / "nc") as s:
        prompts = s.prompts()
        rows = s.query("SELECT status, error FROM programs WHERE operator != 'seed'")
    assert rows and all(st == "ok" and e.startswith("numba could not compile it") for st, e in rows), rows
    later = prompts[-1].request["messages"][1]["content"]
    assert "- not_compiled: numba could not compile it, so it ran as Python: line " in later, later


@pytest.mark.slow
def test_replay_reuses_the_recorded_costs(budget_run, tmp_path):
    tmp, _, _ = budget_run
    rep = replay_run(tmp / "budget", tmp_path / "replay", Parts(llm=MixedLLM()))
    assert rep.divergence is None
    cols = "id, status, cost_ratio, cost_s, train_cost_ratio, cost"
    with RunStore.open(tmp / "budget") as a, RunStore.open(tmp_path / "replay") as b:
        assert a.query(f"SELECT {cols} FROM programs ORDER BY id") == b.query(f"SELECT {cols} FROM programs"
                                                                               " ORDER BY id")


@pytest.mark.slow
def test_pareto_report_shows_every_island_s_front(sets, tmp_path):
    _, rep = _run(sets, tmp_path, "pareto", "pareto")
    html = render_report(tmp_path / "pareto")
    section = html[html.index("<h2>Gap and cost</h2>"):]
    section = section[:section.index("</section>")]
    assert "objective: pareto" in section and "<svg" in section
    for island in (0, 1):
        row = section[section.index(f"<tr><td>{island}</td>"):].split("</tr>")[0]
        assert "#" in row, row
    with RunStore.open(tmp_path / "pareto") as s:
        slow_ok = s.scalar("SELECT COUNT(*) FROM programs WHERE status = 'ok' AND code LIKE '%KICKS%'")
        assert s.scalar("SELECT COUNT(*) FROM programs WHERE status = 'over_budget'") == 0
    assert slow_ok > 0  # pareto keeps slow programs; they only rank lower on cost


def _insert(store: RunStore, pid: int, code: str, gap: float, cost: Cost) -> None:
    store.add_program(ProgramRow(
        id=pid, prompt=0, sample=pid, island=0, operator="m1", parents=(), code=code, hash=code_hash(code),
        description="", status="ok", error="", gap=gap, per_class=None, signature=f"s{pid}", tardiness=None,
        length=len(code), seconds=0.0, cost_ratio=cost.ratio, cost_s=cost.seconds, cost=cost.to_dict()))


@pytest.mark.slow
@pytest.mark.skipif(not VALID.exists(), reason="archive/baselines/valid_n25.json is not built")
def test_the_slow_search_is_not_promoted_over_aug_mddc_and_the_record_says_why(sandbox, tmp_path):
    cfg = CostConfig()  # the default budget: 2 × aug_mddc at n = 50
    valid = stratified(load_set(VALID), 40)
    meter = CostMeter(sandbox, _reference("aug_mddc"), cfg.model_copy(update={"instances": 3, "repeats": 2}),
                      valid, "schedule", 120.0)
    costs = {name: Cost(None, meter.time(code, meter.at_n))
             for name, code in (("ils", ILS), ("mdd", MDD_RULE))}
    assert costs["ils"].ratio > cfg.budget > costs["mdd"].ratio
    with RunStore.create(tmp_path / "run", "") as store:
        _insert(store, 1, ILS, 0.01, costs["ils"])
        _insert(store, 2, MDD_RULE, 1.9, costs["mdd"])
        common = dict(top_k=2, entry="schedule", timeout_s=300.0, alpha=0.05, promote=True,
                      references={"aug_mddc": _reference("aug_mddc")}, meta={"origin_run": "run"})
        free = champion_step(store, sandbox, valid, out_dir=tmp_path / "free", cost=None, **common)
        rep = champion_step(store, sandbox, valid, out_dir=tmp_path / "budget", cost=cfg, **common)
    assert free.program_id == rep.program_id == 1  # the search wins on validation gap...
    assert free.decision.promoted and (tmp_path / "free" / f"{free.name}.py").exists()  # ...and on gap alone
    d = rep.decision
    assert not d.promoted and not (tmp_path / "budget").exists()
    assert d.reason.startswith(f"not promoted: over budget: {costs['ils'].ratio:.3g} × aug_mddc at n = 50")
    assert "on validation it beats aug_mddc" in d.reason
    record = rep.to_dict()
    assert record["budget"] == "2 × aug_mddc at n = 50" and Cost.from_dict(rep.cost).ratio > 2
    assert json.loads(json.dumps(record)) == record  # what the run's state keeps


def test_a_schema_1_store_gains_the_cost_columns(tmp_path):
    with RunStore.create(tmp_path / "old", "") as s:
        s._conn.execute("ALTER TABLE programs DROP COLUMN cost")
        s._conn.execute("ALTER TABLE programs DROP COLUMN cost_ratio")
        s.set_state("schema", "1")
    with RunStore.open(tmp_path / "old") as s:
        assert s.get_state("schema") == "2"
        cols = [r[1] for r in s.query("PRAGMA table_info(programs)")]
        assert {"cost", "cost_ratio", "cost_s", "train_cost_ratio"} <= set(cols)
