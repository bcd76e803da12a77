"""The territory benchmark runs end to end at a small size and judges every contender alike."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_territory_benchmark_runs(tmp_path):
    out = tmp_path / "territories.json"
    result = subprocess.run(
        [sys.executable, str(REPO / "bench" / "bench_territories.py"), "--sizes", "6000x12", "--repeats", "1",
         "--workdir", str(tmp_path), "--json", str(out)],
        capture_output=True, text=True, timeout=900,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    payload = json.loads(out.read_text())
    assert out.with_suffix(".md").exists()
    (size,) = payload["sizes"]
    assert (size["accounts"], size["reps"]) == (6000, 12)
    assert set(size["results"]) == {"tierwise", "greedy_lpt", "greedy_keep"}
    judged = size["judged"]
    for name, j in judged.items():
        assert j["uncovered"] == 0, name
        assert size["results"][name]["median_wall_s"] > 0
    tw = judged["tierwise"]
    assert tw["max_dev_potential"] <= 0.05 + 1e-6 and tw["max_dev_workload"] <= 0.05 + 1e-6
    assert tw["moves"] < judged["greedy_lpt"]["moves"]  # the owner-blind greedy moves far more
    assert tw["tier_a_moves"] == 0
    assert 0 <= tw["gap"] < 0.05 and tw["bound"] <= tw["objective"]
    assert "Machine:" in out.with_suffix(".md").read_text()
