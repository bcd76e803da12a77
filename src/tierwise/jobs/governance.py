"""The run history and the governance reports as library functions, shared by the CLI and the demo.

* :func:`record_run` — what ``tierwise score`` calls to record a run in the history store;
* :func:`report` — ``tierwise report``: segment performance, the funnel against benchmarks, guardrails,
  ICP coverage, drift against the previous run and the tier check;
* :func:`pipeline` — ``tierwise pipeline``: velocity, time in stage, zombies;
* :func:`runs` and :func:`changes` — ``tierwise history``.

These functions write JSON and CSV only; the HTML page (``--html``) is the dashboard's static report,
rendered by the CLI with :func:`tierwise.web.app.write_static` (domain code never imports the web layer).

Reports read a run's accounts (score, tier, segment, owner) from the history store and the deals and
leads from the spec's files; the engine does every aggregation. When the store holds no run yet, the
report scores one first (and records it).

Examples
--------
>>> from tierwise.jobs.governance import report
>>> result = report("demo-workspace/spec.yaml", "out/report")                            # doctest: +SKIP
>>> result.payload["guardrails"]["verdict"]                                              # doctest: +SKIP
'actionable: every guardrail holds'
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.csv as pcsv

from tierwise.compile import governance as G
from tierwise.compile.conditions import compile_condition
from tierwise.engine import Engine, connect, write_text_atomic
from tierwise.errors import TierwiseError
from tierwise.io.loader import TableLoad, load_table, locate
from tierwise.jobs.workspace import write_json
from tierwise.progress import NULL_PROGRESS, Progress
from tierwise.spec.loader import SpecFile, load_spec
from tierwise.store.history import HistoryStore, RunInfo, RunRecord, open_history, redact, resolve_history

#: Opportunity columns the reports read (checked columns are always loaded too).
DEAL_COLUMNS = {"opportunity_id", "account_id", "name", "stage", "amount", "created_at", "closed_at", "is_closed",
                "is_won", "owner_id", "stage_changed_at"}


def history_target(spec_file: SpecFile | None, history: str | None) -> str:
    """The store a command uses: ``--history``, else the spec's ``governance.history``."""
    if history:
        return resolve_history(history, spec_file.base_dir if spec_file else None)
    if spec_file is None:
        raise TierwiseError("name the history store: give a spec or --history URL")
    return resolve_history(spec_file.spec.governance.history, spec_file.base_dir)


# --------------------------------------------------------------------------- recording


def record_run(ws: Any, scores: ir.Table, day: date, summary: dict[str, Any], *, history: str | None = None,
               run_id: str | None = None, progress: Progress = NULL_PROGRESS) -> dict[str, Any]:
    """Record a scored run (accounts, inputs, drift attributes) in the history store; one transaction."""
    spec_file: SpecFile = ws.spec_file
    spec = spec_file.spec
    engine: Engine = ws.engine
    target = history_target(spec_file, history)
    with progress.step("recording the run"):
        accounts = ws.table("accounts")
        types = {name: _kind(dtype) for name, dtype in accounts.schema().items()}
        attrs = G.drift_attributes(spec, types)
        keep = [c for c in ("account_id", "owner_id", "score", "fit_score", "signal_score", "engagement_score",
                            "tier", "segment") if c in scores.columns]
        table = scores.select(*keep)
        if attrs:
            a = accounts.select("account_id", **{name: G.attribute_value(accounts[name]) for name in attrs})
            table = table.inner_join(a, "account_id")
        acc = engine.to_arrow(table)
        record = RunRecord(spec_name=spec.name, spec_hash=spec.fingerprint(), spec_version=spec.version,
                           as_of=day, accounts=acc, tiers=[t.name for t in spec.tiers], run_id=run_id,
                           inputs=summary.get("inputs", {}),
                           summary={"tiers": {k: v["accounts"] for k, v in summary.get("tiers", {}).items()},
                                    "segments": {s["segment"]: s["accounts"] for s in summary.get("segments", [])}})
        with open_history(target) as store:
            result = store.record(record)
    return {"run_id": result.run.run_id, "status": result.status, "store": redact(target),
            "seconds": result.seconds, "accounts": result.run.accounts, "attributes": sorted(result.run.attributes)}


def _kind(dtype: Any) -> str:
    if dtype.is_array():
        return "list"
    if dtype.is_numeric() and not dtype.is_boolean():
        return "float"
    return "string"


# --------------------------------------------------------------------------- shared loading


@dataclass
class ReportResult:
    out_dir: Path
    files: dict[str, str]
    payload: dict[str, Any]
    run: RunInfo
    previous: RunInfo | None = None
    notes: list[str] = field(default_factory=list)


@dataclass
class _Context:
    spec_file: SpecFile
    engine: Engine
    store: HistoryStore
    run: RunInfo
    run_table: ir.Table
    as_of: date
    loads: dict[str, TableLoad]
    deals: ir.Table | None
    notes: list[str]


def _find_run(spec_file: SpecFile, target: str, run_id: str | None, out: Path, *, engine_url: str | None,
              progress: Progress) -> str:
    """The run a report describes: ``run_id``, else this workspace's latest; with none recorded, score now."""
    with open_history(target) as store:
        if run_id:
            return store.get(run_id).run_id
        latest = _latest_for(store, spec_file)
    if latest is not None:
        return latest.run_id
    # nothing recorded yet: score (and record the run) so the report has accounts to describe
    from tierwise.jobs.score import score

    result = score(spec_file, out / "scores", engine_url=engine_url, progress=progress, history=target)
    return result.run["run_id"]


def _latest_for(store: HistoryStore, spec_file: SpecFile) -> RunInfo | None:
    """The latest run of this workspace (same spec name), else the latest run."""
    runs = store.runs()
    mine = [r for r in runs if r.spec_name == spec_file.spec.name]
    return (mine or runs or [None])[-1]


def _load(engine: Engine, spec_file: SpecFile, name: str, *, accounts: ir.Table | None, only: set[str] | None,
          progress: Progress) -> TableLoad | None:
    source = spec_file.spec.data.sources().get(name)
    if source is None:
        return None
    with progress.step(f"loading {name}"):
        return load_table(engine, name, source, locate(spec_file, source), accounts=accounts, only=only)


def _context(spec: str | Path | SpecFile, out: Path, *, run_id: str | None, history: str | None,
             as_of: date | None, engine_url: str | None, progress: Progress, need_leads: bool,
             need_reps: bool) -> tuple[_Context, Engine]:
    spec_file = spec if isinstance(spec, SpecFile) else load_spec(spec)
    target = history_target(spec_file, history)
    chosen = _find_run(spec_file, target, run_id, out, engine_url=engine_url, progress=progress)
    store = open_history(target)
    engine = connect(engine_url or spec_file.spec.engine)
    try:
        return _gather(spec_file, store, engine, chosen, as_of=as_of, progress=progress, need_leads=need_leads,
                       need_reps=need_reps), engine
    except BaseException:
        store.close()
        engine.close()
        raise


def _gather(spec_file: SpecFile, store: HistoryStore, engine: Engine, chosen: str, *, as_of: date | None,
            progress: Progress, need_leads: bool, need_reps: bool) -> _Context:
    run = store.get(chosen)
    notes: list[str] = []
    if run.spec_hash != spec_file.spec.fingerprint():
        notes.append(f"run {run.run_id} was scored with spec {run.spec_hash}; the spec is now "
                     f"{spec_file.spec.fingerprint()} — segments and thresholds are read from the current spec")
    with progress.step(f"reading run {run.run_id}"):
        run_table = _in_memory(store.run_table(run.run_id, ordered=False))
    loads: dict[str, TableLoad] = {}
    acc = _load(engine, spec_file, "accounts", accounts=None, only={"account_id"}, progress=progress)
    assert acc is not None
    loads["accounts"] = acc
    deals = None
    opp = _load(engine, spec_file, "opportunities", accounts=acc.clean, only=DEAL_COLUMNS | _extra_deal_columns(spec_file),
                progress=progress)
    if opp is not None:
        loads["opportunities"] = opp
        with progress.step("joining deals to the run"):
            status = G.deal_status(_with_defaults(opp.clean))
            deals = engine.materialize(G.with_accounts(status, run_table))
            matched = int(engine.scalar(deals.count()))
        if matched < opp.loaded:
            notes.append(f"{opp.loaded - matched:,} of {opp.loaded:,} loaded opportunities belong to accounts that are "
                         f"not in run {run.run_id}; they are left out")
    else:
        notes.append("no opportunities table (data.opportunities): win rates, pipeline and conversion need deals")
    if need_leads:
        only = {"status"} | ({"account_id"} if "account_id" in (spec_file.spec.data.leads.attributes
                                                               if spec_file.spec.data.leads else {}) else set())
        leads = _load(engine, spec_file, "leads", accounts=None, only=only, progress=progress)
        if leads is not None:
            loads["leads"] = leads
    if need_reps:
        reps = _load(engine, spec_file, "reps", accounts=None, only={"rep_id", "active", "capacity"}, progress=progress)
        if reps is not None:
            loads["reps"] = reps
    return _Context(spec_file, engine, store, run, run_table, as_of or run.as_of, loads, deals, notes)


def _in_memory(table: pa.Table) -> ir.Table:
    """A run's Arrow table as an in-memory table of the expression: engines scan it where it is (DuckDB without
    a copy; measured at 1M accounts, copying it into the engine cost more than every scan of it together)."""
    return ibis.memtable(table)


def _extra_deal_columns(spec_file: SpecFile) -> set[str]:
    source = spec_file.spec.data.opportunities
    return set(source.attributes) if source is not None else set()


def _with_defaults(opps: ir.Table) -> ir.Table:
    """Columns the reports read that a deals file may lack, as nulls."""
    defaults = {"is_closed": "boolean", "is_won": "boolean", "stage": "string", "amount": "float64",
                "closed_at": "date", "owner_id": "string", "name": "string"}
    missing = {c: ibis.null().cast(t) for c, t in defaults.items() if c not in opps.columns}
    return opps.mutate(**missing) if missing else opps


def _input_summary(loads: dict[str, TableLoad]) -> dict[str, Any]:
    return {name: {k: load.summary()[k] for k in ("read", "loaded", "quarantined", "reasons")}
            for name, load in loads.items()}


# --------------------------------------------------------------------------- report


def report(spec: str | Path | SpecFile, out_dir: str | Path, *, run_id: str | None = None,
           against: str | None = None, history: str | None = None,
           as_of: date | None = None, engine_url: str | None = None,
           progress: Progress = NULL_PROGRESS) -> ReportResult:
    """Segment performance, funnel, guardrails, ICP coverage, drift and the tier check for one run.

    ``against`` names the run to compare with (default: the run before it).
    """
    from tierwise.reports import drift as D
    from tierwise.reports import guardrails as GR
    from tierwise.reports import performance as P
    from tierwise.reports import render as R

    out = Path(out_dir)
    ctx, engine = _context(spec, out, run_id=run_id, history=history, as_of=as_of, engine_url=engine_url,
                           progress=progress, need_leads=True, need_reps=True)
    spec_obj = ctx.spec_file.spec
    try:
        with engine:
            with progress.step("segment performance"):
                perf = P.performance(engine, ctx.run_table, ctx.deals, spec_obj)
                stages: dict[str, Any] | None = None
                if ctx.deals is not None:
                    order, source = P.opportunity_stages(engine, ctx.deals, spec_obj, ctx.as_of)
                    stages = P.stage_conversion(engine, ctx.deals, order, spec_obj)
                    stages["order_source"] = source
                leads = ctx.loads["leads"].clean if "leads" in ctx.loads else None
                funnel = P.funnel(engine, ctx.run_table, ctx.deals, leads, spec_obj)
                tiers = P.tier_check(perf["by_tier"], spec_obj)
            with progress.step("guardrails"):
                reps = ctx.loads["reps"].clean if "reps" in ctx.loads else None
                guard = GR.guardrails(engine, ctx.run_table, spec_obj, reps)
            with progress.step("ICP coverage"):
                icp = D.icp_coverage(engine, ctx.run_table, ctx.deals, spec_obj, ctx.as_of)
            previous = ctx.store.get(against) if against else ctx.store.previous(ctx.run.run_id)
            drift: dict[str, Any] | None = None
            changes = None
            if previous is not None and previous.run_id != ctx.run.run_id:
                with progress.step(f"drift against run {previous.run_id}"):
                    before = _in_memory(ctx.store.run_table(previous.run_id, ordered=False))
                    kinds = {a: k for a, k in ctx.run.attributes.items() if previous.attributes.get(a) == k}
                    pair = engine.materialize(G.run_pair(ctx.run_table, before))
                    drift = D.drift(engine, ctx.run_table, before, spec_obj, current_attrs=ctx.run_table,
                                    previous_attrs=before, attribute_kinds=kinds, pair=pair)
                    changes = D.change_table(engine, pair, ctx.run.run_id, previous.run_id,
                                             ctx.run.tiers or previous.tiers)
                    drift["changes"] = _change_counts(changes)
            payload = {
                "spec": spec_obj.name, "spec_hash": spec_obj.fingerprint(), "as_of": ctx.as_of.isoformat(),
                "run": _run_brief(ctx.run), "previous_run": _run_brief(previous) if previous else None,
                "history": ctx.store.display, "inputs": _input_summary(ctx.loads),
                "performance": perf, "stage_conversion": stages, "funnel": funnel, "tier_check": tiers,
                "guardrails": guard, "icp": icp, "drift": drift, "notes": ctx.notes + funnel["notes"],
            }
            payload["alerts"] = _alerts(payload)
            files = R.write_report_files(out, payload, changes)
    finally:
        ctx.store.close()
    return ReportResult(out, files, payload, ctx.run, previous, ctx.notes)


def _run_brief(run: RunInfo) -> dict[str, Any]:
    return {"run_id": run.run_id, "as_of": run.as_of.isoformat(), "spec_hash": run.spec_hash,
            "accounts": run.accounts, "recorded_at": run.recorded_at.isoformat(timespec="seconds"),
            "inputs": run.inputs}


def _change_counts(changes: pa.Table) -> dict[str, Any]:
    rows = changes.group_by(["change", "direction"]).aggregate([("account_id", "count")]).to_pylist()
    out: dict[str, Any] = {"events": changes.num_rows}
    for r in rows:
        key = r["change"] if r["direction"] is None else f"{r['change']}_{r['direction']}"
        out[key] = out.get(key, 0) + int(r["account_id_count"])
    return out


def _alerts(payload: dict[str, Any]) -> list[dict[str, Any]]:
    """Everything that needs a person's attention, most severe first."""
    out: list[dict[str, Any]] = []
    for c in payload["guardrails"]["checks"]:
        if c["status"] == "warn":
            out.append({"severity": "warn", "section": "guardrails", "subject": c["subject"], "message": c["message"]})
    for c in payload["icp"]["checks"]:
        if c["status"] == "missed":
            out.append({"severity": "warn", "section": "icp", "subject": c["check"], "message": c["message"]})
    t = payload["tier_check"]
    if t["status"] in ("warn", "alert"):
        out.append({"severity": t["status"], "section": "tiers", "subject": "tier check", "message": t["message"]})
    for i in payload["funnel"]["interventions"]:
        out.append({"severity": "warn", "section": "funnel", "subject": f"{i['group']}: {i['step']}",
                    "message": i["message"]})
    if payload["drift"]:
        out += payload["drift"]["alerts"]
    order = {"alert": 0, "warn": 1}
    return sorted(out, key=lambda a: order.get(a["severity"], 2))


# --------------------------------------------------------------------------- pipeline


def pipeline(spec: str | Path | SpecFile, out_dir: str | Path, *, run_id: str | None = None,
             history: str | None = None, as_of: date | None = None,
             engine_url: str | None = None, progress: Progress = NULL_PROGRESS) -> ReportResult:
    """Velocity buckets, time in stage and the zombie list for the open pipeline."""
    from tierwise.reports import performance as P
    from tierwise.reports import pipeline as PL
    from tierwise.reports import render as R

    out = Path(out_dir)
    ctx, engine = _context(spec, out, run_id=run_id, history=history, as_of=as_of, engine_url=engine_url,
                           progress=progress, need_leads=False, need_reps=False)
    try:
        with engine:
            if ctx.deals is None:
                raise TierwiseError("tierwise pipeline needs deals: add data.opportunities to the spec")
            exclude = None
            node = ctx.spec_file.conditions.get("governance.pipeline.exclude_when")
            if node is not None:
                exclude = compile_condition(node, ctx.deals)
            with progress.step("velocity, time in stage and zombies"):
                order, source = P.opportunity_stages(engine, ctx.deals, ctx.spec_file.spec, ctx.as_of)
                body, zombies = PL.pipeline(engine, ctx.deals, ctx.spec_file.spec, ctx.as_of, exclude=exclude,
                                            stage_order=order)
                body["stage_order"] = {"stages": order, "source": source}
            payload = {"spec": ctx.spec_file.spec.name, "run": _run_brief(ctx.run), "history": ctx.store.display,
                       "inputs": _input_summary(ctx.loads), **body, "notes": ctx.notes}
            files = R.write_pipeline_files(out, payload, engine, zombies)
    finally:
        ctx.store.close()
    return ReportResult(out, files, payload, ctx.run, None, ctx.notes)


# --------------------------------------------------------------------------- history


def runs(spec: str | Path | SpecFile | None, *, history: str | None = None) -> tuple[str, list[RunInfo]]:
    """The store's display name and its runs, oldest first."""
    spec_file = spec if isinstance(spec, SpecFile) or spec is None else load_spec(spec)
    with open_history(history_target(spec_file, history)) as store:
        return store.display, store.runs()


def changes(spec: str | Path | SpecFile | None, *, from_run: str | None = None, to_run: str | None = None,
            history: str | None = None, csv_path: str | Path | None = None, json_path: str | Path | None = None
            ) -> tuple[RunInfo, RunInfo, pa.Table, dict[str, str]]:
    """Change events between two runs (default: the latest run and the one before it), optionally exported."""
    spec_file = spec if isinstance(spec, SpecFile) or spec is None else load_spec(spec)
    with open_history(history_target(spec_file, history)) as store:
        all_runs = store.runs()
        if spec_file is not None and not to_run:
            all_runs = [r for r in all_runs if r.spec_name == spec_file.spec.name] or all_runs
        if len(all_runs) < 2 and not (from_run and to_run):
            raise TierwiseError(f"the history store {store.display} holds {len(all_runs)} run(s); changes need two "
                                "(score again on a later date, or pass --from and --to)")
        after = store.get(to_run) if to_run else all_runs[-1]
        before = store.get(from_run) if from_run else store.previous(after.run_id)
        if before is None:
            raise TierwiseError(f"run {after.run_id} is the first in the history; pass --from RUN")
        events = store.changes(before.run_id, after.run_id)
    files = {}
    if csv_path is not None:
        files["csv"] = str(write_table_csv(Path(csv_path), events))
    if json_path is not None:
        payload = {"from_run": before.to_dict(), "to_run": after.to_dict(), "counts": _change_counts(events),
                   "events": events.to_pylist()}
        files["json"] = str(write_json(Path(json_path), payload))
    return before, after, events, files


def write_table_csv(path: Path, table: pa.Table) -> Path:
    """An Arrow table as CSV (header, nulls empty), atomically."""
    buf = io.BytesIO()
    pcsv.write_csv(table, buf, write_options=pcsv.WriteOptions(quoting_style="needed"))
    return write_text_atomic(path, buf.getvalue().decode("utf-8"))


def write_rows_csv(path: Path, rows: list[dict[str, Any]], columns: list[str] | None = None) -> Path:
    """Small result rows as CSV (lists and dicts as JSON), atomically."""
    columns = columns or list(dict.fromkeys(k for r in rows for k in r))
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(columns)
    for r in rows:
        w.writerow(["" if r.get(c) is None else json.dumps(r[c]) if isinstance(r.get(c), list | dict) else r[c]
                    for c in columns])
    return write_text_atomic(path, buf.getvalue())
