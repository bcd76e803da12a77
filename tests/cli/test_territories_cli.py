"""``tierwise territories`` on the command line: the summary, the files, --commit, --strict, errors."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from tierwise.cli.main import app

SPEC = """\
as_of: 2026-11-01
fit:
  weight: 100
  criteria:
    - {name: size, field: employees, bands: [{min: 1000, points: 70}, {min: 100, max: 1000, points: 45}]}
    - {name: industry, field: industry, values: {software: 30}}    # none here: enterprise is tier B
signals: {weight: 0}
engagement: {weight: 0}
segments:
  rules:
    - {name: Enterprise, when: "employees >= 1000", owner_role: enterprise_ae}
  default: {name: SMB, owner_role: smb_pool}
territories:
  scenarios:
    - {name: hire, add_reps: [{rep_id: E3, role: enterprise_ae, region: East}]}
"""
ACCOUNTS = """\
account_id,employees,region,owner_id
A1,2000,East,E1
A2,3000,East,E1
A3,2500,East,E1
A4,1500,East,E1
S1,200,East,P1
S2,300,East,P1
"""
REPS = "rep_id,role,region,capacity,active\nE1,enterprise_ae,East,3,true\nE2,enterprise_ae,East,,true\n" \
       "P1,smb_pool,East,,true\n"


@pytest.fixture
def runner():
    return CliRunner()


@pytest.fixture
def spec_path(make_workspace):
    return make_workspace(SPEC, {"accounts.csv": ACCOUNTS, "reps.csv": REPS})


def test_help_has_an_example(runner):
    result = runner.invoke(app, ["territories", "--help"])
    assert result.exit_code == 0
    assert "Example" in result.stdout and "tierwise territories" in result.stdout


def test_plans_prints_the_summary_and_writes_the_files(runner, spec_path, tmp_path):
    out = tmp_path / "out"
    result = runner.invoke(app, ["territories", str(spec_path), "--out", str(out), "--html",
                                 str(tmp_path / "t.html")])
    assert result.exit_code == 0, result.output
    assert "accounts planned over" in result.stdout and "Balance by role" in result.stdout
    assert "Scenarios" in result.stdout and "hire" in result.stdout
    summary = json.loads((out / "summary.json").read_text())
    assert summary["plan"]["accounts"]["planned"] == 6
    assert summary["plan"]["moves"]["total"] == 2  # E1 owned 4 enterprise accounts: two go to E2
    assert (tmp_path / "t.html").exists() and not (out / "crm_upsert.csv").exists()


def test_commit_a_scenario(runner, spec_path, tmp_path):
    out = tmp_path / "out"
    result = runner.invoke(app, ["territories", str(spec_path), "--out", str(out), "--commit-scenario", "hire"])
    assert result.exit_code == 0, result.output
    assert "committed plan hire" in result.stdout
    upsert = (out / "crm_upsert.csv").read_text().splitlines()
    assert upsert[0] == "account_id,owner_id" and len(upsert) > 1
    records = list((spec_path.parent / ".tierwise" / "territories").glob("plan-*-hire-*.json"))
    assert len(records) == 1


def test_strict_exits_1_with_the_shortfall(runner, make_workspace, tmp_path):
    spec = make_workspace(SPEC, {"accounts.csv": ACCOUNTS, "reps.csv": REPS.replace("E2,enterprise_ae,East,,true",
                                                                                    "E2,enterprise_ae,East,0,true")})
    result = runner.invoke(app, ["territories", str(spec), "--out", str(tmp_path / "o"), "--strict"])
    assert result.exit_code == 1
    assert result.stderr.startswith("error: capacity is below demand")
    assert "enterprise_ae in East: 4 accounts, 2 reps can own 3 (short 1)" in result.stderr
    assert "Traceback" not in result.output


def test_bad_input_is_one_line(runner, spec_path, tmp_path):
    result = runner.invoke(app, ["territories", str(spec_path), "--out", str(tmp_path / "o"), "--scenario", "nope"])
    assert result.exit_code == 1 and result.stderr.startswith("error: unknown scenario 'nope'; scenarios: hire")
    result = runner.invoke(app, ["territories", str(spec_path), "--reps", str(tmp_path / "missing.csv")])
    assert result.exit_code == 1 and "reps file not found" in result.stderr
