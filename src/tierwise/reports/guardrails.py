"""Segment guardrails and the actionability test (seed 003).

* each segment's share of the accounts: under ``min_segment_share`` (15%) it is too small to earn
  investment, over ``max_segment_share`` (60%) too broad to mean anything;
* the number of segments: more than ``max_segments`` (8) and nobody can act on them;
* segments with the same motion, cadence (touches a month) and owner role: the same rep behaviour under
  two names — merge them;
* rep capacity against the coverage model: tier A 15-20 accounts per rep, B ~40, C ~150 pooled.

Examples
--------
>>> identical_segments([{"name": "X", "motion": "field", "touches_per_month": (4, 6), "owner_role": "ae"},
...                     {"name": "Y", "motion": "Field", "touches_per_month": (4, 6), "owner_role": "ae"},
...                     {"name": "Z", "motion": "inside", "touches_per_month": (4, 6), "owner_role": "ae"}])
[['X', 'Y']]
"""

from __future__ import annotations

import math
from typing import Any

import ibis.expr.types as ir

from tierwise.reports.performance import segment_order
from tierwise.spec.model import Spec


def identical_segments(profiles: list[dict[str, Any]]) -> list[list[str]]:
    """Groups (2+) of segments whose motion (case-insensitive), touches a month and owner role are the same."""
    groups: dict[tuple, list[str]] = {}
    for p in profiles:
        key = ((p.get("motion") or "").strip().lower(), tuple(p.get("touches_per_month") or ()),
               (p.get("owner_role") or "").strip().lower())
        groups.setdefault(key, []).append(p["name"])
    return [names for names in groups.values() if len(names) > 1]


def guardrails(engine: Any, run: ir.Table, spec: Spec, reps: ir.Table | None = None) -> dict[str, Any]:
    """Every guardrail check (status ``ok`` or ``warn``), the coverage model and rep loads."""
    g = spec.governance.guardrails
    total = int(engine.scalar(run.count()))
    counts = {r["segment"]: int(r["n"]) for r in engine.to_arrow(
        run.group_by("segment").aggregate(n=run.count())).to_pylist()}
    checks: list[dict[str, Any]] = []
    shares = []
    for name in segment_order(spec, list(counts)):
        n = counts.get(name, 0)
        share = n / total if total else 0.0
        status, message = "ok", "within the guardrails"
        if share < g.min_segment_share:
            status = "warn"
            message = (f"{share:.1%} of accounts: under {g.min_segment_share:.0%}, too small to earn its own "
                       "motion — merge it into a neighbour or widen its rule")
        elif share > g.max_segment_share:
            status = "warn"
            message = (f"{share:.1%} of accounts: over {g.max_segment_share:.0%}, too broad to be useful — split "
                       "it on size, industry or intent")
        shares.append({"segment": name, "accounts": n, "share": round(share, 4), "status": status})
        checks.append({"check": "segment share", "subject": name, "value": round(share, 4),
                       "threshold": f"{g.min_segment_share:g}-{g.max_segment_share:g}", "status": status,
                       "message": message})
    defined = [*spec.segments.rules, spec.segments.default]
    used = sum(1 for s in shares if s["accounts"])
    n_status = "warn" if len(defined) > g.max_segments else "ok"
    checks.append({"check": "segment count", "subject": "all", "value": len(defined), "threshold": g.max_segments,
                   "status": n_status,
                   "message": (f"{len(defined)} segments ({used} with accounts): more than {g.max_segments} is more "
                               "than reps can act on — merge the smallest" if n_status == "warn" else
                               f"{len(defined)} segments ({used} with accounts)")})
    profiles = [{"name": s.name, "motion": s.motion, "touches_per_month": s.touches_per_month,
                 "owner_role": s.owner_role} for s in defined]
    merges = []
    for names in identical_segments(profiles):
        p = next(x for x in profiles if x["name"] == names[0])
        t = p["touches_per_month"]
        what = (f"motion '{p['motion'] or '(none)'}', {f'{t[0]}-{t[1]}' if t else 'no'} touches a month, owner role "
                f"'{p['owner_role'] or '(none)'}'")
        merges.append({"segments": names, "profile": what})
        checks.append({"check": "identical motion", "subject": " + ".join(names), "value": None, "threshold": None,
                       "status": "warn", "message": f"same {what}: the same rep behaviour under {len(names)} names — "
                                                    "merge them, or give each its own motion and cadence"})
    if not merges:
        checks.append({"check": "identical motion", "subject": "all", "value": None, "threshold": None,
                       "status": "ok", "message": "every segment has its own motion, cadence or owner role"})
    capacity = coverage(engine, run, spec, reps)
    checks += capacity.pop("checks")
    warn = [c for c in checks if c["status"] == "warn"]
    return {"accounts": total, "segment_shares": shares, "segments_defined": len(defined), "segments_used": used,
            "merges": merges, "coverage": capacity, "checks": checks, "actionable": not warn,
            "verdict": ("actionable: every guardrail holds" if not warn else
                        f"not yet actionable: {len(warn)} guardrail warning(s)")}


def coverage(engine: Any, run: ir.Table, spec: Spec, reps: ir.Table | None) -> dict[str, Any]:
    """The coverage model per tier and each owner's load.

    A rep's load is ``Σ accounts in tier / most accounts per rep`` over the tiers it
    owns (``accounts_per_rep`` max for dedicated tiers, the pooled size for pooled
    ones): above 1 the rep owns more than the model allows.
    """
    pooled = spec.governance.guardrails.pooled_accounts_per_rep
    per_tier = {t.name: t for t in spec.tiers}
    cap: dict[str, int] = {}
    for t in spec.tiers:
        if t.accounts_per_rep:
            cap[t.name] = t.accounts_per_rep[1]
        elif t.name in pooled:
            cap[t.name] = pooled[t.name]
    owned = run.filter(run.owner_id.notnull())
    by_owner = engine.to_arrow(owned.group_by(["owner_id", "tier"]).aggregate(n=owned.count())).to_pylist()
    tiers = engine.to_arrow(run.group_by("tier").aggregate(
        n=run.count(), unowned=run.owner_id.isnull().cast("int64").sum(),
        owners=run.owner_id.nunique())).to_pylist()
    t_rows = {r["tier"]: r for r in tiers}
    load: dict[str, float] = {}
    owner_tiers: dict[str, dict[str, int]] = {}
    over_tier: dict[str, int] = {}
    # in one order on every engine: a rep's load is a float sum, and engines return groups in their own order
    for r in sorted(by_owner, key=lambda r: (r["owner_id"], r["tier"])):
        owner_tiers.setdefault(r["owner_id"], {})[r["tier"]] = int(r["n"])
        if r["tier"] in cap:
            load[r["owner_id"]] = load.get(r["owner_id"], 0.0) + int(r["n"]) / cap[r["tier"]]
            if r["tier"] in per_tier and per_tier[r["tier"]].accounts_per_rep and int(r["n"]) > cap[r["tier"]]:
                over_tier[r["tier"]] = over_tier.get(r["tier"], 0) + 1
    model = []
    checks: list[dict[str, Any]] = []
    needed_low = needed_high = 0.0
    for t in spec.tiers:
        r = t_rows.get(t.name, {"n": 0, "unowned": 0, "owners": 0})
        n = int(r["n"])
        row: dict[str, Any] = {"tier": t.name, "accounts": n, "owners": int(r["owners"] or 0),
                               "unowned": int(r["unowned"] or 0), "coverage": t.coverage}
        if t.accounts_per_rep:
            lo, hi = t.accounts_per_rep
            row.update(model="dedicated", accounts_per_rep=[lo, hi], reps_needed=[math.ceil(n / hi), math.ceil(n / lo)],
                       reps_over=over_tier.get(t.name, 0))
            needed_low += n / hi
            needed_high += n / lo
            if row["reps_over"]:
                checks.append({"check": "rep capacity", "subject": f"tier {t.name}", "value": row["reps_over"],
                               "threshold": hi, "status": "warn",
                               "message": f"{row['reps_over']} rep(s) own more than {hi} tier-{t.name} accounts "
                                          f"(the model: {lo}-{hi} per rep) — rebalance or move some to tier "
                                          "coverage below"})
            if row["unowned"]:
                checks.append({"check": "unowned accounts", "subject": f"tier {t.name}", "value": row["unowned"],
                               "threshold": 0, "status": "warn",
                               "message": f"{row['unowned']:,} tier-{t.name} accounts have no owner: the tier promises "
                                          "a dedicated rep"})
        elif t.name in pooled:
            row.update(model="pooled", accounts_per_rep=[pooled[t.name], pooled[t.name]],
                       reps_needed=[math.ceil(n / pooled[t.name])] * 2)
            needed_low += n / pooled[t.name]
            needed_high += n / pooled[t.name]
        else:
            row.update(model="none", accounts_per_rep=None, reps_needed=[0, 0])
        model.append(row)
    available, source = _available_reps(engine, reps, owner_tiers)
    overloaded = sorted(((o, v) for o, v in load.items() if v > 1.0), key=lambda kv: (-kv[1], kv[0]))
    team_status = "ok"
    if available is not None and available < math.ceil(needed_low):
        team_status = "warn"
    checks.append({
        "check": "team capacity", "subject": "all", "value": available,
        "threshold": f"{math.ceil(needed_low)}-{math.ceil(needed_high)}", "status": team_status,
        "message": (f"the coverage model needs {math.ceil(needed_low)}-{math.ceil(needed_high)} reps for these tiers; "
                    f"{available if available is not None else 'an unknown number of'} {source}"
                    + (" — too few: hire, pool more accounts, or tighten the top tiers" if team_status == "warn"
                       else ""))})
    if overloaded:
        checks.append({"check": "rep load", "subject": f"{len(overloaded)} rep(s)", "value": round(overloaded[0][1], 2),
                       "threshold": 1.0, "status": "warn",
                       "message": f"{len(overloaded)} rep(s) own more than the coverage model allows (load above 1; "
                                  f"highest {overloaded[0][0]} at {overloaded[0][1]:.2f})"})
    # one column per tier in the spec's order, whichever tiers the first rep happens to own (the CSV's
    # columns follow the first row, and engines return groups in different orders)
    tier_names = list(dict.fromkeys([t.name for t in spec.tiers] + sorted({t for c in owner_tiers.values() for t in c})))
    reps_rows = [{"owner_id": o, "load": round(load.get(o, 0.0), 3),
                  **{f"tier_{t}": tiers_.get(t, 0) for t in tier_names}, "total": sum(tiers_.values())}
                 for o, tiers_ in sorted(owner_tiers.items(), key=lambda kv: (-load.get(kv[0], 0.0), kv[0]))]
    return {"tiers": model, "reps_needed": [math.ceil(needed_low), math.ceil(needed_high)],
            "reps_available": available, "reps_source": source, "overloaded": len(overloaded),
            "reps": reps_rows, "checks": checks}


def _available_reps(engine: Any, reps: ir.Table | None, owner_tiers: dict[str, dict[str, int]]
                    ) -> tuple[int | None, str]:
    if reps is not None:
        active = reps.filter(reps.active.fill_null(True)) if "active" in reps.columns else reps
        return int(engine.scalar(active.count())), "active reps in the reps table"
    if owner_tiers:
        return len(owner_tiers), "distinct account owners (no reps table)"
    return None, "reps (no owners or reps table)"


__all__ = ["coverage", "guardrails", "identical_segments"]
