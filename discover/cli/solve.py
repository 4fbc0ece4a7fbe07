"""`discover solve`: exact optima for a set file, written to a copy with ``opt`` filled in."""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path

import numpy as np
import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from discover.cli.common import TASK_HELP, UserError, console, err_console, print_json
from discover.cli.solve_state import Checkpoint, resumable
from evaluator import tasks
from evaluator.exact import DEFAULT_MEMO_CAP_MB, ExactResult, solve_set
from evaluator.exact.bb import MEMO_POLICIES
from evaluator.instances import UNKNOWN, InstanceFileError


def default_output(path: Path) -> Path:
    """Return where the solved copy of ``path`` goes without ``-o``: the current directory.

    Never beside the input, which may sit in a shared folder that must stay untouched.
    """
    return Path(f"{path.stem}.solved.json")


def _disagreement(i: int, file_opt: int, r: ExactResult, proven: bool = True) -> dict | None:
    """Return a record when the solver contradicts the file's optimum, else None.

    A value the file marks unproven (a best-known value, ``proven`` False) is contradicted only by a
    lower bound above it: a better schedule found is no contradiction."""
    if file_opt < 0:
        return None
    if not proven and r.lower_bound <= file_opt:
        return None
    if proven and r.optimal and r.value == file_opt:
        return None
    if proven and not r.optimal and r.lower_bound <= file_opt <= r.value:
        return None
    return {"instance": i, "file_opt": file_opt, "status": r.status, "value": r.value,
            "lower_bound": r.lower_bound}


def _summary(results: list[ExactResult], path: Path, out: Path, method: str, wall: float,
             checked: int, disagreements: list[dict]) -> dict:
    secs = np.array([r.seconds for r in results]) if results else np.zeros(0)
    return {
        "file": str(path),
        "output": str(out),
        "method": method,
        "instances": len(results),
        "optimal": sum(r.optimal for r in results),
        "time_limit": sum(r.status == "time_limit" for r in results),
        "memory_limit": sum(r.status == "memory_limit" for r in results),
        "mean_seconds": float(secs.mean()) if secs.size else 0.0,
        "max_seconds": float(secs.max()) if secs.size else 0.0,
        "wall_seconds": wall,
        "checked_against_file": checked,
        "disagreements": disagreements,
    }


def _say(text: str) -> None:
    console.print(text, soft_wrap=True, highlight=False, markup=False)


def _print_summary(s: dict) -> None:
    _say(
        f"{s['file']}: {s['optimal']}/{s['instances']} solved to optimality by {s['method']}"
        f" (mean {s['mean_seconds']:.3f} s, max {s['max_seconds']:.3f} s, wall {s['wall_seconds']:.1f} s)"
    )
    if s["time_limit"] or s["memory_limit"]:
        _say(f"  stopped early: {s['time_limit']} by the time limit, "
                      f"{s['memory_limit']} by the memory cap")
    if s["checked_against_file"]:
        bad = len(s["disagreements"])
        agree = s["checked_against_file"] - bad
        _say(f"  checked against the file's optima: {agree} agree, {bad} disagree")
    _say(f"  wrote {s['output']}")


def _write(ckpt: Checkpoint, out: Path) -> None:
    ckpt.dirty = True
    try:
        ckpt.flush()
    except OSError as e:
        raise UserError(f"option -o: cannot write {out}: {e.strerror or e}") from None


def _solve_with_progress(path, iset, method, time_limit, jobs, memo, ckpt, done, task_name=None):
    """Solve the set under a progress bar: instances done, the hardest so far, the peak memo size."""
    hardest = [0.0, -1]
    peak = [max((r.memo_mb for r in done.values()), default=0.0)]

    def info() -> str:
        worst = f"hardest #{hardest[1]} {hardest[0]:.1f} s" if hardest[1] >= 0 else "hardest -"
        return f"{worst}, memo peak {peak[0]:.0f} MiB, rss {_rss_mb():.0f} MiB"

    with Progress(TextColumn("solving {task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), TextColumn("{task.fields[info]}"), console=err_console,
                  transient=True) as bar:
        task = bar.add_task(path.name, total=iset.count, completed=len(done), info=info())

        def progress(count, total, i, r):
            if r.seconds >= hardest[0]:
                hardest[:] = [r.seconds, i]
            peak[0] = max(peak[0], r.memo_mb)
            ckpt.add(i, r)
            bar.update(task, completed=count, info=info())

        return solve_set(iset, method, time_limit, jobs, memo_cap_mb=memo[0], memo_policy=memo[1],
                         progress=progress, done=done, task=task_name)


def _rss_mb() -> float:
    """Return the peak resident memory of this process (not of its workers) in MiB, 0 where unknown."""
    try:
        import resource
    except ImportError:
        return 0.0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _task_of(path: Path, flag: str | None) -> tasks.Task:
    """Return the task of a set file: its ``task`` field, else ``--task``, else the one its fields show.

    A field and a flag that name different tasks, or a name no package registers, is an error."""
    try:
        raw = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        raw = None  # the loader names the problem
    field = raw.get("task") if isinstance(raw, dict) else None
    if field is not None:
        if not isinstance(field, str) or field not in tasks.names():
            raise UserError(f"{path}: field task = {field!r} is not a known task (known: "
                            f"{', '.join(tasks.names())})")
        if flag is not None and flag != field:
            raise UserError(f"{path}: field task = {field!r} but option --task = {flag!r}; drop the option"
                            " or pass the file's task")
    if flag is not None and flag not in tasks.names():
        raise UserError(f"option --task: {flag!r} is not a known task (known: {', '.join(tasks.names())})")
    chosen = tasks.get(field or flag) if (field or flag) else tasks.task_of(raw)
    if not chosen.exact_methods:
        raise UserError(f"{path}: task {chosen.name} has no exact solver")
    return chosen


def register(app: typer.Typer) -> None:
    """Add ``discover solve`` to the app."""

    @app.command("solve")
    def solve_cmd(
        path: Path = typer.Argument(..., help="Set file (JSON, the shared benchmark format)."),
        method: str = typer.Option(None, "--method", help="total_tardiness: bb (memoised decomposition,"
                                   " the default), mip (HiGHS) or dp; weighted_tardiness: ti (Lagrangian"
                                   " bound and time-indexed MIP, the default), mip or dp."),
        time_limit: float = typer.Option(None, "--time-limit", help="Seconds per instance (bb, mip and ti)."),
        jobs: int = typer.Option(1, "--jobs", help="Worker processes."),
        out: Path = typer.Option(None, "-o", "--out", help="Output file (default: ./SET.solved.json)."),
        memo_cap_mb: int = typer.Option(DEFAULT_MEMO_CAP_MB, "--memo-cap-mb", help="Memo cap in MiB (bb)."),
        as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
        restart: bool = typer.Option(False, "--restart", help="Ignore an earlier output; solve all again."),
        memo_policy: str = typer.Option("stop", "--memo-policy",
                                        help="bb at its memo cap: stop, or reset the memo and go on."),
        task_name: str = typer.Option(None, "--task", help=TASK_HELP),
    ) -> None:
        """Solve every instance exactly; write a copy with opt, status and seconds per instance.

        The output is rewritten as instances finish (every 10 s at most) and on Ctrl-C; running the
        same command again resumes, reusing the instances already solved to optimality.
        Optima in the file that the solver contradicts are reported per instance; the exit code is then 1.
        """
        task = _task_of(path, task_name)
        method = method if method is not None else task.exact_methods[0]
        if method not in task.exact_methods:
            raise UserError(f"option --method: {method!r} must be one of {', '.join(task.exact_methods)}"
                            f" (task {task.name})")
        if time_limit is not None and not (math.isfinite(time_limit) and time_limit > 0):
            raise UserError(f"option --time-limit: {time_limit!r} must be a positive number of seconds")
        if jobs < 1:
            raise UserError(f"option --jobs: {jobs} must be at least 1")
        if memo_cap_mb < 1:
            raise UserError(f"option --memo-cap-mb: {memo_cap_mb} must be at least 1")
        if memo_policy not in MEMO_POLICIES:
            known = ", ".join(MEMO_POLICIES)
            raise UserError(f"option --memo-policy: {memo_policy!r} must be one of {known}")
        try:
            iset = task.load(path)
        except InstanceFileError as e:
            raise UserError(str(e)) from None
        key = None if task.name == tasks.DEFAULT else task.name  # ΣT_j: solve_set's own methods
        out = out if out is not None else default_output(path)
        if out.is_dir():
            raise UserError(f"option -o: {out} is a directory; name the output file")
        if not os.access(out.parent, os.W_OK):
            raise UserError(f"option -o: cannot write in {out.parent}; pass -o with a writable place")
        if method == "mip" and time_limit is None and iset.count and int(iset.sizes.max()) > 20:
            err_console.print("warning: the MIP without --time-limit can take hours beyond 20 jobs "
                              "(the study's Gurobi runs needed up to 1,235 s at n = 20)", soft_wrap=True)
        try:
            done = {} if restart else resumable(out, iset, method, key)
        except ValueError as e:
            raise UserError(f"option -o: {e}") from None
        if done:
            err_console.print(f"resuming: {len(done)} of {iset.count} instances already solved in "
                              f"{escape(str(out))}", soft_wrap=True)
        ckpt = Checkpoint(iset, out, done, key)
        t0 = time.perf_counter()
        try:
            results = _solve_with_progress(path, iset, method, time_limit, jobs, (memo_cap_mb, memo_policy),
                                           ckpt, done, key)
        except ValueError as e:
            raise UserError(f"{path.name}: {e}") from None
        except KeyboardInterrupt:
            _write(ckpt, out)
            err_console.print(f"interrupted: {ckpt.solved} of {iset.count} instances solved, kept in "
                              f"{escape(str(out))}; run the same command again to resume", soft_wrap=True)
            raise typer.Exit(130) from None
        wall = time.perf_counter() - t0
        _write(ckpt, out)
        proven = task.proven(iset) if task.best_known_opt else iset.opt != UNKNOWN
        disagreements = [x for i, r in enumerate(results)
                         if (x := _disagreement(i, int(iset.opt[i]), r, bool(proven[i])))]
        checked = int(np.sum(iset.opt != UNKNOWN))
        summary = _summary(results, path, out, method, wall, checked, disagreements)
        for x in disagreements:
            what = (f"the solver proves opt = {x['value']}" if x["status"] == "optimal" else
                    f"the solver bounds opt in [{x['lower_bound']}, {x['value']}] ({x['status']})")
            err_console.print(f"[bold red]DISAGREEMENT[/] {escape(path.name)} instance {x['instance']}: "
                              f"the file says opt = {x['file_opt']} but {what}", soft_wrap=True)
        if as_json:
            print_json(summary)
        else:
            _print_summary(summary)
        if disagreements:
            err_console.print(f"[bold red]{len(disagreements)} instance(s) disagree with the optima in "
                              f"{escape(path.name)}[/]", soft_wrap=True)
            raise typer.Exit(1)
