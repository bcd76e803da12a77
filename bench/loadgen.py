"""A small HTTP/1.1 load generator in pure asyncio: open loop (constant arrival rate) and closed loop.

Built for ``bench/bench_api.py`` and usable on its own against a running
``tierwise serve``. No dependency beyond the standard library (and pyarrow plus
tierwise to build request bodies from a workspace).

* **Open loop** -- request ``i`` is due at ``t0 + i / rate`` whatever happened
  to the earlier ones. A pool of keep-alive connections takes the due requests
  in turn; when every connection is busy the request waits, and its latency is
  measured from the time it was *due*, not from when it was sent, so a server
  stall shows up in the latencies of every request it delayed (no coordinated
  omission, as in wrk2). The time from being sent to the response is recorded
  too (``service``), and so is how late the scheduler dispatched each request
  (``dispatch lag``): the generator's own overhead.
* **Closed loop** -- ``C`` connections each send a request, wait for the answer
  and send the next, for ``D`` seconds: the throughput at saturation, with the
  latency measured from each send.

Requests are pre-built bytes (request line, headers and body), so the run only
writes them, reads the status line and headers and reads ``Content-Length``
bytes (or a chunked body). A non-2xx status, a connection error, a malformed
response and a request not answered within ``timeout`` all count as errors.

Bodies for ``POST /v1/leads/score-and-route`` come from a workspace's leads and
their events (:func:`lead_bodies`): every request gets its own lead id (the
workspace's id with a run tag and the request number), so each one is scored,
matched and routed fresh rather than answered from the audit log as a replay.

    python bench/loadgen.py SPEC --url http://127.0.0.1:8000 --rate 200 --duration 60
    python bench/loadgen.py SPEC --url http://127.0.0.1:8000 --closed 8 --duration 20
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import math
import os
import random
import resource
import sys
import time
from array import array
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

SCORE_AND_ROUTE = "/v1/leads/score-and-route"
LEAD_FIELDS = ("lead_id", "email", "company", "website", "title", "seniority", "persona", "country", "employees",
               "industry", "lead_source", "created_at")
now = time.perf_counter


# --------------------------------------------------------------------------- requests


def http_request(method: str, path: str, host: str, port: int, body: bytes, headers: dict[str, str]) -> bytes:
    """One HTTP/1.1 keep-alive request, as bytes."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}:{port}", *(f"{k}: {v}" for k, v in headers.items()),
             f"Content-Length: {len(body)}", "", ""]
    return "\r\n".join(lines).encode("latin-1") + body


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and value != value:
        return None
    text = str(value).strip()
    return text or None


def _count(value: Any) -> int | None:
    try:
        n = int(float(value))
    except (TypeError, ValueError, OverflowError):
        return None
    return n if n >= 0 else None


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.isoformat()
    try:
        return datetime.fromisoformat(str(value).strip()).isoformat()
    except ValueError:
        return None


def _read_table(path: Path, columns: Sequence[str]) -> list[dict[str, Any]]:
    """Rows of a workspace file (Parquet or CSV) with the wanted columns that it has."""
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        names = set(pq.ParquetFile(path).schema_arrow.names)
        return pq.read_table(path, columns=[c for c in columns if c in names]).to_pylist()
    import pyarrow as pa
    import pyarrow.csv as pcsv

    with open(path, encoding="utf-8", newline="") as f:
        header = next(csv.reader(f), [])
    wanted = [c for c in columns if c in header]
    table = pcsv.read_csv(path, convert_options=pcsv.ConvertOptions(
        column_types={c: pa.string() for c in wanted}, include_columns=wanted))
    return table.to_pylist()


def lead_bodies(spec: str | Path, count: int, *, as_of: date | None = None, tag: str = "r", seed: int = 7,
                start: datetime | None = None, step_s: float = 1.0) -> list[bytes]:
    """``count`` JSON bodies for score-and-route built from the workspace's leads and lead activities.

    The leads are taken in a seeded random order (cycling when ``count`` is
    larger); request ``i`` carries lead ``<lead_id>-<tag><i>`` with the original
    lead's fields and all its events, ``as_of`` (default: the spec's) and
    ``now`` = ``start + i * step_s`` (default start: 09:00 UTC the day after
    ``as_of``). Values a file may hold but the API would reject (a negative
    employee count, an unparseable date) are left out, so every body is valid.
    """
    from tierwise.spec.loader import load_spec

    spec_file = load_spec(spec)
    data = spec_file.spec.data
    if data.leads is None:
        raise SystemExit(f"{spec}: the spec has no data.leads; the API benchmark needs a workspace with leads")
    day = as_of or spec_file.spec.as_of or date.today()
    leads = _read_table(Path(spec_file.resolve(data.leads.path)), LEAD_FIELDS)
    if not leads:
        raise SystemExit(f"{spec}: the workspace has no leads")
    events: dict[str, list[dict[str, str]]] = {}
    if data.lead_activities is not None:
        for e in _read_table(Path(spec_file.resolve(data.lead_activities.path)),
                             ("lead_id", "event_type", "occurred_at")):
            lead_id, event_type, occurred = _text(e["lead_id"]), _text(e["event_type"]), _iso(e["occurred_at"])
            if lead_id and event_type and occurred:
                events.setdefault(lead_id, []).append({"event_type": event_type, "occurred_at": occurred})
    records = []
    for row in leads:
        lead_id = _text(row.get("lead_id"))
        if not lead_id:
            continue
        lead: dict[str, Any] = {}
        for f in LEAD_FIELDS:
            value = (_count(row.get(f)) if f == "employees" else _iso(row.get(f)) if f == "created_at"
                     else _text(row.get(f)))
            if value is not None:
                lead[f] = value
        records.append((lead, events.get(lead_id, [])))
    order = list(range(len(records)))
    random.Random(seed).shuffle(order)
    start = start or datetime.combine(day + timedelta(days=1), datetime.min.time()).replace(hour=9, tzinfo=UTC)
    width = len(str(max(count - 1, 0)))
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    out = []
    for i in range(count):
        lead, evs = records[order[i % len(order)]]
        body = {"lead": {**lead, "lead_id": f"{lead['lead_id']}-{tag}{i:0{width}d}"}, "events": evs,
                "as_of": day.isoformat(), "now": (start + timedelta(seconds=i * step_s)).isoformat()}
        out.append(dumps(body).encode())
    return out


# --------------------------------------------------------------------------- connections


class ProtocolError(Exception):
    pass


class Connection:
    """One keep-alive HTTP/1.1 connection; reopened when the server closes it."""

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.opened = 0

    async def open(self) -> None:
        self.close()
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        self.opened += 1

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    async def exchange(self, request: bytes) -> tuple[int, bytes, float]:
        """Send one request; (status, body, time it was written)."""
        if self.reader is None or self.reader.at_eof():  # not open yet, or the server closed it while idle
            await self.open()
        assert self.reader is not None and self.writer is not None
        sent = now()
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1."):
            raise ProtocolError(f"bad status line {head[:40]!r}")
        status = int(head[9:12])
        length, chunked, close = -1, False, False
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding":
                chunked = b"chunked" in value.lower()
            elif name == b"connection":
                close = value.strip().lower() == b"close"
        if chunked:
            parts = []
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                parts.append(await self.reader.readexactly(size + 2))
                if size == 0:
                    break
            body = b"".join(p[:-2] for p in parts)
        elif length >= 0:
            body = await self.reader.readexactly(length)
        else:  # no length: the body runs to the end of the connection
            body = await self.reader.read()
            close = True
        if close:
            self.close()
        return status, body, sent


# --------------------------------------------------------------------------- results


def percentile(sorted_values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (``q`` in 0..100) of sorted values."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def summary_ms(values: Sequence[float]) -> dict[str, float | None]:
    """p50/p90/p99/p99.9/max/mean of seconds, in milliseconds."""
    s = sorted(values)
    out: dict[str, float | None] = {f"p{q:g}".replace(".", "_"): percentile(s, q) for q in (50, 90, 99, 99.9)}
    out["max"] = s[-1] if s else None
    out["mean"] = sum(s) / len(s) if s else None
    return {k: (round(v * 1000, 3) if v is not None else None) for k, v in out.items()}


@dataclass
class Recorder:
    """What a run measured: per-request latency and service time, statuses and errors."""

    latency: array = field(default_factory=lambda: array("d"))  # from the due time (open) or the send (closed)
    service: array = field(default_factory=lambda: array("d"))  # from the send
    due: array = field(default_factory=lambda: array("d"))  # due time (open) or send time (closed), from t0
    lag: array = field(default_factory=lambda: array("d"))  # dispatch lag (open loop)
    statuses: Counter = field(default_factory=Counter)
    errors: Counter = field(default_factory=Counter)
    error_examples: list[str] = field(default_factory=list)
    replays: int = 0
    check: Callable[[bytes], str | None] | None = None  # a 2xx body -> a problem, or None
    problems: Counter = field(default_factory=Counter)
    last: float = 0.0  # when the last answer came (perf_counter)

    def ok(self, due: float, sent: float, done: float, status: int, body: bytes, t0: float) -> None:
        self.statuses[status] += 1
        self.last = done
        if not 200 <= status < 300:
            self.error(f"HTTP {status}", body[:300].decode("utf-8", "replace"))
            return
        self.latency.append(done - due)
        self.service.append(done - sent)
        self.due.append(due - t0)
        if b'"replay":true' in body:
            self.replays += 1
        if self.check is not None:
            problem = self.check(body)
            if problem:
                self.problems[problem] += 1

    def error(self, kind: str, detail: str = "") -> None:
        self.errors[kind] += 1
        if len(self.error_examples) < 5:
            self.error_examples.append(f"{kind}: {detail}" if detail else kind)


def _usage() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def report(rec: Recorder, *, mode: str, elapsed: float, sent: int, planned: int | None, client_cpu_s: float,
           connections: int, reconnects: int, rate: float | None = None, duration: float | None = None,
           timeline: bool = True) -> dict[str, Any]:
    """The run as a JSON-able dict (latencies in ms)."""
    done = len(rec.latency)
    errors = sum(rec.errors.values())
    out: dict[str, Any] = {
        "mode": mode, "connections": connections, "target_rate": rate, "duration_s": duration,
        "planned": planned, "sent": sent, "completed_2xx": done, "errors": errors,
        "errors_by_kind": dict(rec.errors), "error_examples": rec.error_examples,
        "statuses": {str(k): v for k, v in sorted(rec.statuses.items())},
        "replays": rec.replays, "response_problems": dict(rec.problems),
        "elapsed_s": round(elapsed, 3), "throughput_rps": round(done / elapsed, 1) if elapsed > 0 else None,
        "latency_ms": summary_ms(rec.latency), "service_ms": summary_ms(rec.service),
        "client_cpu_s": round(client_cpu_s, 2),
        "client_cpu_pct": round(100 * client_cpu_s / elapsed, 1) if elapsed > 0 else None,
        "reconnects": reconnects,
    }
    if mode == "open":
        out["dispatch_lag_ms"] = summary_ms(rec.lag)
    if timeline and done:
        seconds: dict[int, list[float]] = {}
        for d, lat in zip(rec.due, rec.latency, strict=True):
            seconds.setdefault(int(d), []).append(lat)
        out["per_second"] = [{"s": s, "n": len(v), "p50_ms": round(percentile(sorted(v), 50) * 1000, 2),
                              "p99_ms": round(percentile(sorted(v), 99) * 1000, 2), "max_ms": round(max(v) * 1000, 2)}
                             for s, v in sorted(seconds.items())]
    return out


# --------------------------------------------------------------------------- the two loops


async def _exchange(conn: Connection, request: bytes, due: float, rec: Recorder, t0: float, timeout: float,
                    deadline: float | None = None) -> None:
    """One request on ``conn``; it fails if unanswered ``timeout`` seconds after it was sent or by ``deadline``."""
    limit = timeout
    if deadline is not None:
        limit = min(limit, deadline - now())
        if limit <= 0:  # waited for a connection past its deadline: a client would have given up
            rec.error("expired before sent", "queued in the generator past its deadline (the server was behind)")
            return
    try:
        async with asyncio.timeout(limit):
            status, body, sent = await conn.exchange(request)
    except TimeoutError:
        conn.close()
        rec.error("timeout", f"no answer {timeout:g} s after it was due")
        return
    except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ProtocolError, ValueError) as exc:
        conn.close()
        rec.error(type(exc).__name__, str(exc)[:200])
        return
    rec.ok(due, max(sent, due), now(), status, body, t0)


async def open_loop(host: str, port: int, requests: Sequence[bytes], *, rate: float, duration: float,
                    connections: int = 16, timeout: float = 10.0,
                    check: Callable[[bytes], str | None] | None = None,
                    on_tick: Callable[[], None] | None = None) -> dict[str, Any]:
    """Send ``rate`` requests a second for ``duration`` seconds on ``connections`` keep-alive connections.

    Latency is measured from each request's due time ``t0 + i / rate``. A
    request not answered ``timeout`` seconds after it was due fails (``timeout``,
    or ``expired before sent`` when it was still waiting for a free connection):
    a client would have given up. ``on_tick`` is called about once a second (to
    sample the server's memory, say).
    """
    planned = int(rate * duration)
    if planned > len(requests):
        raise ValueError(f"{planned} requests planned but only {len(requests)} built")
    rec = Recorder(check=check)
    pool = [Connection(host, port) for _ in range(connections)]
    await asyncio.gather(*(c.open() for c in pool))
    queue: asyncio.Queue[int | None] = asyncio.Queue()
    cpu0 = _usage()
    t0 = now() + 0.05
    interval = 1.0 / rate
    sent = 0

    async def scheduler() -> None:
        nonlocal sent
        next_tick = t0 + 1.0
        for i in range(planned):
            due = t0 + i * interval
            wait = due - now()
            if wait > 0:
                await asyncio.sleep(wait)
            rec.lag.append(now() - due)
            queue.put_nowait(i)
            sent += 1
            if on_tick is not None and due >= next_tick:
                on_tick()
                next_tick += 1.0
        for _ in pool:
            queue.put_nowait(None)

    async def worker(conn: Connection) -> None:
        while (i := await queue.get()) is not None:
            due = t0 + i * interval
            await _exchange(conn, requests[i], due, rec, t0, timeout, deadline=due + timeout)

    workers = [asyncio.create_task(worker(c)) for c in pool]
    await scheduler()
    finished, pending = await asyncio.wait(workers, timeout=max(0.0, t0 + duration + timeout + 5 - now()))
    for task in pending:
        task.cancel()
    if pending:
        await asyncio.gather(*pending, return_exceptions=True)
    answered = len(rec.latency) + sum(rec.errors.values())
    if answered < planned:
        rec.errors["unfinished"] += planned - answered
    elapsed = (rec.last if rec.last else now()) - t0
    for c in pool:
        c.close()
    return report(rec, mode="open", elapsed=elapsed, sent=sent,
                  planned=planned, client_cpu_s=_usage() - cpu0, connections=connections,
                  reconnects=sum(c.opened for c in pool) - connections, rate=rate, duration=duration)


async def closed_loop(host: str, port: int, requests: Sequence[bytes], *, connections: int, duration: float,
                      timeout: float = 10.0, check: Callable[[bytes], str | None] | None = None,
                      on_tick: Callable[[], None] | None = None) -> dict[str, Any]:
    """``connections`` clients each sending back to back for ``duration`` seconds: throughput at saturation.

    Throughput is the answered requests over the time from the start to the
    last answer. Stops early (noted as ``exhausted``) if ``requests`` runs out.
    """
    rec = Recorder(check=check)
    pool = [Connection(host, port) for _ in range(connections)]
    await asyncio.gather(*(c.open() for c in pool))
    cpu0 = _usage()
    t0 = now()
    end = t0 + duration
    counter = iter(range(len(requests)))
    sent = 0
    exhausted = False

    async def worker(conn: Connection) -> None:
        nonlocal sent, exhausted
        while now() < end:
            i = next(counter, None)
            if i is None:
                exhausted = True
                return
            sent += 1
            await _exchange(conn, requests[i], now(), rec, t0, timeout)

    async def ticker() -> None:
        while True:
            await asyncio.sleep(1.0)
            on_tick()

    tick = asyncio.create_task(ticker()) if on_tick is not None else None
    await asyncio.gather(*(worker(c) for c in pool))
    if tick is not None:
        tick.cancel()
    for c in pool:
        c.close()
    out = report(rec, mode="closed", elapsed=(rec.last or now()) - t0, sent=sent, planned=None, client_cpu_s=_usage() - cpu0,
                 connections=connections, reconnects=sum(c.opened for c in pool) - connections, duration=duration)
    out["exhausted"] = exhausted
    return out


def score_and_route_check(body: bytes) -> str | None:
    """A cheap sanity check of a 2xx answer: it must carry a route (the spec routes leads)."""
    return None if b'"route":{' in body else "no route in the answer"


# --------------------------------------------------------------------------- command line


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("spec", type=Path, help="workspace spec.yaml whose leads become the request bodies")
    p.add_argument("--url", default="http://127.0.0.1:8000", help="server base URL (http only)")
    p.add_argument("--token", default=None, help="bearer token (default: $TIERWISE_API_TOKEN)")
    p.add_argument("--rate", type=float, default=200.0, help="open loop: requests per second")
    p.add_argument("--duration", type=float, default=60.0, help="seconds")
    p.add_argument("--connections", type=int, default=16, help="open loop: connection pool size")
    p.add_argument("--closed", type=int, default=0, metavar="C",
                   help="closed loop with C connections instead of the open loop")
    p.add_argument("--max-rps", type=float, default=1000.0, help="closed loop: bodies built per second of run")
    p.add_argument("--timeout", type=float, default=10.0)
    p.add_argument("--tag", default=None, help="lead id tag (default: from the clock, so reruns are not replays)")
    a = p.parse_args(argv)
    url = urlsplit(a.url)
    host, port = url.hostname or "127.0.0.1", url.port or 80
    token = a.token or os.environ.get("TIERWISE_API_TOKEN", "")
    count = int((a.max_rps if a.closed else a.rate) * a.duration) + 1
    tag = a.tag or f"g{int(time.time()) % 10**6:06d}-"
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    requests = [http_request("POST", SCORE_AND_ROUTE, host, port, b, headers)
                for b in lead_bodies(a.spec, count, tag=tag)]
    if a.closed:
        result = asyncio.run(closed_loop(host, port, requests, connections=a.closed, duration=a.duration,
                                         timeout=a.timeout, check=score_and_route_check))
    else:
        result = asyncio.run(open_loop(host, port, requests, rate=a.rate, duration=a.duration,
                                       connections=a.connections, timeout=a.timeout, check=score_and_route_check))
    result.pop("per_second", None)
    json.dump(result, sys.stdout, indent=2)
    print()
    return 0 if result["errors"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
