"""``tierwise leads route``: match every lead to an account, then route it by the spec's rules.

Accounts are scored as ``tierwise score`` does (so rules can read the matched
account's tier, segment and score); leads are matched by email domain, website
and fuzzy company name (:class:`~tierwise.models.matching.LeadAccountMatcher`);
each rule's condition is compiled and evaluated by the engine; the
:class:`~tierwise.models.routing.Router` assigns owners, queues and pools and
writes every decision to the audit log, so a lead sent twice is not assigned
twice.

Examples
--------
>>> from tierwise.jobs.leads import route
>>> result = route("workspace/spec.yaml", "out/routing")           # doctest: +SKIP
>>> result.summary["by_rule"]                                      # doctest: +SKIP
{'tier_a': 12, 'nurture': 388}
"""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import ibis.expr.types as ir
import pandas as pd
import pyarrow as pa

from tierwise.compile.conditions import compile_condition
from tierwise.datamodel import LEAD_SCORE_FIELDS
from tierwise.engine import connect
from tierwise.errors import DataError
from tierwise.jobs.workspace import Workspace, load_workspace, resolve_as_of, write_json
from tierwise.models.matching import LeadAccountMatcher
from tierwise.models.routing import Rep, Route, Router, decisions_frame, sla_breaches
from tierwise.progress import NULL_PROGRESS, Progress
from tierwise.spec import expr as E
from tierwise.spec.loader import SpecFile, format_loc, load_spec
from tierwise.store.audit import AuditLog

MATCH_COLUMNS = ["lead_id", "account_id", "status", "method", "confidence", "candidates", "reason"]


@dataclass
class RouteResult:
    out_dir: Path
    files: dict[str, str]
    summary: dict[str, Any]


def account_scores(ws: Workspace, day: date, progress: Progress = NULL_PROGRESS) -> ir.Table:
    """Every account's score, tier and segment, as ``tierwise score`` computes them (materialised).

    Only what routing reads is kept, so the engine skips the reasons and the other output columns.
    """
    from tierwise.jobs.score import account_scores_expr

    scores = account_scores_expr(ws, day, progress)
    with progress.step("scoring accounts"):
        return ws.engine.materialize(scores.select("account_id", "score", "tier", "segment"))


def account_frame(ws: Workspace, scores: ir.Table | None = None) -> pd.DataFrame:
    """Accounts with what matching and routing read, and (given ``scores``) their score, tier and segment."""
    accounts = ws.table("accounts")
    columns = ["account_id", "name", "domain", "website", "owner_id", "employees", "industry"]
    if scores is None:
        return ws.engine.to_arrow(accounts.select(*columns).order_by("account_id")).to_pandas()
    scores = scores.select("account_id", account_score=scores.score, account_tier=scores.tier,
                           account_segment=scores.segment)
    joined = accounts.left_join(scores, "account_id").select(
        *[accounts[c] for c in columns], scores.account_score, scores.account_tier, scores.account_segment)
    return ws.engine.to_arrow(joined.order_by("account_id")).to_pandas()


def reps_from_workspace(ws: Workspace, out_of_office: list[str]) -> dict[str, Rep]:
    reps = ws.table("reps")
    if reps is None:
        return {}
    rows = ws.engine.to_arrow(reps.select("rep_id", "active", "capacity").order_by("rep_id")).to_pylist()
    away = set(out_of_office)
    return {r["rep_id"]: Rep(r["rep_id"], active=r["active"] is not False, out_of_office=r["rep_id"] in away,
                             cap=r["capacity"]) for r in rows}


def rule_flag_columns(spec_file: SpecFile, table: ir.Table) -> dict[str, ir.BooleanValue]:
    """One boolean per routing rule (``_rule_<i>``): its condition compiled over ``table``."""
    routing = spec_file.spec.routing
    assert routing is not None
    cols = {}
    for i, rule in enumerate(routing.rules):
        node = spec_file.conditions.get(format_loc(("routing", "rules", i, "when"))) or E.parse_condition(rule.when)
        cols[f"_rule_{i}"] = compile_condition(node, table).fill_null(False)
    return cols


def routes_from_spec(spec_file: SpecFile) -> list[Route]:
    routing = spec_file.spec.routing
    assert routing is not None
    routes = []
    for i, rule in enumerate([*routing.rules, routing.default]):
        flag = f"_rule_{i}" if rule is not routing.default else None
        routes.append(Route(
            rule.name,
            (lambda lead, c=flag: bool(lead[c])) if flag else None,
            rule.to, target=rule.target, pool=tuple(rule.pool) if rule.pool else None,
            sla_minutes=rule.sla_minutes, fallback=rule.fallback, condition=rule.when,
            when_frame=(lambda df, c=flag: df[c].to_numpy(dtype=bool)) if flag else None,
            reads=(flag,) if flag else (),
        ))
    return routes


def route(spec: str | Path | SpecFile, out_dir: str | Path, *, as_of: date | None = None,
          now: datetime | None = None, engine_url: str | None = None,
          progress: Progress = NULL_PROGRESS) -> RouteResult:
    """Match, route and log every lead of the spec's ``leads`` table; write decisions, matches and a summary."""
    spec_file = spec if isinstance(spec, SpecFile) else load_spec(spec)
    routing = spec_file.spec.routing
    if routing is None:
        raise DataError(f"{spec_file.path}: the spec has no 'routing:' section; add rules and a default "
                        "(see docs/routing.md)")
    out = Path(out_dir)
    # CRM timestamps are loaded without a zone and read as UTC: decisions use naive UTC times too
    decided_at = (now or datetime.now(UTC))
    decided_at = decided_at.astimezone(UTC).replace(tzinfo=None) if decided_at.tzinfo else decided_at
    with connect(engine_url or spec_file.spec.engine) as engine:
        day = resolve_as_of(spec_file, as_of)
        learned = spec_file.spec.uses_propensity or spec_file.spec.lookalike.weight > 0
        tables = ("accounts", "activities", "leads", "reps") + (("opportunities", "transactions") if learned else ())
        ws = load_workspace(engine, spec_file, tables=tables,
                            columns={"activities": {"account_id", "event_type", "occurred_at"}}, progress=progress)
        if ws.table("leads") is None:
            raise DataError(f"{spec_file.path}: data.leads is not set; routing needs the leads file")
        # Matching reads only the accounts' and leads' own columns, and runs in Python while the engine
        # loads the lead events and scores (it releases the GIL): on two cores they overlap, not queue.
        accounts = account_frame(ws)
        match_in = engine.to_arrow(ws.table("leads").select("lead_id", "email", "website", "company")
                                   .order_by("lead_id")).to_pandas()
        matcher = LeadAccountMatcher(min_score=routing.min_match_score)
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="tierwise-match") as background:
            def match() -> tuple[pd.DataFrame, pa.Table]:
                found = matcher.fit(accounts).match(match_in)
                return found, pa.Table.from_pandas(found[MATCH_COLUMNS], preserve_index=False)

            matching = background.submit(match)
            if "lead_activities" in spec_file.spec.data.sources():
                ws.load("lead_activities", progress=progress)
            scores = account_scores(ws, day, progress)
            with progress.step("scoring leads"):
                # only the columns some rule reads: the lead scores without their breakdowns
                scored = scored_leads(ws, day)
                leads = engine.materialize(scored.select(*routing_lead_columns(spec_file, scored)))
            with progress.step(f"matching {len(match_in):,} leads to {len(accounts):,} accounts"):
                matches, match_table = matching.result()
                matched = engine.register(match_table)  # a temporary table already
        # the routing fields and every rule's flag, computed by the engine; only what the router reads comes back
        frame = routing_table(leads, matched, ws.table("accounts"), scores)
        routes = routes_from_spec(spec_file)
        flags = rule_flag_columns(spec_file, frame)
        with progress.step("evaluating the routing rules"):
            router_in = engine.to_arrow(frame.select("lead_id", "created_at", "account_owner_id", **flags)
                                        .order_by("lead_id")).to_pandas()
        reps = reps_from_workspace(ws, routing.out_of_office)
        audit = AuditLog(spec_file.resolve(routing.audit_log))
        with progress.step(f"routing {len(router_in):,} leads"):
            router = Router(routes, reps, state=audit.state)
            decisions = router.route(router_in, now=decided_at, audit=audit)
        with progress.step("writing decisions"):
            table = engine.register(decisions_frame(decisions))  # a temporary table already
            files = {
                "decisions_parquet": str(engine.write(table, out / "decisions.parquet", "parquet")),
                "decisions_csv": str(engine.write(table, out / "decisions.csv", "csv")),
                "matches": str(engine.write(matched.order_by("lead_id"), out / "matches.csv", "csv")),
            }
            files.update({f"quarantine_{k}": v for k, v in ws.write_quarantine(out).items()})
        inputs = {name: {k: load.summary()[k] for k in ("read", "loaded", "quarantined")}
                  for name, load in ws.loads.items()}
    breaches = sla_breaches(decisions, None, decided_at)
    fresh = [d for d in decisions if not d.replay]
    summary = {
        "as_of": day.isoformat(), "decided_at": decided_at.isoformat(), "leads": len(decisions),
        "routed": len(fresh), "replayed": len(decisions) - len(fresh),
        "by_rule": dict(sorted(Counter(d.rule for d in fresh).items())),
        "by_target": dict(sorted(Counter(f"{d.target_kind}:{d.target}" for d in fresh).items())),
        "fallbacks": dict(sorted(Counter(d.fallback_used for d in fresh if d.fallback_used).items())),
        "matches": dict(sorted(Counter(matches["status"]).items())),
        "sla_breaches": len(breaches),
        "audit_log": str(audit.path), "inputs": inputs,
    }
    files["summary"] = str(write_json(out / "summary.json", summary))
    return RouteResult(out, files, summary)


def scored_leads(ws: Workspace, day: date):
    """The leads table, with the lead-scoring fields routing rules may read when the spec scores leads."""
    from tierwise.compile.leads import compile_lead_scores

    leads = ws.table("leads")
    if ws.spec_file.spec.lead_scoring is None:
        return leads
    fields = [*LEAD_SCORE_FIELDS, "lead_segment"]  # persona: the stored one, else derived from the title
    own = [c for c in leads.columns if c not in fields]
    # the lead's own columns ride along with its score: no second pass over the leads to join them back
    scores = compile_lead_scores(ws.spec_file, leads, ws.table("lead_activities"), as_of=day, key="lead_id",
                                 passthrough=tuple(own))
    return scores.select(*own, *fields)


def routing_lead_columns(spec_file: SpecFile, leads: ir.Table) -> list[str]:
    """The columns of ``leads`` routing reads: the key, ``created_at`` (SLAs) and every field a rule names."""
    routing = spec_file.spec.routing
    assert routing is not None
    named = {"lead_id", "created_at"}
    for i, rule in enumerate(routing.rules):
        named |= E.referenced_columns(spec_file.conditions.get(format_loc(("routing", "rules", i, "when")))
                                      or E.parse_condition(rule.when))
    return [c for c in leads.columns if c in named]


#: Routing fields taken from the matched account: field -> account_frame column.
ACCOUNT_ROUTING_FIELDS = {
    "account_name": "name", "account_owner_id": "owner_id", "account_industry": "industry",
    "account_employees": "employees", "account_score": "account_score", "account_tier": "account_tier",
    "account_segment": "account_segment",
}
_FLOAT_FIELDS = ("account_employees", "account_score")


def routing_table(leads: ir.Table, matches: ir.Table, accounts: ir.Table, scores: ir.Table) -> ir.Table:
    """Each lead's own columns plus the matched account's fields (``account_*``) and the match's."""
    acc = accounts.select("account_id", "name", "owner_id", "industry", "employees")
    acc = acc.left_join(scores.select("account_id", account_score=scores.score, account_tier=scores.tier,
                                      account_segment=scores.segment), "account_id").select(
        acc, "account_score", "account_tier", "account_segment")
    m = matches.select("lead_id", _account_id=matches.account_id, match_status=matches.status,
                       match_method=matches.method, match_confidence=matches.confidence)
    added = {"account_id", *ACCOUNT_ROUTING_FIELDS, "match_status", "match_method", "match_confidence"}
    own = [c for c in leads.columns if c not in added]
    t = leads.select(*own).left_join(m, "lead_id").select(*own, "_account_id", "match_status", "match_method",
                                                        "match_confidence")
    t = t.left_join(acc, t._account_id == acc.account_id)
    return t.select(
        *own, account_id=t._account_id,
        **{f: t[col].cast("float64") if f in _FLOAT_FIELDS else t[col] for f, col in ACCOUNT_ROUTING_FIELDS.items()},
        match_status=t.match_status, match_method=t.match_method, match_confidence=t.match_confidence,
    )


def routing_record(lead: dict[str, Any], match: dict[str, Any], account: dict[str, Any] | None) -> dict[str, Any]:
    """:func:`routing_frame` for one lead: its fields plus the matched account's and the match's."""
    out = dict(lead)
    out["account_id"] = match["account_id"]
    for f, col in ACCOUNT_ROUTING_FIELDS.items():
        value = account.get(col) if account is not None else None
        out[f] = float(value) if f in _FLOAT_FIELDS and value is not None and value == value else (
            None if f in _FLOAT_FIELDS else value)
    out.update(match_status=match["status"], match_method=match["method"], match_confidence=match["confidence"])
    return out


def parse_now(value: str | None) -> datetime | None:
    """``--now 2026-11-01T09:30`` (UTC when no offset is given)."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise DataError(f"--now must be an ISO date-time like 2026-11-01T09:30, got {value!r}") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)

