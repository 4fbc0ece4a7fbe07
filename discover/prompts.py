"""Prompt templates (the ``prompts/`` folder beside the package) and the messages built from them.

Every parent program goes in its own ```python fenced block: the offline LLM backend reads them
back from there.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path
from string import Template

from discover.paths import PROMPTS_DIR
from discover.programs.normalize import suffix_top_level
from discover.search.operators import BY_NAME, REGISTRY
from evaluator import tasks
from evaluator.task import Task

PARENTS_PER_OPERATOR = {op.name: op.parents for op in REGISTRY}
PROMPTS_ENV = "DISCOVER_PROMPTS"


class PromptError(RuntimeError):
    """The prompt folder or a template is missing or malformed."""


def prompts_dir(folder: str | Path | None = None) -> Path:
    """Return the prompt folder: ``folder`` (config ``prompts``), $DISCOVER_PROMPTS, or ``prompts/``."""
    env = os.environ.get(PROMPTS_ENV)
    path = Path(folder) if folder else Path(env) if env else PROMPTS_DIR
    if not (path / "system.txt").is_file():
        raise PromptError(
            f"prompt templates not found: {path}/system.txt is missing (point --prompts or the config's"
            f" prompts field at a folder of templates, set {PROMPTS_ENV}, or install the project from its"
            " source tree with `pip install -e .`)")
    return path


@dataclass(frozen=True)
class Parent:
    """A parent as shown in a prompt; ``note`` adds its cost and scale-probe gaps (``; ...`` clauses)."""

    id: int
    code: str
    gap: float
    note: str = ""


@dataclass(frozen=True)
class Templates:
    """The loaded templates: one per operator, the system prompt and the parent block."""

    system: Template
    parent: Template
    operators: dict[str, Template]
    numba: str = ""  # what numba accepts (numba.txt), shown only when the policy allows numba

    def messages(self, operator: str, parents: list[Parent], entry: str = "schedule",
                 jobs: int | None = 25, limits: str = "", failures: tuple[str, ...] = (),
                 task: Task | str | None = None) -> tuple[dict, ...]:
        """Return the chat messages asking ``operator`` of the parents (ordered worst to best).

        ``limits`` is the paragraph stating the time limit, the budget and the sizes (see
        ``limits_text``); ``failures`` are the island's last failures, one line each. The system
        prompt's ``$problem`` and ``$scoring`` are the task's text (default: total tardiness).
        """
        if operator not in self.operators:
            raise PromptError(f"unknown operator {operator!r}; known: {', '.join(self.operators)}")
        task = tasks.get(task)
        words = {"entry": entry, "imports": allowed_imports(), "helpers": helpers_text(),
                 "jobs": f"n = {jobs}" if jobs else "various n"}
        system = self.system.safe_substitute(**words, problem=task.prompt(**words),
                                             scoring=Template(task.scoring).safe_substitute(words),
                                             numba=f"\n{self.numba.strip()}\n" if numba_allowed() else "",
                                             limits=limits or DEFAULT_LIMITS)
        args = ", ".join(task.fields)
        if operator in BY_NAME and BY_NAME[operator].versions:
            user = self._versioned(operator, parents, entry, args)
        else:
            blocks = "\n".join(
                self.parent.safe_substitute(label=_label(k, len(parents)), score=_score(p),
                                            code=p.code.strip())
                for k, p in enumerate(parents))
            user = self.operators[operator].safe_substitute(entry=entry, parents=blocks.strip(),
                                                            count=len(parents), args=args)
        if failures:
            user += ("\n\nThe last failed attempts on these heuristics (learn the limits from them):\n"
                     + "\n".join(f"- {f}" for f in failures))
        return ({"role": "system", "content": system}, {"role": "user", "content": user})

    def _versioned(self, operator: str, parents: list[Parent], entry: str, args: str = "p, d") -> str:
        if len(parents) == 1:
            parents = [parents[0], parents[0]]
        v0, v1 = parents[-2], parents[-1]
        code = "\n\n".join(f"```python\n{_suffixed(p.code, f'_v{k}').strip()}\n```"
                           for k, p in enumerate((v0, v1)))
        return self.operators[operator].safe_substitute(
            entry=entry, code=code, score_0=_score(v0), score_1=_score(v1), args=args)


@functools.lru_cache(maxsize=4096)
def _suffixed(code: str, suffix: str) -> str:
    return suffix_top_level(code, suffix)


def _label(k: int, count: int) -> str:
    return chr(ord("A") + k) if count > 1 else "A"


def _gap(g: float) -> str:
    return f"{g:.3f} %"


def _score(p: Parent) -> str:
    return _gap(p.gap) + p.note


DEFAULT_LIMITS = "It must finish in well under a second for n = 100."


def limits_text(timeout_s: float, train_count: int, train_n: int, budget: str | None, cost_n: int,
                objective: str, probe_ns: tuple[int, ...], test_ns: tuple[int, ...],
                probe_s: float = 0.0) -> str:
    """Return the system prompt's paragraph on the real limits, from the run's configuration.

    ``probe_s``: the CPU seconds per instance a program has on the scale-probe sets (0: unstated).
    """
    per = 1000 * timeout_s / max(1, train_count)
    lines = [f"Time limit: {timeout_s:g} s of CPU time for all {train_count} training instances of"
             f" n = {train_n} together (about {per:.3g} ms per instance); a program that exceeds it scores"
             " nothing (status timeout)."]
    if objective == "budget" and budget:
        lines.append(f"Cost budget: every valid program is timed against a reference on instances of"
                     f" n = {cost_n}; one slower than {budget} is rejected (status over_budget). Fast rules"
                     " (about O(n^2) work or less) are what is wanted.")
    elif objective == "pareto":
        lines.append(f"Cost counts: every valid program is timed at n = {cost_n} against a reference, and"
                     " programs that are both accurate and fast (on the gap-cost Pareto front) are kept.")
    sizes = ", ".join(str(n) for n in test_ns)
    within = f" (within {probe_s:.3g} s of CPU time per instance)" if probe_s > 0 else ""
    ns = ", ".join(map(str, probe_ns))
    probe = f" promising programs are also scored at n = {ns}{within};" if probe_ns else ""
    lines.append(f"Sizes: training uses n = {train_n};{probe} the test sets use n = {sizes}, so the"
                 " program must stay accurate and fast as n grows.")
    return "\n".join(lines)


def load_templates(path: str | Path | None = None) -> Templates:
    """Read the system prompt, the parent block and one template per operator (see ``prompts_dir``)."""
    path = prompts_dir(path)

    def read(name: str) -> Template:
        f = path / f"{name}.txt"
        try:
            return Template(f.read_text())
        except FileNotFoundError:
            raise PromptError(f"prompt template missing: {f}") from None

    numba = path / "numba.txt"
    return Templates(system=read("system"), parent=read("parent"),
                     operators={op.name: read(op.template_name) for op in REGISTRY},
                     numba=numba.read_text() if numba.is_file() else "")


@functools.cache
def allowed_imports() -> str:
    """Return the modules a candidate may import (the sandbox's policy), as the system prompt lists them."""
    from evaluator.sandbox.policy import ALLOWED_IMPORTS, ALLOWED_MODULES

    listed = [m for m in ALLOWED_IMPORTS if m in ALLOWED_MODULES]
    names = listed + sorted(ALLOWED_MODULES - set(listed))
    return ", ".join("numpy (as np)" if m == "numpy" else m for m in names)


def numba_allowed() -> bool:
    """Say whether the sandbox's policy lets a candidate import numba (then the prompt explains it)."""
    from evaluator.sandbox.policy import module_allowed

    return module_allowed("numba")


@functools.cache
def helpers_text() -> str:
    """Return the helpers' signatures and one-line summaries, generated from ``evaluator.helpers``."""
    from evaluator.helpers import describe

    return describe()


def references_dir(task: Task | str | None = None) -> Path:
    """Return the task's folder of plain-Python reference programs (ΣT_j: ``archive/references/``)."""
    return tasks.get(task).references


def seed_programs(names: tuple[str, ...] | list[str] | None = None, folder: Path | None = None,
                  task: Task | str | None = None) -> dict[str, str]:
    """Return the seed programs (name → code): each entry names ``<name>.py`` of the task's references
    or is the path of a ``.py`` file (its name is the file's stem); None: the task's seeds."""
    names = tasks.get(task).seeds if names is None else names
    folder = folder or references_dir(task)
    seeds = {}
    for entry in names:
        is_path = entry.endswith(".py") or "/" in entry
        f = Path(entry) if is_path else folder / f"{entry}.py"
        name = f.stem
        if name in seeds:
            raise PromptError(f"seed program {entry!r}: a seed named {name!r} is already given")
        try:
            seeds[name] = f.read_text()
        except FileNotFoundError:
            raise PromptError(f"seed program {name!r} not found: {f} is missing") from None
        except (OSError, UnicodeDecodeError) as e:
            raise PromptError(f"seed program {name!r}: cannot read {f}: {e}") from None
    return seeds
