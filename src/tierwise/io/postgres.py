"""PostgreSQL as a source and a destination: tables read as text for the loader, scores written back.

A spec names the database once and the tables by ``schema.table``::

    data:
      database: postgresql://revops@db.example:5432/crm   # the password: PGPASSWORD or ~/.pgpass
      accounts: {table: crm.accounts}
      activities: {table: crm.activities}

Each table is exported with ``COPY (SELECT ...) TO STDOUT`` as CSV, in primary-key order (else
the table's storage order), and loaded like a CSV file: every row is loaded or quarantined with a
reason and its row number in that order. Lists (``text[]``) arrive joined with the spec's
``list_delimiter``; ``timestamp with time zone`` as UTC. Scores go back with :func:`write_table`:
a staging table filled by COPY, renamed over the target in the same transaction, so readers see
the old table or the new one, never a half-written one.

Examples
--------
>>> str(DatabaseTable("postgresql://revops:secret@db.example:5432/crm", "crm.accounts"))
'postgresql://revops:***@db.example:5432/crm table crm.accounts'
>>> pg_type(pa.float64()), pg_type(pa.date32()), pg_type(pa.list_(pa.string()))
('double precision', 'date', 'text[]')
"""

from __future__ import annotations

import io
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pcsv

from tierwise.errors import DataError, TierwiseError

#: Rows handed to COPY at a time when writing.
COPY_CHUNK_ROWS = 200_000


@dataclass(frozen=True)
class DatabaseTable:
    """A table of a PostgreSQL database: where a ``table:`` source is read from (shown without the password)."""

    url: str
    table: str

    def __str__(self) -> str:
        from tierwise.store.history import redact

        return f"{redact(self.url)} table {self.table}"


def _connect(url: str, where: str) -> Any:
    try:
        import psycopg
    except ModuleNotFoundError:  # pragma: no cover - depends on the install
        raise TierwiseError("PostgreSQL sources need psycopg: pip install 'tierwise[postgres]'") from None
    from tierwise.store.history import redact

    try:
        return psycopg.connect(url)
    except psycopg.OperationalError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"cannot connect to {redact(url)} ({where}): {first}") from None


def _identifier(table: str) -> Any:
    from psycopg import sql

    return sql.Identifier(*table.split("."))


def export_csv(source: DatabaseTable, path: Path, *, list_delimiter: str = ";", where: str = "data.database") -> None:
    """Write ``source`` as a CSV file (header, every value as PostgreSQL prints it) for the loader to read."""
    from psycopg import sql

    with _connect(source.url, where) as con, con.cursor() as cur:
        cur.execute("SELECT to_regclass(%s)::oid", (_identifier(source.table).as_string(con),))
        oid = cur.fetchone()[0]
        if oid is None:
            cur.execute("SELECT table_schema || '.' || table_name FROM information_schema.tables "
                        "WHERE table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1 LIMIT 30")
            present = ", ".join(r[0] for r in cur.fetchall()) or "(none)"
            raise DataError(f"{source}: no such table or view ({where}); tables present: {present}")
        cur.execute("SELECT attname, format_type(atttypid, atttypmod), attndims > 0 OR format_type(atttypid, NULL) "
                    "LIKE '%%[]' FROM pg_attribute WHERE attrelid = %s AND attnum > 0 AND NOT attisdropped "
                    "ORDER BY attnum", (oid,))
        columns = cur.fetchall()
        cur.execute("SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
                    "AND a.attnum = ANY(i.indkey) WHERE i.indrelid = %s AND i.indisprimary "
                    "ORDER BY array_position(i.indkey, a.attnum)", (oid,))
        key = [r[0] for r in cur.fetchall()]
        selected = []
        for name, kind, is_array in columns:
            col = sql.Identifier(name)
            if is_array:  # a list column as the loader reads lists from files
                value = sql.SQL("array_to_string({}, {})").format(col, sql.Literal(list_delimiter))
            elif kind == "timestamp with time zone":  # naive UTC, as timestamps are everywhere else
                value = sql.SQL("({} AT TIME ZONE 'UTC')").format(col)
            else:
                value = col
            selected.append(sql.SQL("{} AS {}").format(value, col))
        order = sql.SQL(" ORDER BY {}").format(sql.SQL(", ").join(map(sql.Identifier, key))) if key else sql.SQL("")
        query = sql.SQL("COPY (SELECT {} FROM {}{}) TO STDOUT (FORMAT csv, HEADER)").format(
            sql.SQL(", ").join(selected), _identifier(source.table), order)
        with open(path, "wb") as f, cur.copy(query) as copy:
            for chunk in copy:
                f.write(chunk)


def pg_type(kind: pa.DataType) -> str:
    """The PostgreSQL column type for an Arrow type of a tierwise output."""
    if pa.types.is_boolean(kind):
        return "boolean"
    if pa.types.is_integer(kind):
        return "bigint"
    if pa.types.is_floating(kind):
        return "double precision"
    if pa.types.is_decimal(kind):
        return "numeric"
    if pa.types.is_date(kind):
        return "date"
    if pa.types.is_timestamp(kind):
        return "timestamp with time zone" if kind.tz else "timestamp"
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        return f"{pg_type(kind.value_type)}[]"
    return "text"


def _csv_ready(table: pa.Table) -> pa.Table:
    """Lists as PostgreSQL array literals (``{"a","b"}``); CSV has no lists."""
    import pyarrow.compute as pc

    for i, field in enumerate(table.schema):
        if pa.types.is_list(field.type) or pa.types.is_large_list(field.type):
            values = [None if v is None else "{" + ",".join(
                "NULL" if x is None else '"' + str(x).replace("\\", "\\\\").replace('"', '\\"') + '"' for x in v) + "}"
                for v in table.column(i).to_pylist()]
            table = table.set_column(i, field.name, pa.array(values, pa.string()))
        elif pa.types.is_large_string(field.type):
            table = table.set_column(i, field.name, pc.cast(table.column(i), pa.string()))
    return table


def write_table(url: str, table: str, data: pa.Table, *, where: str = "--to-table") -> int:
    """Replace ``table`` with ``data`` atomically: a staging table filled by COPY, renamed in one transaction.

    Returns the number of rows written. A failure (a view depending on the table, no privilege)
    rolls everything back and leaves the old table as it was.
    """
    import psycopg
    from psycopg import sql

    parts = table.split(".")
    stage_name = f"_tw_stage_{uuid.uuid4().hex[:12]}"
    stage = sql.Identifier(*parts[:-1], stage_name)
    columns = sql.SQL(", ").join(sql.SQL("{} {}").format(sql.Identifier(f.name), sql.SQL(pg_type(f.type)))
                                 for f in data.schema)
    data = _csv_ready(data)
    try:
        with _connect(url, where) as con, con.transaction(), con.cursor() as cur:
            cur.execute(sql.SQL("CREATE TABLE {} ({})").format(stage, columns))
            names = sql.SQL(", ").join(sql.Identifier(f.name) for f in data.schema)
            with cur.copy(sql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv)").format(stage, names)) as copy:
                for start in range(0, data.num_rows, COPY_CHUNK_ROWS):
                    buf = io.BytesIO()
                    pcsv.write_csv(data.slice(start, COPY_CHUNK_ROWS), buf,
                                   write_options=pcsv.WriteOptions(include_header=False))
                    copy.write(buf.getvalue())
            cur.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(_identifier(table)))
            cur.execute(sql.SQL("ALTER TABLE {} RENAME TO {}").format(stage, sql.Identifier(parts[-1])))
    except psycopg.Error as exc:
        from tierwise.store.history import redact

        first = str(exc).strip().splitlines()[0]
        raise DataError(f"cannot write {table} in {redact(url)} ({where}): {first}; the table is unchanged") from None
    return data.num_rows
