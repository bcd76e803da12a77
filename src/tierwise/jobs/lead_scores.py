"""``tierwise leads score``: score leads and contacts, choose the MQL line, roll contacts up to accounts.

Leads are scored from their own columns and ``lead_activities``; contacts from
their columns, their account's size, industry and country, and the
``activities`` that name them (``contact_id``). The arithmetic lives in
:mod:`tierwise.compile.leads`; this module loads, writes and summarises.

Examples
--------
>>> from tierwise.jobs.lead_scores import score_leads
>>> result = score_leads("workspace/spec.yaml", "out/leads")          # doctest: +SKIP
>>> result.summary["leads"]["mql_threshold"]                          # doctest: +SKIP
62.5
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir

from tierwise.compile.leads import compile_lead_scores
from tierwise.engine import Engine, connect
from tierwise.errors import DataError
from tierwise.jobs.workspace import Workspace, load_workspace, resolve_as_of, write_json
from tierwise.progress import NULL_PROGRESS, Progress
from tierwise.spec.loader import SpecFile, load_spec

#: Contact columns people scoring reads, then the account fields a contact inherits.
ACCOUNT_FIELDS = {"employees": "employees", "industry": "industry", "country": "country", "name": "company"}


@dataclass
class LeadScoreResult:
    out_dir: Path
    files: dict[str, str]
    summary: dict[str, Any]


def require_lead_scoring(spec_file: SpecFile) -> None:
    if spec_file.spec.lead_scoring is None:
        raise DataError(f"{spec_file.path}: the spec has no 'lead_scoring:' section; add fit, behaviour and MQL "
                        "rules (see docs/lead-scoring.md)")


def lead_scores(ws: Workspace, day: date, *, mql_threshold: float | None = None) -> ir.Table | None:
    """Scored leads (``lead_id`` ...), or None when the spec has no leads table."""
    leads = ws.table("leads")
    if leads is None:
        return None
    events = ws.table("lead_activities")
    return compile_lead_scores(ws.spec_file, leads, events, as_of=day, key="lead_id", mql_threshold=mql_threshold)


def contact_scores(ws: Workspace, day: date) -> ir.Table | None:
    """Scored contacts (``contact_id``, ``account_id`` ...), or None when the spec has no contacts table."""
    contacts = ws.table("contacts")
    if contacts is None:
        return None
    accounts = ws.table("accounts")
    inherited = accounts.select("account_id", **{f"_acc_{k}": accounts[k] for k in ACCOUNT_FIELDS})
    people = contacts.left_join(inherited, "account_id").select(
        contacts, **{v: inherited[f"_acc_{k}"] for k, v in ACCOUNT_FIELDS.items() if v not in contacts.columns})
    activities = ws.table("activities")
    events = None
    if activities is not None:
        events = activities.filter(activities.contact_id.notnull()).select("contact_id", "event_type", "occurred_at")
    return compile_lead_scores(ws.spec_file, people, events, as_of=day, key="contact_id")


def account_rollup(ws: Workspace, contacts: ir.Table) -> ir.Table:
    """Per account: its contacts' engagement and buying-committee coverage (every account, contacts or not)."""
    ls = ws.spec_file.spec.lead_scoring
    assert ls is not None
    c = contacts.filter(contacts.account_id.notnull())
    required = ls.committee
    metrics: dict[str, ir.Value] = {
        "contacts": c.count(),
        "engaged_contacts": (c.behaviour_points > 0).cast("int64").sum(),
        "mql_contacts": c.is_mql.cast("int64").sum(),
        "contact_engagement": c.behaviour_points.sum(),
        "best_contact_score": c.lead_score.max(),
        "personas_present": c.persona.collect(distinct=True),
    }
    for i, persona in enumerate(required):
        metrics[f"_has_{i}"] = (c.persona == persona).any()
    per = c.group_by("account_id").aggregate(**metrics)
    accounts = ws.table("accounts").select("account_id", account_name=ws.table("accounts")["name"])
    t = accounts.left_join(per, "account_id").select(accounts, *[per[k] for k in metrics])
    has = [t[f"_has_{i}"].fill_null(False) for i in range(len(required))]
    coverage = (sum((h.cast("float64") for h in has), ibis.literal(0.0)) / len(required)) if required else None
    missing = ibis.literal(";").join([ibis.ifelse(h, ibis.null().cast("string"), ibis.literal(p))
                                      for h, p in zip(has, required, strict=True)]).nullif("") if required else None
    return t.select(
        "account_id", "account_name",
        contacts=t.contacts.fill_null(0),
        engaged_contacts=t.engaged_contacts.fill_null(0),
        mql_contacts=t.mql_contacts.fill_null(0),
        contact_engagement=t.contact_engagement.fill_null(0.0).round(2),
        best_contact_score=t.best_contact_score,
        personas_present=t.personas_present.sort().join(";").nullif(""),
        committee_required=ibis.literal(";".join(required)).nullif(""),
        committee_coverage=(coverage.round(4) if coverage is not None else ibis.null().cast("float64")),
        missing_personas=missing if missing is not None else ibis.null().cast("string"),
    )


def _segment_summary(engine: Engine, scores: ir.Table) -> dict[str, Any]:
    total = int(engine.scalar(scores.count()))
    stats = engine.to_arrow(scores.aggregate(
        mql=scores.is_mql.cast("int64").sum(), threshold=scores.mql_threshold.max(),
        mean=scores.lead_score.mean(), invalid_email=(~scores.email_valid).cast("int64").sum(),
        zero=(scores.lead_score == 0).cast("int64").sum())).to_pylist()[0]
    segs = engine.to_arrow(scores.group_by(["lead_segment", "motion"]).aggregate(
        people=scores.count(), mql=scores.is_mql.cast("int64").sum()).order_by("lead_segment")).to_pylist()
    return {
        "people": total,
        "mql": int(stats["mql"] or 0),
        "mql_share": round((stats["mql"] or 0) / total, 4) if total else 0.0,
        "mql_threshold": stats["threshold"],
        "mean_score": round(stats["mean"], 2) if stats["mean"] is not None else None,
        "zero_scores": int(stats["zero"] or 0),
        "malformed_emails": int(stats["invalid_email"] or 0),
        "segments": [{"segment": r["lead_segment"], "motion": r["motion"], "people": int(r["people"]),
                      "mql": int(r["mql"])} for r in segs],
    }


def event_coverage(engine: Engine, events: ir.Table | None, people: ir.Table | None, key: str,
                   scored_types: set[str]) -> dict[str, Any]:
    """Events read, events whose type the spec does not score (by type), events for unknown people."""
    if events is None:
        return {"events": 0, "unscored_types": {}, "unknown_person": 0}
    other = events.filter(~events.event_type.isin(sorted(scored_types))) if scored_types else events
    unscored = engine.to_arrow(other.group_by("event_type").aggregate(n=other.count()).order_by("event_type")).to_pylist()
    unknown = 0
    if people is not None:
        unknown = int(engine.scalar(events.anti_join(people.select(key), key).count()))
    return {"events": int(engine.scalar(events.count())),
            "unscored_types": {r["event_type"]: int(r["n"]) for r in unscored},
            "unknown_person": unknown}


def score_leads(spec: str | Path | SpecFile, out_dir: str | Path, *, as_of: date | None = None,
                engine_url: str | None = None, progress: Progress = NULL_PROGRESS) -> LeadScoreResult:
    """Score leads and contacts; write ``leads``, ``contacts`` (Parquet and CSV), ``accounts.csv`` and a summary."""
    spec_file = spec if isinstance(spec, SpecFile) else load_spec(spec)
    require_lead_scoring(spec_file)
    ls = spec_file.spec.lead_scoring
    assert ls is not None
    out = Path(out_dir)
    files: dict[str, str] = {}
    summary: dict[str, Any] = {}
    with connect(engine_url or spec_file.spec.engine) as engine:
        day = resolve_as_of(spec_file, as_of)
        ws = load_workspace(engine, spec_file, tables=("accounts", "contacts", "leads", "activities", "lead_activities"),
                            columns={"activities": {"account_id", "contact_id", "event_type", "occurred_at"}},
                            progress=progress)
        if ws.table("leads") is None and ws.table("contacts") is None:
            raise DataError(f"{spec_file.path}: lead scoring needs data.leads or data.contacts")
        scored_types = set(ls.event_rules())
        for name, scorer, key, events_name in (("leads", lead_scores, "lead_id", "lead_activities"),
                                               ("contacts", contact_scores, "contact_id", "activities")):
            with progress.step(f"scoring {name}"):
                table = scorer(ws, day)
                if table is None:
                    continue
                table = engine.materialize(table)
                ordered = table.order_by(key)
                files[f"{name}_parquet"] = str(engine.write(ordered, out / f"{name}.parquet", "parquet"))
                files[f"{name}_csv"] = str(engine.write(ordered, out / f"{name}.csv", "csv"))
                summary[name] = _segment_summary(engine, table)
                events = ws.table(events_name)
                if events is not None and name == "contacts":
                    events = events.filter(events.contact_id.notnull())
                summary[name]["events"] = event_coverage(engine, events, ws.table(name), key, scored_types)
                if name == "contacts":
                    with progress.step("rolling contacts up to accounts"):
                        rollup = account_rollup(ws, table).order_by("account_id")
                        files["accounts_csv"] = str(engine.write(rollup, out / "accounts.csv", "csv"))
                        summary["accounts"] = _coverage_summary(engine, rollup, ls.committee)
        files.update({f"quarantine_{k}": v for k, v in ws.write_quarantine(out).items()})
        summary["inputs"] = {name: {k: load.summary()[k] for k in ("read", "loaded", "quarantined")}
                             for name, load in ws.loads.items()}
    summary.update({"as_of": day.isoformat(), "spec_hash": spec_file.spec.fingerprint(),
                    "mql_rule": ({"threshold": ls.mql.threshold} if ls.mql.threshold is not None
                                 else {"top_share": ls.mql.top_share})})
    files["summary"] = str(write_json(out / "summary.json", summary))
    return LeadScoreResult(out, files, summary)


def _coverage_summary(engine: Engine, rollup: ir.Table, committee: list[str]) -> dict[str, Any]:
    row = engine.to_arrow(rollup.aggregate(
        accounts=rollup.count(), with_contacts=(rollup.contacts > 0).cast("int64").sum(),
        engaged=(rollup.engaged_contacts > 0).cast("int64").sum(),
        full=(rollup.committee_coverage >= 1).cast("int64").sum(),
        mean_coverage=rollup.committee_coverage.mean())).to_pylist()[0]
    return {"accounts": int(row["accounts"]), "with_contacts": int(row["with_contacts"] or 0),
            "engaged": int(row["engaged"] or 0), "committee": committee,
            "full_committee": int(row["full"] or 0) if committee else None,
            "mean_committee_coverage": round(row["mean_coverage"], 4) if committee and row["mean_coverage"] is not None
            else None}
