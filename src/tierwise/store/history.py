"""The run history: every scoring run, its inputs and every account's score, tier, segment and owner.

One store per workspace (or per team): an embedded DuckDB file by default
(``.tierwise/history.duckdb`` next to the spec), or a PostgreSQL database
through a connection URL (``postgresql://user@host:5432/db``; the password
from ``PGPASSWORD`` or ``~/.pgpass``, as every libpq client). Both hold the
same tables:

``tw_runs``            one row per run: id, spec name, hash and format version, as_of, tierwise version,
                       accounts, the content digest, tier order, recorded attributes, a JSON summary
``tw_run_inputs``      rows read / loaded / quarantined per input table and run
``tw_run_accounts``    per run and account: owner, score, fit / signal / engagement scores, tier, segment,
                       and one column per recorded drift attribute: ``num__<name>`` (numbers) or
                       ``text__<name>`` (text), added when a run first records it (null for other runs)
``tw_changes``         a view: tier and segment changes (and accounts entering or leaving) of every run
                       against the run of the same spec name before it (by as_of, then recording time)

A run is written in **one transaction**: a failure at any point leaves the
store as it was. Recording a run id again is **idempotent**: the same content
(same digest) changes nothing; different content replaces the earlier
recording of that id, in the same single transaction. The default run id,
``<as_of>-<spec hash>-<digest>``, names a result: scoring the same data with
the same spec on the same date gives the same id.

The store holds a persistence connection, not a compute engine: reports read
run tables as Arrow and hand them to the engine (:mod:`tierwise.engine`).

Examples
--------
>>> import tempfile, pyarrow as pa
>>> from datetime import date
>>> folder = tempfile.mkdtemp()
>>> accounts = pa.table({"account_id": ["A1", "A2"], "owner_id": ["r1", None], "score": [81.0, 45.5],
...                      "fit_score": [90.0, 40.0], "signal_score": [70.0, 50.0], "engagement_score": [80.0, 50.0],
...                      "tier": ["A", "C"], "segment": ["Enterprise", "SMB"], "employees": [5000, 40]})
>>> with open_history(f"{folder}/history.duckdb") as store:
...     first = store.record(RunRecord(spec_name="demo", spec_hash="abc123", as_of=date(2026, 11, 1),
...                                    accounts=accounts, tiers=["A", "B", "C", "D"]))
...     again = store.record(RunRecord(spec_name="demo", spec_hash="abc123", as_of=date(2026, 11, 1),
...                                    accounts=accounts, tiers=["A", "B", "C", "D"]))
...     print(first.status, again.status, first.run.run_id == again.run.run_id, len(store.runs()))
...     print(first.run.attributes, store.attributes(first.run.run_id).to_pylist()[0])
recorded unchanged True 1
{'employees': 'number'} {'account_id': 'A1', 'employees': 5000.0}
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

import pyarrow as pa
import pyarrow.compute as pc

from tierwise.errors import TierwiseError

SCHEMA_VERSION = 1
DEFAULT_HISTORY = ".tierwise/history.duckdb"

#: The per-account columns of a run, in store order.
ACCOUNT_SCHEMA = pa.schema([
    ("account_id", pa.string()),
    ("owner_id", pa.string()),
    ("score", pa.float64()),
    ("fit_score", pa.float64()),
    ("signal_score", pa.float64()),
    ("engagement_score", pa.float64()),
    ("tier", pa.string()),
    ("segment", pa.string()),
])
#: The change events between two runs.
CHANGE_SCHEMA = pa.schema([
    ("run_id", pa.string()),
    ("previous_run_id", pa.string()),
    ("account_id", pa.string()),
    ("change", pa.string()),
    ("from_value", pa.string()),
    ("to_value", pa.string()),
    ("direction", pa.string()),
    ("score_from", pa.float64()),
    ("score_to", pa.float64()),
    ("owner_id", pa.string()),
])

_DDL = [
    "CREATE TABLE IF NOT EXISTS tw_meta (key TEXT NOT NULL, value TEXT NOT NULL)",
    """CREATE TABLE IF NOT EXISTS tw_runs (
        run_id TEXT NOT NULL, recorded_at TIMESTAMP NOT NULL, spec_name TEXT NOT NULL, spec_hash TEXT NOT NULL,
        spec_version INTEGER NOT NULL, tierwise_version TEXT NOT NULL, as_of DATE NOT NULL,
        accounts BIGINT NOT NULL, digest TEXT NOT NULL, tiers TEXT NOT NULL, attributes TEXT NOT NULL,
        summary TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS tw_run_inputs (
        run_id TEXT NOT NULL, table_name TEXT NOT NULL, read_rows BIGINT, loaded_rows BIGINT,
        quarantined_rows BIGINT)""",
    """CREATE TABLE IF NOT EXISTS tw_run_accounts (
        run_id TEXT NOT NULL, account_id TEXT NOT NULL, owner_id TEXT, score DOUBLE PRECISION,
        fit_score DOUBLE PRECISION, signal_score DOUBLE PRECISION, engagement_score DOUBLE PRECISION,
        tier TEXT, segment TEXT)""",
]

#: Tier and segment changes, and accounts entering or leaving, between the runs of ``pairs``
#: (run_id, previous_run_id). Plain SQL both DuckDB and PostgreSQL run.
_CHANGES = """
cur AS (SELECT p.run_id, p.previous_run_id, r.account_id, r.tier, r.segment, r.score, r.owner_id
        FROM pairs p JOIN tw_run_accounts r ON r.run_id = p.run_id),
prev AS (SELECT p.run_id, p.previous_run_id, r.account_id, r.tier, r.segment, r.score, r.owner_id
         FROM pairs p JOIN tw_run_accounts r ON r.run_id = p.previous_run_id),
j AS (SELECT COALESCE(cur.run_id, prev.run_id) AS run_id,
             COALESCE(cur.previous_run_id, prev.previous_run_id) AS previous_run_id,
             COALESCE(cur.account_id, prev.account_id) AS account_id,
             prev.tier AS tier_from, cur.tier AS tier_to, prev.segment AS segment_from, cur.segment AS segment_to,
             prev.score AS score_from, cur.score AS score_to, COALESCE(cur.owner_id, prev.owner_id) AS owner_id,
             cur.account_id IS NOT NULL AS in_cur, prev.account_id IS NOT NULL AS in_prev
      FROM cur FULL OUTER JOIN prev ON cur.run_id = prev.run_id AND cur.account_id = prev.account_id)
SELECT run_id, previous_run_id, account_id, 'tier' AS change, tier_from AS from_value, tier_to AS to_value,
       score_from, score_to, owner_id
FROM j WHERE in_cur AND in_prev AND COALESCE(tier_from, '') <> COALESCE(tier_to, '')
UNION ALL
SELECT run_id, previous_run_id, account_id, 'segment', segment_from, segment_to, score_from, score_to, owner_id
FROM j WHERE in_cur AND in_prev AND COALESCE(segment_from, '') <> COALESCE(segment_to, '')
UNION ALL
SELECT run_id, previous_run_id, account_id, 'entered', NULL, tier_to, score_from, score_to, owner_id
FROM j WHERE in_cur AND NOT in_prev
UNION ALL
SELECT run_id, previous_run_id, account_id, 'left', tier_from, NULL, score_from, score_to, owner_id
FROM j WHERE in_prev AND NOT in_cur
"""

_VIEWS = [
    """CREATE OR REPLACE VIEW tw_run_sequence AS
       SELECT run_id, as_of, recorded_at,
              LAG(run_id) OVER (PARTITION BY spec_name ORDER BY as_of, recorded_at, run_id) AS previous_run_id
       FROM tw_runs""",
    "CREATE OR REPLACE VIEW tw_changes AS WITH pairs AS (SELECT run_id, previous_run_id FROM tw_run_sequence "
    "WHERE previous_run_id IS NOT NULL),\n" + _CHANGES,
]

_RUN_COLUMNS = ("run_id", "recorded_at", "spec_name", "spec_hash", "spec_version", "tierwise_version", "as_of",
                "accounts", "digest", "tiers", "attributes", "summary")


# --------------------------------------------------------------------------- records


@dataclass
class RunRecord:
    """What one scoring run records. ``run_id`` defaults to ``<as_of>-<spec hash>-<digest>``.

    ``accounts`` holds :data:`ACCOUNT_SCHEMA`'s columns (``owner_id`` may be missing) and, as further
    columns, the drift attributes: numbers are stored as numbers, anything else as text.
    """

    spec_name: str
    spec_hash: str
    as_of: date
    accounts: pa.Table
    tiers: list[str]
    spec_version: int = 1
    run_id: str | None = None
    inputs: dict[str, dict[str, int]] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)

    def prepared(self) -> tuple[pa.Table, dict[str, str]]:
        """The accounts in store layout (attribute columns named ``num__x`` / ``text__x``) and the attribute
        kinds (``number`` or ``text``)."""
        table = self.accounts
        missing = [n for n in ACCOUNT_SCHEMA.names if n not in table.column_names and n != "owner_id"]
        if missing:
            raise ValueError(f"run accounts lack column(s) {', '.join(missing)}")
        cols: dict[str, pa.Array] = {}
        for f in ACCOUNT_SCHEMA:
            col = table[f.name] if f.name in table.column_names else pa.nulls(table.num_rows, f.type)
            cols[f.name] = col.cast(f.type)
        kinds: dict[str, str] = {}
        for name in table.column_names:
            if name in ACCOUNT_SCHEMA.names:
                continue
            if not re.fullmatch(r"[a-z][a-z0-9_]{0,62}", name):
                raise ValueError(f"attribute '{name}': use lower_snake_case names")
            dtype = table[name].type
            if pa.types.is_integer(dtype) or pa.types.is_floating(dtype) or pa.types.is_decimal(dtype):
                kinds[name] = "number"
                cols[attribute_column(name, "number")] = table[name].cast(pa.float64())
            else:
                kinds[name] = "text"
                cols[attribute_column(name, "text")] = table[name].cast(pa.string())
        return pa.table(cols), kinds


def attribute_column(name: str, kind: str) -> str:
    """The store column of a drift attribute: ``num__employees``, ``text__industry``."""
    return f"{'num' if kind == 'number' else 'text'}__{name}"


def digest(accounts: pa.Table, meta: dict[str, Any]) -> str:
    """SHA-256 (hex) of the run's metadata and of an order-independent sum of the accounts' row hashes.

    The row hashes are DuckDB's ``hash()`` (an in-memory connection, whatever the store), so the digest
    does not depend on row order and costs one parallel scan; a DuckDB upgrade that changed ``hash()``
    would change the digest of the same content (a re-recording then replaces instead of matching).
    """
    import duckdb

    h = hashlib.sha256(json.dumps(meta, sort_keys=True, default=str).encode())
    con = duckdb.connect()
    try:
        con.register("acc", accounts)
        cols = ", ".join(f'"{c}"' for c in accounts.column_names)
        n, total = con.execute(f"SELECT count(*), CAST(sum(hash({cols})) AS VARCHAR) FROM acc").fetchone()
        h.update(f"{','.join(accounts.column_names)}:{n}:{total}".encode())
    finally:
        con.close()
    return h.hexdigest()


@dataclass(frozen=True)
class RunInfo:
    """One recorded run (a row of ``tw_runs``)."""

    run_id: str
    recorded_at: datetime
    spec_name: str
    spec_hash: str
    spec_version: int
    tierwise_version: str
    as_of: date
    accounts: int
    digest: str
    tiers: list[str]
    attributes: dict[str, str]
    summary: dict[str, Any]
    inputs: dict[str, dict[str, int]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "recorded_at": self.recorded_at.isoformat(timespec="seconds"),
                "spec_name": self.spec_name, "spec_hash": self.spec_hash, "spec_version": self.spec_version,
                "tierwise_version": self.tierwise_version, "as_of": self.as_of.isoformat(),
                "accounts": self.accounts, "tiers": self.tiers, "attributes": self.attributes,
                "inputs": self.inputs, "summary": self.summary}


@dataclass(frozen=True)
class RecordResult:
    run: RunInfo
    status: Literal["recorded", "unchanged", "replaced"]
    seconds: float


# --------------------------------------------------------------------------- opening


def is_postgres_url(url: str) -> bool:
    return urlsplit(url).scheme in ("postgres", "postgresql")


def resolve_history(value: str, base_dir: Path | None = None) -> str:
    """A history setting -> a PostgreSQL URL or an absolute DuckDB file path.

    ``value`` is a PostgreSQL URL, ``duckdb:///abs/path``, ``duckdb://relative/path`` or a plain path
    (relative to ``base_dir``, the spec's folder).
    """
    if is_postgres_url(value):
        return value
    scheme = urlsplit(value).scheme
    if scheme == "duckdb":
        value = value[len("duckdb://"):]
        if not value or value == ":memory:":
            raise TierwiseError("the history store needs a file: duckdb:///path/history.duckdb (an in-memory "
                                "database would forget every run)")
    elif scheme and len(scheme) > 1:  # not a Windows drive letter
        raise TierwiseError(f"unknown history store '{redact(value)}': give a DuckDB file path (.duckdb) or a "
                            "postgresql:// URL")
    path = Path(value).expanduser()
    if not path.is_absolute():
        path = (base_dir or Path.cwd()) / path
    return str(path)


def redact(url: str) -> str:
    """A URL with its password replaced by ``***`` (for messages and summaries)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def open_history(value: str, base_dir: Path | None = None) -> HistoryStore:
    """Open (creating when needed) the history store named by ``value``."""
    target = resolve_history(value, base_dir)
    if is_postgres_url(target):
        return PostgresHistory(target)
    return DuckDBHistory(target)


# --------------------------------------------------------------------------- the store


class HistoryStore(ABC):
    """Run history on one database. Subclasses provide the connection, parameters and bulk loading."""

    kind: str = ""

    def __init__(self, url: str):
        self.url = url
        self._init_schema()

    # -- backend ------------------------------------------------------------------
    @abstractmethod
    def _execute(self, sql: str, params: dict[str, Any] | None = None) -> None: ...

    @abstractmethod
    def _rows(self, sql: str, params: dict[str, Any] | None = None) -> list[tuple]: ...

    @abstractmethod
    def _arrow(self, sql: str, params: dict[str, Any], schema: pa.Schema) -> pa.Table: ...

    @abstractmethod
    def _bulk_insert(self, table: str, run_id: str, data: pa.Table) -> None:
        """Insert ``data`` (store layout, without run_id) with ``run_id`` in front, inside the open transaction."""

    @abstractmethod
    @contextmanager
    def _transaction(self) -> Iterator[None]: ...

    @abstractmethod
    def close(self) -> None: ...

    def _checkpoint(self, step: str) -> None:
        """Called between the writes of :meth:`record` (tests make it fail to prove the rollback)."""
        return None

    def _init_schema(self) -> None:
        with self._transaction():
            self._lock()
            for ddl in _DDL:
                self._execute(ddl)
            self._indexes()
            found = self._rows("SELECT value FROM tw_meta WHERE key = 'schema_version'")
            if not found:
                self._execute("INSERT INTO tw_meta (key, value) VALUES ('schema_version', :v)", {"v": str(SCHEMA_VERSION)})
            elif int(found[0][0]) > SCHEMA_VERSION:
                raise TierwiseError(f"history store {self.display} was written by a newer tierwise (schema "
                                    f"{found[0][0]}, this one knows {SCHEMA_VERSION}); upgrade tierwise")
            for view in _VIEWS:
                self._execute(view)

    def _indexes(self) -> None:
        """Indexes the backend wants (none on DuckDB: its zone maps prune by run)."""
        return None

    def _lock(self) -> None:
        """Serialise writers (PostgreSQL: an advisory lock for the transaction)."""
        return None

    @property
    def display(self) -> str:
        return redact(self.url)

    def __enter__(self) -> HistoryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing --------------------------------------------------------------------
    def record(self, run: RunRecord) -> RecordResult:
        """Record a run in one transaction; recording the same run id again is idempotent."""
        t0 = time.perf_counter()
        acc, kinds = run.prepared()
        meta = {"spec_name": run.spec_name, "spec_hash": run.spec_hash, "spec_version": run.spec_version,
                "as_of": run.as_of.isoformat(), "tiers": list(run.tiers), "inputs": run.inputs}
        content = digest(acc, meta)
        run_id = run.run_id or f"{run.as_of.isoformat()}-{run.spec_hash[:8]}-{content[:8]}"
        _check_run_id(run_id)
        from tierwise import __version__

        with self._transaction():
            self._lock()
            existing = self._rows("SELECT digest FROM tw_runs WHERE run_id = :r", {"r": run_id})
            if existing and existing[0][0] == content:
                status: Literal["recorded", "unchanged", "replaced"] = "unchanged"
            else:
                status = "replaced" if existing else "recorded"
                for table in ("tw_run_accounts", "tw_run_inputs", "tw_runs"):
                    self._execute(f"DELETE FROM {table} WHERE run_id = :r", {"r": run_id})
                self._checkpoint("deleted")
                present = self._account_columns()
                for name, kind in kinds.items():
                    if attribute_column(name, kind) in present:
                        continue  # no ALTER (and no table lock) for a column an earlier run added
                    sql_type = "DOUBLE PRECISION" if kind == "number" else "TEXT"
                    self._execute(f'ALTER TABLE tw_run_accounts ADD COLUMN IF NOT EXISTS '
                                  f'"{attribute_column(name, kind)}" {sql_type}')
                self._execute(
                    "INSERT INTO tw_runs (" + ", ".join(_RUN_COLUMNS) + ") VALUES ("
                    + ", ".join(f":{c}" for c in _RUN_COLUMNS) + ")",
                    {"run_id": run_id, "recorded_at": datetime.now(UTC).replace(tzinfo=None, microsecond=0),
                     "spec_name": run.spec_name, "spec_hash": run.spec_hash, "spec_version": run.spec_version,
                     "tierwise_version": __version__, "as_of": run.as_of, "accounts": acc.num_rows,
                     "digest": content, "tiers": json.dumps(list(run.tiers)),
                     "attributes": json.dumps(kinds, sort_keys=True),
                     "summary": json.dumps(run.summary, sort_keys=True, default=str)})
                for name, counts in sorted(run.inputs.items()):
                    self._execute(
                        "INSERT INTO tw_run_inputs (run_id, table_name, read_rows, loaded_rows, quarantined_rows) "
                        "VALUES (:r, :t, :read, :loaded, :q)",
                        {"r": run_id, "t": name, "read": int(counts.get("read", 0)),
                         "loaded": int(counts.get("loaded", 0)), "q": int(counts.get("quarantined", 0))})
                self._checkpoint("run")
                self._bulk_insert("tw_run_accounts", run_id, acc)
                self._checkpoint("accounts")
        return RecordResult(self.get(run_id), status, round(time.perf_counter() - t0, 3))

    def _account_columns(self) -> set[str]:
        rows = self._rows("SELECT column_name FROM information_schema.columns WHERE table_name = 'tw_run_accounts'"
                          + (" AND table_schema = current_schema()" if self.kind == "postgresql" else ""))
        return {r[0] for r in rows}

    def delete(self, run_id: str) -> None:
        """Remove a run and everything recorded with it (one transaction)."""
        self.get(run_id)
        with self._transaction():
            self._lock()
            for table in ("tw_run_accounts", "tw_run_inputs", "tw_runs"):
                self._execute(f"DELETE FROM {table} WHERE run_id = :r", {"r": run_id})

    # -- reading --------------------------------------------------------------------
    def runs(self) -> list[RunInfo]:
        """Every run, oldest first (by as_of, then recording time)."""
        rows = self._rows("SELECT " + ", ".join(_RUN_COLUMNS) + " FROM tw_runs ORDER BY as_of, recorded_at, run_id")
        inputs: dict[str, dict[str, dict[str, int]]] = {}
        for r in self._rows("SELECT run_id, table_name, read_rows, loaded_rows, quarantined_rows FROM tw_run_inputs "
                            "ORDER BY run_id, table_name"):
            inputs.setdefault(r[0], {})[r[1]] = {"read": int(r[2]), "loaded": int(r[3]), "quarantined": int(r[4])}
        return [_run_info(r, inputs.get(r[0], {})) for r in rows]

    def get(self, run_id: str) -> RunInfo:
        runs = self.runs()
        for run in runs:
            if run.run_id == run_id:
                return run
        known = ", ".join(r.run_id for r in runs[-5:]) or "none yet; run `tierwise score` first"
        raise TierwiseError(f"no run '{run_id}' in the history store {self.display} (latest: {known})")

    def latest(self) -> RunInfo | None:
        runs = self.runs()
        return runs[-1] if runs else None

    def previous(self, run_id: str) -> RunInfo | None:
        """The run of the same spec name recorded before ``run_id`` in run order (as_of, then recording time),
        if any: a team store holds several workspaces' runs."""
        run = self.get(run_id)
        runs = [r for r in self.runs() if r.spec_name == run.spec_name]
        i = [r.run_id for r in runs].index(run_id)
        return runs[i - 1] if i > 0 else None

    def accounts(self, run_id: str, *, ordered: bool = True) -> pa.Table:
        """The run's per-account rows (:data:`ACCOUNT_SCHEMA`), ordered by account_id unless ``ordered`` is False."""
        cols = ", ".join(ACCOUNT_SCHEMA.names)
        return self._arrow(f"SELECT {cols} FROM tw_run_accounts WHERE run_id = :r"
                           + (" ORDER BY account_id" if ordered else ""), {"r": run_id}, ACCOUNT_SCHEMA)

    def attributes(self, run_id: str, *, ordered: bool = True) -> pa.Table:
        """The run's drift attributes: ``account_id`` and one column per attribute (numbers as float64, text as
        string), ordered by account_id unless ``ordered`` is False."""
        return self._wide(run_id, ["account_id"], ordered)

    def run_table(self, run_id: str, *, ordered: bool = True) -> pa.Table:
        """The run's accounts (:data:`ACCOUNT_SCHEMA`) and drift attributes in one table (one read)."""
        return self._wide(run_id, ACCOUNT_SCHEMA.names, ordered)

    def _wide(self, run_id: str, core: list[str], ordered: bool) -> pa.Table:
        kinds = self.get(run_id).attributes
        fields = [ACCOUNT_SCHEMA.field(c) for c in core] + [
            pa.field(name, pa.float64() if kind == "number" else pa.string()) for name, kind in sorted(kinds.items())]
        cols = ", ".join(core + [f'"{attribute_column(n, k)}" AS "{n}"' for n, k in sorted(kinds.items())])
        return self._arrow(f"SELECT {cols} FROM tw_run_accounts WHERE run_id = :r"
                           + (" ORDER BY account_id" if ordered else ""), {"r": run_id}, pa.schema(fields))

    def changes(self, from_run: str, to_run: str) -> pa.Table:
        """Change events from ``from_run`` to ``to_run`` (:data:`CHANGE_SCHEMA`): tier and segment changes of
        accounts in both runs, accounts that entered and left; ordered by account and change."""
        before, after = self.get(from_run), self.get(to_run)
        sql = ("WITH pairs AS (SELECT CAST(:to AS TEXT) AS run_id, CAST(:from AS TEXT) AS previous_run_id),\n"
               + _CHANGES + "\nORDER BY account_id, change")
        schema = pa.schema([f for f in CHANGE_SCHEMA if f.name != "direction"])
        events = self._arrow(sql, {"to": to_run, "from": from_run}, schema)
        return with_direction(events, after.tiers or before.tiers)

    def previous_changes(self, run_id: str) -> pa.Table:
        """Change events of ``run_id`` against the run before it (empty for the first run)."""
        before = self.previous(run_id)
        if before is None:
            return CHANGE_SCHEMA.empty_table()
        return self.changes(before.run_id, run_id)


def _batched(table: pa.Table, rows: int = 122_880) -> pa.Table:
    """The same table in record batches of ``rows`` (zero-copy slices): an engine scans batches in parallel."""
    return pa.Table.from_batches(table.to_batches(max_chunksize=rows), schema=table.schema) if table.num_rows else table


def _check_run_id(run_id: str) -> None:
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}", run_id):
        raise TierwiseError(f"run id '{run_id}': use letters, digits, '.', '_', ':' and '-' (at most 128)")


def _run_info(row: tuple, inputs: dict[str, dict[str, int]]) -> RunInfo:
    r = dict(zip(_RUN_COLUMNS, row, strict=True))
    as_of = r["as_of"] if isinstance(r["as_of"], date) else date.fromisoformat(str(r["as_of"]))
    recorded = r["recorded_at"] if isinstance(r["recorded_at"], datetime) else datetime.fromisoformat(str(r["recorded_at"]))
    return RunInfo(run_id=r["run_id"], recorded_at=recorded, spec_name=r["spec_name"], spec_hash=r["spec_hash"],
                   spec_version=int(r["spec_version"]), tierwise_version=r["tierwise_version"], as_of=as_of,
                   accounts=int(r["accounts"]), digest=r["digest"], tiers=json.loads(r["tiers"]),
                   attributes=json.loads(r["attributes"]), summary=json.loads(r["summary"]), inputs=inputs)


def with_direction(events: pa.Table, tiers: list[str]) -> pa.Table:
    """``up`` / ``down`` for tier changes (by the tiers' order: the first is the best), else null."""
    rank = pa.array(list(tiers), pa.string())
    frm = pc.index_in(events["from_value"], value_set=rank)
    to = pc.index_in(events["to_value"], value_set=rank)
    is_tier = pc.equal(events["change"], "tier")
    up = pc.less(to, frm)
    direction = pc.if_else(pc.and_(is_tier, pc.is_valid(pc.subtract(to, frm))),
                           pc.if_else(up, "up", "down"), pa.scalar(None, pa.string()))
    cols = {name: events[name] for name in events.column_names}
    cols["direction"] = direction
    return pa.table({f.name: cols[f.name].cast(f.type) for f in CHANGE_SCHEMA}, schema=CHANGE_SCHEMA)


# --------------------------------------------------------------------------- DuckDB


class DuckDBHistory(HistoryStore):
    """The embedded store: one DuckDB file."""

    kind = "duckdb"

    def __init__(self, path: str):
        import duckdb

        p = Path(path)
        try:
            p.parent.mkdir(parents=True, exist_ok=True)
            self._con = duckdb.connect(str(p))
        except (OSError, duckdb.Error) as exc:
            raise TierwiseError(f"cannot open the history store {p}: {exc}") from exc
        self._in_tx = False
        super().__init__(str(p))

    @staticmethod
    def _sql(sql: str) -> str:
        return re.sub(r"(?<![:\w]):([a-z_]+)", r"$\1", sql)

    def _execute(self, sql: str, params: dict[str, Any] | None = None) -> None:
        self._con.execute(self._sql(sql), params or {})

    def _rows(self, sql: str, params: dict[str, Any] | None = None) -> list[tuple]:
        return self._con.execute(self._sql(sql), params or {}).fetchall()

    def _arrow(self, sql: str, params: dict[str, Any], schema: pa.Schema) -> pa.Table:
        table = self._con.execute(self._sql(sql), params).to_arrow_table()
        return _batched(pa.table({f.name: table[f.name].cast(f.type) for f in schema}, schema=schema))

    def _bulk_insert(self, table: str, run_id: str, data: pa.Table) -> None:
        name = f"_tw_incoming_{table}"
        self._con.register(name, data)
        try:
            cols = ", ".join(f'"{c}"' for c in data.column_names)
            self._con.execute(f"INSERT INTO {table} (run_id, {cols}) SELECT $r, {cols} FROM {name}", {"r": run_id})
        finally:
            self._con.unregister(name)

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        self._con.execute("BEGIN TRANSACTION")
        try:
            yield
        except BaseException:
            self._con.execute("ROLLBACK")
            raise
        self._con.execute("COMMIT")

    def close(self) -> None:
        self._con.close()


# --------------------------------------------------------------------------- PostgreSQL


class PostgresHistory(HistoryStore):
    """A team store in PostgreSQL; runs are bulk-loaded with COPY."""

    kind = "postgresql"
    #: Bytes of CSV handed to COPY at a time.
    COPY_CHUNK_ROWS = 200_000

    def __init__(self, url: str):
        try:
            import psycopg
        except ImportError:  # pragma: no cover - depends on the installation
            raise TierwiseError("the PostgreSQL history store needs psycopg: pip install 'tierwise[postgres]'") from None
        try:
            self._con = psycopg.connect(url, autocommit=False, connect_timeout=10)
        except psycopg.Error as exc:
            raise TierwiseError(f"cannot connect to the history store {redact(url)}: "
                                f"{str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__}"
                                ) from None
        self._in_tx = False
        super().__init__(url)

    def _end_read(self) -> None:
        if not self._in_tx:
            self._con.commit()  # a read outside record() must not leave the session idle in a transaction

    @staticmethod
    def _sql(sql: str) -> str:
        return re.sub(r"(?<![:\w]):([a-z_]+)", r"%(\1)s", sql)

    def _execute(self, sql: str, params: dict[str, Any] | None = None) -> None:
        with self._con.cursor() as cur:
            cur.execute(self._sql(sql), params or None)

    def _rows(self, sql: str, params: dict[str, Any] | None = None) -> list[tuple]:
        with self._con.cursor() as cur:
            cur.execute(self._sql(sql), params or None)
            rows = cur.fetchall()
        self._end_read()
        return rows

    def _arrow(self, sql: str, params: dict[str, Any], schema: pa.Schema) -> pa.Table:
        import psycopg
        import pyarrow.csv as pcsv
        from psycopg import sql as psql

        buf = io.BytesIO()
        with psycopg.ClientCursor(self._con) as cur:
            query = psql.SQL("COPY ({}) TO STDOUT (FORMAT csv, HEADER)").format(
                psql.SQL(cur.mogrify(self._sql(sql), params)))
            with cur.copy(query) as copy:
                for chunk in copy:
                    buf.write(chunk)
        self._end_read()
        buf.seek(0)
        if not buf.getbuffer().nbytes:
            return schema.empty_table()
        table = pcsv.read_csv(buf, convert_options=pcsv.ConvertOptions(
            column_types=schema, strings_can_be_null=True, quoted_strings_can_be_null=False))
        return _batched(pa.table({f.name: table[f.name].cast(f.type) for f in schema}, schema=schema))

    def _bulk_insert(self, table: str, run_id: str, data: pa.Table) -> None:
        import pyarrow.csv as pcsv

        cols = ", ".join(f'"{c}"' for c in ["run_id", *data.column_names])
        with self._con.cursor() as cur:
            with cur.copy(f"COPY {table} ({cols}) FROM STDIN (FORMAT csv)") as copy:
                for start in range(0, data.num_rows, self.COPY_CHUNK_ROWS):
                    part = data.slice(start, self.COPY_CHUNK_ROWS)
                    part = part.add_column(0, "run_id", pa.array([run_id] * part.num_rows, pa.string()))
                    buf = io.BytesIO()
                    pcsv.write_csv(part, buf, write_options=pcsv.WriteOptions(include_header=False))
                    copy.write(buf.getvalue())

    def _indexes(self) -> None:
        self._execute("CREATE INDEX IF NOT EXISTS tw_run_accounts_run ON tw_run_accounts (run_id)")
        self._execute("CREATE UNIQUE INDEX IF NOT EXISTS tw_runs_id ON tw_runs (run_id)")

    def _lock(self) -> None:
        # one writer at a time (schema creation, recording, deleting); released at commit or rollback
        self._execute("SELECT pg_advisory_xact_lock(7012026)")

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        self._con.rollback()  # a clean start: no reads left open
        self._in_tx = True
        try:
            yield
        except BaseException:
            self._con.rollback()
            raise
        else:
            self._con.commit()
        finally:
            self._in_tx = False

    def close(self) -> None:
        self._con.close()


__all__ = ["ACCOUNT_SCHEMA", "CHANGE_SCHEMA", "attribute_column", "with_direction", "DEFAULT_HISTORY", "DuckDBHistory", "HistoryStore",
           "PostgresHistory", "RecordResult", "RunInfo", "RunRecord", "open_history", "redact", "resolve_history"]
