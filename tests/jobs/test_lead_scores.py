"""``tierwise leads score``: fit + behaviour + negatives, caps, decay, MQL, segments, roll-up — by hand."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from tierwise.cli.main import app
from tierwise.errors import DataError
from tierwise.jobs.lead_scores import score_leads
from tierwise.jobs.leads import route

ACCOUNTS = """\
account_id,name,domain,owner_id,employees,industry
A1,Acme Corp,acme.com,R1,5000,Software
A2,Globex Inc,globex.com,R1,300,Retail
A3,Initech,initech.io,,40,Software
"""
CONTACTS = """\
contact_id,account_id,email,title,persona,created_at
C1,A1,ann@acme.com,VP Sales,economic_buyer,2026-01-01
C2,A1,bo@acme.com,Data Analyst,,2026-01-01
C3,A2,cy@globex.com,CTO,,2026-01-01
"""
ACTIVITIES = """\
account_id,contact_id,event_type,occurred_at
A1,C1,pricing_page_visit,2026-10-30
A1,C1,Pricing_Page_Visit,2026-10-25
A1,,intent_surge,2026-10-30
A2,C3,webinar_attended,2026-07-24
"""
LEADS = """\
lead_id,email,company,title,employees,lead_source,created_at
L1,jane@acme.com,Acme,VP Marketing,5000,web,2026-10-20
L2,joe@gmail.com,Globex Incorporated,Sales Manager,300,event,2026-10-01
L3,kim@rival.com,Rival,CTO,,web,2026-10-01
L4,bad-email,Unknown Widgets,Analyst,5,list,2026-11-01
L5,li@initech.io,Initech,Director of IT,2000,web,2026-05-01
"""
LEAD_ACTIVITIES = """\
lead_id,event_type,occurred_at
L1,demo_request,2026-10-30
L1,pricing_page_visit,2026-10-20
L1,pricing_page_visit,2026-10-25
L1,pricing_page_visit,2026-10-28
L1,page_view,2026-10-31
L2,content_download,2026-10-15
L2,content_download,2026-10-10
L3,demo_request,2026-10-29
L5,webinar_attended,2026-06-01
L9,page_view,2026-10-30
L1,demo_request,2026-12-01
"""
LEAD_SCORING = """\
lead_scoring:
  fit:
    - {name: title, field: title, contains: {chief: 20, cto: 20, vp: 15, director: 10, manager: 5}}
    - name: size
      field: employees
      bands: [{min: 1000, points: 10}, {min: 200, max: 1000, points: 5}]
  behaviour:
    - name: high_intent
      cap: 40
      events: {demo_request: 30, pricing_page_visit: {points: 10, cap: 20}}
    - {name: content, cap: 15, events: {content_download: 5, webinar_attended: 10}}
  negatives:
    competitor: {points: -50, domains: [rival.com]}
    wrong_size: {min: 10}
  mql: {MQL}
  personas: {economic_buyer: [vp, chief], technical_buyer: [cto], user: [analyst]}
  committee: [economic_buyer, technical_buyer]
  segments:
    rules:
      - {name: demo_invite, when: "event_count('pricing_page_visit', 14) >= 1", motion: "demo invite, high-touch SDR"}
      - {name: sales_ready, when: "is_mql", motion: "SDR call"}
    default: {name: nurture, motion: marketing nurture}
"""
SPEC = """\
as_of: 2026-11-01
data:
  accounts: {path: data/accounts.csv}
  contacts: {path: data/contacts.csv}
  activities: {path: data/activities.csv}
  leads: {path: data/leads.csv}
  lead_activities: {path: data/lead_activities.csv}
  reps: {path: data/reps.csv}
fit: {criteria: [{name: size, field: employees, at_least: 1000, points: 10}]}
"""
REPS = """\
rep_id,name,role,active
R1,Ann,enterprise_ae,true
R2,Bob,sdr,true
R3,Cy,sdr,true
"""
ROUTING = """\
routing:
  rules:
    - {name: hot, when: "lead_segment == 'demo_invite' and is_mql", to: pool, target: sdr, pool: [R2, R3],
       sla_minutes: 60, fallback: sdr_queue}
    - {name: mql, when: "is_mql", to: queue, target: mql_queue}
  default: {name: nurture, to: queue, target: nurture}
"""


@pytest.fixture
def workspace(write_file):
    def make(mql: str = "{threshold: 40}", routing: bool = False) -> Path:
        for name, text in (("accounts", ACCOUNTS), ("contacts", CONTACTS), ("activities", ACTIVITIES),
                           ("leads", LEADS), ("lead_activities", LEAD_ACTIVITIES), ("reps", REPS)):
            write_file(f"data/{name}.csv", text)
        return write_file("spec.yaml", SPEC + LEAD_SCORING.replace("{MQL}", mql) + (ROUTING if routing else ""))
    return make


def _rows(path: Path, key: str) -> dict[str, dict]:
    return {r[key]: r for r in pd.read_csv(path, keep_default_na=False).to_dict("records")}


def test_lead_scores_by_hand(workspace, tmp_path):
    result = score_leads(workspace(), tmp_path / "out")
    leads = _rows(tmp_path / "out" / "leads.csv", "lead_id")
    got = {k: (r["fit_points"], r["behaviour_points"], r["negative_points"], r["lead_score"], r["is_mql"],
               r["lead_segment"]) for k, r in leads.items()}
    assert got == {
        # vp 15 + size 10; demo 30 + 3 pricing visits (30, type cap 20) = 50, group cap 40; future event ignored
        "L1": (25.0, 40.0, 0.0, 65.0, True, "demo_invite"),
        # manager 5 + size 5; 2 downloads 10; gmail -15
        "L2": (10.0, 10.0, -15.0, 5.0, False, "nurture"),
        # cto 20, size unknown (no points, no penalty); demo 30; competitor -50 -> clipped to 0
        "L3": (20.0, 30.0, -50.0, 0.0, False, "nurture"),
        # nothing; 5 employees is below the minimum size: -20 -> 0
        "L4": (0.0, 0.0, -20.0, 0.0, False, "nurture"),
        # director 10 + size 10; webinar 10; idle 153 days = 5 months: 30 x 0.75^5
        "L5": (20.0, 10.0, 0.0, 7.12, False, "nurture"),
    }
    assert leads["L5"]["decay_factor"] == pytest.approx(0.75 ** 5, abs=1e-4)
    assert leads["L1"]["breakdown"] == ("title = VP Marketing +15; employees = 5000 +10; "
                                        "high_intent: demo_request x1, pricing_page_visit x3 +40 (cap 40)")
    assert leads["L2"]["breakdown"] == ("title = Sales Manager +5; employees = 300 +5; content: content_download x2 +10; "
                                        "personal email (gmail.com) -15")
    assert leads["L5"]["breakdown"].endswith("idle 5 months x0.24")
    assert leads["L4"]["breakdown"] == "wrong size (employees 5) -20; malformed email"
    assert leads["L4"]["email_valid"] is False and leads["L1"]["email_valid"] is True
    assert leads["L3"]["penalty__competitor"] == -50.0 and leads["L1"]["behaviour__high_intent"] == 40.0
    assert leads["L1"]["persona"] == "economic_buyer" and leads["L3"]["persona"] == "technical_buyer"

    s = result.summary["leads"]
    assert (s["people"], s["mql"], s["mql_threshold"], s["malformed_emails"]) == (5, 1, 40.0, 1)
    assert s["events"] == {"events": 11, "unscored_types": {"page_view": 2}, "unknown_person": 1}


def test_contacts_inherit_account_fields_and_roll_up(workspace, tmp_path):
    result = score_leads(workspace(), tmp_path / "out")
    contacts = _rows(tmp_path / "out" / "contacts.csv", "contact_id")
    assert {k: (r["fit_points"], r["behaviour_points"], r["lead_score"], r["persona"]) for k, r in contacts.items()} == {
        "C1": (25.0, 20.0, 45.0, "economic_buyer"),   # two pricing visits (one typed "Pricing_Page_Visit")
        "C2": (10.0, 0.0, 0.56, "user"),              # persona from the title; idle since January: 10 months
        "C3": (25.0, 10.0, 14.77, "technical_buyer"),  # webinar 100 days ago: 3 months x 0.4219
    }
    accounts = _rows(tmp_path / "out" / "accounts.csv", "account_id")
    a1, a2, a3 = accounts["A1"], accounts["A2"], accounts["A3"]
    assert (a1["contacts"], a1["engaged_contacts"], a1["mql_contacts"], a1["contact_engagement"]) == (2, 1, 1, 20.0)
    assert (a1["personas_present"], a1["committee_coverage"], a1["missing_personas"]) == (
        "economic_buyer;user", 0.5, "technical_buyer")
    assert (a2["personas_present"], a2["committee_coverage"], a2["missing_personas"]) == (
        "technical_buyer", 0.5, "economic_buyer")
    assert (a3["contacts"], a3["committee_coverage"], a3["missing_personas"]) == (
        0, 0.0, "economic_buyer;technical_buyer")
    assert result.summary["accounts"]["full_committee"] == 0
    assert result.summary["contacts"]["events"]["unscored_types"] == {}


def test_top_share_never_exceeds_the_share(workspace, tmp_path):
    result = score_leads(workspace("{top_share: 0.2}"), tmp_path / "out")
    leads = _rows(tmp_path / "out" / "leads.csv", "lead_id")
    assert [k for k, r in leads.items() if r["is_mql"]] == ["L1"]
    assert result.summary["leads"]["mql_threshold"] == 65.0
    result = score_leads(workspace("{top_share: 0.5}"), tmp_path / "out2")
    # 2.5 of 5 allowed: L1 and L2 (5.0) are the top two; L5 (7.12) is above L2 -> L1, L5
    leads = _rows(tmp_path / "out2" / "leads.csv", "lead_id")
    assert sorted(k for k, r in leads.items() if r["is_mql"]) == ["L1", "L5"]
    # zero scores are never MQL, whatever the share
    result = score_leads(workspace("{top_share: 0.99}"), tmp_path / "out3")
    assert result.summary["leads"]["mql"] == 3


def test_reruns_are_byte_identical(workspace, tmp_path):
    spec = workspace()
    score_leads(spec, tmp_path / "a")
    score_leads(spec, tmp_path / "b")
    for name in ("leads.csv", "contacts.csv", "accounts.csv", "summary.json", "leads.parquet"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_routing_reads_lead_scores(workspace, tmp_path):
    result = route(workspace(routing=True), tmp_path / "routing", now=datetime(2026, 11, 1, 9))
    decisions = _rows(tmp_path / "routing" / "decisions.csv", "lead_id")
    assert {k: (r["rule"], r["target"]) for k, r in decisions.items()} == {
        "L1": ("hot", "R2"), "L2": ("nurture", "nurture"), "L3": ("nurture", "nurture"),
        "L4": ("nurture", "nurture"), "L5": ("nurture", "nurture")}
    assert result.summary["routed"] == 5


def test_routing_on_lead_scores_needs_the_section(write_file):
    from tierwise.spec.loader import SpecError, load_spec

    write_file("data/accounts.csv", ACCOUNTS)
    spec = write_file("spec.yaml", SPEC + ROUTING)
    with pytest.raises(SpecError, match=r"routing.rules\[0\].when: reads is_mql, lead_segment, which needs a "
                                        r"'lead_scoring:' section"):
        load_spec(spec)


def test_spec_without_lead_scoring_is_a_clear_error(write_file, tmp_path):
    write_file("data/accounts.csv", ACCOUNTS)
    spec = write_file("spec.yaml", SPEC)
    with pytest.raises(DataError, match="no 'lead_scoring:' section"):
        score_leads(spec, tmp_path / "out")


def test_cli(workspace, tmp_path):
    out = tmp_path / "cli"
    res = CliRunner().invoke(app, ["leads", "score", str(workspace()), "--out", str(out)])
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())  # the console wraps at its width
    assert "leads: 5 scored, 1 MQL (20%) at 40+ points" in text
    assert "page_view 2" in text and "1 events name a lead that is not in the table" in text
    assert "mean coverage 33%" in text
    assert json.loads((out / "summary.json").read_text())["contacts"]["mql"] == 1


def test_a_malformed_email_earns_no_domain_penalty(workspace, tmp_path, write_file):
    spec = workspace()
    write_file("data/leads.csv", LEADS + "L6,leo murphy@rival.com,Rival,VP Sales,500,web,2026-10-30\n")
    score_leads(spec, tmp_path / "out")
    row = _rows(tmp_path / "out" / "leads.csv", "lead_id")["L6"]
    assert (row["penalty__competitor"], row["email_valid"]) == (0.0, False)
    assert row["breakdown"].endswith("malformed email") and "competitor" not in row["breakdown"]
