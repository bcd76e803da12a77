"""ICP discovery report: Markdown, self-contained HTML (inline SVG) and the attribute CSV.

Output is deterministic (no timestamps, stable orders): rerunning on the same
data gives byte-identical files. Every data value is HTML-escaped.

Examples
--------
>>> import numpy as np, pandas as pd
>>> from tierwise.models.discovery import ICPDiscovery
>>> rng = np.random.default_rng(0)
>>> frame = pd.DataFrame({"won": rng.random(400) < 0.3, "region": rng.choice(["north", "south"], 400)})
>>> icp = ICPDiscovery().fit(frame)
>>> "**Verdict: No significant attribute" in render_markdown(icp, title="ICP", source="demo.csv")
True
>>> render_html(icp, title="ICP", source="demo.csv").startswith("<!DOCTYPE html>")
True
"""

from __future__ import annotations

import html
import math
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from tierwise.engine.base import write_text_atomic
from tierwise.models.discovery import ICPDiscovery

#: Leading columns of the attribute CSV, in this order; the other columns follow.
CSV_COLUMNS = ["attribute", "value", "support", "win_rate", "ci_low", "ci_high", "lift", "significant"]
#: Most rows in the best-customer table and chart.
BEST_CUSTOMER_ROWS = 15
#: Most values drawn per attribute in the lift chart.
CHART_VALUES = 12

HOW_TO_READ = [
    "**Win rate** is won / closed deals for records with the value; the **95% interval** (Wilson) is the range "
    "the true rate plausibly lies in — small groups have wide intervals.",
    "**Lift** is the value's win rate divided by the overall win rate: 1.5 means 50% more likely to win.",
    "**Information value (IV)** sums how differently an attribute's values split wins and losses "
    "(< 0.02 useless, 0.02–0.1 weak, 0.1–0.3 medium, > 0.3 strong; > 0.5 is suspicious).",
    "**Significant** means the value's win rate differs from all other records (Fisher exact or chi-square test) "
    "after the Holm correction over every value tested, and it has at least the minimum support. Without the "
    "correction, testing dozens of values finds 'winners' by chance.",
    "**Micro-segments** come from a shallow decision tree grown on half the records; their win rate, "
    "interval, lift and expected value are measured on the other half, which the tree never saw, and "
    "'holds up' means the segment wins significantly more there (Holm-corrected). 'records' counts both halves.",
    "**Leakage:** an attribute filled in during or after the sale (stage durations, deal-size category, "
    "notes by the rep) predicts the outcome without being a trait of good customers. Keep only attributes "
    "known before the deal; see docs/icp.md.",
    "These are associations in past deals, not causes: they also reflect where the team chose to sell.",
]


# ---------------------------------------------------------------------- formatting
def _pct(x: Any) -> str:
    return "—" if x is None or _isnan(x) else f"{x:.1%}"


def _num(x: Any, digits: int = 2) -> str:
    if x is None or _isnan(x):
        return "—"
    return f"{x:,.{digits}f}"


def _pval(x: Any) -> str:
    if x is None or _isnan(x):
        return "—"
    return "< 0.0001" if x < 1e-4 else f"{x:.4f}"


def _isnan(x: Any) -> bool:
    return isinstance(x, float) and math.isnan(x)


def _md(text: Any) -> str:
    """Text safe inside a Markdown table cell."""
    return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _verdict(d: ICPDiscovery) -> str:
    if not d.has_signal_:
        return (f"No significant attribute: none of the {d.n_comparisons_:,} attribute values tested differs "
                "from the rest after correction for multiple comparisons. The data does not support a "
                "data-derived ICP; keep hypothesis-driven fit criteria and collect more or better attributes.")
    names = ", ".join(d.validated_["attribute"].astype(str))
    return f"{len(d.validated_)} validated attribute(s) separate won from lost deals (a lift below 1 marks a value to avoid): {names}."


def _fit_yaml(d: ICPDiscovery) -> str:
    return yaml.safe_dump({"fit": d.suggest_fit()}, sort_keys=False, allow_unicode=True)


def _segment_rows(d: ICPDiscovery) -> list[list[str]]:
    return [[s.rule, f"{s.support:,}", _pct(s.win_rate), f"{_pct(s.ci_low)}–{_pct(s.ci_high)}", _num(s.lift),
             _num(s.mean_acv, 0), _num(s.expected_value, 2 if s.mean_acv is None else 0),
             "yes" if s.significant else "no"] for s in d.segments_]


SEGMENT_HEADER = ["rule", "records", "win rate", "95% interval", "lift", "mean ACV", "expected value", "holds up"]
VALIDATED_HEADER = ["#", "attribute", "strongest value", "win rate", "95% interval", "lift", "records", "IV",
                    "adjusted p"]
SUMMARY_HEADER = ["attribute", "kind", "IV", "values", "significant values", "strongest value", "its lift"]
BEST_HEADER = ["attribute", "value", "share of best", "share of all won", "over-index", "adjusted p"]


def _validated_rows(d: ICPDiscovery) -> list[list[str]]:
    return [[str(r["rank"]), str(r["attribute"]), str(r["best_value"]), _pct(r["win_rate"]),
             f"{_pct(r['ci_low'])}–{_pct(r['ci_high'])}", _num(r["lift"]), f"{int(r['support']):,}",
             _num(r["information_value"], 3), _pval(r["p_adjusted"])] for _, r in d.validated_.iterrows()]


def _summary_rows(d: ICPDiscovery) -> list[list[str]]:
    return [[str(r["attribute"]), str(r["kind"]), _num(r["information_value"], 3), str(r["values"]),
             str(r["significant_values"]), "—" if r["best_value"] is None else str(r["best_value"]),
             _num(r["best_lift"])] for _, r in d.attribute_summary_.iterrows()]


def _best_table(d: ICPDiscovery) -> pd.DataFrame:
    bc = d.best_customers_
    if bc.empty:
        return bc
    sig = bc[bc["significant"] & (bc["over_index"] > 1)]
    return sig.sort_values(["over_index", "attribute", "value"], ascending=[False, True, True],
                           kind="stable").head(BEST_CUSTOMER_ROWS)


def _best_rows(d: ICPDiscovery) -> list[list[str]]:
    return [[str(r["attribute"]), str(r["value"]), _pct(r["share_top"]), _pct(r["share_all"]),
             _num(r["over_index"]), _pval(r["p_adjusted"])] for _, r in _best_table(d).iterrows()]


def _best_intro(d: ICPDiscovery) -> str:
    if d.best_customers_basis_ is None or d.best_customers_.empty:
        reason = next((n for n in d.notes_ if n.startswith("Best customers")), "Best customers were not analysed.")
        return reason
    return (f"The top {d.top_share:.0%} of won deals by {d.best_customers_basis_} compared with all won deals: "
            "values significantly over-represented among the best.")


# ---------------------------------------------------------------------- Markdown
def render_markdown(discovery: ICPDiscovery, *, title: str, source: str) -> str:
    """The ICP discovery report as Markdown.

    Parameters
    ----------
    discovery : ICPDiscovery
        A fitted discovery.
    title : str
        Report title.
    source : str
        Where the outcome data came from (shown under the title).

    Returns
    -------
    str

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> frame = pd.DataFrame({"won": rng.random(300) < 0.4, "plan": rng.choice(["a", "b"], 300)})
    >>> text = render_markdown(ICPDiscovery().fit(frame), title="ICP", source="x")
    >>> text.splitlines()[0], text.count("## ")
    ('# ICP', 8)
    """
    d = discovery
    o = d.overall_
    out = [f"# {title}", "", f"Source: {source}", "", "## Summary", ""]
    out.append(f"- Closed deals: {o['records']:,} ({o['won']:,} won)")
    out.append(f"- Win rate: {_pct(o['win_rate'])} (95% interval {_pct(o['ci_low'])}–{_pct(o['ci_high'])})")
    if o["mean_acv"] is not None:
        out.append(f"- Mean ACV of won deals: {_num(o['mean_acv'], 0)}")
    if o["median_cycle_days"] is not None:
        out.append(f"- Median sales cycle of won deals: {_num(o['median_cycle_days'], 0)} days")
    if o["mean_ltv"] is not None:
        out.append(f"- Mean lifetime value of won customers: {_num(o['mean_ltv'], 0)}")
    out += ["", f"**Verdict: {_verdict(d)}**", ""]
    if d.notes_:
        out += ["### Notes", ""] + [f"- {n}" for n in d.notes_] + [""]
    out += ["## Validated attributes", ""]
    if d.validated_.empty:
        out += ["None. No attribute is validated: do not build fit criteria from this data.", ""]
    else:
        out += _md_table(VALIDATED_HEADER, _validated_rows(d))
        out += [f"- **{_md(r['attribute'])}** — {_md(r['evidence'])}" for _, r in d.validated_.iterrows()] + [""]
    out += ["## Every attribute", ""] + _md_table(SUMMARY_HEADER, _summary_rows(d))
    out += ["## Best customers", "", _best_intro(d), ""]
    if rows := _best_rows(d):
        out += _md_table(BEST_HEADER, rows)
    out += ["## Micro-segments", ""]
    out += _md_table(SEGMENT_HEADER, _segment_rows(d)) if d.segments_ else ["No micro-segment found.", ""]
    out += ["## Suggested fit criteria", "", "```yaml", _fit_yaml(d).rstrip("\n"), "```", ""]
    out += ["## How to read this", ""] + [f"- {line}" for line in HOW_TO_READ] + [""]
    return "\n".join(out)


def _md_table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_md(c) for c in row) + " |" for row in rows]
    return lines + [""]


# ---------------------------------------------------------------------- HTML
def render_html(discovery: ICPDiscovery, *, title: str, source: str) -> str:
    """The ICP discovery report as one self-contained HTML page (inline CSS and SVG, no external assets).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> frame = pd.DataFrame({"won": rng.random(300) < 0.4, "plan": rng.choice(["a", "b"], 300)})
    >>> page = render_html(ICPDiscovery().fit(frame), title="<A & B>", source="s")
    >>> "<title>&lt;A &amp; B&gt;</title>" in page, "http" in page
    (True, False)
    """
    d = discovery
    e = html.escape
    o = d.overall_
    body = [f"<h1>{e(title)}</h1>", f"<p class=muted>Source: {e(source)}</p>", "<h2>Summary</h2><ul>"]
    body.append(f"<li>Closed deals: {o['records']:,} ({o['won']:,} won)</li>")
    body.append(f"<li>Win rate: {_pct(o['win_rate'])} (95% interval {_pct(o['ci_low'])}–{_pct(o['ci_high'])})</li>")
    if o["mean_acv"] is not None:
        body.append(f"<li>Mean ACV of won deals: {_num(o['mean_acv'], 0)}</li>")
    if o["median_cycle_days"] is not None:
        body.append(f"<li>Median sales cycle of won deals: {_num(o['median_cycle_days'], 0)} days</li>")
    if o["mean_ltv"] is not None:
        body.append(f"<li>Mean lifetime value of won customers: {_num(o['mean_ltv'], 0)}</li>")
    body.append("</ul>")
    cls = "verdict signal" if d.has_signal_ else "verdict none"
    body.append(f"<p class='{cls}'><b>Verdict:</b> {e(_verdict(d))}</p>")
    if d.notes_:
        body.append("<ul class=notes>" + "".join(f"<li>{e(n)}</li>" for n in d.notes_) + "</ul>")
    body.append("<h2>Validated attributes</h2>")
    if d.validated_.empty:
        body.append("<p><b>None.</b> No attribute is validated: do not build fit criteria from this data.</p>")
    else:
        body.append(_html_table(VALIDATED_HEADER, _validated_rows(d)))
        body.append("<ul>" + "".join(f"<li><b>{e(str(r['attribute']))}</b> — {e(str(r['evidence']))}</li>"
                                     for _, r in d.validated_.iterrows()) + "</ul>")
        for attribute in d.validated_["attribute"]:
            body.append(f"<h3>{e(str(attribute))}</h3>")
            body.append(_lift_svg(d, attribute))
        body.append("<p class=muted>Dot: lift of the value; bar: its 95% interval; the dashed line is lift 1 "
                    "(the overall win rate). Filled dots are significant.</p>")
    body.append("<h2>Every attribute</h2>" + _html_table(SUMMARY_HEADER, _summary_rows(d)))
    body.append(f"<h2>Best customers</h2><p>{e(_best_intro(d))}</p>")
    if rows := _best_rows(d):
        body.append(_html_table(BEST_HEADER, rows))
        body.append(_bar_svg([f"{r[0]}: {r[1]}" for r in rows], _best_table(d)["over_index"].tolist(),
                             reference=1.0, fmt=lambda v: f"{v:.2f}×", label="over-index of the best customers"))
    body.append("<h2>Micro-segments</h2>")
    if d.segments_:
        body.append(_html_table(SEGMENT_HEADER, _segment_rows(d)))
        body.append(_bar_svg([s.rule for s in d.segments_], [s.win_rate for s in d.segments_],
                             reference=o["win_rate"], fmt=lambda v: f"{v:.1%}", label="win rate by micro-segment"))
        body.append("<p class=muted>Bars: win rate of each segment; the dashed line is the overall win rate.</p>")
    else:
        body.append("<p>No micro-segment found.</p>")
    body.append(f"<h2>Suggested fit criteria</h2><pre>{e(_fit_yaml(d))}</pre>")
    body.append("<h2>How to read this</h2><ul>" + "".join(f"<li>{_bold(e(line))}</li>" for line in HOW_TO_READ)
                + "</ul>")
    style = ("body{font-family:system-ui,sans-serif;max-width:1000px;margin:2em auto;color:#222}"
             "table{border-collapse:collapse;width:100%;margin:.5em 0}td,th{border:1px solid #ddd;padding:4px 8px;"
             "vertical-align:top;text-align:left}.muted{color:#666;font-size:.9em}"
             ".verdict{padding:.8em;border-radius:4px;font-size:1.1em}.verdict.none{background:#fdecea;"
             "border:2px solid #c0392b}.verdict.signal{background:#eaf4ea;border:2px solid #2e7d32}"
             "pre{background:#f6f6f6;padding:.8em;overflow:auto}")
    return ("<!DOCTYPE html><html lang=en><head><meta charset=utf-8>"
            f"<title>{e(title)}</title><style>{style}</style></head><body>{''.join(body)}</body></html>\n")


def _bold(escaped: str) -> str:
    """Turn the ``**x**`` pairs of an already escaped line into <b>x</b>."""
    parts = escaped.split("**")
    return "".join(f"<b>{p}</b>" if i % 2 else p for i, p in enumerate(parts))


def _html_table(header: list[str], rows: list[list[str]]) -> str:
    e = html.escape
    head = "".join(f"<th>{e(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _lift_svg(d: ICPDiscovery, attribute: str) -> str:
    """Lift of each value of one attribute with its Wilson interval (as lift), most records first."""
    part = d.attributes_[d.attributes_["attribute"] == attribute]
    part = part.sort_values(["support", "value"], ascending=[False, True], kind="stable").head(CHART_VALUES)
    if d.kinds_.get(attribute) == "numeric":
        part = part.sort_values(["low", "value"], kind="stable", na_position="last")
    overall = d.overall_["win_rate"]
    top = max(2.0, float((part["ci_high"] / overall).max()) * 1.05)
    label_w, plot_w, row_h = 220, 440, 22
    height = row_h * len(part) + 30

    def x(v: float) -> float:
        return label_w + plot_w * min(v, top) / top

    parts = [f'<svg viewBox="0 0 {label_w + plot_w + 80} {height}" width="{label_w + plot_w + 80}" '
             f'height="{height}" role="img" aria-label="{html.escape(f"lift by value of {attribute}")}">']
    parts.append(f'<line x1="{x(1):.1f}" y1="0" x2="{x(1):.1f}" y2="{height - 20}" stroke="#888" '
                 'stroke-dasharray="4 3"/>')
    for i, (_, r) in enumerate(part.iterrows()):
        y = row_h * i + 14
        parts.append(f'<text x="{label_w - 6}" y="{y + 4}" font-size="11" text-anchor="end">'
                     f'{html.escape(_short(str(r["value"])))}</text>')
        parts.append(f'<line x1="{x(r["ci_low"] / overall):.1f}" y1="{y}" x2="{x(r["ci_high"] / overall):.1f}" '
                     f'y2="{y}" stroke="#2b6cb0" stroke-width="3"/>')
        fill = "#2b6cb0" if r["significant"] else "#fff"
        parts.append(f'<circle cx="{x(r["lift"]):.1f}" cy="{y}" r="4" fill="{fill}" stroke="#2b6cb0"/>')
        parts.append(f'<text x="{label_w + plot_w + 6}" y="{y + 4}" font-size="11">{r["lift"]:.2f}×</text>')
    parts.append(f'<text x="{x(1):.1f}" y="{height - 6}" font-size="10" text-anchor="middle">lift 1</text>')
    parts.append("</svg>")
    return "".join(parts)


def _bar_svg(labels: list[str], values: list[float], *, reference: float, fmt: Any, label: str) -> str:
    """Horizontal bars with a dashed reference line."""
    label_w, plot_w, row_h = 360, 360, 22
    height = row_h * len(labels) + 10
    top = max([*values, reference]) * 1.05 or 1.0
    parts = [f'<svg viewBox="0 0 {label_w + plot_w + 70} {height}" width="{label_w + plot_w + 70}" '
             f'height="{height}" role="img" aria-label="{html.escape(label)}">']
    for i, (name, v) in enumerate(zip(labels, values, strict=True)):
        y = row_h * i + 4
        parts.append(f'<text x="{label_w - 6}" y="{y + 13}" font-size="11" text-anchor="end">'
                     f'{html.escape(_short(name, 60))}</text>')
        parts.append(f'<rect x="{label_w}" y="{y}" width="{plot_w * v / top:.1f}" height="{row_h - 6}" '
                     'fill="#2b6cb0" fill-opacity="0.7"/>')
        parts.append(f'<text x="{label_w + plot_w * v / top + 4:.1f}" y="{y + 13}" font-size="11">'
                     f'{html.escape(fmt(v))}</text>')
    xr = label_w + plot_w * reference / top
    parts.append(f'<line x1="{xr:.1f}" y1="0" x2="{xr:.1f}" y2="{height}" stroke="#c0392b" stroke-dasharray="4 3"/>')
    parts.append("</svg>")
    return "".join(parts)


def _short(text: str, limit: int = 34) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ---------------------------------------------------------------------- CSV
def write_attributes_csv(discovery: ICPDiscovery, path: str | Path) -> Path:
    """Write every attribute value's statistics as CSV, atomically.

    The first columns are exactly :data:`CSV_COLUMNS`; the rest of
    ``discovery.attributes_`` follows.

    Examples
    --------
    >>> import tempfile, numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> icp = ICPDiscovery().fit(pd.DataFrame({"won": rng.random(200) < 0.4, "r": rng.choice(["a", "b"], 200)}))
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     out = write_attributes_csv(icp, Path(tmp) / "attributes.csv")
    ...     out.read_text().splitlines()[0].split(",")[:8]
    ['attribute', 'value', 'support', 'win_rate', 'ci_low', 'ci_high', 'lift', 'significant']
    """
    table = discovery.attributes_
    columns = CSV_COLUMNS + [c for c in table.columns if c not in CSV_COLUMNS]
    text = table[columns].to_csv(index=False, lineterminator="\n")
    return write_text_atomic(Path(path), text)
