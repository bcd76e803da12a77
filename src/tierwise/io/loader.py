"""Load canonical tables through the engine, quarantining every row that fails a check.

Every row read is either loaded or quarantined with a reason, so
``read == loaded + quarantined`` holds for every table. Reading, casting and
checking are set-based expressions that the engine runs; nothing iterates over
rows in Python.

Examples
--------
>>> import tempfile, pathlib
>>> from tierwise.engine import connect
>>> from tierwise.spec.model import SourceSpec
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> _ = (d / "accounts.csv").write_text("account_id,employees\\nA1,120\\nA2,lots\\nA1,5\\n")
>>> with connect() as engine:
...     load = load_table(engine, "accounts", SourceSpec(path="accounts.csv"), d / "accounts.csv")
...     print(load.read, load.loaded, load.quarantined)
...     print(engine.to_arrow(load.quarantine.select("_row", "_reason")).to_pylist()[0])
3 1 2
{'_row': 2, '_reason': "unparsable int in employees: 'lots'"}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
import pyarrow as pa

from tierwise.datamodel import IBIS_TYPES, TABLES, ColumnDef, TableDef
from tierwise.engine.base import ROW_COLUMN, Engine, RawTable
from tierwise.errors import DataError
from tierwise.io.presets import PRESETS
from tierwise.spec.model import SourceSpec

REASON_COLUMN = "_reason"

_TRUE = ("true", "t", "yes", "y", "1")
_FALSE = ("false", "f", "no", "n", "0")


@dataclass
class Check:
    """One row check: a boolean ``failed`` expression and the reason text it gives."""

    code: str
    failed: ir.BooleanValue
    reason: ir.StringValue


@dataclass
class TableLoad:
    """The result of loading one table."""

    name: str
    path: Path
    clean: ir.Table
    quarantine: ir.Table
    read: int
    loaded: int
    quarantined: int
    reasons: dict[str, int]
    columns: dict[str, str]  # canonical -> source column
    missing_optional: list[str] = field(default_factory=list)

    @property
    def reconciles(self) -> bool:
        return self.read == self.loaded + self.quarantined

    def summary(self) -> dict[str, Any]:
        return {
            "table": self.name,
            "file": str(self.path),
            "read": self.read,
            "loaded": self.loaded,
            "quarantined": self.quarantined,
            "reconciles": self.reconciles,
            "reasons": dict(sorted(self.reasons.items())),
            "columns": self.columns,
            "missing_optional_columns": self.missing_optional,
        }


def resolve_columns(table: TableDef, source: SourceSpec, file_columns: list[str], path: Path) -> dict[str, str]:
    """Map canonical columns to the file's columns; raise naming what is missing."""
    preset = PRESETS[source.preset].get(table.name, {})
    by_lower = {c.lower(): c for c in file_columns}
    wanted: dict[str, ColumnDef | str] = {**table.columns, **source.attributes}
    out: dict[str, str] = {}
    for canonical in wanted:
        candidates = [source.columns.get(canonical), preset.get(canonical), canonical]
        for cand in candidates:
            if cand is None:
                continue
            if cand in file_columns:
                out[canonical] = cand
                break
            if cand.lower() in by_lower:
                out[canonical] = by_lower[cand.lower()]
                break
        else:
            explicit = source.columns.get(canonical)
            if explicit is not None:
                raise DataError(
                    f"{path}: column '{explicit}' (mapped to {table.name}.{canonical} in the spec) not found; "
                    f"columns present: {', '.join(file_columns)}"
                )
    for name in table.required:
        if name not in out:
            looked = sorted({c for c in (source.columns.get(name), preset.get(name), name) if c})
            raise DataError(
                f"{path}: required column '{name}' not found (looked for {', '.join(repr(c) for c in looked)}); "
                f"columns present: {', '.join(file_columns)}. Map it in the spec under "
                f"data.{table.name}.columns.{name}"
            )
    return out


def load_table(
    engine: Engine,
    name: str,
    source: SourceSpec,
    path: Path,
    *,
    accounts: ir.Table | None = None,
) -> TableLoad:
    """Read, type, check and split one table into clean rows and quarantine."""
    table = TABLES[name]
    if not path.exists():
        raise DataError(f"{name}: file not found: {path} (data.{name}.path in the spec)")
    raw = engine.read_csv(path, delimiter=source.delimiter) if source.resolved_format == "csv" else engine.read_parquet(path)
    file_columns = [c for c in raw.table.columns if c != ROW_COLUMN]
    mapping = resolve_columns(table, source, file_columns, path)

    typed: dict[str, ir.Value] = {}
    checks: list[Check] = []
    types: dict[str, str] = {c: d.dtype for c, d in table.columns.items()}
    types.update(source.attributes)
    t = raw.table
    for canonical, src in mapping.items():
        value, parse_check = _typed(t[src], types[canonical], canonical, source)
        typed[canonical] = value
        if parse_check is not None:
            checks.append(parse_check)
        col = table.columns.get(canonical)
        if col is not None:
            checks.extend(_value_checks(col, value, t[src]))
    # absent optional columns are typed nulls, so every table has the full canonical shape
    for canonical, dtype in types.items():
        if canonical not in typed:
            typed[canonical] = ibis.null().cast(IBIS_TYPES[dtype])

    # Column checks read the raw text, so their flags and reasons are projected
    # next to the typed values; table checks (duplicates, references) follow.
    projected = {f"_f{i}": c.failed.fill_null(False) for i, c in enumerate(checks)}
    projected.update({f"_r{i}": c.reason for i, c in enumerate(checks)})
    checked = t.select(**{ROW_COLUMN: t[ROW_COLUMN]}, **typed, **projected)
    checked = _with_duplicate_info(table, checked, mapping)
    n_column_checks = len(checks)
    table_checks = _table_checks(table, checked, accounts, mapping)
    checked = checked.mutate(**{f"_f{n_column_checks + i}": c.failed.fill_null(False) for i, c in enumerate(table_checks)},
                             **{f"_r{n_column_checks + i}": c.reason for i, c in enumerate(table_checks)})
    checks = checks + table_checks
    flags = [f"_f{i}" for i in range(len(checks))]
    null_text = ibis.null().cast("string")
    parts = [ibis.ifelse(checked[f"_f{i}"], checked[f"_r{i}"], null_text) for i in range(len(checks))]
    reason = ibis.literal("; ").join(parts).nullif("") if parts else null_text
    keep = [ROW_COLUMN, *typed, *flags]
    checked = engine.materialize(checked.select(*keep, **{REASON_COLUMN: reason}))

    totals = engine.to_arrow(checked.aggregate(
        _read=checked.count(), _bad=checked[REASON_COLUMN].notnull().sum(),
        **{name: checked[name].sum() for name in flags},
    )).to_pylist()[0]
    reasons: dict[str, int] = {}
    for i, check in enumerate(checks):
        n = int(totals[f"_f{i}"] or 0)
        if n:
            reasons[check.code] = reasons.get(check.code, 0) + n
    if raw.rejected:
        reasons["malformed line"] = len(raw.rejected)
    checked = checked.drop(*flags)

    clean = checked.filter(checked[REASON_COLUMN].isnull()).drop(REASON_COLUMN)
    quarantine = _quarantine(engine, raw, checked, file_columns)
    read = int(totals["_read"]) + len(raw.rejected)
    quarantined = int(totals["_bad"] or 0) + len(raw.rejected)
    return TableLoad(
        name=name,
        path=path,
        clean=clean,
        quarantine=quarantine,
        read=read,
        loaded=read - quarantined,
        quarantined=quarantined,
        reasons=reasons,
        columns=mapping,
        missing_optional=sorted(c for c in types if c not in mapping),
    )


# --------------------------------------------------------------------------- typing


def _blank_to_null(v: ir.StringValue) -> ir.StringValue:
    return v.strip().nullif("")


def _typed(v: ir.Value, dtype: str, name: str, source: SourceSpec) -> tuple[ir.Value, Check | None]:
    """Cast a source column to its canonical type; return the value and its parse check."""
    target = dt.dtype(IBIS_TYPES[dtype])
    is_text = v.type().is_string()
    if not is_text:
        if dtype == "list" and v.type().is_array():
            return _normalise_list(v.cast("array<string>")), None
        if v.type() == target or (dtype == "date" and v.type().is_timestamp()):
            return (v.date() if dtype == "date" and v.type().is_timestamp() else v), None
        v = v.cast("string")  # unusual native types: parse like text
    s = _blank_to_null(v)
    if dtype in ("string",):
        return s, None
    if dtype == "domain":
        return normalise_domain(s), None
    if dtype == "email":
        return s.lower(), None
    if dtype == "list":
        return _normalise_list(s.split(source.list_delimiter)), None
    if dtype == "bool":
        low = s.lower()
        value = ibis.cases((low.isin(_TRUE), True), (low.isin(_FALSE), False), else_=ibis.null().cast("boolean"))
        return value, _parse_check(name, dtype, s, value)
    if dtype in ("int", "float"):
        number = s.re_replace(r"[\s$€£,]", "").try_cast("float64")
        if dtype == "int":
            whole = number.notnull() & (number.floor() == number) & (number.abs() < 9.2e18)
            value = ibis.ifelse(whole, number.cast("int64"), ibis.null().cast("int64"))
        else:
            value = number
        return value, _parse_check(name, dtype, s, value)
    if dtype in ("date", "timestamp"):
        ts = s.try_cast("timestamp")
        value = ts.date() if dtype == "date" else ts
        return value, _parse_check(name, dtype, s, value)
    raise AssertionError(f"unhandled type {dtype}")


def _parse_check(name: str, dtype: str, text: ir.StringValue, value: ir.Value) -> Check:
    reason = ibis.literal(f"unparsable {dtype} in {name}: '") + text.substr(0, 80) + ibis.literal("'")
    return Check(f"unparsable {dtype} in {name}", text.notnull() & value.isnull(), reason)


def _normalise_list(items: ir.ArrayValue) -> ir.ArrayValue:
    cleaned = items.map(lambda x: x.strip().lower()).filter(lambda x: x.notnull() & (x != ""))
    return cleaned.unique().sort()


def normalise_domain(value: ir.StringValue) -> ir.StringValue:
    """``https://www.Acme.com/about`` -> ``acme.com``."""
    return (
        value.lower()
        .re_replace(r"^[a-z][a-z0-9+.-]*://", "")
        .re_replace(r"^www\.", "")
        .re_replace(r"[/:?#].*$", "")
        .nullif("")
    )


def _value_checks(col: ColumnDef, value: ir.Value, raw: ir.Value) -> list[Check]:
    checks = []
    text = raw.cast("string")
    if col.required:
        checks.append(Check(f"missing {col.name}", value.isnull() & _present_or_null(text).isnull(), ibis.literal(f"missing {col.name}")))
    if col.min_value is not None:
        failed = value.notnull() & (value < col.min_value)
        word = "negative" if col.min_value == 0 else f"below {col.min_value:g}:"
        checks.append(Check(f"{col.name} out of range", failed,
                            ibis.literal(f"{word} {col.name}: " if col.min_value == 0 else f"{col.name} {word} ") + text))
    if col.max_value is not None:
        failed = value.notnull() & (value > col.max_value)
        checks.append(Check(f"{col.name} out of range", failed, ibis.literal(f"{col.name} above {col.max_value:g}: ") + text))
    return checks


def _present_or_null(text: ir.StringValue) -> ir.StringValue:
    return text.strip().nullif("")


def _with_duplicate_info(table: TableDef, checked: ir.Table, mapping: dict[str, str]) -> ir.Table:
    """Add ``_first``: for a duplicated key, the row number where it first appears."""
    key = table.key
    if not key or key not in mapping:
        return checked
    keyed = checked.filter(checked[key].notnull())
    firsts = keyed.group_by(key).aggregate(_first=keyed[ROW_COLUMN].min(), _n=keyed.count())
    firsts = firsts.filter(firsts._n > 1).select(key, "_first")
    return checked.left_join(firsts, key).select(*checked.columns, "_first")


def _table_checks(table: TableDef, checked: ir.Table, accounts: ir.Table | None, mapping: dict[str, str]) -> list[Check]:
    checks: list[Check] = []
    key = table.key
    if "_first" in checked.columns:
        failed = checked._first.notnull() & (checked[ROW_COLUMN] != checked._first)
        checks.append(Check(f"duplicate {key}", failed,
                            ibis.literal(f"duplicate {key} '") + checked[key] + ibis.literal("' (first at row ")
                            + checked._first.cast("string") + ibis.literal(")")))
    for column, target in table.references.items():
        if accounts is None or column not in mapping or target != "accounts":
            continue
        known = checked[column].isin(accounts.account_id)
        checks.append(Check(f"unknown {column}", checked[column].notnull() & ~known,
                            ibis.literal(f"unknown {column} '") + checked[column] + ibis.literal("' (not in accounts)")))
    if table.name == "opportunities" and "closed_at" in mapping:
        checks.append(Check("closed_at before created_at", checked.closed_at < checked.created_at,
                            ibis.literal("closed_at before created_at")))
    return checks


def _quarantine(engine: Engine, raw: RawTable, checked: ir.Table, file_columns: list[str]) -> ir.Table:
    bad = checked.filter(checked[REASON_COLUMN].notnull()).select(ROW_COLUMN, REASON_COLUMN)
    t = raw.table
    rows = bad.inner_join(t, ROW_COLUMN).select(
        ROW_COLUMN, REASON_COLUMN, *[t[c].cast("string").name(c) for c in file_columns]
    )
    rows = rows.mutate(_line=ibis.null().cast("string"))
    if raw.rejected:
        rejected = pa.table({
            ROW_COLUMN: pa.array([r.row for r in raw.rejected], pa.int64()),
            REASON_COLUMN: [f"malformed line ({r.reason})" for r in raw.rejected],
            **{c: pa.nulls(len(raw.rejected), pa.string()) for c in file_columns},
            "_line": [r.text for r in raw.rejected],
        })
        rows = rows.union(engine.register(rejected))
    return rows.order_by(ROW_COLUMN)
