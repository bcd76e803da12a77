"""``tierwise icp ...`` and ``tierwise model ...``: discovery, lookalikes and the propensity model."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from tierwise.cli.common import AsOfOpt, EngineOpt, console, fail, parse_date, progress_bar, run
from tierwise.errors import TierwiseError

icp_app = typer.Typer(help="Data-driven ICP: discovery from won/lost deals and lookalikes of the best customers.",
                      no_args_is_help=True)
model_app = typer.Typer(help="Predictive win propensity: train, score and evaluate a LightGBM model.",
                        no_args_is_help=True)

OptionalSpec = Annotated[Path | None, typer.Argument(help="Path to the spec YAML (omit with --table).",
                                                     show_default=False)]
TableOpt = Annotated[Path | None, typer.Option("--table", help="One flat CSV/Parquet table instead of a spec.")]
OutcomeOpt = Annotated[str | None, typer.Option("--outcome", help="--table: the outcome column.")]
WonOpt = Annotated[str | None, typer.Option("--won", help="--table: the outcome value that means won.")]
LostOpt = Annotated[list[str] | None, typer.Option(
    "--lost", help="--table: outcome value(s) that mean lost (default: the one other value).")]
ExcludeOpt = Annotated[list[str] | None, typer.Option("--exclude", help="--table: a column to leave out (repeat).")]
NaOpt = Annotated[list[str] | None, typer.Option(
    "--na", help="--table: a text value meaning missing, e.g. Select (repeat).")]


def _flat_args(table: Path | None, spec: Path | None, outcome: str | None, won: str | None,
               table_only: dict[str, Any]) -> bool:
    """True for the flat-table form; checks the arguments either way."""
    if table is None and spec is None:
        fail(TierwiseError("give a spec (tierwise icp discover spec.yaml) or a flat table "
                           "(--table FILE --outcome COLUMN --won VALUE)"))
    if table is not None and spec is not None:
        fail(TierwiseError("give either a spec or --table, not both"))
    if table is not None and (outcome is None or won is None):
        fail(TierwiseError("--table needs --outcome COLUMN and --won VALUE (the outcome value that means won)"))
    given = [f"--{name}" for name, value in table_only.items() if value]
    if table is None and given:
        fail(TierwiseError(f"{', '.join(given)} only apply with --table; with a spec, the columns come from the "
                           "spec (propensity.include / propensity.exclude for the leakage guard)"))
    return table is not None


# --------------------------------------------------------------------------- icp


@icp_app.command("discover")
def icp_discover(
    spec: OptionalSpec = None,
    out: Annotated[Path, typer.Option("--out", help="Output folder.")] = Path("tierwise-out/icp"),
    table: TableOpt = None,
    outcome: OutcomeOpt = None,
    won: WonOpt = None,
    lost: LostOpt = None,
    amount: Annotated[str | None, typer.Option("--amount", help="--table: the deal value column.")] = None,
    exclude: ExcludeOpt = None,
    include: Annotated[list[str] | None, typer.Option(
        "--include", help="--table: keep a column the leakage guard would leave out (repeat).")] = None,
    na: NaOpt = None,
    min_support: Annotated[int, typer.Option("--min-support", help="Fewest records for a value to count.")] = 30,
    as_of: AsOfOpt = None,
    engine: EngineOpt = None,
) -> None:
    """Which attributes win: win rates with intervals, lift, WoE/IV, best customers, micro-segments, and a
    suggested fit section. Writes icp.md, icp.html, attributes.csv, suggested_fit.yaml and summary.json.

    Examples: [bold]tierwise icp discover spec.yaml --out out/icp[/]
    [bold]tierwise icp discover --table deals.csv --outcome result --won Won --out out/icp[/]
    """
    from tierwise.jobs import icp

    with progress_bar() as progress:
        table_only = {"outcome": outcome, "won": won, "lost": lost, "amount": amount, "exclude": exclude,
                      "include": include, "na": na}
        if _flat_args(table, spec, outcome, won, table_only):
            result = run(icp.discover_table, table, out, outcome=outcome, won=won, lost=lost or None, amount=amount,
                         exclude=exclude or (), na_values=na or (), include=include or (), progress=progress,
                         min_support=min_support)
        else:
            result = run(icp.discover, spec, out, as_of=parse_date(as_of), engine_url=engine, progress=progress,
                         min_support=min_support)
    print_discovery(result)


def print_discovery(result: Any) -> None:
    s, model = result.summary, result.discovery
    console.rule("[bold]ICP discovery")
    console.print(f"{s['records']:,} closed records, {s['won']:,} won ({100 * s['win_rate']:.1f}%); "
                  f"{s['comparisons']} attribute values tested, {s['significant_values']} significant after "
                  "correction")
    if not s["has_signal"]:
        console.print("[bold yellow]No attribute is significant[/]: this data does not support a data-derived ICP. "
                      "Keep the fit criteria you have and collect more won/lost history.")
    elif len(model.validated_):
        t = Table(title="validated attributes (by information value)")
        for col in ("attribute", "strongest value", "records", "win rate (95% interval)", "lift", "IV"):
            t.add_column(col)
        for _, r in model.validated_.iterrows():
            t.add_row(str(r["attribute"]), str(r["best_value"]), f"{int(r['support']):,}",
                      f"{100 * r['win_rate']:.1f}% ({100 * r['ci_low']:.1f}-{100 * r['ci_high']:.1f}%)",
                      f"{r['lift']:.2f}", f"{r['information_value']:.3f}")
        console.print(t)
    cust = s.get("customers")
    if cust and cust.get("net_revenue_retention") is not None:
        console.print(f"{cust['paying_accounts']:,} paying customers, median lifetime value "
                      f"{cust['median_ltv']:,.0f}, net revenue retention {100 * cust['net_revenue_retention']:.0f}%")
    for note in s["notes"]:
        console.print(f"- {note}", highlight=False)
    console.print(f"ICP document: [bold]{result.files['html']}[/] and {result.files['markdown']}; "
                  f"suggested fit: {result.files['suggested_fit']}")


@icp_app.command("lookalikes")
def icp_lookalikes(
    spec: Annotated[Path, typer.Argument(help="Path to the spec YAML.", show_default=False)],
    out: Annotated[Path, typer.Option("--out", help="Output folder.")] = Path("tierwise-out/icp"),
    top: Annotated[int, typer.Option("--top", help="How many prospects to show.")] = 10,
    as_of: AsOfOpt = None,
    engine: EngineOpt = None,
) -> None:
    """Rank accounts that are not yet customers by similarity to the best customers (lookalikes.csv).

    Example: [bold]tierwise icp lookalikes spec.yaml --out out/icp[/]
    """
    from tierwise.jobs.icp import lookalikes

    with progress_bar() as progress:
        result = run(lookalikes, spec, out, as_of=parse_date(as_of), engine_url=engine, progress=progress)
    print_lookalikes(result.summary, top)
    console.print(f"lookalikes written to [bold]{result.files['lookalikes']}[/]")


def print_lookalikes(s: dict[str, Any], top: int = 10) -> None:
    auc = s.get("holdout_auc")
    console.print(f"{s['best_customers']:,} best customers (top {100 * s['best_share']:.0f}% of {s['customers']:,} "
                  f"by {s['basis']}); {s['prospects']:,} prospects ranked"
                  + (f"; held-out best customers ranked above non-customers with AUC {auc:.3f}" if auc else ""))
    t = Table(title="most similar prospects")
    for col in ("account", "similarity", "why"):
        t.add_column(col)
    for r in s["top"][:top]:
        why = "; ".join(x for x in (r.get("reason_1"), r.get("reason_2"), r.get("reason_3")) if x)
        t.add_row(r["account_id"], f"{r['lookalike_score']:.1f}", why)
    console.print(t)


# --------------------------------------------------------------------------- model


@model_app.command("train")
def model_train(
    spec: Annotated[Path, typer.Argument(help="Path to the spec YAML.", show_default=False)],
    as_of: AsOfOpt = None,
    engine: EngineOpt = None,
) -> None:
    """Train the propensity model on closed deals (features as of each deal's creation), evaluate it on the
    latest deals held out by time, and save it to the spec's propensity.path.

    Example: [bold]tierwise model train spec.yaml[/]
    """
    from tierwise.jobs.model import train

    with progress_bar() as progress:
        result = run(train, spec, as_of=parse_date(as_of), engine_url=engine, progress=progress)
    print_training(result)


def _print_capture_and_leakage(metrics: dict[str, Any], findings: list[dict[str, Any]], *, unit: str) -> None:
    cap = metrics.get("top_tiers_capture") or {}
    if cap:
        console.print(f"top two tiers: {100 * cap['share_of_records']:.0f}% of {unit}, "
                      f"{100 * cap['share_of_wins']:.0f}% of wins")
    for f in findings:
        console.print(f"leakage guard: {f['column']} — {f['action']}: {f['reason']}", highlight=False)


def print_training(result: Any) -> None:
    m, meta = result.metrics, result.metadata
    console.rule("[bold]propensity model")
    console.print(f"trained on {meta['deals']:,} deals ({meta['won']:,} won), "
                  f"{len(meta['features'])} features; time-based holdout of {meta['holdout']['deals']:,} deals: "
                  f"AUC {m['auc']:.3f}, PR-AUC {m['pr_auc']:.3f} (base rate {100 * m['base_rate']:.1f}%)")
    _print_capture_and_leakage(m, meta.get("leakage", []), unit="deals")
    console.print(f"model and report: [bold]{result.model_dir}[/]")


@model_app.command("score")
def model_score(
    spec: Annotated[Path, typer.Argument(help="Path to the spec YAML.", show_default=False)],
    out: Annotated[Path, typer.Option("--out", help="Output folder.")] = Path("tierwise-out"),
    as_of: AsOfOpt = None,
    engine: EngineOpt = None,
) -> None:
    """Write every account's 0-100 propensity with its top reasons (propensity.parquet / .csv).

    Example: [bold]tierwise model score spec.yaml --out out/[/]
    """
    from tierwise.jobs.model import score_accounts

    with progress_bar() as progress:
        result = run(score_accounts, spec, out, as_of=parse_date(as_of), engine_url=engine, progress=progress)
    s = result["summary"]
    t = Table(title=f"highest propensity of {s['accounts']:,} accounts (as of {s['as_of']})")
    for col in ("account", "propensity", "why"):
        t.add_column(col)
    for r in s["top"]:
        why = "; ".join(x for x in (r.get("propensity_reason_1"), r.get("propensity_reason_2")) if x)
        t.add_row(r["account_id"], f"{r['propensity']:.1f}", why)
    console.print(t)
    console.print(f"propensities written to [bold]{result['files']['parquet']}[/]")


@model_app.command("evaluate")
def model_evaluate(
    table: Annotated[Path, typer.Option("--table", help="One flat CSV/Parquet table.")],
    outcome: Annotated[str, typer.Option("--outcome", help="The outcome column.")],
    won: Annotated[str, typer.Option("--won", help="The outcome value that means won.")],
    lost: LostOpt = None,
    exclude: ExcludeOpt = None,
    include: Annotated[list[str] | None, typer.Option(
        "--include", help="Keep a column the leakage guard would exclude (repeat).")] = None,
    na: NaOpt = None,
    folds: Annotated[int, typer.Option("--folds", min=2, help="Cross-validation folds.")] = 5,
    out: Annotated[Path, typer.Option("--out", help="Output folder.")] = Path("tierwise-out/model"),
) -> None:
    """Cross-validated AUC, PR-AUC, calibration and lift by decile on one flat table, after the leakage guard.

    Example: [bold]tierwise model evaluate --table deals.csv --outcome result --won Won[/]
    """
    from tierwise.jobs.model import evaluate_table

    with progress_bar() as progress:
        result = run(evaluate_table, table, out, outcome=outcome, won=won, lost=lost or None, exclude=exclude or (),
                     include=include or (), na_values=na or (), folds=folds, progress=progress)
    s = result["summary"]
    console.print(f"{s['records']:,} records, {s['won']:,} won; {folds}-fold cross-validated AUC "
                  f"[bold]{s['auc']:.3f}[/], PR-AUC {s['pr_auc']:.3f}")
    _print_capture_and_leakage(s, s.get("leakage", []), unit="records")
    console.print(f"report: [bold]{result['files']['report']}[/]; summary: {result['files']['summary']}")

