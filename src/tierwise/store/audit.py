"""The routing audit log: an append-only JSON-lines file of routing decisions.

Each :meth:`AuditLog.record` call appends one *batch*: one JSON object per new
decision, then a commit line ``{"_commit": n, "written_at": ..., "state": ...}``
(``state`` is the router state after the batch, so cursors and counts are saved
together with the decisions they produced), written with one ``write`` and then
``fsync``. A batch without its commit line, such as the tail a crash left
behind, is ignored with a warning when the log is read and cut off before the
next batch is appended: a batch is in the log entirely or not at all.

A decision whose idempotency key is already logged is never written again
(``record`` counts it as a skipped duplicate), so :meth:`seen` gives the one
decision made for a key. Writers hold an exclusive lock on the file (POSIX) and
first read what other processes appended since, so two processes sharing a
log do not both record the same key.

Examples
--------
>>> import tempfile
>>> from datetime import datetime
>>> from pathlib import Path
>>> from tierwise.models.routing import Decision, pause_gc
>>> path = Path(tempfile.mkdtemp()) / "audit.jsonl"
>>> d = Decision("L1", "default", "no earlier rule matched; default rule 'default'; queue 'nurture'",
...              "queue", "nurture", None, datetime(2026, 3, 2, 9), "k1")
>>> log = AuditLog(path)
>>> log.record([d, d], state={"cursor": {}, "assigned": {}})
(1, 1)
>>> AuditLog(path).seen("k1") == d, len(AuditLog(path)), AuditLog(path).seen("k2")
(True, 1, None)
"""

from __future__ import annotations

import json
import logging
import os
import warnings
from bisect import bisect_right
from collections.abc import Iterator, Sequence
from datetime import datetime, timezone
from itertools import repeat
from json.encoder import encode_basestring
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.json as pa_json

from tierwise.errors import DataError
from tierwise.models.routing import Decision, pause_gc

try:  # POSIX advisory lock; elsewhere a single writer is assumed
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

logger = logging.getLogger(__name__)

#: Decision fields stored per line, in line order (``replay`` is not stored: a logged decision is the original).
FIELDS = ("idempotency_key", "lead_id", "rule", "why", "target_kind", "target", "sla_due", "decided_at",
          "fallback_used")
_SCHEMA = pa.schema([(name, pa.string()) for name in FIELDS])
_COMMIT = b'{"_commit":'


class AuditLog:
    """Append-only log of routing decisions, indexed by idempotency key.

    Parameters
    ----------
    path : str or Path
        The JSON-lines file; created (with its folder) on the first record.

    Attributes
    ----------
    path : Path
    state : dict or None
        Router state saved with the last committed batch.
    warnings : list of str
        Problems met reading the log (unfinished batch, unreadable lines).
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.state: dict[str, Any] | None = None
        self.warnings: list[str] = []
        if self.path.is_dir():
            raise DataError(f"audit log {self.path} is a folder; give a file path such as {self.path / 'audit.jsonl'}")
        self._reset()

    def _reset(self) -> None:
        self._index: dict[str, int] = {}  # key -> position (log order)
        self._recorded: dict[int, Decision] = {}  # positions recorded by this object
        self._tables: list[tuple[int, pa.Table]] = []  # (first position, rows read from the file)
        self._starts: list[int] = []
        self._size = 0  # bytes of the file known to hold committed batches
        self._n = 0
        self._warned_at = -1  # file size when an unfinished tail was last reported
        if self.path.exists():
            with open(self.path, "rb") as f, pause_gc():
                self._read_new(f, os.fstat(f.fileno()).st_size)

    # -- reading -----------------------------------------------------------------------------
    def __len__(self) -> int:
        return self._n

    def __iter__(self) -> Iterator[Decision]:
        """Logged decisions in log order."""
        for key in list(self._index):
            yield self._get(self._index[key])

    def seen(self, idempotency_key: str) -> Decision | None:
        """The decision logged under a key, or ``None``."""
        pos = self._index.get(idempotency_key)
        return None if pos is None else self._get(pos)

    def seen_many(self, keys: Sequence[str], *, replay: bool = False) -> list[Decision | None]:
        """:meth:`seen` for many keys at once; ``replay=True`` marks the decisions found as replays."""
        index = self._index
        out: list[Decision | None] = [None] * len(keys)
        if not index:
            return out
        with pause_gc():
            wanted: dict[int, tuple[list[int], list[int]]] = {}  # table number -> (output slots, rows)
            recorded = self._recorded
            for slot, key in enumerate(keys):
                pos = index.get(key)
                if pos is None:
                    continue
                decision = recorded.get(pos)
                if decision is not None:
                    out[slot] = decision._replace(replay=True) if replay else decision
                else:
                    number, row = self._locate(pos)
                    slots, rows = wanted.setdefault(number, ([], []))
                    slots.append(slot)
                    rows.append(row)
            for number, (slots, rows) in wanted.items():
                for slot, decision in zip(slots, _decisions(self._tables[number][1].take(rows), replay), strict=True):
                    out[slot] = decision
        return out

    def _get(self, pos: int) -> Decision:
        decision = self._recorded.get(pos)
        if decision is None:
            number, row = self._locate(pos)
            decision = _decisions(self._tables[number][1].slice(row, 1))[0]
        return decision

    def _locate(self, pos: int) -> tuple[int, int]:
        number = bisect_right(self._starts, pos) - 1
        return number, pos - self._starts[number]

    def _read_new(self, f: Any, size: int) -> None:
        """Read committed batches between the known end and ``size``; note an unfinished tail."""
        f.seek(self._size)
        buf = f.read(size - self._size)
        end = _committed_end(buf)
        tail = len(buf) - end
        if tail and size != self._warned_at:
            self._warned_at = size
            self._warn(f"audit log {self.path}: ignored {tail} byte(s) of an unfinished batch at the end "
                       f"(a write was interrupted); they are dropped before the next batch is appended")
        if end:
            self._load(buf[:end])
        self._size += end

    def _load(self, buf: bytes) -> None:
        try:
            table = pa_json.read_json(pa.BufferReader(buf), parse_options=pa_json.ParseOptions(
                explicit_schema=_SCHEMA, unexpected_field_behavior="ignore"))
            table = table.filter(table.column("idempotency_key").is_valid())
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            table = self._load_lines(buf)
        start = self._n
        keys = table.column("idempotency_key").to_pylist()
        self._tables.append((start, table))
        self._starts.append(start)
        index = self._index
        for pos, key in enumerate(keys, start):
            if key not in index:  # first decision for a key stands
                index[key] = pos
        self._n += len(keys)
        last = buf.rfind(b"\n" + _COMMIT) + 1
        try:
            self.state = json.loads(buf[last:]).get("state")
        except ValueError:  # pragma: no cover - committed region ends with a commit line
            pass

    def _load_lines(self, buf: bytes) -> pa.Table:
        """Slow path: parse line by line, skipping lines that are not valid decisions."""
        rows: list[dict[str, Any]] = []
        for number, line in enumerate(buf.splitlines(), 1):
            if line.startswith(_COMMIT) or not line.strip():
                continue
            try:
                item = json.loads(line)
                row = {name: item.get(name) for name in FIELDS}
                if not isinstance(row["idempotency_key"], str) or not all(
                        v is None or isinstance(v, str) for v in row.values()):
                    raise ValueError("not a decision")
                rows.append(row)
            except ValueError:
                self._warn(f"audit log {self.path}: skipped unreadable line {number} of the batch starting at "
                           f"byte {self._size}")
        return pa.Table.from_pylist(rows, schema=_SCHEMA)

    def _warn(self, message: str) -> None:
        self.warnings.append(message)
        logger.warning(message)
        warnings.warn(message, stacklevel=3)

    # -- writing -----------------------------------------------------------------------------
    def record(self, decisions: Sequence[Decision], *, state: dict[str, Any] | None = None) -> tuple[int, int]:
        """Append the decisions not logged yet as one atomic batch.

        Parameters
        ----------
        decisions : sequence of Decision
            Replays and keys already logged (or repeated in ``decisions``) are skipped.
        state : dict, optional
            Router state to save with the batch (:attr:`state` after reading).

        Returns
        -------
        (written, skipped_duplicates) : tuple of int
        """
        with pause_gc():
            return self._record(decisions, state)

    def _record(self, decisions: Sequence[Decision], state: dict[str, Any] | None) -> tuple[int, int]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "ab") as f:
            if fcntl is not None:
                fcntl.flock(f.fileno(), fcntl.LOCK_EX)
            try:
                size = os.fstat(f.fileno()).st_size
                if size < self._size:  # replaced or cut by someone else: read it again
                    self._reset()
                if size > self._size:
                    with open(self.path, "rb") as r:
                        self._read_new(r, size)
                    if size > self._size:
                        f.truncate(self._size)
                fresh: list[Decision] = []
                index = self._index
                batch_keys: set[str] = set()
                for d in decisions:
                    key = d.idempotency_key
                    if d.replay or key in index or key in batch_keys:
                        continue
                    batch_keys.add(key)
                    fresh.append(d)
                skipped = len(decisions) - len(fresh)
                if not fresh:
                    return 0, skipped
                data = _encode(fresh, state)
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            finally:
                if fcntl is not None:
                    fcntl.flock(f.fileno(), fcntl.LOCK_UN)
        for pos, d in enumerate(fresh, self._n):
            index[d.idempotency_key] = pos
            self._recorded[pos] = d
        self._n += len(fresh)
        self._size += len(data)
        if state is not None:
            self.state = json.loads(json.dumps(state))
        return len(fresh), skipped


# -- encoding ---------------------------------------------------------------------------------------


def _committed_end(buf: bytes) -> int:
    """Bytes of ``buf`` up to and including its last complete commit line."""
    pos = len(buf)
    while True:
        pos = buf.rfind(_COMMIT, 0, pos)
        if pos < 0:
            return 0
        if pos == 0 or buf[pos - 1] == 0x0A:
            end = buf.find(b"\n", pos)
            if end >= 0:
                return end + 1


def _encode(decisions: Sequence[Decision], state: dict[str, Any] | None) -> bytes:
    es = encode_basestring
    text_cache: dict[str | None, str] = {None: "null"}
    last: list[Any] = [None, "null"]  # decided_at is one value per batch: format it once

    def cached(value: str | None) -> str:
        text = text_cache.get(value)
        if text is None:
            text = text_cache[value] = es(value)  # type: ignore[arg-type]
        return text

    def decided(value: datetime) -> str:
        if value is not last[0]:
            last[:] = [value, f'"{value.isoformat()}"']
        return last[1]

    lines = [
        f'{{"idempotency_key":"{key}","lead_id":{es(lead)},"rule":{cached(rule)},"why":{cached(why)},'
        f'"target_kind":{cached(kind)},"target":{cached(target)},'
        f'"sla_due":{_iso(due)},"decided_at":{decided(at)},'
        f'"fallback_used":{cached(fallback)}}}\n'
        for lead, rule, why, kind, target, due, at, key, fallback, _ in decisions
    ]
    commit = json.dumps({"_commit": len(decisions), "written_at": datetime.now(timezone.utc).isoformat(),
                         "state": state}, separators=(",", ":"), sort_keys=True, default=str)
    lines.append(commit + "\n")
    return "".join(lines).encode()


def _iso(value: datetime | None) -> str:
    return "null" if value is None else f'"{value.isoformat()}"'


def _decisions(table: pa.Table, replay: bool = False) -> list[Decision]:
    """Decisions from rows read back from the log (datetimes parsed once per distinct text)."""
    columns = {name: table.column(name).to_pylist() for name in FIELDS}
    parsed: dict[str | None, datetime | None] = {None: None}

    def when(texts: list[str | None]) -> list[datetime | None]:
        out = []
        for text in texts:
            value = parsed.get(text, parsed)
            if value is parsed:
                value = parsed[text] = datetime.fromisoformat(text)  # type: ignore[arg-type]
            out.append(value)
        return out

    n = table.num_rows
    return list(map(Decision._make, zip(
        columns["lead_id"], columns["rule"], columns["why"], columns["target_kind"], columns["target"],
        when(columns["sla_due"]), when(columns["decided_at"]), columns["idempotency_key"],
        columns["fallback_used"], repeat(replay, n), strict=True)))
