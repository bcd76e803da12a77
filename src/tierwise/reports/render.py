"""Files of the governance reports: JSON, CSV tables and a self-contained HTML page (inline SVG).

Output is deterministic (no timestamps beyond the run's own, stable orders) and the HTML needs no
network: styles and charts are inline, every data value is escaped.

Examples
--------
>>> svg = bar_chart(["A", "B"], [0.5, 0.25], fmt=lambda v: f"{v:.0%}", refs=[(0.37, "benchmark")], label="x")
>>> svg.startswith("<svg") and "50%" in svg and "benchmark" in svg
True
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa

from tierwise.jobs.workspace import write_json

e = html.escape

STYLE = ("body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#222;padding:0 1em}"
         "table{border-collapse:collapse;width:100%;margin:.5em 0;font-size:.92em}"
         "td,th{border:1px solid #ddd;padding:3px 7px;text-align:left;vertical-align:top}"
         "td.n,th.n{text-align:right}.muted{color:#666;font-size:.9em}h2{margin-top:1.6em;border-bottom:1px solid #ccc}"
         ".ok{color:#2e7d32}.warn{color:#b26a00;font-weight:600}.alert{color:#c0392b;font-weight:700}"
         ".below{background:#fdecea}.above{background:#eaf4ea}.box{padding:.6em .9em;border-radius:4px;margin:.5em 0}"
         ".box.alert{background:#fdecea;border:1px solid #c0392b}.box.warn{background:#fff4e0;border:1px solid #b26a00}"
         ".box.ok{background:#eaf4ea;border:1px solid #2e7d32}svg text{font-family:system-ui,sans-serif}")


# ---------------------------------------------------------------------- formatting


def pct(x: Any, digits: int = 1) -> str:
    return "—" if x is None else f"{x:.{digits}%}"


def num(x: Any, digits: int = 0) -> str:
    return "—" if x is None else f"{x:,.{digits}f}"


def _cell(value: Any, numeric: bool) -> str:
    text = e(str(value))
    return f"<td class=n>{text}</td>" if numeric else f"<td>{text}</td>"


def html_table(header: list[str], rows: list[list[Any]], *, numeric: set[int] | None = None,
               row_class: list[str] | None = None) -> str:
    numeric = numeric or set()
    head = "".join(f"<th class=n>{e(h)}</th>" if i in numeric else f"<th>{e(h)}</th>" for i, h in enumerate(header))
    body = []
    for k, row in enumerate(rows):
        cls = f" class='{e(row_class[k])}'" if row_class and row_class[k] else ""
        body.append(f"<tr{cls}>" + "".join(_cell(c, i in numeric) for i, c in enumerate(row)) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def bar_chart(labels: list[str], values: list[float | None], *, fmt: Callable[[float], str], label: str,
              refs: list[tuple[float, str]] | None = None, intervals: list[tuple[Any, Any]] | None = None,
              colors: list[str] | None = None, top: float | None = None) -> str:
    """Horizontal bars (optionally with interval whiskers) and dashed reference lines."""
    label_w, plot_w, row_h = 230, 470, 22
    refs = refs or []
    height = row_h * len(labels) + 24
    vals = [v or 0.0 for v in values]
    highs = [hi for _, hi in intervals or [] if hi is not None]
    top = top or (max([*vals, *highs, *(r for r, _ in refs), 1e-9]) * 1.08)
    parts = [f'<svg viewBox="0 0 {label_w + plot_w + 90} {height}" width="{label_w + plot_w + 90}" '
             f'height="{height}" role="img" aria-label="{e(label)}">']

    def x(v: float) -> float:
        return label_w + plot_w * max(0.0, min(v, top)) / top

    for i, (name, v) in enumerate(zip(labels, values, strict=True)):
        y = row_h * i + 4
        color = (colors[i] if colors else None) or "#2b6cb0"
        parts.append(f'<text x="{label_w - 6}" y="{y + 13}" font-size="11" text-anchor="end">{e(_short(name))}</text>')
        if v is None:
            parts.append(f'<text x="{label_w + 4}" y="{y + 13}" font-size="11" fill="#888">no data</text>')
            continue
        parts.append(f'<rect x="{label_w}" y="{y}" width="{x(v) - label_w:.1f}" height="{row_h - 7}" fill="{color}" '
                     'fill-opacity="0.75"/>')
        if intervals and intervals[i][0] is not None and intervals[i][1] is not None:
            lo, hi = intervals[i]
            mid = y + (row_h - 7) / 2
            parts.append(f'<line x1="{x(lo):.1f}" y1="{mid:.1f}" x2="{x(hi):.1f}" y2="{mid:.1f}" stroke="#222" '
                         'stroke-width="1.5"/>')
        parts.append(f'<text x="{x(max(v, (intervals[i][1] or 0) if intervals else 0)) + 5:.1f}" y="{y + 13}" '
                     f'font-size="11">{e(fmt(v))}</text>')
    for k, (ref, name) in enumerate(refs):
        xr = x(ref)
        parts.append(f'<line x1="{xr:.1f}" y1="0" x2="{xr:.1f}" y2="{height - 14}" stroke="#c0392b" '
                     'stroke-dasharray="4 3"/>')
        parts.append(f'<text x="{xr:.1f}" y="{height - 3 - 0 * k}" font-size="10" text-anchor="middle" '
                     f'fill="#c0392b">{e(name)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def heat_table(rows: list[str], cols: list[str], matrix: list[list[int]], *, corner: str) -> str:
    """A count matrix with cells shaded by their share of the largest cell."""
    peak = max([v for r in matrix for v in r] + [1])
    head = f"<th>{e(corner)}</th>" + "".join(f"<th class=n>{e(c)}</th>" for c in cols)
    body = []
    for name, r in zip(rows, matrix, strict=True):
        cells = "".join(f"<td class=n style='background:rgba(43,108,176,{0.08 + 0.6 * v / peak:.2f})'>{v:,}</td>"
                        for v in r)
        body.append(f"<tr><th>{e(name)}</th>{cells}</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def _short(text: str, limit: int = 36) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def page(title: str, body: list[str]) -> str:
    """A page with an anchor on every section heading and a contents line under the title."""
    text = "".join(body)
    heads = []

    def anchor(m: re.Match[str]) -> str:
        slug = re.sub(r"[^a-z0-9]+", "-", html.unescape(m.group(1)).lower()).strip("-")
        heads.append((slug, m.group(1)))
        return f"<h2 id={slug}>{m.group(1)}</h2>"

    text = re.sub(r"<h2>(.*?)</h2>", anchor, text)
    nav = "<p class=muted>" + " · ".join(f"<a href='#{s}'>{t}</a>" for s, t in heads) + "</p>"
    text = text.replace("</h1>", "</h1>" + nav, 1)
    return ("<!DOCTYPE html><html lang=en><head><meta charset=utf-8>"
            f"<title>{e(title)}</title><style>{STYLE}</style></head><body>{text}</body></html>\n")


def alerts_html(alerts: list[dict[str, Any]]) -> str:
    if not alerts:
        return "<div class='box ok'>No alerts: every guardrail, target and drift threshold holds.</div>"
    items = "".join(f"<li class={e(a['severity'])}>[{e(a['section'])}] {e(a['message'])}</li>" for a in alerts)
    worst = "alert" if any(a["severity"] == "alert" for a in alerts) else "warn"
    return f"<div class='box {worst}'><b>{len(alerts)} alert(s)</b><ul>{items}</ul></div>"


# ---------------------------------------------------------------------- report files


PERF_COLUMNS = ["group", "accounts", "share", "open_deals", "open_value", "decided", "won", "win_rate", "ci_low",
                "ci_high", "judged", "won_value", "acv", "median_cycle_days"]


def write_report_files(out: Path, payload: dict[str, Any], changes: pa.Table | None) -> dict[str, str]:
    """report.json and one CSV per table."""
    from tierwise.jobs.governance import write_rows_csv, write_table_csv

    files = {"json": str(write_json(out / "report.json", payload))}
    perf = payload["performance"]
    files["segments"] = str(write_rows_csv(out / "segments.csv", perf["by_segment"], PERF_COLUMNS))
    files["tiers"] = str(write_rows_csv(out / "tiers.csv", perf["by_tier"], PERF_COLUMNS))
    if payload["stage_conversion"]:
        files["stage_conversion"] = str(write_rows_csv(out / "stage_conversion.csv", payload["stage_conversion"]["rows"]))
    files["funnel"] = str(write_rows_csv(out / "funnel.csv", payload["funnel"]["rows"], [
        "group_kind", "group", "step", "from", "to", "source", "n_from", "n_to", "rate", "ci_low", "ci_high",
        "benchmark", "deviation", "flag", "why"]))
    files["guardrails"] = str(write_rows_csv(out / "guardrails.csv", payload["guardrails"]["checks"],
                                             ["check", "subject", "value", "threshold", "status", "message"]))
    files["rep_capacity"] = str(write_rows_csv(out / "rep_capacity.csv", payload["guardrails"]["coverage"]["reps"]))
    files["icp"] = str(write_rows_csv(out / "icp.csv", payload["icp"]["checks"],
                                      ["check", "value", "target", "status", "message"]))
    files["alerts"] = str(write_rows_csv(out / "alerts.csv", payload["alerts"],
                                         ["severity", "section", "subject", "message"]))
    drift = payload["drift"]
    stale = ["psi.csv", "migration.csv", "changes.csv"]
    if drift is not None:
        rows = [{"field": f["field"], "kind": f["kind"], "psi": f["psi"], "status": f["status"], **b}
                for f in drift["fields"] for b in f["bins"]]
        files["psi"] = str(write_rows_csv(out / "psi.csv", rows, ["field", "kind", "psi", "status", "bin", "before",
                                                                 "after", "contribution"]))
        m = drift["migration"]
        mrows = [{"from_tier": f, **{f"to_{t}": m["matrix"][i][j] for j, t in enumerate(m["to"])}}
                 for i, f in enumerate(m["from"])]
        files["migration"] = str(write_rows_csv(out / "migration.csv", mrows))
        if changes is not None:
            files["changes"] = str(write_table_csv(out / "changes.csv", changes))
        stale = []
    for name in stale:  # a file from an earlier report with drift would mislead
        (out / name).unlink(missing_ok=True)
    return files


def report_html(p: dict[str, Any]) -> str:
    """The whole report as one self-contained page."""
    perf = p["performance"]
    run = p["run"]
    prev = p["previous_run"]
    body = [f"<h1>Segment performance — {e(p['spec'])}</h1>",
            f"<p class=muted>Run {e(run['run_id'])} (as of {e(run['as_of'])}, {run['accounts']:,} accounts)"
            + (f", compared with run {e(prev['run_id'])} (as of {e(prev['as_of'])})" if prev else
               ", no earlier run to compare with")
            + f". History: {e(p['history'])}.</p>", alerts_html(p["alerts"])]
    for note in p["notes"]:
        body.append(f"<p class=muted>Note: {e(note)}</p>")
    sql_won = next((b for b in p["funnel"]["rows"] if b["to"] == "closed_won" and b["group_kind"] == "all"), None)
    refs = [(sql_won["benchmark"], f"benchmark {sql_won['benchmark']:.0%}")] if sql_won else []
    for key, title in (("by_segment", "By segment"), ("by_tier", "By tier")):
        rows = perf[key]
        body.append(f"<h2>{title}</h2>")
        body.append(html_table(
            ["group", "accounts", "share", "open deals", "open pipeline", "decided", "won", "win rate", "95% interval",
             "ACV", "median cycle (days)"],
            [[r["group"], f"{r['accounts']:,}", pct(r["share"]), f"{r['open_deals']:,}", num(r["open_value"]),
              f"{r['decided']:,}", f"{r['won']:,}", pct(r["win_rate"]),
              f"{pct(r['ci_low'])}–{pct(r['ci_high'])}" if r["ci_low"] is not None else "—", num(r["acv"]),
              num(r["median_cycle_days"])] for r in rows],
            numeric={1, 2, 3, 4, 5, 6, 7, 9, 10}))
        if any(r["decided"] for r in rows):
            body.append(bar_chart([r["group"] for r in rows], [r["win_rate"] for r in rows],
                                  intervals=[(r["ci_low"], r["ci_high"]) for r in rows], refs=refs,
                                  fmt=lambda v: f"{v:.1%}", label=f"win rate {title.lower()}", top=1.0))
            body.append("<p class=muted>Bars: win rate (won / decided deals); whiskers: Wilson 95% interval; dashed: "
                        "the seed's SQL→Closed Won benchmark.</p>")
    t = p["tier_check"]
    body.append(f"<h2>Do tiers predict outcomes?</h2><div class='box {_box(t['status'])}'>{e(t['message'])}</div>")
    body.append(_funnel_html(p))
    body.append(_guardrails_html(p["guardrails"]))
    body.append(_icp_html(p["icp"]))
    body.append(_drift_html(p["drift"]))
    body.append("<h2>How to read this</h2><ul>" + "".join(f"<li>{e(x)}</li>" for x in HOW_TO_READ) + "</ul>")
    return page(f"tierwise report — {p['spec']}", body)


HOW_TO_READ = [
    "Win rate = won / decided deals (closed with a known result); the 95% interval is Wilson's. Small groups have "
    "wide intervals: a group with fewer decided deals than governance.min_deals is not judged.",
    "ACV is the mean amount of won deals; the cycle is created to closed, in days, for won deals (median).",
    "A funnel step is flagged below (or above) its benchmark when it is further than governance.funnel.deviation "
    "from it (relative) and the benchmark lies outside the step's 95% interval.",
    "Stage conversion counts the deals that reached each open stage (an open deal reached its stage and every "
    "earlier one, a won deal all of them; a lost deal's last stage is not in the export, so it counts at the first).",
    "PSI compares the earlier and later run's shares per bin: below 0.1 stable, 0.1-0.25 moderate, 0.25+ a "
    "significant shift (the thresholds are governance.drift).",
    "Formulas and thresholds: docs/reports.md.",
]


def _box(status: str) -> str:
    return {"ok": "ok", "met": "ok", "alert": "alert", "warn": "warn", "missed": "warn"}.get(status, "warn")


def _funnel_html(p: dict[str, Any]) -> str:
    f = p["funnel"]
    out = ["<h2>Funnel against the B2B benchmarks</h2>"]
    rows = [r for r in f["rows"]]
    out.append(html_table(
        ["group", "step", "measured on", "from", "to", "rate", "95% interval", "benchmark", "vs benchmark", "verdict"],
        [[("all" if r["group_kind"] == "all" else f"{r['group_kind']}: {r['group']}"), r["step"], r["source"] or "—",
          num(r["n_from"]), num(r["n_to"]), pct(r["rate"]),
          f"{pct(r['ci_low'])}–{pct(r['ci_high'])}" if r["ci_low"] is not None else "—", pct(r["benchmark"], 0),
          "—" if r["deviation"] is None else f"{r['deviation']:+.0%}", r["flag"] + (f" ({r['why']})" if r["why"] else "")]
         for r in rows], numeric={3, 4, 5, 7, 8},
        row_class=["below" if r["flag"] == "below" else "above" if r["flag"] == "above" else "" for r in rows]))
    if f["interventions"]:
        out.append("<h3>Where to intervene</h3><ol>" + "".join(f"<li>{e(i['message'])}</li>"
                                                               for i in f["interventions"][:15]) + "</ol>")
    else:
        out.append("<p>No step is significantly below its benchmark.</p>")
    sc = p["stage_conversion"]
    if sc:
        overall = [r for r in sc["rows"] if r["group_kind"] == "all"]
        out.append(f"<h3>Opportunity stages ({e(' → '.join(sc['stages']))}; order from the "
                   f"{'spec' if sc['order_source'] == 'spec' else 'data (mean age of open deals)'})</h3>")
        out.append(html_table(["from", "to", "reached from", "reached to", "conversion"],
                              [[r["from_stage"], r["to_stage"], f"{r['reached_from']:,}", f"{r['reached_to']:,}",
                                pct(r["rate"])] for r in overall], numeric={2, 3, 4}))
        groups = [r for r in sc["rows"] if r["group_kind"] == "segment"]
        if groups:
            steps = [f"{r['from_stage']}→{r['to_stage']}" for r in overall]
            by: dict[str, dict[str, Any]] = {}
            for r in groups:
                by.setdefault(r["group"], {})[f"{r['from_stage']}→{r['to_stage']}"] = r["rate"]
            out.append(html_table(["segment", *steps], [[g, *[pct(v.get(s)) for s in steps]] for g, v in by.items()],
                                  numeric=set(range(1, len(steps) + 1))))
    return "".join(out)


def _guardrails_html(g: dict[str, Any]) -> str:
    out = ["<h2>Guardrails and the actionability test</h2>",
           f"<div class='box {'ok' if g['actionable'] else 'warn'}'>{e(g['verdict'])}</div>"]
    out.append(html_table(["check", "subject", "status", "message"],
                          [[c["check"], c["subject"], c["status"], c["message"]] for c in g["checks"]],
                          row_class=["below" if c["status"] == "warn" else "" for c in g["checks"]]))
    shares = g["segment_shares"]
    thresholds = [c for c in g["checks"] if c["check"] == "segment share"]
    lo_hi = str(thresholds[0]["threshold"]).split("-") if thresholds else ["0.15", "0.6"]
    out.append(bar_chart([s["segment"] for s in shares], [s["share"] for s in shares], fmt=lambda v: f"{v:.1%}",
                         refs=[(float(lo_hi[0]), f"{float(lo_hi[0]):.0%}"), (float(lo_hi[1]), f"{float(lo_hi[1]):.0%}")],
                         colors=["#b26a00" if s["status"] == "warn" else "#2b6cb0" for s in shares],
                         label="share of accounts by segment", top=1.0))
    cov = g["coverage"]
    out.append("<h3>Coverage model</h3>")
    out.append(html_table(["tier", "accounts", "model", "accounts per rep", "reps needed", "owners", "unowned",
                           "reps over the model"],
                          [[t["tier"], f"{t['accounts']:,}", t["model"],
                            "—" if not t.get("accounts_per_rep") else "-".join(str(x) for x in dict.fromkeys(t["accounts_per_rep"])),
                            "-".join(str(x) for x in dict.fromkeys(t["reps_needed"])), f"{t['owners']:,}",
                            f"{t['unowned']:,}", str(t.get("reps_over", "—"))] for t in cov["tiers"]],
                          numeric={1, 5, 6, 7}))
    out.append(f"<p>Reps needed: {cov['reps_needed'][0]}–{cov['reps_needed'][1]}; available: "
               f"{e(str(cov['reps_available']))} ({e(cov['reps_source'])}); over the model: {cov['overloaded']}.</p>")
    return "".join(out)


def _icp_html(icp: dict[str, Any]) -> str:
    out = ["<h2>ICP coverage</h2>",
           f"<p>ICP accounts ({e(icp['definition'])}): {icp['icp_accounts']:,} of {icp['accounts']:,} "
           f"({pct(icp['icp_account_share'])}).</p>"]
    for c in icp["checks"]:
        out.append(f"<div class='box {_box(c['status'])}'>{e(c['message'])}</div>")
    keys = [k for k in ("open", "won") if k in icp]
    if keys:
        share = "count_share" if icp["measure"] == "count" else "value_share"
        out.append(bar_chart([("open pipeline" if k == "open" else "closed-won") for k in keys],
                             [icp[k][share] for k in keys], fmt=lambda v: f"{v:.1%}", top=1.0,
                             refs=[(icp[k]["target"], f"target {icp[k]['target']:.0%}") for k in keys],
                             label="ICP share against targets"))
    return "".join(out)


def _drift_html(d: dict[str, Any] | None) -> str:
    if d is None:
        return "<h2>Drift</h2><p>No earlier run to compare with: drift starts with the next recorded run.</p>"
    th = d["thresholds"]
    out = ["<h2>Drift since the previous run</h2>"]
    out.append(bar_chart([f["field"] for f in d["fields"]], [f["psi"] for f in d["fields"]], fmt=lambda v: f"{v:.3f}",
                         refs=[(th["psi_warn"], f"warn {th['psi_warn']:g}"), (th["psi_alert"], f"alert {th['psi_alert']:g}")],
                         colors=["#c0392b" if f["status"] == "alert" else "#b26a00" if f["status"] == "warn"
                                 else "#2b6cb0" for f in d["fields"]], label="population stability index"))
    m = d["migration"]
    out.append(f"<h3>Tier migration</h3><p>{m['changed']:,} of {m['in_both']:,} accounts in both runs changed tier "
               f"({pct(m['changed_share'])}): {m['moved_up']:,} up, {m['moved_down']:,} down.</p>")
    out.append(heat_table(m["from"], m["to"], m["matrix"], corner="before \\ now"))
    ch = d.get("changes") or {}
    if ch:
        out.append("<p>Change events: " + ", ".join(f"{e(k)} {v:,}" for k, v in sorted(ch.items())) +
                   " (changes.csv).</p>")
    return "".join(out)


# ---------------------------------------------------------------------- pipeline files


def write_pipeline_files(out: Path, payload: dict[str, Any], engine: Any, zombies: Any) -> dict[str, str]:
    from tierwise.jobs.governance import write_rows_csv

    files = {"json": str(write_json(out / "pipeline.json", payload))}
    files["velocity"] = str(write_rows_csv(out / "velocity.csv", payload["velocity"]))
    files["time_in_stage"] = str(write_rows_csv(out / "time_in_stage.csv", payload["time_in_stage"]))
    files["stages"] = str(write_rows_csv(out / "stages.csv", payload["by_stage"]))
    from tierwise.reports.pipeline import zombie_order

    files["zombies"] = str(engine.write(zombie_order(zombies), out / "zombies.csv", "csv"))
    return files


def pipeline_html(p: dict[str, Any]) -> str:
    z = p["zombies"]
    t = p["threshold"]
    body = [f"<h1>Pipeline governance — {e(p['spec'])}</h1>",
            f"<p class=muted>As of {e(p['as_of'])}: {p['open_deals']:,} open deals worth {num(p['open_value'])}; "
            f"run {e(p['run']['run_id'])}.</p>"]
    for note in p["notes"]:
        body.append(f"<p class=muted>Note: {e(note)}</p>")
    body.append(f"<h2>Velocity (threshold {p['velocity_days']} days)</h2>")
    body.append(f"<p>{t['open_past_threshold']:,} open deals ({pct(t['open_share_past_threshold'])}, "
                f"{num(t['open_value_past_threshold'])}) are older than {p['velocity_days']} days. Your decided deals: "
                f"closed within {p['velocity_days']} days won {pct(t['closed_within']['win_rate'])} "
                f"({t['closed_within']['decided']:,}), later {pct(t['closed_after']['win_rate'])} "
                f"({t['closed_after']['decided']:,}); seed 003: 47% vs 20% or lower.</p>")
    v = p["velocity"]
    body.append(bar_chart([r["bucket"] + " days" for r in v], [r["open_deals"] for r in v], fmt=lambda x: f"{x:,.0f}",
                          colors=["#b26a00" if r["past_threshold"] else "#2b6cb0" for r in v],
                          label="open deals by age"))
    body.append(html_table(["age (days)", "open deals", "open value", "share", "closed at this age", "their win rate",
                            "win rate if still open at this age"],
                           [[r["bucket"], f"{r['open_deals']:,}", num(r["open_value"]), pct(r["share"]),
                             f"{r['closed_in_bucket']:,}", pct(r["closed_win_rate"]), pct(r["win_rate_if_still_open"])]
                            for r in v], numeric={1, 2, 3, 4, 5, 6}))
    body.append("<h2>Time in stage</h2>")
    s = p["time_in_stage"]
    body.append(html_table(["days in stage", "open deals", "open value", "share", "expected win rate"],
                           [[r["bucket"], f"{r['open_deals']:,}", num(r["open_value"]), pct(r["share"]),
                             pct(r["expected_win_rate"])] for r in s], numeric={1, 2, 3, 4}))
    stages = p["by_stage"]
    if stages:
        cols = [k for k in stages[0] if k.startswith("in_stage_")]
        body.append(html_table(["stage", "open deals", "open value", "mean age", "mean days in stage",
                                *[c.removeprefix("in_stage_") + " days" for c in cols]],
                               [[r["stage"], f"{r['open_deals']:,}", num(r["open_value"]), num(r["mean_age_days"], 1),
                                 num(r["mean_days_in_stage"], 1), *[f"{r[c]:,}" for c in cols]] for r in stages],
                               numeric=set(range(1, 5 + len(cols)))))
    body.append("<h2>Zombie pipeline</h2>")
    body.append(f"<div class='box {'warn' if z['deals'] else 'ok'}'>{z['deals']:,} zombie deals worth {num(z['value'])}: "
                f"requalify {z['requalify']['deals']:,}, close {z['close']['deals']:,}"
                + (f"; {z['excluded_known_stall']:,} stalled for a known reason left out" if z["excluded_known_stall"]
                   else "") + f". Rule: {e(z['rule'])}.</div>")
    if z["examples"]:
        cols = [c for c in ("opportunity_id", "account_id", "owner_id", "stage", "amount", "days_without_stage_change",
                            "tier", "segment", "action") if c in z["examples"][0]]
        body.append(html_table(cols, [[("—" if r[c] is None else f"{r[c]:,.0f}" if c == "amount" else r[c])
                                        for c in cols] for r in z["examples"]]))
        body.append("<p class=muted>The 20 largest; every zombie is in zombies.csv.</p>")
    if z["top_owners"]:
        body.append(html_table(["owner", "zombie deals", "value"],
                               [[r["owner_id"] or "(none)", f"{r['deals']:,}", num(r["value"])] for r in z["top_owners"]],
                               numeric={1, 2}))
    return page(f"tierwise pipeline — {p['spec']}", body)


__all__ = ["bar_chart", "heat_table", "html_table", "pipeline_html", "report_html", "write_pipeline_files",
           "write_report_files"]
