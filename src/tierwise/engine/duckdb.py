"""DuckDB, in process: the embedded default engine.

``duckdb://`` is an in-memory database; ``duckdb:///path/to/file.duckdb`` (or
``duckdb://relative.duckdb``) keeps tables in a file. Query options are DuckDB
configuration options, set when the database opens:
``duckdb://?threads=2&memory_limit=8GB&temp_directory=/scratch/tw`` bounds the
engine's memory; past the limit, joins, aggregates, sorts and tables spill to
``temp_directory`` (created on demand). The database file's folder is created
if missing.
"""

from __future__ import annotations

import mmap
import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
import numpy as np
import pyarrow as pa

from tierwise.engine.base import ROW_COLUMN, Engine, PreparedQuery, RawTable, RejectedLine
from tierwise.errors import DataError

#: More malformed lines than this and the file is treated as not a CSV of the expected shape.
MAX_REJECTED_LINES = 200
#: Rejects entries DuckDB records at most. A line can have several entries (one per
#: missing or extra column) and lines past the limit are dropped unrecorded, so
#: reaching it means the file cannot be reconciled.
REJECTS_LIMIT = 10_000
#: Key hashes sorted in Python (16 bytes each, 1 GB at most) to find repeated keys; more are sorted by
#: the engine, which spills past its memory_limit, and streamed (see DuckDBEngine.repeated_values).
SORT_IN_MEMORY_MAX = 1 << 25


@ibis.udf.scalar.builtin(name="list_distinct")
def _list_distinct(items: dt.Array(dt.string)) -> dt.Array(dt.string):  # type: ignore[valid-type]
    """DuckDB's list_distinct (Ibis' portable unique() repeats its argument three times)."""


@ibis.udf.scalar.builtin(name="hash")
def _hash(value: dt.string) -> dt.uint64:  # type: ignore[valid-type]
    """DuckDB's 64-bit hash, unsigned as DuckDB returns it."""


_BLANK_LINE = re.compile(rb"\n(?=[ \t\r]*(?:\n|$))")


def _blank_rows(path: Path) -> list[int]:
    """Data-row numbers (file line minus the header line) of blank lines, which the reader skips.

    One regular-expression pass over the mapped file; the common case — no blank
    line — costs a single search. (A blank line inside a quoted field is counted
    too; such files are rare and only their row numbers are affected.)
    """
    with open(path, "rb") as f:
        if os.fstat(f.fileno()).st_size == 0:
            return []
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
            if _BLANK_LINE.search(data) is None:
                return []
            rows, line, pos = [], 1, 0
            end = len(data)  # blank lines after the last row shift nothing
            while end and data[end - 1] in b" \t\r\n":
                end -= 1
            for match in _BLANK_LINE.finditer(data):
                if match.start() >= end:
                    break
                line += data[pos:match.start()].count(b"\n") + 1
                pos = match.start() + 1
                rows.append(line)  # the blank line is this line; its data row is line - 1
            return [line - 1 for line in rows]


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


class DuckDBEngine(Engine):
    scheme = "duckdb"

    def __init__(self, url: str = "duckdb://", **options: Any):
        super().__init__(url)
        parts = urlsplit(url)
        database = (parts.netloc + parts.path) or ":memory:"
        if database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        config = dict(parse_qsl(parts.query))
        config.update({k: v for k, v in options.items() if v is not None})
        try:
            self._backend = ibis.duckdb.connect(database, **config)
        except Exception as exc:  # duckdb's own error types: an unknown option, a bad value, a locked file
            from tierwise.errors import TierwiseError

            raise TierwiseError(f"cannot open {url}: {exc}. Settings in the URL are DuckDB settings, e.g. "
                                "duckdb:///ws.duckdb?memory_limit=8GB&temp_directory=/scratch/tierwise") from exc
        self._raw = self._backend.con  # the duckdb connection, for reader options Ibis does not expose

    @property
    def backend(self) -> ibis.BaseBackend:
        return self._backend

    def read_csv(self, path: Path, *, delimiter: str = ",") -> RawTable:
        name = self._name("csv")
        rejects, scans = f"{name}_rejects", f"{name}_scans"
        self._raw.execute(
            f"CREATE TEMP TABLE {name} AS SELECT *, row_number() OVER () AS {ROW_COLUMN} "
            f"FROM read_csv({_quote(str(path))}, header = true, all_varchar = true, delim = {_quote(delimiter)}, "
            f"quote = '\"', escape = '\"', store_rejects = true, rejects_table = {_quote(rejects)}, "
            f"rejects_scan = {_quote(scans)}, rejects_limit = {REJECTS_LIMIT})"
        )
        # One line can have several rejects entries (a short line gets one per missing
        # column): keep one per line, the first column's, so each line counts once.
        entries = self._raw.execute(f"SELECT count(*) FROM {rejects}").fetchone()[0]
        rows = self._raw.execute(
            f"SELECT line, arg_min(csv_line, column_idx), arg_min(error_type::VARCHAR, column_idx), "
            f"arg_min(error_message, column_idx) FROM {rejects} GROUP BY line ORDER BY line"
        ).fetchall()
        self._raw.execute(f"DROP TABLE IF EXISTS {rejects}; DROP TABLE IF EXISTS {scans}")
        if len(rows) > MAX_REJECTED_LINES or entries >= REJECTS_LIMIT:
            many = f"more than {MAX_REJECTED_LINES}" if len(rows) > MAX_REJECTED_LINES else f"at least {len(rows)}"
            raise DataError(
                f"{path}: {many} lines could not be split into columns "
                f"(first at line {rows[0][0]}: {rows[0][3]}); check the delimiter (set 'delimiter' in the spec) "
                "and the quoting"
            )
        # Data rows are file lines minus the header. The reader numbers the rows it
        # accepts; shift those numbers past the lines it skipped (malformed or blank).
        rejected = [RejectedLine(int(line) - 1, text or "", f"{kind.lower()}: {msg}") for line, text, kind, msg in rows]
        skipped = sorted({r.row for r in rejected} | set(_blank_rows(path)))
        if skipped:
            self._renumber(name, skipped)
        return RawTable(self._backend.table(name), Path(path), rejected)

    def _renumber(self, name: str, skipped: list[int]) -> None:
        """Turn ordinals of accepted rows into data-row numbers, given the skipped rows.

        The k-th accepted row is data row ``k + j`` where ``j`` counts the skipped
        rows ``s_i`` (sorted, 1-based ``i``) with ``s_i - i < k``: an as-of join
        against those thresholds, whatever their number.
        """
        steps: dict[int, int] = {}
        for i, row in enumerate(skipped, 1):
            steps[row - i] = i  # thresholds never decrease; keep the largest count per threshold
        values = ", ".join(f"({threshold}, {count})" for threshold, count in steps.items())
        self._raw.execute(
            f"CREATE OR REPLACE TEMP TABLE {name}_steps AS SELECT * FROM (VALUES {values}) AS s(threshold, n); "
            f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT t.* REPLACE (t.{ROW_COLUMN} + coalesce(s.n, 0) AS {ROW_COLUMN}) "
            f"FROM {name} t ASOF LEFT JOIN {name}_steps s ON t.{ROW_COLUMN} > s.threshold ORDER BY t.{ROW_COLUMN}; "
            f"DROP TABLE {name}_steps"
        )

    def read_database(self, source: Any, *, list_delimiter: str = ";") -> RawTable:
        # read_csv copies the rows into a temporary table, so the exported file can go at once
        from tierwise.engine.base import _exported

        with _exported(source, list_delimiter) as path:
            raw = self.read_csv(path)
        return RawTable(raw.table, source, raw.rejected)

    def read_parquet(self, path: Path) -> RawTable:
        table = self._backend.sql(
            f"SELECT * EXCLUDE (file_row_number), file_row_number + 1 AS {ROW_COLUMN} "
            f"FROM read_parquet({_quote(str(path))}, file_row_number = true)"
        )
        return RawTable(table, Path(path), [])

    def run_prepared(self, query: PreparedQuery, inputs: dict[str, pa.Table]) -> pa.Table:
        missing = sorted(set(query.inputs) - set(inputs))
        if missing:
            raise ValueError(f"prepared query needs inputs {', '.join(missing)}")
        try:
            for name in query.inputs:
                self._raw.register(name, inputs[name])
            result = self._raw.execute(query.sql)
            return result.to_arrow_table() if hasattr(result, "to_arrow_table") else result.fetch_arrow_table()
        except Exception as exc:
            from tierwise.errors import EngineError

            raise EngineError(f"{self.scheme} engine failed: {exc}", query.sql) from exc
        finally:
            for name in query.inputs:
                self._raw.unregister(name)

    def key_hash(self, value: ir.Value) -> ir.IntegerValue:
        # Ibis' portable hash() turns DuckDB's unsigned hash into a signed one through a BIT cast,
        # which costs more than the hash itself
        return _hash(value if value.type().is_string() else value.cast("string"))

    def repeated_values(self, column: ir.IntegerColumn) -> ir.Table:
        """Sorting the column in memory finds repeats several times faster than DuckDB's hash
        aggregate on one machine (20M values: about 1 s against 3.3 s); 16 bytes per row.

        Past :data:`SORT_IN_MEMORY_MAX` values (a 200M-event table would take 3.2 GB outside the
        engine's ``memory_limit``) the engine sorts, spilling to disk if it must, and the sorted
        values are streamed through in batches: memory stays bounded whatever the row count.
        """
        values = column.name("value").as_table()
        dtype = pa.from_numpy_dtype(np.dtype(values.schema()["value"].to_numpy()))
        if self.scalar(values.count()) <= SORT_IN_MEMORY_MAX:
            data = np.sort(self._run(lambda: self._backend.to_pyarrow(values), column).column(0).to_numpy())
            repeated = np.unique(data[1:][data[1:] == data[:-1]])
        else:
            reader = self._run(lambda: self._backend.to_pyarrow_batches(values.order_by("value"),
                                                                          chunk_size=1 << 20), column)
            found, last = [], None
            for batch in reader:
                data = batch.column(0).to_numpy()
                if not len(data):
                    continue
                if last is not None:
                    data = np.concatenate((last, data))
                found.append(np.unique(data[1:][data[1:] == data[:-1]]))
                last = data[-1:]
            repeated = np.unique(np.concatenate(found)) if found else np.empty(0, dtype.to_pandas_dtype())
        return self.register(pa.table({"value": pa.array(repeated, type=dtype)}))

    def distinct_items(self, items: ir.ArrayValue) -> ir.ArrayValue:
        return _list_distinct(items.cast("array<string>"))

    def _write_parquet(self, expr: ir.Table, path: Path) -> None:
        self._backend.to_parquet(expr, path, compression="zstd")

    def _write_csv(self, expr: ir.Table, path: Path) -> None:
        self._backend.to_csv(expr, path, header=True)
