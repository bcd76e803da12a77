"""``tierwise icp discover`` and ``tierwise icp lookalikes`` as library functions.

Discovery reads closed deals joined to their accounts' attributes (and
customer revenue when transactions are present) — or one flat table — and
writes the ICP document with its evidence and a suggested ``fit:`` section.

Examples
--------
>>> from tierwise.jobs.icp import discover
>>> result = discover("demo-workspace/spec.yaml", "out/icp")          # doctest: +SKIP
>>> result.summary["has_signal"]                                      # doctest: +SKIP
True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import ibis
import numpy as np
import pandas as pd
import yaml

from tierwise.engine import connect, write_text_atomic
from tierwise.errors import DataError
from tierwise.jobs import learning
from tierwise.jobs.tables import read_outcome_table
from tierwise.jobs.workspace import load_workspace, resolve_as_of, write_json
from tierwise.models.discovery import ICPDiscovery
from tierwise.models.lookalike import LookalikeModel
from tierwise.progress import NULL_PROGRESS, Progress
from tierwise.reports import icp as icp_report
from tierwise.spec.loader import SpecFile, load_spec

#: Closed deals below which discovery refuses to report (intervals would span almost everything).
MIN_DEALS = 30


@dataclass
class IcpResult:
    out_dir: Path
    files: dict[str, str]
    summary: dict[str, Any]
    discovery: ICPDiscovery


def _check_outcomes(won: pd.Series, where: str) -> None:
    n, n_won = len(won), int(won.sum())
    if n < MIN_DEALS:
        raise DataError(f"{where}: {n} closed records; ICP discovery needs at least {MIN_DEALS} won and lost "
                        "records to say anything about win rates")
    if n_won == 0 or n_won == n:
        kind = "won" if n_won == n else "lost"
        raise DataError(f"{where}: all {n} closed records are {kind}; discovery compares won with lost records "
                        "and needs both")


def discover(spec: str | Path | SpecFile, out_dir: str | Path, *, as_of: date | None = None,
             engine_url: str | None = None, progress: Progress = NULL_PROGRESS, **params: Any) -> IcpResult:
    """ICP discovery on a spec's workspace: closed deals x account attributes (+ LTV from transactions)."""
    spec_file = spec if isinstance(spec, SpecFile) else load_spec(spec)
    out = Path(out_dir)
    with connect(engine_url or spec_file.spec.engine) as engine:
        day = resolve_as_of(spec_file, as_of)
        ws = load_workspace(engine, spec_file, tables=("accounts", "opportunities", "transactions"),
                            progress=progress)
        data = learning.prepare(ws, as_of=day)
        with progress.step("joining deals to account attributes"):
            values = learning.customer_values(ws, as_of=day)
            frame = learning.deal_frame(ws, data, with_events=False, values=values)
        _check_outcomes(frame["won"], str(ws.loads["opportunities"].path))
        revenue = _revenue_summary(engine, values)
        inputs = {name: {k: load.summary()[k] for k in ("read", "loaded", "quarantined")}
                  for name, load in ws.loads.items()}
    analysed = _analysis_frame(frame, data.kinds, has_ltv=values is not None)
    settings = spec_file.spec.propensity
    with progress.step("checking attributes for leakage"):
        kinds, findings = _guarded(analysed, data.kinds, include=settings.include, exclude=settings.exclude)
    with progress.step(f"testing {len(kinds)} attributes on {len(frame):,} deals"):
        model = ICPDiscovery(**params).fit(analysed, kinds=kinds)
    _note_leakage(model, findings)
    summary = {"source": str(spec_file.path), "as_of": day.isoformat(), "inputs": inputs,
               "ltv_source": "transactions" if values is not None else None, "leakage": findings,
               "customers": revenue}
    return _write(model, out, title=f"ICP discovery: {spec_file.spec.name}", source=str(spec_file.path),
                  summary=summary, progress=progress)


def _revenue_summary(engine: Any, values: Any | None) -> dict[str, Any] | None:
    """Customers' revenue: how many paid, median lifetime value, and net revenue retention
    (last 12 months' revenue of the accounts that paid in the 12 months before, over that earlier revenue)."""
    if values is None:
        return None
    v = values
    row = engine.to_arrow(v.aggregate(
        paying=(v.ltv > 0).cast("int64").sum(),
        median_ltv=v.ltv.median(),
        recent=ibis.ifelse(v.revenue_prior_12m > 0, v.revenue_last_12m, 0.0).sum(),
        prior=v.revenue_prior_12m.sum(),
    )).to_pylist()[0]
    nrr = row["recent"] / row["prior"] if row["prior"] else None
    return {"paying_accounts": int(row["paying"] or 0), "median_ltv": _num(row["median_ltv"]),
            "net_revenue_retention": _num(nrr)}


def _guarded(frame: pd.DataFrame, kinds: dict[str, str], *, include: Sequence[str] = (),
             exclude: Sequence[str] = (), where: Any = "", check: bool = False
             ) -> tuple[dict[str, str], list[dict[str, Any]]]:
    """The attributes the leakage guard keeps, and its findings (as plain dicts).

    Discovery reports what went with winning; an attribute that is only known
    once the deal is decided (days in stage, a rating sales fill in) would head
    that list and mislead, so the guard that protects the model runs here too.
    """
    from dataclasses import asdict

    from tierwise.jobs.model import check_names, expanded
    from tierwise.models.frame import list_items, model_matrix
    from tierwise.models.leakage import LeakageGuard

    X = model_matrix(frame, kinds, list_items(frame, kinds))
    if check:  # a spec's include/exclude may name model features that are not attributes; train checks those
        check_names(include, X.columns, where, "--include")
    guard = LeakageGuard(include=tuple(expanded(include, X.columns))).fit(X, frame["won"].to_numpy(dtype=bool))
    dropped = {c for c in guard.excluded_ if c in kinds} | set(exclude)
    findings = [asdict(f) for f in guard.findings_ if f.column in kinds or f.column.split("=")[0] in kinds]
    return {k: v for k, v in kinds.items() if k not in dropped}, findings


def _note_leakage(model: ICPDiscovery, findings: list[dict[str, Any]]) -> None:
    """Put the guard's findings first among the document's notes."""
    words = {"exclude": "left out", "warn": "kept, but check it"}
    notes = [f"Leakage guard: '{f['column']}' {words.get(f['action'], f['action'])} — {f['reason']}"
             for f in findings]
    model.notes_ = notes + list(model.notes_)


def _analysis_frame(frame: pd.DataFrame, kinds: dict[str, str], *, has_ltv: bool) -> pd.DataFrame:
    cols = {c: frame[c] for c in kinds}
    cols["won"] = frame["won"].astype(bool)
    cols["amount"] = frame["amount"].astype("float64")
    cols["cycle_days"] = frame["cycle_days"].astype("float64")
    if has_ltv:
        # LTV is the account's customer revenue; an account with no transactions has earned nothing.
        cols["ltv"] = frame["ltv"].astype("float64").fillna(0.0)
    return pd.DataFrame(cols)


def discover_table(table: str | Path, out_dir: str | Path, *, outcome: str, won: str,
                   lost: Sequence[str] | None = None, amount: str | None = None, exclude: Sequence[str] = (),
                   na_values: Sequence[str] = (), include: Sequence[str] = (), progress: Progress = NULL_PROGRESS,
                   **params: Any) -> IcpResult:
    """ICP discovery on one flat table with an outcome column (no spec), after the leakage guard."""
    with progress.step(f"reading {table}"):
        t = read_outcome_table(table, outcome=outcome, won=won, lost=lost, amount=amount, exclude=exclude,
                               na_values=na_values)
    _check_outcomes(t.frame["won"], str(t.path))
    with progress.step("checking attributes for leakage"):
        kinds, findings = _guarded(t.frame, t.kinds, include=include, where=t.path, check=True)
    with progress.step(f"testing {len(kinds)} attributes on {len(t.frame):,} records"):
        model = ICPDiscovery(**params).fit(t.frame.drop(columns=[c for c in t.kinds if c not in kinds]), kinds=kinds)
    _note_leakage(model, findings)
    skipped = [f"'{c}' skipped: a record key, unique on almost every row" for c in t.identifiers]
    skipped += [f"'{c}' skipped: a date says when, not what kind of company" for c in t.dates]
    model.notes_ = skipped + list(model.notes_)
    out = Path(out_dir)
    files = {}
    if t.quarantined:
        files["quarantine"] = str(_write_quarantine(out / "quarantine.csv", t.quarantined))
    summary = {"source": str(t.path), "inputs": t.summary(), "leakage": findings}
    result = _write(model, out, title=f"ICP discovery: {Path(table).name}", source=str(t.path), summary=summary,
                    progress=progress)
    result.files.update(files)
    return result


def _write_quarantine(path: Path, rows: list[dict[str, Any]]) -> Path:
    return write_text_atomic(path, pd.DataFrame(rows).to_csv(index=False, lineterminator="\n"))


def _write(model: ICPDiscovery, out: Path, *, title: str, source: str, summary: dict[str, Any],
           progress: Progress) -> IcpResult:
    files: dict[str, str] = {}
    with progress.step("writing the ICP document"):
        files["attributes"] = str(icp_report.write_attributes_csv(model, out / "attributes.csv"))
        files["markdown"] = str(write_text_atomic(out / "icp.md", icp_report.render_markdown(
            model, title=title, source=source)))
        files["html"] = str(write_text_atomic(out / "icp.html", icp_report.render_html(
            model, title=title, source=source)))
        fit = model.suggest_fit()
        files["suggested_fit"] = str(write_text_atomic(out / "suggested_fit.yaml", (
            "# Data-derived fit section from `tierwise icp discover`: review it, then paste it into the spec.\n"
            + yaml.safe_dump({"fit": fit}, sort_keys=False, allow_unicode=True))))
        payload = {
            **summary,
            "records": int(model.overall_["records"]),
            "won": int(model.overall_["won"]),
            "win_rate": _num(model.overall_["win_rate"]),
            "has_signal": bool(model.has_signal_),
            "comparisons": int(model.attributes_["p_value"].notna().sum()),
            "significant_values": int(model.attributes_["significant"].sum()),
            "validated_attributes": model.validated_["attribute"].tolist() if len(model.validated_) else [],
            "segments": [_segment_json(s) for s in model.segments_],
            "best_customers_basis": model.best_customers_basis_,
            "suggested_fit_criteria": len(fit.get("criteria", [])),
            "notes": list(model.notes_),
        }
        files["summary"] = str(write_json(out / "summary.json", payload))
    return IcpResult(out, files, payload, model)


def _num(value: Any) -> float | None:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    return round(float(value), 6)


def _segment_json(segment: Any) -> dict[str, Any]:
    return {"rule": segment.rule, "support": int(segment.support), "win_rate": _num(segment.win_rate),
            "lift": _num(segment.lift), "expected_value": _num(segment.expected_value),
            "significant": bool(segment.significant)}


# --------------------------------------------------------------------------- lookalikes


@dataclass
class LookalikeResult:
    out_dir: Path
    files: dict[str, str]
    summary: dict[str, Any]


def best_customer_mask(accounts: pd.DataFrame, won_value: pd.Series, *, best_share: float) -> np.ndarray:
    """The top ``best_share`` of customers (accounts with value > 0) by value: LTV or won deal amounts."""
    value = won_value.reindex(accounts["account_id"]).fillna(0.0).to_numpy()
    customers = value > 0
    if not customers.any():
        return customers
    cut = np.quantile(value[customers], 1 - best_share)
    return customers & (value >= cut)


def lookalike_scores(ws: Any, data: learning.LearningData, *, as_of: date, best_share: float
                     ) -> tuple[pd.DataFrame, dict[str, Any], LookalikeModel]:
    """Fit the lookalike model on the workspace and score every account (account_id, lookalike_score, reasons)."""
    engine = ws.engine
    accounts = ws.table("accounts")
    cols = ["account_id", *[a.name for a in data.attributes]]
    frame = engine.to_arrow(accounts.select(*cols).order_by("account_id")).to_pandas()
    values = learning.customer_values(ws, as_of=as_of)
    if values is not None:
        value = engine.to_arrow(values.select("account_id", "ltv")).to_pandas().set_index("account_id")["ltv"]
        basis = "lifetime revenue (transactions)"
    else:
        deals = data.deals
        if deals is None:
            raise DataError("lookalikes need customers: add opportunities (won deals) or transactions to the spec")
        won = deals.filter(deals.won)
        value = engine.to_arrow(won.group_by("account_id").aggregate(v=won.amount.sum().fill_null(0) + 1)
                                ).to_pandas().set_index("account_id")["v"]
        basis = "won deal amounts"
    customers = value.reindex(frame["account_id"]).fillna(0.0).to_numpy() > 0
    best = best_customer_mask(frame, value, best_share=best_share)
    if best.sum() < 5:
        raise DataError(f"only {int(best.sum())} best customers (top {best_share:.0%} of {int(customers.sum())} "
                        "customers); lookalikes need at least 5 — lower-level data or a larger best_share")
    kinds = data.kinds
    model = LookalikeModel().fit(frame[list(kinds)], best, kinds=kinds)
    scores = model.score(frame[list(kinds)])
    reasons = model.explain(frame[list(kinds)])
    out = pd.DataFrame({"account_id": frame["account_id"], "lookalike_score": scores,
                        "is_customer": customers, "is_best_customer": best})
    for i in range(3):
        out[f"reason_{i + 1}"] = [r[i] if len(r) > i else None for r in reasons]
    info = {"best_customers": int(best.sum()), "customers": int(customers.sum()), "accounts": len(frame),
            "basis": basis, "best_share": best_share, "holdout_auc": _holdout_auc(frame[list(kinds)], best,
                                                                                  customers, kinds)}
    return out, info, model


def _holdout_auc(frame: pd.DataFrame, best: np.ndarray, customers: np.ndarray, kinds: dict[str, str]
                 ) -> float | None:
    """How well the score ranks unseen best customers above non-customers: fit without a fifth of them."""
    from sklearn.metrics import roc_auc_score

    idx = np.flatnonzero(best)
    if len(idx) < 25:
        return None
    held = np.random.default_rng(0).permutation(idx)[: len(idx) // 5]
    train_best = best.copy()
    train_best[held] = False
    model = LookalikeModel().fit(frame, train_best, kinds=kinds)
    pool = np.concatenate([held, np.flatnonzero(~customers)])
    label = np.zeros(len(pool))
    label[: len(held)] = 1
    return round(float(roc_auc_score(label, model.score(frame.iloc[pool]))), 4)


def lookalikes(spec: str | Path | SpecFile, out_dir: str | Path, *, as_of: date | None = None,
               engine_url: str | None = None, progress: Progress = NULL_PROGRESS) -> LookalikeResult:
    """Rank accounts that are not yet customers by similarity to the best customers; write CSV + JSON."""
    spec_file = spec if isinstance(spec, SpecFile) else load_spec(spec)
    out = Path(out_dir)
    with connect(engine_url or spec_file.spec.engine) as engine:
        day = resolve_as_of(spec_file, as_of)
        ws = load_workspace(engine, spec_file, tables=("accounts", "opportunities", "transactions"),
                            progress=progress)
        data = learning.prepare(ws, need_deals=False, as_of=day)
        with progress.step("learning the best customers' profile"):
            scores, info, model = lookalike_scores(ws, data, as_of=day, best_share=spec_file.spec.lookalike.best_share)
    prospects = scores[~scores["is_customer"]].sort_values(["lookalike_score", "account_id"],
                                                           ascending=[False, True])
    files = {
        "lookalikes": str(write_text_atomic(out / "lookalikes.csv", prospects.drop(
            columns=["is_customer", "is_best_customer"]).to_csv(index=False, lineterminator="\n"))),
        "profile": str(write_text_atomic(out / "lookalike_profile.csv",
                                         model.profile().to_csv(index=False, lineterminator="\n"))),
    }
    summary = {**info, "as_of": day.isoformat(), "prospects": int(len(prospects)),
               "top": prospects.head(10).to_dict("records")}
    files["summary"] = str(write_json(out / "lookalikes.json", summary))
    return LookalikeResult(out, files, summary)
