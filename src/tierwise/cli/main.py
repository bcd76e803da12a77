"""The ``tierwise`` command line: a thin Typer + Rich layer over :mod:`tierwise.jobs`.

Every command prints one clear line and exits 1 on bad input; ``--debug``
shows the traceback instead.
"""

from __future__ import annotations

import json
import sys
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from tierwise import __version__
from tierwise.cli.common import AsOfOpt, EngineOpt, SpecArg, console, fail, state
from tierwise.cli.common import parse_date as _parse_date
from tierwise.cli.common import progress_bar as _progress
from tierwise.cli.common import run as _run
from tierwise.errors import TierwiseError

app = typer.Typer(
    name="tierwise",
    help="Sales segmentation engine: score, tier and segment accounts from CRM data.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)


def _version(value: bool) -> None:
    if value:
        console.print(f"tierwise {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    debug: Annotated[bool, typer.Option("--debug", help="Show the full traceback on errors.")] = False,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")] = False,
) -> None:
    state["debug"] = debug




# --------------------------------------------------------------------------- init / schema


@app.command()
def init(
    directory: Annotated[Path, typer.Argument(help="Folder to write spec.yaml into.")] = Path("."),
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing spec.yaml.")] = False,
) -> None:
    """Write a commented starter spec with the seed defaults.

    Example: [bold]tierwise init my-workspace[/]
    """
    target = directory / "spec.yaml"
    if target.exists() and not force:
        fail(TierwiseError(f"{target} already exists; pass --force to overwrite it"))
    directory.mkdir(parents=True, exist_ok=True)
    target.write_text(resources.files("tierwise.spec").joinpath("starter.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    console.print(f"wrote {target} — point data.accounts.path at your accounts export, then run "
                  f"[bold]tierwise validate {target}[/]")


@app.command()
def schema(
    out: Annotated[Path | None, typer.Option("--out", help="Write to a file instead of standard output.")] = None,
) -> None:
    """Print the JSON Schema of the spec (for editors and CI checks).

    Example: [bold]tierwise schema --out spec.schema.json[/]
    """
    from tierwise.spec.reference import json_schema

    text = json.dumps(json_schema(), indent=2) + "\n"
    if out:
        out.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)


# --------------------------------------------------------------------------- validate / score


@app.command()
def validate(
    spec: SpecArg,
    out: Annotated[Path, typer.Option("--out", help="Folder for quarantine files and the profile.")] = Path("tierwise-out"),
    as_of: AsOfOpt = None,
    engine: EngineOpt = None,
) -> None:
    """Load and check every input table; write quarantined rows with reasons and a data-quality profile.

    Exits 1 when a file cannot be loaded at all (missing file or required column).

    Example: [bold]tierwise validate spec.yaml --out out/[/]
    """
    from tierwise.jobs.score import validate as run_validate

    with _progress() as progress:
        result = _run(run_validate, spec, out, as_of=_parse_date(as_of), engine_url=engine, progress=progress)
    _print_loads(result.tables)
    _print_quality(result.quality)
    console.print(f"quarantine and profile written to [bold]{out}[/]")


@app.command()
def score(
    spec: SpecArg,
    out: Annotated[Path, typer.Option("--out", help="Output folder.")] = Path("tierwise-out"),
    as_of: AsOfOpt = None,
    engine: EngineOpt = None,
    top: Annotated[int, typer.Option("--top", help="How many top accounts to show.")] = 10,
    no_history: Annotated[bool, typer.Option(
        "--no-history", help="Do not record this run in the history store.")] = False,
    history: Annotated[str | None, typer.Option(
        "--history", help="History store overriding the spec's governance.history: a .duckdb file or "
                          "postgresql://user@host/db.")] = None,
    run_id: Annotated[str | None, typer.Option(
        "--run-id", help="Name the recorded run (default: <as_of>-<spec hash>-<content digest>).")] = None,
    to_table: Annotated[str | None, typer.Option(
        "--to-table", help="Also write the scores to this table (schema.table) of the spec's data.database, "
                           "replacing it atomically.")] = None,
) -> None:
    """Score, tier and segment every account; write scores.parquet, scores.csv and summary.json, and record
    the run (scores, tiers, segments, owners, input counts) in the history store.

    Example: [bold]tierwise score spec.yaml --out out/ --as-of 2026-11-01[/]
    On Spark, or back into PostgreSQL: [bold]tierwise score spec.yaml --engine spark --to-table crm.account_scores[/]
    """
    from tierwise.jobs.score import score as run_score

    with _progress() as progress:
        result = _run(run_score, spec, out, as_of=_parse_date(as_of), engine_url=engine, progress=progress, top_n=top,
                      record=False if no_history else None, history=history, run_id=run_id, to_table=to_table)
    _print_loads(result.tables)
    print_score_summary(result.summary, result.top)
    console.print(f"scores written to [bold]{result.files['parquet']}[/] and [bold]{result.files['csv']}[/]")
    if to_table:
        console.print(f"and to the table [bold]{result.files['table']}[/]", highlight=False)
    if result.run:
        r = result.run
        console.print(f"run [bold]{r['run_id']}[/] {r['status']} in {r['store']} "
                      f"({r['accounts']:,} accounts, {r['seconds']:.1f} s)", highlight=False)


# --------------------------------------------------------------------------- demo


@app.command()
def demo(
    out: Annotated[Path, typer.Option("--out", help="Folder for the generated workspace and outputs.")] = Path("demo-workspace"),
    accounts: Annotated[int, typer.Option("--accounts", min=10, help="Number of synthetic accounts.")] = 5000,
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 7,
) -> None:
    """Generate a synthetic CRM workspace (accounts, contacts, deals, events, leads) and run every step on it
    (DuckDB): validate, score, ICP discovery, lookalikes, propensity, lead scoring, lead routing, RFM
    (a run a quarter earlier, then today's, with tasks for the customers whose segment changed), the
    governance report and pipeline, a territory plan and the evidence-mode maturity assessment — then
    writes report/report.html, every dashboard view in one file (`tierwise serve` shows them live).

    Example: [bold]tierwise demo --out demo-workspace --accounts 5000[/]
    """
    from datetime import UTC, datetime, time, timedelta

    from tierwise.cli.governance import print_pipeline, print_report
    from tierwise.cli.leads import print_lead_summary
    from tierwise.cli.learn import print_discovery, print_lookalikes, print_training
    from tierwise.cli.rfm import print_rfm_summary
    from tierwise.demo import generate_workspace
    from tierwise.jobs.governance import pipeline as run_pipeline
    from tierwise.jobs.governance import report as run_report
    from tierwise.jobs.icp import discover, lookalikes
    from tierwise.jobs.lead_scores import score_leads
    from tierwise.jobs.leads import route
    from tierwise.jobs.model import score_accounts, train
    from tierwise.jobs.rfm import history_runs, rfm
    from tierwise.jobs.score import score as run_score
    from tierwise.jobs.score import validate as run_validate
    from tierwise.jobs.territories import territories as plan_territories
    from tierwise.jobs.workspace import write_json
    from tierwise.reports import assessment as am
    from tierwise.spec.loader import load_spec
    from tierwise.spec.model import RfmSpec
    from tierwise.web.app import write_static

    with _progress() as progress:
        with progress.step(f"generating {accounts:,} accounts"):
            spec_path = _run(generate_workspace, out, accounts=accounts, seed=seed)
        checked = _run(run_validate, spec_path, out / "validate", progress=progress)
        # the run history starts afresh with two runs: a quarter ago, then today (drift compares them)
        demo_spec = _run(load_spec, spec_path)
        for stale in (_history_file(demo_spec), Path(f"{_history_file(demo_spec)}.wal")):
            stale.unlink(missing_ok=True)
        _run(run_score, demo_spec, out / "scores-earlier", progress=progress,
             as_of=demo_spec.spec.as_of - timedelta(days=91) if demo_spec.spec.as_of else None)
        result = _run(run_score, spec_path, out / "scores", progress=progress)
        icp = _run(discover, spec_path, out / "icp", progress=progress)
        similar = _run(lookalikes, spec_path, out / "icp", progress=progress)
        trained = _run(train, spec_path, progress=progress)
        propensity = _run(score_accounts, spec_path, out / "scores", progress=progress)
        people = _run(score_leads, spec_path, out / "leads", progress=progress)
        spec_file = _run(load_spec, spec_path)
        assert spec_file.spec.routing is not None and spec_file.spec.as_of is not None
        # The leads were just generated: route them from an empty audit log (an earlier run's log would replay
        # its decisions, for other leads if --accounts or --seed changed), at a fixed time so reruns match.
        spec_file.resolve(spec_file.spec.routing.audit_log).unlink(missing_ok=True)
        now = datetime.combine(spec_file.spec.as_of, time(9), tzinfo=UTC)
        routed = _run(route, spec_file, out / "routing", now=now, progress=progress)
        # RFM a quarter ago, then today: the second run's tasks are the customers whose segment changed
        # (earlier stored runs are cleared, so the comparison is between these two)
        for old in history_runs(spec_file.resolve((spec_file.spec.rfm or RfmSpec()).history)).values():
            old.unlink()
        _run(rfm, spec_file, out / "rfm", as_of=spec_file.spec.as_of - timedelta(days=91), progress=progress)
        customers = _run(rfm, spec_file, out / "rfm", progress=progress)
        governed = _run(run_report, spec_file, out / "report", progress=progress)
        piped = _run(run_pipeline, spec_file, out / "pipeline", progress=progress)
        # the plan reads today's scores file (no second scoring pass)
        planned = _run(plan_territories, spec_file, out / "territories", scores_file=out / "scores" / "scores.parquet",
                       progress=progress)
        with progress.step("maturity assessment (evidence from the data)"):
            found = _run(am.evidence, spec_path)
            _run(write_json, out / "assessment" / "assessment.json",
                 {"assessment": None, "progress": None, "evidence": found})
        page = _run(write_static, spec_file, out / "report" / "report.html", progress=progress,
                    scores_file=out / "scores" / "scores.parquet",
                    payloads={"performance": governed.payload, "pipeline": piped.payload})
    console.rule("[bold]tierwise demo")
    console.print(f"workspace: [bold]{out}[/] (spec: {spec_path})")
    _print_loads(checked.tables)
    _print_quality(checked.quality)
    print_score_summary(result.summary, result.top)
    print_discovery(icp)
    print_lookalikes(similar.summary, top=5)
    print_training(trained)
    print_lead_summary(people.summary)
    r = routed.summary
    console.print(f"routing ({now:%Y-%m-%d %H:%M} UTC): {r['leads']:,} leads — "
                  + ", ".join(f"{rule} {n:,}" for rule, n in r["by_rule"].items())
                  + f"; matched to an account {r['matches'].get('matched', 0):,}"
                  + (f"; fallbacks {', '.join(f'{k} {v:,}' for k, v in r['fallbacks'].items())}" if r["fallbacks"]
                     else "")
                  + f"; first touch overdue (SLA) {r['sla_breaches']:,}")
    print_rfm_summary(customers.summary)
    print_report(governed.payload, brief=True)
    print_pipeline(piped.payload, brief=True)
    _print_territories_brief(planned.summary)
    suggested = {k: v["suggested"] for k, v in found["dimensions"].items() if v["suggested"] is not None}
    console.print("maturity (evidence): " + ", ".join(f"{k} {v:g}" for k, v in suggested.items())
                  + f" — {out / 'assessment' / 'assessment.json'}", highlight=False)
    console.print(f"report: [bold]{page}[/] (every dashboard view in one file; live: "
                  f"`tierwise serve {spec_path}`); JSON and CSV in {out / 'report'}, {out / 'pipeline'}, "
                  f"{out / 'territories'}; run history: "
                  f"[bold]{_history_file(spec_file)}[/] (`tierwise history list {spec_path}`)")
    console.print(f"outputs: [bold]{out / 'scores'}[/] (scores, propensity, summary.json, quarantine/), "
                  f"[bold]{out / 'icp'}[/] (icp.html, icp.md, attributes.csv, suggested_fit.yaml, lookalikes.csv), "
                  f"[bold]{trained.model_dir}[/] (model, report.md), [bold]{out / 'leads'}[/] (lead and contact "
                  f"scores), [bold]{out / 'routing'}[/] (decisions, matches, audit.jsonl), [bold]{out / 'rfm'}[/] "
                  f"(rfm, tasks, summary.json); "
                  f"propensity: {propensity['files']['csv']}")


def _print_territories_brief(s: dict[str, Any]) -> None:
    p = s["plan"]
    console.print(f"territories: {p['accounts']['planned']:,} accounts planned across {p['reps']['active']} active "
                  f"reps, {p['moves']['total']:,} moves; reps outside ±{s['settings']['tolerance']:.0%}: "
                  f"{p['reps_out_of_band']['before']} → {p['reps_out_of_band']['after']}; "
                  f"uncovered {p['uncovered']:,} ({p['solver']['status']})", highlight=False)


# --------------------------------------------------------------------------- assess


@app.command()
def assess(
    answers: Annotated[Path | None, typer.Option("--answers", help="Answers file (YAML or JSON): company_stage, scores, notes.")] = None,
    evidence: Annotated[Path | None, typer.Option("--evidence", help="Spec of a workspace whose data to read for evidence.")] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the assessment (and evidence) as JSON.")] = None,
    html_out: Annotated[Path | None, typer.Option("--html", help="Write a self-contained HTML report.")] = None,
    store: Annotated[Path | None, typer.Option("--store", help="Folder for assessments.jsonl (default: ./.tierwise).")] = None,
) -> None:
    """Score segmentation maturity on five dimensions, from answers and/or evidence in the data.

    Without --answers and --evidence it asks the questions interactively. Each
    scored assessment is appended to [bold]<store>/assessments.jsonl[/] and compared
    with the previous one.

    Example: [bold]tierwise assess --answers answers.yaml --evidence spec.yaml --html maturity.html[/]
    """
    from tierwise.engine.base import write_text_atomic
    from tierwise.reports import assessment as am

    if answers is None and evidence is None:
        if not _stdin_is_interactive():
            fail(TierwiseError("no answers: pass --answers FILE (or --evidence SPEC), "
                                "or run in a terminal to answer the questions interactively"))
        parsed = _prompt_answers(am)
    else:
        parsed = _run(am.load_answers, answers) if answers is not None else None
    found = None
    if evidence is not None:
        with _progress() as progress, progress.step("reading the workspace for evidence"):
            found = _run(am.evidence, evidence, parsed)
    result = am.assess(parsed) if parsed is not None else None
    progress_info = _run(am.record_assessment, store or am.default_store_dir(), result) if result else None
    if result:
        _print_assessment(result, progress_info)
    if found:
        _print_evidence(found)
    if json_out:
        payload = {"assessment": result, "progress": progress_info, "evidence": found}
        _run(write_text_atomic, json_out, json.dumps(payload, indent=2, sort_keys=True, default=str) + "\n")
        console.print(f"JSON written to [bold]{json_out}[/]")
    if html_out:
        _run(write_text_atomic, html_out, am.render_html(result, found, progress_info))
        console.print(f"HTML report written to [bold]{html_out}[/]")


def _history_file(spec_file: Any) -> Path:
    """The demo's DuckDB history store (the demo always uses the embedded default)."""
    from tierwise.store.history import resolve_history

    return Path(resolve_history(spec_file.spec.governance.history, spec_file.base_dir))


def _stdin_is_interactive() -> bool:
    return sys.stdin.isatty()


def _prompt_answers(am: Any) -> Any:
    from rich.prompt import Prompt

    scores: dict[str, float] = {}
    notes: dict[str, str] = {}
    for dim in am.DIMENSIONS:
        console.rule(f"[bold]{dim.name}")
        console.print(f"[bold]Measures:[/] {dim.measures}")
        console.print(f"[bold]Ask:[/] {dim.question}")
        levels = Table(show_header=True)
        for col in ("score", "level", "description", "evidence"):
            levels.add_column(col)
        for lv in dim.levels:
            levels.add_row(str(lv.score), lv.name, lv.description, lv.evidence)
        console.print(levels)
        console.print("[bold]Red flags:[/] " + "; ".join(dim.red_flags))
        scores[dim.key] = float(Prompt.ask("Score (1-5, half points allowed)", console=console,
                                           choices=[f"{s:g}" for s in am.ALLOWED_SCORES], show_choices=False))
        note = Prompt.ask("Notes (optional)", console=console, default="", show_default=False)
        if note.strip():
            notes[dim.key] = note.strip()
    stage = Prompt.ask("Company stage", console=console, choices=list(am.STAGES))
    return _run(am.parse_answers, {"company_stage": stage, "scores": scores, "notes": notes}, "answers")


def _print_assessment(result: dict[str, Any], progress_info: dict[str, Any] | None) -> None:
    b = result["benchmark"]
    console.print(f"[bold]Overall {result['overall']:.2f} — {result['band']}[/]: {result['interpretation']}")
    console.print(f"next step: {result['next_step']}")
    console.print(f"stage {b['stage']}: expected {b['expected']}, good {b['good']}, alarm {b['alarm']} → "
                  f"[bold]{b['verdict']}[/]; ICP maturity level: [bold]{result['icp_maturity_level']}[/]")
    deltas = progress_info["deltas"] if progress_info else {}
    t = Table(title="Dimensions", title_justify="left")
    for col in ("dimension", "score", "level", "change", "card if weak"):
        t.add_column(col, justify="right" if col in ("score", "change") else "left")
    cards = {w["dimension"]: w["card"] for w in result["weak_dimensions"]}
    for d in result["dimensions"]:
        change = f"{deltas[d['dimension']]:+g}" if d["dimension"] in deltas else ""
        t.add_row(d["name"], f"{d['score']:g}", f"{d['level']} {d['level_name']}", change, cards.get(d["dimension"], ""))
    console.print(t)
    if progress_info:
        console.print(f"previous overall {progress_info['previous_overall']:.2f} "
                      f"({progress_info['previous_recorded_at']}): change {progress_info['overall_delta']:+.2f}")


def _print_evidence(found: dict[str, Any]) -> None:
    t = Table(title="Evidence from the data", title_justify="left")
    for col in ("dimension", "suggested", "evidence"):
        t.add_column(col, justify="right" if col == "suggested" else "left")
    for key, s in found["dimensions"].items():
        t.add_row(key, "—" if s["suggested"] is None else f"{s['suggested']:g}", "\n".join(s["evidence"]))
    console.print(t)
    for c in found["contradictions"]:
        console.print(f"[yellow]contradiction:[/] {c['message']}", highlight=False)


# --------------------------------------------------------------------------- printing


def _print_loads(tables: dict[str, Any]) -> None:
    t = Table(title="Inputs", title_justify="left")
    for col in ("table", "read", "loaded", "quarantined", "top reasons"):
        t.add_column(col, justify="right" if col in ("read", "loaded", "quarantined") else "left")
    for name, s in tables.items():
        reasons = sorted(s["reasons"].items(), key=lambda kv: (-kv[1], kv[0]))[:3]
        t.add_row(name, f"{s['read']:,}", f"{s['loaded']:,}", f"{s['quarantined']:,}",
                  ", ".join(f"{k} ({v:,})" for k, v in reasons))
    console.print(t)


def _print_quality(quality: dict[str, Any]) -> None:
    acc = quality.get("accounts")
    if not acc:
        return
    low = sorted(((c, v) for c, v in acc["completeness"].items() if v < 0.8), key=lambda kv: kv[1])[:6]
    console.print("[bold]Data quality[/] (accounts)")
    if "staleness" in acc:
        s = acc["staleness"]
        if s["never_updated"] == acc["rows"]:
            console.print("  staleness: unknown — no account has an updated_at value")
        else:
            console.print(f"  stale (> {s['stale_after_days']} days since update): {s['stale_records']:,} "
                          f"({s['stale_share']:.1%}); {s['never_updated']:,} without updated_at")
    d = acc["duplicate_domains"]
    console.print(f"  duplicate domains: {d['domains']:,} domains across {d['accounts']:,} accounts")
    a = acc["attributes_per_account"]
    console.print(f"  attributes per account: mean {a['mean']} of {a['of']} (median {a['median']})")
    if low:
        console.print("  least complete: " + ", ".join(f"{c} {v:.0%}" for c, v in low))


def print_score_summary(summary: dict[str, Any], top: list[dict[str, Any]]) -> None:
    tiers = Table(title=f"Tiers — {summary['accounts']:,} accounts, as of {summary['as_of']}", title_justify="left")
    for col in ("tier", "accounts", "share", "rep action", "coverage"):
        tiers.add_column(col, justify="right" if col in ("accounts", "share") else "left")
    for name, r in summary["tiers"].items():
        tiers.add_row(name, f"{r['accounts']:,}", f"{r['share']:.1%}", r["action"], r["coverage"])
    console.print(tiers)
    segs = Table(title="Segments", title_justify="left")
    for col in ("priority", "segment", "motion", "accounts", "share"):
        segs.add_column(col, justify="right" if col in ("accounts", "share") else "left")
    for r in summary["segments"]:
        segs.add_row(r["priority"], r["segment"], r["motion"], f"{r['accounts']:,}", f"{r['share']:.1%}")
    console.print(segs)
    best = Table(title="Top accounts", title_justify="left")
    for col in ("account", "score", "tier", "segment", "why"):
        best.add_column(col, justify="right" if col == "score" else "left")
    for r in top:
        why = "; ".join(x for x in (r["reason_1"], r["reason_2"], r["reason_3"]) if x)
        best.add_row(f"{r['account_name'] or r['account_id']}", f"{r['score']:.1f}", r["tier"], r["segment"], why)
    console.print(best)


def _register_groups() -> None:
    from tierwise.cli.compile import compile_command
    from tierwise.cli.export import export_command
    from tierwise.cli.governance import history_app, pipeline_command, report_command
    from tierwise.cli.leads import leads_app
    from tierwise.cli.learn import icp_app, model_app
    from tierwise.cli.rfm import rfm_command
    from tierwise.cli.serve import serve
    from tierwise.cli.territories import territories_command

    app.command()(serve)
    app.command("territories")(territories_command)
    app.command("compile")(compile_command)
    app.command("export")(export_command)
    app.command("rfm")(rfm_command)
    app.add_typer(icp_app, name="icp")
    app.add_typer(model_app, name="model")
    app.add_typer(leads_app, name="leads")
    app.command("report")(report_command)
    app.command("pipeline")(pipeline_command)
    app.add_typer(history_app, name="history")


_register_groups()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
