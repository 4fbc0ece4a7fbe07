"""A program's ancestry in its run: parents followed back to the seed programs.

Copies made by island resets and migrations are collapsed onto the program they copy, so the
lineage shows only programs an LLM wrote (and the seeds).
"""

from __future__ import annotations

from collections import deque
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from discover.archive.errors import ArchiveError
from discover.archive.runs import RunView

MAX_NODES = 400


@dataclass(frozen=True)
class Node:
    """One ancestor: its run program id, how it was made, and its training gap."""

    id: int
    operator: str
    island: int
    gap: float | None
    parents: tuple[int, ...]
    description: str
    depth: int  # steps from the program whose lineage this is

    @property
    def is_seed(self) -> bool:
        return self.operator == "seed" or not self.parents

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"parents": list(self.parents)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Node:
        return cls(id=int(d["id"]), operator=str(d["operator"]), island=int(d.get("island", 0)),
                   gap=d.get("gap"), parents=tuple(int(x) for x in d.get("parents", ())),
                   description=str(d.get("description", "")), depth=int(d.get("depth", 0)))


@dataclass(frozen=True)
class Lineage:
    """The ancestry of one program, nearest first.

    ``omitted`` counts the ancestors left out past the cap (parents of kept nodes that are not in
    ``nodes``); renderers show such parents as "not shown".
    """

    nodes: tuple[Node, ...]
    omitted: int = 0

    @property
    def root(self) -> Node:
        return self.nodes[0]

    def by_id(self) -> dict[int, Node]:
        """Return the nodes keyed by program id."""
        return {n.id: n for n in self.nodes}

    def seeds(self) -> list[Node]:
        """Return the seed programs the lineage reaches."""
        return [n for n in self.nodes if n.is_seed]

    def to_dict(self) -> dict[str, Any]:
        return {"nodes": [n.to_dict() for n in self.nodes], "omitted": self.omitted}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Lineage:
        return cls(tuple(Node.from_dict(x) for x in d.get("nodes", ())), int(d.get("omitted", 0)))


def lineage(view: RunView, pid: int, max_nodes: int = MAX_NODES) -> Lineage:
    """Return the ancestry of program ``pid`` (breadth first from it), copies collapsed.

    Raises
    ------
    ArchiveError
        When the run holds no program ``pid``.
    """
    start = view.original(pid)
    if start is None:
        raise ArchiveError(f"{view.run_dir}: no program #{pid} in the run")
    depth = {start.id: 0}
    queue = deque([start.id])
    nodes: list[Node] = []
    omitted = 0
    while queue:
        p = view.program(queue.popleft())
        assert p is not None
        parents = []
        for q in p.parents:
            orig = view.original(q)
            if orig is not None and orig.id not in parents and orig.id != p.id:
                parents.append(orig.id)
        if len(nodes) >= max_nodes:
            omitted += 1
            continue
        nodes.append(Node(p.id, p.operator, p.island, p.gap, tuple(parents), p.description, depth[p.id]))
        for q in parents:
            if q not in depth:
                depth[q] = depth[p.id] + 1
                queue.append(q)
    return Lineage(tuple(nodes), omitted)


def find_run(origin_run: str, archive_dir: Path) -> Path | None:
    """Return the run folder a champion names, looked up as given, then beside the archive folder."""
    if not origin_run:
        return None
    for base in (Path.cwd(), Path.cwd() / "runs", archive_dir.resolve().parent):
        path = (base / origin_run) if not Path(origin_run).is_absolute() else Path(origin_run)
        if (path / "run.sqlite").is_file():
            return path
    return None


def champion_lineage(meta: dict[str, Any], archive_dir: Path) -> Lineage | None:
    """Return a champion's lineage from its origin run, or None when that run is not on this disk."""
    run = find_run(str(meta.get("origin_run") or ""), archive_dir)
    pid = meta.get("program_id")
    if run is None or not isinstance(pid, int):
        return None
    try:
        with RunView(run) as view:
            return lineage(view, pid)
    except ArchiveError:
        return None  # an unreadable run or a missing program: no lineage rather than no index
