"""`discover baselines`: score the classic rules and the study's heuristics on a set."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from discover.cli.common import UserError, console, print_json
from discover.paths import ARCHIVE_DIR
from evaluator.baselines import score_baselines
from evaluator.heuristics import NAMES
from evaluator.instances import InstanceFileError, load_set


def _fmt(x: float | None, digits: int = 2) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def show_scores(path: Path, as_json: bool, names: tuple[str, ...]) -> None:
    """Print the baseline table (or JSON) for one set file."""
    try:
        iset = load_set(path)
    except InstanceFileError as e:
        raise UserError(str(e)) from None
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


def register(app: typer.Typer) -> None:
    @app.command("baselines")
    def baselines(
        target: str = typer.Argument(..., help="A set file (JSON), or 'build' to remake the stored sets."),
        as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
        heuristics: str = typer.Option(
            ",".join(NAMES), "--heuristics",
            help="Comma-separated names (on a weighted set: WSPT, EDD, WMDD, ATC, COVERT, Aug-WMDD)."),
        out_dir: Path = typer.Option(
            ARCHIVE_DIR / "baselines", "--out-dir", help="With 'build': the folder of the stored sets."),
        quick: bool = typer.Option(False, "--quick", help="With 'build': skip the n = 800, 1000 sets."),
        only: str = typer.Option("", "--only", help="With 'build': comma-separated set names to build."),
        jobs: int = typer.Option(2, "--jobs", help="With 'build': worker processes."),
    ) -> None:
        """Score the baseline heuristics on SET.json, or `build` the stored baseline sets."""
        names = tuple(h.strip() for h in heuristics.split(",") if h.strip())
        # --- weighted tardiness (issue 14 item 2), until the task seam replaces this branch ---
        from evaluator.weighted.instances import is_weighted_file

        if target != "build" and is_weighted_file(target):
            from discover.cli.baselines_weighted import show_weighted
            from evaluator.weighted.rules import NAMES as WEIGHTED_NAMES

            picked = WEIGHTED_NAMES if heuristics == ",".join(NAMES) else names
            show_weighted(Path(target), as_json, picked)
            return
        # --- end of the weighted branch ---
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
            return
        show_scores(Path(target), as_json, names)
