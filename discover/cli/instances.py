"""`discover instances ...`: generate and check instance sets."""

from __future__ import annotations

from pathlib import Path

import typer

from discover.cli.common import UserError, console, err_console, load_task_set
from discover.store import StoreError, check_writable
from evaluator import instances as inst


def _grid(text: str, option: str) -> tuple[float, ...]:
    try:
        vals = tuple(round(float(x), 10) for x in text.split(",") if x.strip())
    except ValueError:
        raise UserError(f"option {option}: {text!r} must be a comma-separated list of numbers") from None
    if not vals:
        raise UserError(f"option {option}: {text!r} must name at least one value")
    return vals


def register(app: typer.Typer) -> None:
    sub = typer.Typer(no_args_is_help=True, help="Generate and check instance sets.")
    app.add_typer(sub, name="instances")

    @sub.command("generate")
    def generate(
        n: int = typer.Option(..., "--n", min=1, help="Jobs per instance."),
        per_class: int = typer.Option(10, "--per-class", min=1, help="Instances per (RDD, TF) class."),
        seed: int = typer.Option(1, "--seed", help="Random seed; the same seed gives a byte-identical file."),
        out: Path = typer.Option(..., "-o", "--out", help="Output JSON file."),
        rdd: str = typer.Option("0.2,0.4,0.6,0.8,1.0", "--rdd", help="Range-of-due-dates grid."),
        tf: str = typer.Option("0.2,0.4,0.6,0.8", "--tf", help="Tardiness-factor grid."),
        keep_negative: bool = typer.Option(False, "--keep-negative", help="Keep negative due dates."),
        name: str = typer.Option(None, "--name", help="Set name (default from n and seed)."),
        task: str = typer.Option("total_tardiness", "--task", help="The problem: total_tardiness (the grids"
                                 " apply) or another task, drawn by its own generator (weighted_tardiness:"
                                 " the OR-Library scheme, 25 classes)."),
    ) -> None:
        """Generate a set with the Potts-Van Wassenhove scheme (Shang et al.'s variant), or a task's own."""
        from evaluator import tasks

        if task == tasks.DEFAULT:
            iset = inst.generate(n, per_class, seed, _grid(rdd, "--rdd"), _grid(tf, "--tf"), keep_negative,
                                 name)
        else:
            try:
                iset = tasks.get(task).generate(n, per_class, seed, name=name)
            except tasks.UnknownTask as e:
                raise UserError(f"option --task: {e}") from None
        try:
            check_writable(out.parent, "folder")
            inst.save_set(iset, out)
        except StoreError as e:
            raise UserError(f"-o {out}: {e}") from None
        except OSError as e:
            raise UserError(f"-o {out}: cannot write: {e.strerror or e}") from None
        console.print(f"wrote {iset.count} instances of n={n} to {out} (sha256 {iset.sha256()[:12]})")

    @sub.command("check")
    def check(path: Path = typer.Argument(..., help="Set file to validate.")) -> None:
        """Validate a set file: list every invalid instance, or print a one-line summary."""
        problems = inst.find_problems(path)
        if problems:
            for line in problems[:-1]:
                err_console.print(line, markup=False, highlight=False, soft_wrap=True)
            raise UserError(f"{problems[-1]} ({len(problems)} problem(s) in all)")
        iset = load_task_set(path)[1]
        console.print(
            f"{path.name}: {iset.count} instances, n={iset.n or 'mixed'}, "
            f"{int(iset.has_opt.sum())} with optimum, sha256 {iset.sha256()[:12]}"
        )
