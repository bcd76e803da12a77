"""Benchmark the REST API: score-and-route latency at a constant request rate, and throughput at saturation.

Issue 4 asks: "p99 latency of score-and-route under 25 ms at 200 requests/s
for 60 s on loopback, no errors; report p50/p99 and throughput at saturation."

Generates (once, cached in ``--workdir``) a clean Parquet demo workspace with
``--accounts`` accounts and its leads, starts the real ``tierwise serve SPEC``
as a subprocess on a free loopback port with a bearer token, waits for
``/healthz`` and drives ``POST /v1/leads/score-and-route`` with
``bench/loadgen.py``:

1. warm-up: the target rate for ``--warmup`` seconds (reported, not checked);
2. target: an **open loop** at ``--rate`` requests/s for ``--duration``
   seconds; latency from each request's due time, so a stalled server is
   charged for every request it delayed;
3. saturation: a **closed loop**, ``--saturation-connections`` clients
   sending back to back for ``--saturation-duration`` seconds.

Every request is a different lead of the workspace with its events and a
lead id of its own, so each is scored, matched and routed fresh (written to
the audit log, not replayed). The server's CPU and memory (psutil), the
generator's own CPU, the CPU other processes took during each phase and the
machine are recorded. ``--profile N`` then scores N requests in process
(``ScoringService.score_and_route_async`` behind the same request validation), timing
each stage and listing cProfile's heaviest functions.

Writes ``bench/results/api-<label>.json`` and ``.md``; exits 1 when the target
phase's p99 is not under ``--target-p99-ms`` or any request failed.

    python bench/bench_api.py --accounts 2000 --duration 10 --saturation-duration 5   # a quick look
    python bench/bench_api.py --wait-idle 300 --profile 1000                         # 50k accounts, 200 req/s x 60 s
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import io
import json
import os
import pstats
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from datetime import date
from importlib import metadata
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

import loadgen  # noqa: E402
from bench_score import AS_OF, SEED, busy_cpu_seconds, machine, source_state, tierwise_command, wait_idle  # noqa: E402

TARGET_P99_MS = 25.0
ENDPOINT = loadgen.SCORE_AND_ROUTE


# --------------------------------------------------------------------------- workspace


def workspace(workdir: Path, accounts: int, leads: int | None, events_per_lead: float, events_per_account: int,
              seed: int) -> Path:
    """The generated Parquet workspace's spec.yaml (with leads and routing), generated on first use."""
    n_leads = accounts // 2 if leads is None else leads
    ws = workdir / f"api-{accounts}x{events_per_account}-leads{n_leads}x{events_per_lead:g}-seed{seed}-{AS_OF}"
    spec, done = ws / "spec.yaml", ws / ".complete"
    if done.exists() and spec.exists():
        return spec
    if ws.exists():
        shutil.rmtree(ws)  # half written by an interrupted run
    from tierwise.demo.generate import generate_workspace

    print(f"generating {accounts:,} accounts and {n_leads:,} leads into {ws} ...", file=sys.stderr, flush=True)
    t0 = time.perf_counter()
    spec = Path(generate_workspace(ws, accounts=accounts, seed=seed, as_of=AS_OF,
                                   events_per_account=events_per_account, fmt="parquet", mess=False,
                                   leads=n_leads, events_per_lead=events_per_lead))
    done.write_text(json.dumps({"seconds": round(time.perf_counter() - t0, 1)}))
    print(f"generated in {time.perf_counter() - t0:.1f}s", file=sys.stderr, flush=True)
    return spec


def workspace_facts(spec: Path) -> dict[str, Any]:
    """Row counts, whether the spec scores and routes leads, and the audit log's path."""
    import pyarrow.parquet as pq

    from tierwise.spec.loader import load_spec

    spec_file = load_spec(spec)
    s = spec_file.spec
    rows = {}
    for name, source in s.data.sources().items():
        path = Path(spec_file.resolve(source.path))
        if path.suffix == ".parquet" and path.exists():
            rows[name] = pq.ParquetFile(path).metadata.num_rows
    if s.lead_scoring is None or s.routing is None:
        raise SystemExit(f"{spec}: the spec needs 'lead_scoring:' and 'routing:' sections for score-and-route")
    return {"rows": rows, "audit_log": Path(spec_file.resolve(s.routing.audit_log)), "as_of": s.as_of or AS_OF,
            "spec_hash": s.fingerprint()}


# --------------------------------------------------------------------------- the server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``tierwise serve`` in a subprocess on a loopback port."""

    def __init__(self, spec: Path, port: int, token: str, log: Path):
        self.port, self.log = port, log
        log.parent.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "TIERWISE_API_TOKEN": token, "PYTHONUNBUFFERED": "1", "COLUMNS": "120"}
        self.argv = [*tierwise_command(), "serve", str(spec), "--host", "127.0.0.1", "--port", str(port)]
        self._log = open(log, "wb")  # noqa: SIM115 - closed in stop()
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(self.argv, stdout=self._log, stderr=subprocess.STDOUT, env=env, cwd=REPO)

    def wait_ready(self, timeout: float) -> dict[str, Any]:
        """Poll /healthz until it answers; its JSON."""
        deadline = time.monotonic() + timeout
        url = f"http://127.0.0.1:{self.port}/healthz"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"tierwise serve exited with {self.proc.returncode} before it was ready; "
                                 f"log {self.log}:\n{self.log.read_text(errors='replace')[-3000:]}")
            try:
                with urllib.request.urlopen(url, timeout=2) as r:
                    if r.status == 200:
                        return json.loads(r.read())
            except OSError:
                pass
            time.sleep(0.2)
        self.stop()
        raise SystemExit(f"tierwise serve was not ready after {timeout:g} s; log {self.log}")

    def stop(self) -> int | None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # uvicorn shuts down gracefully
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        return self.proc.returncode


class Monitor:
    """The server's CPU and memory, this process's CPU and the machine's, per phase."""

    def __init__(self, pid: int):
        import psutil

        self.proc = psutil.Process(pid)
        self.rss_peak = 0

    def rss_mb(self) -> float:
        return self.proc.memory_info().rss / 2**20

    def sample(self) -> None:
        try:
            self.rss_peak = max(self.rss_peak, self.proc.memory_info().rss)
        except Exception:  # noqa: BLE001 - the server went away: the phase reports the errors
            pass

    def wait_idle(self, timeout: float = 300.0, idle: float = 0.1) -> float:
        """Wait until the server uses under ``idle`` of a core for two half-seconds running: it has worked off its
        backlog (it keeps processing requests whose clients gave up). Seconds waited."""
        t0 = time.perf_counter()
        quiet = 0
        last = self.proc.cpu_times()
        while quiet < 2 and time.perf_counter() - t0 < timeout:
            time.sleep(0.5)
            now = self.proc.cpu_times()
            quiet = quiet + 1 if (now.user + now.system - last.user - last.system) < 0.5 * idle else 0
            last = now
        return round(time.perf_counter() - t0, 1)

    def begin(self) -> None:
        self.rss_peak = 0
        self.sample()
        t = self.proc.cpu_times()
        self._cpu0 = t.user + t.system
        self._busy0 = busy_cpu_seconds()
        self._self0 = time.process_time()
        self._t0 = time.perf_counter()
        self._load0 = os.getloadavg()[0]

    def end(self) -> dict[str, Any]:
        wall = time.perf_counter() - self._t0
        self.sample()
        t = self.proc.cpu_times()
        server = t.user + t.system - self._cpu0
        client = time.process_time() - self._self0
        others = max(0.0, busy_cpu_seconds() - self._busy0 - server - client)
        return {"wall_s": round(wall, 2), "server_cpu_s": round(server, 2),
                "server_cpu_pct": round(100 * server / wall, 1), "server_rss_peak_mb": round(self.rss_peak / 2**20, 1),
                "bench_cpu_s": round(client, 2), "others_cpu_s": round(others, 1),
                "others_cores": round(others / wall, 2), "load_before": round(self._load0, 2)}


def preflight(port: int, token: str, body: bytes, log: Path) -> None:
    """One request before the load: stop early, with the server's answer, if it fails."""
    req = urllib.request.Request(f"http://127.0.0.1:{port}{ENDPOINT}", data=body, method="POST",
                                 headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            answer = r.read()
    except urllib.error.HTTPError as exc:
        raise SystemExit(f"the first request failed with HTTP {exc.code}: {exc.read()[:2000].decode(errors='replace')}"
                         f"\nserver log: {log}") from exc
    problem = loadgen.score_and_route_check(answer)
    if problem:
        raise SystemExit(f"the first request's answer is unexpected ({problem}): {answer[:2000]!r}")


def run_phase(name: str, monitor: Monitor, coro_factory, drain: bool = True) -> dict[str, Any]:
    drained = monitor.wait_idle() if drain else None
    if drained and drained > 1.5:
        print(f"  (waited {drained:g} s for the server to work off its backlog)", file=sys.stderr, flush=True)
    monitor.begin()
    gc.collect()
    gc.disable()  # the generator's own pauses would count as latency
    try:
        result = asyncio.run(coro_factory())
    finally:
        gc.enable()
    result["resources"] = monitor.end()
    result["waited_for_backlog_s"] = drained
    lat = result["latency_ms"]
    print(f"  {name:<10} {result['completed_2xx']:>6} ok {result['errors']:>4} errors  "
          f"{result['throughput_rps']:>7} req/s  p50 {lat['p50']} ms  p90 {lat['p90']} ms  p99 {lat['p99']} ms  "
          f"max {lat['max']} ms  (server CPU {result['resources']['server_cpu_pct']}%, others "
          f"{result['resources']['others_cores']} cores)", file=sys.stderr, flush=True)
    return result


# --------------------------------------------------------------------------- in-process profile


def profile_service(spec: Path, bodies: list[bytes], *, top: int = 25) -> dict[str, Any]:
    """Score and route ``bodies`` in process as the API does: per-stage times, then cProfile's heaviest functions.

    The request goes through the same pydantic model as the API (JSON parse and
    validation, ``model_dump``), ``ScoringService.score_and_route_async`` (on an
    asyncio loop, with the group commit) and the API's JSON encoder; HTTP,
    uvicorn and FastAPI's routing are what the API adds on top. Requests go one
    at a time, so each is a group of its own and waits for its own ``fsync``;
    the write and ``fsync`` run in the group commit's worker thread, off the
    loop. The audit log is a temporary file. cProfile sees the loop's thread.
    """
    from tierwise.api.app import json_body
    from tierwise.api.schemas import request_models
    from tierwise.api.service import ScoringService
    from tierwise.store.audit import AuditLog, GroupCommit

    t0 = time.perf_counter()
    service = ScoringService(spec)
    startup = time.perf_counter() - t0
    s = service.spec_file.spec
    model = request_models(dict(s.data.leads.attributes) if s.data.leads else {},
                           dict(s.data.accounts.attributes))["lead"]
    stages: dict[str, list[float]] = {}

    def timed(name, fn):
        def wrapper(*args, **kwargs):
            t = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                stages.setdefault(name, []).append(time.perf_counter() - t)
        return wrapper

    async def call(raw: bytes) -> bytes:
        t = time.perf_counter()
        req = model.model_validate(json.loads(raw))
        lead, events = req.lead.model_dump(), [e.model_dump() for e in req.events]
        stages.setdefault(PARSE, []).append(time.perf_counter() - t)
        result = await service.score_and_route_async(lead, events, as_of=req.as_of, now=req.now)
        t = time.perf_counter()
        out = json_body(result)
        stages.setdefault(ENCODE, []).append(time.perf_counter() - t)
        return out

    async def run(tmp: str) -> tuple[list[float], float, cProfile.Profile]:
        service.audit = AuditLog(Path(tmp) / "audit.jsonl")
        group = service._group = GroupCommit(service.audit)
        service.score_lead = timed(SCORE, service.score_lead)
        service.matcher.match_records = timed(MATCH, service.matcher.match_records)
        service.router.route_one = timed(ROUTE, service.router.route_one)
        kicked: list[float] = []
        group._kick = timed(SEAL, lambda: kicked.append(time.perf_counter()) or GroupCommit._kick(group))

        def written(*args):
            stages.setdefault(SYNC, []).append(time.perf_counter() - kicked[-1])
            return GroupCommit._written(group, *args)

        group._written = written
        half = len(bodies) // 2
        for raw in bodies[:20]:  # warm
            await call(raw)
        stages.clear()
        total = []
        cpu = time.process_time()
        for raw in bodies[20:half]:
            t = time.perf_counter()
            await call(raw)
            total.append(time.perf_counter() - t)
        cpu = (time.process_time() - cpu) / max(1, len(total))
        profiler = cProfile.Profile()
        profiler.enable()
        for raw in bodies[half:]:
            await call(raw)
        profiler.disable()
        await service.drain()
        return total, cpu, profiler

    with tempfile.TemporaryDirectory() as tmp:
        total, cpu, profiler = asyncio.run(run(tmp))
        service.close()
    timings = {"total": loadgen.summary_ms(total)} | {
        k: loadgen.summary_ms(stages[k]) for k in sorted(stages, key=lambda k: STAGES.index(k) if k in STAGES else 99)}
    n = len(bodies) - len(bodies) // 2
    stats = pstats.Stats(profiler, stream=io.StringIO())
    rows = []
    for (file, line, func), (_cc, nc, tt, ct, _) in stats.stats.items():  # type: ignore[attr-defined]
        short = file.split("site-packages/")[-1].split("/src/")[-1]
        rows.append({"function": f"{short}:{line}({func})", "calls_per_request": round(nc / n, 1),
                     "own_ms_per_request": round(tt / n * 1000, 3), "cum_ms_per_request": round(ct / n * 1000, 3)})
    return {
        "requests_timed": len(total), "requests_profiled": n, "service_startup_s": round(startup, 1),
        "cpu_ms_per_request": round(cpu * 1000, 3), "stages_ms": timings,
        "top_cumulative": sorted(rows, key=lambda r: -r["cum_ms_per_request"])[:top],
        "top_own": sorted(rows, key=lambda r: -r["own_ms_per_request"])[:top],
    }


PARSE = "parse + validate (pydantic)"
SCORE = "score lead (rowwise)"
MATCH = "match account (LeadAccountMatcher.match_records)"
ROUTE = "route (Router.route_one, decision staged)"
SEAL = "audit: commit line, encode, write (on the loop)"
SYNC = "audit: until the fsync is done (worker thread, off the loop)"
ENCODE = "encode answer (json)"
STAGES = [PARSE, SCORE, MATCH, ROUTE, SEAL, SYNC, ENCODE]


# --------------------------------------------------------------------------- report


def _ms(v: float | None) -> str:
    return "-" if v is None else f"{v:,.1f}"


def markdown(payload: dict[str, Any]) -> str:
    p, ph, srv, info = payload["params"], payload["phases"], payload["server"], payload["machine"]
    rows = payload["rows"]
    lines = [
        f"### tierwise API benchmark: POST {ENDPOINT}, {rows.get('accounts', 0):,} accounts, "
        f"{rows.get('leads', 0):,} leads",
        "",
        "| phase | load | answered | errors | req/s | p50 (ms) | p90 (ms) | p99 (ms) | p99.9 (ms) | max (ms) "
        "| server CPU | others' CPU |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, r in ph.items():
        load = (f"open loop {r['target_rate']:g} req/s, {r['duration_s']:g} s, {r['connections']} conns"
                if r["mode"] == "open" else f"closed loop, {r['connections']} conns, {r['duration_s']:g} s")
        lat, res = r["latency_ms"], r["resources"]
        lines.append(f"| {name} | {load} | {r['completed_2xx']:,} | {r['errors']} | {r['throughput_rps']:,.1f} | "
                     f"{_ms(lat['p50'])} | {_ms(lat['p90'])} | {_ms(lat['p99'])} | {_ms(lat['p99_9'])} | "
                     f"{_ms(lat['max'])} | {res['server_cpu_pct']:.0f}% | {res['others_cores']:.2f} cores |")
    c = payload["check"]
    t, sat = ph["target"], ph.get("saturation")
    lines += [
        "",
        f"- Target: p99 < {c['target_p99_ms']:g} ms with no errors at {p['rate']:g} req/s for {p['duration']:g} s "
        f"-> **{'MET' if c['ok'] else 'MISSED'}** (p99 {_ms(c['p99_ms'])} ms, {c['errors']} errors"
        f"{', ' + str(c['replays']) + ' replays' if c['replays'] else ''})",
        f"- At {p['rate']:g} req/s the time from send to answer (service time) was p50 "
        f"{_ms(t['service_ms']['p50'])} / p99 {_ms(t['service_ms']['p99'])} ms; latency above counts from each "
        f"request's due time (open loop), so queueing behind a slow request is included.",
    ]
    for name, r in ph.items():
        if r["errors"]:
            lines.append(f"- Errors in the {name} phase: " + ", ".join(f"{k} {v}" for k, v in r["errors_by_kind"].items())
                         + (f" (e.g. {r['error_examples'][0]})" if r["error_examples"] else "")
                         + "; its latency percentiles cover the answered requests only")
        if r.get("waited_for_backlog_s") and r["waited_for_backlog_s"] > 1.5:
            lines.append(f"- Before the {name} phase the server needed {r['waited_for_backlog_s']:g} s to work off "
                         "the requests left from the phase before (it keeps processing requests whose clients "
                         "gave up)")
    if sat:
        lines.append(f"- Saturation ({sat['connections']} connections back to back): "
                     f"**{sat['throughput_rps']:,.1f} req/s**, p50 {_ms(sat['latency_ms']['p50'])} ms, "
                     f"p99 {_ms(sat['latency_ms']['p99'])} ms, {sat['errors']} errors")
    lines.append(f"- Server: ready in {srv['startup_s']:.1f} s; RSS {srv['rss_after_start_mb']:,.0f} MB after start, "
                 f"{srv['rss_peak_mb']:,.0f} MB peak, {srv['rss_end_mb']:,.0f} MB at the end; "
                 f"{t['resources']['server_cpu_pct']:.0f}% of one core at {p['rate']:g} req/s. "
                 f"Load generator: {t['client_cpu_pct']}% of one core.")
    lines.append(f"- Load average before the run: {payload['load_before']}; other processes used "
                 f"{t['resources']['others_cores']:.2f} of {info['cores']} cores during the target phase.")
    for note in payload["notes"]:
        lines.append(f"- Note: {note}")
    prof = payload.get("profile")
    if prof and "error" in prof:
        lines.append(f"- The in-process profile failed: {prof['error']}")
    elif prof:
        lines += ["", f"In-process profile ({prof['requests_timed']} requests timed, {prof['requests_profiled']} "
                  f"under cProfile; no HTTP; one request at a time, each waiting for its own fsync): "
                  f"{prof.get('cpu_ms_per_request', float('nan')):.2f} ms of CPU per request (all threads)", "",
                  "| stage | mean (ms) | p50 (ms) | p99 (ms) |", "|---|---:|---:|---:|"]
        for k, v in prof["stages_ms"].items():
            lines.append(f"| {k} | {_ms(v['mean'])} | {_ms(v['p50'])} | {_ms(v['p99'])} |")
        lines += ["", "| heaviest functions (own time) | calls/request | own ms/request | cum ms/request |",
                  "|---|---:|---:|---:|"]
        for r in prof["top_own"][:12]:
            lines.append(f"| `{r['function']}` | {r['calls_per_request']} | {r['own_ms_per_request']:.3f} | "
                         f"{r['cum_ms_per_request']:.3f} |")
    lines += [
        "",
        f"Machine: {info['cpu']}, {info['cores']} cores, {info['ram_gb']} GB RAM, {info['os']}",
        f"Versions: Python {info['python']}, tierwise {info['tierwise']} ({info['git']}), fastapi {info['fastapi']}, "
        f"uvicorn {info['uvicorn']}, pydantic {info['pydantic']}, pandas {info['pandas']}, "
        f"rapidfuzz {info['rapidfuzz']}, duckdb {info['duckdb']}",
    ]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--accounts", type=int, default=50_000)
    p.add_argument("--leads", type=int, default=None, help="leads to generate (default: half the accounts)")
    p.add_argument("--events-per-lead", type=float, default=8.0)
    p.add_argument("--events-per-account", type=int, default=20)
    p.add_argument("--seed", type=int, default=SEED)
    p.add_argument("--spec", type=Path, default=None, help="use this workspace (with leads and routing) instead")
    p.add_argument("--workdir", type=Path, default=HERE / "work", help="generated workspace and logs (gitignored)")
    p.add_argument("--rate", type=float, default=200.0, help="target phase: requests per second (open loop)")
    p.add_argument("--duration", type=float, default=60.0, help="target phase: seconds")
    p.add_argument("--warmup", type=float, default=5.0, help="warm-up seconds at the target rate")
    p.add_argument("--connections", type=int, default=16, help="open loop: keep-alive connection pool")
    p.add_argument("--also-rates", default="", metavar="R1,R2",
                   help="after the target phase, open loops at these rates too (reported, not checked)")
    p.add_argument("--also-duration", type=float, default=30.0, help="seconds of each --also-rates phase")
    p.add_argument("--saturation-connections", type=int, default=8)
    p.add_argument("--saturation-duration", type=float, default=20.0, help="0 skips the saturation phase")
    p.add_argument("--saturation-max-rps", type=float, default=1000.0,
                   help="bodies built for the saturation phase per second (it stops early if they run out)")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds before a request counts as failed")
    p.add_argument("--target-p99-ms", type=float, default=TARGET_P99_MS)
    p.add_argument("--startup-timeout", type=float, default=900.0)
    p.add_argument("--wait-idle", type=float, default=0, metavar="SECONDS",
                   help="before the warm-up, wait up to this long for other work to leave the CPUs idle")
    p.add_argument("--profile", type=int, default=0, metavar="N",
                   help="afterwards, score N requests in process: stage times and cProfile's heaviest functions")
    p.add_argument("--label", default=None, help="result file name: api-<label>.json (default: from --accounts)")
    p.add_argument("--results-dir", type=Path, default=HERE / "results")
    a = p.parse_args(argv)

    workdir = a.workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    generated = a.spec is None
    spec = workspace(workdir, a.accounts, a.leads, a.events_per_lead, a.events_per_account, a.seed) if generated \
        else a.spec.resolve()
    facts = workspace_facts(spec)
    n_accounts = facts["rows"].get("accounts", a.accounts)
    label = a.label or (f"{n_accounts // 1000}k" if n_accounts % 1000 == 0 else str(n_accounts))
    if generated and facts["audit_log"].exists():
        facts["audit_log"].unlink()  # each run starts from an empty routing log (the server reads it at start)

    # requests, pre-built: every one a lead id of its own (the tag keeps reruns on an old log from replaying)
    also = [float(x) for x in a.also_rates.split(",") if x.strip()]
    counts = {"warmup": int(a.rate * a.warmup), "target": int(a.rate * a.duration),
              **{f"open {r:g}": int(r * a.also_duration) for r in also},
              "saturation": int(a.saturation_max_rps * a.saturation_duration)}
    token = secrets.token_urlsafe(24)
    port = free_port()
    tag = f"b{int(time.time()) % 46656 ** 2:x}-"
    t0 = time.perf_counter()
    bodies = loadgen.lead_bodies(spec, sum(counts.values()), as_of=facts["as_of"], tag=tag, seed=a.seed)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    requests = [loadgen.http_request("POST", ENDPOINT, "127.0.0.1", port, b, headers) for b in bodies]
    slices, start = {}, 0
    for name, n in counts.items():
        slices[name] = requests[start:start + n]
        start += n
    body_sizes = sorted(len(b) for b in bodies)
    print(f"built {len(requests):,} requests in {time.perf_counter() - t0:.1f}s "
          f"(body p50 {statistics.median(body_sizes):,.0f} B, max {body_sizes[-1]:,} B)", file=sys.stderr, flush=True)

    busy_before = wait_idle(a.wait_idle) if a.wait_idle else None
    load_before = [round(x, 2) for x in os.getloadavg()]
    src_before = source_state()
    log = workdir / "logs" / f"serve-api-{label}.log"
    server = Server(spec, port, token, log)
    phases: dict[str, dict[str, Any]] = {}
    try:
        health = server.wait_ready(a.startup_timeout)
        startup = time.perf_counter() - server.started
        monitor = Monitor(server.proc.pid)
        rss_start = monitor.rss_mb()
        rss_peak = rss_start
        print(f"server ready in {startup:.1f}s on port {port} ({health['accounts']:,} accounts, RSS "
              f"{rss_start:,.0f} MB); load average {load_before}", file=sys.stderr, flush=True)
        check = loadgen.score_and_route_check
        preflight(port, token, loadgen.lead_bodies(spec, 1, as_of=facts["as_of"], tag=tag + "pre", seed=a.seed)[0], log)

        def open_phase(reqs, duration, rate=a.rate):
            return lambda: loadgen.open_loop("127.0.0.1", port, reqs, rate=rate, duration=duration,
                                             connections=a.connections, timeout=a.timeout, check=check,
                                             on_tick=monitor.sample)

        if counts["warmup"]:
            phases["warm-up"] = run_phase("warm-up", monitor, open_phase(slices["warmup"], a.warmup))
            rss_peak = max(rss_peak, phases["warm-up"]["resources"]["server_rss_peak_mb"])
        phases["target"] = run_phase("target", monitor, open_phase(slices["target"], a.duration))
        rss_peak = max(rss_peak, phases["target"]["resources"]["server_rss_peak_mb"])
        for r in also:
            name = f"open {r:g}"
            phases[name] = run_phase(name, monitor, open_phase(slices[name], a.also_duration, r))
            rss_peak = max(rss_peak, phases[name]["resources"]["server_rss_peak_mb"])
        if a.saturation_duration > 0:
            phases["saturation"] = run_phase("saturation", monitor, lambda: loadgen.closed_loop(
                "127.0.0.1", port, slices["saturation"], connections=a.saturation_connections,
                duration=a.saturation_duration, timeout=a.timeout, check=check, on_tick=monitor.sample))
            rss_peak = max(rss_peak, phases["saturation"]["resources"]["server_rss_peak_mb"])
        rss_end = monitor.rss_mb()
    finally:
        exit_code = server.stop()
    load_after = [round(x, 2) for x in os.getloadavg()]

    profile = None
    if a.profile:
        print(f"profiling {a.profile} requests in process ...", file=sys.stderr, flush=True)
        prof_bodies = loadgen.lead_bodies(spec, a.profile + 20, as_of=facts["as_of"], tag=tag + "p", seed=a.seed + 1)
        try:
            profile = profile_service(spec, prof_bodies)
        except Exception as exc:  # noqa: BLE001 - the load test's results still get written
            profile = {"error": f"{type(exc).__name__}: {exc}"}
            print(f"the in-process profile failed: {profile['error']}", file=sys.stderr)

    info = machine()
    import tierwise

    tierwise_src = Path(tierwise.__file__).resolve().parent.parent
    info["tierwise_src"] = str(tierwise_src)
    for pkg in ("fastapi", "uvicorn", "pydantic", "rapidfuzz", "psutil"):
        try:
            info[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            info[pkg] = None
    t = phases["target"]
    errors = t["errors"]
    p99 = t["latency_ms"]["p99"]
    ok = errors == 0 and t["replays"] == 0 and not t["response_problems"] and p99 is not None \
        and p99 < a.target_p99_ms
    notes = []
    if tierwise_src != REPO / "src":
        notes.append(f"tierwise was imported from {tierwise_src} (PYTHONPATH), not from this repository's src/: "
                     f"the git state {info['git']} is the repository's, not the code that ran")
    elif src_before != info["git"]:
        notes.append(f"tierwise's source changed during the run ({src_before} -> {info['git']})")
    cores = os.cpu_count() or 1
    for name, r in phases.items():
        if r["resources"]["others_cores"] > 0.1 * cores:
            notes.append(f"other processes used {r['resources']['others_cores']:.2f} of {cores} cores during the "
                         f"{name} phase: its latencies are inflated (--wait-idle waits for a quiet machine)")
    if t["throughput_rps"] and t["throughput_rps"] < 0.97 * a.rate:
        notes.append(f"the server answered {t['throughput_rps']} req/s, below the {a.rate:g} req/s offered: "
                     "requests queued (see the latencies)")
    if t.get("dispatch_lag_ms", {}).get("p99") and t["dispatch_lag_ms"]["p99"] > 5:
        notes.append(f"the load generator dispatched requests late (p99 lag {t['dispatch_lag_ms']['p99']} ms): "
                     "it was short of CPU; the lag counts in the latencies")
    if phases.get("saturation", {}).get("exhausted"):
        notes.append("the saturation phase ran out of pre-built requests; raise --saturation-max-rps")
    if exit_code not in (0, None, -signal.SIGINT):
        notes.append(f"tierwise serve exited with {exit_code}; log {log}")
    if t["replays"]:
        notes.append(f"{t['replays']} answers were replays: the benchmark meant every request to be a new lead")

    payload = {
        "endpoint": f"POST {ENDPOINT}",
        "params": {"accounts": n_accounts, "leads": facts["rows"].get("leads"), "rate": a.rate, "duration": a.duration,
                   "warmup": a.warmup, "connections": a.connections,
                   "saturation_connections": a.saturation_connections,
                   "saturation_duration": a.saturation_duration, "also_rates": also,
                   "also_duration": a.also_duration, "timeout": a.timeout, "seed": a.seed,
                   "as_of": str(facts["as_of"]), "spec": str(spec), "spec_hash": facts["spec_hash"],
                   "lead_id_tag": tag, "requests_built": len(requests),
                   "body_bytes": {"p50": statistics.median(body_sizes), "max": body_sizes[-1]}},
        "rows": facts["rows"],
        "check": {"target_p99_ms": a.target_p99_ms, "p99_ms": p99, "errors": errors, "replays": t["replays"],
                  "ok": ok},
        "server": {"command": server.argv, "startup_s": round(startup, 1), "rss_after_start_mb": round(rss_start, 1),
                   "rss_peak_mb": round(rss_peak, 1), "rss_end_mb": round(rss_end, 1), "healthz": health,
                   "exit_code": exit_code,
                   "audit_log_bytes": facts["audit_log"].stat().st_size if facts["audit_log"].exists() else None},
        "phases": phases,
        "load_before": load_before, "load_after": load_after, "busy_before": busy_before,
        "machine": info,
        "profile": profile,
        "notes": notes,
        "date": date.today().isoformat(),
    }
    md = markdown(payload)
    a.results_dir.mkdir(parents=True, exist_ok=True)
    out = a.results_dir / f"api-{label}.json"
    out.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    out.with_suffix(".md").write_text(md)
    print(md)
    print(f"wrote {out} and {out.with_suffix('.md')}", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
