"""The reports and run-history benchmark runs end to end on a small workspace."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_reports_benchmark_runs(tmp_path):
    out = tmp_path / "reports.json"
    result = subprocess.run(
        [sys.executable, str(REPO / "bench" / "bench_reports.py"), "--accounts", "2000", "--repeats", "1",
         "--only", "report", "pipeline", "store-duckdb", "--workdir", str(tmp_path), "--json", str(out)],
        capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    payload = json.loads(out.read_text())
    md = out.with_suffix(".md").read_text()
    assert "| report |" in md and "Machine:" in md and "Versions:" in md
    assert payload["params"]["rows"]["accounts"] == 2000 and payload["params"]["rows"]["opportunities"] > 500
    assert set(payload["results"]) == {"report", "pipeline", "store-duckdb"}
    assert payload["targets_s"] == {"report": 10.0, "pipeline": 10.0, "store-duckdb": 10.0, "store-postgres": 60.0}
    store = payload["results"]["store-duckdb"]["measured"][0]
    assert store["status"] == "recorded" and store["rerecord_status"] == "unchanged" and store["rows"] == 2000
    for name, r in payload["results"].items():
        assert r["median_s"] > 0 and len(r["runs"]) == 1, name
