"""`discover baselines`: score a task's reference rules on a set (ΣT_j: the classic rules and the study's
heuristics), the task chosen through the registry: ``--task``, else the file's (``evaluator.tasks``)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from discover.cli.common import TASK_HELP, UserError, console, load_task_set, print_json
from discover.paths import ARCHIVE_DIR
from evaluator import tasks
from evaluator.baselines import score_baselines
from evaluator.heuristics import NAMES
from evaluator.instances import InstanceSet
from evaluator.task import Task


def _fmt(x: float | None, digits: int = 2) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def show_scores(iset: InstanceSet, as_json: bool, names: tuple[str, ...] = NAMES) -> None:
    """Print the baseline table (or JSON) of the ΣT_j rules on one set."""
    unknown = [h for h in names if h not in NAMES]
    if unknown:
        raise UserError(f"option --heuristics: unknown {unknown[0]!r}; known: {', '.join(NAMES)}")
    scores = score_baselines(iset, names)
    with_opt = bool(iset.has_opt.any())
    if as_json:
        heur = {}
        for s in scores:
            row = {"mean_seconds": s.mean_seconds, "mean_tardiness": s.summary.mean_tardiness}
            if with_opt:
                row |= {"mean_gap_pct": s.summary.mean_gap_pct, "max_gap_pct": s.summary.max_gap_pct,
                        "optimal": s.summary.optimal}
            heur[s.name] = row
        print_json({"set": iset.name, "instances": iset.count, "n": iset.n, "heuristics": heur})
        return
    title = f"{iset.name}: {iset.count} instances, n={iset.n or 'mixed'}"
    if with_opt:
        title += f", {int((iset.opt > 0).sum())} with opt > 0 (gaps over those)"
    table = Table(title=title)
    table.add_column("heuristic")
    if with_opt:
        for c in ("mean gap %", "max gap %", "optimal"):
            table.add_column(c, justify="right")
    else:
        table.add_column("mean tardiness", justify="right")
    table.add_column("s / instance", justify="right")
    for s in scores:
        summ = s.summary
        cells = ([_fmt(summ.mean_gap_pct), _fmt(summ.max_gap_pct), str(summ.optimal)]
                 if with_opt else [_fmt(summ.mean_tardiness, 4)])
        table.add_row(s.name, *cells, f"{s.mean_seconds:.2e}")
    console.print(table)


def show_rules(task: Task, iset: object, as_json: bool, names: tuple[str, ...] = ()) -> None:
    """Print the mean gap of a task's rules on one set (a task without a table of its own)."""
    from evaluator.scoring import summarize

    rules = task.rules()
    unknown = [h for h in names if h not in rules]
    if unknown or not rules:
        raise UserError(f"option --heuristics: unknown {unknown[0]!r}; known: {', '.join(rules)}" if unknown
                        else f"task {task.name} has no reference rules to score")
    rows = {name: summarize(task.values(iset, rules[name](iset)), iset) for name in names or tuple(rules)}
    if as_json:
        print_json({"set": iset.name, "task": task.name, "instances": iset.count, "n": iset.n,
                    "heuristics": {k: {"mean_gap_pct": s.mean_gap_pct, "max_gap_pct": s.max_gap_pct,
                                       "optimal": s.optimal} for k, s in rows.items()}})
        return
    table = Table(title=f"{iset.name} ({task.title}, {task.objective}): {iset.count} instances")
    for col in ("rule", "mean gap %", "max gap %", "optimal"):
        table.add_column(col, justify="left" if col == "rule" else "right")
    for name, s in rows.items():
        table.add_row(name, _fmt(s.mean_gap_pct), _fmt(s.max_gap_pct), str(s.optimal))
    console.print(table)


def _weighted(task: Task, iset: object, as_json: bool, names: tuple[str, ...]) -> None:
    from discover.cli.baselines_weighted import show_weighted

    show_weighted(iset, as_json, names or tuple(task.rules()))


TABLES = {"total_tardiness": lambda task, iset, as_json, names: show_scores(iset, as_json, names or NAMES),
          "weighted_tardiness": _weighted}
"""The tasks with a table of their own; any other registered task gets ``show_rules``."""


def register(app: typer.Typer) -> None:
    @app.command("baselines")
    def baselines(
        target: str = typer.Argument(..., help="A set file (JSON), or 'build' to remake the stored sets."),
        as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
        heuristics: str = typer.Option(
            "", "--heuristics", show_default=False,
            help=f"Comma-separated names (default: all the task's rules; ΣT_j: {', '.join(NAMES)}; weighted:"
            " WSPT, EDD, WMDD, ATC, COVERT, Aug-WMDD)."),
        out_dir: Path = typer.Option(
            ARCHIVE_DIR / "baselines", "--out-dir", help="With 'build': the folder of the stored sets."),
        quick: bool = typer.Option(False, "--quick", help="With 'build': skip the n = 800, 1000 sets."),
        only: str = typer.Option("", "--only", help="With 'build': comma-separated set names to build."),
        jobs: int = typer.Option(2, "--jobs", help="With 'build': worker processes."),
        task: str = typer.Option(None, "--task", help=TASK_HELP),
    ) -> None:
        """Score the task's reference rules on SET.json, or `build` the stored baseline sets."""
        names = tuple(h.strip() for h in heuristics.split(",") if h.strip())
        if target != "build":
            problem, iset = load_task_set(target, task)
            TABLES.get(problem.name, show_rules)(problem, iset, as_json, names)
            return
        if task and task != tasks.DEFAULT:
            raise UserError(f"option --task: `baselines build` builds the {tasks.DEFAULT} stored sets; "
                            f"{task}'s stored sets are built by its own package")
        unknown = [h for h in names if h not in NAMES]
        if unknown:
            raise UserError(f"option --heuristics: unknown {unknown[0]!r}; known: {', '.join(NAMES)}")
        if target == "build":
            from evaluator.stored import build_stored_sets, spec_named

            picked = tuple(x.strip() for x in only.split(",") if x.strip())
            for name in picked:
                try:
                    spec_named(name)
                except KeyError as e:
                    raise UserError(f"option --only: {e.args[0]}") from None
            if jobs < 1:
                raise UserError(f"option --jobs: {jobs} must be at least 1")
            build_stored_sets(out_dir, console, names=picked or None, jobs=jobs, skip_large=quick)
