"""Benchmark ``tierwise score`` against hand-written DuckDB SQL and idiomatic pandas.

Generates (once, cached in ``--workdir``) a clean demo workspace in Parquet,
then runs four contenders on it, each in its own process, ``--repeats`` times
interleaved:

* ``tierwise``  -- the real CLI, ``tierwise score SPEC --out DIR`` (load,
  validate, score, write Parquet + CSV + summary);
* ``duckdb_sql`` -- ``bench/baselines/duckdb_sql.py``: one hand-written SQL
  query for the starter spec, written with COPY to Parquet and CSV (scoring
  only: no input checks);
* ``duckdb_sql_validated`` -- ``bench/baselines/duckdb_sql_validated.py``: the
  same query after hand-written SQL for the input checks tierwise makes
  (missing and repeated keys, negative values, unknown accounts), with the
  quarantined rows written out;
* ``pandas``    -- ``bench/baselines/pandas_score.py``: the same in idiomatic
  pandas.

Wall time is measured around each process; peak memory is that process's own
maximum resident set size (``ru_maxrss`` from ``wait4``). The outputs are then
checked against each other (identical tiers and segments, scores within 0.01)
and a Markdown table is printed. See ``bench/README.md``.

Examples
--------
    python bench/bench_score.py --accounts 20000
    python bench/bench_score.py --json bench/results/1m.json           # 1M accounts, 20M events
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import date
from importlib import metadata
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
AS_OF = date(2026, 11, 1)
SEED = 7
SCORE_TOLERANCE = 0.01
TARGETS = {"wall_vs_sql": 1.3, "rss_vs_sql": 1.5, "pandas_vs_tierwise": 15.0}
SCORE_COLUMNS = ("fit_score", "signal_score", "engagement_score", "score")


# --------------------------------------------------------------------------- workspace


def workspace(workdir: Path, accounts: int, events_per_account: int, seed: int) -> Path:
    """The generated Parquet workspace's spec.yaml, generating it on first use."""
    ws = workdir / f"ws-{accounts}x{events_per_account}-seed{seed}-{AS_OF.isoformat()}"
    done = ws / ".complete"
    spec = ws / "spec.yaml"
    if done.exists() and spec.exists():
        return spec
    if ws.exists():
        shutil.rmtree(ws)  # a half-written workspace from an interrupted run
    from tierwise.demo.generate import generate_workspace

    print(f"generating {accounts:,} accounts x {events_per_account} events into {ws} ...", file=sys.stderr, flush=True)
    t0 = time.perf_counter()
    spec = Path(generate_workspace(ws, accounts=accounts, seed=seed, as_of=AS_OF,
                                   events_per_account=events_per_account, fmt="parquet", mess=False))
    done.write_text(json.dumps({"accounts": accounts, "events_per_account": events_per_account, "seed": seed,
                                "as_of": AS_OF.isoformat(), "seconds": round(time.perf_counter() - t0, 1)}))
    print(f"generated in {time.perf_counter() - t0:.1f}s", file=sys.stderr, flush=True)
    return spec


@dataclass
class Inputs:
    spec: Path
    accounts: Path
    activities: Path
    spec_hash: str
    rows: dict[str, int]


def inputs(spec_path: Path) -> Inputs:
    import pyarrow.parquet as pq

    from tierwise.spec.loader import load_spec

    spec_file = load_spec(spec_path)
    sources = spec_file.spec.data.sources()
    paths = {name: Path(spec_file.resolve(sources[name].path)) for name in ("accounts", "activities")}
    for name, path in paths.items():
        if path.suffix != ".parquet":
            raise SystemExit(f"{spec_path}: data.{name} is {path.name}; the benchmark needs a Parquet workspace")
    rows = {name: pq.ParquetFile(path).metadata.num_rows for name, path in paths.items()}
    return Inputs(spec_path, paths["accounts"], paths["activities"], spec_file.spec.fingerprint(), rows)


# --------------------------------------------------------------------------- contenders


def tierwise_command() -> list[str]:
    exe = Path(sys.executable).parent / "tierwise"
    if exe.exists():
        return [str(exe)]
    found = shutil.which("tierwise")
    return [found] if found else [sys.executable, "-c", "from tierwise.cli.main import main; main()"]


def commands(inp: Inputs, out_root: Path) -> dict[str, tuple[list[str], Path]]:
    """name -> (argv, output folder)."""
    ref_args = ["--accounts", str(inp.accounts), "--activities", str(inp.activities),
                "--as-of", AS_OF.isoformat(), "--spec-hash", inp.spec_hash]
    out = {name: out_root / name for name in ("tierwise", "duckdb_sql", "duckdb_sql_validated", "pandas")}
    return {
        "tierwise": ([*tierwise_command(), "score", str(inp.spec), "--out", str(out["tierwise"]),
                      "--as-of", AS_OF.isoformat()], out["tierwise"]),
        "duckdb_sql": ([sys.executable, str(HERE / "baselines" / "duckdb_sql.py"), *ref_args,
                        "--out", str(out["duckdb_sql"])], out["duckdb_sql"]),
        "duckdb_sql_validated": ([sys.executable, str(HERE / "baselines" / "duckdb_sql_validated.py"), *ref_args,
                                  "--out", str(out["duckdb_sql_validated"])], out["duckdb_sql_validated"]),
        "pandas": ([sys.executable, str(HERE / "baselines" / "pandas_score.py"), *ref_args,
                    "--out", str(out["pandas"])], out["pandas"]),
    }


def busy_cpu_seconds() -> float:
    """CPU seconds all processes have spent busy since boot (from /proc/stat); 0.0 where unavailable."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return 0.0
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def cpu_busy(seconds: float = 2.0) -> float:
    """Share of all cores busy over the next ``seconds`` (from /proc/stat); 0.0 where unavailable."""
    def sample() -> tuple[int, int]:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
        return sum(fields), idle

    try:
        total0, idle0 = sample()
        time.sleep(seconds)
        total1, idle1 = sample()
    except (OSError, ValueError, IndexError):
        return 0.0
    return 1.0 - (idle1 - idle0) / max(1, total1 - total0)


def wait_idle(max_wait: float, threshold: float = 0.1) -> float:
    """Wait (up to ``max_wait`` seconds) until other work leaves the CPUs idle; return the last busy share."""
    deadline = time.monotonic() + max_wait
    busy = cpu_busy(1.0)
    while busy > threshold and time.monotonic() < deadline:
        print(f"  waiting for the machine to go idle ({busy:.0%} busy) ...", file=sys.stderr, flush=True)
        time.sleep(10)
        busy = cpu_busy(2.0)
    return busy


@dataclass
class Run:
    wall_s: float
    peak_rss_mb: float
    user_s: float
    sys_s: float
    load_before: float  # 1-minute load average when the run started: other work on the machine skews timings
    busy_before: float = 0.0  # share of the CPUs busy with other work just before the run
    other_cpu_s: float = 0.0  # CPU seconds other processes used during the run (contention)


def run_once(argv: list[str], log: Path) -> Run:
    """Run one process; wall time around it, peak RSS and CPU time of that process alone."""
    log.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "120"}
    load = os.getloadavg()[0]
    with open(log, "wb") as fh:
        busy0 = busy_cpu_seconds()
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=fh, stderr=subprocess.STDOUT, env=env, cwd=REPO)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        other = busy_cpu_seconds() - busy0 - usage.ru_utime - usage.ru_stime
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        tail = log.read_text(errors="replace")[-3000:]
        raise SystemExit(f"{' '.join(argv)} failed (exit {proc.returncode}); log {log}:\n{tail}")
    return Run(round(wall, 3), round(usage.ru_maxrss / 1024, 1), round(usage.ru_utime, 2), round(usage.ru_stime, 2),
               round(load, 2), other_cpu_s=round(max(0.0, other), 1))


@dataclass
class Result:
    name: str
    command: list[str]
    runs: list[Run] = field(default_factory=list)

    @property
    def wall_s(self) -> float:
        return statistics.median(r.wall_s for r in self.runs)

    @property
    def peak_rss_mb(self) -> float:
        return statistics.median(r.peak_rss_mb for r in self.runs)


# --------------------------------------------------------------------------- checking


def compare(outputs: dict[str, Path], examples: int = 5) -> dict:
    """Tiers and segments identical, scores within 0.01, for every account, against tierwise's output."""
    import duckdb

    con = duckdb.connect()
    for name, folder in outputs.items():
        con.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet('{folder / 'scores.parquet'}')")
    report: dict = {"accounts": {n: con.execute(f"SELECT count(*) FROM {n}").fetchone()[0] for n in outputs},
                    "pairs": {}}
    base = "tierwise"
    for other in outputs:
        if other == base:
            continue
        pair: dict = {}
        pair["missing_in_" + other] = con.execute(
            f"SELECT count(*) FROM {base} a ANTI JOIN {other} b USING (account_id)").fetchone()[0]
        pair["missing_in_" + base] = con.execute(
            f"SELECT count(*) FROM {other} b ANTI JOIN {base} a USING (account_id)").fetchone()[0]
        joined = f"FROM {base} a JOIN {other} b USING (account_id)"
        checks = {
            "tier": "a.tier IS DISTINCT FROM b.tier",
            "segment": "a.segment IS DISTINCT FROM b.segment OR a.priority IS DISTINCT FROM b.priority "
                       "OR a.motion IS DISTINCT FROM b.motion OR a.touches_per_month IS DISTINCT FROM b.touches_per_month",
            **{c: f"abs(a.{c} - b.{c}) > {SCORE_TOLERANCE} OR (a.{c} IS NULL) <> (b.{c} IS NULL)" for c in SCORE_COLUMNS},
            # informational: the reasons are not part of the pass/fail check
            "reasons": "a.reason_1 IS DISTINCT FROM b.reason_1 OR a.reason_2 IS DISTINCT FROM b.reason_2 "
                       "OR a.reason_3 IS DISTINCT FROM b.reason_3",
        }
        for label, cond in checks.items():
            n = con.execute(f"SELECT count(*) {joined} WHERE {cond}").fetchone()[0]
            entry: dict = {"mismatches": n}
            if label in SCORE_COLUMNS:
                entry["max_abs_diff"] = con.execute(f"SELECT max(abs(a.{label} - b.{label})) {joined}").fetchone()[0]
            if n:
                cols = ["account_id", "score", "tier", "segment", "fit_score", "signal_score", "engagement_score",
                        "reason_1", "reason_2", "reason_3"]
                sel = ", ".join([f"a.{c} AS {base}_{c}" if c != "account_id" else "account_id" for c in cols]
                                + [f"b.{c} AS {other}_{c}" for c in cols if c != "account_id"])
                rows = con.execute(f"SELECT {sel} {joined} WHERE {cond} ORDER BY account_id LIMIT {examples}")
                names = [d[0] for d in rows.description]
                entry["examples"] = [dict(zip(names, r, strict=True)) for r in rows.fetchall()]
            pair[label] = entry
        pair["ok"] = (pair["missing_in_" + other] == 0 and pair["missing_in_" + base] == 0
                      and all(pair[k]["mismatches"] == 0 for k in ("tier", "segment", *SCORE_COLUMNS)))
        report["pairs"][f"{base} vs {other}"] = pair
    report["ok"] = all(p["ok"] for p in report["pairs"].values())
    con.close()
    return report


# --------------------------------------------------------------------------- machine info


def source_state() -> str | None:
    """The commit plus a digest of uncommitted changes under src/, to tell which tierwise code ran."""
    import hashlib

    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True,
                                check=True).stdout.strip()
        diff = subprocess.run(["git", "diff", "HEAD", "--", "src"], cwd=REPO, capture_output=True, check=True).stdout
        untracked = subprocess.run(["git", "ls-files", "--others", "--exclude-standard", "--", "src"], cwd=REPO,
                                   capture_output=True, text=True, check=True).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        return None
    digest = hashlib.sha256(diff)
    for name in sorted(untracked):
        digest.update(name.encode() + (REPO / name).read_bytes())
    return commit + (f"+dirty.{digest.hexdigest()[:10]}" if diff or untracked else "")


def machine() -> dict:
    def version(pkg: str) -> str | None:
        try:
            return metadata.version(pkg)
        except metadata.PackageNotFoundError:
            return None

    cpu = None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        cpu = platform.processor() or None
    ram_gb = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram_gb = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "ram_gb": ram_gb,
        "os": platform.platform(),
        "python": platform.python_version(),
        **{pkg: version(pkg) for pkg in ("tierwise", "duckdb", "ibis-framework", "pandas", "pyarrow", "numpy")},
        "git": source_state(),
    }


# --------------------------------------------------------------------------- report


def markdown(results: dict[str, Result], info: dict, params: dict, check: dict | None) -> str:
    sql = results.get("duckdb_sql")
    lines = [
        f"### tierwise score benchmark: {params['accounts']:,} accounts, {params['events']:,} events",
        "",
        "| contender | runs | median wall (s) | median peak RSS (MB) | wall vs SQL | peak RSS vs SQL |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in results.values():
        wall_ratio = f"{r.wall_s / sql.wall_s:.2f}x" if sql else "-"
        rss_ratio = f"{r.peak_rss_mb / sql.peak_rss_mb:.2f}x" if sql else "-"
        lines.append(f"| {r.name} | {len(r.runs)} | {r.wall_s:.2f} | {r.peak_rss_mb:,.0f} | {wall_ratio} | {rss_ratio} |")
    lines.append("")
    tw = results.get("tierwise")
    targets = []
    if tw and sql:
        w, m = tw.wall_s / sql.wall_s, tw.peak_rss_mb / sql.peak_rss_mb
        targets.append(f"tierwise wall / SQL = {w:.2f}x (target <= {TARGETS['wall_vs_sql']}x): "
                       f"{'MET' if w <= TARGETS['wall_vs_sql'] else 'MISSED'}")
        targets.append(f"tierwise peak RSS / SQL = {m:.2f}x (target <= {TARGETS['rss_vs_sql']}x): "
                       f"{'MET' if m <= TARGETS['rss_vs_sql'] else 'MISSED'}")
    if tw and "duckdb_sql_validated" in results:
        v = results["duckdb_sql_validated"]
        targets.append(f"tierwise / hand-written SQL doing the same checks: wall {tw.wall_s / v.wall_s:.2f}x, "
                       f"peak RSS {tw.peak_rss_mb / v.peak_rss_mb:.2f}x (no target; the like-for-like comparison)")
    if tw and "pandas" in results:
        s = results["pandas"].wall_s / tw.wall_s
        targets.append(f"pandas wall / tierwise = {s:.1f}x (target >= {TARGETS['pandas_vs_tierwise']}x): "
                       f"{'MET' if s >= TARGETS['pandas_vs_tierwise'] else 'MISSED'}")
    lines += [f"- {t}" for t in targets]
    if check is not None:
        lines.append(f"- outputs agree (tiers, segments identical; scores within {SCORE_TOLERANCE}): "
                     f"{'YES' if check['ok'] else 'NO'}")
        for pair, p in check["pairs"].items():
            detail = ", ".join(f"{k} {v['mismatches']}" for k, v in p.items() if isinstance(v, dict))
            lines.append(f"  - {pair}: mismatches: {detail}")
    lines += ["", *machine_lines(info)]
    return "\n".join(lines)


def machine_lines(info: dict) -> list[str]:
    """The machine and versions lines that close every benchmark's Markdown."""
    return [
        f"Machine: {info['cpu']}, {info['cores']} cores, {info['ram_gb']} GB RAM, {info['os']}",
        f"Versions: Python {info['python']}, tierwise {info['tierwise']} ({info['git']}), duckdb {info['duckdb']}, "
        f"ibis {info['ibis-framework']}, pandas {info['pandas']}, pyarrow {info['pyarrow']}, numpy {info['numpy']}",
    ]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--accounts", type=int, default=1_000_000)
    p.add_argument("--events-per-account", type=int, default=20)
    p.add_argument("--repeats", type=int, default=3, help="runs per contender, interleaved (median reported)")
    p.add_argument("--pandas-repeats", type=int, default=None,
                   help="runs of the pandas baseline (default: --repeats); 1 is enough at full scale")
    p.add_argument("--workdir", type=Path, default=HERE / "work", help="generated data and outputs (gitignored)")
    p.add_argument("--seed", type=int, default=SEED)
    p.add_argument("--spec", type=Path, default=None,
                   help="use this existing Parquet workspace instead of generating one")
    p.add_argument("--skip-pandas", action="store_true")
    p.add_argument("--only", nargs="+", choices=("tierwise", "duckdb_sql", "duckdb_sql_validated", "pandas"), default=None,
                   help="run only these contenders (the check compares whatever ran)")
    p.add_argument("--wait-idle", type=float, default=0, metavar="SECONDS",
                   help="before each run, wait up to this long for other work to leave the CPUs idle")
    p.add_argument("--json", type=Path, default=None, help="also write the results as JSON here")
    a = p.parse_args(argv)

    workdir = a.workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    spec = a.spec.resolve() if a.spec else workspace(workdir, a.accounts, a.events_per_account, a.seed)
    inp = inputs(spec)
    out_root = workdir / "out" / spec.parent.name
    cmds = commands(inp, out_root)
    names = a.only or ["tierwise", "duckdb_sql", "duckdb_sql_validated", *([] if a.skip_pandas else ["pandas"])]
    repeats = {n: a.repeats for n in names}
    if "pandas" in repeats and a.pandas_repeats is not None:
        repeats["pandas"] = a.pandas_repeats

    src_before = source_state()
    results = {n: Result(n, cmds[n][0]) for n in names}
    for n in names:
        shutil.rmtree(cmds[n][1], ignore_errors=True)
    for i in range(max(repeats.values())):
        for n in names:
            if i >= repeats[n]:
                continue
            busy = wait_idle(a.wait_idle) if a.wait_idle else cpu_busy(1.0)
            run = run_once(cmds[n][0], out_root / "logs" / f"{n}-{i + 1}.log")
            run.busy_before = round(busy, 2)
            results[n].runs.append(run)
            print(f"  run {i + 1}: {n:<10} {run.wall_s:8.2f} s  {run.peak_rss_mb:9,.0f} MB peak RSS  "
                  f"(user {run.user_s:.1f} s, sys {run.sys_s:.1f} s; before: load {run.load_before:.1f}, "
                  f"{run.busy_before:.0%} busy; others used {run.other_cpu_s:.0f} CPU-s during it)",
                  file=sys.stderr, flush=True)

    info = machine()
    notes = []
    if src_before != info["git"]:
        notes.append(f"tierwise's source changed during the benchmark ({src_before} -> {info['git']}): "
                     "the tierwise runs may not all be the same code")
    cores = os.cpu_count() or 1
    contended = [f"{n} run {i + 1}: {r.other_cpu_s:.0f} CPU-s in {r.wall_s:.0f} s"
                 for n, res in results.items() for i, r in enumerate(res.runs)
                 if r.other_cpu_s > 0.1 * r.wall_s * cores + 1]
    if contended:
        notes.append("other processes used the CPUs during some runs, so those timings are inflated "
                     f"({'; '.join(contended)}); --wait-idle waits for an idle machine before each run")
    if "tierwise" in results:
        summary = json.loads((cmds["tierwise"][1] / "summary.json").read_text())
        quarantined = {k: v["quarantined"] for k, v in summary.get("inputs", {}).items()}
        if any(quarantined.values()):
            notes.append(f"tierwise quarantined rows the references score: {quarantined}")
    check = compare({n: cmds[n][1] for n in names}) if len(names) > 1 and "tierwise" in names else None
    params = {"accounts": inp.rows["accounts"], "events": inp.rows["activities"],
              "events_per_account": a.events_per_account, "as_of": AS_OF.isoformat(), "seed": a.seed,
              "spec": str(spec), "repeats": repeats}
    print(markdown(results, info, params, check))
    for note in notes:
        print(f"- note: {note}")
    if check is not None and not check["ok"]:
        print("\nMismatch details:\n" + json.dumps(check["pairs"], indent=2, default=str))

    if a.json:
        payload = {
            "params": params,
            "machine": info,
            "results": {n: {"command": r.command, "median_wall_s": r.wall_s, "median_peak_rss_mb": r.peak_rss_mb,
                            "runs": [asdict(x) for x in r.runs]} for n, r in results.items()},
            "targets": TARGETS,
            "check": check,
            "notes": notes,
        }
        a.json.parent.mkdir(parents=True, exist_ok=True)
        a.json.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    return 0 if check is None or check["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
