"""The lead scoring + routing benchmark runs end to end, and the hand-written SQL keeps agreeing with tierwise."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_leads_benchmark_runs_and_lead_scores_agree(tmp_path):
    out = tmp_path / "leads.json"
    result = subprocess.run(
        [sys.executable, str(REPO / "bench" / "bench_leads.py"), "--leads", "2000", "--accounts", "1000",
         "--events-per-lead", "5", "--repeats", "1", "--workdir", str(tmp_path), "--json", str(out)],
        capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    payload = json.loads(out.read_text())
    assert out.with_suffix(".md").exists()

    rows = payload["params"]["rows"]
    assert rows["leads"] == 2000 and rows["accounts"] == 1000 and rows["lead_activities"] > 5000
    assert payload["target"]["wall_s"] == 30.0
    assert set(payload["results"]) == {"tierwise", "tierwise-score", "duckdb_sql"}
    for name, r in payload["results"].items():
        assert len(r["runs"]) == 1, name
        assert r["median_wall_s"] > 0 and r["median_peak_rss_mb"] > 0, name
    assert payload["results"]["tierwise"]["command"][-4:-2] == ["--now", "2026-11-01T09:00"]
    assert payload["baseline_omits"]

    ls = payload["check"]["lead_scores"]
    assert ls["leads_tierwise"] == ls["leads_sql"] == ls["compared"] == 2000
    assert ls["score_agree_share"] >= 0.99, ls.get("examples")
    assert abs(ls["tierwise"]["mql"] - payload["check"]["sql"]["mql"]) <= 0.01 * 2000
    assert ls["is_mql_agree_share"] >= 0.99 and ls["segment_agree_share"] >= 0.99
    assert payload["check"]["ok"] is True

    routing = payload["check"]["routing"]
    assert routing["leads"] == 2000
    # the baseline matches by exact email domain only; where both matched alike, the rules must agree
    assert routing["same_rule_share_where_matches_agree"] == 1.0, routing["by_tierwise_match"]

    stages = payload["stages"]
    assert {"route", "score"} <= set(stages), stages
    assert any(s["step"] == "scoring leads" for s in stages["route"]["steps"])
    assert stages["route"]["total_s"] > 0
    assert "lead scores, tierwise leads score vs SQL:" in result.stdout
