"""The workspace views beyond the scored accounts: each reads the JSON/CSV/Parquet outputs of one command.

Both the dashboard pages (``/views/{key}``) and the static report (``tierwise report --html``) render a view
from what :meth:`OutputView.load` returns — the same template, the same inline-SVG charts — so the two never
drift apart. A view's outputs are looked for in its folder next to the spec (what ``tierwise demo`` writes),
then under ``tierwise-out/`` (the commands' default ``--out``); a view with no outputs renders an empty state
naming the command that makes them.

>>> from pathlib import Path
>>> VIEWS_BY_KEY["pipeline"].load(Path("/nowhere")) is None
True
>>> VIEWS_BY_KEY["rfm"].command.format(spec="ws/spec.yaml", dir="ws")
'tierwise rfm ws/spec.yaml --out ws/rfm'
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: Where a command's outputs are looked for, relative to the spec's folder ({name}: the view's folder).
SEARCH = ("{name}", "tierwise-out/{name}")


def _json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _csv_rows(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        return []
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _float(text: Any) -> float | None:
    try:
        v = float(text)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(v) else v


# --------------------------------------------------------------------------- loaders (folder -> view data)


def _performance(folder: Path) -> dict[str, Any]:
    return _json(folder / "report.json")


def _pipeline(folder: Path) -> dict[str, Any]:
    return _json(folder / "pipeline.json")


def _icp(folder: Path) -> dict[str, Any]:
    """The ICP summary plus the strongest attribute values (significant first, then by information value)."""
    summary = _json(folder / "summary.json")
    rows = []
    for r in _csv_rows(folder / "attributes.csv"):
        lift = _float(r.get("lift"))
        if lift is None:
            continue
        rows.append({"attribute": r["attribute"], "value": r["value"], "support": int(float(r["support"] or 0)),
                     "win_rate": _float(r.get("win_rate")), "lift": lift, "iv": _float(r.get("iv")) or 0.0,
                     "significant": r.get("significant") == "True"})
    rows.sort(key=lambda r: (not r["significant"], -r["iv"], r["attribute"], r["value"]))
    return {"summary": summary, "attributes": rows[:15],
            "suggested": (folder / "suggested_fit.yaml").read_text(encoding="utf-8")
            if (folder / "suggested_fit.yaml").is_file() else None}


def _territories(folder: Path) -> dict[str, Any]:
    summary = _json(folder / "summary.json")
    reps = []
    for r in _csv_rows(folder / "reps.csv"):
        if r.get("in_scope") != "true":
            continue
        reps.append({"rep_id": r["rep_id"], "role": r["role"], "region": r["region"],
                     "accounts_before": int(float(r["accounts_before"] or 0)),
                     "accounts_after": int(float(r["accounts_after"] or 0)),
                     "potential_before": _float(r["potential_before"]) or 0.0,
                     "potential_after": _float(r["potential_after"]) or 0.0,
                     "potential_dev_after": _float(r["potential_dev_after"]),
                     "workload_dev_after": _float(r["workload_dev_after"]),
                     "status_after": r.get("status_after") or ""})
    reps.sort(key=lambda r: (r["role"], r["region"], r["rep_id"]))
    return {"summary": summary, "reps": reps}


def _rfm(folder: Path) -> dict[str, Any]:
    """The RFM summary and the 5x5 recency x frequency grid (customers and the most common segment per cell)."""
    import pyarrow.parquet as pq

    summary = _json(folder / "summary.json")
    grid: list[list[dict[str, Any]]] = [[{"customers": 0, "segment": ""} for _ in range(5)] for _ in range(5)]
    path = folder / "rfm.parquet"
    if path.is_file():
        t = pq.read_table(path, columns=["r_score", "f_score", "segment"])
        counted = t.group_by(["r_score", "f_score", "segment"]).aggregate([("segment", "count")]).to_pylist()
        best: dict[tuple[int, int], int] = {}
        for row in counted:
            r, f = row["r_score"], row["f_score"]
            if r is None or f is None or not (1 <= r <= 5 and 1 <= f <= 5):
                continue
            cell = grid[5 - r][f - 1]  # rows: R5 (most recent) at the top
            cell["customers"] += row["segment_count"]
            if row["segment_count"] > best.get((r, f), 0):
                best[(r, f)] = row["segment_count"]
                cell["segment"] = row["segment"] or ""
    return {"summary": summary, "grid": grid}


def _assessment(folder: Path) -> dict[str, Any]:
    return _json(folder / "assessment.json")


@dataclass(frozen=True)
class OutputView:
    key: str
    title: str
    folder: str  # the outputs' folder next to the spec (also looked for under tierwise-out/)
    marker: str  # the file that must exist for the view to have data
    command: str  # what to run to make it ({spec}: the spec path, {dir}: its folder)
    what: str
    loader: Callable[[Path], dict[str, Any]]

    def find(self, base: Path) -> Path | None:
        """The folder holding this view's outputs, or None."""
        for pattern in SEARCH:
            folder = base / pattern.format(name=self.folder)
            if (folder / self.marker).is_file():
                return folder
        return None

    def load(self, base: Path) -> dict[str, Any] | None:
        """The view's data from the workspace at ``base``; None when the command has not run (or left junk)."""
        folder = self.find(base)
        if folder is None:
            return None
        try:
            # cached until the marker file changes: a page reload does not re-read rfm.parquet, a new run does
            stamp = (self.key, str(folder), (folder / self.marker).stat().st_mtime_ns)
            if stamp not in _CACHE:
                if len(_CACHE) > 64:
                    _CACHE.clear()
                _CACHE[stamp] = self.loader(folder)
            return _CACHE[stamp]
        except (OSError, ValueError, KeyError):  # a half-written or foreign file: show the empty state
            return None


_CACHE: dict[tuple[str, str, int], dict[str, Any]] = {}


OUTPUT_VIEWS: tuple[OutputView, ...] = (
    OutputView("performance", "Segment performance", "report", "report.json",
               "tierwise report {spec} --out {dir}/report",
               "segment and tier win rates, ACV and cycle, guardrails, drift and ICP coverage", _performance),
    OutputView("pipeline", "Pipeline health", "pipeline", "pipeline.json", "tierwise pipeline {spec} --out {dir}/pipeline",
               "velocity buckets, zombie deals and time in stage", _pipeline),
    OutputView("icp", "ICP document", "icp", "summary.json", "tierwise icp discover {spec} --out {dir}/icp",
               "the ideal customer profile found from won and lost deals", _icp),
    OutputView("territories", "Territory balance", "territories", "summary.json",
               "tierwise territories {spec} --out {dir}/territories",
               "the balance of potential and workload across reps", _territories),
    OutputView("rfm", "RFM", "rfm", "summary.json", "tierwise rfm {spec} --out {dir}/rfm",
               "the RFM grid and customers' segment moves", _rfm),
    OutputView("assessment", "Maturity assessment", "assessment", "assessment.json",
               "tierwise assess --evidence {spec} --json {dir}/assessment/assessment.json",
               "the five-dimension maturity assessment and its radar", _assessment),
)
VIEWS_BY_KEY = {v.key: v for v in OUTPUT_VIEWS}
