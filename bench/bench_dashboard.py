"""First byte of the dashboard's list pages at 1M accounts (issue 9: under 300 ms).

Default: a synthetic table of ACCOUNTS (1,000,000) scored accounts (the columns ``tierwise score`` writes)
behind the real dashboard router, served by uvicorn on loopback. ``--workspace SPEC`` serves a real
workspace through ``create_app`` instead (``tierwise demo --accounts 1000000 --out W`` makes one; its
start-up scoring is reported too). Each URL is fetched REPEAT times; the time to the response's first
byte (status line and headers read) is reported as median and p95 in milliseconds.

    python bench/bench_dashboard.py                     # synthetic, 1M accounts
    python bench/bench_dashboard.py --workspace W/spec.yaml
    python bench/bench_dashboard.py --out bench/results   # also dashboard-1m.json and .md (machine, load)
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pyarrow as pa


def synthetic(n: int, seed: int = 1) -> pa.Table:
    rng = np.random.default_rng(seed)
    score = np.round(rng.beta(2, 5, n) * 100, 1)
    tier = np.select([score >= 80, score >= 60, score >= 40], ["A", "B", "C"], "D")
    segments = np.array(["Strategic Enterprise", "Growth Enterprise", "Established Mid-Market",
                         "Emerging Mid-Market", "SMB Growth", "SMB Standard"])
    words = np.array(["Acme", "Zephyr", "Juniper", "Bolt", "Crux", "Nimbus", "Orbit", "Quill", "Vertex", "Halo"])
    kinds = np.array(["Media", "Labs", "Systems", "Group", "Health", "Capital", "Logistics", "Works"])
    ids = np.char.add("A", np.char.zfill(np.arange(1, n + 1).astype(str), 7))
    names = np.char.add(np.char.add(words[rng.integers(0, 10, n)], " "), kinds[rng.integers(0, 8, n)])
    names = np.char.add(np.char.add(names, " "), np.arange(n).astype(str))
    owners = np.char.add("R", np.char.zfill(rng.integers(1, 200, n).astype(str), 4))
    def const(value):
        return pa.array([value] * n, pa.string())

    return pa.table({
        "account_id": ids, "account_name": names, "owner_id": owners,
        "fit_score": score, "signal_score": score, "engagement_score": score, "score": score, "tier": tier,
        "segment": segments[rng.integers(0, 6, n)], "priority": const("P1"),
        "motion": const("inside_sales"), "reason_1": const("employees = 500: +5.0"), "reason_2": const(None),
        "reason_3": const(None)})


def serve(app) -> tuple[str, int, object]:
    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off",
                                        access_log=False))
    threading.Thread(target=srv.run, daemon=True).start()
    while not srv.started:
        time.sleep(0.05)
    return "127.0.0.1", port, srv


def first_byte(host: str, port: int, url: str) -> float:
    conn = http.client.HTTPConnection(host, port)
    conn.connect()
    t0 = time.perf_counter()
    conn.request("GET", url)
    response = conn.getresponse()  # returns once the status line and headers have arrived
    elapsed = time.perf_counter() - t0
    response.read()
    conn.close()
    assert response.status == 200, (url, response.status)
    return elapsed * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workspace", help="a spec to serve through create_app (default: synthetic accounts)")
    ap.add_argument("--accounts", type=int, default=int(os.environ.get("ACCOUNTS", 1_000_000)))
    ap.add_argument("--repeat", type=int, default=int(os.environ.get("REPEAT", 30)))
    ap.add_argument("--out", help="folder for dashboard-<N>.json and .md (the figures, machine and load average)")
    args = ap.parse_args()
    t0 = time.perf_counter()
    if args.workspace:
        from tierwise.api.app import create_app

        app = create_app(args.workspace, token="bench")
        dashboard = app.state.dashboard
        label = f"workspace {args.workspace}"
    else:
        from fastapi import FastAPI

        from tierwise.demo import generate_workspace
        from tierwise.spec.loader import load_spec
        from tierwise.web.app import Dashboard, router
        from tierwise.web.data import DashboardData, spec_context

        spec_file = load_spec(generate_workspace(tempfile.mkdtemp(), accounts=10, leads=0))
        table = synthetic(args.accounts)
        t0 = time.perf_counter()
        dashboard = Dashboard(spec_file, DashboardData(table, **spec_context(spec_file)), as_of=spec_file.spec.as_of)
        app = FastAPI()
        app.include_router(router(dashboard))
        label = f"synthetic, {args.accounts:,} accounts"
    start = time.perf_counter() - t0
    host, port, srv = serve(app)
    data = dashboard.data
    some = data.top(1)[0]
    urls = {
        "list, page 1": "/accounts",
        "list, page 1000": "/accounts?page=1000",
        "tier + segment + score range": f"/accounts?tier=B&segment={data.segment_names[0].replace(' ', '+')}"
                                        "&min_score=60&max_score=75",
        "owner filter, page 3": f"/accounts?owner={data.owners[0]}&page=3",
        "search by name": "/accounts?q=juniper+media+12",
        "search by id": f"/accounts?q={some['account_id']}",
        "overview": "/",
    }
    print(f"dashboard first byte — {label}; start-up (dashboard table + overview) {start:.1f} s; "
          f"{data.overview.accounts:,} accounts; {args.repeat} requests each")
    print(f"{'page':32} {'median ms':>10} {'p95 ms':>8} {'max ms':>8}")
    load_before = [round(x, 2) for x in os.getloadavg()]
    rows = []
    for name, url in urls.items():
        first_byte(host, port, url)  # warm
        times = sorted(first_byte(host, port, url) for _ in range(args.repeat))
        p95 = times[min(len(times) - 1, int(round(0.95 * (len(times) - 1))))]
        print(f"{name:32} {statistics.median(times):10.1f} {p95:8.1f} {times[-1]:8.1f}")
        rows.append({"page": name, "url": url, "median_ms": round(statistics.median(times), 1),
                     "p95_ms": round(p95, 1), "max_ms": round(times[-1], 1)})
    load_after = [round(x, 2) for x in os.getloadavg()]
    srv.should_exit = True
    print(f"load average (1, 5, 15 min): before {load_before}, after {load_after}")
    if args.out:
        write_results(Path(args.out), label, args, start, rows, load_before, load_after)


def write_results(out: Path, label: str, args: argparse.Namespace, start: float, rows: list[dict],
                  load_before: list[float], load_after: list[float]) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_score import machine, machine_lines

    info = machine()
    size = f"{args.accounts // 1_000_000}m" if args.accounts % 1_000_000 == 0 else str(args.accounts)
    stem = out / (f"dashboard-{size}" if not args.workspace else "dashboard-workspace")
    payload = {"params": {"label": label, "accounts": args.accounts, "repeat": args.repeat,
                          "workspace": args.workspace}, "machine": info, "target_ms": 300,
               "startup_s": round(start, 2), "load_before": load_before, "load_after": load_after, "pages": rows}
    out.mkdir(parents=True, exist_ok=True)
    stem.with_suffix(".json").write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    lines = [f"### tierwise dashboard first byte: {label}", "",
             f"Start-up (dashboard table + overview) {start:.1f} s; {args.repeat} requests per page after one warm-up; "
             f"time to the response's first byte on loopback (uvicorn). Target: under 300 ms.", "",
             "| page | median (ms) | p95 (ms) | max (ms) | met |", "|---|---:|---:|---:|---|"]
    lines += [f"| {r['page']} | {r['median_ms']:.1f} | {r['p95_ms']:.1f} | {r['max_ms']:.1f} | "
              f"{'yes' if r['p95_ms'] < 300 else 'no'} |" for r in rows]
    lines += ["", f"Load average (1, 5, 15 min): before {load_before}, after {load_after} "
                  f"(the machine was shared with other work).", "", *machine_lines(info)]
    stem.with_suffix(".md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"results: {stem.with_suffix('.json')}, {stem.with_suffix('.md')}")


if __name__ == "__main__":
    main()
