"""``tierwise dashboard SPEC --html FILE``: the dashboard's views as one self-contained HTML file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tierwise.cli.common import AsOfOpt, EngineOpt, SpecArg, console, parse_date, progress_bar, run


def dashboard_command(
    spec: SpecArg,
    html: Annotated[Path, typer.Option("--html", help="The HTML file to write.")] = Path("dashboard.html"),
    top: Annotated[int, typer.Option("--top", min=1, max=10_000, help="Top accounts listed.")] = 100,
    as_of: AsOfOpt = None,
    engine: EngineOpt = None,
) -> None:
    """Score the workspace and write the dashboard's overview (tier and segment sizes against the guardrails,
    what changed since the previous run), the score distribution, the segments and the top accounts as one
    self-contained HTML file: no server, no script, no network. The live dashboard is `tierwise serve SPEC`.

    Example: [bold]tierwise dashboard spec.yaml --html dashboard.html[/]
    """
    from tierwise.web.app import write_static

    with progress_bar() as progress:
        path = run(write_static, spec, html, as_of=parse_date(as_of), engine_url=engine, top_n=top,
                   progress=progress)
    console.print(f"dashboard written to [bold]{path}[/] (open it in any browser)")
