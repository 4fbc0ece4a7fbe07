"""The explicit seams: the operator registry, the stopping criteria and the LLM backend registry."""

from __future__ import annotations

import dataclasses

import pytest

from discover.config import Config, ConfigError, OperatorWeights, load_config
from discover.llm import factory
from discover.llm.base import LLMError
from discover.llm.replay import ReplayMiss
from discover.prompts import PARENTS_PER_OPERATOR, load_templates
from discover.search import operators, stopping
from discover.search.ledger import COUNTERS
from discover.search.stopping import CRITERIA, RunState, stop_reason


def test_every_registered_operator_has_a_weight_a_template_and_its_parents():
    weights = Config().search.operators
    templates = load_templates()
    assert tuple(OperatorWeights.model_fields) == operators.NAMES
    for op in operators.REGISTRY:
        assert getattr(weights, op.name) == op.weight
        assert op.name in templates.operators and PARENTS_PER_OPERATOR[op.name] == op.parents
    assert weights.as_tuple() == tuple(op.weight for op in operators.REGISTRY)
    assert not set(operators.COPY_OPERATORS) & set(operators.NAMES)  # copies are never asked for


def test_operator_weights_are_validated_per_registered_field():
    with pytest.raises(ConfigError, match=r"field search.operators.m1 = -1.0 is out of range; allowed \[0.0"):
        load_config(None, {"search.operators.m1": -1.0})
    zero = {f"search.operators.{name}": 0.0 for name in operators.NAMES}
    with pytest.raises(ConfigError, match="at least one operator weight must be positive"):
        load_config(None, zero)


def _state(**kw) -> RunState:
    counters = dict(COUNTERS) | kw.pop("counters", {})
    return RunState(kw.pop("samples_built", 0), counters, kw.pop("elapsed_s", 0.0), **kw)


@pytest.mark.parametrize("setting, state, reason", [
    ({"samples": 10}, dict(samples_built=10), "samples"),
    ({"tokens": 100}, dict(counters={"tokens": 100}), "tokens"),
    ({"dollars": 0.5}, dict(counters={"cost": 0.75}), "dollars"),
    ({"no_improvement": 5}, dict(counters={"samples": 9, "best_sample": 4}), "no_improvement"),
    ({"invalid_streak": 3}, dict(counters={"invalid_streak": 3}), "invalid_streak"),
    ({"llm_error_streak": 2}, dict(counters={"llm_error_streak": 2}), "llm_errors"),
    ({"wall_clock_s": 1.0}, dict(elapsed_s=1.0), "wall_clock"),
    ({}, dict(llm_budget_hit=True), "llm_budget"),
    ({}, dict(replay_miss=True), "replay_miss"),
])
def test_each_criterion_stops_at_its_limit_and_not_one_short(setting, state, reason):
    st = Config().stopping.model_copy(update={"samples": 10**6, **setting})
    assert stop_reason(st, _state(**state)) == reason
    short = dict(state)
    if "samples_built" in short:
        short["samples_built"] -= 1
    elif "elapsed_s" in short:
        short["elapsed_s"] = 0.999
    elif "counters" in short:
        key = next(k for k in short["counters"] if k != "best_sample")
        short["counters"] = short["counters"] | {key: short["counters"][key] - 1 if key != "cost" else 0.25}
    else:
        short = {}
    assert stop_reason(st, _state(**short)) is None


def test_a_limit_of_zero_never_stops_and_the_first_criterion_names_the_reason():
    st = Config().stopping.model_copy(update={"tokens": 0, "invalid_streak": 0, "llm_error_streak": 0})
    huge = {"tokens": 10**9, "invalid_streak": 10**9, "llm_error_streak": 10**9}
    assert stop_reason(st, _state(counters=huge)) is None
    both = Config().stopping.model_copy(update={"samples": 5, "tokens": 1})
    assert stop_reason(both, _state(samples_built=5, counters={"tokens": 1})) == "samples"
    assert len({c.reason for c in CRITERIA}) == len(CRITERIA)


def test_a_new_criterion_is_one_class():
    @dataclasses.dataclass(frozen=True)
    class ManyResets(stopping.Criterion):
        reason: str = "resets"

        def hit(self, st, run):
            return run.counters["resets"] >= 2

    st = Config().stopping
    assert stop_reason(st, _state(counters={"resets": 2}), (*CRITERIA, ManyResets())) == "resets"
    assert stop_reason(st, _state(counters={"resets": 1}), (*CRITERIA, ManyResets())) is None


def test_the_backend_registry_gives_the_configs_choices():
    assert factory.KINDS == ("offline", "openai", "replay")
    assert Config.model_fields["llm"].annotation.model_fields["kind"].description == factory.kinds_text(True)
    with pytest.raises(ConfigError, match="allowed values: 'offline', 'openai' or 'replay'"):
        load_config(None, {"llm.kind": "nope"})
    with pytest.raises(ValueError, match="unknown LLM kind 'nope': choose one of offline, openai, replay"):
        factory.make_llm("nope")


def test_each_kind_takes_its_settings_from_the_config(tmp_path):
    cfg = Config(seed=7)
    assert factory.BACKENDS["offline"].settings(cfg) == {"seed": 7}
    with pytest.raises(ConfigError, match="llm.model = '' must name a model"):
        factory.BACKENDS["openai"].settings(cfg)
    with pytest.raises(ConfigError, match="llm.transcript = '' must name a transcript"):
        factory.BACKENDS["replay"].settings(cfg)
    oa = factory.BACKENDS["openai"].settings(cfg.replace(**{"llm.model": "m", "stopping.tokens": 9}))
    assert oa["prices"] == {"m": (0.0, 0.0)} and oa["budget"] == {"max_tokens": 9, "max_usd": None}


def test_capabilities_replace_branches_on_the_kind(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    offline = factory.make_llm("offline", seed=1)
    remote = factory.make_llm("openai", base_url="http://127.0.0.1:9/v1")
    recorded = factory.make_llm("openai", base_url="http://127.0.0.1:9/v1", record=tmp_path / "t.jsonl")
    assert not getattr(offline, "waits_on_network", False)
    assert remote.waits_on_network and recorded.waits_on_network
    assert ReplayMiss("x").diverged and not LLMError("x").diverged
