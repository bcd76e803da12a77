"""``tierwise rfm``: RFM scores and segments per customer, customer health, lifetime value and the plays to
run for customers whose segment changed since the previous run.

Two ways in: a spec (``data.transactions`` and an optional ``rfm:`` section,
:func:`rfm`), or a transactions file with its columns named (the quick look,
:func:`rfm_file`). Both load every row or quarantine it with a reason, run
the expressions of :mod:`tierwise.compile.rfm` on the engine, fit the CLV
models of :mod:`tierwise.models.clv` on the per-customer summary, and write
``rfm.parquet``, ``rfm.csv``, ``tasks.csv`` (when there is a history to
compare with) and ``summary.json``. Each run's segments are kept under the
history folder as ``rfm-<as_of>.parquet``; the previous run is the stored one
with the latest as-of date before this run's, so rerunning a date gives the
same tasks.

Examples
--------
>>> from tierwise.jobs.rfm import rfm, rfm_file
>>> result = rfm("workspace/spec.yaml", "out/rfm")                               # doctest: +SKIP
>>> result = rfm_file("orders.csv", "out/rfm", customer="cust", date="day",
...                   amount="total", order="order_no")                           # doctest: +SKIP
>>> result.summary["segments"][0]["segment"]                                      # doctest: +SKIP
'Champions'
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from tierwise.compile.rfm import (
    KEY,
    OUTPUT_COLUMNS,
    add_health,
    change_tasks,
    customer_summary,
    score_and_segment,
    task_order,
    usage_trend,
)
from tierwise.engine import Engine, connect
from tierwise.errors import DataError, TierwiseError
from tierwise.io.loader import TableLoad, load_table
from tierwise.jobs.workspace import load_workspace, resolve_as_of, write_json
from tierwise.models.clv import BetaGeoModel, GammaGammaModel
from tierwise.progress import NULL_PROGRESS, Progress
from tierwise.spec.loader import SpecFile, load_spec
from tierwise.spec.model import ClvSpec, RfmSpec, SourceSpec

#: The transaction columns RFM reads.
TX_COLUMNS = {"account_id", "order_id", "occurred_at", "amount"}
HISTORY_FILE = re.compile(r"^rfm-(\d{4}-\d{2}-\d{2})\.parquet$")
_LIMIT = 20.0  # a fitted parameter beyond exp(±20) ran off to a limit of the model: the fit did not settle
_CLV_COLUMNS = ("p_alive", "expected_purchases", "expected_spend", "expected_value")


@dataclass
class RfmResult:
    out_dir: Path
    files: dict[str, str]
    summary: dict[str, Any]


# --------------------------------------------------------------------------- entry points


def rfm(spec: str | Path | SpecFile, out_dir: str | Path, *, as_of: date | None = None,
        engine_url: str | None = None, progress: Progress = NULL_PROGRESS) -> RfmResult:
    """RFM for the spec's ``transactions`` (customers are accounts), with the spec's ``rfm:`` section."""
    spec_file = spec if isinstance(spec, SpecFile) else load_spec(spec)
    s = spec_file.spec
    cfg = s.rfm or RfmSpec()
    if s.data.transactions is None:
        raise DataError(f"{spec_file.path}: RFM reads customer transactions: add data.transactions (account_id, "
                        "occurred_at, amount; order_id optional) to the spec, or use the quick look: "
                        "tierwise rfm --transactions FILE --customer COL --date COL --amount COL")
    usage = cfg.health.usage
    tables = ["accounts", "transactions"]
    if usage is not None and usage.events and s.data.activities is not None:
        tables.append("activities")
    account_fields = {f for f in ((usage.field if usage else None),
                                  (cfg.health.support.field if cfg.health.support else None)) if f}
    with connect(engine_url or s.engine) as engine:
        day = resolve_as_of(spec_file, as_of)
        ws = load_workspace(engine, spec_file, tables=tuple(tables), progress=progress,
                            columns={"accounts": {KEY, *account_fields}, "transactions": set(TX_COLUMNS),
                                     "activities": {KEY, "event_type", "occurred_at"}})
        load = ws.loads["transactions"]
        frequency = cfg.frequency
        if frequency == "auto":
            frequency = "orders" if "order_id" in load.columns else "transactions"
        files, summary = _run(engine, load, cfg, day, Path(out_dir), frequency=frequency,
                              history=spec_file.resolve(cfg.history), accounts=ws.table("accounts"),
                              activities=ws.table("activities"), progress=progress)
        files.update({f"quarantine_{k}": v for k, v in ws.write_quarantine(Path(out_dir)).items()})
        summary["inputs"] = {name: {k: ld.summary()[k] for k in ("read", "loaded", "quarantined")}
                             for name, ld in ws.loads.items()}
    summary["spec_hash"] = s.fingerprint()
    files["summary"] = str(write_json(Path(out_dir) / "summary.json", summary))
    return RfmResult(Path(out_dir), files, summary)


def rfm_file(transactions: str | Path, out_dir: str | Path, *, customer: str, date_column: str, amount: str,
             order: str | None = None, as_of: date | None = None, history: str | Path | None = None,
             horizon_days: int | None = None, clv: bool = True, delimiter: str = ",", engine_url: str | None = None,
             progress: Progress = NULL_PROGRESS) -> RfmResult:
    """The quick look: RFM on one transactions file (CSV or Parquet) without a spec, with the default map.

    ``frequency`` counts distinct ``order`` values when given, else rows.
    Tasks are written only with a ``history`` folder to compare runs in.
    """
    path = Path(transactions)
    columns = {"account_id": customer, "occurred_at": date_column, "amount": amount}
    if order:
        columns["order_id"] = order
    try:
        source = SourceSpec(path=str(path), columns=columns, delimiter=delimiter)
    except ValueError as exc:
        raise TierwiseError(f"--delimiter: {exc}") from None
    cfg = RfmSpec()
    if horizon_days is not None or not clv:
        cfg = cfg.model_copy(update={"clv": ClvSpec(enabled=clv, horizon_days=horizon_days or cfg.clv.horizon_days)})
    out = Path(out_dir)
    with connect(engine_url) as engine:
        day = as_of or datetime.now(UTC).date()
        with progress.step("loading transactions"):
            load = _load_file(engine, source, path)
        files, summary = _run(engine, load, cfg, day, out, frequency="orders" if order else "transactions",
                              history=Path(history) if history is not None else None, progress=progress)
        q = out / "quarantine" / "transactions.csv"
        if load.quarantined:
            files["quarantine_transactions"] = str(engine.write(load.quarantine, q, "csv"))
        elif q.exists():
            q.unlink()  # a stale file from an earlier run would mislead
        summary["inputs"] = {"transactions": {k: load.summary()[k] for k in ("read", "loaded", "quarantined")}}
    summary["source"] = {"file": str(path), "columns": load.columns}
    files["summary"] = str(write_json(out / "summary.json", summary))
    return RfmResult(out, files, summary)


def _load_file(engine: Engine, source: SourceSpec, path: Path) -> TableLoad:
    """Load the quick look's file; a file the engine cannot read at all is a one-line error, not a traceback."""
    if not path.exists():
        raise DataError(f"--transactions: file not found: {path}")
    header = _header(path, source)
    if header is not None:
        options = {"account_id": "--customer", "occurred_at": "--date", "amount": "--amount", "order_id": "--order"}
        for canonical, column in source.columns.items():
            if column not in header and column.lower() not in {h.lower() for h in header}:
                raise DataError(f"{options[canonical]}: column '{column}' not found in {path}; columns: "
                                f"{', '.join(header)}")
    try:
        return load_table(engine, "transactions", source, path, only=TX_COLUMNS)
    except TierwiseError:
        raise
    except Exception as exc:  # the engine's own reader errors (not CSV, not Parquet, unreadable)
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"{path}: cannot be read as {source.resolved_format.upper()} ({first}); give a CSV with a "
                        "header row or a Parquet file (.parquet)") from exc


def _header(path: Path, source: SourceSpec) -> list[str] | None:
    """The file's column names (None when they cannot be read cheaply: the loader then says what is wrong)."""
    try:
        if source.resolved_format == "parquet":
            return list(pq.read_schema(path).names)
        with open(path, encoding="utf-8-sig", newline="") as fh:
            return next(csv.reader(fh, delimiter=source.delimiter), None)
    except (OSError, UnicodeDecodeError, csv.Error, ValueError, pa.ArrowException):
        return None


# --------------------------------------------------------------------------- the run


def _run(engine: Engine, load: TableLoad, cfg: RfmSpec, day: date, out: Path, *, frequency: str,
         history: Path | None, accounts: ir.Table | None = None, activities: ir.Table | None = None,
         progress: Progress = NULL_PROGRESS) -> tuple[dict[str, str], dict[str, Any]]:
    tx = load.clean
    rows = _row_accounting(engine, load, day)
    files: dict[str, str] = {}
    with progress.step("recency, frequency, monetary"):
        every = engine.materialize(customer_summary(tx, day, frequency, keep_returns_only=True))
        summary_table = every.filter(every.first_purchase.notnull())
        counts = engine.to_arrow(every.aggregate(n=every.count(), buyers=every.first_purchase.count())).to_pylist()[0]
        customers = int(counts["buyers"] or 0)
        rows["customers_with_returns_only"] = int(counts["n"] or 0) - customers
        if customers == 0:
            raise DataError(f"{load.path}: no customer has a purchase (an amount of 0 or more) on or before "
                            f"{day.isoformat()}: nothing to score")
    clv_summary: dict[str, Any]
    if cfg.clv.enabled:
        with progress.step("lifetime value (BG/NBD, Gamma-Gamma)"):
            predictions, clv_summary = _lifetime_value(engine, summary_table, cfg.clv, customers, frequency)
    else:
        predictions, clv_summary = None, {"skipped": "clv.enabled is false"}
    with progress.step("scores, segments and health"):
        usage = None
        u = cfg.health.usage
        if u is not None and u.events and activities is not None:
            usage = usage_trend(activities, u.events, u.window_days, day)
        t = add_health(score_and_segment(summary_table, cfg, customers), cfg.health, accounts=accounts, usage=usage)
        if predictions is not None:
            t = t.left_join(predictions, KEY).select(t, *[predictions[c] for c in _CLV_COLUMNS])
        else:
            t = t.mutate(**{c: ibis.null().cast("float64") for c in _CLV_COLUMNS})
        final = engine.materialize(t.mutate(as_of=ibis.literal(day)).select(*OUTPUT_COLUMNS))
    with progress.step("writing rfm.parquet, rfm.csv"):
        ordered = final.order_by(KEY)  # each write sorts: an engine need not keep a table's order
        files["parquet"] = str(engine.write(ordered, out / "rfm.parquet", "parquet"))
        files["csv"] = str(engine.write(ordered, out / "rfm.csv", "csv"))
    triggers: dict[str, Any] = {"history": None, "previous_as_of": None, "tasks": 0}
    if history is not None:
        with progress.step("segment changes since the previous run"):
            triggers = _triggers(engine, final, cfg, day, history, out, files)
    elif (out / "tasks.csv").exists():
        (out / "tasks.csv").unlink()  # from an earlier run with a history
    summary = _summary(engine, final, cfg, day, frequency, customers)
    summary.update({"rows": rows, "clv": clv_summary, "triggers": triggers})
    return files, summary


def _row_accounting(engine: Engine, load: TableLoad, day: date) -> dict[str, Any]:
    """read = quarantined + loaded; loaded = used + after as_of + without an amount. Errors when nothing is left."""
    tx = load.clean
    if load.loaded == 0:
        reasons = ", ".join(f"{k} ({v:,})" for k, v in sorted(load.reasons.items(), key=lambda kv: -kv[1]))
        raise DataError(f"{load.path}: none of the {load.read:,} transactions could be loaded ({reasons}); see "
                        "quarantine/transactions.csv. Dates must be ISO (2026-11-01), amounts numbers "
                        "('$1,200.50' is fine)")
    after = tx.occurred_at > ibis.literal(day)
    stats = engine.to_arrow(tx.aggregate(
        after=after.cast("int64").sum(),
        missing=(~after & tx.amount.isnull()).cast("int64").sum(),
        returns=(~after & (tx.amount < 0)).cast("int64").sum(),
        returned=(-tx.amount).sum(where=~after & (tx.amount < 0)),
        first=tx.occurred_at.min(), last=tx.occurred_at.max(),
    )).to_pylist()[0]
    after_n, missing = int(stats["after"] or 0), int(stats["missing"] or 0)
    used = load.loaded - after_n - missing
    if used == 0:
        if stats["first"] is not None and stats["first"] > day:
            raise DataError(f"as_of {day.isoformat()} is before every transaction (the first is on "
                            f"{stats['first'].isoformat()}): nothing to score; pass a later --as-of (or set "
                            "as_of in the spec)")
        raise DataError(f"{load.path}: no transaction on or before {day.isoformat()} has an amount: nothing to score")
    return {
        "read": load.read, "quarantined": load.quarantined, "quarantine_reasons": dict(sorted(load.reasons.items())),
        "loaded": load.loaded, "after_as_of": after_n, "missing_amount": missing, "used": used,
        "return_lines": int(stats["returns"] or 0), "returned_amount": round(float(stats["returned"] or 0.0), 2),
        "first_date": stats["first"].isoformat() if stats["first"] else None,
        "last_date": stats["last"].isoformat() if stats["last"] else None,
        "reconciles": load.read == load.quarantined + used + after_n + missing,
    }


# --------------------------------------------------------------------------- lifetime value


def _lifetime_value(engine: Engine, summary: ir.Table, clv: ClvSpec, customers: int, frequency: str
                    ) -> tuple[ir.Table | None, dict[str, Any]]:
    """Fit BG/NBD and Gamma-Gamma on the customers (a sample of about ``max_fit_customers``) and
    predict for every customer; None and the reason when there is too little to fit."""
    n = customers
    # a sample chosen by a hash of the customer id: the same customers whatever order the engine returns rows in
    # (and the fit sums over distinct summaries in sorted order, so it does not depend on row order either)
    share = min(1.0, clv.max_fit_customers / max(n, 1))
    in_sample = (summary[KEY].hash() % 1_000_000).abs() < round(share * 1_000_000) if share < 1 else ibis.literal(True)
    # purchases as the models count them: orders, or days with a purchase (lines of one day are one purchase)
    purchases = summary.purchase_days if frequency == "transactions" else summary.frequency
    data = engine.to_arrow(summary.select(KEY, "recency_days", "age_days", "monetary", _purchases=purchases,
                                         _fit=in_sample))
    unit = float(clv.time_unit_days)
    x = data["_purchases"].to_numpy().astype("float64") - 1
    T = data["age_days"].to_numpy().astype("float64") / unit
    t_x = T - data["recency_days"].to_numpy().astype("float64") / unit
    monetary = data["monetary"].to_numpy(zero_copy_only=False).astype("float64")
    info: dict[str, Any] = {"model": "BG/NBD + Gamma-Gamma", "time_unit_days": clv.time_unit_days,
                            "horizon_days": clv.horizon_days,
                            "purchases": "orders" if frequency == "orders" else "purchase days"}
    if n < clv.min_customers:
        return None, {**info, "skipped": f"{n} customers; CLV needs at least {clv.min_customers} (clv.min_customers)"}
    if int((x > 0).sum()) < 10:
        return None, {**info, "skipped": "fewer than 10 customers bought on more than one day: purchase rates "
                                         "cannot be estimated"}
    fit = np.nonzero(data["_fit"].to_numpy(zero_copy_only=False))[0]
    try:
        bg = BetaGeoModel().fit(x[fit], t_x[fit], T[fit])
    except (ValueError, FloatingPointError, DataError) as exc:
        return None, {**info, "skipped": f"BG/NBD could not be fitted: {exc}"}
    settled = _settled(bg.params_)
    if settled:
        return None, {**info, "skipped": f"the BG/NBD fit did not settle ({settled}): these purchases do not follow "
                                         "its pattern (regular invoices, such as yearly renewals, rarely do)",
                      "bgnbd": _rounded(bg.params_)}
    spend = np.where(monetary > 0, monetary / (x + 1), np.nan)
    positive = fit[np.isfinite(spend[fit])]
    gg: GammaGammaModel | None = None
    gg_info: dict[str, Any]
    try:
        gg = GammaGammaModel().fit(x[positive] + 1, spend[positive])
        if _settled(gg.params_):
            raise ValueError(f"parameters at the search limits ({_settled(gg.params_)})")
        gg_info = {**_rounded(gg.params_), "log_likelihood": round(gg.log_likelihood_, 3),
                   "customers_fitted": gg.n_customers_, "converged": gg.converged_}
        if not np.isfinite(gg.population_mean_):
            gg_info["note"] = "q <= 1: no finite mean spend for customers without history"
    except (ValueError, FloatingPointError, DataError) as exc:
        gg, gg_info = None, {"skipped": f"Gamma-Gamma could not be fitted: {exc}; expected spend is the "
                                        "customer's own mean per purchase day"}
    horizon = clv.horizon_days / unit
    p_alive = bg.p_alive(x, t_x, T)
    purchases = bg.expected_purchases(horizon, x, t_x, T)
    if gg is not None:
        expected_spend = gg.expected_spend(x + 1, spend)
    else:  # the customer's own mean spend per purchase day
        expected_spend = np.where(np.isfinite(spend), spend, np.nan)
    expected_spend = np.where(np.isfinite(expected_spend), expected_spend, np.nan)
    value = purchases * expected_spend
    predictions = engine.register(pa.table({
        KEY: data[KEY],
        "p_alive": pa.array(np.round(p_alive, 4), from_pandas=True),
        "expected_purchases": pa.array(np.round(purchases, 4), from_pandas=True),
        "expected_spend": pa.array(np.round(expected_spend, 2), from_pandas=True),
        "expected_value": pa.array(np.round(value, 2), from_pandas=True),
    }))
    info.update({
        "bgnbd": {**_rounded(bg.params_), "log_likelihood": round(bg.log_likelihood_, 3),
                  "customers_fitted": bg.n_customers_, "converged": bg.converged_},
        "gamma_gamma": gg_info,
        "customers": n,
        "mean_p_alive": round(float(np.nanmean(p_alive)), 4),
        "expected_purchases_total": round(float(np.nansum(purchases)), 1),
        "expected_value_total": round(float(np.nansum(value)), 2),
    })
    if share < 1:
        info["note"] = (f"fitted on {len(fit):,} of {n:,} customers, a sample chosen by a hash of the customer id "
                        f"(clv.max_fit_customers: {clv.max_fit_customers:,}); predictions for all")
    return predictions, info


def _settled(params: dict[str, float]) -> str:
    """'' when every parameter is inside the search range, else which are at its limits."""
    stuck = [k for k, v in params.items() if not (np.exp(-_LIMIT) < v < np.exp(_LIMIT))]
    return ", ".join(f"{k} = {params[k]:.3g}" for k in stuck)


def _rounded(params: dict[str, float]) -> dict[str, float]:
    return {k: round(v, 6) for k, v in params.items()}


# --------------------------------------------------------------------------- triggers and history


def history_runs(history: Path) -> dict[date, Path]:
    """The stored runs in a history folder, by as-of date."""
    runs: dict[date, Path] = {}
    if history.is_dir():
        for path in history.iterdir():
            match = HISTORY_FILE.match(path.name)
            if match:
                runs[date.fromisoformat(match.group(1))] = path
    return runs


def _triggers(engine: Engine, final: ir.Table, cfg: RfmSpec, day: date, history: Path, out: Path,
              files: dict[str, str]) -> dict[str, Any]:
    """Compare with the latest stored run before ``day``, write tasks.csv, then store this run."""
    runs = history_runs(history)
    earlier = [d for d in runs if d < day]
    info: dict[str, Any] = {"history": str(history), "previous_as_of": None, "tasks": 0}
    tasks_path = out / "tasks.csv"
    if earlier:
        previous_day = max(earlier)
        try:
            previous = engine.read_parquet(runs[previous_day]).table
            missing = {KEY, "segment", "rfm_cell", "health_band"} - set(previous.columns)
        except TierwiseError:
            raise
        except Exception as exc:  # a damaged file: say which one
            raise TierwiseError(f"{runs[previous_day]}: cannot read the previous RFM run ({exc}); delete it to "
                                "compare with the run before") from None
        if missing:
            raise TierwiseError(f"{runs[previous_day]}: not an RFM run (no {', '.join(sorted(missing))})")
        tasks = engine.materialize(change_tasks(final, previous, cfg, day, previous_day))
        files["tasks"] = str(engine.write(tasks.order_by(task_order(tasks)), tasks_path, "csv"))
        info["previous_as_of"] = previous_day.isoformat()
        info.update(_trigger_summary(engine, final, previous, tasks))
    else:
        empty = change_tasks(final, final.select(KEY, "segment", "rfm_cell", "health_band"), cfg, day, day)
        files["tasks"] = str(engine.write(empty.limit(0), tasks_path, "csv"))
        info["note"] = "no earlier run in the history: nothing to compare with yet (tasks.csv has no rows)"
    stored = final.select(KEY, "segment", "rfm_cell", "r_score", "f_score", "m_score", "health_score",
                          "health_band", "as_of").order_by(KEY)
    files["history"] = str(engine.write(stored, history / f"rfm-{day.isoformat()}.parquet", "parquet"))
    return info


def _trigger_summary(engine: Engine, final: ir.Table, previous: ir.Table, tasks: ir.Table) -> dict[str, Any]:
    prev = previous.select(KEY, _from=previous.segment)
    moved = final.inner_join(prev, KEY)
    moved = moved.filter(moved.segment != moved._from)
    transitions = engine.to_arrow(moved.group_by(["_from", "segment"]).aggregate(customers=moved.count())
                                  .order_by([ibis.desc("customers"), "_from", "segment"])).to_pylist()
    by_trigger = engine.to_arrow(tasks.group_by("trigger").aggregate(n=tasks.count()).order_by("trigger")).to_pylist()
    by_priority = engine.to_arrow(tasks.group_by("priority").aggregate(n=tasks.count())).to_pylist()
    return {
        "tasks": int(engine.scalar(tasks.count())),
        "by_trigger": {r["trigger"]: int(r["n"]) for r in by_trigger},
        "by_priority": {r["priority"]: int(r["n"]) for r in sorted(by_priority, key=lambda r: r["priority"])},
        "segment_changes": sum(int(r["customers"]) for r in transitions),
        "champions_to_at_risk": next((int(r["customers"]) for r in transitions
                                      if r["_from"] == "Champions" and r["segment"] == "At-Risk"), 0),
        "transitions": [{"from": r["_from"], "to": r["segment"], "customers": int(r["customers"])}
                        for r in transitions],
    }


# --------------------------------------------------------------------------- summary


def _summary(engine: Engine, final: ir.Table, cfg: RfmSpec, day: date, frequency: str,
             customers: int) -> dict[str, Any]:
    totals = engine.to_arrow(final.aggregate(revenue=final.monetary.sum())).to_pylist()[0]
    revenue = float(totals["revenue"] or 0.0)
    per_segment = {r["segment"]: r for r in engine.to_arrow(final.group_by("segment").aggregate(
        customers=final.count(), revenue=final.monetary.sum(),
        recency=final.recency_days.mean(), frequency=final.frequency.mean())).to_pylist()}
    segments = []
    for seg in cfg.segments:
        r = per_segment.get(seg.name)
        n = int(r["customers"]) if r else 0
        rev = float(r["revenue"]) if r else 0.0
        segments.append({
            "segment": seg.name, "scores": seg.describe(), "motion": seg.motion, "customers": n,
            "share": round(n / customers, 4), "revenue": round(rev, 2),
            "revenue_share": round(rev / revenue, 4) if revenue else None,
            "mean_recency_days": round(r["recency"], 1) if r else None,
            "mean_frequency": round(r["frequency"], 2) if r else None,
        })
    scores: dict[str, Any] = {}
    for letter, column in (("r", "recency_days"), ("f", "frequency"), ("m", "monetary")):
        col = f"{letter}_score"
        rows = engine.to_arrow(final.group_by(col).aggregate(
            customers=final.count(), low=final[column].min(), high=final[column].max()).order_by(col)).to_pylist()
        scores[letter] = {str(r[col]): {"customers": int(r["customers"]), column: [r["low"], r["high"]]} for r in rows}
    bands = engine.to_arrow(final.group_by("health_band").aggregate(n=final.count())).to_pylist()
    health = {
        "bands": {b: next((int(r["n"]) for r in bands if r["health_band"] == b), 0) for b in ("healthy", "watch",
                                                                                               "at risk")},
        "parts": ["rfm"] + (["usage"] if cfg.health.usage else []) + (["support"] if cfg.health.support else []),
        "weights": cfg.health.weights.model_dump(),
    }
    return {
        "as_of": day.isoformat(),
        "customers": customers,
        "revenue": round(revenue, 2),
        "frequency_counts": frequency,
        "segments": segments,
        "scores": scores,
        "health": health,
    }
