"""Where the project's own folders are, so the tool finds them from any working directory."""

from __future__ import annotations

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
ARCHIVE_DIR = PROJECT_ROOT / "archive"
PROMPTS_DIR = PROJECT_ROOT / "prompts"
