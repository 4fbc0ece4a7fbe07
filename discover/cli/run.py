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

from discover.cli.common import UserError, console
from discover.config import ConfigError, load_config, parse_assignment
from discover.controller import Progress, RunError
from discover.fitness import SetError
from discover.prompts import PromptError
from discover.store import StoreError

STOP_TEXT = {
    "samples": "the sample budget is spent",
    "tokens": "the token budget is spent",
    "dollars": "the dollar budget is spent",
    "wall_clock": "the wall-clock budget is spent",
    "no_improvement": "no improvement within the configured number of samples",
    "invalid_streak": "too many samples in a row without a valid program (is the LLM answering with code?)",
    "llm_budget": "the LLM layer's budget is exhausted",
    "replay_miss": "a request was not in the transcript (the replay diverged)",
}
EXPECTED = (ConfigError, StoreError, SetError, PromptError, RunError)


def _gap(g: float | None) -> str:
    return "—" if g is None else f"{g:.3f} %"


def _duration(s: float | None) -> str:
    if s is None:
        return "—"
    s = int(s)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


def _view(p: Progress | None) -> Table:
    t = Table(title="discover run", show_header=False, box=None, padding=(0, 2))
    if p is None:
        t.add_row("starting", "scoring the seed programs…")
        return t
    valid = 100 * p.valid / p.samples if p.samples else 0.0
    vs = "—" if p.best_gap is None or p.mdd_gap is None else f"{p.best_gap - p.mdd_gap:+.3f} points"
    t.add_row("samples", f"{p.samples} / {p.samples_budget}")
    t.add_row("valid", f"{p.valid} ({valid:.1f} %)")
    t.add_row("best training gap", f"{_gap(p.best_gap)}  (program #{p.best_id})")
    t.add_row("vs MDD", f"{vs}  (MDD {_gap(p.mdd_gap)})")
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
                          f" (MDD {_gap(p.mdd_gap)}), {p.evals_per_s:.1f} evals/s", highlight=False,
                          soft_wrap=True)

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
        console.print(f"interrupted: work in flight cancelled, store closed; continue with"
                      f" `discover resume {run_dir}`", highlight=False, soft_wrap=True)
        raise typer.Exit(130) from None
    except EXPECTED as e:
        raise UserError(str(e)) from None


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
    if rep.valid == 0:
        console.print("  no valid program came back from the LLM: nothing better than the seeds was found",
                      highlight=False, soft_wrap=True)
    console.print(f"  best training gap: {_gap(rep.best_gap)} (program #{rep.best_id});"
                  f" MDD {_gap(rep.mdd_gap)}", highlight=False, soft_wrap=True)
    console.print(f"  tokens {rep.tokens:,}, cost ${rep.cost:.4f}; controller {rep.controller_ms:.2f} ms"
                  " per candidate", highlight=False, soft_wrap=True)
    ch = rep.champion
    if ch:
        console.print(f"champion: {ch['name']} (program #{ch['program_id']}): validation gap"
                      f" {_gap(ch['valid_gap'])} vs MDD {_gap(ch['mdd_valid_gap'])}"
                      f" (training {_gap(ch['train_gap'])})", highlight=False, soft_wrap=True)
        dec = ch.get("decision")
        if dec:
            verdict = f"promoted to {dec['path']}" if dec["path"] else (
                "would be promoted (promotion disabled)" if dec["promoted"] else "not promoted")
            console.print(f"  vs the archive's best ({ch['reference']}, {_gap(ch['reference_gap'])}):"
                          f" {verdict}: {dec['reason']}", highlight=False, soft_wrap=True)


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
        llm: str = typer.Option(None, "--llm", help="LLM backend: offline, openai or replay."),
        model: str = typer.Option(None, "--model", help="Model name."),
        base_url: str = typer.Option(None, "--base-url", help="OpenAI-compatible endpoint."),
        samples: int = typer.Option(None, "--samples", help="Sample budget."),
        seed: int = typer.Option(None, "--seed", help="Random seed of the run."),
        run_dir: str = typer.Option(None, "--run-dir", help="Run directory (default runs/<date>-s<seed>)."),
        sets: list[str] = typer.Option(None, "--set", help=set_help),
        overwrite: bool = typer.Option(False, "--overwrite", help="Replace a run already in --run-dir."),
        live: bool = typer.Option(True, "--live/--quiet", help="Show the live view."),
    ) -> None:
        """Run the search: seeds, islands, LLM samples, scoring, then the champion step."""
        from discover.runner import start_run

        over = _overrides(sets, **{"llm.kind": llm, "llm.model": model, "llm.base_url": base_url,
                                   "stopping.samples": samples, "seed": seed, "run_dir": run_dir})
        try:
            cfg = load_config(config, over)
        except ConfigError as e:
            raise UserError(str(e)) from None
        rep = _execute(lambda cb: start_run(cfg, overwrite=overwrite, on_progress=cb), live,
                       cfg.run_dir or "RUN_DIR")
        print_summary(rep)

    @app.command("resume")
    def resume(
        run_dir: Path = typer.Argument(..., help="Run directory to continue."),
        samples: int = typer.Option(None, "--samples", help="Raise the sample budget."),
        sets: list[str] = typer.Option(None, "--set", help=set_help),
        live: bool = typer.Option(True, "--live/--quiet", help="Show the live view."),
    ) -> None:
        """Continue a run where it stopped (same islands, same random state)."""
        from discover.runner import resume_run

        over = _overrides(sets, **{"stopping.samples": samples})
        rep = _execute(lambda cb: resume_run(run_dir, over or None, on_progress=cb), live, str(run_dir))
        print_summary(rep)

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
    ) -> None:
        """Print the resolved configuration as TOML."""
        try:
            cfg = load_config(config, _overrides(sets))
        except ConfigError as e:
            raise UserError(str(e)) from None
        typer.echo(cfg.annotated_toml(), nl=False)
