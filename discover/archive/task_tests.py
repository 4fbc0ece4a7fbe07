"""A task's test sets scored on the fly: its reference rules and any program, with gaps split by whether
``opt`` is proven optimal or only the best known value (OR-Library's larger weighted sets).

The archive index (``discover.archive.index``) keeps every entry's test-set scores; this module gives
a run's champion step the champion's and the rules' scores on the task's test sets in the form the run
report shows (``test_scores`` in the run's state), and the champion's as the index keeps them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from discover.archive.errors import ArchiveError
from discover.archive.scoring import SetScore, score_code, task_test_sets
from evaluator import tasks
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


def covered(score: dict[str, Any], key: str) -> int:
    """Return how many instances the ``gap_proven`` or ``gap_best_known`` figure of a score's dict covers."""
    proven = score.get("proven", 0)
    return proven if key == "gap_proven" else score.get("instances", 0) - proven


def load_tests(task: Task | str | None = None) -> list[tuple[str, Any]]:
    """Return (name, set) of each of the task's test sets that exists; a bad file is an ArchiveError."""
    return [(s.name, s.iset) for s in task_test_sets(tasks.get(task))]


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
    return champion_tests(code, evaluator, task, entry, timeout_s)[0]


def champion_tests(code: str, evaluator: Any, task: Task | str | None = None, entry: str = "schedule",
                   timeout_s: float = 600.0) -> tuple[dict[str, Any], dict[str, SetScore] | None]:
    """Return ``test_scores``'s JSON form and the champion's scores as the archive index keeps them
    (None where it failed on a set)."""
    task = tasks.get(task)
    stored = task_test_sets(task)
    sets = [(s.name, s.iset) for s in stored]
    try:
        scores = score_code(code, entry, stored, evaluator, "the champion", timeout_s)
        champ: dict[str, Any] = {s.name: _summary(scores[s.name], s.iset, task).to_dict() for s in stored}
    except ArchiveError as e:
        scores, champ = None, {"error": str(e).removeprefix("the champion: ")}
    refs = {r: {k: v.to_dict() for k, v in by.items()} for r, by in score_rules(task, sets).items()}
    return {"sets": [s for s, _ in sets], "champion": champ, "references": refs}, scores


def _summary(sc: SetScore, iset: Any, task: Task) -> TestScore:
    return score_values(np.asarray(sc.values, dtype=np.int64), sc.set, iset, task)


def score_rules(task: Task | str | None = None, sets: list[tuple[str, Any]] | None = None,
                names: tuple[str, ...] | None = None) -> dict[str, dict[str, TestScore]]:
    """Return rule → set → score of the task's reference rules (numba) on its test sets."""
    task = tasks.get(task)
    sets = load_tests(task) if sets is None else sets
    rules = task.rules()
    return {name: {s: score_values(task.values(iset, rules[name](iset)), s, iset, task) for s, iset in sets}
            for name in (names or tuple(rules))}
