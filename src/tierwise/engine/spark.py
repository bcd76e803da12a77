"""Apache Spark through the Ibis PySpark backend: the scale-out engine.

Connect by URL, or hand tierwise a SparkSession you already have:

* ``spark://local[2]`` (``spark://local``, ``spark://local[*]``): local mode, on this machine;
* ``spark://spark-master:7077``: a standalone cluster's master (``spark://HOST:PORT``);
* ``spark://yarn``: the master named after ``spark://`` when it is not a host;
* ``spark`` (the CLI's ``--engine spark``) is ``spark://local[*]``, or the session this process
  already runs (a notebook's);
* Spark settings go in the query: ``spark://local[2]?spark.sql.shuffle.partitions=8``;
* :meth:`SparkEngine.from_session` (or :func:`tierwise.engine.connect` with the session)
  runs on an existing session, in a child session of its own (``newSession``), so tierwise's
  settings and temporary views never leak into yours and your session stays open.

Every step runs as Spark SQL compiled by Ibis from the same expressions DuckDB runs. Files are
read by Spark's own CSV and Parquet readers (on a cluster, from a path every executor sees);
each row keeps its 1-based data-row number, so quarantine reasons name the same rows
on every engine. Outputs (scores, quarantine) are collected on the driver and written as one
file by an in-process DuckDB, byte for byte what the DuckDB engine writes.

Examples
--------
>>> SparkEngine.parse_url("spark://local[2]?spark.sql.shuffle.partitions=4")
('local[2]', {'spark.sql.shuffle.partitions': '4'})
>>> SparkEngine.parse_url("spark://spark-master:7077")[0]
'spark://spark-master:7077'
>>> with connect("spark://local[1]") as engine:        # doctest: +SKIP
...     engine.scalar(ibis.literal(1) + 1)
2
"""

from __future__ import annotations

import bisect
import csv
import io
import os
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qsl

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from tierwise.engine.base import ROW_COLUMN, Engine, RawTable, RejectedLine, connect  # noqa: F401 (doctest)
from tierwise.errors import DataError, TierwiseError

#: Settings tierwise needs in its session. Without them Spark's SQL differs from the portable
#: SQL the expressions assume: ANSI mode turns a failed cast into an error instead of a null (the
#: loader's parse checks rely on the null), ``size(NULL)`` would be -1 instead of null, and
#: naive timestamps (text cast to timestamp) must stay naive as they are on DuckDB.
SESSION_SETTINGS = {
    "spark.sql.ansi.enabled": "false",
    "spark.sql.legacy.sizeOfNull": "false",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.timestampType": "TIMESTAMP_NTZ",
}

#: Defaults for a local session tierwise starts itself: small and quick (no UI, few shuffle partitions).
LOCAL_DEFAULTS = {
    "spark.ui.enabled": "false",
    "spark.sql.shuffle.partitions": "4",
    "spark.ui.showConsoleProgress": "false",
}

#: CSV files up to this size are one split anyway, so they are read with ``multiLine`` (quoted line
#: breaks inside a field, as DuckDB reads them) at no cost in parallelism. Larger files are split
#: by lines: a quoted line break there makes the record a malformed line.
MULTILINE_MAX_BYTES = 128 * 1024 * 1024

_CORRUPT = "_tw_corrupt_record"
_ID = "_tw_mid"


class SparkEngine(Engine):
    """Spark SQL through Ibis; see the module docstring for the URL forms."""

    scheme = "spark"
    #: The most rejected lines a CSV may have before it is refused (as on DuckDB).
    max_rejected_lines: ClassVar[int] = 200

    def __init__(self, url: str = "spark://local[*]", *, session: Any = None, **options: Any):
        super().__init__(url)
        try:
            from pyspark.sql import SparkSession
        except ModuleNotFoundError:  # pragma: no cover - depends on the install
            raise TierwiseError("the spark engine needs pyspark (and Java 17+): pip install 'tierwise[spark]'") from None
        self._views: list[str] = []
        if session is not None:
            # a child session: its own SQL settings and temporary views, the same SparkContext
            self._owns_session = False
            self.session = session.newSession()
            self.master = session.sparkContext.master
        else:
            master, settings = self.parse_url(url)
            settings.update({k: str(v) for k, v in options.items() if v is not None})
            self.master = master
            active = SparkSession.getActiveSession()
            explicit = (url.split("://", 1)[1] if "://" in url else "").split("?", 1)[0].strip("/") != ""
            if active is not None:
                # plain `spark` means "local mode, or the session this process already runs"
                if explicit and active.sparkContext.master != master:
                    raise TierwiseError(
                        f"a Spark session on '{active.sparkContext.master}' is already running in this process; "
                        f"cannot also start one on '{master}' ({url}). Use SparkEngine.from_session(spark) to run "
                        "on the running session")
                self._owns_session, self.session = False, active.newSession()
            else:
                builder = SparkSession.builder.master(master).appName("tierwise")
                defaults = LOCAL_DEFAULTS if master.startswith("local") else {}
                for key, value in {**defaults, **settings}.items():
                    builder = builder.config(key, value)
                try:
                    self.session = builder.getOrCreate()
                except Exception as exc:  # Java missing, master unreachable: the JVM's own error types
                    raise TierwiseError(f"cannot start Spark on '{master}' ({url}): {exc}. The spark engine needs "
                                        "Java 17+ (JAVA_HOME or java on PATH) and a reachable master") from exc
                self._owns_session = True
                self.session.sparkContext.setLogLevel("ERROR")
        for key, value in SESSION_SETTINGS.items():
            self.session.conf.set(key, value)
        self._backend = ibis.pyspark.connect(self.session)
        # Ibis hands in-memory tables (``ibis.memtable``) to Spark through pandas, where pandas 3 keeps a
        # missing string as NaN and Spark then reads the text 'NaN'; Arrow keeps it null
        self._backend._register_in_memory_table = self._register_memtable

    # -- connection -------------------------------------------------------------
    @classmethod
    def from_session(cls, session: Any) -> SparkEngine:
        """Run on an existing SparkSession (a child session of it; closing the engine leaves it running).

        >>> engine = SparkEngine.from_session(spark)        # doctest: +SKIP
        >>> score("spec.yaml", "out/", engine_url=engine)   # doctest: +SKIP
        """
        return cls(f"spark://{session.sparkContext.master}", session=session)

    @staticmethod
    def parse_url(url: str) -> tuple[str, dict[str, str]]:
        """The Spark master and the settings of a ``spark://`` URL (``spark`` alone is local mode)."""
        rest = url.split("://", 1)[1] if "://" in url else ""
        # not urlsplit: 'local[2]' is not a valid host for it (brackets are for IPv6 addresses)
        rest, _, query = rest.partition("?")
        settings = dict(parse_qsl(query, keep_blank_values=True))
        unknown = [k for k in settings if not k.startswith("spark.")]
        if unknown:
            raise TierwiseError(f"engine URL '{url}': unknown setting {', '.join(unknown)}; Spark settings start "
                                "with 'spark.' (e.g. ?spark.sql.shuffle.partitions=8)")
        rest = rest.rstrip("/")
        if not rest:
            master = "local[*]"
        elif rest.startswith("local") or rest in ("yarn",) or "://" in rest:
            master = rest  # local modes, yarn, k8s://https://...
        else:
            master = f"spark://{rest}"  # a standalone cluster's master, host:port
        return master, settings

    @property
    def backend(self) -> ibis.BaseBackend:
        return self._backend

    def close(self) -> None:
        if self._owns_session:
            self.session.stop()
            return
        for view in self._views:  # a borrowed session keeps running: leave nothing of ours in it
            self.session.catalog.dropTempView(view)
        self._views.clear()

    # -- reading ----------------------------------------------------------------
    def read_csv(self, path: Path, *, delimiter: str = ",") -> RawTable:
        """Every column as text, with the data-row number; lines with the wrong number of cells are rejected.

        Spark's reader skips blank lines and keeps the file's order across partitions; the row
        number is the position in that order, shifted past the blank lines (as on DuckDB).
        """
        from pyspark.sql import functions as F
        from pyspark.sql import types as T

        location = str(path)
        header = self.session.read.csv(location, header=True, sep=delimiter, quote='"', escape='"').columns
        schema = T.StructType([T.StructField(c, T.StringType()) for c in header] + [T.StructField(_CORRUPT, T.StringType())])
        multiline = _local_size(path) is not None and _local_size(path) <= MULTILINE_MAX_BYTES
        df = self.session.read.csv(location, header=True, schema=schema, sep=delimiter, quote='"', escape='"',
                                   mode="PERMISSIVE", columnNameOfCorruptRecord=_CORRUPT, multiLine=multiline)
        df = _numbered(df.withColumn(_ID, F.monotonically_increasing_id()))
        # rows with a corrupt record are the lines of the wrong shape; they are few, so collect them
        corrupt = df.filter(F.col(_CORRUPT).isNotNull()).select(ROW_COLUMN, _CORRUPT).limit(self.max_rejected_lines + 1)
        bad = sorted((int(r[0]), r[1]) for r in corrupt.collect())
        if len(bad) > self.max_rejected_lines:
            raise DataError(f"{path}: more than {self.max_rejected_lines} lines could not be split into columns "
                            f"(first at row {bad[0][0]}); check the delimiter (set 'delimiter' in the spec) and the quoting")
        blanks = _blank_rows(path)
        if blanks:  # the k-th row read is data row k + #{i : blank_i - i < k} (blank rows ascending, i from 1)
            thresholds = [row - i for i, row in enumerate(blanks, 1)]
            # in SQL, not a Python UDF: executors need not have this Python; blank lines are few
            below = F.filter(F.array(*[F.lit(x) for x in thresholds]), lambda x: x < F.col(ROW_COLUMN))
            df = df.withColumn(ROW_COLUMN, F.col(ROW_COLUMN) + F.size(below))
            bad = [(k + bisect.bisect_left(thresholds, k), text) for k, text in bad]
        rejected = [RejectedLine(row, text.rstrip("\r\n"), _shape_reason(text, len(header), delimiter))
                    for row, text in bad]
        table = df.filter(F.col(_CORRUPT).isNull()).select(*[F.col(f"`{c}`") for c in header], ROW_COLUMN)
        return RawTable(self._view(table, "csv"), Path(path), rejected)

    def read_parquet(self, path: Path) -> RawTable:
        from pyspark.sql import functions as F

        df = self.session.read.parquet(str(path))
        df = _numbered(df.withColumn(_ID, F.monotonically_increasing_id()))
        return RawTable(self._view(df, "parquet"), Path(path), [])

    def register(self, data: pa.Table | Any, name: str | None = None) -> ir.Table:
        table = data if isinstance(data, pa.Table) else pa.Table.from_pandas(data, preserve_index=False)
        if table.num_rows == 0:  # Spark infers no schema from no rows: give it the table's
            from ibis.backends.pyspark.datatypes import PySparkSchema

            schema = PySparkSchema.from_ibis(ibis.Schema.from_pyarrow(table.schema))
            return self._view(self.session.createDataFrame([], schema), "mem", name)
        return self._view(self.session.createDataFrame(table), "mem", name)

    def _register_memtable(self, op: Any) -> None:
        self.register(op.data.to_pyarrow(op.schema), name=op.name)

    # -- running ----------------------------------------------------------------
    def materialize(self, expr: ir.Table, name: str | None = None) -> ir.Table:
        """Compute once and keep the rows (a local checkpoint: the plan above it is cut, so later
        queries do not re-plan the whole pipeline)."""
        return self._run(lambda: self._view(self._frame(expr).localCheckpoint(eager=True), "t", name), expr)

    def to_arrow(self, expr: ir.Expr) -> pa.Table:
        from ibis.formats.pyarrow import PyArrowData

        def run() -> pa.Table:
            table = expr.as_table()
            out = self._frame(table).toArrow()  # Arrow all the way; Ibis' own path goes through pandas
            return expr.__pyarrow_result__(PyArrowData.convert_table(out, table.schema()))

        return self._run(run, expr)

    def scalar(self, expr: ir.Scalar) -> Any:
        return self.to_arrow(expr).as_py() if isinstance(expr, ir.Scalar) else super().scalar(expr)

    def _frame(self, expr: ir.Table) -> Any:
        """The Spark DataFrame of an expression (in-memory tables and UDFs registered first)."""
        self._backend._run_pre_execute_hooks(expr)
        return self.session.sql(self._backend.compile(expr))

    def _view(self, df: Any, prefix: str, name: str | None = None) -> ir.Table:
        name = name or self._name(prefix)
        df.createOrReplaceTempView(name)
        self._views.append(name)
        return self._backend.table(name)

    # -- writing ----------------------------------------------------------------
    # Rows come to the driver and one file is written, as the DuckDB engine writes it.
    def _write_parquet(self, expr: ir.Table, path: Path) -> None:
        _local_duckdb(self.to_arrow(expr)).to_parquet(str(path), compression="zstd")

    def _write_csv(self, expr: ir.Table, path: Path) -> None:
        _local_duckdb(self.to_arrow(expr)).to_csv(str(path), header=True)


def _local_duckdb(table: pa.Table) -> Any:
    import duckdb

    return duckdb.connect().from_arrow(table)


def _numbered(df: Any) -> Any:
    """Replace the monotonic id of each row with its 1-based position in the file.

    The id is the partition number in the upper bits and the position within the partition in the
    lower 33; partitions of one file follow its byte order. One small aggregate gives each
    partition's row count, and so its offset.
    """
    from pyspark.sql import functions as F

    df = df.localCheckpoint(eager=True)  # both passes must see the same partitions
    part = F.shiftright(F.col(_ID), 33)
    counts = sorted((int(r[0]), int(r[1])) for r in df.groupBy(part.alias("p")).count().collect())
    offsets, total = [], 0
    for pid, n in counts:
        offsets.append((pid, total))
        total += n
    starts = df.sparkSession.createDataFrame(offsets or [(0, 0)], "_tw_p long, _tw_offset long")
    df = df.withColumn("_tw_p", part).join(F.broadcast(starts), "_tw_p")
    row = F.col("_tw_offset") + F.col(_ID) - F.shiftleft(F.col("_tw_p"), 33) + 1
    return df.withColumn(ROW_COLUMN, row.cast("long")).drop(_ID, "_tw_p", "_tw_offset")


def _local_size(path: Path) -> int | None:
    try:
        return os.path.getsize(path)
    except OSError:  # hdfs://, s3a://: not on this machine
        return None


def _blank_rows(path: Path) -> list[int]:
    if _local_size(path) is None:
        return []
    from tierwise.engine.duckdb import _blank_rows as blank_rows

    return blank_rows(Path(path))


def _shape_reason(text: str, columns: int, delimiter: str) -> str:
    """Word a malformed line like DuckDB does: too many or missing columns."""
    try:
        cells = next(csv.reader(io.StringIO(text), delimiter=delimiter), [])
    except csv.Error as exc:
        return f"invalid quoting: {exc}"
    if len(cells) > columns:
        return f"too many columns: expected {columns} columns but found {len(cells)}"
    if len(cells) < columns:
        return f"missing columns: expected {columns} columns but found {len(cells)}"
    return "invalid quoting: unterminated or misplaced quote"
