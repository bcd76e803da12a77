"""``tierwise leads ...``: match leads to accounts and route them, with an audit log."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from tierwise.cli.common import AsOfOpt, EngineOpt, console, parse_date, progress_bar, run

leads_app = typer.Typer(help="Leads: match to accounts and route to owners, queues and pools, with an audit log.",
                        no_args_is_help=True)



@leads_app.command("route")
def leads_route(
    spec: Annotated[Path, typer.Argument(help="Path to the spec YAML.", show_default=False)],
    out: Annotated[Path, typer.Option("--out", help="Output folder.")] = Path("tierwise-out/routing"),
    now: Annotated[str | None, typer.Option("--now", help="Decision time, ISO (default: the current time, UTC).")] = None,
    as_of: AsOfOpt = None,
    engine: EngineOpt = None,
) -> None:
    """Match every lead to an account and route it by the spec's routing rules; every decision goes to the
    audit log, and a lead already logged is not assigned again. Writes decisions.parquet/.csv, matches.csv,
    summary.json.

    Example: [bold]tierwise leads route spec.yaml --out out/routing[/]
    """
    from tierwise.jobs.leads import parse_now, route

    with progress_bar() as progress:
        result = run(route, spec, out, as_of=parse_date(as_of), now=run(parse_now, now), engine_url=engine,
                     progress=progress)
    s = result.summary
    console.print(f"{s['leads']:,} leads: {s['routed']:,} routed, {s['replayed']:,} already in the audit log; "
                  f"matches {s['matches']}; SLA breaches {s['sla_breaches']:,}")
    t = Table(title="routed by rule")
    for col in ("rule", "leads"):
        t.add_column(col)
    for rule, n in s["by_rule"].items():
        t.add_row(rule, f"{n:,}")
    console.print(t)
    if s["fallbacks"]:
        console.print(f"fallbacks: {s['fallbacks']}")
    console.print(f"decisions: [bold]{result.files['decisions_csv']}[/]; audit log: {s['audit_log']}")
