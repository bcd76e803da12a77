"""The spec's scoring as SQL for a warehouse (``tierwise compile SPEC --dialect ...``).

Teams that run scoring inside their warehouse (dbt, sqlmesh, a scheduler) get
the very expression ``tierwise score`` runs, compiled by Ibis for their
dialect. The input tables are the warehouse's own, already typed: the data
model's columns under the names the spec maps them to (``columns:`` and
``preset:``), read from ``accounts`` / ``activities`` (or the names given).

Before compiling, every operation of the expression is checked against the
dialect's compiler, so a missing feature is reported by name, with the
output columns that need it — never as a failure halfway through a run.

Examples
--------
>>> import datetime
>>> from tierwise.spec.loader import load_spec_text
>>> spec_file = load_spec_text('''
... data: {accounts: {path: a.csv}}
... fit: {criteria: [{name: size, field: employees, at_least: 100, points: 10}]}
... ''')
>>> sql = compile_sql(spec_file, "postgres", as_of=datetime.date(2026, 11, 1))
>>> sql.splitlines()[0].split(": ")[0], 'FROM "accounts"' in sql
('-- tierwise scoring for postgres', True)
>>> missing = missing_operations(scoring_expr(spec_file, as_of=datetime.date(2026, 11, 1)), "mysql")
>>> "ArrayFilter" in {m.operation for m in missing}
True
"""

from __future__ import annotations

import re
from datetime import date

import ibis
import ibis.expr.operations as ops
import ibis.expr.types as ir

from tierwise.datamodel import IBIS_TYPES, TABLES
from tierwise.engine.capabilities import DIALECTS, CapabilityError, compiler_class, missing_operations
from tierwise.errors import TierwiseError
from tierwise.io.presets import PRESETS
from tierwise.spec.loader import SpecFile

#: What each pipeline reads: output name -> the canonical tables, in order.
PIPELINES = {"accounts": ("accounts", "activities"), "leads": ("leads", "lead_activities")}

def warehouse_table(spec_file: SpecFile, name: str, table_name: str | None = None) -> ir.Table:
    """A warehouse table as the data model's typed columns, under the names the spec maps them to.

    ``table_name`` may be qualified: ``schema.table`` or ``catalog.schema.table``.
    """
    table = TABLES[name]
    source = spec_file.spec.data.sources().get(name)
    preset = PRESETS[source.preset].get(name, {}) if source is not None else {}
    explicit = source.columns if source is not None else {}
    types = {c: d.dtype for c, d in table.columns.items()} | (dict(source.attributes) if source is not None else {})
    columns = {canonical: explicit.get(canonical) or preset.get(canonical) or canonical for canonical in types}
    raw = _unbound({src: IBIS_TYPES[types[c]] for c, src in columns.items()}, table_name or name, name)
    return raw.select(**{c: raw[src] for c, src in columns.items()})


def _unbound(schema: dict[str, str], qualified: str, role: str) -> ir.Table:
    """A warehouse table by ``table``, ``schema.table`` or ``catalog.schema.table``."""
    parts = qualified.split(".")
    if len(parts) > 3 or not all(parts):
        raise TierwiseError(f"table name {qualified!r} for {role}: use table, schema.table or catalog.schema.table")
    catalog = parts[0] if len(parts) == 3 else None
    database = parts[-2] if len(parts) >= 2 else None
    return ibis.table(schema, name=parts[-1], catalog=catalog, database=database)


def scoring_expr(spec_file: SpecFile, *, as_of: date, what: str = "accounts",
                 tables: dict[str, str] | None = None) -> ir.Table:
    """The pipeline ``what`` (``accounts`` or ``leads``) over warehouse tables, as one expression."""
    from tierwise.compile.leads import compile_lead_scores
    from tierwise.compile.scoring import compile_scores

    if what not in PIPELINES:
        raise TierwiseError(f"unknown pipeline {what!r}; choose one of {', '.join(PIPELINES)}")
    names = tables or {}
    spec = spec_file.spec
    main, events = (warehouse_table(spec_file, t, names.get(t)) for t in PIPELINES[what])
    if what == "leads":
        if spec.lead_scoring is None:
            raise TierwiseError(f"{spec_file.path}: the spec has no 'lead_scoring:' section to compile")
        return compile_lead_scores(spec_file, main, events, as_of=as_of, key="lead_id")
    components = {}
    learned = {"propensity": spec.uses_propensity, "lookalike": spec.lookalike.weight > 0}
    for component, used in learned.items():
        if used:  # scored in Python by a trained model: the warehouse provides its output as a table
            components[component] = _unbound({"account_id": "string", "score": "float64", "reason": "string"},
                                              names.get(component, f"tierwise_{component}"), component)
    return compile_scores(spec_file, main, events, as_of=as_of, components=components or None)


def compile_sql(spec_file: SpecFile, dialect: str, *, as_of: date, what: str = "accounts",
                tables: dict[str, str] | None = None) -> str:
    """The SQL of a scoring pipeline for ``dialect``, after checking the dialect can express all of it."""
    if dialect not in DIALECTS:
        compiler_class(dialect)  # unknown names fail here; Ibis dialects beyond the promised ones are allowed
    expr = scoring_expr(spec_file, as_of=as_of, what=what, tables=tables)
    missing = missing_operations(expr, dialect)
    if missing:
        raise CapabilityError(
            f"{dialect} cannot express this spec's {what} scoring; missing: "
            + "; ".join(m.describe() for m in missing)
            + ". Run it with tierwise on DuckDB, or change the criteria that need these operations.")
    inputs = sorted({op.name for op in expr.op().find(ops.UnboundTable)})
    header = (f"-- tierwise scoring for {dialect}: spec {spec_file.spec.fingerprint()}, as of {as_of.isoformat()}, "
              f"inputs {', '.join(inputs)}")
    return header + "\n" + _stable_names(str(ibis.to_sql(expr, dialect=dialect, pretty=True))).rstrip() + ";\n"


#: Names Ibis generates with a random suffix (``ibis_bq_arr_tro2r7x5a5fjhm3bceupnhkdp4``).
_GENERATED_NAME = re.compile(r"\b(ibis_[a-z_]*?_)([a-z0-9]{26})\b")


def _stable_names(sql: str) -> str:
    """Number Ibis' randomly named helpers in order of appearance: the same spec compiles to the same bytes."""
    numbers: dict[str, int] = {}

    def stable(match: re.Match) -> str:
        return f"{match.group(1)}{numbers.setdefault(match.group(2), len(numbers) + 1)}"

    return _GENERATED_NAME.sub(stable, sql)
