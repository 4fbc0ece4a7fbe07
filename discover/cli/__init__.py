"""The ``discover`` command line: a thin layer over the library; each command group has its module."""

from __future__ import annotations

import sys

import typer

from discover.cli import common

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    help="Discover single-machine scheduling heuristics with an LLM, scored against exact optima:"
    " total tardiness (1||ΣT_j) by default, weighted tardiness with --task weighted_tardiness.",
)

_MODULES = ("instances", "baselines", "solve", "evaluate", "llm", "run", "show", "archive", "report")


def _register() -> None:
    import importlib

    for name in _MODULES:
        mod = importlib.import_module(f"discover.cli.{name}")
        mod.register(app)


_register()


def main() -> None:
    """Run the CLI; expected errors become one line on stderr and a non-zero exit."""
    try:
        app()
    except common.UserError as e:
        common.err_console.print(f"error: {e}", markup=False, highlight=False, soft_wrap=True)
        sys.exit(2)
