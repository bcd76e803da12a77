"""Segment performance: accounts, pipeline, win rates, ACV, cycle and conversion by segment and tier.

The engine aggregates (one query per grouping); this module finishes the small
results: Wilson 95% intervals, shares, stage-to-stage conversion, the funnel
against the seed's B2B benchmarks and the check that tiers predict outcomes.
Formulas: docs/reports.md.

Examples
--------
>>> rate_row(30, 10)["win_rate"], [round(x, 4) for x in (rate_row(30, 10)["ci_low"], rate_row(30, 10)["ci_high"])]
(0.3333, [0.1923, 0.5122])
>>> judge(0.20, 0.12, 0.30, n=100, benchmark=0.39, deviation=0.2, min_records=30)
'below'
"""

from __future__ import annotations

import math
from datetime import date
from typing import Any

import ibis
import ibis.expr.types as ir

from tierwise.compile import governance as G
from tierwise.spec.model import FUNNEL_STAGES, Spec

STAGE_TITLES = {"lead": "Lead", "mql": "MQL", "sql": "SQL", "opportunity": "Opportunity", "closed_won": "Closed Won"}


def _r(x: Any, digits: int = 4) -> float | None:
    if x is None:
        return None
    x = float(x)
    return None if math.isnan(x) else round(x, digits)


#: The normal quantile of a two-sided 95% interval.
Z95 = 1.959963984540054


def wilson(successes: int, trials: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of ``successes / trials`` (the same numbers as :func:`tierwise.models.stats.
    wilson_interval`, without importing scipy for a handful of groups)."""
    p = successes / trials
    denom = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denom
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def two_by_two_p(a: int, b: int, c: int, d: int) -> float:
    """Two-sided p-value of ``[[a, b], [c, d]]`` as :func:`tierwise.models.stats.two_by_two_p_value` computes it:
    Fisher's exact test when a cell is below 5, else chi-square with Yates' correction; 1 without evidence."""
    rows, cols, n = (a + b, c + d), (a + c, b + d), a + b + c + d
    if 0 in rows or 0 in cols:
        return 1.0
    if min(a, b, c, d) < 5:
        def prob(x: int) -> float:
            return math.comb(cols[0], x) * math.comb(cols[1], rows[0] - x) / math.comb(n, rows[0])
        observed = prob(a)
        lo, hi = max(0, rows[0] - cols[1]), min(rows[0], cols[0])
        return min(1.0, sum(q for x in range(lo, hi + 1) if (q := prob(x)) <= observed * (1 + 1e-7)))
    chi2 = 0.0
    for obs, r, k in ((a, 0, 0), (b, 0, 1), (c, 1, 0), (d, 1, 1)):
        expected = rows[r] * cols[k] / n
        diff = max(abs(obs - expected) - 0.5, 0.0) if abs(obs - expected) >= 0.5 else 0.0
        chi2 += diff * diff / expected
    return math.erfc(math.sqrt(chi2 / 2))


def rate_row(trials: int, successes: int) -> dict[str, Any]:
    """``successes / trials`` with its Wilson 95% interval (None when there are no trials)."""
    if not trials:
        return {"win_rate": None, "ci_low": None, "ci_high": None}
    low, high = wilson(successes, trials)
    return {"win_rate": _r(successes / trials), "ci_low": _r(low), "ci_high": _r(high)}


def judge(rate: float | None, low: float | None, high: float | None, *, n: int, benchmark: float, deviation: float,
          min_records: int) -> str:
    """``below`` / ``above`` a benchmark (far from it, and the benchmark outside the 95% interval), ``in line``,
    or ``too few`` records to say."""
    if rate is None or n < min_records:
        return "too few"
    if high is not None and high < benchmark and rate <= benchmark * (1 - deviation):
        return "below"
    if low is not None and low > benchmark and rate >= benchmark * (1 + deviation):
        return "above"
    return "in line"


def segment_order(spec: Spec, present: list[str]) -> list[str]:
    """The spec's segments in rule order (default last), then any other segment found, sorted."""
    named = [r.name for r in spec.segments.rules] + [spec.segments.default.name]
    return named + sorted(s for s in present if s not in named and s is not None)


def tier_order(spec: Spec, present: list[str]) -> list[str]:
    named = [t.name for t in spec.tiers]
    return named + sorted(s for s in present if s not in named and s is not None)


# --------------------------------------------------------------------------- performance


def performance(engine: Any, run: ir.Table, deals: ir.Table | None, spec: Spec) -> dict[str, Any]:
    """By segment and by tier: accounts, open pipeline, win rate with 95% interval, ACV, median cycle."""
    total = int(engine.scalar(run.count()))
    out: dict[str, Any] = {"accounts": total}
    min_deals = spec.governance.min_deals
    for by, key in (("segment", "by_segment"), ("tier", "by_tier")):
        accounts, metrics = G.group_performance(run, deals, by) if deals is not None else (
            run.group_by(by).aggregate(accounts=run.count()), None)
        acc = {r[by]: int(r["accounts"]) for r in engine.to_arrow(accounts).to_pylist()}
        met = {r[by]: r for r in engine.to_arrow(metrics).to_pylist()} if metrics is not None else {}
        order = (segment_order if by == "segment" else tier_order)(spec, list(acc) + list(met))
        rows = [_perf_row(by, name, acc.get(name, 0), met.get(name), total, min_deals)
                for name in order if acc.get(name) or met.get(name)]
        out[key] = rows
    if deals is not None:
        _, metrics = G.group_performance(run.mutate(_all=ibis.literal("all")), deals.mutate(_all=ibis.literal("all")), "_all")
        r = engine.to_arrow(metrics).to_pylist()
        out["overall"] = _perf_row("group", "all", total, r[0] if r else None, total, min_deals)
    else:
        out["overall"] = _perf_row("group", "all", total, None, total, min_deals)
    return out


def _perf_row(by: str, name: str, accounts: int, m: dict[str, Any] | None, total: int, min_deals: int
              ) -> dict[str, Any]:
    m = m or {}
    decided, won = int(m.get("decided") or 0), int(m.get("won") or 0)
    return {
        "group": name, "accounts": accounts, "share": _r(accounts / total) if total else None,
        "open_deals": int(m.get("open_deals") or 0), "open_value": _r(m.get("open_value") or 0.0, 2),
        "decided": decided, "won": won, **rate_row(decided, won), "judged": decided >= min_deals,
        "won_value": _r(m.get("won_value") or 0.0, 2), "acv": _r(m.get("acv"), 2),
        "median_cycle_days": _r(m.get("median_cycle_days"), 1),
    }


# --------------------------------------------------------------------------- stage conversion


def opportunity_stages(engine: Any, deals: ir.Table, spec: Spec, as_of: date) -> tuple[list[str], str]:
    """The open stages in funnel order and where the order came from (``spec`` or ``inferred``)."""
    listed = spec.governance.funnel.opportunity_stages
    if listed:
        return list(listed), "spec"
    rows = engine.to_arrow(G.open_stage_ages(deals, as_of)).to_pylist()
    rows.sort(key=lambda r: (r["mean_age"] if r["mean_age"] is not None else math.inf, str(r["_stage"])))
    seen: dict[str, str] = {}
    for r in rows:  # names that fold alike ("Closed - Won" vs "closed won") are one stage
        seen.setdefault(G._fold(str(r["_stage"])), str(r["_stage"]))
    return list(seen.values()), "inferred"


def stage_conversion(engine: Any, deals: ir.Table, stages: list[str], spec: Spec) -> dict[str, Any]:
    """Deals reaching each open stage and closed won, and the conversion between consecutive stages,
    overall, by segment and by tier."""
    names = [*stages, "Closed Won"]
    rows: list[dict[str, Any]] = []
    unplaced = 0
    for kind, by in (("all", None), ("segment", "segment"), ("tier", "tier")):
        result = engine.to_arrow(G.stage_reached(deals, stages, by)).to_pylist()
        if kind == "all":
            unplaced = int(result[0]["unplaced"] or 0) if result else 0
        groups = {("all" if by is None else r[by]): r for r in result}
        order = ["all"] if by is None else (segment_order if by == "segment" else tier_order)(spec, list(groups))
        for g in order:
            r = groups.get(g)
            if r is None:
                continue
            for i in range(len(names) - 1):
                n_from, n_to = int(r[f"reached_{i + 1}"] or 0), int(r[f"reached_{i + 2}"] or 0)
                rows.append({"group_kind": kind, "group": g, "from_stage": names[i], "to_stage": names[i + 1],
                             "reached_from": n_from, "reached_to": n_to,
                             "rate": _r(n_to / n_from) if n_from else None})
    return {"stages": names, "rows": rows, "unplaced_open_deals": unplaced}


# --------------------------------------------------------------------------- funnel against benchmarks


def funnel(engine: Any, run: ir.Table, deals: ir.Table | None, leads: ir.Table | None, spec: Spec
           ) -> dict[str, Any]:
    """Each benchmark step measured overall, by segment and by tier where the data allows, and judged.

    Lead steps come from ``leads.status`` (mapped by ``governance.funnel.lead_statuses``); by segment
    and tier only when the leads carry an ``account_id`` attribute. A step to ``closed_won`` that the
    lead statuses do not reach is measured on opportunities: won / decided deals (an opportunity is an
    accepted SQL).
    """
    cfg = spec.governance.funnel
    notes: list[str] = []
    lead_counts: dict[str, dict[str, dict[str, int]]] = {}
    if leads is not None:
        statuses = {k: v for k, v in cfg.lead_statuses.items()}
        overall = engine.to_arrow(G.lead_funnel(leads, statuses, None)).to_pylist()[0]
        lead_counts["all"] = {"all": {s: int(overall[f"n_{s}"] or 0) for s in FUNNEL_STAGES}}
        if "account_id" in leads.columns:
            joined = leads.inner_join(run.select("account_id", "segment", "tier"), "account_id")
            for by in ("segment", "tier"):
                rows = engine.to_arrow(G.lead_funnel(joined, statuses, by)).to_pylist()
                lead_counts[by] = {r[by]: {s: int(r[f"n_{s}"] or 0) for s in FUNNEL_STAGES} for r in rows}
        else:
            notes.append("lead steps are measured overall only: the leads have no account_id (add it under "
                         "data.leads.attributes to see them by segment and tier)")
    else:
        notes.append("no leads table: the lead steps (Lead→MQL, MQL→SQL, SQL→Opportunity) are not measured")
    deal_counts: dict[str, dict[str, dict[str, int]]] = {}
    if deals is not None:
        for kind, by in (("all", None), ("segment", "segment"), ("tier", "tier")):
            t = deals if by else deals.mutate(_g=ibis.literal("all"))
            col = by or "_g"
            agg = t.group_by(col).aggregate(decided=t._decided.cast("int64").sum(),
                                            won=(t._decided & t._won.fill_null(False)).cast("int64").sum())
            deal_counts[kind] = {r[col]: {"decided": int(r["decided"] or 0), "won": int(r["won"] or 0)}
                                 for r in engine.to_arrow(agg).to_pylist()}
    reached_overall = lead_counts.get("all", {}).get("all", {})
    rows: list[dict[str, Any]] = []
    for bench in cfg.benchmarks:
        step = f"{STAGE_TITLES[bench.from_]}→{STAGE_TITLES[bench.to]}"
        lead_ok = bool(reached_overall) and reached_overall.get(bench.from_, 0) > 0 and (
            reached_overall.get(bench.to, 0) > 0)
        if lead_ok:
            source = "leads"
        elif bench.to == "closed_won" and bench.from_ in ("sql", "opportunity") and deal_counts:
            source = "opportunities"
        else:
            why = ("no leads table" if leads is None else
                   f"no lead status maps to '{bench.to if reached_overall.get(bench.from_, 0) else bench.from_}'; "
                   "see governance.funnel.lead_statuses")
            rows.append({"group_kind": "all", "group": "all", "step": step, "from": bench.from_, "to": bench.to,
                         "source": None, "n_from": None, "n_to": None, "rate": None, "ci_low": None,
                         "ci_high": None, "benchmark": bench.rate, "deviation": None, "flag": "not measured",
                         "why": why})
            continue
        for kind in ("all", "segment", "tier"):
            groups = (lead_counts if source == "leads" else deal_counts).get(kind, {})
            order = ["all"] if kind == "all" else (segment_order if kind == "segment" else tier_order)(
                spec, list(groups))
            for g in order:
                c = groups.get(g)
                if c is None:
                    continue
                if source == "leads":
                    n_from, n_to = c.get(bench.from_, 0), c.get(bench.to, 0)
                else:
                    n_from, n_to = c["decided"], c["won"]
                rr = rate_row(n_from, n_to)
                rate = rr["win_rate"]
                rows.append({"group_kind": kind, "group": g, "step": step, "from": bench.from_, "to": bench.to,
                             "source": source, "n_from": n_from, "n_to": n_to, "rate": rate,
                             "ci_low": rr["ci_low"], "ci_high": rr["ci_high"], "benchmark": bench.rate,
                             "deviation": _r(rate / bench.rate - 1) if rate is not None else None,
                             "flag": judge(rate, rr["ci_low"], rr["ci_high"], n=n_from, benchmark=bench.rate,
                                           deviation=cfg.deviation, min_records=cfg.min_records),
                             "why": None})
    interventions = _interventions(rows)
    if any(r["source"] == "opportunities" for r in rows):
        notes.append("SQL→Closed Won is measured on opportunities as won / decided deals (the lead statuses do "
                     "not reach closed won)")
    return {"rows": rows, "interventions": interventions, "deviation": cfg.deviation,
            "min_records": cfg.min_records, "notes": notes}


def _interventions(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Steps below their benchmark, where to act: segments first (seed 003: the fix is almost always
    segment-specific), then tiers, each by the conversions missing against the benchmark; the overall step
    only when no segment or tier explains it."""
    below = [r for r in rows if r["flag"] == "below"]
    grouped = [r for r in below if r["group_kind"] != "all"]
    chosen = grouped or below
    out = []
    for r in chosen:
        shortfall = (r["benchmark"] - r["rate"]) * r["n_from"]
        unit = "leads" if r["source"] == "leads" else "decided deals"
        where = "overall" if r["group_kind"] == "all" else f"{r['group_kind']} {r['group']}"
        out.append({
            "group_kind": r["group_kind"], "group": r["group"], "step": r["step"], "rate": r["rate"],
            "benchmark": r["benchmark"], "shortfall": _r(shortfall, 1),
            "message": f"{where}: {r['step']} {r['rate']:.1%} vs the {r['benchmark']:.0%} benchmark "
                       f"({r['n_from']:,} {unit}; about {shortfall:,.0f} fewer {STAGE_TITLES[r['to']]} than the "
                       "benchmark) — fix this step for this group, not the whole funnel"})
    rank = {"segment": 0, "tier": 1, "all": 2}
    out.sort(key=lambda i: (rank[i["group_kind"]], -(i["shortfall"] or 0), str(i["group"]), i["step"]))
    return out


# --------------------------------------------------------------------------- do tiers predict outcomes


def tier_check(by_tier: list[dict[str, Any]], spec: Spec) -> dict[str, Any]:
    """Win rate should fall from the first tier to the last (A > B > C > D). Adjacent pairs where it does not
    are inversions; an inversion is significant when a two-sided test of the two win rates gives p < 0.05."""
    min_deals = spec.governance.min_deals
    rows = {r["group"]: r for r in by_tier}
    judged = [t.name for t in spec.tiers if rows.get(t.name, {}).get("decided", 0) >= min_deals]
    pairs = []
    for hi, lo in zip(judged, judged[1:], strict=False):
        a, b = rows[hi], rows[lo]
        p = two_by_two_p(a["won"], a["decided"] - a["won"], b["won"], b["decided"] - b["won"])
        inverted = (a["win_rate"] or 0) <= (b["win_rate"] or 0)
        pairs.append({"higher": hi, "lower": lo, "higher_win_rate": a["win_rate"], "lower_win_rate": b["win_rate"],
                      "p_value": _r(p, 6), "inverted": inverted, "significant": p < 0.05})
    skipped = [t.name for t in spec.tiers if t.name not in judged]
    inversions = [p for p in pairs if p["inverted"]]
    if len(judged) < 2:
        status, message = "unknown", (f"fewer than two tiers have {min_deals}+ decided deals: whether tiers predict "
                                      "outcomes cannot be checked yet")
    elif inversions:
        status = "alert" if any(p["significant"] for p in inversions) else "warn"
        message = "tiers do not predict outcomes: " + "; ".join(
            f"tier {p['lower']} wins {p['lower_win_rate']:.1%} vs tier {p['higher']} {p['higher_win_rate']:.1%}"
            + (" (significant)" if p["significant"] else " (within noise)") for p in inversions)
    else:
        status = "ok"
        message = "win rate falls from tier to tier (" + " > ".join(
            f"{t} {rows[t]['win_rate']:.1%}" for t in judged) + ")"
    return {"status": status, "message": message, "pairs": pairs, "not_judged": skipped, "min_deals": min_deals}
