"""A task's test sets scored on the fly: its reference rules and any program, with gaps split by whether
``opt`` is proven optimal or only the best known value (OR-Library's larger weighted sets).

The ΣT_j archive keeps its test-set scores in ``index.json`` (see ``discover.archive.index``); a task
whose test sets lie outside the archive (weighted tardiness: ``../shared/benchmarks``) is scored here.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from discover.archive.errors import ArchiveError
from evaluator import tasks
from evaluator.instances import InstanceFileError
from evaluator.task import Task


@dataclass(frozen=True)
class TestScore:
    """One program on one test set; gaps in %, None where no instance of the kind is there."""

    set: str
    n: int | None
    instances: int
    proven: int  # instances whose opt is proven optimal
    gap_proven: float | None  # mean gap to the optimum over those
    gap_best_known: float | None  # mean gap to the best known value over the others
    at_opt: int  # instances where the program reaches opt (a value below a best known one counts too)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def load_tests(task: Task | str | None = None) -> list[tuple[str, Any]]:
    """Return (name, set) of each of the task's test sets that exists; a bad file is an ArchiveError."""
    task = tasks.get(task)
    out = []
    for path in task.test_sets:
        if Path(path).is_file():
            try:
                out.append((Path(path).stem, task.load(path)))
            except InstanceFileError as e:
                raise ArchiveError(str(e)) from None
    return out


def _mean(a: np.ndarray) -> float | None:
    a = a[~np.isnan(a)]
    return round(float(a.mean()), 6) if a.size else None


def score_values(values: np.ndarray, name: str, iset: Any, task: Task) -> TestScore:
    """Summarise a program's values on a test set against its ``opt``."""
    gaps = task.gaps(values, iset.opt)
    proven = task.proven(iset)
    known = iset.has_opt & ~proven
    return TestScore(name, iset.n, iset.count, int(proven.sum()), _mean(gaps[proven]), _mean(gaps[known]),
                     int(np.sum(iset.has_opt & (values >= 0) & (values <= iset.opt))))


def test_scores(code: str, evaluator: Any, task: Task | str | None = None, entry: str = "schedule",
                timeout_s: float = 600.0) -> dict[str, Any]:
    """Return the JSON form of a champion's and the reference rules' scores on the task's test sets
    (``{"sets": [...], "champion": {set: score} or {"error": ...}, "references": {rule: {set: score}}}``)."""
    sets = load_tests(task)
    try:
        champ: dict[str, Any] = {k: v.to_dict() for k, v in
                                 score_program(code, evaluator, task, entry, sets, timeout_s).items()}
    except ArchiveError as e:
        champ = {"error": str(e)}
    refs = {r: {k: v.to_dict() for k, v in by.items()} for r, by in score_rules(task, sets).items()}
    return {"sets": [s for s, _ in sets], "champion": champ, "references": refs}


def score_rules(task: Task | str | None = None, sets: list[tuple[str, Any]] | None = None,
                names: tuple[str, ...] | None = None) -> dict[str, dict[str, TestScore]]:
    """Return rule → set → score of the task's reference rules (numba) on its test sets."""
    task = tasks.get(task)
    sets = load_tests(task) if sets is None else sets
    rules = task.rules()
    return {name: {s: score_values(task.values(iset, rules[name](iset)), s, iset, task) for s, iset in sets}
            for name in (names or tuple(rules))}


def score_program(code: str, evaluator: Any, task: Task | str | None = None, entry: str = "schedule",
                  sets: list[tuple[str, Any]] | None = None,
                  timeout_s: float = 600.0) -> dict[str, TestScore]:
    """Return set → score of a program run in the sandbox on the task's test sets.

    Raises
    ------
    ArchiveError
        ``<set>: <status>: <error>`` at the first set where the program fails.
    """
    task = tasks.get(task)
    out = {}
    for s, iset in load_tests(task) if sets is None else sets:
        r = evaluator.evaluate(code, iset, entry=entry, timeout_s=timeout_s, task=task)
        if r.status != "ok":
            why = (r.error or r.status).strip().splitlines()[-1]
            raise ArchiveError(f"{s}: {r.status}: {why}")
        out[s] = score_values(np.asarray(r.values, dtype=np.int64), s, iset, task)
    return out
