"""``tierwise.jobs.territories``: scoring to plan, the coverage model, scenarios, commit, shortfall."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from tierwise.errors import TierwiseError
from tierwise.jobs.territories import TerritoryCapacityError, history_plans, resolve_coverage, territories
from tierwise.spec import load_spec
from tierwise.spec.loader import SpecError

SPEC = """\
name: territories test
as_of: 2026-11-01
fit:
  weight: 100
  criteria:
    - {name: size, field: employees, bands: [{min: 1000, points: 70}, {min: 100, max: 1000, points: 45}, {max: 100, points: 10}]}
    - {name: industry, field: industry, values: {software: 30}}
signals: {weight: 0}
engagement: {weight: 0}
segments:
  rules:
    - {name: Enterprise, when: "employees >= 1000", owner_role: enterprise_ae}
  default: {name: SMB, owner_role: smb_pool}
TERRITORIES"""

# E-accounts: 1000+ employees -> tier B (70) or A (100, software); S-accounts: 100-999 -> tier C (45); tiny -> D
ACCOUNTS = """\
account_id,name,industry,employees,annual_revenue,country,region,owner_id
E1,Acme,retail,2000,5e8,US,East,AE1
E2,Beta,retail,3000,6e8,US,East,AE1
E3,Gamma,retail,2500,4e8,US,East,AE1
E4,Delta,retail,1500,3e8,US,East,AE1
E5,Omega,software,5000,9e8,US,East,AE1
S1,Small1,retail,200,1e7,US,East,SP1
S2,Small2,retail,300,2e7,US,East,SP1
S3,Small3,retail,400,3e7,US,East,SP1
S4,Small4,retail,500,4e7,US,East,OLD
S5,Small5,retail,600,5e7,US,East,
T1,Tiny1,retail,5,1e5,US,East,SP1
W1,West1,retail,250,1e7,US,West,SP1
"""

REPS = """\
rep_id,name,role,region,capacity,active
AE1,Ann,enterprise_ae,East,10,true
AE2,Bob,enterprise_ae,East,10,true
SP1,Cat,smb_pool,East,100,true
SP2,Dan,smb_pool,East,100,true
OLD,Eve,smb_pool,East,100,false
"""

OPPS = """\
opportunity_id,account_id,stage,amount,created_at,closed_at,is_closed,is_won
O1,E1,Closed Won,100000,2026-01-01,2026-03-01,true,true
O2,E2,Closed Won,300000,2026-01-01,2026-03-01,true,true
O3,S1,Closed Won,10000,2026-01-01,2026-03-01,true,true
O4,S2,Closed Lost,5000,2026-01-01,2026-03-01,true,false
O5,S3,Prospecting,7000,2026-06-01,,false,
"""


@pytest.fixture
def workspace(make_workspace):
    def make(territories_yaml: str = "territories: {}\n", reps: str = REPS, accounts: str = ACCOUNTS):
        return make_workspace(SPEC.replace("TERRITORIES", territories_yaml),
                              {"accounts.csv": accounts, "reps.csv": reps, "opportunities.csv": OPPS})
    return make


def test_plan_from_the_seed_coverage_model(workspace, tmp_path):
    spec = workspace()
    result = territories(spec, tmp_path / "out")
    plan = pd.read_csv(tmp_path / "out" / "plan.csv").set_index("account_id")
    assert len(plan) == 12
    # coverage: tier B enterprise -> enterprise_ae, tier C -> the SMB pool, tier D -> nobody (owner unchanged)
    assert plan.loc["E1", "tier"] == "B" and plan.loc["E1", "role"] == "enterprise_ae"
    assert plan.loc["E5", "tier"] == "A"
    assert plan.loc["S1", "tier"] == "C" and plan.loc["S1", "role"] == "smb_pool"
    assert plan.loc["T1", "change"] == "not_covered" and plan.loc["T1", "owner_after"] == "SP1"
    assert plan.loc["T1", "reason"] == "tier D: no rep coverage"
    # the enterprise book is split, the tier-A account stays with its owner
    assert plan.loc["E5", "owner_after"] == "AE1"
    after = plan[plan["role"] == "enterprise_ae"].groupby("owner_after").size().to_dict()
    assert after == {"AE1": 3, "AE2": 2} or after == {"AE1": 2, "AE2": 3}
    # forced moves: an inactive owner, no owner; the West account has no rep in its region
    assert plan.loc["S4", "why"] == "owner_inactive" and plan.loc["S4", "owner_after"] in ("SP1", "SP2")
    assert plan.loc["S5", "change"] == "assigned"
    assert plan.loc["W1", "change"] == "uncovered"
    assert "no active smb_pool in West rep" in plan.loc["W1", "reason"]
    # potential: score / 100 x the segment's mean won deal (Enterprise: 200k; SMB: 10k)
    assert plan.loc["E1", "potential"] == pytest.approx(0.70 * 200_000)
    assert plan.loc["S1", "potential"] == pytest.approx(0.45 * 10_000)
    s = result.summary
    assert s["plan"]["accounts"] == {"total": 12, "planned": 11, "not_covered": 1,
                                     "not_covered_by_reason": {"tier D: no rep coverage": 1}}
    assert s["plan"]["uncovered"] == 1
    assert s["plan"]["moves"]["forced"] == 1 and s["plan"]["moves"]["assigned_unowned"] == 1
    assert s["plan"]["solver"]["status"] == "optimal"
    assert s["shortfall_explained"] == ["smb_pool in West: 1 accounts and no active rep (short 1)"]
    assert s["settings"]["coverage"]["A"] == {"role": "segment", "per_rep": [15, 20], "workload": 1 / 17.5}
    for name in ("plan.parquet", "plan.csv", "moves.csv", "reps.csv", "shortfall.csv", "scenarios.csv",
                 "summary.json"):
        assert (tmp_path / "out" / name).exists(), name
    reps = pd.read_csv(tmp_path / "out" / "reps.csv").set_index("rep_id")
    assert reps.loc["OLD", "status_after"] == "inactive" and reps.loc["OLD", "accounts_after"] == 0
    assert not (tmp_path / "out" / "crm_upsert.csv").exists()  # nothing committed


def test_coverage_defaults_come_from_the_seed_and_the_tiers():
    spec = load_spec_text_default()
    cov = resolve_coverage(spec, spec.spec.territories)
    assert cov["A"] == {"role": "segment", "per_rep": (15, 20), "workload": pytest.approx(1 / 17.5)}
    assert cov["B"]["per_rep"] == (35, 45) and cov["B"]["workload"] == pytest.approx(1 / 40)
    assert cov["C"] == {"role": "smb_pool", "per_rep": None, "workload": pytest.approx(1 / 150)}
    assert cov["D"]["role"] is None
    roles = spec.spec.territories.roles
    assert roles["enterprise_ae"].max_accounts == 20 and roles["mid_market_ae"].max_accounts == 50
    assert roles["smb_pool"].max_accounts is None


def load_spec_text_default():
    from tierwise.spec.loader import load_spec_text

    return load_spec_text("data: {accounts: {path: a.csv}}\nfit: {criteria: [{name: x, field: employees, "
                          "at_least: 1, points: 1}]}\nterritories: {}\n")


def test_scenarios_are_compared_side_by_side_and_not_committed(workspace, tmp_path):
    spec = workspace("""\
territories:
  scenarios:
    - name: hire_west
      description: a pool rep for the West
      add_reps: [{rep_id: SPW, role: smb_pool, region: West, capacity: 50}]
    - name: lose_bob
      remove_reps: [AE2]
    - name: tight_capacity
      capacity: {SP1: 1, SP2: 1}
""")
    result = territories(spec, tmp_path / "out")
    table = pd.read_csv(tmp_path / "out" / "scenarios.csv").set_index("plan")
    assert list(table.index) == ["base", "hire_west", "lose_bob", "tight_capacity"]
    assert table.loc["base", "uncovered"] == 1 and table.loc["hire_west", "uncovered"] == 0
    assert table.loc["hire_west", "active_reps"] == table.loc["base", "active_reps"] + 1
    assert table.loc["tight_capacity", "uncovered"] > table.loc["base", "uncovered"]
    lose = result.plans["lose_bob"].planner.plan_.set_index("account_id")
    assert set(lose.loc[["E1", "E2", "E3", "E4"], "owner_after"]) == {"AE1"}  # Bob's accounts stay with Ann
    assert (tmp_path / "out" / "scenarios" / "hire_west" / "moves.csv").exists()
    assert history_plans(spec) == []
    # only the named scenarios run
    result = territories(spec, tmp_path / "out2", scenarios=["lose_bob"])
    assert [r["plan"] for r in result.summary["scenarios"]] == ["base", "lose_bob"]
    with pytest.raises(TierwiseError, match="unknown scenario 'nope'"):
        territories(spec, tmp_path / "out3", scenarios=["nope"])


def test_scenarios_file_and_its_errors(workspace, tmp_path):
    spec = workspace()
    good = tmp_path / "scen.yaml"
    good.write_text("scenarios:\n  - name: wider\n    tolerance: 0.2\n    roles: {enterprise_ae: {max_accounts: 2}}\n")
    result = territories(spec, tmp_path / "out", scenarios_file=good)
    wider = result.plans["wider"]
    assert wider.planner.tolerance == 0.2
    assert wider.metrics["uncovered"] > result.base.metrics["uncovered"]  # 5 enterprise accounts, 2 x 2 slots
    bad = tmp_path / "bad.yaml"
    bad.write_text("scenarios:\n  - name: Bad Name\n")
    with pytest.raises(TierwiseError, match=r"bad.yaml: scenarios\[0\].name"):
        territories(spec, tmp_path / "out", scenarios_file=bad)


def test_commit_writes_the_crm_upsert_and_records_the_plan(workspace, tmp_path):
    spec = workspace()
    result = territories(spec, tmp_path / "out", commit=True)
    lines = (tmp_path / "out" / "crm_upsert.csv").read_text().splitlines()
    assert lines[0] == "account_id,owner_id"
    moved = pd.read_csv(tmp_path / "out" / "moves.csv")
    changed = moved[moved["change"].isin(["moved", "assigned"])]
    assert sorted(lines[1:]) == sorted(f"{a},{o}" for a, o in zip(changed["account_id"], changed["owner_after"],
                                                                    strict=True))
    records = history_plans(spec)
    assert len(records) == 1
    record = json.loads(records[0].read_text())
    assert record["plan"] == "base" and record["as_of"] == "2026-11-01"
    assert {c["account_id"] for c in record["changes"]} == set(changed["account_id"])
    assert result.summary["committed"]["plan"] == "base"


def test_commit_headers_follow_the_crm_preset(make_workspace, tmp_path):
    accounts = ACCOUNTS.replace("account_id,name,industry,employees,annual_revenue,country,region,owner_id",
                                "Id,Name,Industry,NumberOfEmployees,AnnualRevenue,BillingCountry,region,OwnerId")
    spec = make_workspace(SPEC.replace("TERRITORIES", "territories: {}\n"),
                          {"accounts.csv": accounts, "reps.csv": REPS, "opportunities.csv": OPPS},
                          data="data:\n  accounts: {path: accounts.csv, preset: salesforce}\n"
                               "  reps: {path: reps.csv}\n  opportunities: {path: opportunities.csv}\n")
    territories(spec, tmp_path / "out", commit=True)
    assert (tmp_path / "out" / "crm_upsert.csv").read_text().splitlines()[0] == "Id,OwnerId"


def test_strict_explains_the_shortfall_by_role_and_region(workspace, tmp_path):
    reps = REPS.replace("AE1,Ann,enterprise_ae,East,10,true", "AE1,Ann,enterprise_ae,East,1,true") \
               .replace("AE2,Bob,enterprise_ae,East,10,true", "AE2,Bob,enterprise_ae,East,2,true")
    spec = workspace(reps=reps)
    with pytest.raises(TerritoryCapacityError) as err:
        territories(spec, tmp_path / "out", strict=True)
    text = str(err.value)
    assert "enterprise_ae in East: 5 accounts, 2 reps can own 3 (short 2)" in text
    assert "smb_pool in West: 1 accounts and no active rep (short 1)" in text
    # without strict: planned, the two lowest-potential enterprise accounts uncovered, explained
    result = territories(spec, tmp_path / "out")
    plan = result.base.planner.plan_.set_index("account_id")
    uncovered = plan[(plan["change"] == "uncovered") & (plan["role"] == "enterprise_ae")]
    assert len(uncovered) == 2
    assert uncovered["potential"].max() <= plan.loc[plan["owner_after"].notna() & (plan["role"] == "enterprise_ae"),
                                                    "potential"].min()
    assert all("enterprise_ae in East capacity is below demand" in r for r in uncovered["reason"])


def test_reps_file_scores_file_and_inline_reps(workspace, tmp_path):
    from tierwise.jobs.score import score

    spec = workspace()
    score(spec, tmp_path / "scores")
    reps_file = tmp_path / "other_reps.csv"
    reps_file.write_text(REPS + "SPW,Wes,smb_pool,West,10,true\n")
    result = territories(spec, tmp_path / "out", reps_file=reps_file, scores_file=tmp_path / "scores" /
                         "scores.parquet")
    assert result.summary["inputs"]["reps_source"] == str(reps_file)
    assert result.summary["plan"]["uncovered"] == 0
    inline = workspace("territories:\n  reps: [{rep_id: SPW, role: smb_pool, region: west, capacity: 5}]\n")
    result = territories(inline, tmp_path / "out2")
    assert result.summary["inputs"]["reps_source"] == "data.reps + territories.reps"
    assert result.base.planner.plan_.set_index("account_id").loc["W1", "owner_after"] == "SPW"


def test_no_reps_anywhere_is_a_clear_error(make_workspace, tmp_path):
    spec = make_workspace(SPEC.replace("TERRITORIES", "territories: {}\n"), {"accounts.csv": ACCOUNTS})
    with pytest.raises(TierwiseError, match="no reps: add data.reps"):
        territories(spec, tmp_path / "out")


def test_territory_spec_mistakes_are_located(workspace):
    spec = workspace("""\
territories:
  potential: "score * revenu"
  coverage:
    Z: {role: segment}
""")
    with pytest.raises(SpecError) as err:
        load_spec(spec)
    text = str(err.value)
    assert "territories.potential: unknown column 'revenu' (did you mean 'revenue_growth'?)" in text
    assert "territories.coverage: territory coverage names unknown tier 'Z'" in text
    spec = workspace("territories:\n  moves: {keep_tiers: [A, Q]}\n")
    with pytest.raises(SpecError, match="territories.moves.keep_tiers: territory keep_tiers names unknown tier 'Q'"):
        load_spec(spec)
    spec = workspace('territories:\n  potential: "industry"\n')
    with pytest.raises(SpecError, match="must give a number, but gives a value of type string"):
        load_spec(spec)


def test_html_report_is_self_contained(workspace, tmp_path):
    spec = workspace("territories:\n  scenarios: [{name: more_capacity, capacity_factor: 2}]\n")
    territories(spec, tmp_path / "out", html=tmp_path / "report.html")
    page = (tmp_path / "report.html").read_text()
    assert page.startswith("<!doctype html>") and "<svg" in page and "Scenarios" in page
    for external in ("<script", "<link", "src=", "@import"):
        assert external not in page
