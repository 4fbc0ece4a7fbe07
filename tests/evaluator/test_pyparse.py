"""Parsing from several threads: the lock in ``evaluator.pyparse`` and that every parse goes through it."""

from __future__ import annotations

import gc
import re
import sys
import threading

from evaluator import pyparse
from tests.conftest import REPO

ROOT = REPO


class _Finaliser:
    """Garbage whose finaliser runs Python code, so the collector may switch threads inside a parse."""

    def __del__(self) -> None:
        sum(range(2000))


def test_parsing_from_threads_while_finalisers_switch_threads_never_fails() -> None:
    source = (ROOT / "discover" / "programs" / "extract.py").read_text()
    errors: list[BaseException] = []

    def work() -> None:
        for _ in range(30):
            for _ in range(50):
                junk = _Finaliser()
                junk.cycle = junk
                del junk
            try:
                pyparse.parse(source)
            except SystemError as e:  # CPython gh-106905 without the lock
                errors.append(e)

    interval, thresholds = sys.getswitchinterval(), gc.get_threshold()
    sys.setswitchinterval(1e-6)
    gc.set_threshold(100, 2, 2)
    try:
        threads = [threading.Thread(target=work) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(interval)
        gc.set_threshold(*thresholds)
    assert errors == []


def test_no_module_of_the_project_calls_ast_parse_itself() -> None:
    direct = re.compile(r"\bast\.parse\(")
    offenders = [
        str(path.relative_to(ROOT))
        for package in ("discover", "evaluator")
        for path in sorted((ROOT / package).rglob("*.py"))
        if path.name != "pyparse.py" and direct.search(path.read_text())
    ]
    assert offenders == []
