"""`discover archive ...`: list, show, diff, add, promote and (re)index the archive of heuristics."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from rich.table import Table
from rich.text import Text

from discover.archive import views as V
from discover.archive.costs import cost_ratios, dominated, front_svg, fronts
from discover.archive.entries import find_entry, load_entries
from discover.archive.errors import ArchiveError
from discover.archive.index import INDEX_FILE, IndexEntry, entry_status, read_index, refresh_index
from discover.archive.layers import archive_task, own_ids, task_archive
from discover.archive.scoring import DEFAULT_TIMEOUT_S, load_test_sets, open_evaluator
from discover.cli.common import ADDRESS_HELP, EXECUTOR_HELP, UserError, console, err_console, print_json
from discover.executors import ExecutorError
from discover.paths import ARCHIVE_DIR, user_archive_dir
from evaluator import tasks
from evaluator.instances import write_atomic

archive_app = typer.Typer(no_args_is_help=True, add_completion=False,
                          help="The archive of heuristics: reference rules and champions with their scores.")


@contextmanager
def _user_errors() -> Iterator[None]:
    try:
        yield
    except (ArchiveError, ExecutorError) as e:
        raise UserError(str(e)) from None


TASK_HELP = ("The task whose archive to use (total_tardiness, weighted_tardiness, ...): another task's"
             " archive is the archive folder's subfolder of its name, scored on the task's test sets")


def _task_option() -> Any:
    return typer.Option(tasks.DEFAULT, "--task", help=TASK_HELP)


def _root(ctx: typer.Context, task: str = tasks.DEFAULT) -> Path:
    """Return the archive of ``task`` inside the archive folder the group was given."""
    try:
        return task_archive(ctx.obj["archive_dir"], task)
    except tasks.UnknownTask as e:
        raise UserError(f"option --task: {e}") from None


def _rows(root: Path) -> tuple[list[V.Row], list[Any]]:
    """Return the entries' rows sorted by mean test gap, and the stored test sets."""
    index = read_index(root)
    sets = load_test_sets(root)
    rows = []
    for k, e in enumerate(load_entries(root)):
        status, detail = entry_status(e, index.get(e.id), sets)
        rows.append(V.Row(e, index.get(e.id), status, detail, k))
    return sorted(rows, key=V.Row.sort_key), sets


def _find(rows: list[V.Row], ident: str) -> V.Row:
    """Return the row of entry ``ident``; unknown names list the entries in file order."""
    entry = find_entry([r.entry for r in sorted(rows, key=lambda r: r.order)], ident)
    return next(r for r in rows if r.entry is entry)


def _trusted(row: V.Row) -> None:
    if row.entry.problem:
        raise UserError(row.entry.problem)


def _record(row: V.Row) -> IndexEntry:
    if row.rec is None:
        raise UserError(f"{row.entry.id}: not scored yet; run `discover archive index`")
    return row.rec


@contextmanager
def _evaluator(timeout_s: float, executor: str = "local", ray_address: str = "") -> Iterator[Any]:
    with open_evaluator(timeout_s=timeout_s, executor=executor, ray_address=ray_address) as ev:
        if getattr(ev, "kind", "") == "in-process":
            err_console.print("warning: evaluator.sandbox is not available: code runs in this process, "
                              "without time or memory limits", style="yellow", markup=False)
        yield ev


@archive_app.callback()
def _group(ctx: typer.Context,
           archive_dir: Path = typer.Option(
               None, "--archive", "--archive-dir",
               help="The archive written to (default: the user archive, $XDG_DATA_HOME/discover/archive or"
               " ~/.local/share/discover/archive). A folder without references/ is read on top of the"
               f" shipped archive ({ARCHIVE_DIR}), which lends it the references, stored sets and scores.")):
    """The archive of heuristics: reference rules and champions with their scores."""
    ctx.obj = {"archive_dir": archive_dir or user_archive_dir()}


@archive_app.command("list")
def list_cmd(ctx: typer.Context, as_json: bool = typer.Option(False, "--json", help="Print JSON."),
             task: str = _task_option()) -> None:
    """List every entry sorted by mean test gap, with runtime, origin and integrity status."""
    root = _root(ctx, task)
    with _user_errors():
        rows, sets = _rows(root)
    unproven = {s.name: int((~s.of.proven(s.iset)).sum()) for s in sets}
    if as_json:
        refs = [r.rec for r in rows if r.rec and r.rec.kind == "reference"]
        entries = [r.to_dict() | ({"cost_ratio": cost_ratios(r.rec, refs),
                                   "dominates": dominated(r.rec, refs)} if r.rec else {}) for r in rows]
        print_json({"archive": str(root), "task": archive_task(root).name,
                    "sets": {s.name: s.sha256 for s in sets},
                    "unproven": {k: v for k, v in unproven.items() if v}, "entries": entries})
    else:
        shown = ", ".join(s.name for s in sets) or "no stored test set yet"
        console.print(V.list_table(rows, f"{root}: {len(rows)} entries{_of_task(root)}, scored on {shown}",
                                   wide=console.width >= 120, unproven=unproven, cost_ref=_cost_ref(root)))
    task = archive_task(root)
    missing = [str(p) for p in task.test_sets if not Path(p).is_file()] if task.name != tasks.DEFAULT else []
    if missing:
        err_console.print(f"warning: test set not found: {', '.join(missing)}; the scores on it are the"
                          " index's, unchecked", style="yellow", markup=False, highlight=False)
    unscored = [r.entry.id for r in rows if r.status == "not scored"]
    if unscored:
        err_console.print(f"warning: not scored yet: {', '.join(unscored)}; run `discover archive index"
                          f"{_task_flag(root)}`",
                          style="yellow", markup=False, highlight=False)
    for r in rows:
        if r.status == "stale":
            err_console.print(f"warning: {r.detail}", style="yellow", markup=False, highlight=False)
    bad = [r for r in rows if r.entry.problem]
    if bad:
        more = f" (and {len(bad) - 1} more entries that cannot be trusted)" if len(bad) > 1 else ""
        raise UserError(f"{bad[0].entry.problem}{more}")


def _of_task(root: Path) -> str:
    task = archive_task(root)
    return "" if task.name == tasks.DEFAULT else f" of {task.name} ({task.title})"


def _task_flag(root: Path) -> str:
    task = archive_task(root)
    return "" if task.name == tasks.DEFAULT else f" --task {task.name}"


def _cost_ref(root: Path) -> str:
    """Return the rule name of the task's cost reference (``Aug-MDDC`` for ΣT_j)."""
    from discover.archive.entries import reference_names

    stem = archive_task(root).cost_reference
    return reference_names(root).get(stem, stem)


@archive_app.command("front")
def front_cmd(ctx: typer.Context,
              html: Path = typer.Option(None, "--html", help="Also write the scatter plots to this file."),
              task: str = _task_option()) -> None:
    """Show mean test gap against seconds per instance per n, with the Pareto front."""
    root = _root(ctx, task)
    with _user_errors():
        rows, _ = _rows(root)
    recs = [r.rec for r in rows if r.rec]
    if not recs:
        raise UserError(f"{root}: no scored entry; run `discover archive index`")
    per_n = fronts(recs)
    for n, items in per_n.items():
        t = Table(title=f"n = {n}: cheapest first; * = on the front (nothing has a lower gap at no more"
                  " cost)", box=None, padding=(0, 2), title_justify="left")
        for col in ("", "id", "kind", "s/inst", "mean gap %", "mode"):
            t.add_column(col, justify="right" if col in ("s/inst", "mean gap %") else "left")
        for rec, front in items:
            s = next(x for x in rec.scores.values() if x.n == n)
            t.add_row("*" if front else "", rec.id, rec.kind, f"{s.seconds_per_instance:.2e}",
                      f"{s.mean_gap_pct:.3f}", s.runtime)
        console.print(t)
    if html is not None:
        body = "\n".join(front_svg(recs, n) for n in per_n)
        write_atomic(html, f"<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>archive front</title>"
                           f"</head><body>\n{body}\n</body></html>\n")
        console.print(f"wrote {html}", highlight=False)


@archive_app.command("show")
def show_cmd(ctx: typer.Context, ident: str = typer.Argument(..., metavar="ID"),
             n: int = typer.Option(0, "--n", help="Class table on the test set of this n (default: all)."),
             as_json: bool = typer.Option(False, "--json", help="Print the index record as JSON."),
             task: str = _task_option()) -> None:
    """Show an entry: provenance, code, scores against every reference, per-class table and lineage."""
    root = _root(ctx, task)
    with _user_errors():
        rows, _ = _rows(root)
        row = _find(rows, ident)
    entry = row.entry
    _trusted(row)
    if as_json:
        lin = row.rec.lineage.to_dict() if row.rec and row.rec.lineage else None
        print_json(row.to_dict() | {"code": entry.code, "meta": entry.meta, "lineage": lin})
        return
    console.print(V.header_panel(entry, row.status, row.detail))
    console.print(V.code_view(entry.code))
    if row.rec is None:
        err_console.print(f"warning: {row.detail}", style="yellow", markup=False)
    else:
        refs = [r.rec for r in rows if r.entry.is_reference and r.rec and r.entry is not entry]
        console.print(V.score_table(row.rec, refs))
        if any(s.proven is not None for s in row.rec.scores.values()):
            console.print(V.proven_table(row.rec, refs))
        console.print(V.tally_table(row.rec, refs))
        set_name = _set_of_n(row.rec, n)
        console.print(V.class_table(row.rec, refs, set_name))
    console.print(V.lineage_view(row.rec.lineage if row.rec else None, entry))


def _set_of_n(rec: IndexEntry, n: int) -> str | None:
    if not n:
        return None
    for name, s in rec.scores.items():
        if s.n == n:
            return name
    have = ", ".join(str(s.n) for s in rec.scores.values())
    raise UserError(f"option --n: {rec.id} has no score at n = {n}; it was scored at n = {have}")


@archive_app.command("diff")
def diff_cmd(ctx: typer.Context, a: str = typer.Argument(..., metavar="A"),
             b: str = typer.Argument(..., metavar="B"),
             n: int = typer.Option(0, "--n", help="Class table on the test set of this n (default: all)."),
             task: str = _task_option()) -> None:
    """Show the code diff of two entries and their score deltas (per n and per class)."""
    root = _root(ctx, task)
    with _user_errors():
        rows, _ = _rows(root)
        ra, rb = _find(rows, a), _find(rows, b)
    ea, eb = ra.entry, rb.entry
    _trusted(ra)
    _trusted(rb)
    console.print(V.code_diff(ea, eb))
    ia, ib = _record(ra), _record(rb)
    console.print(V.delta_table(ia, ib))
    console.print(V.class_delta_table(ia, ib, _set_of_n(ia, n)))


@archive_app.command("add")
def add_cmd(ctx: typer.Context, file: Path = typer.Argument(..., metavar="FILE.py"),
            name: str = typer.Option(..., "--name", help="The champion's name (file champions/NAME.py)."),
            entry: str = typer.Option("schedule", "--entry", help="The function to call."),
            timeout: float = typer.Option(DEFAULT_TIMEOUT_S, "--timeout",
                                          help="CPU-time budget per stored set."),
            task: str = _task_option()) -> None:
    """Score a hand-written heuristic in the sandbox on the stored test sets, then archive it."""
    from discover.archive.promote import add_file

    root = _root(ctx, task)
    with _user_errors(), _evaluator(timeout) as ev:
        rec = add_file(root, file, name, ev, entry=entry, timeout_s=timeout)
    _scored_line(rec, f"archived {file} as {root / rec.path}")


def _scored_line(rec: IndexEntry, head: str) -> None:
    parts = [f"{s.set} {s.mean_gap_pct:.3f} %" if s.mean_gap_pct is not None else f"{s.set} -"
             for s in rec.scores.values()]
    console.print(Text(f"{head}; mean gap: {', '.join(parts)}"))


@archive_app.command("promote")
def promote_cmd(ctx: typer.Context, run_dir: Path = typer.Argument(..., metavar="RUN_DIR"),
                program: int = typer.Argument(None, metavar="[PROGRAM]",
                                              help="Program id (default: the run's champion, else best)."),
                name: str = typer.Option(None, "--name", help="Champion name (default: <run>-p<id>)."),
                force: bool = typer.Option(False, "--force", help="Archive it even if not better."),
                alpha: float = typer.Option(None, "--alpha", help="Significance level (default: the run's)."),
                timeout: float = typer.Option(DEFAULT_TIMEOUT_S, "--timeout",
                                         help="CPU-time budget per stored set.")
                ) -> None:
    """Promote a run's program: validation test against the archive's best, then test-set scores (the run's
    task decides the archive: another task's is the archive folder's subfolder of its name)."""
    from discover.archive.promote import promote_program

    root = _root(ctx)
    with _user_errors(), _evaluator(timeout) as ev:
        out = promote_program(root, run_dir, program, ev, name=name, force=force, alpha=alpha,
                              timeout_s=timeout)
    verdict = "promoted" if out.promoted else ("archived (forced)" if out.record else "not promoted")
    console.print(Text(f"program #{out.program_id}: {verdict}: {out.reason}"))
    if out.record is None:
        err_console.print("hint: --force archives it anyway (the header records the decision)", markup=False)
        raise typer.Exit(1)
    _scored_line(out.record, f"wrote {out.path}")


@archive_app.command("index")
def index_cmd(ctx: typer.Context,
              everything: bool = typer.Option(False, "--all", help="Re-score every entry, not only stale."),
              verify: bool = typer.Option(True, "--verify/--no-verify",
                                          help="Check each reference file against its numba twin."),
              timeout: float = typer.Option(DEFAULT_TIMEOUT_S, "--timeout",
                                         help="CPU-time budget per stored set."),
              executor: str = typer.Option("local", "--executor", help=EXECUTOR_HELP),
              ray_address: str = typer.Option("", "--ray-address", help=ADDRESS_HELP),
              task: str = _task_option()) -> None:
    """Score the entries missing from index.json or stale there, on the stored test sets."""
    from discover.archive.lineage import champion_lineage
    from discover.archive.scoring import require_sets

    root = _root(ctx, task)
    with _user_errors():
        entries = load_entries(root)
        sets = require_sets(load_test_sets(root), root)
        lineages = {e.id: lin for e in entries if not e.is_reference and not e.problem
                    and (lin := champion_lineage(e.meta, root)) is not None}
        with _evaluator(timeout, executor, ray_address) as ev:
            _, notes = refresh_index(root, entries, sets, ev, everything=everything, verify=verify,
                                     lineages=lineages,
                                     on_entry=lambda rec: _scored_line(rec, f"scored {rec.id}"),
                                     timeout_s=timeout)
    names = ", ".join(s.name for s in sets)
    console.print(f"index: {root / INDEX_FILE} ({len(entries)} entries, sets {names})", markup=False,
                  highlight=False)
    own = own_ids(root)
    if own is not None:
        index = read_index(root)
        stale = [e.id for e in entries
                 if e.id not in own and entry_status(e, index.get(e.id), sets)[0] != "ok"]
        if stale:
            err_console.print(f"warning: the shipped archive's scores of {', '.join(stale)} are not current;"
                              f" `discover archive --archive {ARCHIVE_DIR} index{_task_flag(root)}`"
                              " rescores them there",
                              style="yellow", markup=False, highlight=False)
    if notes:
        raise UserError(notes[0] + (f" (and {len(notes) - 1} more)" if len(notes) > 1 else ""))


def register(app: typer.Typer) -> None:
    """Add the `archive` command group to the app."""
    app.add_typer(archive_app, name="archive")
