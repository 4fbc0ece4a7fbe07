"""The task seam: everything a single-machine problem owns, behind one interface.

The sandbox runs a candidate on a task's inputs and sends back orders; the task scores them. The
search, the store, the archive and the report ask the task for what is problem knowledge: the
instance format, the entry's arguments and the prompt's contract text, the objective, the gap
convention, the seed and reference programs, the live-view baseline, the stored sets and the exact
solver. A task is one package under ``evaluator/tasks/`` (or anywhere: ``evaluator.tasks.register``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from string import Template
from typing import Any, ClassVar

import numpy as np

from evaluator.scoring import gaps_pct

ARCHIVE_DIR = Path(__file__).resolve().parents[1] / "archive"
BASELINES_DIR = ARCHIVE_DIR / "baselines"


class Task:
    """One problem: subclass it, set the class attributes, implement ``load``, ``generate`` and ``values_at``.

    Attributes
    ----------
    name
        Registry key; also the ``task`` field of a set file and of a run's config.
    title, objective
        e.g. ``1||ΣT_j`` and ``total tardiness`` (for people).
    fields
        The entry's positional arguments, in order: attributes of the task's instance set holding
        flat int64 arrays parallel to its ``p`` (the sandbox sends exactly these to a candidate).
    inputs
        The same arguments in words, for the message of a candidate whose entry takes too few.
    warm
        A tiny fixed instance, one tuple per field: the warm-up call that makes numba compile.
    seeds, baseline, cost_reference
        The programs every island starts from, the one whose gap the live view shows beside the
        best, and the program costs are timed against (names in ``references``).
    references
        Folder of the task's reference programs as plain Python (``NAME.py`` defining ``schedule``).
    prompt_file
        The system prompt's problem, contract and helpers paragraphs: a ``string.Template`` with
        ``$entry``, ``$imports`` and ``$helpers``; ``scoring`` is the sentence on how it is scored.
    train_set, valid_set, probe_sets, test_sets, test_ns
        The stored sets (test sets may lie outside the archive; a missing file is skipped).
    class_references
        The reference rules the report sets beside the champion, class by class.
    exact_methods
        The methods of ``solve_exact``, the default first (empty: the task has no exact solver).
    best_known_opt
        Whether a set's ``opt`` may hold a best-known value marked ``proven: false`` (the solved copy
        of ``discover solve`` then records the best value found where it proves none).
    """

    name: ClassVar[str]
    title: ClassVar[str]
    objective: ClassVar[str]
    fields: ClassVar[tuple[str, ...]]
    inputs: ClassVar[str]
    warm: ClassVar[tuple[tuple[int, ...], ...]]
    seeds: ClassVar[tuple[str, ...]]
    baseline: ClassVar[str]
    cost_reference: ClassVar[str]
    references: ClassVar[Path]
    prompt_file: ClassVar[Path]
    scoring: ClassVar[str]
    train_set: ClassVar[Path]
    valid_set: ClassVar[Path]
    probe_sets: ClassVar[tuple[Path, ...]] = ()
    test_sets: ClassVar[tuple[Path, ...]] = ()
    test_ns: ClassVar[tuple[int, ...]] = ()
    class_references: ClassVar[tuple[str, ...]] = ()
    exact_methods: ClassVar[tuple[str, ...]] = ()
    best_known_opt: ClassVar[bool] = False

    # --- instances -------------------------------------------------------------------------------
    def load(self, path: str | os.PathLike[str]) -> Any:
        """Read and check a set file; raise ``InstanceFileError`` (one line: file, instance, field)."""
        raise NotImplementedError

    def accepts(self, raw: dict[str, Any]) -> bool:
        """Whether a parsed set file without a ``task`` field holds this task's instances."""
        return False

    def generate(self, n: int, per_class: int, seed: int, name: str | None = None) -> Any:
        """Draw a set of the task's instance classes (deterministic in ``seed``)."""
        raise NotImplementedError

    def columns(self, iset: Any) -> tuple[np.ndarray, ...]:
        """Return the flat input arrays of a set, in the order of ``fields``."""
        return tuple(getattr(iset, f) for f in self.fields)

    def instance(self, iset: Any, i: int) -> tuple[np.ndarray, ...]:
        """Return the inputs of instance ``i``, in the order of ``fields``."""
        a, b = int(iset.offsets[i]), int(iset.offsets[i + 1])
        return tuple(c[a:b] for c in self.columns(iset))

    # --- objective -------------------------------------------------------------------------------
    def values_at(self, iset: Any, idx: np.ndarray, orders: np.ndarray) -> np.ndarray:
        """Return the objective of instance ``idx[k]`` under the k-th order of flat ``orders`` (-1: not a
        permutation): the parent's scoring of what a candidate's process sent back."""
        raise NotImplementedError

    def values(self, iset: Any, orders: np.ndarray) -> np.ndarray:
        """Return the objective of one order per instance; ``orders`` is flat like the set's ``p``."""
        orders = np.ascontiguousarray(orders, dtype=np.int64)
        if orders.shape != iset.p.shape:
            raise ValueError(f"orders must be flat with {iset.p.shape[0]} entries, got shape {orders.shape}")
        return self.values_at(iset, np.arange(iset.count, dtype=np.int64), orders)

    def gaps(self, values: np.ndarray, opt: np.ndarray) -> np.ndarray:
        """Return the gap % per instance: 100·(H − opt)/opt, NaN where opt is unknown or zero."""
        return gaps_pct(values, opt)

    def proven(self, iset: Any) -> np.ndarray:
        """Return per instance whether its ``opt`` is proven optimal (else it is the best known value)."""
        from evaluator.stored import proven_mask

        return proven_mask(iset)

    # --- programs --------------------------------------------------------------------------------
    def rules(self) -> dict[str, Callable[[Any], np.ndarray]]:
        """Return the reference rules compiled with numba: name → (set → flat orders)."""
        return {}

    def exact(self, *inputs: np.ndarray) -> int | None:
        """Return the optimum of one instance, or None where the task has no exact solver for it."""
        return None

    def solve_exact(self, inputs: tuple[np.ndarray, ...], method: str, time_limit: float | None = None,
                    **options: Any) -> Any:
        """Solve one instance (its inputs in the order of ``fields``) exactly: an ``ExactResult``.

        ``options`` are method-specific settings a solver may ignore (memo caps, clocks)."""
        raise NotImplementedError(f"task {self.name} has no exact solver")

    def with_solutions(self, iset: Any, opt: np.ndarray, proven: np.ndarray, extras: tuple[dict, ...]) -> Any:
        """Return ``iset`` with ``opt`` and per-instance ``extras`` replaced (and ``proven``, where the
        task keeps it apart from the extras)."""
        return iset.with_fields(opt=opt, extras=extras)

    def dumps(self, iset: Any) -> str:
        """Serialise a set as its set file (compact, deterministic)."""
        from evaluator.instances import dumps_set

        return dumps_set(iset)

    def prompt(self, entry: str, **subs: str) -> str:
        """Return the problem, contract and helpers paragraphs of the system prompt."""
        return Template(self.prompt_file.read_text()).safe_substitute(entry=entry, **subs).rstrip("\n")

    def config_defaults(self) -> dict[str, Any]:
        """Return the config fields this task decides when a run does not set them (dotted keys)."""
        return {
            "evaluation.train_set": str(self.train_set), "evaluation.valid_set": str(self.valid_set),
            "cost.reference": self.cost_reference, "cost.probe_sets": [str(p) for p in self.probe_sets],
            "search.seeds": list(self.seeds),
        }

    def __repr__(self) -> str:
        return f"<task {self.name}: {self.title}>"
