"""`discover show RUN [PROGRAM]`: one program of a run, with the prompt and the reply that produced it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.panel import Panel
from rich.text import Text

from discover.archive.errors import ArchiveError
from discover.archive.views import code_view
from discover.cli.common import UserError, console, print_json


def _gap(g: float | None) -> str:
    return "—" if g is None else f"{g:.3f} %"


def _head(rec: dict[str, Any]) -> Text:
    t = Text()
    what = f"seed {rec['seed_name']!r}" if rec["seed_name"] else f"operator {rec['operator']}"
    t.append(f"program #{rec['id']} of {rec['run']}: {what}, island {rec['island']}\n", style="bold")
    if rec.get("copy_of"):
        t.append(f"(#{rec['copy_of']['asked']} is a {rec['copy_of']['operator']} copy of it)\n")
    parents = ", ".join(f"#{p}" for p in rec["parents"]) or "none"
    t.append(f"parents: {parents}; prompt: {rec['prompt'] if rec['prompt'] is not None else '—'}; sample:"
             f" {rec['sample'] if rec['sample'] is not None else '—'}\n")
    t.append(f"status: {rec['status']}; training gap: {_gap(rec['gap'])}; {rec['length']} characters")
    if rec["seconds"] is not None:
        t.append(f"; {rec['seconds']:.3f} s on the training set")
    if rec["error"]:
        t.append(f"\nerror: {rec['error']}")
    if rec["description"]:
        t.append(f"\ndescription: {rec['description']}")
    extra = {k: v for k, v in rec.items() if k not in _KNOWN}
    for k, v in extra.items():
        t.append(f"\n{k}: {v}")
    call = rec["llm_call"]
    if call:
        t.append(f"\nLLM call: {call['model']}, {call['samples']} samples, {call['prompt_tokens']:,} prompt +"
                 f" {call['completion_tokens']:,} completion tokens, ${call['cost_usd']:.6f},"
                 f" {call['latency_s']:.2f} s" + (f"; error: {call['error']}" if call["error"] else ""))
    return t


_KNOWN = {"id", "prompt", "sample", "island", "operator", "parents", "description", "status", "error", "gap",
          "per_class", "length", "seconds", "code", "copy_of", "run", "seed_name", "prompt_messages",
          "reply", "llm_call"}


def register(app: typer.Typer) -> None:
    """Add the `show` command to the app."""

    @app.command("show")
    def show(
        run_dir: Path = typer.Argument(..., metavar="RUN", help="A run folder (holding run.sqlite)."),
        program: int = typer.Argument(None, metavar="[PROGRAM]",
                                      help="Program id (default: the run's champion, else its best)."),
        as_json: bool = typer.Option(False, "--json", help="Print the record as JSON."),
    ) -> None:
        """Show one program of a run: code, scores, cost, operator, parents, the prompt and the reply."""
        from discover.inspect import program_record

        try:
            rec = program_record(run_dir, program)
        except ArchiveError as e:
            raise UserError(str(e)) from None
        if as_json:
            print_json(rec)
            return
        console.print(_head(rec), highlight=False)
        if rec["per_class"]:
            cls = ", ".join(f"{k} {v:.2f}" for k, v in sorted(rec["per_class"].items()))
            console.print(Text(f"gap % per class: {cls}"))
        console.print(Panel(code_view(rec["code"]) if rec["code"] else Text("(no code)"), title="code",
                            title_align="left"))
        for m in rec["prompt_messages"] or []:
            console.print(Panel(Text(m.get("content", "")), title=f"prompt: {m.get('role')}",
                                title_align="left"))
        if rec["prompt"] is not None:
            reply = rec["reply"]
            console.print(Panel(Text(reply if reply is not None else "(not in the run's transcript.jsonl)"),
                                title="reply", title_align="left"))
