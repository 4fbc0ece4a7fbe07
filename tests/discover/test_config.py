"""The run configuration: defaults, TOML round trip, overrides, one-line errors naming field and range."""

from __future__ import annotations

import pytest

from discover.config import Config, ConfigError, load_config, parse_assignment


def write(tmp_path, text: str):
    path = tmp_path / "run.toml"
    path.write_text(text)
    return path


def test_defaults_hold_the_study_settings():
    cfg = load_config()
    assert cfg.llm.samples_per_prompt == 4
    assert cfg.llm.kind == "offline"
    assert cfg.search.islands >= 2 and cfg.search.reset_period > 0
    assert cfg.evaluation.train_set.endswith("train_n25.json")


def test_toml_round_trip_is_exact(tmp_path):
    cfg = load_config(None, {"search.islands": 7, "llm.model": "gpt-x", "stopping.dollars": 1.5})
    again = load_config(write(tmp_path, cfg.to_toml()))
    assert again == cfg
    assert again.search.islands == 7 and again.llm.model == "gpt-x"


def test_file_then_overrides(tmp_path):
    path = write(tmp_path, "seed = 3\n[search]\nislands = 5\n[search.operators]\nversioned = 2.0\n")
    cfg = load_config(path, {"search.islands": 6, "stopping.samples": None})
    assert (cfg.seed, cfg.search.islands, cfg.search.operators.versioned) == (3, 6, 2.0)
    assert cfg.stopping.samples == Config().stopping.samples  # None = option not given


@pytest.mark.parametrize("text, expected", [
    ("[search]\nislands = 0\n", "run.toml: field search.islands = 0 is out of range; allowed [1, 1000]"),
    ("[llm]\ntemperature = 2.5\n",
     "run.toml: field llm.temperature = 2.5 is out of range; allowed [0.0, 2.0]"),
    ("[llm]\nkind = 'gpt'\n", "run.toml: field llm.kind = 'gpt' is not allowed; allowed values:"),
    ("[search]\nisland = 3\n", "run.toml: unknown field search.island; allowed fields here: islands"),
    ("[stopping]\nsamples = 'many'\n", "run.toml: field stopping.samples = 'many': input should be a valid"),
    ("[stopping]\ndollars = nan\n", "run.toml: field stopping.dollars = nan must be a finite number"),
    ("[search.operators]\nversioned = 0\ne1 = 0\ne2 = 0\nm1 = 0\nm2 = 0\nsimplify = 0\n",
     "at least one operator weight must be positive"),
])
def test_bad_values_fail_with_one_line(tmp_path, text, expected):
    with pytest.raises(ConfigError) as e:
        load_config(write(tmp_path, text))
    msg = str(e.value)
    assert "\n" not in msg
    assert expected in msg


def test_bad_override_names_the_command_line():
    with pytest.raises(ConfigError, match=r"^command line: field stopping.samples = -3 is out of range"):
        load_config(None, {"stopping.samples": -3})


def test_bad_toml_and_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_config(write(tmp_path, "[search\n"))
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path / "nope.toml")


@pytest.mark.parametrize("text, key, value", [
    ("search.islands=4", "search.islands", 4),
    ("llm.model = gpt-4o-mini", "llm.model", "gpt-4o-mini"),
    ("evaluation.cascade=true", "evaluation.cascade", True),
    ("llm.temperature=0.7", "llm.temperature", 0.7),
])
def test_parse_assignment(text, key, value):
    assert parse_assignment(text) == (key, value)


def test_parse_assignment_needs_equals():
    with pytest.raises(ConfigError, match="must look like section.field=value"):
        parse_assignment("search.islands")


def test_replace_validates():
    cfg = Config()
    assert cfg.replace(**{"search.islands": 3}).search.islands == 3
    with pytest.raises(ConfigError):
        cfg.replace(**{"search.islands": 0})
