"""The RFM benchmark runs end to end, and pandas and the hand-written SQL keep agreeing with tierwise."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_rfm_benchmark_runs_and_every_contender_agrees(tmp_path):
    out = tmp_path / "rfm.json"
    result = subprocess.run(
        [sys.executable, str(REPO / "bench" / "bench_rfm.py"), "--customers", "3000", "--transactions", "30000",
         "--repeats", "1", "--workdir", str(tmp_path), "--json", str(out)],
        capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    payload = json.loads(out.read_text())
    assert out.with_suffix(".md").exists()
    assert payload["params"]["rows"] == 30000 and payload["target"]["wall_s"] == 20.0
    assert set(payload["results"]) == {"tierwise", "tierwise-no-clv", "duckdb_sql", "pandas"}
    for name, r in payload["results"].items():
        assert len(r["runs"]) == 1 and r["median_wall_s"] > 0 and r["median_peak_rss_mb"] > 0, name
    check = payload["check"]
    assert check["ok"], check
    for pair in check["pairs"].values():
        assert pair["compared"] == check["customers"]["tierwise"] > 2500 and pair["mismatches"] == 0
    s = payload["tierwise_summary"]
    assert s["rows"]["reconciles"] and s["rows"]["return_lines"] > 0 and s["rows"]["after_as_of"] > 0
    assert "bgnbd" in s["clv"]
    assert [st["step"] for st in payload["stages"]["steps"]][:2] == ["loading transactions",
                                                                    "recency, frequency, monetary"]
    assert "tierwise vs pandas" in result.stdout and "AGREE" in result.stdout
