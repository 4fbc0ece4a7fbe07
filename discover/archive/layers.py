"""A user archive read on top of the shipped one.

An archive folder that holds its own ``references/`` stands alone (the project's ``archive/``, or a
complete copy of it). One that does not is a *user archive* (``champions/`` and ``index.json`` only;
by default ``$XDG_DATA_HOME/discover/archive``): it is read on top of the shipped archive, which lends
it the reference rules, the shipped champions, the stored sets and their scores. Everything written
(new champions, their scores) goes to the user archive; the shipped archive is only read.
"""

from __future__ import annotations

from pathlib import Path

from discover.paths import ARCHIVE_DIR
from evaluator import tasks
from evaluator.task import Task

REFERENCE_DIR = "references"
CHAMPION_DIR = "champions"
BASELINE_DIR = "baselines"


def task_archive(root: str | Path, task: Task | str | None = None) -> Path:
    """Return the archive of a task inside an archive folder: the folder itself for the default task
    (total tardiness), else its subfolder named after the task, laid out alike."""
    task = tasks.get(task)
    return Path(root) if task.name == tasks.DEFAULT else Path(root) / task.name


def archive_task(root: str | Path) -> Task:
    """Return the task whose archive a folder is: a folder named after a task other than the default
    (``archive/weighted_tardiness``, ``$XDG_DATA_HOME/discover/archive/weighted_tardiness``) holds that
    task's entries; any other folder holds total tardiness's."""
    name = Path(root).name
    return tasks.get(name if name != tasks.DEFAULT and name in tasks.names() else tasks.DEFAULT)


def base_of(root: str | Path) -> Path | None:
    """Return the shipped archive a user archive is read on top of, or None for a standalone archive.

    A task's subfolder of a user archive reads the same subfolder of the shipped archive."""
    root = Path(root)
    if (root / REFERENCE_DIR).is_dir() or root.resolve() == ARCHIVE_DIR.resolve():
        return None
    if root.name != tasks.DEFAULT and root.name in tasks.names():
        return task_archive(ARCHIVE_DIR, root.name)
    return ARCHIVE_DIR


def sets_root(root: str | Path) -> Path:
    """Return the archive whose ``baselines/`` holds the stored sets: its own, else the shipped one's."""
    root = Path(root)
    base = base_of(root)
    return root if base is None or (root / BASELINE_DIR).is_dir() else base


def own_ids(root: str | Path) -> set[str] | None:
    """Return the ids of the champions a user archive holds itself (None: a standalone archive)."""
    root = Path(root)
    if base_of(root) is None:
        return None
    return {p.stem for p in (root / CHAMPION_DIR).glob("*.py") if not p.name.startswith("_")}


def archive_folders(root: str | Path) -> list[Path]:
    """Return the folders of programs a run's champion is compared with: references, then champions."""
    root = Path(root)
    base = base_of(root)
    layers = [root] if base is None else [base, root]
    return [layers[0] / REFERENCE_DIR] + [r / CHAMPION_DIR for r in layers]
