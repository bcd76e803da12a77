"""The workspace's report outputs the dashboard links to, and the command that makes each one."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class OutputView:
    key: str
    title: str
    paths: tuple[str, ...]  # candidate files, relative to the spec's folder; the first that exists is shown
    command: str  # what to run to make it ({spec} is the spec path)
    what: str

    def find(self, base: Path) -> Path | None:
        for rel in self.paths:
            p = base / rel
            if p.is_file():
                return p
        return None


OUTPUT_VIEWS: tuple[OutputView, ...] = (
    OutputView("performance", "Segment performance", ("report/report.html",),
               "tierwise report {spec} --html report/report.html",
               "segment and tier win rates, ACV and cycle, guardrails, drift and ICP coverage"),
    OutputView("pipeline", "Pipeline health", ("pipeline/pipeline.html",),
               "tierwise pipeline {spec} --html pipeline/pipeline.html",
               "velocity buckets, zombie deals and stage conversion"),
    OutputView("icp", "ICP document", ("icp/icp.html",), "tierwise icp discover {spec}",
               "the ideal customer profile found from won and lost deals"),
    OutputView("territories", "Territories", ("territories/territories.html", "territories/report.html"),
               "tierwise territories {spec}", "territory balance of potential and workload across reps"),
    OutputView("rfm", "RFM", ("rfm/rfm.html", "rfm/report.html"), "tierwise rfm {spec}",
               "the RFM grid and customers' segment moves"),
    OutputView("assessment", "Maturity assessment", ("assessment/assessment.html", "assessment.html"),
               "tierwise assess --evidence {spec} --html assessment/assessment.html",
               "the five-dimension maturity assessment and its radar"),
)
VIEWS_BY_KEY = {v.key: v for v in OUTPUT_VIEWS}
