"""The propensity evaluation report (Markdown): discrimination, calibration, lift, tiers, leakage.

Examples
--------
>>> text = render_markdown({"auc": 0.81, "pr_auc": 0.52, "brier": 0.15, "base_rate": 0.23}, metadata={},
...                        title="Propensity evaluation")
>>> print(text.splitlines()[0])
# Propensity evaluation
>>> "| AUC (ranking) | 0.810 |" in text
True
>>> cal = render_markdown({"calibration": [{"low": 0.0, "high": 0.1, "count": 50, "mean_predicted": 0.05,
...                                         "observed": 0.06}]}, metadata={}, title="t")
>>> "| 0.0–0.1 | 50 | 5.0% | 6.0% |" in cal
True
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def _f(value: Any, digits: int = 3) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _pct(value: Any) -> str:
    return "—" if value is None else f"{100 * float(value):.1f}%"


def _table(rows: list[Mapping[str, Any]], columns: list[tuple[str, str, Any]]) -> list[str]:
    out = ["| " + " | ".join(title for _, title, _ in columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        out.append("| " + " | ".join(fmt(row.get(key)) for key, _, fmt in columns) + " |")
    return out


def render_markdown(metrics: Mapping[str, Any], *, metadata: Mapping[str, Any], title: str) -> str:
    """The evaluation report: headline metrics, lift by decile, tiers, calibration, leakage findings."""
    lines = [f"# {title}", ""]
    if metadata.get("training_window"):
        w, h = metadata["training_window"], metadata.get("holdout", {})
        lines += [f"Trained on {metadata.get('deals', '?'):,} closed deals created {w['first_deal_created']} to "
                  f"{w['last_deal_created']} ({metadata.get('won', '?'):,} won). Evaluated on the latest "
                  f"{h.get('deals', '?'):,} deals (created from {h.get('from', '?')}), held out by time: the model "
                  "never saw them or anything after their creation.", ""]
    elif metrics.get("folds") is not None:
        lines += [f"{len(metrics['folds'])}-fold stratified cross-validation on {metrics.get('records', '?'):,} "
                  f"records ({metrics.get('won', '?'):,} won); every figure below is out of fold.", ""]
    lines += ["## Headline", "", "| metric | value |", "|---|---|",
              f"| AUC (ranking) | {_f(metrics.get('auc'))} |",
              f"| PR-AUC (average precision) | {_f(metrics.get('pr_auc'))} |",
              f"| Brier score (calibration + sharpness, lower is better) | {_f(metrics.get('brier'))} |",
              f"| Base win rate | {_pct(metrics.get('base_rate'))} |", ""]
    capture = metrics.get("top_tiers_capture")
    if capture:
        lines += [f"The top two tiers hold {_pct(capture.get('share_of_records'))} of records and capture "
                  f"{_pct(capture.get('share_of_wins'))} of the wins.", ""]
    if metrics.get("lift_by_decile"):
        lines += ["## Lift by decile", "", "Decile 1 holds the highest predicted propensities.", ""]
        lines += _table(metrics["lift_by_decile"], [
            ("decile", "decile", _f), ("records", "records", _f), ("wins", "wins", _f),
            ("win_rate", "win rate", _pct), ("lift", "lift", lambda v: _f(v, 2)),
            ("cumulative_share_of_wins", "cumulative share of wins", _pct)])
        lines.append("")
    if metrics.get("by_tier"):
        lines += ["## Tiers", "", "Tiers by rank of the predicted propensity; intervals are Wilson 95%.", ""]
        lines += _table(metrics["by_tier"], [
            ("tier", "tier", _f), ("records", "records", _f), ("share_of_records", "share of records", _pct),
            ("wins", "wins", _f), ("win_rate", "win rate", _pct), ("ci_low", "95% low", _pct),
            ("ci_high", "95% high", _pct), ("lift", "lift", lambda v: _f(v, 2)),
            ("share_of_wins", "share of wins", _pct)])
        lines.append("")
    if metrics.get("calibration"):
        lines += ["## Calibration", "", "Mean predicted probability against the observed win rate per bin; a "
                  "calibrated model has the two close.", ""]
        bins = [{**b, "bin": f"{b['low']:.1f}–{b['high']:.1f}"} for b in metrics["calibration"]]
        lines += _table(bins, [
            ("bin", "predicted", _f), ("count", "records", _f), ("mean_predicted", "mean predicted", _pct),
            ("observed", "observed", _pct)])
        lines.append("")
    findings = metadata.get("leakage") or []
    lines += ["## Leakage guard", ""]
    if findings:
        lines += ["Features that would not be known when the prediction is made. Excluded ones were left out of "
                  "the model; override with `include` (spec: `propensity.include`, CLI: `--include`).", ""]
        lines += _table(findings, [("column", "feature", _f), ("kind", "kind", _f), ("action", "action", _f),
                                   ("reason", "reason", _f)])
    else:
        lines.append("No feature was flagged.")
    lines.append("")
    if metadata.get("features"):
        feats = metadata["features"]
        lines += ["## Features", "", f"{len(feats)} features: " + ", ".join(f"`{f}`" for f in feats), ""]
    lines += ["## How to read this", "",
              "- **AUC** is the chance that a random won record is ranked above a random lost one (0.5 = no "
              "better than chance). **PR-AUC** is the average precision over the ranking; compare it with the "
              "base win rate.",
              "- **Lift** is a group's win rate divided by the overall win rate.",
              "- Figures come from records the model did not train on. See docs/icp.md for leakage warnings.", ""]
    return "\n".join(lines)
