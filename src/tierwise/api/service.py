"""The scoring service behind the REST API: the workspace scored once, single records scored like a batch.

At start the service loads the workspace, scores every account (as
``tierwise score`` does), fits the lead-to-account matcher, opens the routing
audit log and, when the spec picks the MQL line as a top share, scores the
workspace's leads to find it.

An account is scored by **the batch's own SQL**: the record goes through the
loader's typing (:func:`~tierwise.io.loader.typed_columns`) and the compiled
scoring expression, prepared once per scoring date
(:meth:`~tierwise.engine.Engine.prepare`). A lead, which must be scored and
routed in a few milliseconds, goes through the same spec compiled for one
record (:mod:`tierwise.compile.rowwise`: the same steps, sums, rounding and
null rules, held to the SQL results by a parity test); planning a query alone
would take longer than its budget.

Examples
--------
>>> service = ScoringService("demo-workspace/spec.yaml")                       # doctest: +SKIP
>>> service.score_account({"account_id": "ACC-1", "employees": 5000}, [])["score"]  # doctest: +SKIP
42.5
"""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir

from tierwise.api.schemas import arrow_schema, to_arrow
from tierwise.compile.rowwise import LeadScorer, compile_predicate, typed_record
from tierwise.compile.scoring import compile_scores
from tierwise.datamodel import TABLES
from tierwise.engine import PreparedQuery, connect
from tierwise.errors import DataError
from tierwise.io.loader import typed_columns
from tierwise.jobs.lead_scores import contact_scores, lead_scores
from tierwise.jobs.leads import account_frame, reps_from_workspace, routes_from_spec, routing_record
from tierwise.jobs.workspace import load_workspace, resolve_as_of
from tierwise.models.matching import LeadAccountMatcher
from tierwise.models.routing import Decision, Router, _as_replay
from tierwise.progress import NULL_PROGRESS, Progress
from tierwise.spec import expr as E
from tierwise.spec.loader import SpecFile, format_loc, load_spec
from tierwise.spec.model import SourceSpec
from tierwise.store.audit import AuditLog, GroupCommit

EVENT_COLUMNS = {"activities": ("account_id", "contact_id", "event_type", "occurred_at")}
HISTORY_ROWS = 20


class RecordError(ValueError):
    """A record the service cannot score (answered with 422 and the field path)."""

    def __init__(self, path: str, message: str):
        super().__init__(message)
        self.path = path


class ScoringService:
    """The workspace, scored once, and prepared queries for single records."""

    def __init__(self, spec: str | Path | SpecFile, *, engine_url: str | None = None, as_of: date | None = None,
                 progress: Progress = NULL_PROGRESS):
        self.spec_file = spec if isinstance(spec, SpecFile) else load_spec(spec)
        s = self.spec_file.spec
        self.engine = connect(engine_url or s.engine)
        self.as_of = resolve_as_of(self.spec_file, as_of)
        self._lock = threading.Lock()  # one connection: requests take turns on it
        self._route_lock = threading.Lock()  # one router and one audit log: leads take turns on them
        self._group: GroupCommit | None = None  # the API's group commit, made on its event loop
        self._prepared: dict[tuple[str, date], PreparedQuery] = {}
        learned = s.uses_propensity or s.lookalike.weight > 0
        tables = ("accounts", "activities", "contacts", "leads", "lead_activities", "reps", "opportunities") + (
            ("transactions",) if learned else ())
        self.ws = load_workspace(self.engine, self.spec_file, tables=tables, progress=progress)
        if self.ws.loads["accounts"].loaded == 0:
            raise DataError(f"{self.ws.loads['accounts'].path}: no account could be loaded")
        from tierwise.jobs.score import learned_components

        self.components = learned_components(self.ws, as_of=self.as_of, progress=progress) if learned else None
        with progress.step("scoring accounts"):
            self.scores = self.engine.materialize(compile_scores(
                self.spec_file, self.ws.table("accounts"), self.ws.table("activities"), as_of=self.as_of,
                components=self.components))
        self.accounts = account_frame(self.ws, self.scores).set_index("account_id", drop=False)
        self.account_count = len(self.accounts)
        self.contacts = None
        self.mql_threshold: float | None = None
        if s.lead_scoring is not None:
            self.mql_threshold = self._mql_threshold(progress)
            if self.ws.table("contacts") is not None:
                with progress.step("scoring contacts"):
                    self.contacts = self.engine.materialize(contact_scores(self.ws, self.as_of))
        self.router = self.matcher = self.audit = None
        if s.routing is not None:
            with progress.step("fitting the lead matcher"):
                self.matcher = LeadAccountMatcher(min_score=s.routing.min_match_score).fit(
                    self.accounts.reset_index(drop=True))
            self.audit = AuditLog(self.spec_file.resolve(s.routing.audit_log))
            self.router = Router(routes_from_spec(self.spec_file),
                                 reps_from_workspace(self.ws, s.routing.out_of_office), state=self.audit.state)
            self.rules = [compile_predicate(self.spec_file.conditions.get(format_loc(("routing", "rules", i, "when")))
                                            or E.parse_condition(rule.when or ""))
                          for i, rule in enumerate(s.routing.rules)]
        self.account_records = {k: v for k, v in zip(self.accounts["account_id"],
                                                     self.accounts.to_dict("records"), strict=True)}
        self.lead_scorer = (LeadScorer(self.spec_file, mql_threshold=self.mql_threshold)
                            if s.lead_scoring is not None else None)
        self._account_schema = arrow_schema("accounts", self._attributes("accounts"))
        self._event_schemas = {t: arrow_schema(t, columns=c) for t, c in EVENT_COLUMNS.items()}

    def close(self) -> None:
        self.engine.close()

    # -- start-up ------------------------------------------------------------------------------
    def _attributes(self, table: str) -> dict[str, str]:
        source = getattr(self.spec_file.spec.data, table)
        return dict(source.attributes) if source is not None else {}

    def _source(self, table: str) -> SourceSpec:
        return getattr(self.spec_file.spec.data, table) or SourceSpec(path="<api>")

    def _mql_threshold(self, progress: Progress) -> float | None:
        ls = self.spec_file.spec.lead_scoring
        assert ls is not None
        if ls.mql.threshold is not None:
            return ls.mql.threshold
        if self.ws.table("leads") is None:
            raise DataError(f"{self.spec_file.path}: lead_scoring.mql.top_share picks the MQL line from the "
                            "workspace's leads, but data.leads is not set; set lead_scoring.mql.threshold instead")
        with progress.step("scoring the workspace's leads for the MQL line"):
            scored = lead_scores(self.ws, self.as_of)
            line = self.engine.scalar(scored.mql_threshold.max())
        # no lead scored above zero: nobody is an MQL until someone scores above the cap
        return float(line) if line is not None else float(ls.total_cap) + 1.0

    def _typed(self, table: str, raw: ir.Table) -> ir.Table:
        columns, _ = typed_columns(self.engine, TABLES[table], self._source(table), raw, {c: c for c in raw.columns})
        keep = {c: v for c, v in columns.items() if c in raw.columns or c in TABLES[table].columns}
        return raw.select(**keep)

    def _account_expr(self, day: date) -> ir.Table:
        account = self._typed("accounts", ibis.table(self._account_schema, name="_in_account"))
        events = self._typed("activities", ibis.table(self._event_schemas["activities"], name="_in_account_events"))
        return compile_scores(self.spec_file, account, events, as_of=day, components=self.components)

    def _prepare(self, kind: str, day: date) -> PreparedQuery:
        key = (kind, day)
        if key not in self._prepared:
            if len(self._prepared) > 64:  # one per scoring date: old dates go
                self._prepared.clear()
            self._prepared[key] = self.engine.prepare(self._account_expr(day))
        return self._prepared[key]

    # -- requests -----------------------------------------------------------------------------
    def score_lead(self, lead: dict[str, Any], events: list[dict[str, Any]], *, as_of: date | None = None
                   ) -> dict[str, Any]:
        """The lead's typed columns and, when the spec scores leads, its score fields and breakdown."""
        record = typed_record("leads", lead)
        if self.lead_scorer is None:
            return record
        day = as_of or datetime.now(UTC).date()
        cleaned = [typed_record("lead_activities", e) for e in events]
        return self.lead_scorer.score(record, cleaned, as_of=day)

    def score_and_route(self, lead: dict[str, Any], events: list[dict[str, Any]], *, as_of: date | None = None,
                        now: datetime | None = None) -> dict[str, Any]:
        """Score the lead, match it to an account, route it (logged; a repeat is a replay).

        The decision is written to the audit log and synced before this returns. The API's
        event loop uses :meth:`score_and_route_async`, which shares the write among concurrent
        requests; do not mix the two on one service while requests are under way.
        """
        return self._score_and_route(lead, events, as_of, now, self.audit)[0]

    async def score_and_route_async(self, lead: dict[str, Any], events: list[dict[str, Any]], *,
                                    as_of: date | None = None, now: datetime | None = None) -> dict[str, Any]:
        """:meth:`score_and_route` on an asyncio loop, with group commit.

        The work is done at once (on the loop: it is a millisecond of CPU); the decision is
        staged in a :class:`~tierwise.store.audit.GroupCommit` that writes it, with the
        decisions of the requests that came meanwhile, in one batch and one ``fsync`` in a
        worker thread. This returns once the decision (or, for a replay, the decision it
        repeats) is on disk.
        """
        if self.audit is not None and (self._group is None or self._group.log is not self.audit):
            self._group = GroupCommit(self.audit)
        result, key = self._score_and_route(lead, events, as_of, now, self._group)
        if key is not None:
            stood = await self._group.durable([key])  # type: ignore[union-attr]
            if key in stood:  # another process logged this lead first: its decision stands
                result["route"] = _route_view(_as_replay(stood[key]))
        return result

    async def drain(self) -> None:
        """Write the decisions still staged and stop the group commit's writer thread."""
        if self._group is not None:
            group, self._group = self._group, None
            await group.aclose()

    def _score_and_route(self, lead: dict[str, Any], events: list[dict[str, Any]], as_of: date | None,
                         now: datetime | None, audit: AuditLog | GroupCommit | None
                         ) -> tuple[dict[str, Any], str | None]:
        """The answer, and the idempotency key of its decision (None when not routed)."""
        scored = self.score_lead(lead, events, as_of=as_of)
        result: dict[str, Any] = {"lead_id": scored["lead_id"], "score": None, "match": None, "route": None,
                                  "warnings": []}
        ls = self.spec_file.spec.lead_scoring
        if ls is not None:
            result["score"] = _lead_score_view(scored)
            unknown = sorted({str(e["event_type"]).strip().lower() for e in events} - set(ls.event_rules()))
            if unknown:
                result["warnings"].append(f"event types the spec does not score (activity only): {', '.join(unknown)}")
            if not scored.get("email_valid", True):
                result["warnings"].append(f"malformed email {scored.get('email')!r}: not used for matching")
        if self.router is None:
            result["warnings"].append("the spec has no 'routing:' section: the lead is scored, not routed")
            return result, None
        assert self.matcher is not None
        decided_at = now or datetime.now(UTC)
        decided_at = decided_at.astimezone(UTC).replace(tzinfo=None) if decided_at.tzinfo else decided_at
        with self._route_lock:  # the router's cursors and the audit log move one lead at a time
            # one lead: matched without pandas, as LeadAccountMatcher.match would match it in a frame
            m = self.matcher.match_records([{k: scored.get(k) for k in ("lead_id", "email", "website",
                                                                         "company")}])[0]
            match = {k: m[k] for k in ("account_id", "status", "method", "confidence", "reason")}
            routed = routing_record(scored, match, self.account_records.get(match["account_id"]))
            routed.update({f"_rule_{i}": rule(routed, {}) for i, rule in enumerate(self.rules)})
            decision = self.router.route_one(routed, now=decided_at, audit=audit)  # as route([routed])[0]
        result["match"] = match
        result["route"] = _route_view(decision)
        return result, decision.idempotency_key

    def score_account(self, account: dict[str, Any], events: list[dict[str, Any]], *, as_of: date | None = None
                      ) -> dict[str, Any]:
        """Score one account with its events as ``tierwise score`` would."""
        if self.components and account["account_id"] not in self.accounts.index:
            raise RecordError("account.account_id", (
                f"account '{account['account_id']}' is not in the workspace: the spec weighs in learned components "
                f"({', '.join(sorted(self.components))}) that are computed for the workspace's accounts; "
                "add the account to the workspace and restart, or score it in batch"))
        day = as_of or self.as_of
        rows = [{**e, "account_id": account["account_id"]} for e in events]
        with self._lock:
            query = self._prepare("account", day)
            out = self.engine.run_prepared(query, {
                "_in_account": to_arrow([account], self._account_schema),
                "_in_account_events": to_arrow(rows, self._event_schemas["activities"]),
            })
        return out.to_pylist()[0]

    def account(self, account_id: str) -> dict[str, Any] | None:
        """The workspace account's score, tier, segment and reasons, with its history and contacts."""
        with self._lock:
            s = self.scores
            rows = self.engine.to_arrow(s.filter(s.account_id == account_id)).to_pylist()
            if not rows:
                return None
            out = rows[0]
            history: dict[str, Any] = {}
            opps = self.ws.table("opportunities")
            if opps is not None:
                o = opps.filter(opps.account_id == account_id).order_by([ibis.desc("created_at"), "opportunity_id"])
                history["opportunities"] = self.engine.to_arrow(o.select(
                    "opportunity_id", "name", "stage", "amount", "created_at", "closed_at", "is_closed", "is_won",
                    "owner_id").limit(HISTORY_ROWS)).to_pylist()
            acts = self.ws.table("activities")
            if acts is not None:
                a = acts.filter(acts.account_id == account_id).order_by([ibis.desc("occurred_at"), "event_type"])
                history["recent_activities"] = self.engine.to_arrow(a.select(
                    "event_type", "occurred_at", "contact_id", "source", "detail").limit(HISTORY_ROWS)).to_pylist()
            out["history"] = history
            if self.contacts is not None:
                c = self.contacts
                out["contacts"] = self.engine.to_arrow(c.filter(c.account_id == account_id).select(
                    "contact_id", "email", "title", "persona", "lead_score", "is_mql", "lead_segment", "breakdown"
                ).order_by([ibis.desc("lead_score"), "contact_id"])).to_pylist()
        return out


def _lead_score_view(row: dict[str, Any]) -> dict[str, Any]:
    parts = {k: v for k, v in row.items() if "__" in k}
    breakdown: dict[str, dict[str, float]] = {"fit": {}, "behaviour": {}, "penalty": {}}
    for name, value in parts.items():
        group, _, item = name.partition("__")
        if group in breakdown and value:
            breakdown[group][item] = value
    return {
        "lead_score": row["lead_score"], "is_mql": bool(row["is_mql"]), "mql_threshold": row["mql_threshold"],
        "fit_points": row["fit_points"], "behaviour_points": row["behaviour_points"],
        "negative_points": row["negative_points"], "days_since_activity": row["days_since_activity"],
        "decay_factor": row["decay_factor"], "persona": row["persona"], "segment": row["lead_segment"],
        "motion": row["motion"], "breakdown": breakdown, "explanation": row["breakdown"],
    }


def _route_view(decision: Decision) -> dict[str, Any]:
    return {"rule": decision.rule, "why": decision.why, "target_kind": decision.target_kind,
            "target": decision.target, "sla_due": decision.sla_due, "decided_at": decision.decided_at,
            "idempotency_key": decision.idempotency_key, "fallback_used": decision.fallback_used,
            "replay": decision.replay}
