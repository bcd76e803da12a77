"""Charts as inline SVG, drawn on the server: they render with no script and no network (pages and static report).

>>> svg = histogram_svg([{"low": 0, "high": 10, "accounts": 3}, {"low": 10, "high": 20, "accounts": 1}])
>>> svg.count("<rect class=\\"mark\\""), "role=\\"img\\"" in svg
(2, True)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from html import escape
from typing import Any

from tierwise.web.format import human_number, percent

#: Tier fills, each with white text at a WCAG AA contrast of at least 4.5:1 (A green, B blue, C brown, D grey).
TIER_COLOURS = {"A": "#1b5e20", "B": "#0d47a1", "C": "#7a4a00", "D": "#4a4a4a"}
OTHER_COLOUR = "#37474f"
BAR = "#2f5d8a"
WARN = "#b3261e"  # past a threshold (deals older than the velocity limit); 5.9:1 against white


def tier_colour(tier: str | None) -> str:
    return TIER_COLOURS.get(str(tier), OTHER_COLOUR)


def histogram_svg(bins: list[dict[str, Any]], *, width: int = 640, height: int = 220, label: str = "accounts") -> str:
    """Vertical bars, one per score band, with axis labels and a tooltip per bar."""
    top = max((b["accounts"] for b in bins), default=0) or 1
    left, bottom, pad = 48, 28, 8
    plot_w, plot_h = width - left - pad, height - bottom - pad
    step = plot_w / max(len(bins), 1)
    total = sum(b["accounts"] for b in bins)
    desc = ", ".join(f"{b['low']}-{b['high']}: {human_number(b['accounts'])}" for b in bins)
    out = [f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" role="img" '
           f'aria-label="Score distribution of {human_number(total)} {escape(label)}: {escape(desc)}">']
    for frac in (0, 0.5, 1):
        y = pad + plot_h * (1 - frac)
        out.append(f'<line x1="{left}" x2="{width - pad}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ccc"/>'
                   f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11">'
                   f'{human_number(round(top * frac))}</text>')
    for i, b in enumerate(bins):
        h = plot_h * b["accounts"] / top
        x = left + i * step + 2
        out.append(f'<rect class="mark" x="{x:.1f}" y="{pad + plot_h - h:.1f}" width="{step - 4:.1f}" '
                   f'height="{h:.1f}" fill="{BAR}"><title>score {b["low"]}–{b["high"]}: '
                   f'{human_number(b["accounts"])} {escape(label)}</title></rect>'
                   f'<text x="{x + (step - 4) / 2:.1f}" y="{height - 10}" text-anchor="middle" font-size="11">'
                   f'{b["low"]}</text>')
    out.append("</svg>")
    return "".join(out)


def share_bars_svg(rows: list[dict[str, Any]], key: str, *, guardrails: tuple[float, float] | None = None,
                   colour_by_tier: bool = False, width: int = 640) -> str:
    """Horizontal bars of each row's ``share`` (0..1), optionally with the guardrail lines (15% and 60%)."""
    row_h, left, pad, right = 26, 170, 6, 70
    height = pad * 2 + row_h * len(rows) + (18 if guardrails else 0)
    plot_w = width - left - right
    desc = ", ".join(f"{r[key]}: {percent(r['share'])}" for r in rows)
    out = [f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" role="img" '
           f'aria-label="Share of accounts by {escape(key)}: {escape(desc)}">']
    for i, r in enumerate(rows):
        y = pad + i * row_h
        w = plot_w * min(max(r["share"], 0.0), 1.0)
        fill = tier_colour(r[key]) if colour_by_tier else BAR
        name = str(r[key])
        shown = name if len(name) <= 24 else name[:23] + "…"
        out.append(f'<text x="{left - 6}" y="{y + 17}" text-anchor="end" font-size="12">{escape(shown)}</text>'
                   f'<rect class="mark" x="{left}" y="{y + 4}" width="{w:.1f}" height="{row_h - 8}" fill="{fill}">'
                   f'<title>{escape(name)}: {human_number(r["accounts"])} accounts ({percent(r["share"])})</title></rect>'
                   f'<text x="{left + w + 4:.1f}" y="{y + 17}" font-size="12">{percent(r["share"])}</text>')
    if guardrails:
        bottom = pad + row_h * len(rows)
        for g in guardrails:
            x = left + plot_w * g
            out.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{pad}" y2="{bottom}" stroke="#b00020" '
                       f'stroke-dasharray="4 3"/><text x="{x:.1f}" y="{bottom + 14}" text-anchor="middle" '
                       f'font-size="11" fill="#b00020">{percent(g)}</text>')
    out.append("</svg>")
    return "".join(out)


def score_bars_svg(parts: list[tuple[str, float | None]], *, width: int = 480) -> str:
    """The category scores of one account (0..100 each) as horizontal bars."""
    rows = [{"name": n, "share": (v or 0) / 100, "accounts": v} for n, v in parts]
    row_h, left, right, pad = 26, 160, 50, 6
    height = pad * 2 + row_h * len(rows)
    plot_w = width - left - right
    out = [f'<svg class="chart" viewBox="0 0 {width} {height}" width="{width}" role="img" aria-label="Score breakdown: '
           + escape(", ".join(f"{n} {v if v is not None else 'n/a'}" for n, v in parts)) + '">']
    for i, r in enumerate(rows):
        y = pad + i * row_h
        w = plot_w * min(max(r["share"], 0.0), 1.0)
        value = "n/a" if r["accounts"] is None else f"{r['accounts']:g}"
        out.append(f'<text x="{left - 6}" y="{y + 17}" text-anchor="end" font-size="12">{escape(r["name"])}</text>'
                   f'<rect x="{left}" y="{y + 4}" width="{plot_w}" height="{row_h - 8}" fill="#eee"/>'
                   f'<rect class="mark" x="{left}" y="{y + 4}" width="{w:.1f}" height="{row_h - 8}" fill="{BAR}">'
                   f'<title>{escape(r["name"])}: {value} of 100</title></rect>'
                   f'<text x="{left + plot_w + 4}" y="{y + 17}" font-size="12">{value}</text>')
    out.append("</svg>")
    return "".join(out)


def hbars_svg(rows: list[dict[str, Any]], *, fmt: Callable[[Any], str] = human_number, label: str,
              top: float | None = None, refs: list[tuple[float, str]] | None = None, width: int = 640) -> str:
    """Horizontal bars: each row has ``name`` and ``value`` (None: drawn as "no data"), optionally ``low``/``high``
    (an interval whisker), ``colour`` and ``note`` (tooltip text); ``refs`` are dashed reference lines.

    >>> svg = hbars_svg([{"name": "A", "value": 0.5, "low": 0.4, "high": 0.6}, {"name": "B", "value": None}],
    ...                 fmt=percent, label="win rate", refs=[(0.37, "benchmark 37%")])
    >>> svg.count('class="mark"'), "no data" in svg, "benchmark 37%" in svg
    (1, True, True)
    """
    refs = refs or []
    row_h, left, pad, right = 26, 230, 6, 70
    height = pad * 2 + row_h * len(rows) + (18 if refs else 0)
    plot_w = width - left - right
    peak = top or max([abs(r["value"] or 0) for r in rows] + [r.get("high") or 0 for r in rows]
                      + [v for v, _ in refs] + [1e-9]) * 1.05

    def x(v: float) -> float:
        return left + plot_w * min(max(v, 0.0), peak) / peak

    desc = ", ".join(f"{r['name']}: {fmt(r['value']) if r['value'] is not None else 'no data'}" for r in rows)
    out = [f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" role="img" '
           f'aria-label="{escape(label)}: {escape(desc)}">']
    for i, r in enumerate(rows):
        y = pad + i * row_h
        name = str(r["name"])
        shown = name if len(name) <= 28 else name[:27] + "…"
        out.append(f'<text x="{left - 6}" y="{y + 17}" text-anchor="end" font-size="12">{escape(shown)}</text>')
        if r["value"] is None:
            out.append(f'<text x="{left + 4}" y="{y + 17}" font-size="12" fill="#555">no data</text>')
            continue
        end = x(r["value"])
        tip = f"{name}: {fmt(r['value'])}" + (f" ({r['note']})" if r.get("note") else "")
        out.append(f'<rect class="mark" x="{left}" y="{y + 4}" width="{max(end - left, 1):.1f}" height="{row_h - 8}" '
                   f'fill="{r.get("colour") or BAR}"><title>{escape(tip)}</title></rect>')
        label_x = end
        if r.get("low") is not None and r.get("high") is not None:
            mid = y + row_h / 2
            out.append(f'<line x1="{x(r["low"]):.1f}" x2="{x(r["high"]):.1f}" y1="{mid:.1f}" y2="{mid:.1f}" '
                       f'stroke="#111" stroke-width="1.5"/>')
            label_x = max(end, x(r["high"]))
        out.append(f'<text x="{label_x + 4:.1f}" y="{y + 17}" font-size="12">{escape(fmt(r["value"]))}</text>')
    bottom = pad + row_h * len(rows)
    for v, name in refs:
        xr = x(v)
        out.append(f'<line x1="{xr:.1f}" x2="{xr:.1f}" y1="{pad}" y2="{bottom}" stroke="#b00020" '
                   f'stroke-dasharray="4 3"/><text x="{xr:.1f}" y="{bottom + 14}" text-anchor="middle" '
                   f'font-size="11" fill="#b00020">{escape(name)}</text>')
    out.append("</svg>")
    return "".join(out)


def columns_svg(items: list[dict[str, Any]], *, fmt: Callable[[Any], str] = human_number, label: str,
                width: int = 640, height: int = 220) -> str:
    """Vertical bars with a label under each: ``name``, ``value`` and ``flag`` (drawn in the warning colour).

    >>> columns_svg([{"name": "0-25", "value": 3}, {"name": ">50", "value": 5, "flag": True}], label="deals").count("<rect")
    2
    """
    peak = max((i["value"] or 0 for i in items), default=0) or 1
    left, bottom, pad = 48, 30, 10
    plot_w, plot_h = width - left - pad, height - bottom - pad
    step = plot_w / max(len(items), 1)
    desc = ", ".join(f"{i['name']}: {fmt(i['value'])}" for i in items)
    out = [f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" role="img" '
           f'aria-label="{escape(label)}: {escape(desc)}">']
    for frac in (0, 0.5, 1):
        y = pad + plot_h * (1 - frac)
        out.append(f'<line x1="{left}" x2="{width - pad}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ccc"/>'
                   f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11">{fmt(peak * frac)}</text>')
    for k, i in enumerate(items):
        h = plot_h * (i["value"] or 0) / peak
        x = left + k * step + 4
        fill = WARN if i.get("flag") else BAR
        out.append(f'<rect class="mark" x="{x:.1f}" y="{pad + plot_h - h:.1f}" width="{step - 8:.1f}" '
                   f'height="{max(h, 1):.1f}" fill="{fill}"><title>{escape(str(i["name"]))}: {escape(fmt(i["value"]))}'
                   f'{escape(" — " + i["note"]) if i.get("note") else ""}</title></rect>'
                   f'<text x="{x + (step - 8) / 2:.1f}" y="{height - 12}" text-anchor="middle" font-size="11">'
                   f'{escape(str(i["name"]))}</text>')
    out.append("</svg>")
    return "".join(out)


def grid_svg(cells: list[list[dict[str, Any]]], *, rows: list[str], cols: list[str], label: str,
             width: int = 560) -> str:
    """A heat grid: ``cells[i][j]`` has ``customers`` (the shade and number) and ``segment`` (the caption).

    >>> grid_svg([[{"customers": 4, "segment": "Champions"}]], rows=["R5"], cols=["F5"], label="RFM").count("mark")
    1
    """
    left, top_pad, size_h = 40, 22, 64
    cell_w = (width - left - 4) / max(len(cols), 1)
    height = top_pad + size_h * len(rows) + 4
    peak = max([c["customers"] for r in cells for c in r] + [1])
    out = [f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" role="img" aria-label="{escape(label)}">']
    for j, name in enumerate(cols):
        out.append(f'<text x="{left + cell_w * (j + .5):.1f}" y="15" text-anchor="middle" font-size="12">'
                   f'{escape(name)}</text>')
    for i, name in enumerate(rows):
        y = top_pad + i * size_h
        out.append(f'<text x="{left - 6}" y="{y + size_h / 2 + 4:.1f}" text-anchor="end" font-size="12">'
                   f'{escape(name)}</text>')
        for j, c in enumerate(cells[i]):
            share = c["customers"] / peak
            # light cells take dark text, dark cells white text: both above 4.5:1
            ink = "#fff" if share > 0.45 else "#111"
            fill = f"rgba(13,71,161,{0.06 + 0.9 * share:.2f})"
            x = left + j * cell_w
            seg = c.get("segment") or ""
            out.append(f'<rect class="mark" x="{x + 1:.1f}" y="{y + 1}" width="{cell_w - 2:.1f}" height="{size_h - 2}" '
                       f'fill="{fill}"><title>{escape(name)} {escape(cols[j])}: {human_number(c["customers"])} '
                       f'customers{escape(" (mostly " + seg + ")") if seg else ""}</title></rect>'
                       f'<text x="{x + cell_w / 2:.1f}" y="{y + 26}" text-anchor="middle" font-size="15" '
                       f'font-weight="700" fill="{ink}">{human_number(c["customers"])}</text>'
                       f'<text x="{x + cell_w / 2:.1f}" y="{y + 46}" text-anchor="middle" font-size="10" '
                       f'fill="{ink}">{escape(seg if len(seg) <= 18 else seg[:17] + "…")}</text>')
    out.append("</svg>")
    return "".join(out)


def radar_svg(axes: list[dict[str, Any]], *, label: str, scale: float = 5.0, size: int = 420) -> str:
    """A radar of scores 1..``scale``: each axis has ``name``, ``value`` (None: not scored) and optionally
    ``second`` (a second series, e.g. evidence next to self-reported answers, drawn dashed).

    >>> svg = radar_svg([{"name": n, "value": 3.0} for n in "ABCDE"], label="maturity")
    >>> svg.count('class="mark"')  # the polygon and one point per scored axis
    6
    """
    width = size + 200  # room for the axis names left and right
    cx, cy = width / 2, size / 2
    radius = size / 2 - 50
    n = max(len(axes), 3)

    def point(k: int, v: float) -> tuple[float, float]:
        angle = -math.pi / 2 + 2 * math.pi * k / n
        return cx + radius * v / scale * math.cos(angle), cy + radius * v / scale * math.sin(angle)

    desc = ", ".join(f"{a['name']}: " + ("not scored" if a["value"] is None else f"{a['value']:g}") for a in axes)
    out = [f'<svg class="chart radar" viewBox="0 0 {width} {size}" width="100%" role="img" '
           f'aria-label="{escape(label)}: {escape(desc)}">']
    for ring in range(1, int(scale) + 1):
        pts = " ".join(f"{x:.1f},{y:.1f}" for x, y in (point(k, ring) for k in range(n)))
        out.append(f'<polygon points="{pts}" fill="none" stroke="#ccc"/>')
    for k, a in enumerate(axes):
        x, y = point(k, scale)
        lx, ly = point(k, scale + 0.5)
        anchor = "middle" if abs(lx - cx) < 10 else ("start" if lx > cx else "end")
        out.append(f'<line x1="{cx}" y1="{cy}" x2="{x:.1f}" y2="{y:.1f}" stroke="#ccc"/>'
                   f'<text x="{lx:.1f}" y="{ly + 4:.1f}" text-anchor="{anchor}" font-size="12">{escape(a["name"])}</text>')
    for key, colour, dash in (("second", WARN, ' stroke-dasharray="5 3"'), ("value", BAR, "")):
        scored = [(k, a[key]) for k, a in enumerate(axes) if a.get(key) is not None]
        if not scored:
            continue
        pts = " ".join(f"{x:.1f},{y:.1f}" for x, y in (point(k, v) for k, v in scored))
        out.append(f'<polygon class="mark" points="{pts}" fill="{colour}" fill-opacity="0.18" stroke="{colour}" '
                   f'stroke-width="2"{dash}/>')
        for k, v in scored:
            x, y = point(k, v)
            out.append(f'<circle class="mark" cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{colour}">'
                       f'<title>{escape(axes[k]["name"])}: {v:g} of {scale:g}</title></circle>')
    out.append("</svg>")
    return "".join(out)
