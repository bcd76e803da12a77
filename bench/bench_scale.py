"""Out of core: ``tierwise score`` at 1M and 10M accounts with bounded DuckDB memory.

For each size (``--accounts``, default 1M and 10M, 20 events per account on
average: 20M and 200M events) the script

1. generates (once, cached in ``--workdir``) a clean Parquet workspace with the
   demo generator — in a child process, so generation's own peak RSS is
   measured too (events are generated and written in batches of whole
   accounts, so it is bounded by the account tables, not by the events);
2. runs the real CLI, ``tierwise score SPEC --out DIR --engine URL``, with the
   engine URL ``duckdb:///DIR/engine.duckdb?memory_limit=8GB&threads=2&
   temp_directory=DIR/spill`` and the run recorded in a fresh history store
   (the default path, ``--no-history`` to skip it);
3. samples every ``--interval`` seconds the resident memory of the process
   tree (psutil) and the size of the spill folder, and reports wall time, CPU
   time (``wait4``), peak RSS, peak spill bytes, the load average and the share
   of the CPUs other processes used during the run, and the time and peak RSS
   of every step the job reports (loading, scoring, writing, recording).

The results go to ``--json`` (default ``bench/results/scale.json``) and the
Markdown next to it, with the ratio of the largest size to the smallest (time,
CPU and peak RSS against the ratio of accounts and events): near 10x for 10x
the data is linear growth.

Examples
--------
    python bench/bench_scale.py --accounts 2000 20000 --json /tmp/scale.json   # seconds
    python bench/bench_scale.py                                               # 1M and 10M: about an hour
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

from bench_score import busy_cpu_seconds, machine, machine_lines  # noqa: E402

AS_OF = date(2026, 11, 1)
SEED = 7
MB = 1024 * 1024


# --------------------------------------------------------------------------- measuring


@dataclass
class Sample:
    t: float  # seconds since the start
    rss_mb: float  # resident memory of the process tree
    spill_mb: float  # bytes in the spill folder


@dataclass
class Measured:
    argv: list[str]
    wall_s: float
    user_s: float
    sys_s: float
    peak_rss_mb: float
    peak_spill_mb: float
    load_before: tuple[float, float, float]
    load_after: tuple[float, float, float]
    other_cpu_s: float  # CPU seconds other processes used during the run
    samples: list[Sample] = field(default_factory=list)
    started: float = 0.0  # time.time() at the start, to place the child's steps on the samples

    def brief(self) -> dict:
        out = asdict(self)
        out.pop("samples")
        out.pop("started")
        out["cpu_s"] = round(self.user_s + self.sys_s, 1)
        return out


def _tree_rss(proc) -> int:
    import psutil

    total = 0
    try:
        procs = [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return 0
    for p in procs:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass
    return total


def _folder_bytes(path: Path | None) -> int:
    if path is None or not path.exists():
        return 0
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            try:
                total += os.stat(os.path.join(root, name)).st_size
            except OSError:
                pass
    return total


def measure(argv: list[str], log: Path, *, spill: Path | None = None, interval: float = 0.25,
            env: dict[str, str] | None = None) -> Measured:
    """Run ``argv``; wall and CPU time (wait4), peak RSS of the process tree and of the spill folder (sampled)."""
    import psutil

    log.parent.mkdir(parents=True, exist_ok=True)
    load0 = os.getloadavg()
    samples: list[Sample] = []
    with open(log, "wb") as fh:
        busy0 = busy_cpu_seconds()
        started, t0 = time.time(), time.perf_counter()
        proc = subprocess.Popen(argv, stdout=fh, stderr=subprocess.STDOUT, cwd=REPO,
                                env={**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "120", **(env or {})})
        ps = psutil.Process(proc.pid)
        done = threading.Event()

        def sampler() -> None:
            while not done.is_set():
                samples.append(Sample(round(time.perf_counter() - t0, 2), round(_tree_rss(ps) / MB, 1),
                                      round(_folder_bytes(spill) / MB, 1)))
                done.wait(interval)

        thread = threading.Thread(target=sampler, daemon=True)
        thread.start()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        done.set()
        thread.join()
        other = busy_cpu_seconds() - busy0 - usage.ru_utime - usage.ru_stime
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        tail = log.read_text(errors="replace")[-3000:]
        raise SystemExit(f"{' '.join(argv)} failed (exit {code}); log {log}:\n{tail}")
    # ru_maxrss is the largest single process; the sampled tree total catches children and short peaks between
    peak = max([usage.ru_maxrss / 1024, *(s.rss_mb for s in samples)])
    return Measured(argv, round(wall, 2), round(usage.ru_utime, 1), round(usage.ru_stime, 1), round(peak, 1),
                    max([0.0, *(s.spill_mb for s in samples)]), tuple(round(x, 2) for x in load0),
                    tuple(round(x, 2) for x in os.getloadavg()), round(max(0.0, other), 1), samples, started)


# --------------------------------------------------------------------------- workspace


def workspace(workdir: Path, accounts: int, events_per_account: int, seed: int) -> tuple[Path, dict]:
    """The Parquet workspace's spec.yaml (generated by a child process on first use) and how it was made.

    No leads (``tierwise score`` does not read them): the other tables are the demo generator's, as in
    ``bench_score.py``.
    """
    ws = workdir / f"ws-{accounts}x{events_per_account}-seed{seed}-{AS_OF.isoformat()}-noleads"
    done, spec = ws / ".complete", ws / "spec.yaml"
    if done.exists() and spec.exists():
        return spec, json.loads(done.read_text())
    if ws.exists():
        shutil.rmtree(ws)  # a half-written workspace from an interrupted run
    print(f"generating {accounts:,} accounts x {events_per_account} events into {ws} ...", file=sys.stderr, flush=True)
    code = ("import sys; from datetime import date; from tierwise.demo.generate import generate_workspace; "
            "generate_workspace(sys.argv[1], accounts=int(sys.argv[2]), seed=int(sys.argv[3]), "
            "as_of=date.fromisoformat(sys.argv[4]), events_per_account=int(sys.argv[5]), fmt='parquet', "
            "mess=False, leads=0)")
    m = measure([sys.executable, "-c", code, str(ws), str(accounts), str(seed), AS_OF.isoformat(),
                 str(events_per_account)], workdir / "logs" / f"generate-{accounts}.log", interval=1.0)
    info = {"accounts": accounts, "events_per_account": events_per_account, "seed": seed,
            "as_of": AS_OF.isoformat(), "leads": 0, "seconds": m.wall_s, "cpu_s": round(m.user_s + m.sys_s, 1),
            "peak_rss_mb": m.peak_rss_mb, "load_before": m.load_before,
            "bytes": {p.name: p.stat().st_size for p in sorted((ws / "data").iterdir())}}
    done.write_text(json.dumps(info, indent=1))
    print(f"generated in {m.wall_s:.0f} s, peak RSS {m.peak_rss_mb:,.0f} MB", file=sys.stderr, flush=True)
    return spec, info


def parquet_rows(spec: Path) -> dict[str, int]:
    import pyarrow.parquet as pq

    data = spec.parent / "data"
    return {name: pq.ParquetFile(data / f"{name}.parquet").metadata.num_rows for name in ("accounts", "activities")}


# --------------------------------------------------------------------------- the scoring run

# The child: the real CLI (tierwise.cli.main), with a progress that also writes each step's start and end
# (time.time()) to $TIERWISE_BENCH_STEPS, so the parent can put time and peak memory on every step.
CHILD = """
import json, os, sys, time
from contextlib import contextmanager
import tierwise.cli.main as cli
steps, path = [], os.environ["TIERWISE_BENCH_STEPS"]
class Timed:
    @contextmanager
    def step(self, description):
        t = time.time()
        try:
            yield
        finally:
            steps.append({"step": description, "start": t, "end": time.time()})
            with open(path, "w") as fh:
                json.dump(steps, fh)
@contextmanager
def progress():
    yield Timed()
cli._progress = progress
sys.argv = ["tierwise", *sys.argv[1:]]
cli.main()
"""


def _near(samples: list[Sample], t: float, what: str) -> float | None:
    """The sample closest to ``t`` (a step shorter than the sampling interval has none inside it)."""
    return getattr(min(samples, key=lambda x: abs(x.t - t)), what) if samples else None


def engine_url(out: Path, memory_limit: str, threads: int) -> str:
    return (f"duckdb:///{out / 'engine.duckdb'}?memory_limit={memory_limit}&threads={threads}"
            f"&temp_directory={out / 'spill'}")


def score_once(spec: Path, out: Path, *, memory_limit: str, threads: int, history: bool,
               interval: float) -> dict:
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    url = engine_url(out, memory_limit, threads)
    args = ["score", str(spec), "--out", str(out / "scores"), "--as-of", AS_OF.isoformat(), "--engine", url]
    args += ["--history", str(out / "history.duckdb")] if history else ["--no-history"]
    steps_file = out / "steps.json"
    m = measure([sys.executable, "-c", CHILD, *args], out / "score.log", spill=out / "spill", interval=interval,
                env={"TIERWISE_BENCH_STEPS": str(steps_file)})
    steps = []
    marks = json.loads(steps_file.read_text()) if steps_file.exists() else []
    for s in marks:
        lo, hi = s["start"] - m.started, s["end"] - m.started
        inside = [x for x in m.samples if lo <= x.t <= hi]
        steps.append({"step": s["step"], "seconds": round(hi - lo, 2),
                      "peak_rss_mb": max((x.rss_mb for x in inside), default=_near(m.samples, hi, "rss_mb")),
                      "peak_spill_mb": max((x.spill_mb for x in inside), default=_near(m.samples, hi, "spill_mb"))})
    summary = json.loads((out / "scores" / "summary.json").read_text())
    files = {p.name: p.stat().st_size for p in sorted((out / "scores").iterdir()) if p.is_file()}
    if history:
        files["history.duckdb"] = (out / "history.duckdb").stat().st_size
    if (out / "engine.duckdb").exists():
        files["engine.duckdb (scratch)"] = (out / "engine.duckdb").stat().st_size
    timeline = [asdict(x) for x in m.samples[:: max(1, len(m.samples) // 200)]]  # at most ~200 points
    return {**m.brief(), "engine_url": url, "steps": steps, "accounts": summary["accounts"],
            "inputs": summary.get("inputs"), "tiers": {k: v["accounts"] for k, v in summary["tiers"].items()},
            "run": summary.get("run"), "files": files, "timeline": timeline}


# --------------------------------------------------------------------------- report


def markdown(payload: dict) -> str:
    p = payload["params"]
    sizes = payload["sizes"]
    lines = [
        f"### tierwise score out of core: DuckDB memory_limit={p['memory_limit']}, threads={p['threads']}, "
        f"spill to disk",
        "",
        "| accounts | events | wall (s) | CPU (s) | peak RSS, process tree (MB) | peak spill (MB) | "
        "load before / after (1 min) | others' CPU-s during the run | generation (s, peak MB) |",
        "|---:|---:|---:|---:|---:|---:|---|---:|---|",
    ]
    for s in sizes:
        r, g = s["run"], s["generation"]
        lines.append(f"| {s['accounts']:,} | {s['events']:,} | {r['wall_s']:,.1f} | {r['cpu_s']:,.1f} | "
                     f"{r['peak_rss_mb']:,.0f} | {r['peak_spill_mb']:,.0f} | {r['load_before'][0]:.1f} / "
                     f"{r['load_after'][0]:.1f} | {r['other_cpu_s']:,.0f} | "
                     f"{g.get('seconds', 0):,.0f} s, {g.get('peak_rss_mb', 0):,.0f} MB |")
    if payload.get("ratio"):
        q = payload["ratio"]
        lines += ["", f"Growth from {q['from']:,} to {q['to']:,} accounts ({q['data']:.1f}x the accounts, "
                  f"{q['events']:.1f}x the events): wall {q['wall']:.2f}x, CPU {q['cpu']:.2f}x, "
                  f"peak RSS {q['peak_rss']:.2f}x (per account: {q['wall_per_account']:.2f}x the time)."]
    for s in sizes:
        lines += ["", f"Steps at {s['accounts']:,} accounts:", "", "| step | seconds | peak RSS (MB) | spill (MB) |",
                  "|---|---:|---:|---:|"]
        for st in s["run"]["steps"]:
            lines.append(f"| {st['step']} | {st['seconds']:,.1f} | {st['peak_rss_mb'] or 0:,.0f} | "
                         f"{st['peak_spill_mb'] or 0:,.0f} |")
    lines += ["", f"Spill folder and engine file under {p['workdir']}; history recorded: {p['history']}.",
              *[f"- note: {n}" for n in payload.get("notes", [])], "", *machine_lines(payload["machine"])]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--accounts", type=int, nargs="+", default=[1_000_000, 10_000_000])
    p.add_argument("--events-per-account", type=int, default=20)
    p.add_argument("--memory-limit", default="8GB", help="DuckDB memory_limit in the engine URL")
    p.add_argument("--threads", type=int, default=2, help="DuckDB threads in the engine URL")
    p.add_argument("--no-history", action="store_true", help="score with --no-history (default: record the run)")
    p.add_argument("--interval", type=float, default=0.25, help="seconds between memory samples")
    p.add_argument("--workdir", type=Path, default=HERE / "work" / "scale", help="data and outputs (gitignored)")
    p.add_argument("--seed", type=int, default=SEED)
    p.add_argument("--keep-outputs", action="store_true", help="keep scores, history and engine file of each run")
    p.add_argument("--json", type=Path, default=HERE / "results" / "scale.json")
    a = p.parse_args(argv)

    workdir = a.workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    sizes = []
    # generate everything first, so the timed runs sit as close together as possible
    specs = {n: workspace(workdir, n, a.events_per_account, a.seed) for n in a.accounts}
    for n in a.accounts:
        spec, gen = specs[n]
        rows = parquet_rows(spec)
        print(f"scoring {n:,} accounts, {rows['activities']:,} events ...", file=sys.stderr, flush=True)
        out = workdir / "out" / spec.parent.name
        run = score_once(spec, out, memory_limit=a.memory_limit, threads=a.threads, history=not a.no_history,
                         interval=a.interval)
        print(f"  {run['wall_s']:,.1f} s wall, {run['cpu_s']:,.1f} s CPU, peak RSS {run['peak_rss_mb']:,.0f} MB, "
              f"spill {run['peak_spill_mb']:,.0f} MB (load {run['load_before'][0]:.1f})", file=sys.stderr, flush=True)
        if run["accounts"] != rows["accounts"]:
            raise SystemExit(f"scored {run['accounts']:,} accounts of {rows['accounts']:,}")
        if not a.keep_outputs:
            for name in ("scores", "spill"):
                shutil.rmtree(out / name, ignore_errors=True)
            for name in ("engine.duckdb", "engine.duckdb.wal", "history.duckdb", "history.duckdb.wal"):
                (out / name).unlink(missing_ok=True)
        sizes.append({"accounts": rows["accounts"], "events": rows["activities"], "spec": str(spec),
                      "generation": gen, "run": run})

    notes = []
    cores = os.cpu_count() or 1
    for s in sizes:
        r = s["run"]
        if r["other_cpu_s"] > 0.1 * r["wall_s"] * cores + 1:
            notes.append(f"{s['accounts']:,} accounts: other processes used {r['other_cpu_s']:,.0f} CPU-s during "
                         f"the {r['wall_s']:,.0f} s run (of {r['wall_s'] * cores:,.0f} available): the timing is "
                         "inflated by contention")
    ratio = None
    if len(sizes) > 1:
        lo, hi = min(sizes, key=lambda s: s["accounts"]), max(sizes, key=lambda s: s["accounts"])
        k = hi["accounts"] / lo["accounts"]
        ratio = {"from": lo["accounts"], "to": hi["accounts"], "data": round(k, 2),
                 "events": round(hi["events"] / lo["events"], 2),
                 "wall": round(hi["run"]["wall_s"] / lo["run"]["wall_s"], 2),
                 "cpu": round(hi["run"]["cpu_s"] / lo["run"]["cpu_s"], 2),
                 "peak_rss": round(hi["run"]["peak_rss_mb"] / lo["run"]["peak_rss_mb"], 2),
                 "wall_per_account": round(hi["run"]["wall_s"] / lo["run"]["wall_s"] / k, 2)}
    payload = {"params": {"accounts": a.accounts, "events_per_account": a.events_per_account,
                          "memory_limit": a.memory_limit, "threads": a.threads, "history": not a.no_history,
                          "as_of": AS_OF.isoformat(), "seed": a.seed, "workdir": str(workdir)},
               "machine": machine(), "sizes": sizes, "ratio": ratio, "notes": notes}
    text = markdown(payload)
    print(text)
    a.json.parent.mkdir(parents=True, exist_ok=True)
    a.json.write_text(json.dumps(payload, indent=1, default=str) + "\n")
    a.json.with_suffix(".md").write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
