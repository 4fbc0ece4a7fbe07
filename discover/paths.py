"""Where the project's own folders are, so the tool finds them from any working directory, and where
the user's own data goes (never into the installed project)."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
ARCHIVE_DIR = PROJECT_ROOT / "archive"
PROMPTS_DIR = PROJECT_ROOT / "prompts"


def user_data_dir() -> Path:
    """Return ``$XDG_DATA_HOME/discover``, else ``~/.local/share/discover`` (the XDG base directory rule)."""
    xdg = os.environ.get("XDG_DATA_HOME", "")
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".local" / "share"
    return base / "discover"


def user_archive_dir() -> Path:
    """Return the archive runs promote into by default: ``<user data dir>/archive``."""
    return user_data_dir() / "archive"
