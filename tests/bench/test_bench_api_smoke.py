"""The API benchmark runs end to end on a tiny workspace: the real server, every request answered.

Latency is not asserted here (a shared, noisy machine): ``--target-p99-ms``
is set out of reach so the exit status reflects errors only.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_api_benchmark_answers_every_request_on_a_small_workspace(tmp_path):
    result = subprocess.run(
        [sys.executable, str(REPO / "bench" / "bench_api.py"), "--accounts", "1000", "--rate", "50",
         "--duration", "3", "--warmup", "1", "--saturation-connections", "2", "--saturation-duration", "2",
         "--saturation-max-rps", "500", "--target-p99-ms", "1e9", "--profile", "40",
         "--workdir", str(tmp_path / "work"), "--results-dir", str(tmp_path / "results"), "--label", "smoke"],
        capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    payload = json.loads((tmp_path / "results" / "api-smoke.json").read_text())
    assert (tmp_path / "results" / "api-smoke.md").read_text().startswith("### tierwise API benchmark")

    assert payload["rows"]["accounts"] == 1000 and payload["rows"]["leads"] > 0
    assert payload["check"]["errors"] == 0 and payload["check"]["ok"] is True
    assert set(payload["phases"]) == {"warm-up", "target", "saturation"}
    for name, phase in payload["phases"].items():
        assert phase["errors"] == 0, (name, phase["errors_by_kind"], phase["error_examples"])
        assert phase["replays"] == 0 and phase["response_problems"] == {}, name
        assert phase["completed_2xx"] > 0 and phase["statuses"] == {"200": phase["completed_2xx"]}, name
        for key in ("p50", "p90", "p99", "max"):
            assert phase["latency_ms"][key] > 0, (name, key)
        assert phase["throughput_rps"] > 0
        assert {"server_cpu_pct", "server_rss_peak_mb", "others_cores"} <= set(phase["resources"])
    target = payload["phases"]["target"]
    assert target["mode"] == "open" and target["planned"] == target["sent"] == target["completed_2xx"] == 150
    assert payload["phases"]["saturation"]["mode"] == "closed"
    assert payload["server"]["rss_peak_mb"] > 0 and payload["server"]["healthz"]["routing"] is True
    assert payload["server"]["audit_log_bytes"] > 0  # the requests were routed and logged
    assert {"cpu", "cores", "python", "git"} <= set(payload["machine"])
    assert payload["profile"]["stages_ms"]["total"]["p50"] > 0 and payload["profile"]["top_own"]
