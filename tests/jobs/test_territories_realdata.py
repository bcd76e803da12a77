"""Territories on a real CRM (../shared/data/crm_sales_opportunities): 35 agents in three regional offices.

The dataset has deals, accounts and agents but no account owners, so the workspace written to tmp_path
derives them: an account belongs to the regional office that worked most of its deals, and its owner is
the agent of that office with the most deals on it (then the most won value). Potential is the account's
won revenue (``won_amount``); every tier is covered by the one role, and workload is the number of accounts
(weighted low: with 2-3 accounts per agent an equal count cannot be within ±5%). Skipped when the data folder
is not there; nothing is copied into the repository.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from tierwise.jobs.territories import territories

pytestmark = [pytest.mark.realdata, pytest.mark.slow]

DATASET = "crm_sales_opportunities"

SPEC = """\
name: crm sales opportunities (Maven Analytics)
as_of: 2017-12-31
data:
  accounts: {path: accounts.csv}
  opportunities: {path: opportunities.csv}
  reps: {path: reps.csv}
fit:
  weight: 100
  criteria:
    - {name: revenue, field: annual_revenue, bands: [{min: 2.0e9, points: 10}, {min: 1.0e9, max: 2.0e9, points: 7},
                                                     {min: 0.5e9, max: 1.0e9, points: 4}, {max: 0.5e9, points: 1}]}
    - {name: size, field: employees, bands: [{min: 5000, points: 10}, {min: 2000, max: 5000, points: 7},
                                             {min: 1000, max: 2000, points: 4}, {max: 1000, points: 1}]}
signals: {weight: 0}
engagement: {weight: 0}
segments:
  default: {name: All accounts, owner_role: sales_agent}
territories:
  potential: "won_amount"
  roles: {sales_agent: {max_accounts: null}}
  coverage:
    A: {role: segment, workload: 1}
    B: {role: segment, workload: 1}
    C: {role: segment, workload: 1}
    D: {role: segment, workload: 1}
  balance: {workload_weight: 0.2}
  moves: {keep_tiers: []}
"""


def _find_dataset() -> Path | None:
    for ancestor in Path(__file__).resolve().parents:
        candidate = ancestor / "shared" / "data" / DATASET
        if (candidate / "sales_teams.csv").is_file() and (candidate / "sales_pipeline.csv").is_file():
            return candidate
    return None


def build_workspace(src: Path, dst: Path) -> Path:
    """accounts (with region and owner derived from the deals), opportunities and reps, plus the spec."""
    pipe = pd.read_csv(src / "sales_pipeline.csv")
    acc = pd.read_csv(src / "accounts.csv")
    teams = pd.read_csv(src / "sales_teams.csv")
    deals = pipe.dropna(subset=["account", "engage_date"]).merge(teams, on="sales_agent")
    deals = deals.assign(won=deals["close_value"].where(deals["deal_stage"] == "Won", 0.0))
    office = (deals.groupby(["account", "regional_office"]).size().rename("n").reset_index()
              .sort_values(["account", "n", "regional_office"], ascending=[True, False, True])
              .drop_duplicates("account").set_index("account")["regional_office"])
    local = deals[deals["regional_office"] == deals["account"].map(office)]
    owner = (local.groupby(["account", "sales_agent"]).agg(n=("opportunity_id", "size"), v=("won", "sum"))
             .reset_index().sort_values(["account", "n", "v", "sales_agent"], ascending=[True, False, False, True])
             .drop_duplicates("account").set_index("account")["sales_agent"])
    dst.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"account_id": acc["account"], "name": acc["account"], "industry": acc["sector"],
                  "employees": acc["employees"], "annual_revenue": acc["revenue"] * 1e6,
                  "country": acc["office_location"], "region": acc["account"].map(office),
                  "owner_id": acc["account"].map(owner)}).to_csv(dst / "accounts.csv", index=False)
    closed = deals["deal_stage"].isin(["Won", "Lost"])
    pd.DataFrame({"opportunity_id": deals["opportunity_id"], "account_id": deals["account"],
                  "stage": deals["deal_stage"], "amount": deals["close_value"], "created_at": deals["engage_date"],
                  "closed_at": deals["close_date"], "is_closed": closed,
                  "is_won": (deals["deal_stage"] == "Won").where(closed), "owner_id": deals["sales_agent"]}
                 ).to_csv(dst / "opportunities.csv", index=False)
    pd.DataFrame({"rep_id": teams["sales_agent"], "name": teams["sales_agent"], "role": "sales_agent",
                  "region": teams["regional_office"], "active": True, "manager_id": teams["manager"]}
                 ).to_csv(dst / "reps.csv", index=False)
    (dst / "spec.yaml").write_text(SPEC, encoding="utf-8")
    return dst / "spec.yaml"


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    src = _find_dataset()
    if src is None:
        pytest.skip(f"public dataset {DATASET} not found under ../shared/data")
    root = tmp_path_factory.mktemp("crm")
    spec = build_workspace(src, root / "ws")
    return territories(spec, root / "out", html=root / "territories.html")


def test_regional_offices_keep_their_accounts(result):
    plan = result.base.planner.plan_
    reps = result.base.planner.reps_.set_index("rep_id")
    assert len(plan) == 85 and len(reps) == 35
    assert plan["owner_after"].notna().all() and result.summary["plan"]["uncovered"] == 0
    assert (plan["owner_after"].map(reps["region"]) == plan["region"]).all()
    assert result.summary["shortfall_explained"] == []


def test_books_are_balanced_with_every_agent_covering_accounts(result):
    p = result.summary["plan"]
    reps = result.base.planner.reps_
    # 15 agents owned all 85 accounts; 20 owned none (5 have no deals at all)
    assert (reps["accounts_before"] == 0).sum() == 20
    assert (reps["accounts_after"] >= 1).all()
    assert p["cv"]["potential"]["before"] > 2.0 and p["cv"]["potential"]["after"] < 0.15
    for cell in result.summary["cells"]:
        # won revenue per agent within 15% of the office's mean, except where one account alone is bigger
        plan = result.base.planner.plan_
        biggest = plan.loc[plan["region"] == cell["region"], "potential"].max() / cell["potential_per_rep"] - 1
        assert cell["potential_max_dev"] <= max(0.15, biggest + 0.01), cell
    assert p["solver"]["status"] == "optimal" and p["solver"]["gap"] <= 0.01


def test_moves_are_explained(result):
    plan = result.base.planner.plan_
    moved = plan[plan["moved"]]
    assert 30 <= len(moved) <= 75
    assert (moved["why"] == "balance").all()
    assert moved["reason"].str.match(r"balance: .+ was at [+-]\d+\.\d% potential, [+-]\d+\.\d% workload; to ").all()
    html = Path(result.files["html"]).read_text()
    assert "Territory plan" in html and html.count("<svg") >= 2
