"""Point-in-time learning tables, compiled to Ibis expressions.

The learners (:mod:`tierwise.models`) see one row per *cutoff*: a key, an
account and the moment a prediction would be made. For training, a cutoff is
an opportunity's creation date; for scoring, every account at the as-of date.
Every feature is computed from what was known **before** the cutoff — events
in windows that end at the cutoff, earlier deals closed before it — so a model
never learns from the future (no look-ahead).

Account attributes are the CRM's current values: firmographics rarely change,
but fields sales fill in after contact would leak, which is why the leakage
guard (:mod:`tierwise.models.leakage`) and ``model.exclude`` exist.

Examples
--------
>>> import ibis, datetime
>>> accounts = ibis.table({"account_id": "string", "industry": "string", "employees": "int64",
...                        "tech_stack": "array<string>"}, name="accounts")
>>> attrs = account_attributes(accounts.schema(), extra={})
>>> [(a.name, a.kind) for a in attrs]
[('industry', 'categorical'), ('employees', 'numeric'), ('tech_stack', 'list')]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

import ibis
import ibis.expr.types as ir

#: Account columns never used as attributes, and why (shown in the model report).
NOT_ATTRIBUTES: dict[str, str] = {
    "account_id": "identifier",
    "name": "identifier",
    "domain": "identifier",
    "website": "identifier",
    "city": "too many distinct values to generalise",
    "owner_id": "who works the account, not what the account is",
    "parent_account_id": "identifier",
    "is_customer": "customer status is a result of winning (leaks the outcome)",
    "created_at": "timestamp (used as account_age_days)",
    "updated_at": "timestamp (staleness, not a trait)",
}

#: Default look-back windows for event counts, in days.
EVENT_WINDOWS: tuple[int, ...] = (30, 90, 180)


@dataclass(frozen=True)
class Attribute:
    """An account column used as an attribute and how it is analysed."""

    name: str
    kind: str  # "categorical" | "numeric" | "list"


def account_attributes(schema: ibis.Schema, *, extra: Mapping[str, str]) -> list[Attribute]:
    """The account columns that describe a company, in schema order, with their kind.

    ``extra`` are the spec's ``attributes:`` (name -> type); they are always kept.
    """
    out = []
    for name, dtype in schema.items():
        if name in NOT_ATTRIBUTES and name not in extra:
            continue
        if name.startswith("_"):
            continue
        if dtype.is_array():
            kind = "list"
        elif dtype.is_numeric():
            kind = "numeric"
        elif dtype.is_string() or dtype.is_boolean():
            kind = "categorical"
        else:
            continue  # dates and timestamps are not attributes as such
        out.append(Attribute(name, kind))
    return out


#: Stage names that mean a deal is decided, for exports without is_won / is_closed (compared lower case,
#: spaces and underscores removed): Salesforce "Closed Won", HubSpot "closedwon", plain "Won".
WON_STAGES = ("closedwon", "won")
LOST_STAGES = ("closedlost", "lost")


def closed_deals(opportunities: ir.Table) -> ir.Table:
    """Closed opportunities with a known result: key, account, cutoff (created_at), won, amount, cycle_days.

    The result is ``is_won``; where it is empty, the stage name decides (``Closed
    Won`` / ``closedwon`` / ``Won`` and the lost equivalents). A deal counts as
    closed when ``is_closed`` is true, or, where ``is_closed`` is empty, when its
    result is known. Its cutoff is its creation date.
    """
    o = opportunities
    if "stage" in o.columns:
        stage = o.stage.lower().re_replace(r"[\s_\-]+", "")
        by_stage = ibis.cases((stage.isin(WON_STAGES), True), (stage.isin(LOST_STAGES), False),
                              else_=ibis.null().cast("boolean"))
        o = o.mutate(is_won=o.is_won.fill_null(by_stage))
    closed = o.is_closed.fill_null(o.is_won.notnull()) & o.is_won.notnull()
    o = o.filter(closed)
    cycle = ibis.ifelse(o.closed_at.notnull(), o.created_at.delta(o.closed_at, unit="day") * -1,
                        ibis.null().cast("int64"))
    return o.select(
        key=o.opportunity_id,
        account_id=o.account_id,
        cutoff=o.created_at,
        closed_at=o.closed_at,
        won=o.is_won,
        amount=o.amount,
        cycle_days=cycle.cast("float64"),
    )


def customer_value(transactions: ir.Table, *, as_of: date) -> ir.Table:
    """Per account: lifetime revenue (``ltv``) and net revenue retention over the last 12 months.

    ``nrr`` = revenue in the 12 months before ``as_of`` (``revenue_last_12m``) /
    revenue in the 12 months before that (``revenue_prior_12m``), for accounts
    that paid in the earlier year (else null).
    """
    t = transactions.filter(transactions.occurred_at < as_of)
    age = ibis.literal(as_of).delta(t.occurred_at, unit="day")
    recent = ibis.ifelse(age <= 365, t.amount, 0.0).sum()
    prior = ibis.ifelse((age > 365) & (age <= 730), t.amount, 0.0).sum()
    agg = t.group_by("account_id").aggregate(ltv=t.amount.sum().cast("float64"), _recent=recent, _prior=prior)
    return agg.select("account_id", "ltv", nrr=ibis.ifelse(agg._prior > 0, agg._recent / agg._prior,
                                                           ibis.null().cast("float64")),
                      revenue_last_12m=agg._recent, revenue_prior_12m=agg._prior)


def account_cutoffs(accounts: ir.Table, *, as_of: date) -> ir.Table:
    """Scoring cutoffs: every account at ``as_of`` (the key is the account id)."""
    return accounts.select(key=accounts.account_id, account_id=accounts.account_id,
                           cutoff=ibis.literal(as_of, type="date"))


def event_features(cutoffs: ir.Table, activities: ir.Table, event_types: Sequence[str], *,
                   windows: Sequence[int] = EVENT_WINDOWS) -> ir.Table:
    """Per cutoff key: ``<type>_<w>d`` event counts in the ``w`` days before the cutoff, and
    ``days_since_<type>``, the age of the latest such event before the cutoff (null when none).

    Only events strictly before the cutoff date count; the longest window bounds the join.
    """
    longest = max(windows)
    c = cutoffs.select("key", "account_id", "cutoff")
    a = activities.filter(activities.event_type.isin(list(event_types))).select(
        "account_id", "event_type", _day=activities.occurred_at.date())
    joined = c.join(a, [c.account_id == a.account_id, a._day < c.cutoff,
                        a._day >= c.cutoff - ibis.interval(days=longest)])
    age = joined.cutoff.delta(joined._day, unit="day")
    metrics: dict[str, ir.Value] = {}
    for etype in event_types:
        is_type = joined.event_type == etype
        for w in sorted(windows):
            metrics[f"{etype}_{w}d"] = (is_type & (age <= w)).cast("int64").sum()
        metrics[f"days_since_{etype}"] = ibis.ifelse(is_type, age, ibis.null().cast("int64")).min()
    agg = joined.group_by("key").aggregate(**metrics)
    out = c.select("key").left_join(agg, "key").select(c.key, *[agg[m] for m in metrics])
    return out.mutate(**{m: out[m].fill_null(0) for m in metrics if not m.startswith("days_since_")})


def history_features(cutoffs: ir.Table, deals: ir.Table, opportunities: ir.Table | None = None) -> ir.Table:
    """Per cutoff key: the account's earlier deals.

    ``prior_deals`` counts every opportunity created before the cutoff (open or
    not: whether it closed later must not matter); ``prior_wins`` and
    ``prior_losses`` count the deals decided with a close date before it (a deal
    still open at the cutoff reveals no result). ``opportunities`` defaults to
    ``deals``.
    """
    c = cutoffs.select("key", "account_id", "cutoff")
    o = (opportunities if opportunities is not None else deals)
    created = o.cutoff if "cutoff" in o.columns else o.created_at
    o = o.select(account_id=o.account_id, _created=created)
    opened = c.join(o, [c.account_id == o.account_id, o._created < c.cutoff])
    counts = opened.group_by("key").aggregate(prior_deals=opened.count())
    d = deals.select(account_id=deals.account_id, _created=deals.cutoff, _closed=deals.closed_at, _won=deals.won)
    joined = c.join(d, [c.account_id == d.account_id, d._created < c.cutoff, d._closed.notnull(),
                        d._closed < c.cutoff])
    results = joined.group_by("key").aggregate(
        prior_wins=joined._won.cast("int64").sum(),
        prior_losses=(~joined._won).cast("int64").sum(),
    )
    out = c.select("key").left_join(counts, "key").select(c.key, counts.prior_deals)
    out = out.left_join(results, "key").select(out, results.prior_wins, results.prior_losses)
    return out.mutate(prior_deals=out.prior_deals.fill_null(0), prior_wins=out.prior_wins.fill_null(0),
                      prior_losses=out.prior_losses.fill_null(0))


def learning_table(cutoffs: ir.Table, accounts: ir.Table, attributes: Sequence[Attribute], *,
                   activities: ir.Table | None = None, event_types: Sequence[str] = (),
                   deals: ir.Table | None = None, opportunities: ir.Table | None = None,
                   windows: Sequence[int] = EVENT_WINDOWS, extra_columns: Sequence[str] = ()) -> ir.Table:
    """One row per cutoff: the cutoff's own columns, account attributes, ``account_age_days``,
    event-window features and earlier-deal history — all as known before the cutoff.

    ``extra_columns`` are account columns carried along but not features (such as
    an attribute's own timestamp, for the leakage guard).
    """
    acc_cols = [a.name for a in attributes] + [c for c in extra_columns if c not in {a.name for a in attributes}]
    acc = accounts.select("account_id", *acc_cols,
                          **({"_acc_created": accounts.created_at} if "created_at" in accounts.columns else {}))
    t = cutoffs.left_join(acc, "account_id").select(cutoffs, *[acc[c] for c in acc.columns if c != "account_id"])
    if "_acc_created" in t.columns:
        age = t.cutoff.delta(t._acc_created.date(), unit="day")
        t = t.mutate(account_age_days=ibis.ifelse(age >= 0, age, ibis.null().cast("int64"))).drop("_acc_created")
    if activities is not None and event_types:
        ev = event_features(cutoffs, activities, event_types, windows=windows)
        t = t.left_join(ev, "key").select(t, *[ev[c] for c in ev.columns if c != "key"])
    if deals is not None:
        hist = history_features(cutoffs, deals, opportunities)
        t = t.left_join(hist, "key").select(t, *[hist[c] for c in hist.columns if c != "key"])
    return t
