"""Compile RFM to Ibis expressions: per-customer recency, frequency and monetary value, quintile scores,
segments, customer health and the segment-change tasks.

The arithmetic is documented in ``docs/rfm.md``; this module is its only
implementation, shared by every engine. Like the rest of ``compile/`` it holds
no connection: it takes tables and returns expressions.

* **Purchases and returns.** A transaction with ``amount >= 0`` is a purchase
  line; a negative amount is a return or credit. Returns lower ``monetary``
  (net revenue) but are not purchases: they count towards neither frequency
  nor recency. Transactions after ``as_of`` and rows without an amount are
  left out (and counted by the job).
* **Scores** are ``min(5, 1 + floor(5 × percent_rank))`` with SQL's
  ``PERCENT_RANK`` — computed as ``1 + floor(5 × (rank − 1) / (n − 1))`` from
  the integer ``RANK``, so equal values always get the same score and no
  engine's floating point can move a customer across a boundary. Recency is
  ranked from the longest ago to the most recent (most recent scores 5);
  frequency and monetary from the lowest to the highest. Monetary is ranked
  after rounding to cents, so sums added in a different order still tie.

Examples
--------
>>> import ibis, datetime
>>> tx = ibis.memtable({"account_id": ["A", "A", "B", "C"], "order_id": ["o1", "o2", "o3", "o4"],
...                     "occurred_at": [datetime.date(2026, 10, d) for d in (1, 20, 5, 30)],
...                     "amount": [100.0, 50.0, 80.0, -10.0]})
>>> summary = customer_summary(tx, datetime.date(2026, 11, 1), "orders")
>>> sorted(summary.select("account_id", "recency_days", "frequency", "monetary").to_pyarrow().to_pylist(),
...        key=lambda r: r["account_id"])
[{'account_id': 'A', 'recency_days': 12, 'frequency': 2, 'monetary': 150.0}, {'account_id': 'B', 'recency_days': 27, 'frequency': 1, 'monetary': 80.0}]
"""

from __future__ import annotations

from datetime import date

import ibis
import ibis.expr.types as ir

from tierwise.compile.scoring import _double
from tierwise.spec.model import HealthSpec, RfmSegment, RfmSpec

KEY = "account_id"
FREQUENCY_MODES = ("orders", "transactions", "days")
BANDS = ("healthy", "watch", "at risk")
PRIORITIES = ("High", "Normal", "Low")

#: The columns of rfm.parquet / rfm.csv, in order.
OUTPUT_COLUMNS = (
    KEY, "first_purchase", "last_purchase", "recency_days", "frequency", "monetary", "purchase_days",
    "return_lines", "returned_amount", "r_score", "f_score", "m_score", "rfm_cell", "segment", "motion",
    "health_score", "health_band", "usage_trend", "open_issues", "p_alive", "expected_purchases",
    "expected_spend", "expected_value", "as_of",
)


# --------------------------------------------------------------------------- recency, frequency, monetary


def usable_transactions(transactions: ir.Table, as_of: date) -> ir.Table:
    """Transactions RFM reads: on or before ``as_of``, with an amount."""
    t = transactions
    return t.filter(t.occurred_at <= ibis.literal(as_of), t.amount.notnull())


def customer_summary(transactions: ir.Table, as_of: date, frequency: str, *,
                     keep_returns_only: bool = False) -> ir.Table:
    """One row per customer with a purchase on or before ``as_of``.

    Columns: ``account_id``, ``first_purchase``, ``last_purchase``,
    ``recency_days`` (as_of − last purchase), ``age_days`` (as_of − first
    purchase), ``frequency`` (distinct orders, purchase lines or purchase days:
    ``frequency``), ``purchase_days`` (distinct days with a purchase; null when
    counting orders),
    ``monetary`` (net: purchases minus returns, to the cent), ``return_lines``
    and ``returned_amount`` (returns and credits, as a positive amount).

    Two aggregations: per customer and order (or day), then per customer —
    much cheaper than distinct counts of orders or days over every row.
    ``keep_returns_only`` keeps customers with returns or credits but no
    purchase (their purchase columns are null), so they can be counted.
    """
    if frequency not in FREQUENCY_MODES:
        raise ValueError(f"frequency must be one of {', '.join(FREQUENCY_MODES)}, not {frequency!r}")
    t = usable_transactions(transactions, as_of)
    bought = t.amount >= 0
    if frequency == "orders":
        # An order is one purchase, made on the date of its first purchase line (later lines and returns under
        # the same order do not make the customer more recent). Lines without an order id form one order a day.
        no_order_day = ibis.ifelse(t.order_id.isnull(), t.occurred_at, ibis.null().cast("date"))
        orders = t.group_by([KEY, t.order_id, no_order_day.name("_day")]).aggregate(
            _bought=t.occurred_at.min(where=bought), _net=t.amount.sum())
        per = orders.group_by(KEY).aggregate(
            first_purchase=orders._bought.min(),
            last_purchase=orders._bought.max(),
            frequency=orders._bought.count(),
            # distinct order days are not counted: a distinct count per customer over every order added 3.6 of
            # 28 CPU-seconds on 10M transactions; the lifetime-value models count orders instead
            purchase_days=ibis.null().cast("int64"),
            monetary=orders._net.sum(),
        )
    else:
        # per customer and day first: cheaper than counting distinct days over every row
        day = t.group_by([KEY, "occurred_at"]).aggregate(_lines=bought.cast("int64").sum(), _net=t.amount.sum())
        p = day._lines > 0
        days = p.cast("int64").sum()
        per = day.group_by(KEY).aggregate(
            first_purchase=day.occurred_at.min(where=p),
            last_purchase=day.occurred_at.max(where=p),
            frequency=day._lines.sum() if frequency == "transactions" else days,
            purchase_days=days,
            monetary=day._net.sum(),
        )
    # returns are few: a pass over them alone is cheaper than two more aggregates over every order or day
    r = t.filter(~bought)
    returns = r.group_by(KEY).aggregate(_return_lines=r.count(), _returned=(-r.amount).sum())
    per = per.left_join(returns, KEY).select(
        *[per[c] for c in per.columns if c != "monetary"], monetary=per.monetary.round(2),
        return_lines=returns._return_lines.fill_null(0), returned_amount=returns._returned.fill_null(0.0).round(2))
    if not keep_returns_only:
        per = per.filter(per.first_purchase.notnull())
    as_of_lit = ibis.literal(as_of)
    return per.select(
        KEY, "first_purchase", "last_purchase",
        recency_days=as_of_lit.delta(per.last_purchase, unit="day").cast("int64"),
        age_days=as_of_lit.delta(per.first_purchase, unit="day").cast("int64"),
        frequency=per.frequency,
        purchase_days=per.purchase_days,
        monetary=per.monetary,
        return_lines=per.return_lines,
        returned_amount=per.returned_amount,
    )


# --------------------------------------------------------------------------- scores and segments


def quintile_score(order: ir.Value, n: ir.IntegerValue) -> ir.IntegerValue:
    """``min(5, 1 + floor(5 × percent_rank))`` over ``order``, from the integer rank (exact on every engine)."""
    r0 = ibis.rank().over(order_by=order)  # RANK() − 1: ties share the lowest rank
    score = ibis.least(5, 1 + (5 * r0) // (n - 1))
    return ibis.ifelse(n > 1, score, 1).cast("int64")


def segment_condition(seg: RfmSegment, r: ir.IntegerValue, f: ir.IntegerValue, m: ir.IntegerValue) -> ir.BooleanValue:
    cond = ibis.literal(True)
    for scores, value in ((seg.r, r), (seg.f, f), (seg.m, m)):
        if scores is not None:
            cond &= value.isin(scores)
    return cond


def score_and_segment(summary: ir.Table, rfm: RfmSpec, n: int | None = None) -> ir.Table:
    """Add ``r_score``, ``f_score``, ``m_score``, ``rfm_cell`` (``"555"``), ``segment`` and ``motion``.

    ``n`` is the number of customers when the caller knows it (a window counts them otherwise).
    """
    n = summary[KEY].count().over(ibis.window()) if n is None else ibis.literal(n, "int64")
    t = summary.mutate(
        r_score=quintile_score(ibis.desc(summary.recency_days), n),
        f_score=quintile_score(summary.frequency, n),
        m_score=quintile_score(summary.monetary, n),
    )
    segment = ibis.cases(*[(segment_condition(s, t.r_score, t.f_score, t.m_score), s.name) for s in rfm.segments],
                         else_=ibis.null().cast("string"))
    t = t.mutate(
        rfm_cell=t.r_score.cast("string") + t.f_score.cast("string") + t.m_score.cast("string"),
        segment=segment,
    )
    return t.mutate(motion=t.segment.cases(*[(s.name, s.motion) for s in rfm.segments], else_=""))


# --------------------------------------------------------------------------- health


def usage_trend(activities: ir.Table, events: list[str], window_days: int, as_of: date) -> ir.Table:
    """Per account: usage events in the last window against the window before, as a fraction.

    ``(recent − prior) / prior``; ``+inf`` is avoided: usage that starts from
    nothing counts as the full rise (returned as null ``_trend`` with
    ``_rising`` true), usage that stopped as −1 (also when both windows are
    empty but the account used the product before). Accounts with no usage
    event at all get no row (the part is missing).
    """
    a = activities
    age = ibis.literal(as_of).delta(a.occurred_at.date(), unit="day")
    e = a.filter(a.event_type.isin(events)).select(KEY, _age=age)
    e = e.filter(e._age >= 0)
    per = e.group_by(KEY).aggregate(
        _recent=(e._age < window_days).cast("int64").sum(),
        _prior=((e._age >= window_days) & (e._age < 2 * window_days)).cast("int64").sum(),
    )
    trend = ibis.cases(
        (per._prior > 0, (per._recent - per._prior).cast("float64") / per._prior.cast("float64")),
        (per._recent > 0, ibis.null().cast("float64")),
        else_=_double(-1.0),
    )
    return per.select(KEY, _trend=trend, _rising=(per._prior == 0) & (per._recent > 0))


def add_health(t: ir.Table, health: HealthSpec, *, accounts: ir.Table | None = None,
               usage: ir.Table | None = None) -> ir.Table:
    """Add ``health_score`` (0-100, one decimal), ``health_band``, ``usage_trend`` and ``open_issues``.

    The score is the weighted mean of the parts present for the customer:
    RFM ``100 × Σ w_k (k − 1) / (4 Σ w_k)`` over k = r, f, m with ``rfm_mix``
    (2, 1, 1: recency counts double); usage ``clamp(50 + 50 × trend /
    full_at, 0, 100)``; support ``100 × max(0, 1 − open / full_at)``.
    ``accounts`` (with the columns the spec names) and ``usage`` (from
    :func:`usage_trend`) are joined when given.
    """
    w = health.weights
    u, s = health.usage, health.support
    # joins first: every part below is an expression over the joined table
    if u is not None and u.field and accounts is not None:
        acc = accounts.select(KEY, _trend=accounts[u.field].cast("float64"))
        t = t.left_join(acc, KEY).select(t, acc._trend)
    elif u is not None and u.events and usage is not None:
        t = t.left_join(usage, KEY).select(t, usage._trend, usage._rising)
    if s is not None and accounts is not None:
        acc = accounts.select(KEY, _issues=accounts[s.field].cast("float64"))
        t = t.left_join(acc, KEY).select(t, acc._issues)
    mix = health.rfm_mix
    total = mix.r + mix.f + mix.m
    rfm_part = sum(((t[f"{k}_score"] - 1).cast("float64") * _double(100.0 * getattr(mix, k) / (4 * total))
                    for k in "rfm" if getattr(mix, k)), _double(0.0))
    null = ibis.null().cast("float64")
    trend, usage_part, issues, support_part = null, null, null, null
    if u is not None and "_trend" in t.columns:
        trend = t._trend
        usage_part = (_double(50.0) + _double(50.0 / u.full_at) * trend).clip(0.0, 100.0)
        if "_rising" in t.columns:
            rising = t._rising.fill_null(False)
            usage_part = ibis.ifelse(rising, _double(100.0), usage_part)
            trend = ibis.ifelse(rising, _double(u.full_at), trend)  # shown as the full rise
    if s is not None and "_issues" in t.columns:
        issues = t._issues
        support_part = (_double(100.0) * (_double(1.0) - issues / _double(s.full_at))).clip(0.0, 100.0)
    parts = [(rfm_part, w.rfm), (usage_part, w.usage), (support_part, w.support)]
    num = sum(((p * _double(wt)).fill_null(0.0) for p, wt in parts if wt), _double(0.0))
    den = sum((ibis.ifelse(p.notnull(), _double(wt), _double(0.0)) for p, wt in parts if wt), _double(0.0))
    score = (num / den.nullif(0.0)).round(1)
    band = ibis.cases((score >= health.bands.healthy, "healthy"), (score >= health.bands.watch, "watch"),
                      (score.notnull(), "at risk"), else_=ibis.null().cast("string"))
    t = t.mutate(health_score=score, health_band=band, usage_trend=trend.round(4), open_issues=issues.cast("int64"))
    return t.drop(*[c for c in ("_trend", "_rising", "_issues") if c in t.columns])


# --------------------------------------------------------------------------- segment-change tasks


def _band_rank(band: ir.StringValue) -> ir.IntegerValue:
    return band.cases(*[(b, i) for i, b in enumerate(BANDS)], else_=-1)


def change_tasks(current: ir.Table, previous: ir.Table, rfm: RfmSpec, as_of: date, previous_as_of: date) -> ir.Table:
    """One task per customer whose segment changed since ``previous`` (or whose health band worsened).

    ``previous`` holds ``account_id``, ``segment``, ``rfm_cell``, ``health_band``
    of the previous run. The play is the first matching trigger's, else the new
    segment's motion; a worse health band adds the band's play (and raises the
    priority to High for *at risk*, Normal for *watch*). Customers not in the
    previous run get their segment's motion when ``first_seen_tasks`` is on.
    Columns follow a CRM task import: ``subject``, ``priority``, ``due_date``,
    ``status``, ``type``, ``description`` and the change itself.
    """
    prev = previous.select(KEY, _prev_segment=previous.segment, _prev_cell=previous.rfm_cell,
                           _prev_band=previous.health_band)
    t = current.left_join(prev, KEY).select(current, prev._prev_segment, prev._prev_cell, prev._prev_band)
    seen = t._prev_segment.notnull()
    changed = seen & (t.segment != t._prev_segment)
    first = ~seen if rfm.first_seen_tasks else ibis.literal(False)
    worse = seen & t.health_band.notnull() & (_band_rank(t.health_band) > _band_rank(t._prev_band.fill_null("healthy")))

    def pick(value_of, default):
        cases = []
        for trig in rfm.triggers:
            cond = changed
            if trig.from_ != "*":
                cond &= t._prev_segment == trig.from_
            if trig.to != "*":
                cond &= t.segment == trig.to
            cases.append((cond, value_of(trig)))
        return ibis.cases(*cases, else_=default) if cases else default

    seg_play = pick(lambda tr: ibis.literal(tr.play), t.motion)
    seg_priority = pick(lambda tr: ibis.literal(PRIORITIES.index(tr.priority)), ibis.literal(1))
    seg_due = pick(lambda tr: ibis.literal(tr.due_days), ibis.literal(rfm.default_due_days))
    health_play = t.health_band.cases(("at risk", rfm.health.plays.at_risk), ("watch", rfm.health.plays.watch),
                                      else_="")
    health_priority = ibis.ifelse(t.health_band == "at risk", 0, 1)
    health_due = ibis.ifelse(t.health_band == "at risk", 7, rfm.default_due_days)
    seg_task = changed | first
    priority = ibis.cases((seg_task & worse, ibis.least(seg_priority, health_priority)), (seg_task, seg_priority),
                          else_=health_priority)
    due = ibis.cases((seg_task & worse, ibis.least(seg_due, health_due)), (seg_task, seg_due), else_=health_due)
    trigger = ibis.cases(
        (changed & worse, ibis.literal("segment change; health ") + t.health_band),
        (changed, ibis.literal("segment change")),
        (first & worse, ibis.literal("first seen; health ") + t.health_band),
        (first, ibis.literal("first seen")),
        else_=ibis.literal("health ") + t.health_band,
    )
    subject = ibis.cases(
        (changed, seg_play + " (" + t._prev_segment + " -> " + t.segment + ")"),
        (first, seg_play + " (new in RFM: " + t.segment + ")"),
        else_=health_play,
    )
    change_text = ibis.cases(
        (changed, ibis.literal("Segment ") + t._prev_segment + " -> " + t.segment
         + " (R" + t._prev_cell.substr(0, 1) + "F" + t._prev_cell.substr(1, 1) + "M" + t._prev_cell.substr(2, 1)
         + " -> R" + t.r_score.cast("string") + "F" + t.f_score.cast("string") + "M" + t.m_score.cast("string")
         + "). "),
        (first, ibis.literal("First scored: ") + t.segment + " (R" + t.r_score.cast("string") + "F"
         + t.f_score.cast("string") + "M" + t.m_score.cast("string") + "). "),
        else_=ibis.literal("Segment ") + t.segment + ". ",
    )
    health_text = ibis.ifelse(
        t.health_score.notnull(),
        ibis.literal(" Health ") + t.health_score.cast("string") + " (" + t.health_band
        + ibis.ifelse(seen & (t._prev_band.fill_null("") != t.health_band),
                      ibis.literal(", was ") + t._prev_band.fill_null("unknown"), ibis.literal("")) + ").",
        ibis.literal(""))
    description = (change_text + "Last purchase " + t.recency_days.cast("string") + " days ago; "
                   + t.frequency.cast("string") + " purchases; revenue " + t.monetary.cast("string") + "."
                   + health_text
                   + ibis.ifelse(worse & seg_task, ibis.literal(" Also: ") + health_play + ".", ibis.literal(""))
                   + " Motion: " + t.motion + ".")
    out = t.select(
        KEY,
        subject=subject,
        priority=priority,
        due_date=ibis.literal(as_of) + due.cast("int64").as_interval("D"),
        status=ibis.literal("Not Started"),
        type=ibis.literal("RFM play"),
        description=description,
        trigger=trigger,
        previous_segment=t._prev_segment,
        segment=t.segment,
        previous_health_band=t._prev_band,
        health_band=t.health_band,
        previous_as_of=ibis.literal(previous_as_of),
        as_of=ibis.literal(as_of),
        _keep=changed | first | worse,
    )
    out = out.filter(out._keep).drop("_keep")
    return out.mutate(priority=out.priority.cases(*[(i, p) for i, p in enumerate(PRIORITIES)], else_="Normal"))


def task_order(tasks: ir.Table) -> list[ir.Value]:
    """High priority first, then by due date and account."""
    return [tasks.priority.cases(*[(p, i) for i, p in enumerate(PRIORITIES)], else_=len(PRIORITIES)),
            tasks.due_date, tasks[KEY]]
