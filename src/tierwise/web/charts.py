"""Charts as inline SVG, drawn on the server: they render with no script and no network (pages and static report).

>>> svg = histogram_svg([{"low": 0, "high": 10, "accounts": 3}, {"low": 10, "high": 20, "accounts": 1}])
>>> svg.count("<rect class=\\"mark\\""), "role=\\"img\\"" in svg
(2, True)
"""

from __future__ import annotations

from html import escape
from typing import Any

from tierwise.web.format import human_number, percent

#: Tier fills, each with white text at a WCAG AA contrast of at least 4.5:1 (A green, B blue, C brown, D grey).
TIER_COLOURS = {"A": "#1b5e20", "B": "#0d47a1", "C": "#7a4a00", "D": "#4a4a4a"}
OTHER_COLOUR = "#37474f"
BAR = "#2f5d8a"


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
