"""`discover run / resume / replay / config show`: the discovery loop from the command line."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from rich.live import Live
from rich.table import Table

from discover.cli.common import ADDRESS_HELP, EXECUTOR_HELP, UserError, console
from discover.config import Config, ConfigError, load_config, parse_assignment
from discover.llm.factory import kinds_text
from discover.paths import PROMPTS_DIR
from discover.prompts import PromptError
from discover.search.controller import Progress, RunError
from discover.search.fitness import SetError
from discover.store import StoreError

D = Config()  # the defaults, shown in --help

STOP_TEXT = {
    "samples": "the sample budget is spent",
    "tokens": "the token budget is spent",
    "dollars": "the dollar budget is spent",
    "wall_clock": "the wall-clock budget is spent",
    "no_improvement": "no improvement within the configured number of samples",
    "invalid_streak": "too many samples in a row without a valid program (is the LLM answering with code?)",
    "llm_budget": "the LLM layer's budget is exhausted",
    "llm_errors": "the LLM requests kept failing (after their retries)",
    "replay_miss": "a request was not in the transcript (the replay diverged)",
}
EXPECTED = (ConfigError, StoreError, SetError, PromptError, RunError)
FAILED_STOPS = ("llm_errors",)
"""Stop reasons that mean the run could not do its work: the command exits with code 1."""


def _gap(g: float | None) -> str:
    return "—" if g is None else f"{g:.3f} %"


def _duration(s: float | None) -> str:
    if s is None:
        return "—"
    s = int(s)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


def _view(p: Progress | None) -> Table:
    t = Table(title="discover run" if p is None else f"discover run: {p.task}", show_header=False, box=None,
              padding=(0, 2))
    if p is None:
        t.add_row("starting", "scoring the seed programs…")
        return t
    valid = 100 * p.valid / p.samples if p.samples else 0.0
    vs = "—" if p.best_gap is None or p.baseline_gap is None else f"{p.best_gap - p.baseline_gap:+.3f} points"
    t.add_row("samples", f"{p.samples} / {p.samples_budget}")
    t.add_row("valid", f"{p.valid} ({valid:.1f} %)")
    t.add_row("best training gap", f"{_gap(p.best_gap)}  (program #{p.best_id})")
    t.add_row(f"vs {p.baseline}", f"{vs}  ({p.baseline} {_gap(p.baseline_gap)})")
    t.add_row("best's cost", p.best_cost + (f"  ({p.over_budget} over budget)" if p.over_budget else ""))
    t.add_row("tokens / cost", f"{p.tokens:,} / ${p.cost:.4f}")
    t.add_row("evaluations/s", f"{p.evals_per_s:.1f}")
    t.add_row("elapsed / left", f"{_duration(p.elapsed_s)} / {_duration(p.time_left_s)}")
    return t


@contextmanager
def _live(enabled: bool) -> Iterator[Callable[[Progress], None]]:
    """Yield a progress callback: a rich live table on a terminal, a line every 10 s otherwise."""
    latest: list[Progress | None] = [None]
    if enabled and console.is_terminal:
        with Live(get_renderable=lambda: _view(latest[0]), console=console, refresh_per_second=4,
                  transient=False):
            yield lambda p: latest.__setitem__(0, p)
        return
    last = [0.0]

    def line(p: Progress) -> None:
        now = time.monotonic()
        if enabled and p.samples and now - last[0] >= 10:
            last[0] = now
            console.print(f"{p.samples}/{p.samples_budget} samples, {p.valid} valid, best {_gap(p.best_gap)}"
                          f" ({p.baseline} {_gap(p.baseline_gap)}), {p.evals_per_s:.1f} evals/s",
                          highlight=False, soft_wrap=True)

    yield line


@contextmanager
def _interruptible() -> Iterator[None]:
    """Turn SIGTERM into KeyboardInterrupt so both stop the run the same clean way."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


def _execute(fn: Callable[[Callable[[Progress], None]], Any], live: bool, run_dir: str) -> Any:
    try:
        with _interruptible(), _live(live) as cb:
            return fn(cb)
    except KeyboardInterrupt:
        if (Path(run_dir) / "run.sqlite").is_file():
            console.print(f"interrupted: work in flight cancelled, store closed; continue with"
                          f" `discover resume {run_dir}`", highlight=False, soft_wrap=True)
        else:
            console.print("interrupted before the run started: nothing was kept", highlight=False)
        raise typer.Exit(130) from None
    except EXPECTED as e:
        raise UserError(str(e)) from None


def _baseline_gap(champion: dict[str, Any]) -> float | None:
    """Return a champion record's baseline validation gap (records from before tasks: ``mdd_valid_gap``)."""
    return champion.get("baseline_valid_gap", champion.get("mdd_valid_gap"))


def print_summary(rep: Any) -> None:
    """Print the end-of-run summary: budgets, validity, best, champion vs MDD."""
    total = rep.samples
    pct = 100 * rep.valid / total if total else 0.0
    console.print(f"run {rep.run_dir}: stopped after {total} samples in {rep.elapsed_s:.1f} s:"
                  f" {STOP_TEXT.get(rep.stop_reason, rep.stop_reason)}", highlight=False, soft_wrap=True)
    rejected = ", ".join(f"{k} {v}" for k, v in rep.statuses.items() if k != "ok") or "none"
    console.print(f"  valid programs: {rep.valid} of {total} ({pct:.1f} %); rejected: {rejected}",
                  highlight=False, soft_wrap=True)
    if rep.reasons:
        reason, count = rep.reasons[0]
        console.print(f"  most common rejection: {reason!r} ({count}×)", highlight=False, soft_wrap=True)
    if rep.llm_errors:
        console.print(f"  LLM requests that failed: {rep.llm_errors}", highlight=False, soft_wrap=True)
    if rep.last_llm_error and (rep.stop_reason in FAILED_STOPS or rep.valid == 0):
        console.print(f"  last LLM error: {rep.last_llm_error}", highlight=False, soft_wrap=True)
    if rep.valid == 0:
        console.print("  no valid program came back from the LLM: nothing better than the seeds was found",
                      highlight=False, soft_wrap=True)
    console.print(f"  best training gap: {_gap(rep.best_gap)} (program #{rep.best_id});"
                  f" {rep.baseline} {_gap(rep.baseline_gap)}", highlight=False, soft_wrap=True)
    unknown = (f" + the unknown usage of {rep.usage_unknown} failed attempt(s) the server did not report"
               if rep.usage_unknown else "")
    console.print(f"  tokens {rep.tokens:,}, cost ${rep.cost:.4f} (as billed, failed attempts included"
                  f"{unknown}); controller {rep.controller_ms:.2f} ms per candidate", highlight=False,
                  soft_wrap=True)
    if rep.usage_capped:
        console.print(f"  warning: {rep.usage_capped} answer(s) reported implausible token usage (more than"
                      " the prompt's bytes or n × max_tokens); capped there (see the usage_capped events)",
                      highlight=False, soft_wrap=True)
    ch = rep.champion
    if not ch:
        console.print("no champion: no valid program written by the LLM (the seeds do not compete);"
                      " nothing promoted", highlight=False, soft_wrap=True)
    else:
        console.print(f"champion: {ch['name']} (program #{ch['program_id']}): validation gap"
                      f" {_gap(ch['valid_gap'])} vs {rep.baseline} {_gap(_baseline_gap(ch))}"
                      f" (training {_gap(ch['train_gap'])})", highlight=False, soft_wrap=True)
        dec = ch.get("decision")
        if dec:
            verdict = f"promoted to {dec['path']}" if dec["path"] else (
                "would be promoted (promotion disabled)" if dec["promoted"] else "not promoted")
            console.print(f"  vs the archive's best ({ch['reference']}, {_gap(ch['reference_gap'])}):"
                          f" {verdict}: {dec['reason']}", highlight=False, soft_wrap=True)
    if ch and rep.test_scores:
        console.print(scores_line(rep.test_scores), highlight=False, soft_wrap=True)


def scores_line(tests: dict[str, Any]) -> str:
    """Return the champion's mean gaps on the task's test sets, to proven optima (opt) and to best known
    values (bk) apart, each with its instance count, beside the best reference rule's on each."""
    from discover.archive.task_tests import covered

    champ = tests.get("champion") or {}
    if "error" in champ:
        return f"  test sets: the champion failed: {champ['error']}"
    parts = []
    for s in tests.get("sets", []):
        c = champ.get(s, {})
        cells = []
        for kind, key in (("opt", "gap_proven"), ("bk", "gap_best_known")):
            if c.get(key) is None:
                continue
            count = covered(c, key)
            refs = {r: by[s][key] for r, by in tests.get("references", {}).items() if by.get(s, {}).get(key)
                    is not None}
            best = min(refs, key=lambda r: (refs[r], r)) if refs else None
            rule = f" ({best} {refs[best]:.3f} %)" if best else ""
            cells.append(f"{kind} ({count}) {c[key]:.3f} %{rule}")
        parts.append(f"{s} " + ", ".join(cells))
    return "  test sets (mean gap; best rule there): " + ("; ".join(parts) or "none found")


def _finish(rep: Any) -> None:
    print_summary(rep)
    if rep.stop_reason in FAILED_STOPS:
        raise typer.Exit(1)


def _overrides(sets: list[str], **opts: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    try:
        for text in sets or []:
            k, v = parse_assignment(text)
            out[k] = v
    except ConfigError as e:
        raise UserError(str(e)) from None
    out.update({k: v for k, v in opts.items() if v is not None})
    return out


def register(app: typer.Typer) -> None:
    """Add ``run``, ``resume``, ``replay`` and ``config show`` to the app."""
    set_help = "Set any config field, e.g. --set search.islands=4 (repeatable)."

    @app.command("run")
    def run(
        config: Path = typer.Option(None, "--config", help="TOML config file (defaults otherwise)."),
        llm: str = typer.Option(None, "--llm", help=f"LLM backend: {kinds_text()} (llm.kind).",
                                show_default=D.llm.kind),
        model: str = typer.Option(None, "--model", help="Model name (llm.model).",
                                  show_default=D.llm.model or "the backend's default"),
        base_url: str = typer.Option(None, "--base-url", help="OpenAI-compatible endpoint (llm.base_url).",
                                     show_default=D.llm.base_url or "the SDK's, api.openai.com"),
        samples: int = typer.Option(None, "--samples", help="Sample budget (stopping.samples).",
                                    show_default=str(D.stopping.samples)),
        seed: int = typer.Option(None, "--seed", help="Random seed of the run (seed).",
                                 show_default=str(D.seed)),
        run_dir: str = typer.Option(None, "--run-dir", help="Run directory (run_dir).",
                                    show_default="runs/<date>-<time>-s<seed>, e.g. runs/20261201-182433-s1"),
        sets: list[str] = typer.Option(None, "--set", help=set_help),
        overwrite: bool = typer.Option(False, "--overwrite", help="Replace a run already in --run-dir."),
        live: bool = typer.Option(True, "--live/--quiet", help="Show the live view."),
        seed_program: list[Path] = typer.Option(
            None, "--seed-program", help="A .py file defining the entry function, added to the seeds every"
            " island starts from (repeatable; config search.seeds lists them all)."),
        prompts: Path = typer.Option(None, "--prompts", help="Folder of prompt templates (config prompts).",
                                     show_default=str(PROMPTS_DIR)),
        archive: Path = typer.Option(
            None, "--archive", help="The archive the champion is promoted into (config champion.dir).",
            show_default="the user archive, $XDG_DATA_HOME/discover/archive or ~/.local/share/…"),
        executor: str = typer.Option(None, "--executor", help=EXECUTOR_HELP,
                                     show_default=D.evaluation.executor),
        ray_address: str = typer.Option(None, "--ray-address", help=ADDRESS_HELP),
        task: str = typer.Option(None, "--task", help="The problem (task): total_tardiness or"
                                 " weighted_tardiness; its stored sets, seeds and cost reference are the"
                                 " defaults.", show_default=D.task),
    ) -> None:
        """Run the search: seeds, islands, LLM samples, scoring, then the champion step."""
        from discover.runner import default_run_dir, start_run

        over = _overrides(sets, **{"task": task, "llm.kind": llm, "llm.model": model,
                                   "llm.base_url": base_url, "stopping.samples": samples, "seed": seed,
                                   "run_dir": run_dir,
                                   "prompts": str(prompts) if prompts else None,
                                   "champion.dir": str(archive) if archive else None,
                                   "evaluation.executor": executor, "evaluation.ray_address": ray_address})
        try:
            cfg = load_config(config, over)
            if seed_program:
                cfg = cfg.replace(**{"search.seeds": [*cfg.search.seeds, *(str(f) for f in seed_program)]})
            if not cfg.run_dir:
                cfg = cfg.replace(run_dir=str(default_run_dir(cfg.seed)))
        except ConfigError as e:
            raise UserError(str(e)) from None
        rep = _execute(lambda cb: start_run(cfg, overwrite=overwrite, on_progress=cb), live, cfg.run_dir)
        _finish(rep)

    @app.command("resume")
    def resume(
        run_dir: Path = typer.Argument(..., help="Run directory to continue."),
        samples: int = typer.Option(None, "--samples", help="Raise the sample budget."),
        sets: list[str] = typer.Option(None, "--set", help=set_help),
        live: bool = typer.Option(True, "--live/--quiet", help="Show the live view."),
        executor: str = typer.Option(None, "--executor", help=EXECUTOR_HELP + " (may change on resume)."),
        ray_address: str = typer.Option(None, "--ray-address", help=ADDRESS_HELP),
    ) -> None:
        """Continue a run where it stopped (same islands, same random state)."""
        from discover.runner import resume_run

        over = _overrides(sets, **{"stopping.samples": samples, "evaluation.executor": executor,
                                   "evaluation.ray_address": ray_address})
        rep = _execute(lambda cb: resume_run(run_dir, over or None, on_progress=cb), live, str(run_dir))
        _finish(rep)

    @app.command("replay")
    def replay(
        run_dir: Path = typer.Argument(..., help="Finished run to replay from its transcript."),
        out: Path = typer.Option(None, "--out", help="Where the replay goes (default RUN_DIR-replay)."),
        live: bool = typer.Option(False, "--live/--quiet", help="Show the live view."),
    ) -> None:
        """Re-run from the transcript (strict replay) and check every program and score is identical."""
        from discover.runner import replay_run

        rep = _execute(lambda cb: replay_run(run_dir, out, on_progress=cb), live, str(run_dir))
        if rep.divergence:
            raise UserError(f"replay of {run_dir} diverges: {rep.divergence}")
        console.print(f"replay of {run_dir} into {rep.replay}: identical ({rep.programs} programs, every"
                      " program and score)", highlight=False, soft_wrap=True)

    cfg_app = typer.Typer(no_args_is_help=True, help="Inspect the run configuration.")
    app.add_typer(cfg_app, name="config")

    @cfg_app.command("show")
    def show(
        config: Path = typer.Option(None, "--config", help="TOML config file."),
        sets: list[str] = typer.Option(None, "--set", help=set_help),
        describe: bool = typer.Option(True, "--describe/--plain",
                                      help="Comment each field with its description and allowed range."),
    ) -> None:
        """Print the resolved configuration as TOML, every field described."""
        try:
            cfg = load_config(config, _overrides(sets))
        except ConfigError as e:
            raise UserError(str(e)) from None
        typer.echo(cfg.describe() if describe else cfg.to_toml(), nl=False)
