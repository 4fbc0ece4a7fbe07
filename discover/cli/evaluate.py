"""`discover evaluate FILE.py --instances SET.json`: score a heuristic file in the sandbox."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from discover.cli.common import (
    ADDRESS_HELP,
    EXECUTOR_HELP,
    TASK_HELP,
    UserError,
    console,
    load_task_set,
    print_json,
)
from discover.executors import ExecutorError, make_evaluator, sandbox_builder
from evaluator.instances import InstanceSet
from evaluator.sandbox import DEFAULT_TIMEOUT_S, EvalResult, SandboxUnsafe
from evaluator.scoring import Summary, summarize

INSTANCES_PER_WORKER = 16  # below this a second worker costs more to start than it saves


def _read_code(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise UserError(f"{path}: is a directory, not a Python file") from None
    except UnicodeDecodeError as e:
        raise UserError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    except OSError as e:
        raise UserError(f"{path}: cannot read: {e.strerror}") from None


def _num(x: float | None) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else x


def result_json(result: EvalResult, summary: Summary) -> dict[str, Any]:
    """Return the JSON form of an evaluation: status, error, means, gaps, seconds, per-class rows."""
    rows = [{k: _num(v) for k, v in vars(r).items()} for r in summary.by_class]
    return {
        "status": result.status, "error": result.error, "instances": summary.instances,
        "mean_tardiness": _num(summary.mean_tardiness), "mean_gap_pct": _num(summary.mean_gap_pct),
        "max_gap_pct": _num(summary.max_gap_pct), "mean_seconds": _num(result.mean_seconds),
        "mode": result.mode, "compile_s": result.compile_s, "compile_error": result.compile_error,
        "by_class": rows,
    }


def mode_line(result: EvalResult) -> str:
    """Return the line saying which mode the seconds were measured in, and the compile time apart."""
    if result.mode == "compiled":
        return (f"mode compiled (numba): compile {result.compile_s:.2f} s CPU over the sandbox's processes,"
                " not part of the seconds per instance")
    if result.compile_error:
        return f"mode python: numba could not compile it, so it ran as Python: {result.compile_error}"
    return "mode python" if result.mode else "mode: nothing ran"


def _fmt(x: float | None, spec: str, unit: str = "") -> str:
    return "–" if _num(x) is None else f"{x:{spec}}{unit}"


def _print_text(path: Path, iset: InstanceSet, result: EvalResult, summary: Summary,
                objective: str = "total tardiness") -> None:
    style = "green" if result.ok else "red"
    console.print(f"{path.name} on {iset.name} ({iset.count} instances, n={iset.n or 'mixed'}): "
                  f"[{style}]{result.status}[/{style}]")
    if result.error:
        console.print(f"  {result.error}", markup=False, highlight=False)
    line = f"mean {objective} {_fmt(summary.mean_tardiness, '.2f')}, invalid or not run {summary.invalid}"
    if summary.mean_gap_pct is not None:
        line += (f", mean gap {_fmt(summary.mean_gap_pct, '.2f', ' %')}"
                 f", max gap {_fmt(summary.max_gap_pct, '.2f', ' %')}"
                 f", optimal {summary.optimal}/{int(iset.has_opt.sum())}")
    console.print(line)
    console.print(f"seconds per instance {_fmt(result.mean_seconds * 1e3, '.3f', ' ms')} "
                  f"(total {result.total_seconds:.2f} s)")
    console.print(mode_line(result), markup=False, highlight=False)
    if summary.by_class:
        table = Table("RDD", "TF", "instances", f"mean {objective}", "mean gap %", "optimal")
        for r in summary.by_class:
            table.add_row(f"{r.rdd:g}", f"{r.tf:g}", str(r.instances), _fmt(r.mean_tardiness, ".2f"),
                          _fmt(r.mean_gap_pct, ".2f"), str(r.optimal))
        console.print(table)


def register(app: typer.Typer) -> None:
    """Add ``discover evaluate`` to the app."""

    @app.command("evaluate")
    def evaluate(
        file: Path = typer.Argument(..., help="Python file defining the heuristic, e.g. def schedule(p, d)."),
        instances: Path = typer.Option(..., "--instances", help="Instance set (JSON) to score it on."),
        entry: str = typer.Option("schedule", "--entry", help="Function to call as entry(p, d) -> order."),
        timeout: float = typer.Option(DEFAULT_TIMEOUT_S, "--timeout",
                                      help="CPU-time budget in seconds for the whole set, shared among the"
                                      " sandbox's processes in proportion to their part of the work."),
        as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
        executor: str = typer.Option("local", "--executor", help=EXECUTOR_HELP),
        ray_address: str = typer.Option("", "--ray-address", help=ADDRESS_HELP),
        allow_weak: bool = typer.Option(False, "--allow-weak-sandbox",
                                        help="Run even where the kernel refuses a sandbox layer (named)."),
        task: str = typer.Option(None, "--task", help=TASK_HELP),
    ) -> None:
        """Score a heuristic in the sandbox; exit code 1 when its status is not ok."""
        if not entry.isidentifier():
            raise UserError(f"option --entry: {entry!r} is not a Python function name")
        if not (math.isfinite(timeout) and timeout > 0):
            raise UserError(f"option --timeout: {timeout!r} must be a positive number of seconds")
        code = _read_code(file)
        problem, iset = load_task_set(instances, task)
        if iset.count == 0:
            raise UserError(f"{instances.name}: the set holds no instances")
        workers = max(1, min(_cores(), math.ceil(iset.count / INSTANCES_PER_WORKER)))
        try:
            build = sandbox_builder(workers=workers, timeout_s=timeout, allow_weak=allow_weak)
            with make_evaluator(executor, build, ray_address) as sb:
                missing = sb.missing_layers
                result = sb.evaluate(code, iset, entry=entry, task=problem)
        except (ExecutorError, SandboxUnsafe) as e:
            raise UserError(str(e)) from None
        summary = summarize(result.tardiness, iset)
        if as_json:
            print_json({**result_json(result, summary), "sandbox_missing_layers": missing})
        else:
            _print_text(file, iset, result, summary, problem.objective)
        if not result.ok:
            raise typer.Exit(1)


def _cores() -> int:
    from evaluator.sandbox.pool import default_workers

    return default_workers()
