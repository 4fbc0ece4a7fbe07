"""`discover archive list --task T` for a task other than ΣT_j: its references and champions on its test
sets, scored now (references: the task's numba rules; champions: in the sandbox), gaps split by whether
the set's ``opt`` is proven optimal or only the best known value."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich import box
from rich.table import Table

from discover.archive.layers import CHAMPION_DIR, archive_folders, task_archive
from discover.archive.task_tests import TestScore, load_tests, score_program, score_rules
from discover.cli.common import console, print_json
from discover.search.champion import archive_programs
from evaluator import tasks


def task_entries(root: Path, task_name: str) -> dict[str, Any]:
    """Return the JSON form of the task archive's entries with their test-set scores."""
    from evaluator.sandbox import Sandbox

    task = tasks.get(task_name)
    folder = task_archive(root, task)
    sets = load_tests(task)
    entries: dict[str, Any] = {name: {"kind": "reference", "scores": by}
                               for name, by in score_rules(task, sets).items()}
    champions = archive_programs([f for f in archive_folders(folder) if f.name == CHAMPION_DIR])
    if champions:
        with Sandbox() as sb:
            for name, code in champions.items():
                scores = score_program(code, sb, task, "schedule", sets)
                entries[name] = {"kind": "champion", "scores": scores}
    return {"archive": str(folder), "task": task.name, "sets": [s for s, _ in sets], "entries": entries}


def _cell(sc: TestScore, proven: bool) -> str:
    gap = sc.gap_proven if proven else sc.gap_best_known
    return "–" if gap is None else f"{gap:.3f}"


def list_task(root: Path, task_name: str, as_json: bool) -> None:
    """Print the task archive's entries by their mean gap over the test sets (both kinds of opt)."""
    data = task_entries(root, task_name)
    if as_json:
        print_json({**data, "entries": {k: {"kind": v["kind"], "scores": {s: sc.to_dict() for s, sc in
                                                                           v["scores"].items()}}
                                        for k, v in data["entries"].items()}})
        return
    first = {s: next(iter(e["scores"][s] for e in data["entries"].values())) for s in data["sets"]}
    count = {(s, kind): first[s].proven if kind else first[s].instances - first[s].proven
             for s in data["sets"] for kind in (True, False)}
    cols = [key for key, k in count.items() if k]
    t = Table(title=f"{data['archive']}: {len(data['entries'])} entries of {data['task']}, scored on"
              f" {', '.join(data['sets'])}",
              box=box.SIMPLE_HEAD,
              caption_justify="left", caption="mean gap % per test set: to the proven optimum (opt), and to "
              "the best known value where opt is not proven (bk: a gap there may understate the gap to the "
              "optimum); sorted by the mean of the columns")
    t.add_column("id", style="bold", no_wrap=True)
    t.add_column("kind")
    for s, kind in cols:
        t.add_column(f"n={first[s].n} {'opt' if kind else 'bk'} ({count[s, kind]})", justify="right")

    def mean(e: dict[str, Any]) -> float:
        gaps = [(e["scores"][s].gap_proven if kind else e["scores"][s].gap_best_known) for s, kind in cols]
        gaps = [g for g in gaps if g is not None]
        return sum(gaps) / len(gaps) if gaps else float("inf")

    for name, e in sorted(data["entries"].items(), key=lambda kv: (mean(kv[1]), kv[0])):
        t.add_row(name, e["kind"], *(_cell(e["scores"][s], kind) for s, kind in cols))
    console.print(t)
