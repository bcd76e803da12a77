"""Benchmark ``tierwise rfm`` against idiomatic pandas and hand-written DuckDB SQL doing the same RFM.

Issue 5's target: "10M transactions for 1M customers in under 20 s, peak memory under 4 GB."

Generates (once, cached in ``--workdir``) a Parquet file of ``--transactions`` order lines for
``--customers`` customers over three years: purchase rates vary across customers (gamma), each
customer buys for a while and stops, orders have 1-3 lines, 3% of lines are returns (a negative
amount, 1-29 days after the order, under the same order id) and about 1% of lines fall after the
as-of date. Rows are shuffled, as an export would be. Then runs each contender in its own process,
``--repeats`` times interleaved:

* ``tierwise``        -- the real CLI, the quick look: ``tierwise rfm --transactions FILE --customer
  customer_id --date order_date --amount amount --order order_id --as-of 2026-11-01 --out DIR``: load
  and check every row (types, missing ids, repeated transaction ids, quarantine), RFM, scores,
  segments, health, lifetime value (BG/NBD + Gamma-Gamma fitted on a 250,000-customer sample,
  predicted for all), rfm.parquet + rfm.csv + summary.json. The target is about this one.
* ``tierwise-no-clv`` -- the same with ``--no-clv``: the work the baselines do, plus the input checks.
* ``duckdb_sql``      -- ``baselines/duckdb_rfm.py``: the RFM as one hand-written SQL query.
* ``pandas``          -- ``baselines/pandas_rfm.py``: the RFM in notebook-style pandas.

Wall time is measured around each process; peak memory is that process's own maximum resident set
size (``ru_maxrss`` from ``wait4``). The outputs are then compared customer by customer: recency,
frequency, monetary (within a cent), the three scores and the segment must be
identical, as must first and last purchase, motion and return lines (exit status 1 otherwise). After the timed runs tierwise runs once more in a child
process with a progress object that times each step.

Examples
--------
    python bench/bench_rfm.py --customers 20000 --transactions 200000        # a quick look
    python bench/bench_rfm.py --repeats 3 --wait-idle 600 --json bench/results/rfm-10m.json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import asdict
from datetime import date
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

from bench_score import (  # noqa: E402
    AS_OF,
    SEED,
    Result,
    cpu_busy,
    machine,
    machine_lines,
    run_once,
    source_state,
    tierwise_command,
    wait_idle,
)

TARGET = {"wall_s": 20.0, "peak_rss_mb": 4096.0, "transactions": 10_000_000, "customers": 1_000_000}
CONTENDERS = ("tierwise", "tierwise-no-clv", "duckdb_sql", "pandas")
DESCRIPTIONS = {
    "tierwise": "tierwise rfm quick look: checks + quarantine, RFM, segments, health, CLV (BG/NBD + Gamma-Gamma)",
    "tierwise-no-clv": "the same with --no-clv (the baselines' work plus the input checks)",
    "duckdb_sql": "hand-written DuckDB SQL: RFM, scores, segments (no checks, no health, no CLV)",
    "pandas": "idiomatic pandas: groupby, rank, np.select (no checks, no health, no CLV)",
}
COMPARED = ("recency_days", "frequency", "r_score", "f_score", "m_score", "segment", "motion", "first_purchase",
            "last_purchase", "return_lines")


# --------------------------------------------------------------------------- data


def generate(path: Path, customers: int, transactions: int, seed: int = SEED, as_of: date = AS_OF) -> int:
    """Write the transactions file (see the module docstring); return its rows."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    def ids(prefix: str, numbers, width: int) -> pa.Array:
        return pc.binary_join_element_wise(prefix, pc.utf8_lpad(pc.cast(pa.array(numbers), pa.string()), width, "0"),
                                           "")

    rng = np.random.default_rng(seed)
    as_of_day = (as_of - date(1970, 1, 1)).days
    n_orders = max(customers, int(transactions / 1.5))
    rate = rng.gamma(1.0, 1.0, customers)
    cdf = np.cumsum(rate)
    cdf /= cdf[-1]
    # every customer orders at least once; the other orders go by purchase rate
    cust = np.concatenate([np.arange(customers), np.searchsorted(cdf, rng.random(n_orders - customers), side="right")])
    start = as_of_day - rng.integers(1, 3 * 365, customers)
    end = np.minimum(start + rng.exponential(700, customers).astype(np.int64) + 1, as_of_day + 7)
    order_day = start[cust] + (rng.random(n_orders) * (end[cust] - start[cust] + 1)).astype(np.int64)
    lines = 1 + rng.binomial(2, 0.25, n_orders)  # 1-3 lines, 1.5 on average
    extra = transactions - int(lines.sum())
    if extra > 0:
        lines[rng.choice(n_orders, extra, replace=False)] += 1
    elif extra < 0:
        lines[np.nonzero(lines > 1)[0][:-extra]] -= 1
    order = np.repeat(np.arange(n_orders), lines)
    m = len(order)
    day = order_day[order].copy()
    amount = np.round(rng.lognormal(3.3, 0.9, m), 2)
    returned = rng.random(m) < 0.03
    amount[returned] = -np.round(amount[returned] * rng.uniform(0.2, 1.0, returned.sum()), 2)
    day[returned] += rng.integers(1, 30, returned.sum())
    shuffle = rng.permutation(m)
    table = pa.table({
        "transaction_id": ids("T", np.arange(1, m + 1), 9),
        "customer_id": ids("C", cust[order][shuffle] + 1, 7),
        "order_id": ids("O", order[shuffle] + 1, 8),
        "order_date": pa.array(day[shuffle].astype("int32"), pa.int32()).cast(pa.date32()),
        "amount": pa.array(amount[shuffle]),
    })
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    pq.write_table(table, tmp, compression="zstd", row_group_size=1_000_000)
    os.replace(tmp, path)
    return m


def dataset(workdir: Path, customers: int, transactions: int, seed: int) -> Path:
    folder = workdir / f"rfm-{customers}x{transactions}-seed{seed}-{AS_OF.isoformat()}"
    path = folder / "transactions.parquet"
    if (folder / ".complete").exists() and path.exists():
        return path
    print(f"generating {transactions:,} transactions for {customers:,} customers into {path} ...", file=sys.stderr,
          flush=True)
    t0 = time.perf_counter()
    rows = generate(path, customers, transactions, seed)
    (folder / ".complete").write_text(json.dumps({"rows": rows, "customers": customers, "seed": seed,
                                                  "seconds": round(time.perf_counter() - t0, 1)}))
    return path


# --------------------------------------------------------------------------- contenders


def commands(path: Path, out_root: Path) -> dict[str, tuple[list[str], Path]]:
    out = {n: out_root / n for n in CONTENDERS}
    quick = ["rfm", "--transactions", str(path), "--customer", "customer_id", "--date", "order_date",
             "--amount", "amount", "--order", "order_id", "--as-of", AS_OF.isoformat()]
    base = ["--transactions", str(path), "--as-of", AS_OF.isoformat()]
    return {
        "tierwise": ([*tierwise_command(), *quick, "--out", str(out["tierwise"])], out["tierwise"]),
        "tierwise-no-clv": ([*tierwise_command(), *quick, "--no-clv", "--out", str(out["tierwise-no-clv"])],
                            out["tierwise-no-clv"]),
        "duckdb_sql": ([sys.executable, str(HERE / "baselines" / "duckdb_rfm.py"), *base, "--out",
                        str(out["duckdb_sql"])], out["duckdb_sql"]),
        "pandas": ([sys.executable, str(HERE / "baselines" / "pandas_rfm.py"), *base, "--out", str(out["pandas"])],
                   out["pandas"]),
    }


def stage_timings(path: Path, out_root: Path) -> dict:
    """Run tierwise once in a child process with a timing progress object; the steps it reports."""
    argv = [sys.executable, str(Path(__file__).resolve()), "--_stages", str(path), str(out_root / "stages")]
    proc = subprocess.run(argv, capture_output=True, text=True, cwd=REPO, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    if proc.returncode != 0:
        return {"error": proc.stderr[-2000:]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _stages_child(path: str, out: str) -> None:
    from contextlib import contextmanager

    t_import = time.perf_counter()
    from tierwise.jobs.rfm import rfm_file
    imports_s = time.perf_counter() - t_import
    steps: list[dict] = []

    class Timer:
        @contextmanager
        def step(self, description: str):
            t0, c0 = time.perf_counter(), time.process_time()
            entry = {"step": description, "seconds": None, "cpu_seconds": None}
            steps.append(entry)
            try:
                yield
            finally:
                entry["seconds"] = round(time.perf_counter() - t0, 3)
                entry["cpu_seconds"] = round(time.process_time() - c0, 3)
                print(f"  {description}: {entry['seconds']:.2f}s (CPU {entry['cpu_seconds']:.2f}s)", file=sys.stderr,
                      flush=True)

    t0 = time.perf_counter()
    rfm_file(path, out, customer="customer_id", date_column="order_date", amount="amount", order="order_id",
             as_of=AS_OF, progress=Timer())
    total = time.perf_counter() - t0
    print(json.dumps({"imports_s": round(imports_s, 3), "total_s": round(total, 3), "steps": steps,
                      "outside_steps_s": round(total - sum(s["seconds"] for s in steps), 3)}))


# --------------------------------------------------------------------------- checking


def compare(out: dict[str, Path], examples: int = 5) -> dict:
    """Every contender's rfm.parquet against tierwise's, customer by customer."""
    import duckdb

    con = duckdb.connect()
    for name, folder in out.items():
        con.execute(f"CREATE VIEW \"{name}\" AS SELECT * FROM read_parquet('{folder / 'rfm.parquet'}')")
    base = "tierwise" if "tierwise" in out else next(iter(out))
    report: dict = {"customers": {n: con.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0] for n in out},
                    "pairs": {}}
    for other in out:
        if other == base:
            continue
        differs = " OR ".join([f"a.{c} IS DISTINCT FROM b.{c}" for c in COMPARED]
                              + ["abs(a.monetary - b.monetary) > 0.005", "abs(a.returned_amount - b.returned_amount) > 0.005"])
        joined = f'FROM "{base}" a JOIN "{other}" b USING (account_id)'
        pair = {
            "compared": con.execute(f"SELECT count(*) {joined}").fetchone()[0],
            "missing": con.execute(f'SELECT count(*) FROM "{base}" a ANTI JOIN "{other}" b USING (account_id)')
            .fetchone()[0],
            "extra": con.execute(f'SELECT count(*) FROM "{other}" b ANTI JOIN "{base}" a USING (account_id)')
            .fetchone()[0],
            "mismatches": con.execute(f"SELECT count(*) {joined} WHERE {differs}").fetchone()[0],
        }
        if pair["mismatches"]:
            cur = con.execute(f"SELECT account_id, {', '.join(f'a.{c} AS a_{c}, b.{c} AS b_{c}' for c in (*COMPARED, 'monetary'))} "
                              f"{joined} WHERE {differs} ORDER BY account_id LIMIT {examples}")
            names = [d[0] for d in cur.description]
            pair["examples"] = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
        pair["ok"] = pair["mismatches"] == pair["missing"] == pair["extra"] == 0 and pair["compared"] > 0
        report["pairs"][f"{base} vs {other}"] = pair
    report["ok"] = all(p["ok"] for p in report["pairs"].values())
    con.close()
    return report


# --------------------------------------------------------------------------- report


def markdown(results: dict[str, Result], info: dict, params: dict, check: dict, stages: dict | None,
             summary: dict | None) -> str:
    sql = results.get("duckdb_sql")
    lines = [
        f"### tierwise rfm benchmark: {params['rows']:,} transactions, {params['customers']:,} customers",
        "",
        "| contender | what it does | runs | median wall (s) | median peak RSS (MB) | wall vs SQL | RSS vs SQL |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in results.values():
        wr = f"{r.wall_s / sql.wall_s:.2f}x" if sql else "-"
        mr = f"{r.peak_rss_mb / sql.peak_rss_mb:.2f}x" if sql else "-"
        lines.append(f"| {r.name} | {DESCRIPTIONS[r.name]} | {len(r.runs)} | {r.wall_s:.2f} | {r.peak_rss_mb:,.0f} | "
                     f"{wr} | {mr} |")
    lines.append("")
    tw = results.get("tierwise")
    if tw:
        at_size = params["rows"] >= 0.99 * TARGET["transactions"] and params["customers"] >= TARGET["customers"]
        wall_ok, rss_ok = tw.wall_s < TARGET["wall_s"], tw.peak_rss_mb < TARGET["peak_rss_mb"]
        verdict = ("MET" if wall_ok and rss_ok else "MISSED") if at_size else \
            "not judged: the target is for 10M transactions and 1M customers"
        lines.append(f"- target: tierwise rfm in < {TARGET['wall_s']:.0f} s with < 4 GB peak: {tw.wall_s:.2f} s, "
                     f"{tw.peak_rss_mb:,.0f} MB -> {verdict}")
    if "pandas" in results and tw:
        lines.append(f"- pandas / tierwise wall: {results['pandas'].wall_s / tw.wall_s:.1f}x; "
                     f"tierwise-no-clv / SQL: {results['tierwise-no-clv'].wall_s / sql.wall_s:.2f}x"
                     if "tierwise-no-clv" in results and sql else
                     f"- pandas / tierwise wall: {results['pandas'].wall_s / tw.wall_s:.1f}x")
    for pair, p in check["pairs"].items():
        lines.append(f"- {pair}: {p['compared']:,} customers compared, {p['mismatches']:,} differ, "
                     f"{p['missing']:,} missing, {p['extra']:,} extra -> {'AGREE' if p['ok'] else 'DISAGREE'}")
    if summary:
        rows = summary["rows"]
        lines.append(f"- tierwise rows: {rows['read']:,} read, {rows['quarantined']:,} quarantined, "
                     f"{rows['after_as_of']:,} after as_of, {rows['used']:,} used ({rows['return_lines']:,} returns); "
                     f"customers {summary['customers']:,}; reconciles: {rows['reconciles']}")
        clv = summary.get("clv", {})
        if "bgnbd" in clv:
            bg = clv["bgnbd"]
            lines.append(f"- CLV: BG/NBD r={bg['r']:.3f} alpha={bg['alpha']:.3f} a={bg['a']:.3g} b={bg['b']:.3g} "
                         f"fitted on {bg['customers_fitted']:,} customers"
                         + (f" ({clv['note']})" if clv.get("note") else ""))
    if stages and "steps" in stages:
        lines += ["", f"tierwise steps, in process (one run after the timed ones; imports {stages['imports_s']:.2f} s):",
                  "", "| step | seconds | CPU seconds |", "|---|---:|---:|"]
        lines += [f"| {s['step']} | {s['seconds']:.2f} | {s['cpu_seconds']:.2f} |" for s in stages["steps"]]
        lines += [f"| (outside the steps) | {stages['outside_steps_s']:.2f} | |",
                  f"| **total** | **{stages['total_s']:.2f}** | |"]
    elif stages and "error" in stages:
        lines.append(f"- stage timings failed: {stages['error'][-300:]}")
    lines += ["", *machine_lines(info)]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--_stages"]:
        _stages_child(argv[1], argv[2])
        return 0
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--customers", type=int, default=TARGET["customers"])
    p.add_argument("--transactions", type=int, default=TARGET["transactions"])
    p.add_argument("--repeats", type=int, default=3, help="runs per contender, interleaved (median reported)")
    p.add_argument("--pandas-repeats", type=int, default=None, help="runs of the pandas baseline (default: --repeats)")
    p.add_argument("--workdir", type=Path, default=HERE / "work", help="generated data and outputs (gitignored)")
    p.add_argument("--seed", type=int, default=SEED)
    p.add_argument("--only", nargs="+", choices=CONTENDERS, default=None, help="run only these contenders")
    p.add_argument("--no-stages", action="store_true", help="skip the in-process run that times tierwise's steps")
    p.add_argument("--wait-idle", type=float, default=0, metavar="SECONDS",
                   help="before each run, wait up to this long for other work to leave the CPUs idle")
    p.add_argument("--json", type=Path, default=None, help="also write the results as JSON here (and a .md next to it)")
    a = p.parse_args(argv)

    workdir = a.workdir.resolve()
    path = dataset(workdir, a.customers, a.transactions, a.seed)
    out_root = workdir / "out" / path.parent.name
    cmds = commands(path, out_root)
    names = [n for n in CONTENDERS if a.only is None or n in a.only]
    repeats = {n: (a.pandas_repeats if n == "pandas" and a.pandas_repeats is not None else a.repeats) for n in names}

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
            print(f"  run {i + 1}: {n:<16} {run.wall_s:8.2f} s  {run.peak_rss_mb:9,.0f} MB peak RSS  "
                  f"(user {run.user_s:.1f} s, sys {run.sys_s:.1f} s; before: load {run.load_before:.1f}, "
                  f"{run.busy_before:.0%} busy; others used {run.other_cpu_s:.0f} CPU-s during it)",
                  file=sys.stderr, flush=True)

    check = compare({n: cmds[n][1] for n in names})
    summary = None
    if "tierwise" in results:
        summary = json.loads((cmds["tierwise"][1] / "summary.json").read_text())
    stages = None
    if not a.no_stages and "tierwise" in names:
        print("timing tierwise's steps in process ...", file=sys.stderr, flush=True)
        stages = stage_timings(path, out_root)

    import pyarrow.parquet as pq

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
    params = {"customers": a.customers, "rows": pq.ParquetFile(path).metadata.num_rows, "seed": a.seed,
              "as_of": AS_OF.isoformat(), "file": str(path), "repeats": repeats}
    text = markdown(results, info, params, check, stages, summary)
    text += "".join(f"\n- note: {note}" for note in notes)
    print(text)
    if not check["ok"]:
        print("\nFAIL: the contenders disagree:\n" + json.dumps(check["pairs"], indent=2, default=str))
    if a.json:
        payload = {
            "params": params, "machine": info, "target": TARGET,
            "results": {n: {"description": DESCRIPTIONS[n], "command": r.command, "median_wall_s": r.wall_s,
                            "median_peak_rss_mb": r.peak_rss_mb, "runs": [asdict(x) for x in r.runs]}
                        for n, r in results.items()},
            "check": check, "stages": stages, "notes": notes,
            "tierwise_summary": {k: summary[k] for k in ("rows", "customers", "clv", "health")} if summary else None,
        }
        a.json.parent.mkdir(parents=True, exist_ok=True)
        a.json.write_text(json.dumps(payload, indent=2, default=str) + "\n")
        a.json.with_suffix(".md").write_text(text + "\n")
    return 0 if check["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
