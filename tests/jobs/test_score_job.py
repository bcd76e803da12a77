"""The score and validate jobs: outputs, determinism, quarantine files, as_of resolution."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pyarrow.parquet as pq
import pytest

from tierwise.errors import DataError
from tierwise.jobs.score import score, validate
from tierwise.jobs.workspace import resolve_as_of
from tierwise.spec import load_spec

AS_OF = date(2026, 11, 1)

SPEC = """\
name: jobs test
fit:
  criteria:
    - {name: size, field: employees, bands: [{min: 1000, points: 10}, {min: 100, max: 1000, points: 5}]}
    - {name: industry, field: industry, values: {software: 10, retail: 4}}
    - {name: tech, field: tech_stack, share_of: [salesforce, snowflake], points: 5}
signals:
  weight: 35
  events: {funding_round: 30, hiring_surge: 15}
engagement:
  weight: 25
  cap: 50
  events: {demo_request: 20, pricing_page_visit: {points: 8, cap: 24}, unsubscribe: -10}
segments:
  rules:
    - {name: Enterprise, when: "employees >= 1000", priority: P1, motion: field_sales, touches_per_month: [6, 8]}
    - {name: Engaged, when: "event_count('demo_request', 30) >= 1", priority: P2, motion: inside_sales}
  default: {name: Pool, priority: P5, motion: product_led}
"""

ACCOUNTS = """\
account_id,name,employees,industry,tech_stack,owner_id
A1,Acme,5000,Software,Salesforce;Snowflake,R1
A2,Beta,150,Retail,,R2
A3,Gamma,20,Software,snowflake,R1
A4,Delta,lots,Software,,R2
A5,Eps,900,Healthcare,salesforce,
A1,Acme again,1,,,
"""

ACTIVITIES = """\
account_id,event_type,occurred_at
A1,funding_round,2026-10-01
A1,demo_request,2026-10-28
A1,pricing_page_visit,2026-10-30 10:00:00
A1,pricing_page_visit,2026-10-31 09:00:00
A2,demo_request,2026-10-20
A2,unsubscribe,2026-10-25
A3,hiring_surge,2026-09-15
A9,demo_request,2026-10-20
A5,demo_request,not a date
"""


@pytest.fixture
def spec_path(make_workspace):
    return make_workspace(SPEC, {"accounts.csv": ACCOUNTS, "activities.csv": ACTIVITIES})


def test_score_writes_every_output(spec_path, tmp_path):
    out = tmp_path / "out"
    result = score(spec_path, out, as_of=AS_OF)
    assert set(result.files) == {"parquet", "csv", "summary", "quarantine_accounts", "quarantine_activities"}
    assert sorted(p.name for p in out.iterdir()) == ["quarantine", "scores.csv", "scores.parquet", "summary.json"]
    rows = pq.read_table(out / "scores.parquet").to_pylist()
    assert [r["account_id"] for r in rows] == ["A1", "A2", "A3", "A5"]  # sorted; A4 and the second A1 quarantined
    csv_lines = (out / "scores.csv").read_text().splitlines()
    assert csv_lines[0].startswith("account_id,account_name,owner_id,fit_score")
    assert len(csv_lines) == 1 + len(rows)

    summary = json.loads((out / "summary.json").read_text())
    assert summary == result.summary
    assert summary["inputs"] == {
        "accounts": {"read": 6, "loaded": 4, "quarantined": 2},
        "activities": {"read": 9, "loaded": 7, "quarantined": 2},
    }
    assert summary["accounts"] == 4
    assert sum(t["accounts"] for t in summary["tiers"].values()) == 4
    assert [s["segment"] for s in summary["segments"]] == ["Enterprise", "Engaged", "Pool"]  # spec order
    assert [s["accounts"] for s in summary["segments"]] == [1, 1, 2]
    assert summary["spec"] == "jobs test" and summary["as_of"] == "2026-11-01"

    # the top list is by score, highest first
    scores = [r["score"] for r in result.top]
    assert scores == sorted(scores, reverse=True) and result.top[0]["account_id"] == "A1"
    assert result.tables["accounts"]["reasons"]["duplicate account_id"] == 1


def test_scoring_is_deterministic(spec_path, tmp_path):
    """Two runs into two folders give byte-identical outputs."""
    first = score(spec_path, tmp_path / "one", as_of=AS_OF)
    second = score(spec_path, tmp_path / "two", as_of=AS_OF)
    for name in ("scores.parquet", "scores.csv", "summary.json", "quarantine/accounts.csv",
                 "quarantine/activities.csv"):
        assert (first.out_dir / name).read_bytes() == (second.out_dir / name).read_bytes(), name


def test_rerun_replaces_outputs_and_drops_stale_quarantine(make_workspace, tmp_path):
    out = tmp_path / "out"
    spec_path = make_workspace(SPEC, {"accounts.csv": ACCOUNTS})
    score(spec_path, out, as_of=AS_OF)
    assert (out / "quarantine" / "accounts.csv").exists()
    (spec_path.parent / "accounts.csv").write_text("account_id,employees\nA1,5000\n")
    result = score(spec_path, out, as_of=AS_OF)
    assert not (out / "quarantine" / "accounts.csv").exists()
    assert "quarantine_accounts" not in result.files
    assert [r["account_id"] for r in pq.read_table(out / "scores.parquet").to_pylist()] == ["A1"]
    assert not [p for p in out.rglob("*") if p.name.endswith(".tmp")]


def test_no_loadable_account_is_an_error(make_workspace, tmp_path):
    spec_path = make_workspace(SPEC, {"accounts.csv": "account_id,employees\n,5\nA1,x\n"})
    with pytest.raises(DataError, match=r"accounts\.csv: no account could be loaded \(2 quarantined\); see .*quarantine"):
        score(spec_path, tmp_path / "out", as_of=AS_OF)


def test_engine_url_override(spec_path, tmp_path):
    db = tmp_path / "ws.duckdb"
    result = score(spec_path, tmp_path / "out", as_of=AS_OF, engine_url=f"duckdb:///{db}")
    assert db.exists() and result.summary["accounts"] == 4


def test_validate_job(spec_path, tmp_path):
    result = validate(spec_path, tmp_path / "v", as_of=AS_OF)
    assert result.quarantined == 4
    assert set(result.quarantine_files) == {"accounts", "activities"}
    text = (tmp_path / "v" / "quarantine" / "activities.csv").read_text()
    assert "unknown account_id 'A9' (not in accounts)" in text
    assert "unparsable timestamp in occurred_at: 'not a date'" in text
    assert result.quality["accounts"]["completeness"]["owner_id"] == 0.75
    assert result.quality["accounts"]["attributes_per_account"]["of"] > 0


def test_as_of_resolution(make_workspace):
    spec_file = load_spec(make_workspace(SPEC, {"accounts.csv": ACCOUNTS}))
    assert resolve_as_of(spec_file, date(2020, 1, 2)) == date(2020, 1, 2)
    before = datetime.now(UTC).date()
    today = resolve_as_of(spec_file, None)
    assert today in {before, datetime.now(UTC).date()}  # today in UTC (robust at midnight)
    dated = load_spec(make_workspace("as_of: 2025-06-30\n" + SPEC, {"accounts.csv": ACCOUNTS}))
    assert resolve_as_of(dated, None) == date(2025, 6, 30)
    assert resolve_as_of(dated, AS_OF) == AS_OF
