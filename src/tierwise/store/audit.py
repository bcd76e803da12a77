"""The routing audit log: an append-only JSON-lines file of routing decisions.

Each :meth:`AuditLog.record` call appends one *batch*: one JSON object per new
decision, then a commit line ``{"_commit": n, "written_at": ..., "state": ...}``
(``state`` is the router state after the batch, so cursors and counts are saved
together with the decisions they produced), appended (a big batch in pieces,
the commit line last) and then ``fsync``-ed. A batch without its commit line,
such as the tail a crash left behind, is ignored with a warning when the log
is read and cut off before the next batch is appended: a batch is in the log
entirely or not at all.

Big batches are encoded a column at a time (Arrow string kernels, each distinct
rule, reason and target escaped once) into exactly the bytes the line-by-line
encoder writes, and read back the same way; the key index is built only when a
lookup needs it.

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
import operator
import os
import queue
import threading
import warnings
from bisect import bisect_right
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timezone
from itertools import repeat
from json.encoder import encode_basestring
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pa_json

from tierwise.errors import DataError
from tierwise.models.routing import Decision, _make_decisions, pause_gc

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
        self._keys: dict[str, int] = {}  # key -> position (log order); see _index
        self._pending: list[tuple[Any, int]] = []  # (keys, first position) logged but not in _keys yet
        self._all_keys: pa.Array | None = None  # every logged key in log order, for big lookups; see _positions
        # the logged rows in log order, in parts: tables read from the file, lists of decisions recorded here
        self._parts: list[pa.Table | list[Decision]] = []
        self._starts: list[int] = []  # first position of each part
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
        if len(self._index) != self._n:  # a key logged twice (a log written by hand): its first decision only
            for key in list(self._index):
                yield self._get(self._index[key])
            return
        for part in [part[:] if isinstance(part, list) else part for part in self._parts]:
            if isinstance(part, list):
                yield from part
            else:
                for at in range(0, part.num_rows, _CHUNK):
                    yield from _decisions(part.slice(at, _CHUNK))

    def seen(self, idempotency_key: str) -> Decision | None:
        """The decision logged under a key, or ``None``."""
        pos = self._index.get(idempotency_key)
        return None if pos is None else self._get(pos)

    def seen_many(self, keys: Sequence[str], *, replay: bool = False) -> list[Decision | None]:
        """:meth:`seen` for many keys at once; ``replay=True`` marks the decisions found as replays."""
        n = len(keys)
        out: list[Decision | None] = [None] * n
        if not self._n or not n:
            return out
        if n < 16:  # a few keys (the API routes one lead at a time): one by one
            index = self._index
            for slot, key in enumerate(keys):
                pos = index.get(key)
                if pos is not None:
                    decision = self._get(pos)
                    out[slot] = decision._replace(replay=True) if replay and not decision.replay else decision
            return out
        with pause_gc():
            pos = self._positions(keys)
            slots = np.flatnonzero(pos >= 0)
            if not len(slots):
                return out
            pos = pos[slots]
            starts = np.asarray(self._starts, dtype=np.int64)
            numbers = np.searchsorted(starts, pos, side="right") - 1
            parts = [int(numbers[0])] if numbers[0] == numbers[-1] and (numbers == numbers[0]).all() else \
                np.unique(numbers).tolist()
            plain: bool | None = None  # every key asked for is a str
            for number in parts:
                if len(parts) == 1:
                    at, rows = slots, pos - starts[number]
                else:
                    mine = numbers == number
                    at, rows = slots[mine], pos[mine] - starts[number]
                part = self._parts[number]
                if isinstance(part, list):
                    found = list(map(part.__getitem__, rows.tolist()))
                    if replay:
                        found = _replays(found)
                else:  # the keys asked for (plain text) are the keys logged: no need to read them back
                    if plain is None:
                        plain = set(map(type, keys)) == {str}
                    found = _decisions(_rows(part, rows), replay,
                                       keys=list(map(keys.__getitem__, at.tolist())) if plain else None)
                if len(at) == n:  # every key found, in order
                    return found  # type: ignore[return-value]
                for slot, decision in zip(at.tolist(), found, strict=True):
                    out[slot] = decision
        return out

    def _get(self, pos: int) -> Decision:
        number = bisect_right(self._starts, pos) - 1
        part, row = self._parts[number], pos - self._starts[number]
        if isinstance(part, list):
            return part[row]
        return _decisions(part.slice(row, 1))[0]

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
            self._load(buf, end)
        self._size += end

    def _load(self, buf: bytes, end: int) -> None:
        """Index the decisions of ``buf[:end]`` (complete batches) and take the state of its last commit."""
        try:
            table = pa_json.read_json(pa.BufferReader(memoryview(buf)[:end]), parse_options=pa_json.ParseOptions(
                explicit_schema=_SCHEMA, unexpected_field_behavior="ignore"))
            if table.column("idempotency_key").null_count:  # commit lines
                table = table.filter(table.column("idempotency_key").is_valid())
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            table = self._load_lines(buf[:end])
        start = self._n
        self._parts.append(table)
        self._starts.append(start)
        self._add_keys(table.column("idempotency_key"), start)
        self._n += table.num_rows
        last = buf.rfind(b"\n" + _COMMIT, 0, end) + 1
        try:
            self.state = json.loads(buf[last:end]).get("state")
        except ValueError:  # pragma: no cover - committed region ends with a commit line
            pass

    def _positions(self, keys: Sequence[str]) -> np.ndarray:
        """Log position of the decision for each key, -1 for keys not logged.

        Many keys against a log whose key index is not built yet are looked up
        with one Arrow hash join instead of building the index first.
        """
        n = len(keys)
        if not n or not self._n:
            return np.full(n, -1, dtype=np.int64)
        if n < 16:
            index = self._index
            return np.array([index.get(key, -1) for key in keys], dtype=np.int64)
        if self._pending and n >= _BIG and self._n >= _BIG:
            logged = self._logged_keys()
            if logged is not None:
                try:
                    wanted = pa.array(keys, type=pa.string())
                except (pa.ArrowException, TypeError, ValueError, UnicodeError):
                    pass
                else:
                    return pc.index_in(wanted, value_set=logged).fill_null(-1).to_numpy().astype(np.int64)
        index = self._index
        return np.fromiter(map(index.get, keys, repeat(-1)), dtype=np.int64, count=n)

    def _any_logged(self, keys: Sequence[str]) -> bool:
        """Whether some of the keys is logged already."""
        if not len(keys) or not self._n:
            return False
        if len(keys) < 16:
            index = self._index
            return any(key in index for key in keys)
        return bool((self._positions(keys) >= 0).any())

    def _logged_keys(self) -> pa.Array | None:
        """Every logged key in log order (``None`` if some recorded key is not text)."""
        if self._all_keys is None or len(self._all_keys) != self._n:
            arrays = []
            for part in self._parts:
                if isinstance(part, list):
                    try:
                        keys = pa.array(list(map(_KEY, part)), type=pa.string())
                    except (pa.ArrowException, TypeError, ValueError, UnicodeError):
                        return None
                    if keys.null_count:
                        return None
                    arrays.append(keys)
                else:
                    arrays.extend(part.column("idempotency_key").chunks)
            self._all_keys = pa.concat_arrays(arrays) if arrays else pa.array([], type=pa.string())
        return self._all_keys

    @property
    def _index(self) -> dict[str, int]:
        """Position of the decision logged under each key (in log order).

        Built when first needed: a process that only appends a big batch never
        pays for indexing its keys.
        """
        while self._pending:
            keys, start = self._pending.pop(0)
            self._index_keys(keys if isinstance(keys, list) else keys.to_pylist(), start)
        return self._keys

    def _add_keys(self, keys: Any, start: int) -> None:
        """Note keys logged from position ``start`` on (indexed when :attr:`_index` is next read)."""
        if self._pending or len(keys) >= 16:
            self._pending.append((keys, start))
            return
        index = self._keys  # a few keys (the API logs one lead at a time): index them now
        for pos, key in enumerate(keys if isinstance(keys, list) else keys.to_pylist(), start):
            if key not in index:
                index[key] = pos

    def _index_keys(self, keys: list[str], start: int) -> None:
        """Index keys logged from position ``start`` on; the first decision for a key stands."""
        index = self._keys
        before = len(index)
        if not before or index.keys().isdisjoint(keys):
            index.update(zip(keys, range(start, start + len(keys)), strict=True))
            if len(index) != before + len(keys):  # a key repeated among these: point it at its first position
                for pos, key in zip(range(start + len(keys) - 1, start - 1, -1), reversed(keys), strict=True):
                    index[key] = pos
            return
        for pos, key in enumerate(keys, start):
            if key not in index:
                index[key] = pos

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
    def record(self, decisions: Sequence[Decision], *, state: dict[str, Any] | None = None,
               _columns: Mapping[str, Any] | None = None) -> tuple[int, int]:
        """Append the decisions not logged yet as one atomic batch.

        Parameters
        ----------
        decisions : sequence of Decision
            Replays and keys already logged (or repeated in ``decisions``) are skipped.
        state : dict, optional
            Router state to save with the batch (:attr:`state` after reading).
        _columns : mapping, optional
            Internal (used by :meth:`Router.route <tierwise.models.routing.Router.route>`):
            the same decisions as columns, ``field -> list`` in decision order,
            ``decided_at`` as one value when it is the same for all, optionally
            ``sla_due_text`` as ``(wall clock microseconds since 1970, has a due
            time, UTC offset text)`` and ``distinct_keys=True`` when no key
            repeats; saves reading every field back out of the decisions when
            writing a big batch.

        Returns
        -------
        (written, skipped_duplicates) : tuple of int
        """
        with pause_gc():
            return self._record(decisions, state, _columns)

    def _record(self, decisions: Sequence[Decision], state: dict[str, Any] | None,
                columns: Mapping[str, Any] | None) -> tuple[int, int]:
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
                keys = columns["idempotency_key"] if columns is not None else list(map(_KEY, decisions))
                if len(keys) != len(decisions):
                    raise ValueError(f"got {len(keys)} keys in the columns for {len(decisions)} decisions")
                fresh: Sequence[Decision] = decisions
                distinct = columns is not None and columns.get("distinct_keys") is True
                if any(map(_REPLAY, decisions)) or self._any_logged(keys) \
                        or (not distinct and len(set(keys)) != len(keys)):
                    index = self._index
                    fresh, keep, batch_keys = [], [], set()
                    for i, (d, key) in enumerate(zip(decisions, keys, strict=True)):
                        if d.replay or key in index or key in batch_keys:
                            continue
                        batch_keys.add(key)
                        fresh.append(d)
                        keep.append(i)
                    if columns is not None:
                        columns = _pick(columns, keep)
                    keys = [keys[i] for i in keep]
                skipped = len(decisions) - len(fresh)
                if not fresh:
                    return 0, skipped
                written = _write(f, _encode(fresh, state, columns))
                f.flush()
                os.fsync(f.fileno())
            finally:
                if fcntl is not None:
                    fcntl.flock(f.fileno(), fcntl.LOCK_UN)
        start = self._n
        if self._parts and isinstance(self._parts[-1], list):
            self._parts[-1].extend(fresh)
        else:
            self._parts.append(list(fresh))
            self._starts.append(start)
        self._add_keys(keys, start)
        self._n += len(fresh)
        self._size += written
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


#: Decisions per piece when a batch is encoded (or the log read back) a column at a time; keeps every piece
#: far below Arrow's 2 GB limit for one string array.
_CHUNK = 1 << 14
#: Batches smaller than this are encoded line by line: same bytes, no per-column set-up cost.
_SMALL = 256
_KEY = operator.itemgetter(7)
#: Lookups of at least this many keys against a log at least this long may use an Arrow hash join.
_BIG = 4096
_REPLAY = operator.itemgetter(9)
_FIRST_NINE = operator.itemgetter(slice(0, 9))
#: Characters ``json.encoder.encode_basestring`` escapes: quote, backslash and control characters.
_NEEDS_ESCAPE = r'[\x00-\x1f"\\]'
#: ``datetime.isoformat`` of a time without a zone (microseconds only when not zero).
_ISO_NAIVE = r"^\d{4}-\d\d-\d\dT([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d{6})?$"
_MIN_TIME, _MAX_TIME = np.datetime64(datetime.min, "us"), np.datetime64(datetime.max, "us")


class _Unusual(Exception):
    """A value the column encoder does not take (not text, not a datetime, ...): encode line by line instead."""


def _write(f: Any, pieces: Iterator[Any]) -> int:
    """Write the pieces in order; a second thread writes while the next piece is being encoded."""
    first = next(pieces)
    second = next(pieces, None)
    if second is None:
        f.write(first)
        return len(first)
    ready: queue.Queue[Any] = queue.Queue(maxsize=4)
    failed: list[BaseException] = []
    written = [0]

    def writer() -> None:
        while (piece := ready.get()) is not None:
            if not failed:
                try:
                    f.write(piece)
                    written[0] += len(piece)
                except BaseException as exc:  # noqa: BLE001 - raised again by the encoding thread
                    failed.append(exc)

    thread = threading.Thread(target=writer, name="audit-log-writer", daemon=True)
    thread.start()
    try:
        ready.put(first)
        ready.put(second)
        for piece in pieces:
            if failed:
                break
            ready.put(piece)
    finally:
        ready.put(None)
        thread.join()
    if failed:
        raise failed[0]
    return written[0]


def _encode(decisions: Sequence[Decision], state: dict[str, Any] | None,
            columns: Mapping[str, Any] | None = None) -> Iterator[Any]:
    """One batch as pieces of bytes to write in order: the decision lines, then the commit line.

    Big batches are encoded a column at a time with Arrow, piece by piece (the
    same bytes as :func:`_encode_lines`).
    """
    pieces: Iterator[Any] | None = None
    if len(decisions) >= _SMALL:
        try:
            pieces = _encode_columns(decisions, columns)
        except (_Unusual, pa.ArrowException, TypeError, ValueError, UnicodeError, AttributeError, OverflowError):
            pieces = None  # the line encoder writes them, or raises what it always raised
    lines = _encode_lines(decisions) if pieces is None else b""
    commit = json.dumps({"_commit": len(decisions), "written_at": datetime.now(timezone.utc).isoformat(),
                         "state": state}, separators=(",", ":"), sort_keys=True, default=str)
    if pieces is None:
        yield lines + (commit + "\n").encode()  # one write, as small batches always were
        return
    yield from pieces
    yield (commit + "\n").encode()


def _encode_lines(decisions: Sequence[Decision]) -> bytes:
    """The decision lines, one decision at a time."""
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
    return "".join(lines).encode()


def _iso(value: datetime | None) -> str:
    return "null" if value is None else f'"{value.isoformat()}"'


def _encode_columns(decisions: Sequence[Decision], columns: Mapping[str, Any] | None) -> Iterator[memoryview]:
    """The decision lines, built a column at a time: each distinct name, reason or target becomes JSON
    text once (adjacent ones as one text), keys, lead ids and due times go through Arrow string kernels."""
    n = len(decisions)

    def column(name: str) -> Any:
        if columns is not None and name in columns:
            values = columns[name]
        else:
            values = list(map(operator.itemgetter(_POSITION[name]), decisions))
        size = len(values[0]) if isinstance(values, tuple) else len(values) if isinstance(values, list) else n
        if size != n:
            raise ValueError(f"column {name} has {size} values for {n} decisions")
        return values

    due_text = columns.get("sla_due_text") if columns is not None else None
    decided = column("decided_at")
    if isinstance(decided, list):
        first = decided[0]
        decided = first if all(map(operator.is_, decided, repeat(first))) else decided
    template = [
        '{"idempotency_key":"', *_plain(column("idempotency_key")), '","lead_id":', *_quoted(column("lead_id")),
        ',"rule":', _few(column("rule")), ',"why":', _few(column("why")),
        ',"target_kind":', _few(column("target_kind")), ',"target":', _few(column("target")),
        ',"sla_due":', _times(column("sla_due"), due_text, n),
        ',"decided_at":', _times(decided, None, n) if isinstance(decided, list) else f'"{decided.isoformat()}"',
        ',"fallback_used":', _few(column("fallback_used")), "}\n",
    ]
    return _join_lines(_merge(template), n)


class _Texts:
    """A column of JSON texts as codes into a short list of distinct texts."""

    __slots__ = ("codes", "texts", "_array")

    def __init__(self, codes: np.ndarray, texts: list[str]):
        self.codes = codes
        self.texts = texts
        self._array: pa.Array | None = None

    def around(self, before: str, after: str) -> _Texts:
        return _Texts(self.codes, [before + t + after for t in self.texts])

    def then(self, other: _Texts) -> _Texts:
        """Each text of this column followed by the other column's text on the same line."""
        width = len(other.texts)
        codes, pairs = pd.factorize(self.codes.astype(np.int64) * width + other.codes)
        return _Texts(codes, [self.texts[p // width] + other.texts[p % width] for p in pairs.tolist()])

    def __call__(self, a: int, b: int) -> pa.Array:
        if self._array is None:
            self._array = pa.array(self.texts, type=pa.string())
        return self._array.take(self.codes[a:b])


def _merge(template: list[Any]) -> list[Any]:
    """Literal text and columns of a line, with literals and few-valued columns next to each other made one."""
    out: list[Any] = []
    texts: _Texts | None = None
    literal = ""
    for item in template:
        if isinstance(item, str):
            literal += item
        elif isinstance(item, _Texts):
            if texts is not None and len(texts.texts) * len(item.texts) < 1 << 40:
                texts = texts.then(item.around(literal, ""))
            else:
                if texts is not None:
                    out.append(texts)
                    texts, literal = item.around(literal, ""), ""
                else:
                    texts = item.around(literal, "")
            literal = ""
        else:
            if texts is not None:
                out.append(texts.around("", literal))
                texts = None
            elif literal:
                out.append(literal)
            literal = ""
            out.append(item)
    if texts is not None:
        out.append(texts.around("", literal))
    elif literal:
        out.append(literal)
    return out


def _join_lines(parts: list[Any], n: int) -> Iterator[memoryview]:
    """The lines, ``_CHUNK`` at a time, each piece the data of one Arrow string array."""
    for a in range(0, n, _CHUNK):
        b = min(a + _CHUNK, n)
        lines = pc.binary_join_element_wise(*[item if isinstance(item, str) else item(a, b) for item in parts], "")
        if lines.null_count:  # pragma: no cover - every column maker fills its nulls
            raise ValueError("audit log: a decision line came out empty")
        _, offsets, data = lines.buffers()
        offsets = np.frombuffer(offsets, dtype=np.int32)[lines.offset:lines.offset + len(lines) + 1]
        yield memoryview(data)[int(offsets[0]):int(offsets[-1])]


_POSITION = {name: k for k, name in enumerate(Decision._fields)}


def _strings(values: list[Any]) -> pa.Array:
    """Text values as an Arrow array; anything but ``str`` (and ``None``) is unusual."""
    try:
        return pa.array(values, type=pa.string())
    except (pa.ArrowException, TypeError, ValueError, UnicodeError) as exc:
        raise _Unusual(str(exc)) from exc


def _plain(values: list[Any]) -> list[Any]:
    """Text written as is (the idempotency key: hex digits)."""
    array = _strings(values)
    if array.null_count:
        raise _Unusual("missing key")
    return [lambda a, b: array.slice(a, b - a)]


def _quoted(values: list[Any]) -> list[Any]:
    """Text written as a JSON string, for columns with a different value on each line (lead ids)."""
    array = _strings(values)
    if array.null_count:
        raise _Unusual("missing text")
    if pc.any(pc.match_substring_regex(array, _NEEDS_ESCAPE)).as_py():
        escaped = _strings(list(map(encode_basestring, values)))
        return [lambda a, b: escaped.slice(a, b - a)]
    return ['"', lambda a, b: array.slice(a, b - a), '"']


def _few(values: list[Any] | tuple[np.ndarray, list[Any]]) -> _Texts | str:
    """Text or ``None`` written as JSON, for columns with few distinct values: each one escaped once.

    ``values`` is the column, or ``(codes, distinct values)`` with the column ``distinct[codes]``.
    """
    if isinstance(values, tuple):
        codes, names = values
        texts = ["null" if v is None else encode_basestring(v) if isinstance(v, str) else _unusual(v) for v in names]
        codes = np.asarray(codes, dtype=np.int64)
        if not len(codes) or codes.min() == codes.max():
            return texts[int(codes[0])] if len(codes) else "null"
        return _Texts(codes, texts)
    distinct: dict[Any, Any] = dict.fromkeys(values)
    texts = []
    for number, value in enumerate(distinct):
        if value is None:
            texts.append("null")
        elif isinstance(value, str):
            texts.append(encode_basestring(value))
        else:
            raise _Unusual(f"{type(value).__name__} value")
        distinct[value] = number
    if len(texts) == 1:
        return texts[0]
    return _Texts(np.fromiter(map(distinct.__getitem__, values), dtype=np.int64, count=len(values)), texts)


def _unusual(value: Any) -> str:
    raise _Unusual(f"{type(value).__name__} value")


def _times(values: list[Any], due_text: tuple[np.ndarray, np.ndarray, str] | None, n: int) -> Any:
    """Datetimes (or ``None``) written as ``"isoformat"`` (or ``null``)."""
    if due_text is not None:
        micros, has, suffix = due_text
        if len(micros) != n or len(has) != n:
            raise ValueError(f"sla_due_text has {len(micros)} values for {n} decisions")
        if not has.any():
            return "null"
        return lambda a, b: _iso_texts(micros[a:b], has[a:b], suffix)
    texts = _strings(list(map(_iso, values)))
    return lambda a, b: texts.slice(a, b - a)


def _iso_texts(micros: np.ndarray, has: np.ndarray, suffix: str) -> pa.Array:
    """``"isoformat"`` of wall-clock microseconds since 1970 (years 1-9999) followed by the UTC offset text,
    or ``null`` where ``has`` is false, by whole columns."""
    n = len(micros)
    micros = micros.astype(np.int64, copy=False)
    secs = micros // 1_000_000
    frac = micros - secs * 1_000_000
    days = secs // 86400
    first, last = int(days.min()), int(days.max())
    if last - first < 1 << 16:  # due dates span a few days: format each day once
        dates = _date_texts(np.arange(first, last + 1, dtype=np.int64))[days - first]
    else:
        dates = _date_texts(days)
    clock = _clock_texts()[secs - days * 86400]
    fraction = frac != 0
    some_fraction = bool(fraction.any())
    tail = np.frombuffer((suffix + '"').encode("ascii"), dtype=np.uint8)
    at = 27 if some_fraction else 20  # where the tail starts
    width = at + len(tail)
    lines = np.empty((n, width), dtype=np.uint8)
    lines[:, 0] = ord('"')
    lines[:, 1:11] = dates
    lines[:, 11] = ord("T")
    lines[:, 12:20] = clock
    if some_fraction:
        lines[:, 20] = ord(".")
        for k in range(26, 20, -1):
            lines[:, k] = 48 + frac % 10
            frac = frac // 10
    lines[:, at:] = tail
    missing = ~has
    if not some_fraction and not missing.any():
        offsets = np.arange(0, width * (n + 1), width, dtype=np.int32)
        data = lines.reshape(-1)
    else:
        keep = np.ones((n, width), dtype=bool)
        lengths = np.full(n, width, dtype=np.int32)
        if some_fraction:  # microseconds only where not zero
            keep[~fraction, 20:27] = False
            lengths[~fraction] -= 7
        if missing.any():
            lines[missing, :4] = np.frombuffer(b"null", dtype=np.uint8)
            keep[missing, 4:] = False
            lengths[missing] = 4
        data = lines[keep]
        offsets = np.zeros(n + 1, dtype=np.int32)
        np.cumsum(lengths, out=offsets[1:])
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data))


def _date_texts(days: np.ndarray) -> np.ndarray:
    """``YYYY-MM-DD`` of days since 1970 (years 1-9999), one row of 10 bytes per day."""
    # civil date from days (H. Hinnant, "chrono-Compatible Low-Level Date Algorithms")
    z = days + 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = np.where(mp < 10, mp + 3, mp - 9)
    year = yoe + era * 400 + (month <= 2)
    out = np.empty((len(days), 10), dtype=np.uint8)
    out[:, 4] = out[:, 7] = ord("-")
    for col, value, digits in ((0, year, 4), (5, month, 2), (8, day, 2)):
        for k in range(col + digits - 1, col - 1, -1):
            out[:, k] = 48 + value % 10
            value = value // 10
    return out


_CLOCK: list[np.ndarray] = []


def _clock_texts() -> np.ndarray:
    """``HH:MM:SS`` of every second of a day, one row of 8 bytes per second."""
    if not _CLOCK:
        second = np.arange(86400)
        out = np.empty((86400, 8), dtype=np.uint8)
        out[:, 2] = out[:, 5] = ord(":")
        for col, value in ((0, second // 3600), (3, second // 60 % 60), (6, second % 60)):
            out[:, col] = 48 + value // 10
            out[:, col + 1] = 48 + value % 10
        _CLOCK.append(out)
    return _CLOCK[0]


def _pick(columns: Mapping[str, Any], keep: list[int]) -> dict[str, Any]:
    """The columns of the decisions at positions ``keep``."""
    at = np.asarray(keep, dtype=np.intp)
    out: dict[str, Any] = {}
    for name, values in columns.items():
        if isinstance(values, list):
            out[name] = [values[i] for i in keep]
        elif isinstance(values, tuple):
            out[name] = tuple(v[at] if isinstance(v, np.ndarray) else v for v in values)
        else:
            out[name] = values
    return out


# -- decoding ---------------------------------------------------------------------------------------


def _rows(table: pa.Table, rows: np.ndarray) -> pa.Table:
    """``table.take(rows)``, as a zero-copy slice when the rows follow each other."""
    if len(rows) and rows[-1] - rows[0] == len(rows) - 1 and (len(rows) == 1 or (np.diff(rows) == 1).all()):
        return table.slice(int(rows[0]), len(rows))
    return table.take(rows)


def _replays(decisions: list[Decision]) -> list[Decision]:
    """The decisions with ``replay=True`` (logged decisions are never replays)."""
    return list(map(tuple.__new__, repeat(Decision), map(operator.add, map(_FIRST_NINE, decisions), repeat((True,)))))


def _decisions(table: pa.Table, replay: bool = False, keys: list[str] | None = None) -> list[Decision]:
    """Decisions from rows read back from the log (each distinct text and time made once per piece);
    ``keys``: the rows' idempotency keys when known."""
    n = table.num_rows
    if n < _SMALL:
        columns = {name: table.column(name).to_pylist() for name in FIELDS}
        for name in ("sla_due", "decided_at"):
            columns[name] = _parse_times(columns[name])
    else:
        columns = {"lead_id": table.column("lead_id").to_pylist(),
                   "idempotency_key": keys if keys is not None else table.column("idempotency_key").to_pylist()}
        for name in ("rule", "why", "target_kind", "target", "fallback_used"):
            columns[name] = _repeated(table.column(name))
        for name in ("sla_due", "decided_at"):
            columns[name] = _read_times(table.column(name))
    return _make_decisions(
        columns["lead_id"], columns["rule"], columns["why"], columns["target_kind"], columns["target"],
        columns["sla_due"], columns["decided_at"], columns["idempotency_key"], columns["fallback_used"],
        repeat(replay, n))


def _repeated(column: pa.ChunkedArray) -> list[str | None]:
    """A text column as Python values, one object per distinct value in each piece."""
    out: list[str | None] = []
    for chunk in column.chunks:
        if len(chunk):
            encoded = chunk.dictionary_encode(null_encoding="encode")
            values = np.empty(len(encoded.dictionary), dtype=object)
            values[:] = encoded.dictionary.to_pylist()
            out += values[encoded.indices.to_numpy()].tolist()
    return out


def _read_times(column: pa.ChunkedArray) -> list[datetime | None]:
    """An ISO text column as datetimes: each distinct text parsed once when few (decision times), by whole
    columns when times without a zone are mostly distinct (due times), else text by text."""
    out: list[datetime | None] = []
    parsed: dict[str | None, datetime | None] = {None: None}
    for chunk in column.chunks:
        if not len(chunk):
            continue
        if pc.count_distinct(chunk.slice(0, 64), mode="all").as_py() <= 4:
            encoded = chunk.dictionary_encode(null_encoding="encode")
            values = np.empty(len(encoded.dictionary), dtype=object)
            values[:] = _parse_times(encoded.dictionary.to_pylist(), parsed)
            out += values[encoded.indices.to_numpy()].tolist()
            continue
        if chunk.null_count < len(chunk) and pc.all(pc.match_substring_regex(chunk, _ISO_NAIVE)).as_py():
            try:
                micros = chunk.cast(pa.timestamp("us")).to_numpy(zero_copy_only=False)
            except pa.ArrowInvalid:  # not a calendar date: fromisoformat says which
                pass
            else:
                known = micros[~np.isnat(micros)]
                if not len(known) or (known.min() >= _MIN_TIME and known.max() <= _MAX_TIME):
                    out += micros.tolist()
                    continue
        out += _parse_times(chunk.to_pylist(), parsed)
    return out


def _parse_times(texts: list[str | None], parsed: dict[str | None, datetime | None] | None = None
                 ) -> list[datetime | None]:
    """``datetime.fromisoformat`` of each text (``None`` stays), each distinct text parsed once."""
    if parsed is None:
        parsed = {None: None}
    out = []
    for text in texts:
        value = parsed.get(text, parsed)
        if value is parsed:
            value = parsed[text] = datetime.fromisoformat(text)  # type: ignore[arg-type]
        out.append(value)
    return out
