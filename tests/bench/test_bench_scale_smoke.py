"""The out-of-core benchmark runs end to end on two small sizes and reports time, memory and growth."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_scale_benchmark_runs_and_reports_growth(tmp_path):
    out = tmp_path / "scale.json"
    result = subprocess.run(
        [sys.executable, str(REPO / "bench" / "bench_scale.py"), "--accounts", "1000", "2000",
         "--memory-limit", "500MB", "--threads", "1", "--workdir", str(tmp_path), "--json", str(out)],
        capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    payload = json.loads(out.read_text())
    assert out.with_suffix(".md").read_text().startswith("### tierwise score out of core")
    assert [s["accounts"] for s in payload["sizes"]] == [1000, 2000]
    for s in payload["sizes"]:
        r = s["run"]
        assert s["events"] > 10 * s["accounts"] and r["accounts"] == s["accounts"]
        assert r["wall_s"] > 0 and r["cpu_s"] > 0 and r["peak_rss_mb"] > 50 and r["peak_spill_mb"] >= 0
        assert "memory_limit=500MB" in r["engine_url"] and "temp_directory=" in r["engine_url"]
        assert [st["step"] for st in r["steps"]][:3] == ["loading accounts", "loading activities", "scoring accounts"]
        assert r["steps"][-1]["step"] == "recording the run" and r["run"]["run_id"]
        assert r["inputs"]["activities"]["quarantined"] == 0
        assert s["generation"]["peak_rss_mb"] > 0 and len(r["load_before"]) == 3
    ratio = payload["ratio"]
    assert ratio["from"] == 1000 and ratio["to"] == 2000 and ratio["data"] == 2.0
    assert ratio["wall"] > 0 and ratio["peak_rss"] > 0
    assert "Growth from 1,000 to 2,000 accounts" in result.stdout
    # the runs' scratch (engine file, spill, outputs) is removed unless --keep-outputs
    assert not list((tmp_path / "out").glob("*/engine.duckdb"))
