"""Shared bits of the CLI: consoles and the one-line user error."""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console

console = Console()
err_console = Console(stderr=True)


class UserError(Exception):
    """An expected failure (bad file, bad value): shown as one line, exit code 2."""


def print_json(obj: Any) -> None:
    """Print an object as JSON on stdout (plain, no markup)."""
    sys.stdout.write(json.dumps(obj, indent=2, sort_keys=False) + "\n")


EXECUTOR_HELP = ("Where candidates are scored: local, or ray (a sandbox on each node of a Ray cluster;"
                 " evaluation.executor)")
ADDRESS_HELP = ("The Ray cluster, host:port of its head (evaluation.ray_address); default: the one started on"
                " this machine with `ray start --head`.")
