"""``tierwise leads route``: match, route, log; a lead sent twice is not assigned twice."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from tierwise.cli.main import app
from tierwise.errors import DataError
from tierwise.jobs.leads import route

ACCOUNTS = """\
account_id,name,domain,owner_id,employees,industry,annual_revenue
A1,Acme Corp,acme.com,R1,5000,Software,900000000
A2,Globex Inc,globex.com,R9,300,Retail,20000000
A3,Initech LLC,initech.io,,40,Software,2000000
"""
REPS = """\
rep_id,name,role,active,capacity
R1,Ann,enterprise_ae,true,
R2,Bob,sdr,true,
R3,Cy,sdr,true,
R4,Di,sdr,false,
R9,Ed,mid_market_ae,false,
"""
LEADS = """\
lead_id,email,company,website,title,employees,lead_source,created_at
L1,jane@acme.com,Acme,,VP Sales,5000,web,2026-11-01 08:30:00
L2,joe@gmail.com,Globex Incorporated,,Manager,300,event,2026-11-01 08:00:00
L3,kim@initech.io,Initech,,CTO,40,web,2026-10-31 11:00:00
L4,bad-email,Unknown Widgets,,Analyst,,list,2026-11-01 08:00:00
L5,li@newco.com,Newco,,CEO,12,web,2026-11-01 08:00:00
L6,mo@other.org,Other,,CEO,12,web,2026-11-01 08:00:00
L7,ng@third.net,Third,,CEO,12,web,2026-11-01 08:00:00
"""
SPEC = """\
as_of: 2026-11-01
data:
  accounts: {path: data/accounts.csv}
  reps: {path: data/reps.csv}
  leads: {path: data/leads.csv}
fit: {criteria: [{name: size, field: employees, at_least: 1000, points: 10}]}
signals: {weight: 30}
engagement: {weight: 30}
tiers:
  - {name: A, min_score: 40}
  - {name: B, min_score: 0}
routing:
  rules:
    - {name: tier_a, when: "account_tier == 'A'", to: account_owner, sla_minutes: 60, fallback: enterprise_queue}
    - {name: known_account, when: "match_status == 'matched'", to: account_owner, sla_minutes: 240, fallback: sdr_queue}
    - {name: inbound_web, when: "lead_source == 'web'", to: pool, target: sdr_pool, pool: [R2, R3, R4],
       sla_minutes: 120, fallback: sdr_queue}
  default: {name: nurture, to: queue, target: nurture}
"""
NOW = datetime(2026, 11, 1, 9, 0)


@pytest.fixture
def spec(write_file) -> Path:
    write_file("data/accounts.csv", ACCOUNTS)
    write_file("data/reps.csv", REPS)
    write_file("data/leads.csv", LEADS)
    return write_file("spec.yaml", SPEC)


def _decisions(out: Path) -> dict[str, dict]:
    return {r["lead_id"]: r for r in pd.read_csv(out / "decisions.csv").to_dict("records")}


def test_every_lead_is_matched_routed_and_explained(spec, tmp_path):
    result = route(spec, tmp_path / "out", now=NOW)
    d = _decisions(tmp_path / "out")
    assert {k: (v["rule"], v["target"]) for k, v in d.items()} == {
        "L1": ("tier_a", "R1"),                 # acme.com -> A1 (tier A) -> its owner
        "L2": ("known_account", "sdr_queue"),   # gmail skipped, name matched Globex; its owner R9 is inactive
        "L3": ("known_account", "sdr_queue"),   # Initech has no owner
        "L4": ("nurture", "nurture"),           # malformed email, unknown company: the default
        "L5": ("inbound_web", "R2"),            # round-robin over active reps (R4 is inactive)
        "L6": ("inbound_web", "R3"),
        "L7": ("inbound_web", "R2"),
    }
    assert "account owner R9 is inactive" in d["L2"]["why"]
    assert d["L1"]["sla_due"].startswith("2026-11-01 09:30") or d["L1"]["sla_due"].startswith("2026-11-01T09:30")
    s = result.summary
    assert (s["leads"], s["routed"], s["replayed"]) == (7, 7, 0)
    assert s["matches"] == {"matched": 3, "unmatched": 4}
    assert s["fallbacks"] == {"no_owner": 1, "owner_inactive": 1}
    assert s["sla_breaches"] == 1  # only L3 (created yesterday, due within 4 h); the others are not due yet
    matches = pd.read_csv(tmp_path / "out" / "matches.csv")
    assert len(matches) == 7 and "malformed email 'bad-email'" in matches.set_index("lead_id").loc["L4", "reason"]


def test_sending_the_same_leads_twice_assigns_nothing_twice(spec, tmp_path):
    first = route(spec, tmp_path / "a", now=NOW)
    second = route(spec, tmp_path / "b", now=datetime(2026, 11, 1, 10, 0))
    assert (second.summary["routed"], second.summary["replayed"]) == (0, 7)
    a, b = _decisions(tmp_path / "a"), _decisions(tmp_path / "b")
    assert {k: v["target"] for k, v in a.items()} == {k: v["target"] for k, v in b.items()}
    log = Path(first.summary["audit_log"])
    decisions_logged = [json.loads(x) for x in log.read_text().splitlines() if '"lead_id"' in x]
    assert len(decisions_logged) == 7
    # a new lead continues the pool's rotation from the saved state
    leads = spec.parent / "data" / "leads.csv"
    leads.write_text(leads.read_text() + "L8,pat@fourth.biz,Fourth,,CEO,12,web,2026-11-01 08:00:00\n")
    third = route(spec, tmp_path / "c", now=NOW)
    assert (third.summary["routed"], third.summary["replayed"]) == (1, 7)
    assert _decisions(tmp_path / "c")["L8"]["target"] == "R3"


def test_cli_and_bad_input(spec, tmp_path, write_file):
    runner = CliRunner()
    result = runner.invoke(app, ["leads", "route", str(spec), "--out", str(tmp_path / "out"),
                                 "--now", "2026-11-01T09:00"])
    assert result.exit_code == 0, result.output
    assert "7 leads: 7 routed, 0 already in the audit log" in result.output
    bad = runner.invoke(app, ["leads", "route", str(spec), "--now", "yesterday"])
    assert bad.exit_code == 1 and "--now must be an ISO date-time" in bad.output
    no_routing = write_file("plain.yaml", SPEC.split("routing:")[0])
    with pytest.raises(DataError, match="the spec has no 'routing:' section"):
        route(no_routing, tmp_path / "x", now=NOW)
