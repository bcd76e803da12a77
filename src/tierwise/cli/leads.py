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


@leads_app.command("score")
def leads_score(
    spec: Annotated[Path, typer.Argument(help="Path to the spec YAML.", show_default=False)],
    out: Annotated[Path, typer.Option("--out", help="Output folder.")] = Path("tierwise-out/leads"),
    as_of: AsOfOpt = None,
    engine: EngineOpt = None,
) -> None:
    """Score leads and contacts by the spec's lead_scoring section: fit, behaviour, negatives, decay, MQL and
    contact segments, each score with its breakdown; roll contacts up to accounts with buying-committee
    coverage. Writes leads.parquet/.csv, contacts.parquet/.csv, accounts.csv, summary.json.

    Example: [bold]tierwise leads score spec.yaml --out out/leads[/]
    """
    from tierwise.jobs.lead_scores import score_leads

    with progress_bar() as progress:
        result = run(score_leads, spec, out, as_of=parse_date(as_of), engine_url=engine, progress=progress)
    print_lead_summary(result.summary)
    console.print(f"outputs: [bold]{result.out_dir}[/] ({', '.join(sorted(Path(f).name for f in result.files.values()))})")


def print_lead_summary(summary: dict) -> None:
    for name in ("leads", "contacts"):
        s = summary.get(name)
        if not s:
            continue
        threshold = s["mql_threshold"]
        line = (f"{name}: {s['people']:,} scored, {s['mql']:,} MQL ({s['mql_share']:.0%})"
                + (f" at {threshold:g}+ points" if threshold is not None else "") + f", mean {s['mean_score']}")
        if s["malformed_emails"]:
            line += f"; {s['malformed_emails']:,} malformed emails (scored, not matched by domain)"
        console.print(line)
        ev = s["events"]
        if ev["unscored_types"]:
            shown = ", ".join(f"{k} {v:,}" for k, v in list(ev["unscored_types"].items())[:6])
            console.print(f"  events of types the spec does not score (activity only, no points): {shown}")
        if ev["unknown_person"]:
            console.print(f"  [yellow]{ev['unknown_person']:,} events name a {name[:-1]} that is not in the table[/]")
        t = Table(title=f"{name} by segment")
        for col in ("segment", "motion", name, "MQL"):
            t.add_column(col)
        for seg in s["segments"]:
            t.add_row(seg["segment"], seg["motion"], f"{seg['people']:,}", f"{seg['mql']:,}")
        console.print(t)
    acc = summary.get("accounts")
    if acc:
        line = f"accounts: {acc['with_contacts']:,} of {acc['accounts']:,} with contacts, {acc['engaged']:,} engaged"
        if acc["committee"]:
            line += (f"; full buying committee ({', '.join(acc['committee'])}) at {acc['full_committee']:,}, "
                     f"mean coverage {acc['mean_committee_coverage']:.0%}")
        console.print(line)
