"""The benchmark's references must keep agreeing with tierwise, account by account."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_benchmark_contenders_agree_on_a_small_workspace(tmp_path):
    result = subprocess.run(
        [sys.executable, str(REPO / "bench" / "bench_score.py"), "--accounts", "400", "--repeats", "1",
         "--workdir", str(tmp_path), "--json", str(tmp_path / "result.json")],
        capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "outputs agree (tiers, segments identical; scores within 0.01): YES" in result.stdout
    for pair in ("tierwise vs duckdb_sql:", "tierwise vs duckdb_sql_validated:", "tierwise vs pandas:"):
        line = next(x for x in result.stdout.splitlines() if pair in x)
        assert "reasons 0" in line, line


@pytest.mark.slow
def test_icp_benchmark_agrees_with_the_pandas_notebook(tmp_path):
    result = subprocess.run(
        [sys.executable, str(REPO / "bench" / "bench_icp.py"), "--accounts", "6000", "--repeats", "1",
         "--workdir", str(tmp_path), "--json", str(tmp_path / "icp.json")],
        capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    line = next(x for x in result.stdout.splitlines() if x.startswith("Agreement:"))
    assert " 0 mismatched" in line and "tierwise None" not in line, line
