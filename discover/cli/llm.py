"""`discover mock-server`: an OpenAI-compatible server over the offline model or a recorded transcript."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from discover.cli.common import UserError


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""

    @app.command("mock-server")
    def mock_server(
        port: int = typer.Option(8000, "--port", min=0, max=65535, help="Port to listen on (0: any free)."),
        host: str = typer.Option("127.0.0.1", "--host", help="Interface to bind (keep it loopback)."),
        transcript: Path = typer.Option(
            None, "--transcript", help="Replay this transcript.jsonl instead of running the offline model."
        ),
        lenient: bool = typer.Option(
            False, "--lenient", help="With --transcript: answer requests it lacks with the offline model."
        ),
        seed: int = typer.Option(0, "--seed", help="Seed of the offline model."),
        quiet: bool = typer.Option(False, "--quiet", help="Do not log each request on stderr."),
        model: str = typer.Option("offline", "--model", help="The model name served (listed by /v1/models)."),
        only_model: bool = typer.Option(
            False, "--only-model", help="Answer 404 model_not_found to requests naming another model."),
    ) -> None:
        """Serve /v1/chat/completions and /v1/models from the offline model or a transcript, until Ctrl-C.

        Tests inject faults with POST /_faults (see discover.llm.server).
        """
        from discover.llm.offline.model import OfflineLLM
        from discover.llm.replay import ReplayLLM, TranscriptError
        from discover.llm.server import MockServer

        offline = OfflineLLM(seed=seed)
        if transcript is None:
            backend, what = offline, f"offline model (seed {seed})"
        else:
            try:
                backend = ReplayLLM(transcript, strict=not lenient, fallback=offline if lenient else None)
            except TranscriptError as e:
                raise UserError(f"--transcript: {e}") from None
            what = f"transcript {transcript}" + (" (misses go to the offline model)" if lenient else "")
        log = None if quiet else (lambda line: sys.stderr.write(line + "\n"))
        try:
            server = MockServer(backend, host=host, port=port, log=log, model=model,
                                only_model=only_model)
        except OSError as e:
            raise UserError(f"--port {port}: cannot listen on {host}:{port} ({e.strerror})") from None
        sys.stdout.write(f"serving the {what} at\n{server.url}\n(Ctrl-C stops)\n")
        sys.stdout.flush()
        try:
            server.httpd.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.stop()
        sys.stdout.write("stopped\n")
