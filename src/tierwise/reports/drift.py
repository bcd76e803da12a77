"""ICP measurement and drift between runs (seeds 000 dimension 4, 004).

* ICP coverage: the share of open pipeline and of closed-won deals at ICP accounts, against the targets
  (50% and 70% by default);
* the population stability index (PSI) of the score, the tier and segment mix and the recorded attributes
  between two runs: ``PSI = Σ (c_i - b_i) × ln(c_i / b_i)`` over bins, where ``b_i`` and ``c_i`` are the
  earlier and the later run's shares of bin ``i`` (floored at :data:`EPSILON`); numbers are binned at the
  earlier run's quantiles, text by value (the most common values in both runs, the rest as "(other)"),
  missing values in a bin of their own;
* the tier migration matrix and the share of accounts that changed tier.

Examples
--------
>>> round(psi([0.5, 0.5], [0.5, 0.5]), 6), round(psi([0.5, 0.5], [0.8, 0.2]), 4)
(0.0, 0.4159)
>>> psi_status(0.12, warn=0.1, alert=0.25)
'warn'
"""

from __future__ import annotations

import math
from datetime import date, timedelta
from typing import Any

import ibis
import ibis.expr.types as ir

from tierwise.compile import governance as G
from tierwise.reports.performance import _r, tier_order
from tierwise.spec.model import Spec

#: Shares are floored at this before the logarithm, so an empty bin gives a large but finite PSI.
EPSILON = 1e-4
#: Above twice this many accounts, quantile edges come from a deterministic sample of about this many.
QUANTILE_SAMPLE = 125_000
#: Most text values compared one by one; the rest are "(other)".
TOP_VALUES = 30
MISSING, OTHER = "(missing)", "(other)"


def psi(baseline: list[float], current: list[float]) -> float:
    """Population stability index of two share vectors over the same bins."""
    total = 0.0
    for b, c in zip(baseline, current, strict=True):
        b, c = max(b, EPSILON), max(c, EPSILON)
        total += (c - b) * math.log(c / b)
    return total


def psi_status(value: float, *, warn: float, alert: float) -> str:
    return "alert" if value >= alert else "warn" if value >= warn else "ok"


# --------------------------------------------------------------------------- ICP coverage


def icp_coverage(engine: Any, run: ir.Table, deals: ir.Table | None, spec: Spec, as_of: date) -> dict[str, Any]:
    """ICP accounts, and the share of open pipeline and of recent closed-won deals at them, against targets."""
    cfg = spec.governance.icp
    flag = G.icp_flag(run, cfg.segments, cfg.min_fit_score)
    acc = engine.to_arrow(run.aggregate(n=run.count(), icp=flag.cast("int64").sum())).to_pylist()[0]
    definition = (f"segments {', '.join(cfg.segments)}" if cfg.segments else f"fit_score >= {cfg.min_fit_score:g}")
    out: dict[str, Any] = {"definition": definition, "accounts": int(acc["n"] or 0), "icp_accounts": int(acc["icp"] or 0),
                           "icp_account_share": _r((acc["icp"] or 0) / acc["n"]) if acc["n"] else None,
                           "measure": cfg.measure, "checks": []}
    if deals is None:
        out["notes"] = ["no opportunities table: pipeline and closed-won coverage need deals"]
        return out
    d = deals.mutate(_icp=G.icp_flag(deals, cfg.segments, cfg.min_fit_score))
    amount = d.amount.cast("float64").fill_null(0.0)
    won = d._decided & d._won.fill_null(False) & d.closed_at.notnull() & (d.closed_at <= as_of)
    if cfg.won_window_days is not None:
        won = won & (d.closed_at > as_of - timedelta(days=cfg.won_window_days))
    zero = ibis.literal(0.0)
    row = engine.to_arrow(d.aggregate(
        open_n=d._open.cast("int64").sum(), open_icp_n=(d._open & d._icp).cast("int64").sum(),
        open_v=ibis.ifelse(d._open, amount, zero).sum(), open_icp_v=ibis.ifelse(d._open & d._icp, amount, zero).sum(),
        won_n=won.cast("int64").sum(), won_icp_n=(won & d._icp).cast("int64").sum(),
        won_v=ibis.ifelse(won, amount, zero).sum(), won_icp_v=ibis.ifelse(won & d._icp, amount, zero).sum(),
    )).to_pylist()[0]
    window = (f"closed in the {cfg.won_window_days} days to {as_of.isoformat()}" if cfg.won_window_days
              else f"closed by {as_of.isoformat()}")
    for key, label, target, scope in (("open", "open pipeline", cfg.pipeline_target, "open deals"),
                                      ("won", "closed-won", cfg.won_target, f"won deals {window}")):
        n, n_icp = int(row[f"{key}_n"] or 0), int(row[f"{key}_icp_n"] or 0)
        v, v_icp = float(row[f"{key}_v"] or 0.0), float(row[f"{key}_icp_v"] or 0.0)
        share_n = n_icp / n if n else None
        share_v = v_icp / v if v else None
        share = share_n if cfg.measure == "count" else share_v
        status = "unknown" if share is None else ("met" if share >= target else "missed")
        out[key] = {"deals": n, "icp_deals": n_icp, "count_share": _r(share_n), "value": _r(v, 2),
                    "icp_value": _r(v_icp, 2), "value_share": _r(share_v), "target": target, "status": status,
                    "scope": scope}
        out["checks"].append({
            "check": f"ICP share of {label}", "value": _r(share), "target": target, "status": status,
            "message": (f"no {scope}" if share is None else
                        f"{share:.1%} of {scope} ({'by count' if cfg.measure == 'count' else 'by value'}) are at ICP "
                        f"accounts ({definition}); target {target:.0%}"
                        + ("" if status == "met" else " — more of the team's effort goes outside the ICP than planned"))})
    return out


# --------------------------------------------------------------------------- drift


def _shares(counts: dict[Any, int], keys: list[Any]) -> list[float]:
    total = sum(counts.values())
    return [(counts.get(k, 0) / total) if total else 0.0 for k in keys]


def numeric_drift(engine: Any, before: ir.Table, after: ir.Table, column: str, bins: int) -> dict[str, Any]:
    """PSI of a numeric column, binned at the earlier run's quantiles (plus a bin for missing values)."""
    return numeric_drifts(engine, before, after, [column], bins)[column]


def numeric_drifts(engine: Any, before: ir.Table, after: ir.Table, columns: list[str], bins: int
                   ) -> dict[str, dict[str, Any]]:
    """:func:`numeric_drift` for several columns: the earlier run's quantiles of every column in one scan, then
    one grouped scan of both runs per column."""
    if not columns:
        return {}
    source = before
    n = int(engine.scalar(before.count()))
    if n > QUANTILE_SAMPLE * 2 and "account_id" in before.columns:
        # exact quantiles of a deterministic 1-in-k sample by account (the bins need stable edges, not exact
        # ones; sorting a million values per column costs more than the rest of the drift report)
        k = -(-n // QUANTILE_SAMPLE)
        source = before.filter(engine.key_hash(before.account_id) % k == 0)
    raw = engine.to_arrow(source.aggregate(**{f"q{i}": G.quantile_edges(source[c], bins)
                                              for i, c in enumerate(columns)})).to_pylist()[0]
    edges = {c: sorted({round(float(e), 6) for e in (raw[f"q{i}"] or []) if e is not None and not math.isnan(float(e))})
             for i, c in enumerate(columns)}
    out = {}
    for c in columns:
        e = edges[c]
        tagged = before.select(_v=before[c], _after=ibis.literal(0)).union(
            after.select(_v=after[c], _after=ibis.literal(1)))
        binned = G.binned_counts(tagged, "_v", e, by="_after")
        b, a = {}, {}
        for r in engine.to_arrow(binned).to_pylist():
            (a if r["_after"] else b)[int(r["_bin"])] = int(r["n"])
        keys = list(range(len(e) + 1)) + ([-1] if (b.get(-1) or a.get(-1)) else [])
        out[c] = _drift_row([_bin_label(k, e) for k in keys], _shares(b, keys), _shares(a, keys), "number")
    return out


def _bin_label(k: int, edges: list[float]) -> str:
    if k == -1:
        return MISSING
    if not edges:
        return "all"
    if k == 0:
        return f"<= {edges[0]:g}"
    if k == len(edges):
        return f"> {edges[-1]:g}"
    return f"{edges[k - 1]:g} - {edges[k]:g}"


def categorical_drift(engine: Any, before: ir.Table, after: ir.Table, column: str,
                      totals: tuple[int, int] | None = None) -> dict[str, Any]:
    """PSI of a text column by value: the most common values across both runs, the rest as "(other)", missing
    values as "(missing)"; one grouped scan of both runs (``totals``: their row counts, when known)."""
    tagged = before.select(_v=before[column], _after=ibis.literal(0)).union(
        after.select(_v=after[column], _after=ibis.literal(1)))
    g = tagged.group_by("_v").aggregate(b=(1 - tagged._after).sum(), a=tagged._after.sum())
    rows = engine.to_arrow(g.order_by([ibis.desc(g._v.isnull()), ibis.desc(g.a + g.b), g._v])
                           .limit(TOP_VALUES + 1)).to_pylist()
    if totals is None:
        row = engine.to_arrow(tagged.aggregate(b=(1 - tagged._after).sum(), a=tagged._after.sum())).to_pylist()[0]
        totals = (int(row["b"] or 0), int(row["a"] or 0))
    missing = next((r for r in rows if r["_v"] is None), None)
    top = sorted((r for r in rows if r["_v"] is not None), key=lambda r: str(r["_v"]))[:TOP_VALUES]
    b = {str(r["_v"]): int(r["b"]) for r in top}
    a = {str(r["_v"]): int(r["a"]) for r in top}
    if missing:
        b[MISSING], a[MISSING] = int(missing["b"]), int(missing["a"])
    other_b, other_a = totals[0] - sum(b.values()), totals[1] - sum(a.values())
    if other_b or other_a:
        b[OTHER], a[OTHER] = other_b, other_a
    keys = [str(r["_v"]) for r in top] + [k for k in (OTHER, MISSING) if k in b]
    return _drift_row(keys, _shares(b, keys), _shares(a, keys), "text")


def _drift_row(labels: list[str], base: list[float], cur: list[float], kind: str) -> dict[str, Any]:
    return {"kind": kind, "psi": round(psi(base, cur), 4),
            "bins": [{"bin": lab, "before": round(b, 4), "after": round(c, 4),
                      "contribution": round((max(c, EPSILON) - max(b, EPSILON)) * math.log(max(c, EPSILON) / max(b, EPSILON)), 4)}
                     for lab, b, c in zip(labels, base, cur, strict=True)]}


def drift(engine: Any, current: ir.Table, previous: ir.Table, spec: Spec, *,
          current_attrs: ir.Table | None = None, previous_attrs: ir.Table | None = None,
          attribute_kinds: dict[str, str] | None = None, pair: ir.Table | None = None) -> dict[str, Any]:
    """PSI of the score, tier and segment mix and attributes, and the tier migration matrix, between two runs
    (``pair``: their :func:`~tierwise.compile.governance.run_pair`, when already computed)."""
    cfg = spec.governance.drift
    fields: list[dict[str, Any]] = []
    kinds = dict(sorted((attribute_kinds or {}).items())) \
        if current_attrs is not None and previous_attrs is not None else {}
    num_attrs = [a for a, k in kinds.items() if k == "number"]
    same = current_attrs is current and previous_attrs is previous  # the run tables carry the attributes
    numbers = numeric_drifts(engine, previous, current, ["score", "fit_score"] + (num_attrs if same else []), cfg.bins)
    if num_attrs and not same:
        assert current_attrs is not None and previous_attrs is not None
        numbers.update(numeric_drifts(engine, previous_attrs, current_attrs, num_attrs, cfg.bins))
    for name in ("score", "fit_score"):
        fields.append({"field": name, **numbers[name]})
    n = engine.to_arrow(previous.aggregate(n=previous.count()).cross_join(
        current.aggregate(m=current.count()))).to_pylist()[0]
    totals = (int(n["n"]), int(n["m"]))
    for name in ("tier", "segment"):
        fields.append({"field": name, **categorical_drift(engine, previous, current, name, totals)})
    for name, kind in kinds.items():
        assert current_attrs is not None and previous_attrs is not None
        row = numbers[name] if kind == "number" else categorical_drift(
            engine, previous_attrs, current_attrs, name, totals if same else None)
        fields.append({"field": name, "attribute": True, **row})
    alerts = []
    for f in fields:
        f["status"] = psi_status(f["psi"], warn=cfg.psi_warn, alert=cfg.psi_alert)
        f.setdefault("attribute", False)
        if f["status"] != "ok":
            top = max(f["bins"], key=lambda b: abs(b["contribution"]))
            alerts.append({"severity": f["status"], "section": "drift", "subject": f["field"],
                           "message": f"{f['field']} shifted: PSI {f['psi']:.3f} "
                                      f"({'significant' if f['status'] == 'alert' else 'moderate'} shift; most in "
                                      f"'{top['bin']}': {top['before']:.1%} -> {top['after']:.1%})"})
    mig = migration_matrix(engine, pair if pair is not None else G.run_pair(current, previous), spec)
    if mig["changed_share"] is not None and mig["changed_share"] >= cfg.tier_change_alert:
        alerts.append({"severity": "alert", "section": "drift", "subject": "tier migration",
                       "message": f"{mig['changed_share']:.1%} of accounts changed tier (threshold "
                                  f"{cfg.tier_change_alert:.0%}): check the data refresh and the spec before "
                                  "re-routing accounts"})
    return {"fields": fields, "migration": mig, "alerts": alerts,
            "thresholds": {"psi_warn": cfg.psi_warn, "psi_alert": cfg.psi_alert,
                           "tier_change_alert": cfg.tier_change_alert}}


def migration_matrix(engine: Any, pair: ir.Table, spec: Spec) -> dict[str, Any]:
    """Accounts by tier before (rows) and now (columns) from a run pair; ``(new)`` and ``(gone)`` for accounts
    that entered or left; the share of accounts in both runs whose tier changed, and how many moved up and down."""
    rows = engine.to_arrow(G.migration(pair)).to_pylist()
    tiers = tier_order(spec, [r["tier_from"] for r in rows if r["tier_from"]] + [r["tier_to"] for r in rows if r["tier_to"]])
    tiers = [t for t in tiers if any(t in (r["tier_from"], r["tier_to"]) for r in rows)]
    rank = {t: i for i, t in enumerate(tiers)}
    cells: dict[tuple[str, str], int] = {}
    both = changed = up = down = 0
    for r in rows:
        frm, to, n = r["tier_from"] or "(new)", r["tier_to"] or "(gone)", int(r["accounts"])
        cells[(frm, to)] = cells.get((frm, to), 0) + n
        if r["tier_from"] and r["tier_to"]:
            both += n
            if r["tier_from"] != r["tier_to"]:
                changed += n
                if rank[r["tier_to"]] < rank[r["tier_from"]]:
                    up += n
                else:
                    down += n
    row_names = tiers + (["(new)"] if any(k[0] == "(new)" for k in cells) else [])
    col_names = tiers + (["(gone)"] if any(k[1] == "(gone)" for k in cells) else [])
    matrix = [[cells.get((f, t), 0) for t in col_names] for f in row_names]
    return {"from": row_names, "to": col_names, "matrix": matrix, "in_both": both, "changed": changed,
            "moved_up": up, "moved_down": down, "changed_share": _r(changed / both) if both else None}


def change_table(engine: Any, pair: ir.Table, run_id: str, previous_run_id: str, tiers: list[str]) -> Any:
    """The change events between two runs as Arrow (the history store's layout, with ``direction``)."""
    from tierwise.store.history import with_direction

    return with_direction(engine.to_arrow(G.change_events(pair, run_id, previous_run_id)), tiers)
