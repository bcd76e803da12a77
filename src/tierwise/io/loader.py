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

from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from tierwise.datamodel import IBIS_TYPES, TABLES, ColumnDef, TableDef
from tierwise.engine.base import ROW_COLUMN, Engine, RawTable
from tierwise.errors import DataError
from tierwise.io.postgres import DatabaseTable
from tierwise.io.presets import PRESETS
from tierwise.spec.loader import SpecFile
from tierwise.spec.model import SourceSpec

REASON_COLUMN = "_reason"

_TRUE = ("true", "t", "yes", "y", "1")
_FALSE = ("false", "f", "no", "n", "0")


ReasonText = Callable[[ir.Table], ir.StringValue]


@dataclass
class Check:
    """One row check: a boolean ``failed`` expression and how to word the reason.

    ``reason`` is built only for quarantined rows, from a table holding the
    typed columns and each source column's text as ``_src__<column>``.
    """

    code: str
    failed: ir.BooleanValue
    reason: ReasonText


def _src(column: str) -> str:
    return f"_src__{column}"


@dataclass
class TableLoad:
    """The result of loading one table."""

    name: str
    path: Path | DatabaseTable
    clean: ir.Table
    quarantine: ir.Table
    read: int
    loaded: int
    quarantined: int
    reasons: dict[str, int]
    columns: dict[str, str]  # canonical -> source column
    missing_optional: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # present in the file, not needed by the job

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
        explicit = source.columns.get(canonical)
        # an explicit mapping is the only candidate: a typo must not fall back silently
        candidates = [explicit] if explicit is not None else [preset.get(canonical), canonical]
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


def locate(spec_file: SpecFile, source: SourceSpec) -> Path | DatabaseTable:
    """Where a source's rows are: a file (relative to the spec) or a table of ``data.database``."""
    if source.table is not None:
        return DatabaseTable(spec_file.spec.data.database or "", source.table)
    return spec_file.resolve(source.path)


def load_table(
    engine: Engine,
    name: str,
    source: SourceSpec,
    path: Path | DatabaseTable,
    *,
    accounts: ir.Table | None = None,
    only: Collection[str] | None = None,
) -> TableLoad:
    """Read, type, check and split one table into clean rows and quarantine.

    ``only`` names the columns a job needs; other unchecked text columns are
    then left out of ``clean``. Columns that carry a check are always read, so
    the quarantine is the same whichever columns a job asks for.
    """
    table = TABLES[name]
    if isinstance(path, DatabaseTable):
        raw = engine.read_database(path, list_delimiter=source.list_delimiter)
    elif not path.exists():
        raise DataError(f"{name}: file not found: {path} (data.{name}.path in the spec)")
    elif source.resolved_format == "csv":
        raw = engine.read_csv(path, delimiter=source.delimiter)
    else:
        raw = engine.read_parquet(path)
    file_columns = [c for c in raw.table.columns if c != ROW_COLUMN]
    mapping = resolve_columns(table, source, file_columns, path)
    skipped: list[str] = []
    if only is not None:
        keep = set(only) | _checked_columns(table, source)
        skipped = sorted(c for c in mapping if c not in keep)
        mapping = {c: src for c, src in mapping.items() if c in keep}

    t = raw.table
    typed, checks = typed_columns(engine, table, source, t, mapping, skipped=skipped)
    types: dict[str, str] = {c: d.dtype for c, d in table.columns.items()} | dict(source.attributes)

    # One boolean flag per check; reasons are worded later, for quarantined rows only.
    values = t.select(**{ROW_COLUMN: t[ROW_COLUMN]}, **typed)
    checked = t.select(**{ROW_COLUMN: t[ROW_COLUMN]}, **typed,
                       **{f"_f{i}": c.failed.fill_null(False) for i, c in enumerate(checks)})
    checked = _with_duplicate_info(engine, table, checked, mapping)
    more = _table_checks(table, checked, accounts, mapping)
    checked = checked.mutate(**{f"_f{len(checks) + i}": c.failed.fill_null(False) for i, c in enumerate(more)})
    checks = checks + more
    flags = [f"_f{i}" for i in range(len(checks))]
    # The quarantined rows are few: keep them (with their flags) and subtract them
    # from the typed rows, so later reads never re-evaluate the checks.
    wording = [c for c in dict.fromkeys((table.key, "_first", *table.references)) if c and c in checked.columns]
    rejected = engine.materialize(checked.filter(_any(checked, flags)).select(ROW_COLUMN, *wording, *flags))
    totals = engine.to_arrow(rejected.aggregate(
        _nbad=rejected.count(), **{flag: rejected[flag].cast("int64").sum() for flag in flags},
    )).to_pylist()[0]
    reasons: dict[str, int] = {}
    for flag, check in zip(flags, checks, strict=True):
        if n := int(totals[flag] or 0):
            reasons[check.code] = reasons.get(check.code, 0) + n
    if raw.rejected:
        reasons["malformed line"] = len(raw.rejected)

    # Clean rows stay a view over the file: each read re-types only the columns it
    # uses (the engine prunes the rest), which costs less than copying every table.
    clean = values.anti_join(rejected, ROW_COLUMN) if totals["_nbad"] else values
    quarantine = _quarantine(engine, raw, rejected, checks, file_columns)
    read = int(engine.scalar(t.count())) + len(raw.rejected)
    quarantined = int(totals["_nbad"] or 0) + len(raw.rejected)
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
        missing_optional=sorted(c for c in types if c not in mapping and c not in skipped),
        skipped=skipped,
    )


# --------------------------------------------------------------------------- typing


def typed_columns(engine: Engine, table: TableDef, source: SourceSpec, t: ir.Table, mapping: dict[str, str], *,
                  skipped: Collection[str] = ()) -> tuple[dict[str, ir.Value], list[Check]]:
    """Each canonical column (and attribute) of ``t`` typed and normalised, and the checks on its values.

    The one place values are typed: files go through it in :func:`load_table`,
    and the API puts single records through it so they are scored like a batch.
    """
    typed: dict[str, ir.Value] = {}
    checks: list[Check] = []
    types: dict[str, str] = {c: d.dtype for c, d in table.columns.items()}
    types.update(source.attributes)
    for canonical, src in mapping.items():
        value, parse_check = _typed(t[src], types[canonical], canonical, src, source, engine)
        if canonical in table.columns and table.columns[canonical].lower:
            value = value.lower()
        typed[canonical] = value
        if parse_check is not None:
            checks.append(parse_check)
        col = table.columns.get(canonical)
        if col is not None:
            checks.extend(_value_checks(col, value, t[src], src))
    # columns absent from the file are typed nulls, so every table has the canonical shape
    for canonical, dtype in types.items():
        if canonical not in typed and canonical not in skipped:
            typed[canonical] = ibis.null().cast(IBIS_TYPES[dtype])
    if "domain" in mapping and "website" in mapping:  # the website stands in for a missing domain
        typed["domain"] = normalise_domain(_blank_to_null(t[mapping["domain"]].cast("string"))
                                           .coalesce(_blank_to_null(t[mapping["website"]].cast("string"))))
    elif "website" in mapping:
        typed["domain"] = normalise_domain(_blank_to_null(t[mapping["website"]].cast("string")))
    return typed, checks


#: What :meth:`~ibis.expr.types.StringValue.strip` removes (its SQL ``TRIM(x, ' \t\n')``).
_SPACE = (" ", "\t", "\n")


def _blank_to_null(v: ir.StringValue) -> ir.StringValue:
    """Trimmed text, with empty text as null.

    Trimming allocates a new string for every value; checking both ends first
    costs a few byte comparisons, and almost no cell needs trimming. On 20M
    values this halves the cost of typing a column, which every read pays.
    """
    needs_trim = ibis.or_(*[v.startswith(c) for c in _SPACE], *[v.endswith(c) for c in _SPACE])
    return ibis.ifelse(needs_trim, v.strip(), v).nullif("")


def _typed(v: ir.Value, dtype: str, name: str, src: str, source: SourceSpec,
           engine: Engine) -> tuple[ir.Value, Check | None]:
    """Cast a source column to its canonical type; return the value and its parse check."""
    native = _native(v, dtype, engine)
    if native is not None:
        return native, None
    if not v.type().is_string():
        v = v.cast("string")  # unusual native types (e.g. decimals as text): parse like text
    s = _blank_to_null(v)
    if dtype in ("string",):
        return s, None
    if dtype == "domain":
        return normalise_domain(s), None
    if dtype == "email":
        return s.lower(), None
    if dtype == "list":
        return _normalise_list(s.split(source.list_delimiter), engine), None
    if dtype == "bool":
        low = s.lower()
        value = ibis.cases((low.isin(_TRUE), True), (low.isin(_FALSE), False), else_=ibis.null().cast("boolean"))
        return value, _parse_check(name, src, dtype, s, value)
    if dtype in ("int", "float"):
        number = s.re_replace(r"[\s$€£,]", "").try_cast("float64")
        if dtype == "int":
            whole = number.notnull() & (number.floor() == number) & (number.abs() < 9.2e18)
            value = ibis.ifelse(whole, number.cast("int64"), ibis.null().cast("int64"))
        else:
            value = number
        return value, _parse_check(name, src, dtype, s, value)
    if dtype in ("date", "timestamp"):
        ts = s.try_cast("timestamp")
        value = ts.date() if dtype == "date" else ts
        return value, _parse_check(name, src, dtype, s, value)
    raise AssertionError(f"unhandled type {dtype}")


def _native(v: ir.Value, dtype: str, engine: Engine) -> ir.Value | None:
    """A typed (Parquet) column already of the right kind, converted without parsing; else None."""
    kind = v.type()
    if dtype == "list" and kind.is_array():
        return _normalise_list(v.cast("array<string>"), engine)
    if dtype in ("int", "float") and kind.is_numeric() and not kind.is_decimal():
        if dtype == "int" and kind.is_floating():
            return None  # 12.5 employees is a parse failure, found by the text path
        return v.cast(IBIS_TYPES[dtype])
    if dtype == "bool" and kind.is_boolean():
        return v
    if dtype == "timestamp" and kind.is_timestamp():
        return v.cast("timestamp")
    if dtype == "date" and (kind.is_timestamp() or kind.is_date()):
        return v.date() if kind.is_timestamp() else v
    return None


def _parse_check(name: str, src: str, dtype: str, text: ir.StringValue, value: ir.Value) -> Check:
    def reason(q: ir.Table) -> ir.StringValue:
        return ibis.literal(f"unparsable {dtype} in {name}: '") + q[_src(src)].strip().substr(0, 80) + ibis.literal("'")

    return Check(f"unparsable {dtype} in {name}", text.notnull() & value.isnull(), reason)


def _normalise_list(items: ir.ArrayValue, engine: Engine) -> ir.ArrayValue:
    """Trimmed, lower-case, non-empty, distinct and sorted."""
    cleaned = items.map(lambda x: x.strip().lower()).filter(lambda x: x.notnull() & (x != ""))
    return engine.distinct_items(cleaned).sort()


def normalise_domain(value: ir.StringValue) -> ir.StringValue:
    """``https://www.Acme.com/about`` -> ``acme.com`` (one regular expression per value).

    An extraction, not a replacement with a back-reference: engines spell those differently
    (``\\1`` on DuckDB, ``$1`` on Spark), and Ibis passes the replacement through as written.
    """
    return value.lower().re_extract(r"^(?:[a-z][a-z0-9+.-]*://)?(?:www\.)?([^/:?#]*)", 1).nullif("")


def _value_checks(col: ColumnDef, value: ir.Value, raw: ir.Value, src: str) -> list[Check]:
    checks = []
    if col.required:
        # an unparsable value is reported by its parse check; this is for empty cells
        # text values are already blank-to-null; typed ones need their raw cell
        if col.dtype in ("string", "email") and raw.type().is_string():
            # blank = empty or whitespace only; the raw cell answers that without typing every value
            # (CASE, not AND: the engine may evaluate an AND's sides in any order, trimming every value)
            empty = raw.isnull() | (raw == "") | ibis.ifelse(ibis.or_(*[raw.startswith(c) for c in _SPACE]),
                                                             raw.strip() == "", False)
        elif value.type().is_string() or not raw.type().is_string():
            empty = value.isnull() if value.type().is_string() else raw.isnull()
        else:
            empty = raw.isnull() | (raw.strip() == "")
        checks.append(Check(f"missing {col.name}", empty, lambda q, n=col.name: ibis.literal(f"missing {n}")))
    if col.min_value is not None:
        word = "negative" if col.min_value == 0 else "below minimum"
        checks.append(Check(f"{col.name} out of range", value.notnull() & (value < col.min_value),
                            lambda q, n=col.name, s=src, w=word: ibis.literal(f"{w} {n}: ") + q[_src(s)].strip()))
    if col.max_value is not None:
        checks.append(Check(f"{col.name} out of range", value.notnull() & (value > col.max_value),
                            lambda q, n=col.name, s=src: ibis.literal(f"{n} above maximum: ") + q[_src(s)].strip()))
    return checks


def _checked_columns(table: TableDef, source: SourceSpec) -> set[str]:
    """Columns some check reads: keys, references, required and typed (parsed) columns."""
    out = {c.name for c in table.columns.values()
           if c.required or c.min_value is not None or c.max_value is not None
           or c.dtype not in ("string", "domain", "email")}
    out |= set(table.references) | ({table.key} if table.key else set())
    out |= {a for a, dtype in source.attributes.items() if dtype != "string"}
    return out


def _any(table: ir.Table, flags: list[str]) -> ir.BooleanValue:
    out = ibis.literal(False)
    for flag in flags:
        out = out | table[flag]
    return out


def _with_duplicate_info(engine: Engine, table: TableDef, checked: ir.Table, mapping: dict[str, str]) -> ir.Table:
    """Add ``_first`` (the row where a repeated key first appears) when any key repeats.

    Keys are reduced to a 64-bit hash first, which is much cheaper than grouping
    text on tens of millions of rows; only rows whose hash repeats are compared
    exactly (:meth:`~tierwise.engine.base.Engine.repeated_values`: a sort on
    DuckDB, a grouped count elsewhere). Both results are small tables, so the
    usual case — no repeated key — costs one pass over the key column and adds
    nothing to later reads. (Folding the row checks into that aggregate was measured: carrying
    the flags through tens of millions of groups is far slower than a second scan.)
    """
    key = table.key
    if not key or key not in mapping:
        return checked
    # no null filter before hashing: a filter on the cleaned key would be pushed
    # into the file scan and evaluated row by row there; nulls are dropped after
    keyed = checked.select(key, ROW_COLUMN)
    keyed = keyed.mutate(_h=engine.key_hash(keyed[key]))
    repeated = engine.repeated_values(keyed._h)
    if not engine.scalar(repeated.count()):
        return checked
    candidates = keyed.semi_join(repeated.select(_h="value"), "_h")
    candidates = candidates.filter(candidates[key].notnull())
    firsts = candidates.group_by(key).aggregate(_first=candidates[ROW_COLUMN].min(), _n=candidates.count())
    firsts = engine.materialize(firsts.filter(firsts._n > 1).select(key, "_first"))
    return checked.left_join(firsts, key).select(*checked.columns, "_first")


def _table_checks(table: TableDef, checked: ir.Table, accounts: ir.Table | None, mapping: dict[str, str]) -> list[Check]:
    """Checks on typed values: repeated keys, unknown accounts, dates out of order."""
    checks: list[Check] = []
    key = table.key
    if "_first" in checked.columns:
        checks.append(Check(
            f"duplicate {key}", checked._first.notnull() & (checked[ROW_COLUMN] != checked._first),
            lambda q: ibis.literal(f"duplicate {key} '") + q[key] + ibis.literal("' (first at row ")
            + q._first.cast("string") + ibis.literal(")"),
        ))
    for column, target in table.references.items():
        if accounts is None or column not in mapping or target != "accounts":
            continue
        known = checked[column].isin(accounts.account_id)
        checks.append(Check(
            f"unknown {column}", checked[column].notnull() & ~known,
            lambda q, c=column: ibis.literal(f"unknown {c} '") + q[c] + ibis.literal("' (not in accounts)"),
        ))
    if table.name == "opportunities" and "closed_at" in mapping:
        checks.append(Check("closed_at before created_at", checked.closed_at < checked.created_at,
                            lambda q: ibis.literal("closed_at before created_at")))
    return checks


def _quarantine(engine: Engine, raw: RawTable, rejected: ir.Table, checks: list[Check],
                file_columns: list[str]) -> ir.Table:
    """Quarantined rows as in the source, with their row number and every reason."""
    t = raw.table
    text = t.select(ROW_COLUMN, **{_src(c): t[c].cast("string") for c in file_columns})
    q = rejected.inner_join(text, ROW_COLUMN)
    null_text = ibis.null().cast("string")
    reason = ibis.literal("; ").join([ibis.ifelse(q[f"_f{i}"], c.reason(q), null_text) for i, c in enumerate(checks)])
    rows = q.select(ROW_COLUMN, **{REASON_COLUMN: reason}, **{c: q[_src(c)] for c in file_columns},
                    _line=null_text)
    if raw.rejected:
        malformed = pa.table({
            ROW_COLUMN: pa.array([r.row for r in raw.rejected], pa.int64()),
            REASON_COLUMN: [f"malformed line ({r.reason})" for r in raw.rejected],
            **{c: pa.nulls(len(raw.rejected), pa.string()) for c in file_columns},
            "_line": [r.text for r in raw.rejected],
        })
        rows = rows.union(engine.register(malformed))
    return rows.order_by(ROW_COLUMN)
