"""The territory plan as a self-contained HTML page: figures, inline SVG charts, tables; no scripts, no links.

Charts: per role, every rep's potential and workload before (grey) and after
(blue) as a share of the role's mean, with the ±tolerance band shaded; and the
scenarios side by side (largest deviation and moves per plan).
"""

from __future__ import annotations

import html
from typing import Any

import numpy as np
import pandas as pd

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1100px;color:#1f2933;
padding:0 1rem}
h1{font-size:1.6rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #d9e2ec;padding-bottom:.3rem}
table{border-collapse:collapse;margin:.6rem 0;font-size:.85rem}th,td{padding:.25rem .6rem;border-bottom:1px solid #e4e7eb;
text-align:right}th:first-child,td:first-child{text-align:left}th{background:#f5f7fa}
.kpis{display:flex;flex-wrap:wrap;gap:.8rem}.kpi{background:#f5f7fa;border-radius:6px;padding:.6rem .9rem;min-width:9rem}
table.text td,table.text th{text-align:left}
.kpi b{display:block;font-size:1.3rem}.note{color:#52606d;font-size:.85rem}.warn{color:#b44d12}
svg text{font-family:inherit}
"""


def _e(value: Any) -> str:
    missing = value is None or (not isinstance(value, str | list | dict) and pd.isna(value))
    return html.escape("" if missing else str(value))


def _pct(x: Any) -> str:
    return "-" if x is None or (isinstance(x, float) and np.isnan(x)) else f"{x:.1%}"


def _table(header: list[str], rows: list[list[Any]], cls: str | None = None) -> str:
    out = [f"<table class={cls}><thead><tr>" if cls else "<table><thead><tr>", *[f"<th>{_e(h)}</th>" for h in header], "</tr></thead><tbody>"]
    for row in rows:
        out.append("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def balance_svg(reps: pd.DataFrame, metric: str, tolerance: float, title: str) -> str:
    """Each rep's ``metric`` before and after as a share of its role's mean; one row of dots per role."""
    reps = reps[reps["active"] & reps.get("in_scope", True)]
    roles = sorted(reps["role"].dropna().unique().tolist())
    if not roles:
        return ""
    lo, hi = -0.5, 0.5
    devs = pd.concat([reps[f"{metric}_dev_before"], reps[f"{metric}_dev_after"]])
    if len(devs):
        lo = max(-1.0, min(lo, float(devs.min()) - 0.05))
        hi = min(3.0, max(hi, float(devs.max()) + 0.05))
    label_w, plot_w, row_h, top = 130, 820, 46, 34
    height = top + row_h * len(roles) + 30
    width = label_w + plot_w + 20

    def x(v: float) -> float:
        return label_w + (min(max(v, lo), hi) - lo) / (hi - lo) * plot_w

    parts = [f'<svg viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
             f'aria-label="{_e(title)}" xmlns="http://www.w3.org/2000/svg">',
             f'<text x="{label_w}" y="16" font-size="13" font-weight="600">{_e(title)}</text>',
             f'<rect x="{x(-tolerance):.1f}" y="{top - 8}" width="{x(tolerance) - x(-tolerance):.1f}" '
             f'height="{row_h * len(roles) + 8}" fill="#d3f0dc"/>',
             f'<line x1="{x(0):.1f}" x2="{x(0):.1f}" y1="{top - 8}" y2="{top + row_h * len(roles)}" '
             f'stroke="#2f855a" stroke-dasharray="3,3"/>']
    for tick in np.linspace(lo, hi, 7):
        parts.append(f'<text x="{x(tick):.1f}" y="{height - 8}" font-size="10" text-anchor="middle" '
                     f'fill="#52606d">{tick:+.0%}</text>')
    for i, role in enumerate(roles):
        y = top + i * row_h + row_h / 2
        grp = reps[reps["role"] == role]
        parts.append(f'<text x="{label_w - 8}" y="{y + 4:.1f}" font-size="12" text-anchor="end">{_e(role)} '
                     f'({len(grp)})</text>')
        for label, color, dy in (("before", "#9aa5b1", -7), ("after", "#1f6feb", 7)):
            for rid, v in zip(grp["rep_id"], grp[f"{metric}_dev_{label}"], strict=True):
                parts.append(f'<circle cx="{x(float(v)):.1f}" cy="{y + dy:.1f}" r="3.2" fill="{color}" '
                             f'fill-opacity="0.75"><title>{_e(rid)} {label}: {float(v):+.1%}</title></circle>')
    parts.append(f'<text x="{width - 10}" y="16" font-size="11" text-anchor="end" fill="#52606d">'
                 f'grey: before, blue: after; green: ±{tolerance:.0%} of the role mean</text>')
    parts.append("</svg>")
    return "".join(parts)


def scenarios_svg(rows: list[dict[str, Any]], tolerance: float) -> str:
    """Largest potential deviation and moves per plan, side by side."""
    if len(rows) < 2:
        return ""
    label_w, bar_w, row_h = 170, 300, 26
    height = 40 + row_h * len(rows)
    width = label_w + 2 * bar_w + 80
    max_dev = max(max(r["max_dev_potential"] for r in rows), tolerance) or 1.0
    max_moves = max(r["moves"] for r in rows) or 1
    parts = [f'<svg viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
             f'aria-label="scenarios" xmlns="http://www.w3.org/2000/svg">',
             f'<text x="{label_w}" y="16" font-size="12" font-weight="600">largest potential deviation</text>',
             f'<text x="{label_w + bar_w + 40}" y="16" font-size="12" font-weight="600">moves</text>']
    tx = label_w + tolerance / max_dev * (bar_w - 10)
    parts.append(f'<line x1="{tx:.1f}" x2="{tx:.1f}" y1="24" y2="{height - 6}" stroke="#2f855a" '
                 f'stroke-dasharray="3,3"/>')
    for i, r in enumerate(rows):
        y = 28 + i * row_h
        w1 = r["max_dev_potential"] / max_dev * (bar_w - 10)
        w2 = r["moves"] / max_moves * (bar_w - 10)
        color = "#1f6feb" if r["max_dev_potential"] <= tolerance + 1e-9 else "#d97706"
        parts += [f'<text x="{label_w - 8}" y="{y + 14}" font-size="12" text-anchor="end">{_e(r["plan"])}</text>',
                  f'<rect x="{label_w}" y="{y + 3}" width="{w1:.1f}" height="15" fill="{color}"/>',
                  f'<text x="{label_w + w1 + 4:.1f}" y="{y + 15}" font-size="10">{r["max_dev_potential"]:.1%}</text>',
                  f'<rect x="{label_w + bar_w + 40}" y="{y + 3}" width="{w2:.1f}" height="15" fill="#7b8794"/>',
                  f'<text x="{label_w + bar_w + 44 + w2:.1f}" y="{y + 15}" font-size="10">{r["moves"]:,}</text>']
    parts.append("</svg>")
    return "".join(parts)


def render_html(summary: dict[str, Any], plans: dict[str, Any]) -> str:
    """The report page for the base plan and the scenarios."""
    base = plans["base"]
    p = summary["plan"]
    tol = summary["settings"]["tolerance"]
    reps = base.planner.reps_
    mv = p["moves"]
    kpis = [
        ("accounts planned", f"{p['accounts']['planned']:,}"),
        ("active reps", f"{p['reps']['active']:,}"),
        ("moves", f"{mv['total']:,}"),
        ("uncovered", f"{p['uncovered']:,}"),
        ("largest potential deviation", f"{_pct(p['max_deviation']['potential']['before'])} → "
                                        f"{_pct(p['max_deviation']['potential']['after'])}"),
        ("largest workload deviation", f"{_pct(p['max_deviation']['workload']['before'])} → "
                                       f"{_pct(p['max_deviation']['workload']['after'])}"),
        ("optimality gap", f"{p['solver']['gap']:.2%}"),
    ]
    body = [f"<h1>Territory plan — {_e(summary['spec'])}</h1>",
            f"<p class=note>As of {_e(summary['as_of'])}; spec {_e(summary['spec_hash'])}; potential = "
            f"<code>{_e(summary['settings']['potential'])}</code>; target: every rep within ±{tol:.0%} of the "
            f"mean of its role; solver {_e(p['solver']['status'])} in {p['solver']['seconds']:.1f} s "
            f"(objective {p['solver']['objective']:,.1f}, bound {p['solver']['bound']:,.1f}).</p>",
            "<div class=kpis>" + "".join(f"<div class=kpi>{_e(k)}<b>{_e(v)}</b></div>" for k, v in kpis) + "</div>",
            "<h2>Balance</h2>",
            balance_svg(reps, "potential", tol, "potential per rep, against the role mean"),
            balance_svg(reps, "workload", tol, "workload per rep, against the role mean"),
            _table(["role", "metric", "reps", "mean per rep", "max deviation before", "after", "CV before",
                    "after"],
                   [[r["role"], r["metric"], r["reps"], f"{r['mean_after']:,.2f}", _pct(r["max_dev_before"]),
                     _pct(r["max_dev_after"]), _pct(r["cv_before"]), _pct(r["cv_after"])]
                    for r in summary["spread"]]),
            f"<p class=note>Within a role and region the largest deviation after is "
            f"{_pct(p['max_deviation_within_region']['potential'])} (potential) and "
            f"{_pct(p['max_deviation_within_region']['workload'])} (workload); differences between regions come "
            f"from staffing, below.</p>"]
    staffing = [r for r in summary.get("staffing", []) if r["reps"]]
    if staffing:
        body += ["<h2>Regions against their role's mean</h2>",
                 _table(["role", "region", "reps", "accounts", "potential per rep vs role", "reps at the mean"],
                        [[r["role"], r["region"], r["reps"], f"{r['accounts']:,}", _pct(r["potential_vs_role"]),
                          r["reps_at_role_mean"]] for r in staffing])]
    body += ["<h2>Moves</h2>",
             _table(["why", "accounts"], [[k, f"{v:,}"] for k, v in mv["by_reason"].items()]),
             f"<p class=note>{mv['forced']:,} moves are forced (the owner is missing, inactive or of the wrong role "
             f"or region); {mv['discretionary']:,} balance the books or fit capacity.</p>"]
    plan = base.planner.plan_
    moved = plan[plan["change"] != "kept"].sort_values(["change", "potential"], ascending=[True, False]).head(50)
    if len(moved):
        body.append(_table(["account", "tier", "role", "region", "potential", "from", "to", "why"],
                           [[r.account_id, r.tier, r.role, r.region, f"{r.potential:,.0f}", r.owner_before,
                             r.owner_after, r.reason] for r in moved.itertuples(index=False)], cls="text"))
    status_rows = []
    for label in ("before", "after"):
        status_rows.append([label, ", ".join(p["overloaded"][label]) or "none", ", ".join(p["starved"][label])
                            or "none"])
    body += ["<h2>Overloaded and starved reps</h2>",
             _table(["plan", "overloaded (above the band or capacity)", "starved (below the band)"], status_rows)]
    if summary.get("shortfall_explained"):
        body += ["<h2 class=warn>Capacity below demand</h2>", "<ul>"
                 + "".join(f"<li>{_e(line)}</li>" for line in summary["shortfall_explained"]) + "</ul>"]
    rows = summary["scenarios"]
    if len(rows) > 1:
        body += ["<h2>Scenarios</h2>", scenarios_svg(rows, tol),
                 _table(["plan", "description", "active reps", "moves", "uncovered", "max dev potential",
                         "max dev workload", "within region", "out of band", "overloaded", "starved", "gap"],
                        [[r["plan"], r["description"], r["active_reps"], f"{r['moves']:,}", f"{r['uncovered']:,}",
                          _pct(r["max_dev_potential"]), _pct(r["max_dev_workload"]),
                          _pct(r["max_dev_potential_within_region"]), r["reps_out_of_band"], r["overloaded"],
                          r["starved"], f"{r['gap']:.2%}"] for r in rows])]
    body.append("<p class=note>Generated by tierwise territories. The plan is a proposal until committed "
                "(<code>--commit</code> writes the CRM upsert file).</p>")
    return ("<!doctype html><html lang=en><head><meta charset=utf-8><title>Territory plan</title>"
            f"<style>{_CSS}</style></head><body>" + "\n".join(body) + "</body></html>\n")
