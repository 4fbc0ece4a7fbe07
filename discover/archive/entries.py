"""Archive entries: the plain-Python reference rules and the champions with their provenance header.

Layout of an archive folder::

    references/<rule>.py   the classic rules and the study's heuristics, plain Python
    champions/<name>.py    discovered heuristics, a provenance header above the code
    baselines/*.json       the stored instance sets (see ``evaluator.stored``)
    index.json             every entry's scores on the stored test sets (see ``index.py``)

An entry's id is the rule's name for a reference (``MDD``, ``Aug-MDDC``) and the file stem for a
champion; lookups ignore case and also accept the file stem or ``references/<stem>``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from discover.archive.errors import ArchiveError
from discover.archive.layers import archive_task, base_of
from discover.programs import provenance
from evaluator import tasks

REFERENCES = {"edd": "EDD", "spt": "SPT", "mdd": "MDD", "psk": "PSK", "eddc": "EDDC", "mddc": "MDDC",
              "aug_mdd": "Aug-MDD", "aug_mddc": "Aug-MDDC"}
"""Reference file stem → rule name (the name ``evaluator.heuristics`` gives its numba version)."""


def reference_names(root: str | Path) -> dict[str, str]:
    """Return reference file stem → rule name, in the rules' usual order, for the archive's task: ΣT_j's
    ``REFERENCES``; another task's rules named as files (``Aug-WMDD`` is ``aug_wmdd.py``)."""
    task = archive_task(root)
    if task.name == tasks.DEFAULT:
        return REFERENCES
    return {name.lower().replace("-", "_"): name for name in task.rules()}

REFERENCE_DIR = "references"
CHAMPION_DIR = "champions"


@dataclass(frozen=True)
class Entry:
    """One archived heuristic.

    Parameters
    ----------
    id
        How commands name it (see the module docstring).
    kind
        ``"reference"`` or ``"champion"``.
    path
        Its file.
    code
        The code that is scored (a champion's file without its header).
    meta
        The champion's provenance header fields (empty for a reference).
    problem
        None when the entry can be trusted; else one line saying why not (hash mismatch, bad header).
    """

    id: str
    kind: str
    path: Path
    code: str
    meta: dict[str, Any] = field(default_factory=dict)
    problem: str | None = None

    @property
    def entry(self) -> str:
        """The name of the function to call."""
        return str(self.meta.get("entry") or "schedule")

    @property
    def code_sha256(self) -> str:
        return provenance.code_digest(self.code)

    @property
    def is_reference(self) -> bool:
        return self.kind == "reference"

    @property
    def origin(self) -> str:
        """One short line saying where the entry comes from."""
        if self.is_reference:
            return "reference"
        run, pid = self.meta.get("origin_run"), self.meta.get("program_id")
        if run:
            path = Path(str(run))
            if path.is_absolute() and path.is_relative_to(Path.cwd()):
                run = str(path.relative_to(Path.cwd()))
            return f"{run} #{pid}" if pid is not None else str(run)
        return str(self.meta.get("operator") or "hand-written")


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except (OSError, UnicodeDecodeError) as e:
        raise ArchiveError(f"{path}: cannot read: {e}") from None


def load_champion(path: Path, archive_dir: Path | None = None) -> Entry:
    """Read one champion file; a bad header or a hash mismatch is recorded in ``problem``."""
    text = _read(path)
    shown = path.relative_to(archive_dir) if archive_dir and path.is_relative_to(archive_dir) else path
    try:
        meta, code = provenance.parse(text, source=str(shown))
    except provenance.HeaderError as e:
        return Entry(path.stem, "champion", path, text, {}, f"bad header: {e}")
    problem = None
    if not provenance.verify(meta, code):
        recorded = str(meta.get("code_sha256", ""))[:12] or "(none)"
        problem = (f"hash mismatch: {shown}: header code_sha256 = {recorded}… but the code hashes to "
                   f"{provenance.code_digest(code)[:12]}… (the file was edited after it was archived)")
    return Entry(path.stem, "champion", path, code, meta, problem)


def load_entries(archive_dir: str | Path) -> list[Entry]:
    """Return the references (in the rules' usual order) then the champions (by file name).

    A user archive (see ``layers``) gives the shipped archive's entries, then its own champions.

    Raises
    ------
    ArchiveError
        When ``archive_dir`` is not an archive folder.
    """
    root = Path(archive_dir)
    refs, champs = root / REFERENCE_DIR, root / CHAMPION_DIR
    base = base_of(root)
    if root.exists() and not root.is_dir():
        raise ArchiveError(f"{root}: not an archive folder (not a folder at all)")
    if base is not None:  # a user archive: the shipped entries, then its own champions
        own = sorted(champs.glob("*.py")) if champs.is_dir() else []
        return load_entries(base) + [load_champion(p, root) for p in own if not p.name.startswith("_")]
    if not refs.is_dir() and not champs.is_dir():
        raise ArchiveError(f"{root}: not an archive folder "
                           f"(neither {REFERENCE_DIR}/ nor {CHAMPION_DIR}/ found)")
    known = reference_names(root)
    order = list(known)
    ref_files = sorted(refs.glob("*.py") if refs.is_dir() else (),
                       key=lambda p: (order.index(p.stem) if p.stem in order else len(order), p.stem))
    out = [Entry(known.get(p.stem, p.stem), "reference", p, _read(p)) for p in ref_files
           if not p.name.startswith("_")]
    if champs.is_dir():
        out += [load_champion(p, root) for p in sorted(champs.glob("*.py")) if not p.name.startswith("_")]
    return out


def find_entry(entries: list[Entry], ident: str) -> Entry:
    """Return the entry named ``ident`` (id, file stem, ``kind/stem`` or path; case ignored).

    Raises
    ------
    ArchiveError
        When no entry, or more than one, answers to that name.
    """
    key = ident.strip().lower().removesuffix(".py")
    hits = [e for e in entries if key in _names(e)]
    if len(hits) == 1:
        return hits[0]
    if not hits:
        known = ", ".join(e.id for e in entries) or "(the archive is empty)"
        raise ArchiveError(f"no archive entry {ident!r}; known: {known}")
    names = ", ".join(f"{e.kind}s/{e.path.name}" for e in hits)
    raise ArchiveError(f"{ident!r} is ambiguous: it names {names}; "
                       "write it as references/NAME or champions/NAME")


def _names(e: Entry) -> set[str]:
    folder = REFERENCE_DIR if e.is_reference else CHAMPION_DIR
    stem = e.path.stem.lower()
    return {e.id.lower(), stem, f"{folder}/{stem}", str(e.path.with_suffix("")).lower()}


def taken(entries: list[Entry], name: str) -> Entry | None:
    """Return the entry a new champion called ``name`` would clash with, if any."""
    key = name.lower()
    return next((e for e in entries if key in _names(e) or key == e.path.stem.lower()), None)
