"""Benchmark the governance reports and the run history store at 1M accounts and 500k opportunities.

Issue targets: "reports over 1M accounts and 500k opportunities in under 10 s; writing a 1M-account run
to the DuckDB store in under 10 s and to PostgreSQL with COPY in under 60 s."

Generates (once, cached in ``--workdir``) a clean Parquet demo workspace with ``--accounts`` accounts,
``--deals-per-account`` opportunities each on average (0.5: ~500k at 1M), leads with a status and two
events per account, then records two runs in the workspace's DuckDB history (``tierwise score`` a
quarter before the as-of date and on it, so the report has drift to compute). Then, ``--repeats`` times
interleaved, each in its own process:

* ``report``         -- ``tierwise report SPEC --out DIR --html FILE``: load and check accounts,
  opportunities, leads and reps; read the latest run and the one before it from the store; segment and
  tier performance, stage conversion, the funnel against benchmarks, guardrails, ICP coverage, PSI and
  tier migration, the change events; JSON, CSV and HTML. Wall time around the process.
* ``pipeline``       -- ``tierwise pipeline SPEC --out DIR --html FILE``: velocity, time in stage and the
  zombie list (every zombie written to CSV). Wall time around the process.
* ``store-duckdb``   -- a child process records the latest run (1M accounts and their four drift
  attributes, read from a Parquet copy) into a fresh DuckDB history file: ``HistoryStore.record`` is
  timed (digest, one transaction, bulk insert, commit); then the same run again (the idempotent path).
* ``store-postgres`` -- the same into a fresh database on a real PostgreSQL server the benchmark starts
  (initdb + pg_ctl in a temporary folder, default durability: fsync on; as root the cluster runs as the
  ``postgres`` account), rows loaded with ``COPY``.

Peak memory is the process's own maximum resident set size. The 2-core machine is shared: every run
records the load average and how much CPU other processes used during it (``--wait-idle`` waits for an
idle machine first); medians are reported.

Examples
--------
    python bench/bench_reports.py --accounts 20000 --repeats 1                # a quick look
    python bench/bench_reports.py --repeats 3 --json bench/results/reports-1m.json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

from bench_score import (  # noqa: E402
    AS_OF,
    SEED,
    Run,
    cpu_busy,
    machine,
    machine_lines,
    run_once,
    source_state,
    tierwise_command,
    wait_idle,
)

TARGETS_S = {"report": 10.0, "pipeline": 10.0, "store-duckdb": 10.0, "store-postgres": 60.0}
TARGET_SIZE = {"accounts": 1_000_000, "opportunities": 500_000}
CONTENDERS = ("report", "pipeline", "store-duckdb", "store-postgres")
DESCRIPTIONS = {
    "report": "tierwise report (load + checks, performance, funnel, guardrails, ICP, drift, JSON/CSV/HTML)",
    "pipeline": "tierwise pipeline (velocity, time in stage, zombies; JSON/CSV/HTML)",
    "store-duckdb": "record a 1M-account run in a fresh DuckDB history file (HistoryStore.record)",
    "store-postgres": "record a 1M-account run in a fresh PostgreSQL database with COPY (HistoryStore.record)",
}


# --------------------------------------------------------------------------- workspace and runs


def workspace(workdir: Path, accounts: int, deals: float, seed: int) -> Path:
    """The generated Parquet workspace's spec.yaml with two recorded runs, generating it on first use."""
    ws = workdir / f"reports-{accounts}-deals{deals:g}-seed{seed}-{AS_OF.isoformat()}"
    spec = ws / "spec.yaml"
    if (ws / ".complete").exists() and spec.exists():
        return spec
    if ws.exists():
        shutil.rmtree(ws)  # a half-written workspace from an interrupted run
    print(f"generating {accounts:,} accounts, {deals:g} deals each ... into {ws}", file=sys.stderr, flush=True)
    t0 = time.perf_counter()
    # in a child process: this one stays small, so the peak RSS of the timed processes (which starts at
    # their parent's size when they are forked) is their own
    subprocess.run([sys.executable, str(Path(__file__).resolve()), "--_generate", str(ws), str(accounts), str(deals),
                    str(seed)], check=True, cwd=REPO)
    spec = ws / "spec.yaml"
    for day in (AS_OF - timedelta(days=91), AS_OF):  # two runs: the report computes drift between them
        print(f"scoring as of {day} (recorded in the workspace history) ...", file=sys.stderr, flush=True)
        done = subprocess.run([*tierwise_command(), "score", str(spec), "--out", str(ws / f"scores-{day}"),
                               "--as-of", day.isoformat()], capture_output=True, text=True, cwd=REPO)
        if done.returncode != 0:
            raise SystemExit(f"scoring failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    subprocess.run([sys.executable, str(Path(__file__).resolve()), "--_export", str(spec), str(ws / "run.parquet")],
                   check=True, cwd=REPO)
    (ws / ".complete").write_text(json.dumps({"accounts": accounts, "deals_per_account": deals, "seed": seed,
                                              "seconds": round(time.perf_counter() - t0, 1)}))
    return spec


def export_run(spec: Path, path: Path) -> None:
    """The latest run's accounts and drift attributes as Parquet: the input of the store benchmarks."""
    import pyarrow.parquet as pq

    from tierwise.jobs.governance import history_target
    from tierwise.spec.loader import load_spec
    from tierwise.store.history import open_history

    with open_history(history_target(load_spec(spec), None)) as store:
        run = store.latest()
        assert run is not None
        table = store.accounts(run.run_id)
        attrs = store.attributes(run.run_id)
    for name in attrs.column_names[1:]:
        table = table.append_column(name, attrs[name])
    meta = {"spec_name": run.spec_name, "spec_hash": run.spec_hash, "as_of": run.as_of.isoformat(),
            "tiers": run.tiers, "inputs": run.inputs}
    pq.write_table(table.replace_schema_metadata({"tierwise_run": json.dumps(meta)}), path)


def counts(spec: Path) -> dict[str, int]:
    import pyarrow.parquet as pq

    from tierwise.spec.loader import load_spec

    sf = load_spec(spec)
    return {name: pq.ParquetFile(sf.resolve(src.path)).metadata.num_rows for name, src in sf.spec.data.sources().items()
            if name in ("accounts", "opportunities", "leads", "reps")}


# --------------------------------------------------------------------------- the store child


def _store_child(kind: str, target: str, parquet: str, out: str) -> None:
    """Record the exported run into ``target`` and time it (run in its own process by :func:`store_run`)."""
    from datetime import date

    import pyarrow.parquet as pq

    from tierwise.store.history import RunRecord, open_history

    table = pq.read_table(parquet)
    meta = json.loads(table.schema.metadata[b"tierwise_run"])
    record = RunRecord(spec_name=meta["spec_name"], spec_hash=meta["spec_hash"], as_of=date.fromisoformat(meta["as_of"]),
                       accounts=table.replace_schema_metadata(None), tiers=meta["tiers"], inputs=meta["inputs"],
                       run_id="bench")
    t0 = time.perf_counter()
    with open_history(target) as store:
        opened = time.perf_counter() - t0
        first = store.record(record)
        again = store.record(record)
        stored = store._rows("SELECT count(*) FROM tw_run_accounts WHERE run_id = 'bench'")[0][0]
    Path(out).write_text(json.dumps({"open_s": round(opened, 3), "record_s": first.seconds, "status": first.status,
                                     "rerecord_s": again.seconds, "rerecord_status": again.status,
                                     "rows": stored, "attributes": sorted(first.run.attributes)}))


def store_run(kind: str, target: str, parquet: Path, log: Path) -> tuple[Run, dict]:
    result = log.with_suffix(".json")
    run = run_once([sys.executable, str(Path(__file__).resolve()), "--_store", kind, target, str(parquet),
                    str(result)], log)
    return run, json.loads(result.read_text())


# --------------------------------------------------------------------------- PostgreSQL


class Postgres:
    """A throw-away PostgreSQL cluster on 127.0.0.1 (default durability), run unprivileged when we are root."""

    def __init__(self, bin_dir: Path):
        import pwd
        import socket

        self.bin_dir = bin_dir
        self.folder = Path(tempfile.mkdtemp(prefix="tierwise-bench-pg-"))
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.os_user = None
        if os.geteuid() == 0:
            for name in (os.environ.get("TIERWISE_PG_OS_USER"), "postgres", "nobody"):
                try:
                    entry = pwd.getpwnam(name) if name else None
                except KeyError:
                    entry = None
                if entry:
                    self.os_user = name
                    os.chown(self.folder, entry.pw_uid, entry.pw_gid)
                    break

    def _run(self, *args: str) -> None:
        cmd = [str(self.bin_dir / args[0]), *args[1:]]
        if self.os_user:
            cmd = ["runuser", "-u", self.os_user, "--", *cmd] if shutil.which("runuser") else \
                ["su", self.os_user, "-s", "/bin/sh", "-c", " ".join(cmd)]
        subprocess.run(cmd, check=True, capture_output=True, timeout=120)

    def start(self) -> Postgres:
        data = self.folder / "data"
        self._run("initdb", "-D", str(data), "-U", "tierwise", "--auth=trust", "-E", "UTF8", "--locale=C")
        self._run("pg_ctl", "-D", str(data), "-l", str(self.folder / "server.log"), "-w", "-t", "60", "-o",
                  f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.folder} -c max_wal_size=4GB", "start")
        return self

    def database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(self.url("postgres"), autocommit=True) as con:
            con.execute(f"DROP DATABASE IF EXISTS {name}")
            con.execute(f"CREATE DATABASE {name}")
        return self.url(name)

    def url(self, db: str) -> str:
        return f"postgresql://tierwise@127.0.0.1:{self.port}/{db}"

    def version(self) -> str:
        import psycopg

        with psycopg.connect(self.url("postgres")) as con:
            return con.execute("SHOW server_version").fetchone()[0]

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.folder / "data"), "-m", "fast", "-w", "stop")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)


def postgres_bin() -> Path | None:
    import glob

    found = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name)
                   if Path(p).parent.name.isdigit() else 0, reverse=True)
    if shutil.which("initdb"):
        found.append(str(Path(shutil.which("initdb")).parent))
    return next((Path(f) for f in found if (Path(f) / "initdb").exists()), None)


# --------------------------------------------------------------------------- results


@dataclass
class Result:
    name: str
    command: list[str]
    runs: list[Run] = field(default_factory=list)
    measured: list[dict] = field(default_factory=list)  # the store child's own timings

    @property
    def wall_s(self) -> float:
        return statistics.median(r.wall_s for r in self.runs)

    @property
    def peak_rss_mb(self) -> float:
        return statistics.median(r.peak_rss_mb for r in self.runs)

    @property
    def timed_s(self) -> float:
        """What the target is about: the process wall time, or the store's record() time."""
        if self.measured:
            return statistics.median(m["record_s"] for m in self.measured)
        return self.wall_s


def markdown(results: dict[str, Result], info: dict, params: dict) -> str:
    rows = params["rows"]
    lines = [f"### tierwise reports and run history: {rows.get('accounts', 0):,} accounts, "
             f"{rows.get('opportunities', 0):,} opportunities, {rows.get('leads', 0):,} leads",
             "",
             "| what | runs | median (s) | target (s) | met | median process wall (s) | median peak RSS (MB) | "
             "load before (median) |",
             "|---|---:|---:|---:|---|---:|---:|---:|"]
    for r in results.values():
        target = TARGETS_S[r.name]
        met = "yes" if r.timed_s <= target else "NO"
        load = statistics.median(x.load_before for x in r.runs)
        lines.append(f"| {r.name} | {len(r.runs)} | {r.timed_s:.2f} | {target:g} | {met} | {r.wall_s:.2f} | "
                     f"{r.peak_rss_mb:,.0f} | {load:.1f} |")
    lines.append("")
    for r in results.values():
        lines.append(f"- {r.name}: {DESCRIPTIONS[r.name]}")
        if r.measured:
            m = r.measured
            again = statistics.median(x["rerecord_s"] for x in m)
            each = ", ".join(f"{x['record_s']:.2f}" for x in m)
            lines.append(f"  - record() {each} s; recording the same run again ({m[0]['rerecord_status']}): median "
                         f"{again:.2f} s; {m[0]['rows']:,} rows, attributes {', '.join(m[0]['attributes'])}")
        else:
            each = ", ".join(f"{x.wall_s:.2f}" for x in r.runs)
            lines.append(f"  - runs: {each} s")
    if params.get("postgres"):
        lines.append(f"- PostgreSQL {params['postgres']} (default durability: fsync on; max_wal_size 4GB)")
    lines += ["", *machine_lines(info)]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--_store"]:
        _store_child(*argv[1:5])
        return 0
    if argv[:1] == ["--_generate"]:
        from tierwise.demo import generate_workspace

        generate_workspace(argv[1], accounts=int(argv[2]), events_per_account=2, fmt="parquet", mess=False,
                           deals_per_account=float(argv[3]), leads=int(argv[2]) // 5, events_per_lead=0,
                           seed=int(argv[4]), as_of=AS_OF)
        return 0
    if argv[:1] == ["--_export"]:
        export_run(Path(argv[1]), Path(argv[2]))
        return 0
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--accounts", type=int, default=1_000_000)
    p.add_argument("--deals-per-account", type=float, default=0.5)
    p.add_argument("--repeats", type=int, default=3, help="runs of each, interleaved (medians reported)")
    p.add_argument("--workdir", type=Path, default=HERE / "work", help="generated data and outputs (gitignored)")
    p.add_argument("--seed", type=int, default=SEED)
    p.add_argument("--only", nargs="+", choices=CONTENDERS, default=None, help="run only these")
    p.add_argument("--wait-idle", type=float, default=0, metavar="SECONDS",
                   help="before each run, wait up to this long for other work to leave the CPUs idle")
    p.add_argument("--json", type=Path, default=None, help="also write the results as JSON here (and a .md next to it)")
    a = p.parse_args(argv)

    import signal

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # a stopped benchmark still stops its server
    workdir = a.workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    spec = workspace(workdir, a.accounts, a.deals_per_account, a.seed)
    out_root = workdir / "out" / spec.parent.name
    names = [n for n in CONTENDERS if a.only is None or n in a.only]
    notes: list[str] = []
    pg = None
    if "store-postgres" in names:
        bin_dir = postgres_bin()
        try:
            import psycopg  # noqa: F401
        except ImportError:
            bin_dir = None
        if bin_dir is None:
            names.remove("store-postgres")
            notes.append("store-postgres skipped: no PostgreSQL server binaries or no psycopg")
        else:
            pg = Postgres(bin_dir).start()
    tw = tierwise_command()
    cmds = {"report": [*tw, "report", str(spec), "--out", str(out_root / "report"), "--html",
                       str(out_root / "report" / "report.html")],
            "pipeline": [*tw, "pipeline", str(spec), "--out", str(out_root / "pipeline"), "--html",
                         str(out_root / "pipeline" / "pipeline.html")],
            "store-duckdb": ["record", "duckdb"], "store-postgres": ["record", "postgresql"]}
    src_before = source_state()
    results = {n: Result(n, cmds[n]) for n in names}
    try:
        for i in range(a.repeats):
            for n in names:
                busy = wait_idle(a.wait_idle) if a.wait_idle else cpu_busy(1.0)
                log = out_root / "logs" / f"{n}-{i + 1}.log"
                if n.startswith("store-"):
                    if n == "store-duckdb":
                        target = out_root / "stores" / f"history-{i + 1}.duckdb"
                        for f in (target, Path(f"{target}.wal")):
                            f.unlink(missing_ok=True)
                        target.parent.mkdir(parents=True, exist_ok=True)
                        run, measured = store_run("duckdb", str(target), spec.parent / "run.parquet", log)
                    else:
                        assert pg is not None
                        run, measured = store_run("postgresql", pg.database(f"bench_{i + 1}"),
                                                  spec.parent / "run.parquet", log)
                    results[n].measured.append(measured)
                else:
                    run = run_once(cmds[n], log)
                run.busy_before = round(busy, 2)
                results[n].runs.append(run)
                extra = f", record() {results[n].measured[-1]['record_s']:.2f} s" if n.startswith("store-") else ""
                print(f"  run {i + 1}: {n:<15} {run.wall_s:8.2f} s{extra}  {run.peak_rss_mb:9,.0f} MB peak RSS  "
                      f"(load before {run.load_before:.1f}, {run.busy_before:.0%} busy; others used "
                      f"{run.other_cpu_s:.0f} CPU-s during it)", file=sys.stderr, flush=True)
        pg_version = pg.version() if pg else None
    finally:
        if pg is not None:
            pg.stop()

    info = machine()
    if src_before != info["git"]:
        notes.append(f"tierwise's source changed during the benchmark ({src_before} -> {info['git']})")
    cores = os.cpu_count() or 1
    contended = [f"{n} run {i + 1}: {r.other_cpu_s:.0f} CPU-s in {r.wall_s:.0f} s"
                 for n, res in results.items() for i, r in enumerate(res.runs)
                 if r.other_cpu_s > 0.1 * r.wall_s * cores + 1]
    if contended:
        notes.append("other processes used the CPUs during some runs, so those timings are inflated "
                     f"({'; '.join(contended)}); --wait-idle waits for an idle machine before each run")
    params = {"accounts": a.accounts, "deals_per_account": a.deals_per_account, "seed": a.seed,
              "as_of": AS_OF.isoformat(), "spec": str(spec), "repeats": a.repeats, "rows": counts(spec),
              "postgres": pg_version}
    text = markdown(results, info, params) + "".join(f"\n- note: {n}" for n in notes)
    print(text)
    if a.json:
        payload = {
            "params": params, "machine": info,
            "targets_s": TARGETS_S, "target_size": TARGET_SIZE,
            "results": {n: {"description": DESCRIPTIONS[n], "command": r.command, "median_s": r.timed_s,
                            "median_process_wall_s": r.wall_s, "median_peak_rss_mb": r.peak_rss_mb,
                            "met": r.timed_s <= TARGETS_S[n], "runs": [asdict(x) for x in r.runs],
                            "measured": r.measured} for n, r in results.items()},
            "notes": notes,
        }
        a.json.parent.mkdir(parents=True, exist_ok=True)
        a.json.write_text(json.dumps(payload, indent=2, default=str) + "\n")
        a.json.with_suffix(".md").write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
