"""Champion files: a provenance header as comment lines above the heuristic's code.

A champion is a plain ``.py`` file a person can review::

    # --- discover champion ---
    # name: "mddc_slack_v3"
    # origin_run: "runs/demo"
    # ...one `# key: <JSON value>` line per field...
    # code_sha256: "…"
    # --- end of header ---
    <the code, byte for byte as scored>

``code_sha256`` covers the code below the header, so an edited file is detected.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

START = "# --- discover champion ---"
END = "# --- end of header ---"
FIELDS = ("name", "origin_run", "program_id", "parents", "model", "operator", "date", "entry",
          "evaluator_version", "sets", "code_sha256")


class HeaderError(ValueError):
    """A champion file whose header is missing or malformed."""


def code_digest(code: str) -> str:
    """Return the sha256 of the code text."""
    return hashlib.sha256(code.encode()).hexdigest()


def render(meta: dict[str, Any], code: str) -> str:
    """Return the file text: header lines (known fields first, in order) then the code."""
    meta = dict(meta) | {"code_sha256": code_digest(code)}
    keys = [k for k in FIELDS if k in meta] + sorted(k for k in meta if k not in FIELDS)
    lines = [START] + [f"# {k}: {json.dumps(meta[k], sort_keys=True)}" for k in keys] + [END]
    return "\n".join(lines) + "\n" + code


def parse(text: str, source: str = "file") -> tuple[dict[str, Any], str]:
    """Split a champion file into (metadata, code); raise HeaderError naming the line at fault."""
    lines = text.split("\n")
    if not lines or lines[0] != START:
        raise HeaderError(f"{source}: line 1 must be {START!r}")
    meta: dict[str, Any] = {}
    for no, line in enumerate(lines[1:], start=2):
        if line == END:
            return meta, "\n".join(lines[no:])
        key, sep, value = line[2:].partition(": ")
        if not line.startswith("# ") or not sep:
            raise HeaderError(f"{source}: line {no}: expected '# key: value', got {line[:60]!r}")
        try:
            meta[key] = json.loads(value)
        except json.JSONDecodeError:
            raise HeaderError(f"{source}: line {no}: field {key}: not JSON: {value[:60]!r}") from None
    raise HeaderError(f"{source}: no {END!r} line closes the header")


def verify(meta: dict[str, Any], code: str) -> bool:
    """Return True when the recorded code_sha256 matches the code."""
    return meta.get("code_sha256") == code_digest(code)
