"""The routing audit log: an append-only JSON-lines file of routing decisions.

Each :meth:`AuditLog.record` call appends one *batch*: one JSON object per new
decision, then a commit line holding the router state after the batch (so
cursors and counts are saved together with the decisions they produced),
appended (a big batch in pieces, the commit line last) and then ``fsync``-ed.
A batch without its commit line, such as the tail a crash left behind, is
ignored with a warning when the log is read and cut off before the next batch
is appended: a batch is in the log entirely or not at all.

Commit lines come in two versions. Version 1, ``{"_commit": n, "state": {...},
"written_at": ...}``, carries the full state; version 2, ``{"_commit": n,
"state_patch": {...}, "v": 2, "written_at": ...}``, only what changed (a JSON
merge patch, RFC 7386, on the state before it: a routed lead moves one count
and one cursor, not the 2 KB of a 200-rep state). A writer saves the full
state on its first commit and every ``_FULL_EVERY`` commits, so a reader takes
the last full state and applies the few patches after it. Logs of version 1
read as before; a version-2 log needs this version of tierwise to read its
state.

:class:`GroupCommit` lets a server on an asyncio loop stage the decisions of
concurrent requests and write them as one batch with one ``fsync`` (group
commit), answering each request only once its decision is on disk.

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

import asyncio
import json
import logging
import operator
import os
import queue
import threading
import warnings
from bisect import bisect_right
from collections.abc import Awaitable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
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
from tierwise.models.routing import Decision, _as_replay, _make_decisions, pause_gc

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
        self._chain = 0  # commits with a state patch since the last one with the full state
        self._wrote_full = False  # this reader has written a full state (its first commit does)
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
        self._fold_state(buf, end)

    def _fold_state(self, buf: bytes, end: int) -> None:
        """Take the router state of the commit lines of ``buf[:end]``: the last full state (or the one known
        already), then the state patches written after it, in order."""
        patches: list[dict[str, Any]] = []
        stop = end
        while stop > 0:
            start = buf.rfind(b"\n" + _COMMIT, 0, stop - 1) + 1
            if start == 0 and not buf.startswith(_COMMIT):
                break
            try:
                commit = json.loads(buf[start:buf.index(b"\n", start)])
            except ValueError:  # pragma: no cover - a commit line is written whole or not at all
                commit = {}
            version = commit.get("v", 1)
            if version not in (1, 2):
                raise DataError(f"audit log {self.path}: a commit line has format version {version!r}; this "
                                f"version of tierwise reads versions 1 and 2: upgrade tierwise to read this log")
            if "state" in commit:
                self.state, self._chain = commit["state"], 0
                break
            if "state_patch" in commit:
                patches.append(commit["state_patch"])
            stop = start
        for patch in reversed(patches):
            self.state = _apply_patch(self.state, patch)
        self._chain += len(patches)

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
                commit = self._commit_line(len(fresh), state)
                written = _write(f, _encode(fresh, commit[0], columns))
                f.flush()
                os.fsync(f.fileno())
            finally:
                if fcntl is not None:
                    fcntl.flock(f.fileno(), fcntl.LOCK_UN)
        self._appended(fresh, keys, written, commit)
        return len(fresh), skipped

    def _commit_line(self, n: int, state: Any) -> tuple[bytes, Any, bool]:
        """The commit line of a batch of ``n`` decisions with the router state after it; the state the log then
        holds (as read back from JSON); whether the line carries the full state.

        The line carries a *patch* (``"v": 2``, ``"state_patch"``: an RFC 7386 merge patch from the log's
        state to ``state``) when it can, and the full state (``"state"``, as version 1 wrote every commit)
        on this writer's first commit, every ``_FULL_EVERY`` commits, and for states a patch cannot express.
        """
        written_at = datetime.now(timezone.utc).isoformat()
        patch = None
        if self._wrote_full and self._chain < _FULL_EVERY and isinstance(state, dict) and isinstance(self.state, dict):
            patch = _merge_patch(self.state, state)
        if patch is None:
            line = json.dumps({"_commit": n, "written_at": written_at, "state": state}, separators=(",", ":"),
                              sort_keys=True, default=str)
            return (line + "\n").encode(), json.loads(line)["state"], True
        text = json.dumps(patch, separators=(",", ":"), sort_keys=True, default=str)
        line = f'{{"_commit":{n},"state_patch":{text},"v":2,"written_at":"{written_at}"}}\n'
        return line.encode(), _apply_patch(self.state, json.loads(text)), False

    def _appended(self, fresh: Sequence[Decision], keys: list[str], written: int, commit: tuple[bytes, Any, bool]
                  ) -> None:
        """Note a batch written and synced: its decisions, its bytes and the state of its commit line."""
        start = self._n
        if self._parts and isinstance(self._parts[-1], list):
            self._parts[-1].extend(fresh)
        else:
            self._parts.append(list(fresh))
            self._starts.append(start)
        self._add_keys(keys, start)
        self._n += len(fresh)
        self._size += written
        _, self.state, full = commit
        self._chain = 0 if full else self._chain + 1
        self._wrote_full |= full

    def _begin_append(self, data: bytes) -> int | None:
        """Append one encoded batch, not synced yet, if the file is as this log knows it (nobody else wrote,
        no unfinished tail) and no other writer holds its lock: the open descriptor, still locked, for
        :func:`os.fsync` and then :func:`_end_append`. ``None``, with nothing written or held, otherwise.

        Writing is quick (the page cache); only the sync waits for the disk, which is what
        :class:`GroupCommit` leaves to its worker thread. The lock is held until the batch is synced, as
        :meth:`record` holds it, so another writer never reads a batch that is not on disk yet.
        """
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)
        try:
            fd = os.open(self.path, flags, 0o666)
        except FileNotFoundError:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, flags, 0o666)
        try:
            if fcntl is not None:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:  # another process is writing: record() waits for it
                    os.close(fd)
                    return None
            if os.fstat(fd).st_size != self._size:
                _end_append(fd)
                return None
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
        except BaseException:
            _end_append(fd)
            raise
        return fd



def _end_append(fd: int) -> None:
    """Release and close a descriptor :meth:`AuditLog._begin_append` gave."""
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


class GroupCommit:
    """Decisions made one request at a time, written to an :class:`AuditLog` in groups: one write and one
    ``fsync`` for every decision staged while the previous group was being written.

    For a server on an asyncio loop. Pass it as the ``audit`` of :meth:`Router.route
    <tierwise.models.routing.Router.route>` (on the loop): the new decisions are *staged* — :meth:`seen_many`
    finds them at once, so a lead sent again before they are on disk is a replay — and the first idle moment
    of the loop appends them, with the router state after them, as one batch (the same batches and commit
    lines :meth:`AuditLog.record` writes) and leaves the ``fsync`` to a worker thread, while the loop
    serves the next requests. Await :meth:`durable` before answering: a decision is only ever told once it
    is on disk.

    When the file changed behind the log's back (another process appended, a crash left a tail), the group
    goes through :meth:`AuditLog.record` instead, which reads the other batches first; a lead another process
    logged first then resolves to that decision (see :meth:`durable`). A failed write fails the waiters of
    its group (nothing was answered from it) and the next group is tried afresh.

    Parameters
    ----------
    log : AuditLog
        The log; while the group commit runs, write to it only through the group commit.

    Examples
    --------
    >>> import asyncio, tempfile
    >>> from datetime import datetime
    >>> d = Decision("L1", "default", "...", "queue", "nurture", None, datetime(2026, 3, 2, 9), "k1")
    >>> async def main(path):
    ...     commit = GroupCommit(AuditLog(path))
    ...     commit.record([d], state={"cursor": {}, "assigned": {}})
    ...     staged = commit.seen_many(["k1"]) == [d]       # found before it is on disk
    ...     await commit.durable(["k1"])                   # answer the request now
    ...     await commit.aclose()
    ...     return staged
    >>> path = Path(tempfile.mkdtemp()) / "audit.jsonl"
    >>> asyncio.run(main(path)), AuditLog(path).seen("k1") == d
    (True, True)
    """

    def __init__(self, log: AuditLog):
        self.log = log
        self._staged: dict[str, tuple[Decision, asyncio.Future]] = {}  # key -> decision, its group's future
        self._open: list[Decision] = []  # staged, not written yet
        self._open_future: asyncio.Future | None = None
        self._state: Any = None  # the router state after the last staged decision (the router's own dict)
        self._writing: asyncio.Future | None = None  # the sync of the group written last
        self._kicked = False
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="audit-log-commit")

    def __len__(self) -> int:
        return len(self.log) + len(self._staged)

    def seen(self, idempotency_key: str) -> Decision | None:
        """The decision logged or staged under a key, or ``None``."""
        staged = self._staged.get(idempotency_key)
        return staged[0] if staged is not None else self.log.seen(idempotency_key)

    def seen_many(self, keys: Sequence[str], *, replay: bool = False) -> list[Decision | None]:
        """:meth:`AuditLog.seen_many`, staged decisions included."""
        out = self.log.seen_many(keys, replay=replay)
        if self._staged:
            staged = self._staged
            for slot, key in enumerate(keys):
                if out[slot] is None and key in staged:
                    out[slot] = _as_replay(staged[key][0]) if replay else staged[key][0]
        return out

    def record(self, decisions: Sequence[Decision], *, state: dict[str, Any] | None = None,
               _columns: Mapping[str, Any] | None = None) -> tuple[int, int]:
        """Stage the decisions not logged or staged yet (as :meth:`AuditLog.record` skips them); ``state`` is
        saved with the group that writes them. Returns (staged, skipped_duplicates)."""
        index, staged = self.log._index, self._staged
        future = self._open_future
        fresh = 0
        for d in decisions:
            key = d.idempotency_key
            if d.replay or key in index or key in staged:
                continue
            if future is None:
                future = self._open_future = asyncio.get_running_loop().create_future()
                future.add_done_callback(_retrieve)
            staged[key] = (d, future)
            self._open.append(d)
            fresh += 1
        if fresh:
            self._state = state
            if self._writing is None and not self._kicked:  # the loop's next turn seals the group
                self._kicked = True
                asyncio.get_running_loop().call_soon(self._kick)
        return fresh, len(decisions) - fresh

    def durable(self, keys: Sequence[str]) -> Awaitable[dict[str, Decision]]:
        """Wait until the staged decisions among ``keys`` are on disk.

        The result names the keys another process logged first, with its decision (which stands: answer it
        as a replay); usually it is empty. Raises what writing the group raised. Cancelling the wait does
        not cancel the write.
        """
        futures = {id(f): f for f in (self._staged[k][1] for k in keys if k in self._staged)}
        if not futures:
            return _nothing()
        if len(futures) == 1:
            return asyncio.shield(next(iter(futures.values())))
        return _merged(list(futures.values()))

    async def flush(self) -> None:
        """Wait until every decision staged so far is on disk (errors are the waiters' to see)."""
        while self._writing is not None or self._open:
            if self._writing is None:
                self._kick()
            if self._writing is not None:
                await asyncio.wait([self._writing])
                await asyncio.sleep(0)  # let the write's callback run

    async def aclose(self) -> None:
        """Write what is staged, then stop the writer thread."""
        await self.flush()
        self._pool.shutdown(wait=True)

    # -- the writer ---------------------------------------------------------------------------
    def _kick(self) -> None:
        """Seal the open group, append it and leave its ``fsync`` to the worker thread (unless one is under way)."""
        self._kicked = False
        if self._writing is not None or not self._open:
            return
        group, future = self._open, self._open_future
        self._open, self._open_future = [], None
        keys = [d.idempotency_key for d in group]
        try:
            commit = self.log._commit_line(len(group), self._state)
            data = b"".join(_encode(group, commit[0]))
            fd = self.log._begin_append(data)
        except BaseException as exc:  # noqa: BLE001 - handed to the waiters
            self._done(keys, future, exc)
            return
        if fd is None:
            self._written(None, None, group, keys, future, len(data), commit)
            return
        # the worker thread only waits for the disk: the less it runs Python, the less it takes the GIL
        self._writing = asyncio.get_running_loop().run_in_executor(self._pool, os.fsync, fd)
        self._writing.add_done_callback(lambda w: self._written(w, fd, group, keys, future, len(data), commit))

    def _written(self, syncing: asyncio.Future | None, fd: int | None, group: list[Decision], keys: list[str],
                 future: asyncio.Future, size: int, commit: tuple[bytes, Any, bool]) -> None:
        self._writing = None
        try:
            if fd is not None:
                try:
                    syncing.result()  # type: ignore[union-attr]
                finally:
                    _end_append(fd)
                self.log._appended(group, keys, size, commit)
                outcome: dict[str, Decision] | BaseException = {}
            else:  # the file changed behind our back, or another writer has it: the careful way
                self.log.record(group, state=commit[1])
                outcome = {}
                for d in group:
                    logged = self.log.seen(d.idempotency_key)
                    if logged != d:
                        outcome[d.idempotency_key] = logged  # type: ignore[assignment]
        except BaseException as exc:  # noqa: BLE001 - handed to the waiters
            outcome = exc
        self._done(keys, future, outcome)
        if self._open:
            self._kick()

    def _done(self, keys: list[str], future: asyncio.Future | None,
              outcome: dict[str, Decision] | BaseException) -> None:
        for key in keys:
            self._staged.pop(key, None)
        if future is None or future.done():
            return
        if isinstance(outcome, BaseException):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)


def _retrieve(future: asyncio.Future) -> None:
    """Mark a group's error as seen: its waiters may all have gone (they were told by their own futures)."""
    if not future.cancelled():
        future.exception()


async def _nothing() -> dict[str, Decision]:
    return {}


async def _merged(futures: list[asyncio.Future]) -> dict[str, Decision]:
    out: dict[str, Decision] = {}
    for future in futures:
        out.update(await asyncio.shield(future))
    return out


# -- the router state: full, or as a merge patch --------------------------------------------------------

_MISSING = object()


def _merge_patch(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any] | None:
    """The JSON merge patch (RFC 7386) that turns ``old`` into ``new``; ``None`` when a patch cannot say it
    (a value is null, which a patch reads as "remove", or a key is not text).

    >>> _merge_patch({"cursor": {"p": "R1"}, "assigned": {"R1": 3, "R2": 1}},
    ...              {"cursor": {"p": "R2"}, "assigned": {"R1": 3, "R2": 2}})
    {'cursor': {'p': 'R2'}, 'assigned': {'R2': 2}}
    """
    patch: dict[str, Any] = {}
    for key, value in new.items():
        if type(key) is not str:
            return None
        before = old.get(key, _MISSING)
        if type(value) is dict:
            sub = _merge_patch(before if type(before) is dict else {}, value)
            if sub is None:
                return None
            if sub or type(before) is not dict:
                patch[key] = sub
        elif value is None:
            return None
        elif type(before) is not type(value) or before != value:
            patch[key] = value
    for key in old:
        if key not in new:
            patch[key] = None
    return patch


def _apply_patch(target: Any, patch: dict[str, Any]) -> dict[str, Any]:
    """``target`` with a merge patch applied (a new dict; ``target`` is left as it was).

    >>> _apply_patch({"cursor": {"p": "R1"}, "assigned": {"R1": 3}}, {"assigned": {"R2": 1}, "cursor": None})
    {'assigned': {'R1': 3, 'R2': 1}}
    """
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict):
            out[key] = _apply_patch(out.get(key), value)
        else:
            out[key] = value
    return out


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
#: A writer saves the full router state at least every this many commits (state patches in between), so a
#: reader applies at most this many patches per writer to the last full state.
_FULL_EVERY = 1000
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


def _encode(decisions: Sequence[Decision], commit: bytes, columns: Mapping[str, Any] | None = None
            ) -> Iterator[Any]:
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
    if pieces is None:
        yield _encode_lines(decisions) + commit  # one write, as small batches always were
        return
    yield from pieces
    yield commit


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
