"""``tierwise export SPEC --to salesforce|hubspot``: upsert files for the CRM."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tierwise.cli.common import AsOfOpt, EngineOpt, SpecArg, console, parse_date, progress_bar, run


def export_command(
    spec: SpecArg,
    to: Annotated[str, typer.Option("--to", help="salesforce (Bulk API 2.0 upsert CSV) or hubspot (import CSV "
                                                "and batch-upsert JSON).")],
    out: Annotated[Path, typer.Option("--out", help="Output folder (a subfolder per CRM).")] = Path("tierwise-out/crm"),
    all_records: Annotated[bool, typer.Option("--all", help="Write every record, not only those that changed "
                                                           "since the last export.")] = False,
    as_of: AsOfOpt = None,
    engine: EngineOpt = None,
) -> None:
    """Score every account and write the CRM's upsert files: only the records whose exported values
    changed since the last export to that CRM, unless --all. Cells a spreadsheet would run as formulas
    are neutralised.

    Example: [bold]tierwise export spec.yaml --to salesforce --out out/crm[/]
    """
    from tierwise.jobs.export import export

    with progress_bar() as progress:
        result = run(export, spec, out, to=to, all_records=all_records, as_of=parse_date(as_of),
                     engine_url=engine, progress=progress)
    s = result.summary
    console.print(f"{s['to']}: {s['written']:,} of {s['records']:,} records written ({s['unchanged']:,} unchanged "
                  f"since the last export; mode: {s['mode']})")
    console.print(f"upsert file: [bold]{result.files['csv']}[/]")
    if result.files.get("batches"):
        console.print(f"batch-upsert payloads: {len(result.files['batches'])} in "
                      f"[bold]{Path(result.files['batches'][0]).parent}[/]")
