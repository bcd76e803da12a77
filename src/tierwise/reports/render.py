"""Files of the governance reports: report.json / pipeline.json and their CSV tables.

Output is deterministic (no timestamps beyond the run's own, stable orders). The HTML of these reports is the
dashboard's: ``tierwise report --html`` and ``tierwise pipeline --html`` render the payloads written here with
the same templates as ``tierwise serve`` (:mod:`tierwise.web.app`), so there is one renderer, not two.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa

from tierwise.jobs.workspace import write_json

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


__all__ = ["write_pipeline_files", "write_report_files"]
