"""Everything a run knows about one of its programs: code, scores, cost, operator, parents, and the
prompt and reply that produced it (``discover show RUN [PROGRAM]``).

Read-only: the run database is opened through ``RunView`` and the reply is looked up in the run's
``transcript.jsonl`` by the prompt's request hash.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from discover.archive.errors import ArchiveError
from discover.archive.runs import RunView

SHOWN = ("id", "prompt", "sample", "island", "operator", "parents", "description", "status", "error",
         "gap", "per_class", "length", "seconds")
HIDDEN = ("code", "hash", "signature", "tardiness", "created")


def _pick(view: RunView, program: int | None) -> int:
    if program is not None:
        if view.program(program) is None:
            raise ArchiveError(f"{view.run_dir}: no program #{program} in the run (it holds"
                               f" #1..#{max(view.by_id(), default=0)})")
        return program
    champ = view.state("champion") or {}
    pid = champ.get("program_id") if isinstance(champ, dict) else None
    best = view.best()
    if isinstance(pid, int):
        return pid
    if best is None:
        raise ArchiveError(f"{view.run_dir}: the run holds no valid program; name one: discover show RUN ID")
    return best.id


def _reply(transcript: Path, request_hash: str, index: int) -> str | None:
    """Return completion ``index`` of the last transcript line answering ``request_hash``."""
    found = None
    try:
        with transcript.open(encoding="utf-8") as f:
            for line in f:
                if request_hash not in line:
                    continue
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a torn last line
                if rec.get("request_hash") == request_hash:
                    found = rec
    except OSError:
        return None
    completions = (found or {}).get("completions") or []
    return completions[index] if 0 <= index < len(completions) else None


def program_record(run_dir: str | Path, program: int | None = None) -> dict[str, Any]:
    """Return one program of a run (default: its champion, else its best) with its prompt and reply.

    A copy made by an island reset or migration is followed to the program it copies (``copy_of``).

    Raises
    ------
    ArchiveError
        On a folder that is not a run, or a program id the run does not hold.
    """
    with RunView(run_dir) as view:
        asked = _pick(view, program)
        orig = view.original(asked)
        pid = orig.id if orig is not None else asked
        rows = view._query("SELECT * FROM programs WHERE id = ?", (pid,))
        row = dict(rows[0])
        rec: dict[str, Any] = {k: row.get(k) for k in SHOWN}
        rec["parents"] = json.loads(row["parents"] or "[]")
        rec["per_class"] = json.loads(row["per_class"]) if row.get("per_class") else None
        rec |= {k: v for k, v in row.items() if k not in SHOWN and k not in HIDDEN}  # e.g. a stored cost
        rec["code"] = row["code"]
        if asked != pid:
            rec["copy_of"] = {"asked": asked, "operator": view.program(asked).operator}
        rec["run"] = str(view.run_dir)
        seeds = view.state("seed_names") or {}
        rec["seed_name"] = next((n for n, i in seeds.items() if i == pid), None)
        rec["prompt_messages"] = rec["reply"] = rec["llm_call"] = None
        if row["prompt"] is not None:
            prompt = view._query("SELECT request, request_hash FROM prompts WHERE id = ?", (row["prompt"],))
            if prompt:
                request = json.loads(prompt[0]["request"])
                rec["prompt_messages"] = request.get("messages")
                index = (row["sample"] or 0) - int(request.get("first_sample", 0))
                rec["reply"] = _reply(view.run_dir / "transcript.jsonl", prompt[0]["request_hash"], index)
            calls = [c for c in view.llm_calls() if c.prompt == row["prompt"]]
            if calls:
                c = calls[-1]
                rec["llm_call"] = {"model": c.model, "samples": c.samples, "prompt_tokens": c.prompt_tokens,
                                   "completion_tokens": c.completion_tokens, "cost_usd": c.cost_usd,
                                   "latency_s": c.latency_s, "error": c.error}
    return rec
