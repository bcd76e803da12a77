"""The engine interface: the only place in tierwise that holds a connection.

Everything above this layer builds Ibis expressions; an engine reads files
into tables, materialises intermediate results, and writes outputs. Engines
are plug-ins registered by URL scheme, so ``duckdb://`` and ``spark://``
run the same compiled spec.
"""

from __future__ import annotations

import os
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import ibis
import ibis.common.exceptions as com
import ibis.expr.operations as ops
import ibis.expr.types as ir
import pyarrow as pa

from tierwise.errors import TierwiseError

ROW_COLUMN = "_row"
"""1-based data-row number in the source file: its line minus the header line (blank lines count)."""


@dataclass(frozen=True)
class RejectedLine:
    """A line the reader could not split into the expected columns."""

    row: int
    text: str
    reason: str


@dataclass
class RawTable:
    """A file as read: text (or native) columns plus :data:`ROW_COLUMN`."""

    table: ir.Table
    path: Path | Any  # a file, or a database table (tierwise.io.postgres.DatabaseTable)
    rejected: list[RejectedLine]


class Engine(ABC):
    """Base class for engines. Subclasses register a URL scheme."""

    scheme: ClassVar[str]
    _registry: ClassVar[dict[str, type[Engine]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if getattr(cls, "scheme", None):
            Engine._registry[cls.scheme] = cls

    def __init__(self, url: str):
        self.url = url
        self._counter = 0

    # -- connection -------------------------------------------------------------
    @property
    @abstractmethod
    def backend(self) -> ibis.BaseBackend:
        """The Ibis backend (the connection)."""

    def close(self) -> None:
        self.backend.disconnect()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- reading ----------------------------------------------------------------
    @abstractmethod
    def read_csv(self, path: Path, *, delimiter: str = ",") -> RawTable:
        """Read a CSV file with every column as text plus :data:`ROW_COLUMN`."""

    @abstractmethod
    def read_parquet(self, path: Path) -> RawTable:
        """Read a Parquet file with its own types plus :data:`ROW_COLUMN`."""

    def read_database(self, source: Any, *, list_delimiter: str = ";") -> RawTable:
        """Read a PostgreSQL table (:class:`~tierwise.io.postgres.DatabaseTable`) like a CSV file:
        text columns plus :data:`ROW_COLUMN`, numbered in the table's primary-key order.

        The portable form: the table is exported with COPY to a temporary CSV, read by an
        in-process DuckDB and handed to this engine as Arrow (:meth:`register`), so the engine
        needs no access to the database or to this machine's files.
        """
        from tierwise.engine.duckdb import DuckDBEngine

        with _exported(source, list_delimiter) as path, DuckDBEngine() as local:
            raw = local.read_csv(path)
            return RawTable(self.register(local.to_arrow(raw.table)), source, raw.rejected)

    def register(self, data: pa.Table | Any, name: str | None = None) -> ir.Table:
        """Make in-memory data (Arrow or pandas) a table of this engine."""
        # Wrapped in a memtable: Ibis 12 with sqlglot >= 30 emits an empty
        # ``DROP VIEW`` when create_table is handed raw Arrow/pandas data.
        return self.backend.create_table(name or self._name("mem"), ibis.memtable(data), temp=True)

    # -- expressions an engine can do better than the portable form ---------------
    def distinct_items(self, items: ir.ArrayValue) -> ir.ArrayValue:
        """The distinct items of a list without nulls (order not kept)."""
        return items.unique()

    def key_hash(self, value: ir.Value) -> ir.IntegerValue:
        """A 64-bit hash of a value: equal values, equal hashes (for finding repeated keys)."""
        return value.hash()

    def repeated_values(self, column: ir.IntegerColumn) -> ir.Table:
        """The values of an integer column that occur more than once (column ``value``), as a small table.

        Finding repeated keys among tens of millions of rows: the portable form
        is a grouped count, which distributed engines do well.
        """
        t = column.as_table().select(value=column)
        counts = t.group_by("value").aggregate(_n=t.count())
        return self.materialize(counts.filter(counts._n > 1).select("value"))

    # -- running ----------------------------------------------------------------
    def materialize(self, expr: ir.Table, name: str | None = None) -> ir.Table:
        """Compute an expression once and keep the result as a temporary table."""
        return self._run(lambda: self.backend.create_table(name or self._name("t"), expr, temp=True), expr)

    def to_arrow(self, expr: ir.Expr) -> pa.Table:
        return self._run(lambda: self.backend.to_pyarrow(expr), expr)

    def scalar(self, expr: ir.Scalar) -> Any:
        return self._run(lambda: self.backend.execute(expr), expr)

    def check(self, expr: ir.Table) -> None:
        """Raise :class:`~tierwise.engine.capabilities.CapabilityError` naming every operation of ``expr``
        this engine cannot run (before any work is done); return quietly otherwise."""
        from tierwise.engine.capabilities import missing_operations

        if missing_operations(expr, type(self.backend.compiler)):
            raise self._capability_error(expr)

    def _capability_error(self, expr: ir.Expr, exc: Exception | None = None) -> TierwiseError:
        from tierwise.engine.capabilities import CapabilityError, missing_operations

        table = expr if isinstance(expr, ir.Table) else expr.as_table() if isinstance(expr, ir.Value) else None
        missing = missing_operations(table, type(self.backend.compiler)) if table is not None else []
        # else the backend's own words (an operation it refuses only for some types, say)
        listed = "; ".join(m.describe() for m in missing) or (f"an operation of this spec ({exc})" if exc else
                                                               "an operation of this spec")
        return CapabilityError(f"the {self.scheme} engine cannot run {listed}. Use an engine that supports it "
                               "(duckdb:// supports every operation tierwise uses) or change the spec.")

    def sql(self, expr: ir.Expr) -> str:
        return str(ibis.to_sql(expr, dialect=self.backend.name))

    def _run(self, fn: Callable[[], Any], expr: ir.Expr) -> Any:
        try:
            return fn()
        except TierwiseError:
            raise
        except (com.OperationNotDefinedError, com.UnsupportedOperationError) as exc:
            raise self._capability_error(expr, exc) from exc
        except Exception as exc:  # the backend's own error types vary by engine
            from tierwise.errors import EngineError

            try:
                sql = self.sql(expr)
            except Exception:  # pragma: no cover - compiling failed as well
                sql = None
            raise EngineError(f"{self.scheme} engine failed: {exc}", sql) from exc

    # -- prepared queries (the API: one compiled expression, many small inputs) ----
    def prepare(self, expr: ir.Table) -> PreparedQuery:
        """Compile an expression over placeholder tables (``ibis.table(schema, name=...)``) once.

        :meth:`run_prepared` then runs it on in-memory inputs named like the
        placeholders: a single record is scored by the very SQL a batch runs.
        """
        placeholders = tuple(sorted({op.name for op in expr.op().find(ops.UnboundTable)}))
        return PreparedQuery(self.sql(expr), placeholders)

    def run_prepared(self, query: PreparedQuery, inputs: dict[str, pa.Table]) -> pa.Table:
        from tierwise.engine.capabilities import CapabilityError

        raise CapabilityError(f"the {self.scheme} engine cannot run prepared queries on in-memory inputs (the API's "
                              "one-record scoring); serve the API on duckdb:// (engine: in the spec or --engine)")

    # -- writing ----------------------------------------------------------------
    @abstractmethod
    def _write_parquet(self, expr: ir.Table, path: Path) -> None: ...

    @abstractmethod
    def _write_csv(self, expr: ir.Table, path: Path) -> None: ...

    def write(self, expr: ir.Table, path: Path, fmt: str) -> Path:
        """Write a table atomically: a crash never leaves a half-written file."""
        writer = {"parquet": self._write_parquet, "csv": self._write_csv}[fmt]
        with atomic_path(path) as tmp:
            self._run(lambda: writer(expr, tmp), expr)
        return path

    def _name(self, prefix: str) -> str:
        self._counter += 1
        return f"_tw_{prefix}_{os.getpid()}_{self._counter}"


@dataclass(frozen=True)
class PreparedQuery:
    """SQL compiled from an expression over placeholder tables, and the placeholders' names."""

    sql: str
    inputs: tuple[str, ...]


@contextmanager
def _exported(source: Any, list_delimiter: str) -> Iterator[Path]:
    """A database table exported to a temporary CSV file, removed afterwards."""
    from tierwise.io.postgres import export_csv

    with tempfile.TemporaryDirectory(prefix="tierwise-pg-") as folder:
        path = Path(folder) / "table.csv"
        export_csv(source, path, list_delimiter=list_delimiter)
        yield path


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it into place on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    tmp.unlink()  # writers create the file themselves
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_text_atomic(path: Path, text: str) -> Path:
    """Write a small text file (JSON, Markdown) atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path


def connect(url: str | Engine | Any = None, **options: Any) -> Engine:
    """Open an engine by connection string (or wrap a connection you already have).

    ``url`` is an engine URL (``duckdb://``, ``spark://local[2]``), a bare scheme as the CLI's
    ``--engine spark`` gives it, an :class:`Engine` (returned as is) or a SparkSession (run in a
    child session of it, see :meth:`tierwise.engine.spark.SparkEngine.from_session`).

    Examples
    --------
    >>> with connect("duckdb://") as engine:
    ...     engine.scalar(ibis.literal(1) + 1)
    2
    >>> connect("nosuch://")
    Traceback (most recent call last):
    tierwise.errors.TierwiseError: unknown engine 'nosuch://'; available engines: duckdb://, spark://
    """
    # importing the built-in engines registers them (neither imports its driver until it connects)
    from tierwise.engine import duckdb as _duckdb  # noqa: F401
    from tierwise.engine import spark as _spark

    if isinstance(url, Engine):
        return url
    if url is not None and not isinstance(url, str):
        if type(url).__name__ == "SparkSession":  # without importing pyspark for every other engine
            return _spark.SparkEngine.from_session(url)
        raise TierwiseError(f"cannot open an engine from a {type(url).__name__}; give an engine URL such as "
                            "duckdb:// or spark://local[2], an Engine or a SparkSession")
    url = url or "duckdb://"
    if "://" not in url:
        url = f"{url.rstrip(':/')}://"  # a bare scheme: the engine's default (spark: local mode)
    scheme = url.split("://", 1)[0]  # not urlsplit: 'spark://local[2]' is no valid host to it
    cls = Engine._registry.get(scheme)
    if cls is None:
        known = ", ".join(f"{s}://" for s in sorted(Engine._registry))
        raise TierwiseError(f"unknown engine '{url}'; available engines: {known}")
    return cls(url, **options)
