"""discover.prompts: the messages each operator builds, the limits paragraph, templates and seed programs."""

from __future__ import annotations

import re

import pytest

from discover.prompts import (
    Parent,
    PromptError,
    limits_text,
    load_templates,
    prompts_dir,
    seed_programs,
)
from discover.search.operators import REGISTRY

A = "def schedule(p, d):\n    return sorted(range(len(p)), key=lambda j: d[j])\n"
B = "def helper(x):\n    return x\n\ndef schedule(p, d):\n    return list(range(len(p)))\n"


@pytest.fixture(scope="module")
def templates():
    return load_templates()


@pytest.mark.parametrize("op", [op for op in REGISTRY if not op.versions], ids=lambda op: op.name)
def test_each_operator_shows_its_parents_in_fenced_blocks_with_their_gaps(templates, op):
    parents = [Parent(1, A, 12.3456), Parent(2, B, 0.5, "; cost 1.2 × ref")][: op.parents]
    system, user = templates.messages(op.name, parents, jobs=25, limits="LIMITS HERE")
    assert (system["role"], user["role"]) == ("system", "user")
    assert "LIMITS HERE" in system["content"] and "n = 25" in system["content"]
    blocks = re.findall(r"```python\n(.*?)```", user["content"], re.S)
    assert [b.strip() for b in blocks] == [p.code.strip() for p in parents]
    assert "12.346 %" in user["content"]
    if op.parents > 1:
        assert "0.500 %; cost 1.2 × ref" in user["content"]
    assert "$" not in user["content"]  # every placeholder filled


def test_the_versioned_prompt_renames_the_parents_to_v0_and_v1(templates):
    _system, user = templates.messages("versioned", [Parent(1, A, 3.0), Parent(2, B, 1.0)])
    text = user["content"]
    assert "def schedule_v0(p, d):" in text and "def schedule_v1(p, d):" in text
    assert "def helper_v1(x):" in text  # every top-level name is suffixed
    assert text.index("3.000 %") < text.index("1.000 %")  # worse first
    one = templates.messages("versioned", [Parent(1, A, 3.0)])[1]["content"]
    assert "def schedule_v0(p, d):" in one and "def schedule_v1(p, d):" in one  # a lone parent twice


def test_failures_are_listed_and_an_unknown_operator_is_refused(templates):
    user = templates.messages("m1", [Parent(1, A, 1.0)], failures=("timeout: too slow", "error: boom"))[1]
    assert user["content"].endswith("- timeout: too slow\n- error: boom")
    with pytest.raises(PromptError, match="unknown operator 'zz'; known: versioned, e1"):
        templates.messages("zz", [Parent(1, A, 1.0)])


def test_limits_follow_the_objective_and_the_sizes():
    budget = limits_text(10.0, 200, 25, "2 × aug_mddc at n = 50", 50, "budget", (100, 500), (20, 100))
    assert "10 s of CPU time for all 200 training instances of n = 25 together (about 50 ms per" in budget
    assert "slower than 2 × aug_mddc at n = 50 is rejected" in budget
    assert "also scored at n = 100, 500;" in budget and "test sets use n = 20, 100" in budget
    pareto = limits_text(1.0, 10, 25, None, 50, "pareto", (), (20,))
    assert "Pareto front" in pareto and "rejected" not in pareto and "also scored" not in pareto
    assert "Cost" not in limits_text(1.0, 10, 25, "x", 50, "gap", (), (20,))


def test_a_prompt_folder_needs_its_system_prompt_and_every_operator(tmp_path, monkeypatch):
    monkeypatch.delenv("DISCOVER_PROMPTS", raising=False)
    with pytest.raises(PromptError, match="system.txt is missing"):
        prompts_dir(tmp_path)
    (tmp_path / "system.txt").write_text("sys $entry")
    (tmp_path / "parent.txt").write_text("$code")
    with pytest.raises(PromptError, match=r"prompt template missing: .*versioned\.txt"):
        load_templates(tmp_path)
    monkeypatch.setenv("DISCOVER_PROMPTS", str(tmp_path))
    assert prompts_dir() == tmp_path


def test_seed_programs_by_name_or_path(tmp_path):
    mine = tmp_path / "mine.py"
    mine.write_text(A)
    seeds = seed_programs(["edd", str(mine)])
    assert list(seeds) == ["edd", "mine"] and seeds["mine"] == A and "def schedule" in seeds["edd"]
    with pytest.raises(PromptError, match="seed program 'nope' not found"):
        seed_programs(["nope"])
    (tmp_path / "edd.py").write_text(A)
    with pytest.raises(PromptError, match="a seed named 'edd' is already given"):
        seed_programs(["edd", str(tmp_path / "edd.py")])
