"""`discover report RUN_DIR`: one self-contained HTML page about a run."""

from __future__ import annotations

from pathlib import Path

import typer

from discover.archive.errors import ArchiveError
from discover.cli.common import UserError, console


def register(app: typer.Typer) -> None:
    """Add the `report` command to the app."""

    @app.command("report")
    def report(
        run_dir: Path = typer.Argument(..., metavar="RUN_DIR", help="A run folder (holding run.sqlite)."),
        out: Path = typer.Option(None, "-o", "--out",
                                 help="The HTML file to write (default RUN_DIR/report.html)."),
        archive: Path = typer.Option(None, "--archive",
                                     help="Archive holding the champion's test-set scores (default: the one"
                                     " the run promotes into)."),
    ) -> None:
        """Write a self-contained HTML page about a run: progress, outcomes, lineage, classes, cost, code."""
        from discover.report.page import write_report

        try:
            path = write_report(run_dir, out, archive)
        except ArchiveError as e:
            raise UserError(str(e)) from None
        except OSError as e:
            raise UserError(f"{out or run_dir}: cannot write the report: {e}") from None
        console.print(f"wrote {path}", markup=False, highlight=False)
