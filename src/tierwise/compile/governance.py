"""Governance reports as Ibis expressions: deal outcomes, group performance, funnels, velocity, drift.

Everything here builds expressions over tables an engine holds (the loaded
opportunities and leads, and a run's accounts from the history store); the
engine runs them, so the same reports run on DuckDB and, later, Spark. No I/O,
no connection. The small results (one row per segment, tier, bucket or bin)
are finished in Python by :mod:`tierwise.reports`.

Examples
--------
>>> import ibis
>>> opps = ibis.table({"opportunity_id": "string", "account_id": "string", "stage": "string",
...                    "is_closed": "boolean", "is_won": "boolean", "amount": "float64",
...                    "created_at": "date", "closed_at": "date"}, name="opportunities")
>>> [c for c in deal_status(opps).columns if c.startswith("_")]
['_won', '_decided', '_open']
>>> bucket_labels([25, 50])
['0-25', '26-50', '>50']
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import ibis
import ibis.expr.types as ir

from tierwise.compile.features import LOST_STAGES, WON_STAGES
from tierwise.spec.model import Spec

#: The columns every recorded run holds per account; drift attributes take other names.
RUN_COLUMNS = ("account_id", "owner_id", "score", "fit_score", "signal_score", "engagement_score", "tier", "segment")
#: Numeric account column types (drift bins them by quantile; others are compared value by value).
NUMERIC_TYPES = ("int", "float")


# --------------------------------------------------------------------------- deals


def _stage_key(stage: ir.StringValue) -> ir.StringValue:
    """A stage name folded for comparison: lower case, no spaces, underscores or dashes."""
    return stage.lower().re_replace(r"[\s_\-]+", "")


def deal_status(opportunities: ir.Table) -> ir.Table:
    """Opportunities with ``_won`` (the result, null while unknown), ``_decided`` and ``_open``.

    The result is ``is_won``; where it is empty the stage name decides (Closed Won,
    closedwon, Won and the lost equivalents), as for the learners
    (:func:`tierwise.compile.features.closed_deals`). A deal is decided when it is
    closed with a known result, open when it is not closed (``is_closed`` false, or
    empty with no result); a deal closed without a result is neither.
    """
    o = opportunities
    won = o.is_won
    if "stage" in o.columns:
        stage = _stage_key(o.stage)
        by_stage = ibis.cases((stage.isin(WON_STAGES), True), (stage.isin(LOST_STAGES), False),
                              else_=ibis.null().cast("boolean"))
        won = won.fill_null(by_stage)
    closed = o.is_closed.fill_null(won.notnull())
    return o.mutate(_won=won, _decided=closed & won.notnull(), _open=~closed)


def day_diff(later: ir.DateValue, earlier: ir.DateValue) -> ir.IntegerValue:
    """Whole days from ``earlier`` to ``later``."""
    return later.delta(earlier, unit="day")


def with_accounts(deals: ir.Table, run: ir.Table) -> ir.Table:
    """Deals joined to the run's accounts (segment, tier, scores, the account's owner); unmatched deals drop."""
    r = run.select("account_id", "segment", "tier", "score", "fit_score", "signal_score", "engagement_score",
                   _account_owner="owner_id")
    return deals.inner_join(r, "account_id")


def group_performance(run: ir.Table, deals: ir.Table, by: str) -> tuple[ir.Table, ir.Table]:
    """Per value of ``by`` (segment or tier): the run's accounts, and the deal metrics.

    Deal metrics: open deals and their value, decided and won deals, won value,
    average contract value (mean amount of won deals), median cycle days of won
    deals (created to closed).
    """
    accounts = run.group_by(by).aggregate(accounts=run.count())
    d = deals
    amount = d.amount.cast("float64")
    cycle = day_diff(d.closed_at, d.created_at).cast("float64")
    won = d._won.fill_null(False) & d._decided
    null = ibis.null().cast("float64")
    metrics = d.group_by(by).aggregate(
        open_deals=d._open.cast("int64").sum(),
        open_value=ibis.ifelse(d._open, amount, null).sum(),
        decided=d._decided.cast("int64").sum(),
        won=won.cast("int64").sum(),
        won_value=ibis.ifelse(won, amount, null).sum(),
        acv=ibis.ifelse(won, amount, null).mean(),
        median_cycle_days=ibis.ifelse(won & (cycle >= 0), cycle, null).median(),
    )
    return accounts, metrics


# --------------------------------------------------------------------------- stages and the funnel


def stage_position(deals: ir.Table, stages: Sequence[str]) -> ir.IntegerValue:
    """How far a deal got in the ordered open ``stages``: 1..k for an open deal at that stage, k + 1 for a won
    deal, 1 for a lost one (its last stage is not in an export); null for an open deal at an unlisted stage."""
    key = _stage_key(deals.stage)
    pos = ibis.cases(*[(key == _fold(s), i + 1) for i, s in enumerate(stages)], else_=ibis.null().cast("int64"))
    won = deals._won.fill_null(False) & deals._decided
    lost = deals._decided & ~deals._won.fill_null(True)
    return ibis.cases((won, len(stages) + 1), (lost, 1), else_=pos)


def _fold(stage: str) -> str:
    return "".join(stage.lower().replace("_", " ").replace("-", " ").split())


def stage_reached(deals: ir.Table, stages: Sequence[str], by: str | None) -> ir.Table:
    """Per group: ``reached_<i>`` = deals that reached stage i (1-based; ``k + 1`` is closed won) and
    ``unplaced`` = open deals at a stage not in ``stages``."""
    pos = stage_position(deals, stages)
    t = deals.mutate(_pos=pos)
    metrics = {f"reached_{i}": (t._pos >= i).fill_null(False).cast("int64").sum() for i in range(1, len(stages) + 2)}
    metrics["unplaced"] = t._pos.isnull().cast("int64").sum()
    return (t.group_by(by).aggregate(**metrics) if by else t.aggregate(**metrics))


def open_stage_ages(deals: ir.Table, as_of: date) -> ir.Table:
    """Open deals per stage name: count and mean age in days (to order stages when the spec does not)."""
    o = deals.filter(deals._open & deals.stage.notnull())
    age = day_diff(ibis.literal(as_of), o.created_at)
    return o.group_by(_stage=o.stage).aggregate(deals=o.count(), mean_age=age.mean())


def lead_position(leads: ir.Table, statuses: dict[str, list[str]]) -> ir.IntegerValue:
    """The funnel stage a lead's status means: 0 lead, 1 MQL, 2 SQL, 3 opportunity, 4 closed won."""
    rank = {"mql": 1, "sql": 2, "opportunity": 3, "closed_won": 4}
    status = leads.status.strip().lower()
    cases = [(status.isin(values), rank[stage]) for stage, values in statuses.items() if values]
    return ibis.cases(*cases, else_=0) if cases else ibis.literal(0)


def lead_funnel(leads: ir.Table, statuses: dict[str, list[str]], by: str | None) -> ir.Table:
    """Per group: ``n_<stage>`` = leads whose status reached lead, mql, sql, opportunity, closed_won."""
    t = leads.mutate(_pos=lead_position(leads, statuses))
    names = ("lead", "mql", "sql", "opportunity", "closed_won")
    metrics = {f"n_{name}": (t._pos >= i).cast("int64").sum() for i, name in enumerate(names)}
    return t.group_by(by).aggregate(**metrics) if by else t.aggregate(**metrics)


# --------------------------------------------------------------------------- velocity


def bucket_index(value: ir.IntegerValue, bounds: Sequence[int]) -> ir.IntegerValue:
    """0 for ``value <= bounds[0]``, 1 for ``<= bounds[1]`` ... ``len(bounds)`` for the rest; null stays null."""
    return ibis.cases(*[(value <= b, i) for i, b in enumerate(bounds)], else_=len(bounds))


def bucket_labels(bounds: Sequence[int]) -> list[str]:
    """``[25, 50]`` -> ``['0-25', '26-50', '>50']`` (days, inclusive)."""
    out, low = [], 0
    for b in bounds:
        out.append(f"{low}-{b}")
        low = b + 1
    return out + [f">{bounds[-1]}"]


def closed_by_cycle(deals: ir.Table, bounds: Sequence[int]) -> ir.Table:
    """Decided deals per cycle-length bucket (created to closed): decided and won."""
    d = deals.filter(deals._decided & deals.closed_at.notnull())
    cycle = day_diff(d.closed_at, d.created_at)
    d = d.filter(cycle >= 0).mutate(_bucket=bucket_index(day_diff(d.closed_at, d.created_at), bounds))
    return d.group_by("_bucket").aggregate(decided=d.count(), won=d._won.fill_null(False).cast("int64").sum())


def open_deal_buckets(deals: ir.Table, as_of: date, age_bounds: Sequence[int],
                      stage_bounds: Sequence[int]) -> ir.Table:
    """Open deals per (age bucket, time-in-stage bucket, stage): deals and value.

    Age is ``as_of - created_at``; time in stage ``as_of - stage_changed_at`` (the
    creation date when the stage never changed). Deals created after ``as_of`` are
    left out.
    """
    o = deals.filter(deals._open & (deals.created_at <= as_of))
    age = day_diff(ibis.literal(as_of), o.created_at)
    since = o.stage_changed_at.fill_null(o.created_at) if "stage_changed_at" in o.columns else o.created_at
    in_stage = day_diff(ibis.literal(as_of), since)
    in_stage = ibis.ifelse(in_stage < 0, 0, ibis.ifelse(in_stage > age, age, in_stage))
    o = o.mutate(_age_bucket=bucket_index(age, age_bounds), _stage_bucket=bucket_index(in_stage, stage_bounds),
                 _stage=o.stage.fill_null("(no stage)"))
    return o.group_by(["_age_bucket", "_stage_bucket", "_stage"]).aggregate(
        deals=o.count(), value=o.amount.cast("float64").sum(), age_days=age.sum(), stage_days=in_stage.sum())


def idle_days(deals: ir.Table, as_of: date) -> ir.IntegerValue:
    """Days since the deal last changed stage (since it was created when it never did)."""
    since = deals.stage_changed_at.fill_null(deals.created_at) if "stage_changed_at" in deals.columns \
        else deals.created_at
    return day_diff(ibis.literal(as_of), since)


# --------------------------------------------------------------------------- ICP and drift


def icp_flag(run: ir.Table, segments: Sequence[str], min_fit_score: float) -> ir.BooleanValue:
    """An account is ICP when its segment is one of ``segments``, or (no segments named) its fit_score is at
    least ``min_fit_score``."""
    if segments:
        return run.segment.isin(list(segments)).fill_null(False)
    return (run.fit_score >= min_fit_score).fill_null(False)


def drift_attributes(spec: Spec, account_types: dict[str, str]) -> list[str]:
    """The account columns recorded with each run for drift: the spec's list, else the fit criteria's
    fields that are numbers or text (list columns left out), in spec order."""
    chosen = spec.governance.drift.attributes
    if chosen is None:
        chosen = [c.field for c in spec.fit.criteria if c.field]
    out = []
    for name in chosen:
        if name in RUN_COLUMNS:
            continue  # recorded with every run anyway (or a score's name: kept apart from the scores)
        if name in account_types and account_types[name] != "list" and name not in out:
            out.append(name)
    return out


def attribute_value(column: ir.Value) -> ir.Value:
    """A drift attribute as recorded: numbers as float64, anything else (text, bool, dates) as text."""
    dtype = column.type()
    if dtype.is_numeric() and not dtype.is_boolean():
        return column.cast("float64")
    return column.cast("string")


def quantile_edges(values: ir.FloatingColumn, bins: int) -> ir.Scalar:
    """The ``bins - 1`` inner quantiles of a column (an array scalar)."""
    return values.quantile([i / bins for i in range(1, bins)])


def binned_counts(values: ir.Table, column: str, edges: Sequence[float], by: str | None = None) -> ir.Table:
    """Counts per bin (and per ``by``): ``_bin`` 0 for ``<= edges[0]`` ... ``len(edges)`` above the last; -1 for
    missing."""
    v = values[column]
    cases = [(v.isnull(), -1)] + [(v <= e, i) for i, e in enumerate(edges)]
    t = values.mutate(_bin=ibis.cases(*cases, else_=len(edges)))
    return t.group_by(["_bin", by] if by else ["_bin"]).aggregate(n=t.count())


def value_counts(values: ir.Table, column: str) -> ir.Table:
    """Counts per distinct value (missing as null)."""
    return values.group_by(_value=values[column]).aggregate(n=values.count())


def run_pair(current: ir.Table, previous: ir.Table) -> ir.Table:
    """Every account of either run: tier, segment and score before and now, the owner (now, else before), and
    whether it is in each run (a full outer join on account_id)."""
    c = current.select("account_id", tier_to=current.tier, segment_to=current.segment, score_to=current.score,
                       _owner_to=current.owner_id, _in_cur=ibis.literal(True))
    p = previous.select(_pid=previous.account_id, tier_from=previous.tier, segment_from=previous.segment,
                        score_from=previous.score, _owner_from=previous.owner_id, _in_prev=ibis.literal(True))
    j = c.outer_join(p, c.account_id == p._pid)
    return j.select(account_id=j.account_id.fill_null(j._pid), tier_from=j.tier_from, tier_to=j.tier_to,
                    segment_from=j.segment_from, segment_to=j.segment_to, score_from=j.score_from,
                    score_to=j.score_to, owner_id=j._owner_to.fill_null(j._owner_from),
                    in_cur=j._in_cur.notnull(), in_prev=j._in_prev.notnull())


def migration(pair: ir.Table) -> ir.Table:
    """Accounts per (tier before, tier now) of a :func:`run_pair`; null on one side for accounts that entered or
    left."""
    return pair.group_by(["tier_from", "tier_to"]).aggregate(accounts=pair.count())


def change_events(pair: ir.Table, run_id: str, previous_run_id: str) -> ir.Table:
    """Tier and segment changes of accounts in both runs, and accounts that entered or left — the same events
    as the history store's ``tw_changes`` — ordered by account and change."""
    both = pair.filter(pair.in_cur & pair.in_prev)
    null = ibis.null().cast("string")

    def events(t: ir.Table, change: str, frm: ir.Value, to: ir.Value) -> ir.Table:
        return t.select(run_id=ibis.literal(run_id), previous_run_id=ibis.literal(previous_run_id),
                        account_id=t.account_id, change=ibis.literal(change), from_value=frm, to_value=to,
                        score_from=t.score_from, score_to=t.score_to, owner_id=t.owner_id)

    tier = both.filter(both.tier_from.fill_null("") != both.tier_to.fill_null(""))
    seg = both.filter(both.segment_from.fill_null("") != both.segment_to.fill_null(""))
    entered = pair.filter(pair.in_cur & ~pair.in_prev)
    left = pair.filter(pair.in_prev & ~pair.in_cur)
    out = events(tier, "tier", tier.tier_from, tier.tier_to).union(
        events(seg, "segment", seg.segment_from, seg.segment_to)).union(
        events(entered, "entered", null, entered.tier_to)).union(
        events(left, "left", left.tier_from, null))
    return out.order_by(["account_id", "change"])
