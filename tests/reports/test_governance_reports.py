"""Segment performance, funnel, guardrails, ICP coverage, drift and pipeline governance on a workspace small
enough to compute every figure by hand (the arithmetic is in the comments)."""

from __future__ import annotations

import csv
import json
import math
from datetime import date
from pathlib import Path

import ibis
import pyarrow as pa
import pytest

from tierwise.jobs.governance import pipeline, report
from tierwise.jobs.score import score
from tierwise.models.stats import wilson_interval
from tierwise.reports import drift as D
from tierwise.reports import guardrails as GR
from tierwise.reports import performance as P
from tierwise.reports.pipeline import still_open_rates
from tierwise.spec import load_spec
from tierwise.spec.loader import load_spec_text
from tierwise.store.history import open_history

AS_OF = date(2026, 11, 1)
EARLIER = date(2026, 8, 1)

SPEC = """\
name: governance test
as_of: 2026-11-01
data:
  accounts: {path: accounts.csv}
  opportunities: {path: opportunities.csv, attributes: {stall_reason: string}}
  leads: {path: leads.csv, attributes: {account_id: string}}
  reps: {path: reps.csv}
fit:
  weight: 100
  criteria:
    - {name: size, field: employees, bands: [{min: 1000, points: 10}, {min: 100, max: 1000, points: 7},
                                             {min: 10, max: 100, points: 4}]}
signals: {weight: 0}
engagement: {weight: 0}
segments:
  rules:
    - {name: Enterprise, when: "employees >= 1000", priority: P1, motion: field_sales, touches_per_month: [6, 8],
       owner_role: ae}
    - {name: Mid, when: "employees >= 100", priority: P2, motion: inside_sales, touches_per_month: [3, 4],
       owner_role: ae}
  default: {name: Small, priority: P5, motion: Inside_Sales, touches_per_month: [3, 4], owner_role: ae}
governance:
  min_deals: 2
  funnel: {min_records: 2, opportunity_stages: [Discovery, Proposal]}
  pipeline: {exclude_when: "stall_reason in ['legal review']"}
"""
# score = fit = 100 x points / 10: 1000+ employees 100 (tier A, Enterprise), 100-999 70 (B, Mid),
# 10-99 40 (C, Small), below 10 0 (D, Small)
ACCOUNTS_NOW = {"A1": 5000, "A2": 5000, "A3": 5000, "A4": 500, "A5": 500, "A6": 500, "A7": 50, "A8": 50, "A9": 50,
                "A10": 5}
ACCOUNTS_EARLIER = {**ACCOUNTS_NOW, "A1": 50, "A10": 500}  # A1 was C/Small, A10 was B/Mid
OWNERS = {"A1": "r1", "A2": "r1", "A3": "r1", "A4": "r1", "A5": "r2", "A6": "r2", "A7": "", "A8": "r2", "A9": "r2",
          "A10": ""}
OPPORTUNITIES = """\
opportunity_id,account_id,name,stage,amount,created_at,closed_at,is_closed,is_won,owner_id,stage_changed_at,stall_reason
O1,A1,Acme 1,Closed Won,100,2026-01-01,2026-03-02,true,true,r1,,
O2,A2,Acme 2,Closed Won,200,2026-02-01,2026-03-13,true,true,r1,,
O3,A3,Acme 3,Closed Lost,50,2026-01-01,2026-04-01,true,false,r1,,
O4,A1,Acme 4,Proposal,1000,2026-10-01,,false,,r1,2026-10-20,
O5,A4,Mid 1,Closed Won,80,2026-05-01,2026-05-21,true,true,r1,,
O6,A5,Mid 2,Closed Lost,30,2026-05-01,2026-06-30,true,false,r2,,
O7,A6,Mid 3,Closed Lost,30,2026-05-01,2026-07-30,true,false,r2,,
O8,A4,Mid 4,Discovery,500,2026-06-01,,false,,r1,2026-06-01,
O9,A7,Small 1,Discovery,300,2026-08-01,,false,,,,legal review
O10,A8,Small 2,Proposal,200,2026-09-01,,false,,r2,2026-09-26,
O11,A9,Small 3,Closed Lost,10,2026-07-01,2026-07-11,true,false,r2,,
O12,A10,Tiny 1,Discovery,100,2026-10-25,,false,,,,
O13,X99,Ghost,Discovery,100,2026-10-25,,false,,,,
"""
LEADS = "lead_id,status,account_id\n" + "".join(
    f"L{i},{status},{acc}\n" for i, (status, acc) in enumerate(
        [("new", "A1"), ("new", "A2"), ("new", "A7"), ("new", ""), ("mql", "A1"), ("mql", "A7"), ("MQL ", "A8"),
         ("sql", "A1"), ("sql", "A4"), ("converted", "A2")], start=1))
REPS = "rep_id,name,active\nr1,Rita,true\nr2,Raj,true\nr3,Ron,false\n"


def _accounts(employees: dict[str, int]) -> str:
    return "account_id,name,employees,owner_id\n" + "".join(
        f"{a},Company {a},{n},{OWNERS[a]}\n" for a, n in employees.items())


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    """Two recorded runs: a quarter ago (ACCOUNTS_EARLIER) and now (ACCOUNTS_NOW)."""
    ws = tmp_path_factory.mktemp("governance")
    (ws / "spec.yaml").write_text(SPEC, encoding="utf-8")
    (ws / "opportunities.csv").write_text(OPPORTUNITIES, encoding="utf-8")
    (ws / "leads.csv").write_text(LEADS, encoding="utf-8")
    (ws / "reps.csv").write_text(REPS, encoding="utf-8")
    (ws / "accounts.csv").write_text(_accounts(ACCOUNTS_EARLIER), encoding="utf-8")
    first = score(ws / "spec.yaml", ws / "out-earlier", as_of=EARLIER)
    (ws / "accounts.csv").write_text(_accounts(ACCOUNTS_NOW), encoding="utf-8")
    second = score(ws / "spec.yaml", ws / "out-now", as_of=AS_OF)
    assert first.run["status"] == second.run["status"] == "recorded"
    return ws / "spec.yaml"


@pytest.fixture(scope="module")
def result(workspace):
    return report(workspace, workspace.parent / "report")


@pytest.fixture(scope="module")
def payload(result):
    return result.payload


def by_group(rows, name):
    return next(r for r in rows if r["group"] == name)


# --------------------------------------------------------------------------- performance


def test_segment_performance_by_hand(payload):
    perf = payload["performance"]
    assert [r["group"] for r in perf["by_segment"]] == ["Enterprise", "Mid", "Small"]  # spec order
    ent = by_group(perf["by_segment"], "Enterprise")
    # O1 won 100 (60 days), O2 won 200 (40 days), O3 lost; O4 open 1000
    assert (ent["accounts"], ent["share"], ent["decided"], ent["won"]) == (3, 0.3, 3, 2)
    assert (ent["open_deals"], ent["open_value"], ent["acv"], ent["median_cycle_days"]) == (1, 1000.0, 150.0, 50.0)
    low, high = wilson_interval([2], [3])
    assert ent["win_rate"] == round(2 / 3, 4)
    assert (ent["ci_low"], ent["ci_high"]) == (round(float(low[0]), 4), round(float(high[0]), 4))
    small = by_group(perf["by_segment"], "Small")
    # O9 300 + O10 200 + O12 100 open; O11 lost
    assert (small["accounts"], small["open_deals"], small["open_value"], small["decided"], small["won"]) == (
        4, 3, 600.0, 1, 0)
    assert small["judged"] is False and small["acv"] is None and small["median_cycle_days"] is None
    tiers = {r["group"]: r for r in perf["by_tier"]}
    assert list(tiers) == ["A", "B", "C", "D"]
    assert (tiers["B"]["decided"], tiers["B"]["won"], tiers["B"]["acv"]) == (3, 1, 80.0)
    assert (tiers["D"]["accounts"], tiers["D"]["open_deals"], tiers["D"]["decided"]) == (1, 1, 0)
    overall = perf["overall"]
    assert (overall["accounts"], overall["decided"], overall["won"], overall["open_deals"]) == (10, 7, 3, 5)


def test_the_deal_of_an_unknown_account_is_quarantined(payload):
    opp = payload["inputs"]["opportunities"]
    assert (opp["read"], opp["loaded"], opp["quarantined"]) == (13, 12, 1)
    assert opp["reasons"] == {"unknown account_id": 1}


def test_stage_conversion_counts_the_deals_that_reached_each_stage(payload):
    sc = payload["stage_conversion"]
    assert sc["stages"] == ["Discovery", "Proposal", "Closed Won"] and sc["order_source"] == "spec"
    overall = [(r["from_stage"], r["to_stage"], r["reached_from"], r["reached_to"], r["rate"])
               for r in sc["rows"] if r["group_kind"] == "all"]
    # reached Discovery: all 12; Proposal: open at Proposal (O4, O10) + won (O1, O2, O5) = 5; Closed Won: 3
    assert overall == [("Discovery", "Proposal", 12, 5, round(5 / 12, 4)), ("Proposal", "Closed Won", 5, 3, 0.6)]
    ent = [r for r in sc["rows"] if r["group_kind"] == "segment" and r["group"] == "Enterprise"]
    assert [(r["reached_from"], r["reached_to"]) for r in ent] == [(4, 3), (3, 2)]


def test_the_funnel_is_measured_on_leads_and_deals(payload):
    rows = {(r["group_kind"], r["group"], r["step"]): r for r in payload["funnel"]["rows"]}
    # 10 leads: 3 mql (one written "MQL "), 2 sql, 1 converted -> reached mql 6, sql 3, opportunity 1
    lead_mql = rows[("all", "all", "Lead→MQL")]
    assert (lead_mql["source"], lead_mql["n_from"], lead_mql["n_to"], lead_mql["rate"]) == ("leads", 10, 6, 0.6)
    assert lead_mql["flag"] == "in line"  # 60% vs 39%, but the 95% interval (31%-83%) holds 39%
    assert (rows[("all", "all", "MQL→SQL")]["n_from"], rows[("all", "all", "MQL→SQL")]["n_to"]) == (6, 3)
    assert rows[("all", "all", "SQL→Opportunity")]["rate"] == round(1 / 3, 4)
    won = rows[("all", "all", "SQL→Closed Won")]
    assert (won["source"], won["n_from"], won["n_to"]) == ("opportunities", 7, 3)
    # leads carry account_id: by segment too (L4 has none and is only counted overall)
    ent = rows[("segment", "Enterprise", "Lead→MQL")]
    assert (ent["n_from"], ent["n_to"]) == (5, 3)  # L1 L2 L5 L8 L10 at A1/A2; L5 mql, L8 sql, L10 converted
    assert any("won / decided" in n for n in payload["funnel"]["notes"])


def test_the_funnel_flags_a_step_far_below_its_benchmark():
    # 100 leads, 10 MQL: 10% against 39%, interval 5.5%-17.4%: below; a segment explains it
    leads = ibis.memtable({"status": ["mql"] * 10 + ["new"] * 90, "account_id": ["X"] * 100})
    run = ibis.memtable({"account_id": ["X"], "segment": ["S"], "tier": ["A"], "owner_id": ["r1"],
                         "score": [1.0], "fit_score": [1.0], "signal_score": [0.0], "engagement_score": [0.0]})
    spec = load_spec_text("data: {accounts: {path: a.csv}}\nfit: {weight: 0}\nsignals: {weight: 75}\n").spec
    from tierwise.engine import connect

    with connect() as engine:
        out = P.funnel(engine, engine.register(run.to_pyarrow()), None, engine.register(leads.to_pyarrow()), spec)
    rows = {(r["group_kind"], r["step"]): r for r in out["rows"]}
    assert rows[("all", "Lead→MQL")]["flag"] == "below" and rows[("all", "Lead→MQL")]["deviation"] == round(
        0.1 / 0.39 - 1, 4)
    assert rows[("all", "MQL→SQL")]["flag"] == "not measured"  # no lead reached SQL
    # segments first (the seed's segment-specific fix), then tiers; the overall row only without either
    assert [(i["group_kind"], i["group"], i["step"]) for i in out["interventions"]] == [
        ("segment", "S", "Lead→MQL"), ("tier", "A", "Lead→MQL")]
    assert out["interventions"][0]["shortfall"] == round((0.39 - 0.1) * 100, 1)


def test_judging_against_a_benchmark():
    assert P.judge(0.2, 0.12, 0.3, n=100, benchmark=0.39, deviation=0.2, min_records=30) == "below"
    assert P.judge(0.35, 0.3, 0.41, n=300, benchmark=0.39, deviation=0.2, min_records=30) == "in line"
    assert P.judge(0.6, 0.5, 0.7, n=100, benchmark=0.39, deviation=0.2, min_records=30) == "above"
    assert P.judge(0.0, 0.0, 0.2, n=10, benchmark=0.39, deviation=0.2, min_records=30) == "too few"


# --------------------------------------------------------------------------- tiers, guardrails, ICP


def test_tiers_predict_outcomes_when_win_rate_falls(payload):
    t = payload["tier_check"]
    assert t["status"] == "ok" and t["not_judged"] == ["C", "D"]  # C has one decided deal, D none
    assert t["pairs"][0]["higher"] == "A" and t["pairs"][0]["inverted"] is False


def test_an_inverted_tier_is_flagged():
    spec = load_spec_text("data: {accounts: {path: a.csv}}\nfit: {weight: 0}\nsignals: {weight: 75}\n"
                          "governance: {min_deals: 10}\n").spec
    rows = [{"group": "A", "decided": 100, "won": 20, "win_rate": 0.2}, {"group": "B", "decided": 100, "won": 45,
                                                                          "win_rate": 0.45},
            {"group": "C", "decided": 100, "won": 40, "win_rate": 0.4}, {"group": "D", "decided": 5, "won": 0,
                                                                         "win_rate": 0.0}]
    t = P.tier_check(rows, spec)
    assert t["status"] == "alert" and t["not_judged"] == ["D"]
    assert [(p["higher"], p["lower"], p["inverted"], p["significant"]) for p in t["pairs"]] == [
        ("A", "B", True, True), ("B", "C", False, False)]
    assert "tier B wins 45.0% vs tier A 20.0% (significant)" in t["message"]


def test_guardrails_on_the_workspace(payload):
    g = payload["guardrails"]
    shares = {s["segment"]: (s["share"], s["status"]) for s in g["segment_shares"]}
    assert shares == {"Enterprise": (0.3, "ok"), "Mid": (0.3, "ok"), "Small": (0.4, "ok")}
    # Mid and Small: same motion (case-insensitive), touches and owner role -> merge
    assert g["merges"] == [{"segments": ["Mid", "Small"], "profile": "motion 'inside_sales', 3-4 touches a month, "
                                                                     "owner role 'ae'"}]
    assert g["actionable"] is False
    cov = g["coverage"]
    tiers = {t["tier"]: t for t in cov["tiers"]}
    assert (tiers["A"]["accounts"], tiers["A"]["reps_needed"], tiers["A"]["owners"]) == (3, [1, 1], 1)
    assert tiers["C"]["model"] == "pooled" and tiers["D"]["model"] == "none" and tiers["C"]["unowned"] == 1
    assert (cov["reps_available"], cov["reps_needed"]) == (2, [1, 1])  # r3 is inactive
    loads = {r["owner_id"]: r["load"] for r in cov["reps"]}
    assert loads == {"r1": round(3 / 20 + 1 / 45, 3), "r2": round(2 / 45 + 2 / 150, 3)}


def test_rep_capacity_and_segment_size_warnings(engine):
    spec = load_spec_text("data: {accounts: {path: a.csv}}\nfit: {weight: 0}\nsignals: {weight: 75}\n").spec
    n = 100
    run = pa.table({"account_id": [f"A{i}" for i in range(n)], "owner_id": ["r1"] * 25 + [None] * 75,
                    "score": [90.0] * 25 + [10.0] * 75, "fit_score": [0.0] * n, "signal_score": [0.0] * n,
                    "engagement_score": [0.0] * n, "tier": ["A"] * 25 + ["D"] * 75,
                    "segment": ["Unsegmented"] * n})
    g = GR.guardrails(engine, engine.register(run), spec)
    checks = {(c["check"], c["subject"]): c for c in g["checks"]}
    assert checks[("segment share", "Unsegmented")]["status"] == "warn"  # 100% of accounts: too broad
    over = checks[("rep capacity", "tier A")]
    assert over["value"] == 1 and "more than 20 tier-A accounts" in over["message"]
    assert checks[("rep load", "1 rep(s)")]["value"] == 1.25  # 25 / 20
    assert checks[("team capacity", "all")]["status"] == "warn"  # needs 2, one owner
    assert g["coverage"]["reps_source"] == "distinct account owners (no reps table)"


def test_icp_coverage_against_the_targets(payload):
    icp = payload["icp"]
    assert (icp["icp_accounts"], icp["accounts"]) == (6, 10)  # fit_score >= 65: A1-A6
    # open deals: O4 (A1) and O8 (A4) of O4 O8 O9 O10 O12 are ICP
    assert (icp["open"]["deals"], icp["open"]["icp_deals"], icp["open"]["count_share"]) == (5, 2, 0.4)
    assert icp["open"]["status"] == "missed" and icp["open"]["value_share"] == round(1500 / 2100, 4)
    # won in the year to 2026-11-01: O1, O2, O5, all ICP
    assert (icp["won"]["deals"], icp["won"]["icp_deals"], icp["won"]["status"]) == (3, 3, "met")


# --------------------------------------------------------------------------- drift


def test_drift_against_the_earlier_run(payload):
    d = payload["drift"]
    assert payload["previous_run"]["as_of"] == "2026-08-01"
    m = d["migration"]
    assert m["from"] == m["to"] == ["A", "B", "C", "D"]
    # A1: C -> A, A10: B -> D; everyone else stays
    assert m["matrix"] == [[2, 0, 0, 0], [0, 3, 0, 1], [1, 0, 3, 0], [0, 0, 0, 0]]
    assert (m["changed"], m["moved_up"], m["moved_down"], m["changed_share"]) == (2, 1, 1, 0.2)
    fields = {f["field"]: f for f in d["fields"]}
    # tier shares before A .2 B .4 C .4 D 0; after .3 .3 .3 .1 (an empty bin counts as 0.0001)
    expected = D.psi([0.2, 0.4, 0.4, 0.0], [0.3, 0.3, 0.3, 0.1])
    assert fields["tier"]["psi"] == round(expected, 4) == round(
        0.1 * math.log(1.5) + 2 * 0.1 * math.log(4 / 3) + (0.1 - 1e-4) * math.log(0.1 / 1e-4), 4)
    assert fields["tier"]["status"] == "alert"
    emp = fields["employees"]
    assert emp["attribute"] is True and emp["kind"] == "number"
    # earlier deciles of [50 x4, 500 x4, 5000 x2] -> edges 50, 320, 500, 1400, 5000: shares .4 .4 .2 -> .4 .3 .3
    assert [b["bin"] for b in emp["bins"] if b["before"] or b["after"]] == ["<= 50", "320 - 500", "1400 - 5000"]
    assert emp["psi"] == round(D.psi([0.4, 0.4, 0.2], [0.4, 0.3, 0.3]), 4) and emp["status"] == "ok"
    subjects = {a["subject"] for a in d["alerts"]}
    # score, fit_score and segment move like employees (PSI 0.069 < 0.1); 20% changed tier: the alert threshold
    assert subjects == {"tier", "tier migration"}
    assert fields["segment"]["psi"] == fields["score"]["psi"] == emp["psi"]
    assert d["changes"] == {"events": 4, "segment": 2, "tier_down": 1, "tier_up": 1}


def test_numeric_psi_bins_at_the_earlier_runs_quantiles(engine):
    before = engine.register(pa.table({"x": [float(v) for v in range(1, 11)]}))
    after = engine.register(pa.table({"x": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, None, None]}))
    row = D.numeric_drift(engine, before, after, "x", 2)  # one edge: the median 5.5
    assert [b["bin"] for b in row["bins"]] == ["<= 5.5", "> 5.5", "(missing)"]
    assert [(b["before"], b["after"]) for b in row["bins"]] == [(0.5, 0.5), (0.5, 0.3), (0.0, 0.2)]
    assert row["psi"] == round(D.psi([0.5, 0.5, 0.0], [0.5, 0.3, 0.2]), 4)


def test_the_report_files(result, workspace):
    out = workspace.parent / "report"
    names = {Path(f).name for f in result.files.values()}
    assert {"report.json", "segments.csv", "tiers.csv", "stage_conversion.csv", "funnel.csv", "guardrails.csv",
            "rep_capacity.csv", "icp.csv", "alerts.csv", "psi.csv", "migration.csv", "changes.csv"} <= names
    assert json.loads((out / "report.json").read_text())["run"]["run_id"] == result.run.run_id
    with (out / "segments.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert [r["group"] for r in rows] == ["Enterprise", "Mid", "Small"] and rows[0]["win_rate"] == "0.6667"
    with (out / "changes.csv").open() as fh:
        changes = list(csv.DictReader(fh))
    assert [(c["account_id"], c["change"], c["from_value"], c["to_value"]) for c in changes] == [
        ("A1", "segment", "Small", "Enterprise"), ("A1", "tier", "C", "A"),
        ("A10", "segment", "Mid", "Small"), ("A10", "tier", "B", "D")]
    # the HTML is the dashboard's segment-performance view (tierwise report --html)
    from tierwise.web.app import render_view

    page = render_view("performance", result.payload)
    assert page.count('class="mark"') >= 6 and "Enterprise" in page and "Funnel against the B2B benchmarks" in page
    assert "http://" not in page and "https://" not in page and "<script" not in page


def test_reports_are_deterministic(workspace, tmp_path):
    one = report(workspace, tmp_path / "one")
    two = report(workspace, tmp_path / "two")
    for name in ("report.json", "segments.csv", "funnel.csv", "psi.csv", "changes.csv"):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes(), name
    assert one.run == two.run


def test_report_on_a_named_run_against_another(workspace, tmp_path):
    with open_history(str(workspace.parent / ".tierwise" / "history.duckdb")) as store:
        first, second = [r.run_id for r in store.runs()]
    r = report(workspace, tmp_path / "r", run_id=first)
    assert r.payload["run"]["run_id"] == first and r.payload["drift"] is None
    assert not (tmp_path / "r" / "psi.csv").exists()
    back = report(workspace, tmp_path / "b", run_id=first, against=second)
    assert back.payload["drift"]["migration"]["moved_up"] == 1


# --------------------------------------------------------------------------- pipeline


@pytest.fixture(scope="module")
def governed(workspace):
    return pipeline(workspace, workspace.parent / "pipeline")


def test_velocity_buckets_and_historical_win_rates(governed):
    p = governed.payload
    v = {r["bucket"]: r for r in p["velocity"]}
    # open ages: O4 31, O8 153, O9 92, O10 61, O12 7
    assert [v[b]["open_deals"] for b in ("0-25", "26-50", "51-90", "91-180", ">180")] == [1, 1, 1, 2, 0]
    # decided cycles: O5 20 won, O11 10 lost | O2 40 won | O1 60 won, O6 60, O3 90, O7 90 lost
    assert (v["0-25"]["closed_in_bucket"], v["0-25"]["closed_win_rate"]) == (2, 0.5)
    assert (v["51-90"]["closed_in_bucket"], v["51-90"]["closed_win_rate"]) == (4, 0.25)
    assert [v[b]["win_rate_if_still_open"] for b in v] == [round(3 / 7, 4), 0.4, 0.25, None, None]
    assert [v[b]["past_threshold"] for b in v] == [False, False, True, True, True]
    t = p["threshold"]
    assert (t["open_past_threshold"], t["open_value_past_threshold"]) == (3, 1000.0)  # O8 O9 O10
    assert (t["closed_within"]["decided"], t["closed_within"]["win_rate"]) == (3, round(2 / 3, 4))
    assert (t["closed_after"]["decided"], t["closed_after"]["win_rate"]) == (4, 0.25)


def test_time_in_stage(governed):
    s = {r["bucket"]: r for r in governed.payload["time_in_stage"]}
    # idle: O4 12, O12 7 (0-15), O10 36 (31-45), O8 153, O9 92 (>90)
    assert [s[b]["open_deals"] for b in ("0-15", "16-30", "31-45", "46-90", ">90")] == [2, 0, 1, 0, 2]
    # O4 is 31 days old (still-open rate 0.4), O12 7 (3/7)
    assert s["0-15"]["expected_win_rate"] == round((0.4 + 3 / 7) / 2, 4)
    stages = [r["stage"] for r in governed.payload["by_stage"]]
    assert stages == ["Discovery", "Proposal"]  # funnel order


def test_zombies_skip_deals_stalled_for_a_known_reason(governed, workspace):
    z = governed.payload["zombies"]
    # O10: fit 40 < 65, 36 days without a stage change -> requalify; O9 (92 days) is in legal review
    assert (z["deals"], z["requalify"]["deals"], z["close"]["deals"], z["excluded_known_stall"]) == (1, 1, 0, 1)
    assert z["examples"][0]["opportunity_id"] == "O10" and z["examples"][0]["owner_id"] == "r2"
    assert z["examples"][0]["reason"] == "fit_score 40.0 < 65; no stage change for 36 days"
    with (workspace.parent / "pipeline" / "zombies.csv").open() as fh:
        assert [r["opportunity_id"] for r in csv.DictReader(fh)] == ["O10"]
    from tierwise.web.app import render_view

    page = render_view("pipeline", governed.payload)
    assert "Velocity buckets" in page and "requalify" in page and "https://" not in page


def test_zombies_without_the_exclusion(workspace, tmp_path):
    text = workspace.read_text().replace("  pipeline: {exclude_when: \"stall_reason in ['legal review']\"}\n", "")
    spec = tmp_path / "spec.yaml"
    spec.write_text(text.replace("path: ", f"path: {workspace.parent}/"))
    history = str(workspace.parent / ".tierwise" / "history.duckdb")
    z = pipeline(load_spec(spec), tmp_path / "p", history=history).payload["zombies"]
    # O9: no stage change since created 92 days ago, owner from the account (none) -> close
    assert (z["deals"], z["close"]["deals"], z["excluded_known_stall"]) == (2, 1, 0)
    assert [r["opportunity_id"] for r in z["examples"]] == ["O9", "O10"]


def test_still_open_rates():
    assert still_open_rates([], 2) == [None, None, None]
    assert still_open_rates([{"_bucket": 2, "decided": 4, "won": 1}], 2) == [0.25, 0.25, 0.25]


def test_the_reports_change_events_match_the_history_stores(result, workspace):
    """The report computes the events on the engine; the store's SQL (tw_changes) must agree row for row."""
    with open_history(str(workspace.parent / ".tierwise" / "history.duckdb")) as store:
        expected = store.changes(result.previous.run_id, result.run.run_id).to_pylist()
        view = store._rows("SELECT account_id, change FROM tw_changes ORDER BY account_id, change")
    with (workspace.parent / "report" / "changes.csv").open() as fh:
        got = list(csv.DictReader(fh))
    assert [(r["account_id"], r["change"], r["from_value"] or None, r["to_value"] or None, r["direction"] or None)
            for r in got] == [(r["account_id"], r["change"], r["from_value"], r["to_value"], r["direction"])
                              for r in expected]
    assert view == [(r["account_id"], r["change"]) for r in expected]
