"""`discover run / resume / replay / config show` from the command line."""

from __future__ import annotations

import sys
import tomllib

import pytest
from typer.testing import CliRunner

from discover.cli import app, main
from discover.config import load_config
from discover.llm.base import ChatResult
from discover.store import RunStore
from evaluator.instances import generate, save_set
from tests.discover.search.test_controller import dp_optimum


@pytest.fixture
def cli(monkeypatch, capsys):
    """Run ``discover ARGS`` in-process through the real entry point; return (exit code, stdout, stderr)."""

    def run(*args: str) -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "argv", ["discover", *args])
        with pytest.raises(SystemExit) as e:
            main()
        out = capsys.readouterr()
        return e.value.code or 0, out.out, out.err

    return run


@pytest.fixture(scope="module")
def config_file(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    for name, per, seed in (("train", 1, 21), ("valid", 1, 22)):
        iset = generate(7, per, seed, name=name)
        opt = [dp_optimum(*iset.get(i)) for i in range(iset.count)]
        save_set(iset.with_fields(opt=opt), d / f"{name}.json")
    path = d / "run.toml"
    path.write_text(
        "seed = 3\n[llm]\nconcurrency = 2\n[search]\nislands = 2\nreset_period = 20\n"
        f"[evaluation]\ntrain_set = '{d / 'train.json'}'\nvalid_set = '{d / 'valid.json'}'\nworkers = 2\n"
        f"[champion]\ndir = '{d / 'champions'}'\n")
    return path


def test_config_show_prints_the_resolved_config():
    res = CliRunner().invoke(app, ["config", "show", "--set", "search.islands=6", "--set", "llm.model=m"])
    assert res.exit_code == 0, res.output
    tree = tomllib.loads(res.output)
    assert tree["search"]["islands"] == 6 and tree["llm"]["model"] == "m"
    assert tree["llm"]["samples_per_prompt"] == 4
    assert load_config(None, {"search.islands": 6, "llm.model": "m"}).model_dump(mode="json") == tree


def test_config_show_reads_a_file(config_file):
    res = CliRunner().invoke(app, ["config", "show", "--config", str(config_file)])
    assert res.exit_code == 0
    assert tomllib.loads(res.output)["search"]["islands"] == 2


@pytest.mark.parametrize("args, message", [
    (["config", "show", "--set", "search.islands=0"],
     "error: command line: field search.islands = 0 is out of range; allowed [1, 1000]"),
    (["run", "--samples", "0"], "error: command line: field stopping.samples = 0 is out of range"),
    (["run", "--llm", "gpt"], "error: command line: field llm.kind = 'gpt' is not allowed"),
    (["run", "--set", "evaluation.train_set=/nonexistent/train.json"],
     "error: evaluation.train_set = '/nonexistent/train.json': no such file"),
])
def test_bad_input_fails_with_one_line(cli, args, message):
    code, out, err = cli(*args)
    assert code == 2
    assert err.startswith(message) and err.count("\n") == 1, err


def test_run_resume_replay(cli, config_file, tmp_path):
    run_dir = tmp_path / "run"
    code, out, err = cli("run", "--config", str(config_file), "--samples", "24", "--run-dir", str(run_dir),
                         "--quiet")
    assert code == 0, err
    assert f"run {run_dir}: stopped after 24 samples" in out and "the sample budget is spent" in out
    assert "champion:" in out and "validation gap" in out and "vs MDD" in out
    assert "vs the archive's best" in out
    with RunStore.open(run_dir) as s:
        assert s.get_state("status") == "finished"
        assert s.scalar("SELECT COUNT(*) FROM programs WHERE sample IS NOT NULL") == 24
    code, out, err = cli("run", "--config", str(config_file), "--samples", "24", "--run-dir", str(run_dir))
    assert code == 2 and "already holds a run; continue it with `discover resume" in err
    code, out, err = cli("resume", str(run_dir), "--samples", "32", "--quiet")
    assert code == 0, err
    assert "stopped after 32 samples" in out
    code, out, err = cli("resume", str(run_dir), "--set", "search.islands=5")
    assert code == 2 and "field search.islands cannot change when resuming" in err
    code, out, err = cli("replay", str(run_dir), "--out", str(tmp_path / "replay"))
    assert code == 0, err
    assert "identical" in out


class GarbageLLM:
    def complete(self, request):
        texts = tuple(["Sorry, I can only talk about the weather."] * request.n)
        return ChatResult(texts, request.model, 5, 5)


def test_a_garbage_only_llm_ends_with_a_clear_summary(config_file, tmp_path, monkeypatch):
    monkeypatch.setattr("discover.runner.make_llm", lambda cfg: GarbageLLM())
    res = CliRunner().invoke(app, ["run", "--config", str(config_file), "--samples", "200", "--run-dir",
                                   str(tmp_path / "g"), "--set", "stopping.invalid_streak=16", "--quiet"])
    assert res.exit_code == 0, res.output
    assert res.exception is None
    out = " ".join(res.output.split())
    assert "too many samples in a row without a valid program" in out
    assert "valid programs: 0 of" in out and "no_code" in out
    assert "no valid program came back from the LLM" in out
    assert "most common rejection: 'no code in the reply (prose only)'" in out
    assert "no champion: no valid program written by the LLM" in out and "champion: mdd" not in out
    with RunStore.open(tmp_path / "g") as s:
        assert s.get_state("champion") is None and s.get_state("status") == "finished"


def test_config_show_describes_every_field_and_still_parses():
    res = CliRunner().invoke(app, ["config", "show"])
    assert res.exit_code == 0
    text = res.output
    assert "# USD per million prompt tokens; allowed [0.0, 10000.0]\nprice_prompt_per_mtok = 0.0\n" in text
    assert "[search.operators]\n# Relative weights of the prompt operators" in text
    assert tomllib.loads(text) == load_config().model_dump(mode="json")
    lines = text.splitlines()
    values = [k for k, line in enumerate(lines) if " = " in line and not line.startswith("#")]
    described = [k for k in values if lines[k - 1].startswith("# ")]
    assert len(described) == len(values)  # every field has its comment


def test_run_help_shows_the_defaults_and_the_real_run_dir_pattern():
    import re

    from discover.runner import default_run_dir

    res = CliRunner().invoke(app, ["run", "--help"], env={"COLUMNS": "200"})
    text = " ".join(res.output.split())
    assert "[default: (1500)]" in text and "[default: (offline)]" in text and "[default: (1)]" in text
    example = re.search(r"e\.g\. (runs/\S+?)\)", text)[1]
    pattern = re.sub(r"\d", r"\\d", example)
    assert re.fullmatch(pattern, str(default_run_dir(1)))  # the help's example has the real shape
    assert "runs/<date>-<time>-s<seed>" in text


def test_resume_below_the_samples_drawn_says_so(cli, config_file, tmp_path):
    run = tmp_path / "r"
    code, _, err = cli("run", "--config", str(config_file), "--samples", "16", "--run-dir", str(run),
                       "--quiet", "--set", "champion.promote=false")
    assert code == 0, err
    code, _, err = cli("resume", str(run), "--samples", "8", "--quiet")
    assert code == 2
    assert err == (f"error: command line: --samples 8 is below the 16 samples {run} has drawn already; give"
                   " more than 16 to continue the search\n")
