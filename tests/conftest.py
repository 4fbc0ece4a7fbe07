"""Shared fixtures: where the public benchmark sets live, and a loader that skips cleanly without them."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TESTS = REPO / "tests"
"""The tests' folder: its data (``programs/``, ``hostile/``, ``toy_task/``) sits here, beside the packages."""
SHARED = REPO.parent / "shared" / "benchmarks"


def shared_path(name: str) -> Path:
    """Return the path of a shared benchmark file, or skip the test with the reason."""
    path = SHARED / f"{name}.json"
    if not path.exists():
        pytest.skip(f"../shared/benchmarks not found ({path}): "
                    "the public benchmark sets are not beside this checkout")
    return path


@pytest.fixture(scope="session")
def shared_set():
    """Return a loader of shared sets by name (cached for the session)."""
    from evaluator.instances import load_set

    cache = {}

    def load(name: str):
        if name not in cache:
            cache[name] = load_set(shared_path(name))
        return cache[name]

    return load


def run_cli(*args: str) -> tuple[int, str, str]:
    """Run the CLI in-process as ``main()`` would: a UserError is exit 2 with its one line."""
    from typer.testing import CliRunner

    from discover.cli import app
    from discover.cli.common import UserError

    r = CliRunner().invoke(app, list(args))
    if isinstance(r.exception, UserError):
        return 2, r.stdout, f"error: {r.exception}"
    if r.exception is not None and not isinstance(r.exception, SystemExit):
        raise r.exception
    return r.exit_code, r.stdout, r.stderr


def _archive_status() -> str | None:
    """Return ``git status`` of the repository's archive/, or None outside a git checkout."""
    import shutil
    import subprocess

    if shutil.which("git") is None or not (REPO / ".git").exists():
        return None
    r = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all", "archive/"], cwd=REPO,
                       capture_output=True, text=True, timeout=60)
    return r.stdout if r.returncode == 0 else None


def pytest_sessionstart(session):
    session.config._archive_status = _archive_status()


def pytest_sessionfinish(session, exitstatus):
    """The suite must leave the repository's archive/ as it found it (runs write to user archives)."""
    before = getattr(session.config, "_archive_status", None)
    after = _archive_status()
    if before is not None and after != before:
        import sys

        sys.stderr.write(f"\nerror: the tests changed the repository's archive/:\n{after}\n")
        session.exitstatus = 1
