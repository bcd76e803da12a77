"""Where does ``tierwise score`` spend its time? A phase-by-phase profile.

Runs :func:`tierwise.jobs.score.score` in process on a workspace and times:

* importing tierwise (the CLI's modules);
* every progress step the job reports (loading accounts, loading activities,
  scoring, writing ...), plus the time outside steps (summary, top accounts);
* every engine call inside a step (materialize, to_arrow, scalar, write),
  split into Ibis compile time (expression -> SQL) and execution time;
* with ``--operators``, the heaviest DuckDB operators of each query, from
  DuckDB's own JSON profiler (``PRAGMA enable_profiling``).

Peak RSS is sampled after each engine call.

Usage::

    python bench/profile_score.py bench/work/ws-1000000x20-seed7-2026-11-01/spec.yaml --operators
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

T0 = time.perf_counter()
import tierwise.cli.main  # noqa: E402,F401  (what the CLI imports)
from tierwise.engine.base import Engine  # noqa: E402
from tierwise.jobs.score import score  # noqa: E402

IMPORT_S = time.perf_counter() - T0


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Recorder:
    def __init__(self, operators: Path | None, sql_dir: Path | None = None):
        self.steps: list[dict] = []
        self.calls: list[dict] = []
        self.current = "(outside steps)"
        self.operators = operators
        self.sql_dir = sql_dir
        self.n = 0

    @contextmanager
    def step(self, description: str) -> Iterator[None]:
        previous, self.current = self.current, description
        t = time.perf_counter()
        try:
            yield
        finally:
            self.steps.append({"step": description, "seconds": time.perf_counter() - t})
            self.current = previous

    def wrap(self, name: str, method):
        recorder = self

        def timed(engine: Engine, expr, *args, **kwargs):
            t = time.perf_counter()
            try:
                sql = engine.sql(expr)
            except Exception:  # noqa: BLE001 - profiling must not change behaviour
                sql = ""
            compile_s = time.perf_counter() - t
            if recorder.sql_dir is not None:
                recorder.sql_dir.mkdir(parents=True, exist_ok=True)
                (recorder.sql_dir / f"q{len(recorder.calls) + 1:02d}-{name}.sql").write_text(sql + "\n")
            profile_file = None
            raw = getattr(engine, "_raw", None)
            if recorder.operators is not None and raw is not None:
                recorder.n += 1
                profile_file = recorder.operators / f"q{recorder.n:02d}.json"
                raw.execute("PRAGMA enable_profiling='json'")
                raw.execute(f"PRAGMA profiling_output='{profile_file}'")
            t = time.perf_counter()
            result = method(engine, expr, *args, **kwargs)
            run_s = time.perf_counter() - t
            if profile_file is not None:
                raw.execute("PRAGMA disable_profiling")
            recorder.calls.append({
                "step": recorder.current, "call": name if name != "write" else f"write {args[1] if len(args) > 1 else ''}",
                "compile_s": compile_s, "run_s": run_s, "sql_chars": len(sql), "peak_rss_mb": _rss_mb(),
                "profile": str(profile_file) if profile_file else None,
            })
            return result

        return timed


def top_operators(path: str, n: int = 6) -> list[tuple[str, float, int, str]]:
    """(operator, seconds, rows, detail) of the heaviest operators in a DuckDB JSON profile."""
    try:
        tree = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return []
    out = []

    def walk(node: dict) -> None:
        name = node.get("operator_name") or node.get("operator_type")
        if name:
            info = node.get("extra_info") or {}
            detail = ""
            if isinstance(info, dict):
                for key in ("Aggregates", "Groups", "Join Type", "Conditions", "Function", "Table", "Text"):
                    if key in info:
                        detail = f"{key}: {str(info[key])[:70]}"
                        break
            out.append((name.strip(), float(node.get("operator_timing", 0.0)), int(node.get("operator_cardinality", 0)),
                        detail))
        for child in node.get("children", []):
            walk(child)

    walk(tree)
    return sorted(out, key=lambda r: -r[1])[:n]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("spec", type=Path)
    p.add_argument("--out", type=Path, default=None, help="output folder (default: a temporary one)")
    p.add_argument("--as-of", default=None)
    p.add_argument("--operators", action="store_true", help="also show DuckDB's heaviest operators per query")
    p.add_argument("--sql", type=Path, default=None, help="write each engine call's SQL into this folder")
    p.add_argument("--json", type=Path, default=None)
    a = p.parse_args(argv)

    tmp = Path(tempfile.mkdtemp(prefix="tw-profile-"))
    out = a.out or tmp / "out"
    rec = Recorder(tmp if a.operators else None, a.sql)
    for name in ("materialize", "to_arrow", "scalar", "write"):
        setattr(Engine, name, rec.wrap(name, getattr(Engine, name)))
    as_of = date.fromisoformat(a.as_of) if a.as_of else None

    t = time.perf_counter()
    with rec.step("(job)"):
        score(a.spec, out, as_of=as_of, progress=rec)
    total = time.perf_counter() - t

    print(f"import tierwise (CLI modules): {IMPORT_S:6.2f} s")
    print(f"score() total:                {total:6.2f} s   peak RSS {_rss_mb():,.0f} MB\n")
    print("| step | seconds | of which engine calls (compile + run) |")
    print("|---|---:|---:|")
    for s in rec.steps:
        if s["step"] == "(job)":
            continue
        calls = [c for c in rec.calls if c["step"] == s["step"]]
        print(f"| {s['step']} | {s['seconds']:.2f} | {sum(c['compile_s'] + c['run_s'] for c in calls):.2f} |")
    outside = [c for c in rec.calls if c["step"] == "(job)"]
    in_steps = sum(s["seconds"] for s in rec.steps if s["step"] != "(job)")
    print(f"| outside steps (summary, top accounts, Python) | {total - in_steps:.2f} | "
          f"{sum(c['compile_s'] + c['run_s'] for c in outside):.2f} |")
    print("\n| step | engine call | Ibis compile s | DuckDB run s | SQL chars | peak RSS MB |")
    print("|---|---|---:|---:|---:|---:|")
    for c in rec.calls:
        print(f"| {c['step']} | {c['call']} | {c['compile_s']:.2f} | {c['run_s']:.2f} | {c['sql_chars']:,} | "
              f"{c['peak_rss_mb']:,.0f} |")
    if a.operators:
        print("\nHeaviest DuckDB operators per call (operator_timing is summed over threads):")
        for c in rec.calls:
            if c["run_s"] < 0.5 or not c["profile"]:
                continue
            print(f"\n{c['step']} / {c['call']} ({c['run_s']:.2f} s):")
            for name, secs, rows, detail in top_operators(c["profile"]):
                print(f"  {name:<24} {secs:7.2f} s  {rows:>12,} rows  {detail}")
    if a.json:
        a.json.write_text(json.dumps({"import_s": IMPORT_S, "total_s": total, "steps": rec.steps, "calls": rec.calls},
                                     indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
