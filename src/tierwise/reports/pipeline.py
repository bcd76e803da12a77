"""Pipeline governance (seed 003): velocity buckets, time in stage, and the zombie list.

* **Velocity**: open deals by age (``as_of - created_at``) in buckets, against the velocity threshold
  (50 days by default). Each bucket carries two historical win rates from the user's own decided deals:
  the win rate of deals that *closed* at that age (the seed's "closed within 50 days win 47%"), and the
  win rate of deals that were *still open* at the bucket's lower bound — what an open deal of that age
  can expect (``won / decided`` over decided deals whose cycle exceeds the lower bound).
* **Time in stage**: open deals by days since their last stage change; each bucket's expected win rate
  is the mean, over its deals, of the "still open at this age" rate of their age bucket.
* **Zombies**: open deals whose account's ICP score is below 65 and that have not changed stage for 30
  days (requalify) or 45 (close); deals flagged as stalled for a known reason are left out.

Examples
--------
>>> still_open_rates([{"_bucket": 0, "decided": 10, "won": 6}, {"_bucket": 1, "decided": 10, "won": 2}], 2)
[0.4, 0.2, None]
"""

from __future__ import annotations

from datetime import date
from typing import Any

import ibis
import ibis.expr.types as ir

from tierwise.compile import governance as G
from tierwise.reports.performance import _r, rate_row
from tierwise.spec.model import Spec


def still_open_rates(closed: list[dict[str, Any]], n_buckets: int) -> list[float | None]:
    """Per age bucket ``i``: won / decided over decided deals in bucket ``i`` or later (cycle past bucket i's
    lower bound)."""
    by = {int(r["_bucket"]): r for r in closed}
    out: list[float | None] = []
    for i in range(n_buckets + 1):
        decided = sum(int(by[k]["decided"]) for k in by if k >= i)
        won = sum(int(by[k]["won"]) for k in by if k >= i)
        out.append(round(won / decided, 4) if decided else None)
    return out


def pipeline(engine: Any, deals: ir.Table, spec: Spec, as_of: date, *, exclude: ir.BooleanValue | None = None,
             stage_order: list[str] | None = None) -> tuple[dict[str, Any], ir.Table]:
    """The pipeline report and the zombie deals (an engine table, for CSV); stages are listed in
    ``stage_order`` (funnel order), others after them by open deals."""
    cfg = spec.governance.pipeline
    age_bounds, stage_bounds = cfg.age_buckets_days, cfg.stage_buckets_days
    age_labels, stage_labels = G.bucket_labels(age_bounds), G.bucket_labels(stage_bounds)

    closed = engine.to_arrow(G.closed_by_cycle(deals, age_bounds)).to_pylist()
    by_bucket = {int(r["_bucket"]): r for r in closed}
    still_open = still_open_rates(closed, len(age_bounds))
    cells = engine.to_arrow(G.open_deal_buckets(deals, as_of, age_bounds, stage_bounds)).to_pylist()

    open_total = sum(int(c["deals"]) for c in cells)
    value_total = sum(float(c["value"] or 0.0) for c in cells)
    velocity = []
    for i, label in enumerate(age_labels):
        mine = [c for c in cells if int(c["_age_bucket"]) == i]
        n = sum(int(c["deals"]) for c in mine)
        v = sum(float(c["value"] or 0.0) for c in mine)
        h = by_bucket.get(i, {"decided": 0, "won": 0})
        closed_rate = rate_row(int(h["decided"]), int(h["won"]))
        velocity.append({
            "bucket": label, "past_threshold": (age_bounds[i - 1] if i else 0) >= cfg.velocity_days,
            "open_deals": n, "open_value": _r(v, 2), "share": _r(n / open_total) if open_total else None,
            "closed_in_bucket": int(h["decided"]), "closed_win_rate": closed_rate["win_rate"],
            "closed_ci_low": closed_rate["ci_low"], "closed_ci_high": closed_rate["ci_high"],
            "win_rate_if_still_open": still_open[i]})
    # the seed's split: deals closed within the threshold vs after it
    split = engine.to_arrow(G.closed_by_cycle(deals, [cfg.velocity_days])).to_pylist()
    sp = {int(r["_bucket"]): r for r in split}
    within = rate_row(int(sp.get(0, {}).get("decided", 0)), int(sp.get(0, {}).get("won", 0)))
    after = rate_row(int(sp.get(1, {}).get("decided", 0)), int(sp.get(1, {}).get("won", 0)))
    exact_past = _count_past(engine, deals, as_of, cfg.velocity_days)

    time_in_stage = []
    for j, label in enumerate(stage_labels):
        mine = [c for c in cells if int(c["_stage_bucket"]) == j]
        n = sum(int(c["deals"]) for c in mine)
        weighted = [(int(c["deals"]), still_open[int(c["_age_bucket"])]) for c in mine
                    if still_open[int(c["_age_bucket"])] is not None]
        wn = sum(k for k, _ in weighted)
        time_in_stage.append({
            "bucket": label, "open_deals": n, "open_value": _r(sum(float(c["value"] or 0.0) for c in mine), 2),
            "share": _r(n / open_total) if open_total else None,
            "expected_win_rate": _r(sum(k * r for k, r in weighted) / wn) if wn else None,
            "idle": (stage_bounds[j - 1] if j else 0) >= spec.governance.pipeline.zombies.requalify_after_days})
    stages: dict[str, dict[str, Any]] = {}
    for c in cells:
        s = stages.setdefault(str(c["_stage"]), {"stage": str(c["_stage"]), "open_deals": 0, "open_value": 0.0,
                                                 "_age": 0, "_in_stage": 0,
                                                 **{f"in_stage_{lab}": 0 for lab in stage_labels}})
        s["open_deals"] += int(c["deals"])
        s["open_value"] += float(c["value"] or 0.0)
        s["_age"] += int(c["age_days"] or 0)
        s["_in_stage"] += int(c["stage_days"] or 0)
        s[f"in_stage_{stage_labels[int(c['_stage_bucket'])]}"] += int(c["deals"])
    by_stage = []
    rank = {G._fold(name): i for i, name in enumerate(stage_order or [])}
    for s in sorted(stages.values(), key=lambda s: (rank.get(G._fold(s["stage"]), len(rank)), -s["open_deals"],
                                                    s["stage"])):
        n = s["open_deals"]
        by_stage.append({"stage": s["stage"], "open_deals": n, "open_value": _r(s["open_value"], 2),
                         "mean_age_days": _r(s.pop("_age") / n, 1) if n else None,
                         "mean_days_in_stage": _r(s.pop("_in_stage") / n, 1) if n else None,
                         **{k: v for k, v in s.items() if k.startswith("in_stage_")}})

    zombies, zsum = zombie_deals(engine, deals, spec, as_of, exclude=exclude)
    report = {
        "as_of": as_of.isoformat(), "open_deals": open_total, "open_value": _r(value_total, 2),
        "velocity_days": cfg.velocity_days,
        "velocity": velocity,
        "threshold": {
            "open_past_threshold": exact_past["deals"], "open_value_past_threshold": exact_past["value"],
            "open_share_past_threshold": _r(exact_past["deals"] / open_total) if open_total else None,
            "closed_within": {"decided": int(sp.get(0, {}).get("decided", 0)), **within},
            "closed_after": {"decided": int(sp.get(1, {}).get("decided", 0)), **after},
            "seed": "closed within 50 days: 47% win rate; after: 20% or lower (seed 003)"},
        "time_in_stage": time_in_stage, "by_stage": by_stage, "zombies": zsum,
    }
    return report, zombies


def _count_past(engine: Any, deals: ir.Table, as_of: date, days: int) -> dict[str, Any]:
    o = deals.filter(deals._open & (deals.created_at <= as_of))
    past = G.day_diff(ibis.literal(as_of), o.created_at) > days
    row = engine.to_arrow(o.aggregate(n=past.cast("int64").sum(),
                                      v=ibis.ifelse(past, o.amount.cast("float64"), 0.0).sum())).to_pylist()[0]
    return {"deals": int(row["n"] or 0), "value": _r(row["v"] or 0.0, 2)}


def zombie_order(zombies: ir.Table) -> ir.Table:
    """Deals to close first, then the largest, then by id (a stable order for files)."""
    return zombies.order_by([ibis.desc(zombies.action == "close"), ibis.desc(zombies.amount), zombies.opportunity_id])


def zombie_deals(engine: Any, deals: ir.Table, spec: Spec, as_of: date, *, exclude: ir.BooleanValue | None = None
                 ) -> tuple[ir.Table, dict[str, Any]]:
    """Open deals at accounts scoring below the threshold with no stage change for ``requalify_after_days``;
    the suggested action is ``close`` from ``close_after_days`` on, else ``requalify``."""
    z = spec.governance.pipeline.zombies
    d = deals.mutate(_idle=G.idle_days(deals, as_of), _excluded=exclude if exclude is not None else ibis.literal(False))
    score = d[z.score]
    cand = d.filter(d._open & (d.created_at <= as_of) & score.notnull() & (score < z.below)
                    & (d._idle >= z.requalify_after_days))
    excluded = int(engine.scalar(cand.filter(cand._excluded).count()))
    zs = cand.filter(~cand._excluded)
    owner = zs.owner_id.fill_null(zs._account_owner) if "owner_id" in zs.columns else zs._account_owner
    action = ibis.ifelse(zs._idle >= z.close_after_days, "close", "requalify")
    cols = {"opportunity_id": zs.opportunity_id, "account_id": zs.account_id}
    if "name" in zs.columns:
        cols["opportunity"] = zs.name
    t = zs.select(
        **cols, owner_id=owner, stage=zs.stage, amount=zs.amount.cast("float64"),
        age_days=G.day_diff(ibis.literal(as_of), zs.created_at), days_without_stage_change=zs._idle,
        **{z.score: score}, tier=zs.tier, segment=zs.segment, action=action,
        reason=ibis.literal(f"{z.score} ") + score.round(1).cast("string")
        + ibis.literal(f" < {z.below:g}; no stage change for ") + zs._idle.cast("string") + ibis.literal(" days"),
    )
    table = engine.materialize(t)
    agg = engine.to_arrow(table.group_by("action").aggregate(n=table.count(), v=table.amount.sum())).to_pylist()
    counts = {r["action"]: {"deals": int(r["n"]), "value": _r(r["v"] or 0.0, 2)} for r in agg}
    owners = engine.to_arrow(table.group_by("owner_id").aggregate(n=table.count(), v=table.amount.sum())
                             .order_by([ibis.desc("n"), "owner_id"]).limit(10)).to_pylist()
    summary = {
        "rule": f"open deals at accounts with {z.score} < {z.below:g} and no stage change for "
                f"{z.requalify_after_days}+ days (close from {z.close_after_days})",
        "deals": sum(c["deals"] for c in counts.values()),
        "value": _r(sum(c["value"] or 0.0 for c in counts.values()), 2),
        "requalify": counts.get("requalify", {"deals": 0, "value": 0.0}),
        "close": counts.get("close", {"deals": 0, "value": 0.0}),
        "excluded_known_stall": excluded,
        "top_owners": [{"owner_id": r["owner_id"], "deals": int(r["n"]), "value": _r(r["v"] or 0.0, 2)} for r in owners],
        "examples": engine.to_arrow(zombie_order(table).limit(20)).to_pylist(),
    }
    return table, summary
