"""``tierwise rfm``: RFM segments, health, lifetime value and segment-change tasks."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from tierwise.cli.common import AsOfOpt, EngineOpt, console, fail, parse_date, progress_bar, run
from tierwise.errors import TierwiseError


def rfm_command(
    spec: Annotated[Path | None, typer.Argument(help="Path to the spec YAML (leave out for the quick look).",
                                                show_default=False)] = None,
    out: Annotated[Path, typer.Option("--out", help="Output folder.")] = Path("tierwise-out/rfm"),
    transactions: Annotated[Path | None, typer.Option(
        "--transactions", help="Quick look: a transactions file (CSV or Parquet) instead of a spec.")] = None,
    customer: Annotated[str | None, typer.Option("--customer", help="Quick look: the customer id column.")] = None,
    date: Annotated[str | None, typer.Option("--date", help="Quick look: the transaction date column (ISO dates).")
                    ] = None,
    amount: Annotated[str | None, typer.Option(
        "--amount", help="Quick look: the amount column; negative amounts are returns or credits.")] = None,
    order: Annotated[str | None, typer.Option(
        "--order", help="Quick look: the order id column; frequency then counts distinct orders, else rows.")] = None,
    history: Annotated[Path | None, typer.Option(
        "--history", help="Quick look: folder keeping each run's segments, for tasks on segment changes.")] = None,
    horizon_days: Annotated[int | None, typer.Option(
        "--horizon-days", min=1, help="Quick look: lifetime-value horizon in days (default 365).")] = None,
    no_clv: Annotated[bool, typer.Option("--no-clv", help="Quick look: skip the lifetime-value models.")] = False,
    delimiter: Annotated[str, typer.Option("--delimiter", help="Quick look: CSV field delimiter.")] = ",",
    as_of: AsOfOpt = None,
    engine: EngineOpt = None,
) -> None:
    """RFM per customer from transactions: recency, frequency and monetary value scored 1-5 by quintile,
    the segment and its motion, customer health, lifetime value (BG/NBD + Gamma-Gamma) and, compared with the
    previous run, a task for every customer whose segment changed. Writes rfm.parquet/.csv, tasks.csv,
    summary.json.

    Example: [bold]tierwise rfm spec.yaml --out out/rfm[/]

    Quick look: [bold]tierwise rfm --transactions orders.csv --customer customer_id --date order_date
    --amount total --order order_id --out out/rfm[/]
    """
    from tierwise.jobs.rfm import rfm, rfm_file

    quick = {"--customer": customer, "--date": date, "--amount": amount, "--order": order, "--history": history,
             "--horizon-days": horizon_days, "--no-clv": no_clv or None,
             "--delimiter": delimiter if delimiter != "," else None}
    if spec is not None and transactions is not None:
        fail(TierwiseError("give a spec or --transactions (the quick look), not both"))
    if spec is None and transactions is None:
        fail(TierwiseError("give a spec (tierwise rfm spec.yaml) or a transactions file: tierwise rfm "
                           "--transactions FILE --customer COL --date COL --amount COL [--order COL]"))
    day = parse_date(as_of)
    with progress_bar() as progress:
        if spec is not None:
            given = [k for k, v in quick.items() if v is not None]
            if given:
                fail(TierwiseError(f"{', '.join(given)} only apply to the quick look (--transactions); with a spec, "
                                   "set them in its rfm: section (see docs/rfm.md)"))
            result = run(rfm, spec, out, as_of=day, engine_url=engine, progress=progress)
        else:
            missing = [k for k in ("--customer", "--date", "--amount") if quick[k] is None]
            if missing:
                fail(TierwiseError(f"the quick look needs {', '.join(missing)}: the columns holding the customer "
                                   "id, the transaction date and the amount"))
            assert transactions is not None and customer and date and amount
            result = run(rfm_file, transactions, out, customer=customer, date_column=date, amount=amount,
                         order=order, as_of=day, history=history, horizon_days=horizon_days, clv=not no_clv,
                         delimiter=delimiter, engine_url=engine, progress=progress)
    print_rfm_summary(result.summary)
    console.print(f"outputs: [bold]{result.out_dir}[/] ({', '.join(sorted(Path(f).name for f in result.files.values()))})")


def print_rfm_summary(s: dict[str, Any]) -> None:
    rows = s["rows"]
    line = (f"transactions: {rows['read']:,} read, {rows['quarantined']:,} quarantined, {rows['used']:,} used"
            + (f", {rows['after_as_of']:,} after as_of (ignored)" if rows["after_as_of"] else "")
            + (f", {rows['missing_amount']:,} without an amount (ignored)" if rows["missing_amount"] else "")
            + (f"; {rows['return_lines']:,} returns/credits ({rows['returned_amount']:,.2f}) lower revenue"
               if rows["return_lines"] else ""))
    console.print(line)
    if rows["quarantine_reasons"]:
        console.print("  quarantined: " + ", ".join(f"{k} ({v:,})" for k, v in rows["quarantine_reasons"].items()))
    t = Table(title=f"RFM segments — {s['customers']:,} customers, revenue {s['revenue']:,.2f}, as of {s['as_of']} "
                    f"(frequency counts {s['frequency_counts']})", title_justify="left")
    for col in ("segment", "scores", "customers", "share", "revenue", "motion"):
        t.add_column(col, justify="right" if col in ("customers", "share", "revenue") else "left")
    for seg in s["segments"]:
        share = seg["revenue_share"]
        t.add_row(seg["segment"], seg["scores"], f"{seg['customers']:,}", f"{seg['share']:.1%}",
                  "-" if share is None else f"{share:.1%}", seg["motion"])
    console.print(t)
    if rows.get("customers_with_returns_only"):
        console.print(f"  {rows['customers_with_returns_only']:,} customers with returns or credits but no purchase "
                      "are not scored")
    bands = s["health"]["bands"]
    console.print(f"health ({' + '.join(s['health']['parts'])}): healthy {bands['healthy']:,}, watch "
                  f"{bands['watch']:,}, at risk {bands['at risk']:,}")
    clv = s["clv"]
    if "skipped" in clv:
        console.print(f"lifetime value: skipped — {clv['skipped']}")
    else:
        bg = clv["bgnbd"]
        console.print(f"lifetime value over {clv['horizon_days']} days: {clv['expected_purchases_total']:,.0f} "
                      f"purchases, {clv['expected_value_total']:,.2f} expected; mean P(alive) {clv['mean_p_alive']:.2f} "
                      f"(BG/NBD r={bg['r']:.3f} alpha={bg['alpha']:.3f} a={bg['a']:.3f} b={bg['b']:.3f})")
    tr = s["triggers"]
    if tr.get("previous_as_of"):
        priorities = ", ".join(f"{k} {v:,}" for k, v in tr["by_priority"].items())
        console.print(f"since the run of {tr['previous_as_of']}: {tr['segment_changes']:,} segment changes, "
                      f"{tr['tasks']:,} tasks" + (f" ({priorities})" if priorities else "")
                      + f"; Champions -> At-Risk: [bold]{tr['champions_to_at_risk']:,}[/]")
        for t in tr["transitions"][:5]:
            console.print(f"  {t['from']} -> {t['to']}: {t['customers']:,}")
    elif tr.get("history"):
        console.print(f"no earlier run in {tr['history']}: tasks start with the next run")
