"""``tierwise serve``: the REST API over a workspace."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Annotated

import typer

from tierwise.cli.common import AsOfOpt, EngineOpt, SpecArg, console, fail, parse_date, progress_bar, run
from tierwise.errors import TierwiseError

TOKEN_ENV = "TIERWISE_API_TOKEN"


def read_token(token_file: Path | None) -> tuple[str, str]:
    """The bearer token and where it came from: --token-file, else $TIERWISE_API_TOKEN, else a new one."""
    if token_file is not None:
        try:
            token = token_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise TierwiseError(f"--token-file {token_file}: {exc.strerror}") from exc
        if not token:
            raise TierwiseError(f"--token-file {token_file} is empty; put the bearer token in it")
        return token, str(token_file)
    if os.environ.get(TOKEN_ENV, "").strip():
        return os.environ[TOKEN_ENV].strip(), f"${TOKEN_ENV}"
    return secrets.token_urlsafe(24), "generated"


def serve(
    spec: SpecArg,
    host: Annotated[str, typer.Option("--host", help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port.")] = 8000,
    token_file: Annotated[Path | None, typer.Option("--token-file", help=f"File holding the bearer token (default: ${TOKEN_ENV}, else a new token printed once).")] = None,
    as_of: AsOfOpt = None,
    engine: EngineOpt = None,
    dashboard: Annotated[bool, typer.Option("--dashboard/--no-dashboard", help="Also serve the dashboard pages at / (no token; see docs/dashboard.md).")] = True,
) -> None:
    """Serve the REST API: POST /v1/leads/score-and-route, POST /v1/accounts/score, GET /v1/accounts/{id},
    GET /healthz; OpenAPI at /openapi.json and /docs. Every route but /healthz needs the bearer token.

    Example: [bold]TIERWISE_API_TOKEN=s3cret tierwise serve spec.yaml --port 8000[/]
    """
    try:
        import uvicorn

        from tierwise.api.app import create_app
        from tierwise.api.service import ScoringService
    except ImportError as exc:  # pragma: no cover - the dependencies are required
        fail(TierwiseError(f"the API needs fastapi and uvicorn ({exc}); pip install tierwise"))
        return
    token, source = run(read_token, token_file)
    with progress_bar() as progress:
        service = run(ScoringService, spec, engine_url=engine, as_of=parse_date(as_of), progress=progress)
    app = create_app(service, token=token, dashboard=dashboard)
    console.print(f"tierwise API for [bold]{service.spec_file.spec.name}[/] ({service.account_count:,} accounts) "
                  f"on http://{host}:{port} — docs at /docs")
    if dashboard:
        console.print(f"dashboard on http://{host}:{port}/ (pages need no token: bind --host to a trusted interface)")
    if source == "generated":
        console.print(f"bearer token (generated; set ${TOKEN_ENV} or --token-file to choose one): [bold]{token}[/]")
    else:
        console.print(f"bearer token from {source}")
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
