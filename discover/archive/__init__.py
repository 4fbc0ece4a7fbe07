"""The archive of heuristics: reference rules and champions, their scores, and where they came from.

``entries`` reads the files, ``scoring`` scores code on the stored test sets, ``index`` keeps the
scores in ``archive/index.json``, ``runs`` and ``lineage`` read a run's history, and ``promote``
brings new champions in. The CLI (``discover archive ...``) is a thin layer over these functions.
"""

from discover.archive.entries import Entry, find_entry, load_entries
from discover.archive.errors import ArchiveError
from discover.archive.index import Index, IndexEntry, entry_status, read_index, refresh_index, write_index
from discover.archive.lineage import Lineage, Node, lineage
from discover.archive.runs import RunView
from discover.archive.scoring import SetScore, load_test_sets, open_evaluator

__all__ = ["ArchiveError", "Entry", "Index", "IndexEntry", "Lineage", "Node", "RunView", "SetScore",
           "entry_status", "find_entry", "lineage", "load_entries", "load_test_sets", "open_evaluator",
           "read_index", "refresh_index", "write_index"]
