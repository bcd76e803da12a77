"""``tierwise report``, ``tierwise pipeline`` and ``tierwise history``: is the segmentation working?"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from tierwise.cli.common import AsOfOpt, EngineOpt, SpecArg, console, fail, parse_date, progress_bar, run
from tierwise.errors import TierwiseError

HistoryOpt = Annotated[str | None, typer.Option(
    "--history", help="History store overriding the spec's governance.history: a .duckdb file or "
                      "postgresql://user@host/db (password from PGPASSWORD or ~/.pgpass).")]
RunOpt = Annotated[str | None, typer.Option("--run", help="Run id to report on (default: the latest recorded run).")]
HtmlOpt = Annotated[Path | None, typer.Option(
    "--html", help="Also write the dashboard's views as one self-contained HTML file (no server, no network).")]
TopOpt = Annotated[int, typer.Option("--top", min=1, max=10_000, help="Top accounts listed in the --html file.")]

STATUS_STYLE = {"ok": "green", "met": "green", "in line": "green", "above": "green", "warn": "yellow",
                "missed": "yellow", "below": "red", "alert": "bold red", "unknown": "dim", "too few": "dim",
                "not measured": "dim"}


def _pct(x: Any, digits: int = 1) -> str:
    return "—" if x is None else f"{x:.{digits}%}"


def _num(x: Any) -> str:
    return "—" if x is None else f"{x:,.0f}"


def _styled(status: str) -> str:
    style = STATUS_STYLE.get(status, "")
    return f"[{style}]{status}[/]" if style else status


# --------------------------------------------------------------------------- report


def report_command(
    spec: SpecArg,
    out: Annotated[Path, typer.Option("--out", help="Folder for report.json and the CSV tables.")] = Path(
        "tierwise-out/report"),
    html: HtmlOpt = None,
    run_id: RunOpt = None,
    against: Annotated[str | None, typer.Option(
        "--against", help="Run to compare with for drift (default: the run before --run).")] = None,
    history: HistoryOpt = None,
    top: TopOpt = 100,
    as_of: AsOfOpt = None,
    engine: EngineOpt = None,
) -> None:
    """Segment performance (accounts, open pipeline, win rate with 95% intervals, ACV, cycle, stage conversion)
    by segment and tier; the funnel against the B2B benchmarks with where to intervene; guardrails and the
    actionability test; ICP coverage of pipeline and wins; drift and tier migration since the previous run;
    whether tiers predict outcomes. Reads the latest recorded run (scoring one first when there is none).

    --html writes every dashboard view (overview, top accounts, segment performance, pipeline health, ICP,
    territory balance, RFM, assessment; the ones not made yet as what to run) as one self-contained file.

    Example: [bold]tierwise report spec.yaml --out out/report --html report.html[/]
    """
    from tierwise.jobs.governance import report

    with progress_bar() as progress:
        result = run(report, spec, out, run_id=run_id, against=against, history=history,
                     as_of=parse_date(as_of), engine_url=engine, progress=progress)
        page = _write_html(spec, html, {"performance": result.payload}, top, as_of, engine, progress)
    print_report(result.payload)
    console.print(f"outputs: [bold]{out}[/] ({', '.join(sorted(Path(f).name for f in result.files.values()))})")
    if page:
        console.print(f"HTML report: [bold]{page}[/] (open it in any browser; no server or network needed)")


def _write_html(spec: Path, html: Path | None, payloads: dict[str, Any], top: int, as_of: str | None,
                engine: str | None, progress: Any) -> Path | None:
    """The static report (the dashboard's templates), with the payload just computed in place of its file."""
    if html is None:
        return None
    from tierwise.web.app import write_static

    return run(write_static, spec, html, as_of=parse_date(as_of), engine_url=engine, top_n=top, payloads=payloads,
               progress=progress)


def print_report(p: dict[str, Any], *, brief: bool = False) -> None:
    run_ = p["run"]
    prev = p["previous_run"]
    console.print(f"[bold]Report[/] — run {run_['run_id']} (as of {run_['as_of']}, {run_['accounts']:,} accounts)"
                  + (f", compared with {prev['run_id']}" if prev else ", no earlier run"), highlight=False)
    perf = p["performance"]
    for key, title in (("by_segment", "Segments"), ("by_tier", "Tiers")):
        if brief and key == "by_tier":
            continue
        t = Table(title=title, title_justify="left")
        cols = ("group", "accounts", "share", "open pipeline", "win rate", "ACV") if brief else (
            "group", "accounts", "share", "open deals", "open pipeline", "decided", "win rate", "95% interval", "ACV",
            "cycle (days)")
        for col in cols:
            t.add_column(col, justify="left" if col == "group" else "right")
        for r in perf[key]:
            cells = {"group": str(r["group"]), "accounts": f"{r['accounts']:,}", "share": _pct(r["share"]),
                     "open deals": f"{r['open_deals']:,}", "open pipeline": _num(r["open_value"]),
                     "decided": f"{r['decided']:,}", "win rate": _pct(r["win_rate"]),
                     "95% interval": f"{_pct(r['ci_low'])}–{_pct(r['ci_high'])}" if r["ci_low"] is not None else "—",
                     "ACV": _num(r["acv"]), "cycle (days)": _num(r["median_cycle_days"])}
            t.add_row(*[cells[c] for c in cols])
        console.print(t)
    f = p["funnel"]
    t = Table(title="Funnel against the B2B benchmarks (overall)", title_justify="left")
    for col in ("step", "measured on", "rate", "95% interval", "benchmark", "verdict"):
        t.add_column(col, justify="right" if col in ("rate", "benchmark") else "left")
    for r in f["rows"]:
        if r["group_kind"] != "all":
            continue
        t.add_row(r["step"], r["source"] or "—", _pct(r["rate"]),
                  f"{_pct(r['ci_low'])}–{_pct(r['ci_high'])}" if r["ci_low"] is not None else "—",
                  _pct(r["benchmark"], 0), _styled(r["flag"]) + (f" ({r['why']})" if r["why"] and not brief else ""))
    console.print(t)
    for i in f["interventions"][: 3 if brief else 8]:
        console.print(f"  [red]intervene:[/] {i['message']}", highlight=False)
    tc = p["tier_check"]
    console.print(f"tiers predict outcomes: {_styled(tc['status'])} — {tc['message']}", highlight=False)
    g = p["guardrails"]
    console.print(f"guardrails: {_styled('ok' if g['actionable'] else 'warn')} — {g['verdict']}", highlight=False)
    for c in g["checks"]:
        if c["status"] != "ok":
            console.print(f"  [yellow]{c['check']}[/] {c['subject']}: {c['message']}", highlight=False)
    icp = p["icp"]
    for c in icp["checks"]:
        console.print(f"ICP: {_styled(c['status'])} — {c['message']}", highlight=False)
    d = p["drift"]
    if d is None:
        console.print("drift: no earlier run to compare with (it starts with the next recorded run)")
    else:
        m = d["migration"]
        worst = max(d["fields"], key=lambda x: x["psi"])
        console.print(f"drift since {prev['run_id']}: {m['changed']:,} of {m['in_both']:,} accounts changed tier "
                      f"({_pct(m['changed_share'])}; {m['moved_up']:,} up, {m['moved_down']:,} down); largest PSI "
                      f"{worst['field']} {worst['psi']:.3f} ({_styled(worst['status'])})", highlight=False)
    alerts = p["alerts"]
    console.print(f"alerts: {len(alerts)}" + (" — see alerts.csv" if alerts else ""))
    for note in p["notes"]:
        console.print(f"[dim]note: {note}[/]", highlight=False)


# --------------------------------------------------------------------------- pipeline


def pipeline_command(
    spec: SpecArg,
    out: Annotated[Path, typer.Option("--out", help="Folder for pipeline.json and the CSV tables.")] = Path(
        "tierwise-out/pipeline"),
    html: HtmlOpt = None,
    run_id: RunOpt = None,
    history: HistoryOpt = None,
    top: TopOpt = 100,
    as_of: AsOfOpt = None,
    engine: EngineOpt = None,
) -> None:
    """Pipeline governance: open deals by age against the velocity threshold (50 days) and by time in stage,
    with historical win rates per bucket from your own deals; the zombie list (ICP score below 65, no stage
    change in 30-45 days) with owner and action: requalify or close. Writes pipeline.json, velocity.csv,
    time_in_stage.csv, stages.csv and zombies.csv; --html the same self-contained file as
    `tierwise report --html` (every dashboard view).

    Example: [bold]tierwise pipeline spec.yaml --out out/pipeline --html report.html[/]
    """
    from tierwise.jobs.governance import pipeline

    with progress_bar() as progress:
        result = run(pipeline, spec, out, run_id=run_id, history=history, as_of=parse_date(as_of),
                     engine_url=engine, progress=progress)
        page = _write_html(spec, html, {"pipeline": result.payload}, top, as_of, engine, progress)
    print_pipeline(result.payload)
    console.print(f"outputs: [bold]{out}[/] ({', '.join(sorted(Path(f).name for f in result.files.values()))})")
    if page:
        console.print(f"HTML report: [bold]{page}[/] (open it in any browser; no server or network needed)")


def print_pipeline(p: dict[str, Any], *, brief: bool = False) -> None:
    t_ = p["threshold"]
    console.print(f"[bold]Pipeline[/] as of {p['as_of']}: {p['open_deals']:,} open deals worth {_num(p['open_value'])}; "
                  f"{t_['open_past_threshold']:,} ({_pct(t_['open_share_past_threshold'])}) older than "
                  f"{p['velocity_days']} days. Your deals closed within {p['velocity_days']} days won "
                  f"{_pct(t_['closed_within']['win_rate'])}, later {_pct(t_['closed_after']['win_rate'])} "
                  "(seed: 47% vs 20% or lower)", highlight=False)
    if not brief:
        t = Table(title="Velocity", title_justify="left")
        for col in ("age (days)", "open deals", "open value", "share", "closed at this age: win rate",
                    "win rate if still open"):
            t.add_column(col, justify="left" if col == "age (days)" else "right")
        for r in p["velocity"]:
            t.add_row(("[yellow]" if r["past_threshold"] else "") + r["bucket"], f"{r['open_deals']:,}",
                      _num(r["open_value"]), _pct(r["share"]), _pct(r["closed_win_rate"]),
                      _pct(r["win_rate_if_still_open"]))
        console.print(t)
        t = Table(title="Time in stage", title_justify="left")
        for col in ("days in stage", "open deals", "open value", "share", "expected win rate"):
            t.add_column(col, justify="left" if col == "days in stage" else "right")
        for r in p["time_in_stage"]:
            t.add_row(r["bucket"], f"{r['open_deals']:,}", _num(r["open_value"]), _pct(r["share"]),
                      _pct(r["expected_win_rate"]))
        console.print(t)
    z = p["zombies"]
    console.print(f"zombies: {z['deals']:,} deals worth {_num(z['value'])} — requalify {z['requalify']['deals']:,}, "
                  f"close {z['close']['deals']:,}"
                  + (f"; {z['excluded_known_stall']:,} stalled for a known reason left out"
                     if z["excluded_known_stall"] else "") + f" ({z['rule']})", highlight=False)
    if not brief and z["examples"]:
        t = Table(title="Largest zombies (all in zombies.csv)", title_justify="left")
        for col in ("opportunity", "owner", "stage", "amount", "idle days", "action"):
            t.add_column(col, justify="right" if col in ("amount", "idle days") else "left")
        for r in z["examples"][:10]:
            t.add_row(str(r.get("opportunity") or r["opportunity_id"]), str(r["owner_id"] or "—"), str(r["stage"]),
                      _num(r["amount"]), str(r["days_without_stage_change"]), r["action"])
        console.print(t)
    for note in p["notes"]:
        console.print(f"[dim]note: {note}[/]", highlight=False)


# --------------------------------------------------------------------------- history

history_app = typer.Typer(help="The run history: recorded scoring runs and the changes between them.",
                          no_args_is_help=True)


def _spec_or_none(spec: Path | None, history: str | None) -> Path | None:
    if spec is None and history is None:
        fail(TierwiseError("give a spec (tierwise history list spec.yaml) or --history URL"))
    return spec


@history_app.command("list")
def history_list(
    spec: Annotated[Path | None, typer.Argument(help="Path to the spec YAML (or use --history).",
                                                show_default=False)] = None,
    history: HistoryOpt = None,
) -> None:
    """List the recorded runs, oldest first: id, as_of, accounts, quarantined input rows, accounts per tier.

    Example: [bold]tierwise history list spec.yaml[/]
    """
    from tierwise.jobs.governance import runs

    display, found = run(runs, _spec_or_none(spec, history), history=history)
    t = Table(title=f"Runs in {display}", title_justify="left")
    t.add_column("run", no_wrap=True)
    t.add_column("as of", no_wrap=True)
    for col in ("accounts", "quarantined"):
        t.add_column(col, justify="right")
    t.add_column("tiers", overflow="fold")
    for r in found:
        quarantined = sum(v["quarantined"] for v in r.inputs.values())
        tiers = r.summary.get("tiers", {})
        t.add_row(r.run_id, r.as_of.isoformat(), f"{r.accounts:,}", f"{quarantined:,}",
                  " ".join(f"{k} {v:,}" for k, v in tiers.items()))
    console.print(t)
    if found:
        console.print(f"spec {found[-1].spec_name!r} ({found[-1].spec_hash}); latest recorded "
                      f"{found[-1].recorded_at.isoformat(sep=' ', timespec='seconds')} UTC", highlight=False)
    if not found:
        console.print("no runs yet: `tierwise score SPEC` records one")


@history_app.command("changes")
def history_changes(
    spec: Annotated[Path | None, typer.Argument(help="Path to the spec YAML (or use --history).",
                                                show_default=False)] = None,
    from_run: Annotated[str | None, typer.Option("--from", help="Earlier run (default: the one before --to).")] = None,
    to_run: Annotated[str | None, typer.Option("--to", help="Later run (default: the latest).")] = None,
    csv_out: Annotated[Path | None, typer.Option("--csv", help="Write the change events as CSV.")] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the change events as JSON.")] = None,
    history: HistoryOpt = None,
    show: Annotated[int, typer.Option("--show", help="How many events to print.")] = 20,
) -> None:
    """Tier and segment changes between two runs (and accounts that entered or left), with the direction of
    tier moves; exported as CSV or JSON for the CRM or a play.

    Example: [bold]tierwise history changes spec.yaml --csv changes.csv[/]
    """
    from tierwise.jobs.governance import changes

    before, after, events, files = run(changes, _spec_or_none(spec, history), from_run=from_run, to_run=to_run,
                                       history=history, csv_path=csv_out, json_path=json_out)
    counts: dict[str, int] = {}
    for change, direction in zip(events["change"].to_pylist(), events["direction"].to_pylist(), strict=True):
        key = change if direction is None else f"{change} {direction}"
        counts[key] = counts.get(key, 0) + 1
    console.print(f"[bold]{before.run_id}[/] ({before.as_of}) → [bold]{after.run_id}[/] ({after.as_of}): "
                  f"{events.num_rows:,} events" + (" — " + ", ".join(f"{k} {v:,}" for k, v in sorted(counts.items()))
                                                  if counts else ""), highlight=False)
    if show and events.num_rows:
        t = Table(title_justify="left")
        for col in ("account", "change", "from", "to", "direction", "score", "owner"):
            t.add_column(col, justify="right" if col == "score" else "left")
        for r in events.slice(0, show).to_pylist():
            score = ("—" if r["score_from"] is None else f"{r['score_from']:.1f}") + " → " + (
                "—" if r["score_to"] is None else f"{r['score_to']:.1f}")
            t.add_row(r["account_id"], r["change"], r["from_value"] or "—", r["to_value"] or "—",
                      r["direction"] or "", score, r["owner_id"] or "—")
        console.print(t)
    for kind, path in files.items():
        console.print(f"{kind.upper()} written to [bold]{path}[/]")


@history_app.command("delete")
def history_delete(
    run_id: Annotated[str, typer.Argument(help="The run to delete.", show_default=False)],
    spec: Annotated[Path | None, typer.Argument(help="Path to the spec YAML (or use --history).",
                                                show_default=False)] = None,
    history: HistoryOpt = None,
) -> None:
    """Delete one run and everything recorded with it (one transaction).

    Example: [bold]tierwise history delete 2026-08-01-3fa2b1c4-9d0e1f2a spec.yaml[/]
    """
    from tierwise.jobs.governance import history_target
    from tierwise.spec.loader import load_spec
    from tierwise.store.history import open_history

    spec_file = run(load_spec, spec) if spec is not None else None
    target = run(history_target, spec_file, history)
    store = run(open_history, target)
    try:
        run(store.delete, run_id)
    finally:
        store.close()
    console.print(f"deleted run {run_id} from {store.display}")
