"""``tierwise territories``: balanced, minimally disruptive territory plans and what-if scenarios."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from tierwise.cli.common import AsOfOpt, EngineOpt, SpecArg, console, parse_date, progress_bar, run


def territories_command(
    spec: SpecArg,
    out: Annotated[Path, typer.Option("--out", help="Output folder.")] = Path("tierwise-out/territories"),
    reps: Annotated[Path | None, typer.Option(
        "--reps", help="Reps file (CSV or Parquet: rep_id, role, region, capacity, active, specialisation) "
                       "instead of data.reps.")] = None,
    scores: Annotated[Path | None, typer.Option(
        "--scores", help="scores.parquet (or .csv) from tierwise score: skip scoring.")] = None,
    scenarios: Annotated[Path | None, typer.Option(
        "--scenarios", help="YAML file with a 'scenarios:' list, added to the spec's.")] = None,
    only: Annotated[list[str] | None, typer.Option(
        "--scenario", help="Run only this scenario (repeat for more); default: every scenario.")] = None,
    commit: Annotated[bool, typer.Option(
        "--commit", help="Write crm_upsert.csv (account id, new owner) and record the plan in the history.")] = False,
    commit_scenario: Annotated[str | None, typer.Option(
        "--commit-scenario", help="Commit this scenario's plan instead of the base plan.")] = None,
    strict: Annotated[bool, typer.Option(
        "--strict", help="Exit 1 when capacity is below demand instead of leaving accounts uncovered.")] = False,
    html: Annotated[Path | None, typer.Option("--html", help="Write a self-contained HTML report.")] = None,
    as_of: AsOfOpt = None,
    engine: EngineOpt = None,
) -> None:
    """Plan territories: assign every covered account to a rep of its role (and region) so that each rep's
    potential and workload sit within ±5% of the role's mean, within capacity and the coverage model
    (tier A 15-20 accounts per rep, B ~40, C ~150 in the shared pool, D none), moving as few accounts as
    possible and tier A only when unavoidable. HiGHS solves one MIP per role and region; the gap to the best
    possible plan is reported. Named scenarios (add or remove reps, change capacity or coverage) are planned
    and compared side by side; nothing is written to the CRM unless you --commit.

    Writes plan.parquet/.csv, moves.csv, reps.csv, shortfall.csv, scenarios.csv, summary.json.

    Example: [bold]tierwise territories spec.yaml --out out/territories --html territories.html[/]
    """
    from tierwise.jobs.territories import territories

    with progress_bar() as progress:
        result = run(territories, spec, out, as_of=parse_date(as_of), engine_url=engine, reps_file=reps,
                     scores_file=scores, scenarios_file=scenarios, scenarios=only or None, commit=commit,
                     commit_scenario=commit_scenario, strict=strict, html=html, progress=progress)
    print_territory_summary(result.summary)
    if "committed" in result.summary:
        c = result.summary["committed"]
        console.print(f"committed plan [bold]{c['plan']}[/]: CRM upsert [bold]{c['upsert']}[/], "
                      f"record {c['record']}")
    names = sorted(Path(f).name for k, f in result.files.items() if not k.startswith("scenario_"))
    console.print(f"outputs: [bold]{result.out_dir}[/] ({', '.join(names)})")


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.1%}"


def print_territory_summary(s: dict[str, Any]) -> None:
    p = s["plan"]
    acc, mv, sol = p["accounts"], p["moves"], p["solver"]
    tol = s["settings"]["tolerance"]
    console.print(f"[bold]Territories[/] as of {s['as_of']}: {acc['planned']:,} accounts planned over "
                  f"{p['reps']['active']:,} active reps ({acc['not_covered']:,} not covered by design: "
                  + (", ".join(f"{k} {v:,}" for k, v in acc["not_covered_by_reason"].items()) or "none") + ")",
                  highlight=False)
    console.print(f"moves: {mv['total']:,} ({mv['forced']:,} forced, {mv['discretionary']:,} to balance or fit "
                  f"capacity), {mv['assigned_unowned']:,} unowned accounts assigned, {p['uncovered']:,} left "
                  f"uncovered; solver {sol['status']}, gap {sol['gap']:.2%} (objective {sol['objective']:,.1f}, "
                  f"bound {sol['bound']:,.1f}), {sol['seconds']:.1f} s", highlight=False)
    t = Table(title=f"Balance by role (target: every rep within ±{tol:.0%} of the role's mean)",
              title_justify="left")
    for col in ("role", "reps", "metric", "mean per rep", "max deviation", "CV"):
        t.add_column(col, justify="left" if col in ("role", "metric") else "right")
    for r in s["spread"]:
        mean = f"{r['mean_after']:,.0f}" if r["mean_after"] >= 100 else f"{r['mean_after']:,.2f}"
        t.add_row(str(r["role"]), f"{r['reps']:,}", r["metric"], mean,
                  f"{_pct(r['max_dev_before'])} → {_pct(r['max_dev_after'])}",
                  f"{_pct(r['cv_before'])} → {_pct(r['cv_after'])}")
    console.print(t)
    within = p["max_deviation_within_region"]
    console.print(f"largest deviation within a role and region: potential {_pct(within['potential'])}, "
                  f"workload {_pct(within['workload'])}; reps outside ±{tol:.0%}: "
                  f"{p['reps_out_of_band']['before']} before, {p['reps_out_of_band']['after']} after", highlight=False)
    off = [r for r in s.get("staffing", []) if r["potential_vs_role"] is not None and r["reps"]
           and abs(r["potential_vs_role"]) > tol]
    if off:
        console.print("[yellow]regions off their role's mean[/] (no reassignment within the region can fix it): "
                      + "; ".join(f"{r['role']} {r['region']}: {r['reps']} reps at {r['potential_vs_role']:+.0%}, "
                                  f"{r['reps_at_role_mean']:.1f} at the mean" for r in off[:6]), highlight=False)
    for label in ("before", "after"):
        over, starved = p["overloaded"][label], p["starved"][label]
        if over or starved:
            console.print(f"{label}: overloaded {len(over)}" + (f" ({', '.join(over[:8])}"
                                                                 f"{', ...' if len(over) > 8 else ''})" if over else "")
                          + f", starved {len(starved)}" + (f" ({', '.join(starved[:8])}"
                                                          f"{', ...' if len(starved) > 8 else ''})" if starved else ""),
                          highlight=False)
    if mv["by_reason"]:
        console.print("why accounts move: " + ", ".join(f"{k} {v:,}" for k, v in mv["by_reason"].items()),
                      highlight=False)
    for line in s.get("shortfall_explained", [])[:10]:
        console.print(f"[yellow]capacity below demand:[/] {line}", highlight=False)
    if len(s["scenarios"]) > 1:
        sc = Table(title="Scenarios (deviations from the role's mean, after)", title_justify="left")
        for col in ("plan", "reps", "moves", "uncovered", "max dev pot / wl", "in region", "out of band", "gap"):
            sc.add_column(col, justify="left" if col == "plan" else "right")
        for r in s["scenarios"]:
            sc.add_row(r["plan"], f"{r['active_reps']:,}", f"{r['moves']:,}", f"{r['uncovered']:,}",
                       f"{_pct(r['max_dev_potential'])} / {_pct(r['max_dev_workload'])}",
                       _pct(r["max_dev_potential_within_region"]), f"{r['reps_out_of_band']:,}", f"{r['gap']:.2%}")
        console.print(sc)
