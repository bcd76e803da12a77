"""``tierwise compile SPEC --dialect ...``: the scoring pipeline as SQL for a warehouse."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tierwise.cli.common import AsOfOpt, SpecArg, console, fail, parse_date, run
from tierwise.errors import TierwiseError


def compile_command(
    spec: SpecArg,
    dialect: Annotated[str, typer.Option("--dialect", help="duckdb, postgres, snowflake, bigquery, databricks, "
                                                          "trino or pyspark (Spark SQL; other Ibis dialects are tried "
                                                          "too).")] = "duckdb",
    what: Annotated[str, typer.Option("--what", help="Pipeline: accounts (scores, tiers, segments) or leads.")]
    = "accounts",
    table: Annotated[list[str] | None, typer.Option(
        "--table", help="A warehouse table for an input, e.g. accounts=crm.accounts (repeatable; also "
                        "propensity=... / lookalike=... for learned components).")] = None,
    as_of: AsOfOpt = None,
    out: Annotated[Path | None, typer.Option("--out", help="Write the SQL to this file instead of printing it.")]
    = None,
) -> None:
    """Print the SQL of the scoring pipeline for a warehouse (dbt, sqlmesh, a scheduler).

    Inputs are the warehouse's typed tables with the data model's columns (under the names the spec's
    columns:/preset: map them to). Operations the dialect lacks are reported before anything is printed.

    Example: [bold]tierwise compile spec.yaml --dialect snowflake --table accounts=crm.accounts[/]
    """
    from tierwise.compile.sql import compile_sql
    from tierwise.engine.base import write_text_atomic
    from tierwise.jobs.workspace import resolve_as_of
    from tierwise.spec.loader import load_spec

    tables = {}
    for item in table or []:
        name, sep, value = item.partition("=")
        if not sep or not name.strip() or not value.strip():
            fail(TierwiseError(f"--table must look like accounts=schema.table, got {item!r}"))
        tables[name.strip()] = value.strip()
    spec_file = run(load_spec, spec)
    day = resolve_as_of(spec_file, parse_date(as_of))
    sql = run(compile_sql, spec_file, dialect, as_of=day, what=what, tables=tables)
    if out is None:
        typer.echo(sql, nl=False)
    else:
        write_text_atomic(out, sql)
        console.print(f"{dialect} SQL for the {what} pipeline written to [bold]{out}[/]")
