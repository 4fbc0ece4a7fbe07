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
TASK_HELP = ("The problem the set holds (a task: total_tardiness, weighted_tardiness); default: the file's"
             " own (its task field, or its fields: absent = total_tardiness).")


def load_task_set(path: Any, task: str | None = None) -> tuple[Any, Any]:
    """Return (task, set) of a set file, read with the named task's loader, else the file's own task's."""
    from evaluator import tasks
    from evaluator.instances import InstanceFileError

    try:
        chosen = tasks.get(task) if task else tasks.task_of_file(path)
        return chosen, chosen.load(path)
    except tasks.UnknownTask as e:
        if task:
            raise UserError(f"option --task: {e}") from None
        named = _task_field(path)
        raise UserError(f"{path}: unknown task {named!r} (field task); known tasks: "
                        f"{', '.join(tasks.names())}") from None
    except InstanceFileError as e:
        raise UserError(str(e)) from None


def _task_field(path: Any) -> Any:
    """Return the ``task`` field of a JSON set file (what named an unknown task)."""
    from pathlib import Path

    try:
        return json.loads(Path(path).read_text()).get("task")
    except (OSError, ValueError, AttributeError):
        return None
