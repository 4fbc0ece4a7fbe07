"""The registry of tasks: one package per problem, found by name, by a set file, or registered by anyone.

``get("total_tardiness")`` imports a built-in task's package on first use; ``register(task)`` adds
any other (a test's toy task, a user's problem) without touching this package.
"""

from __future__ import annotations

import importlib
import json
import os
from pathlib import Path
from typing import Any

from evaluator.task import Task

DEFAULT = "total_tardiness"
BUILTIN = {
    "total_tardiness": "evaluator.tasks.total_tardiness",
    "weighted_tardiness": "evaluator.tasks.weighted_tardiness",
}
_REGISTRY: dict[str, Task] = {}


class UnknownTask(ValueError):
    """A task name no package registers; the message lists the known ones."""


def register(task: Task) -> Task:
    """Add a task (replacing one of the same name) and return it."""
    if not getattr(task, "name", "") or not task.name.isidentifier():
        raise ValueError(f"task name {getattr(task, 'name', '')!r} must be a Python identifier")
    _REGISTRY[task.name] = task
    return task


def unregister(name: str) -> None:
    """Remove a registered task (built-ins come back on their next ``get``)."""
    _REGISTRY.pop(name, None)


def names() -> tuple[str, ...]:
    """Return the known task names: the built-ins, then the registered ones."""
    return tuple(dict.fromkeys([*BUILTIN, *_REGISTRY]))


def get(name: str | Task | None = None) -> Task:
    """Return the task of that name (None: the default); a Task is returned as is."""
    if isinstance(name, Task):
        return name
    name = name or DEFAULT
    if name not in _REGISTRY and name in BUILTIN:
        importlib.import_module(BUILTIN[name])  # the package registers its task
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UnknownTask(f"unknown task {name!r}; known tasks: {', '.join(names())}") from None


def task_of(raw: Any) -> Task:
    """Return a parsed set file's task: its ``task`` field, else one that accepts it, else the default."""
    if isinstance(raw, dict):
        named = raw.get("task")
        if isinstance(named, str):
            return get(named)
        for name in names():
            if name != DEFAULT and get(name).accepts(raw):
                return get(name)
    return get(DEFAULT)


def task_of_file(path: str | os.PathLike[str]) -> Task:
    """Return the task of a set file (one that is not JSON: the default, whose loader names why)."""
    try:
        raw = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        raw = None
    return task_of(raw)


def load(path: str | os.PathLike[str], task: str | Task | None = None) -> Any:
    """Read a set file with its task's loader (``task`` given: that one's)."""
    return (get(task) if task is not None else task_of_file(path)).load(path)


__all__ = ["DEFAULT", "Task", "UnknownTask", "get", "load", "names", "register", "task_of", "task_of_file",
           "unregister"]
