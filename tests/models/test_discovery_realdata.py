"""ICP discovery on public data (../shared/data): a null dataset and one with real signal.

* Maven "CRM Sales Opportunities": win rates are 61–65% in every sector, so no
  firmographic attribute may come out significant.
* IBM sales win-loss: with the leaky process columns removed, past revenue from
  the client and the route to market are significant.
Skipped when the data folder is not there.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from tierwise.models.discovery import ICPDiscovery
from tierwise.reports.icp import render_html, render_markdown
from tierwise.spec.model import FitSpec

pytestmark = pytest.mark.realdata

#: Columns that describe the finished sales process (see ../shared/data/README.md), plus the row id.
IBM_LEAKY = [
    "Opportunity Number", "Elapsed Days In Sales Stage", "Sales Stage Change Count",
    "Total Days Identified Through Closing", "Total Days Identified Through Qualified",
    "Ratio Days Identified To Total Days", "Ratio Days Validated To Total Days",
    "Ratio Days Qualified To Total Days", "Deal Size Category",
]


def _find(name: str, marker: str) -> Path:
    for ancestor in Path(__file__).resolve().parents:
        candidate = ancestor / "shared" / "data" / name
        if (candidate / marker).is_file():
            return candidate
    pytest.skip(f"public dataset {name} not found under ../shared/data")


@pytest.fixture(scope="module")
def maven() -> pd.DataFrame:
    folder = _find("crm_sales_opportunities", "sales_pipeline.csv")
    deals = pd.read_csv(folder / "sales_pipeline.csv")
    accounts = pd.read_csv(folder / "accounts.csv")
    deals = deals[deals["deal_stage"].isin(["Won", "Lost"])].merge(accounts, on="account", how="left")
    cycle = pd.to_datetime(deals["close_date"]) - pd.to_datetime(deals["engage_date"])
    return pd.DataFrame({
        "won": deals["deal_stage"].eq("Won"), "amount": deals["close_value"].astype(float),
        "cycle_days": cycle.dt.days.astype(float),
        **{c: deals[c] for c in ("sector", "revenue", "employees", "office_location", "subsidiary_of",
                                 "year_established", "product")},
    })


@pytest.fixture(scope="module")
def ibm() -> pd.DataFrame:
    folder = _find("ibm_sales_win_loss", "WA_Fn-UseC_-Sales-Win-Loss.csv")
    # "None" is a competitor type here, not a missing value
    raw = pd.read_csv(folder / "WA_Fn-UseC_-Sales-Win-Loss.csv", keep_default_na=False, na_values=[""])
    frame = raw.drop(columns=[*IBM_LEAKY, "Opportunity Result"]).rename(columns={"Opportunity Amount USD": "amount"})
    frame.insert(0, "won", raw["Opportunity Result"].eq("Won"))
    return frame


def test_maven_null_check(maven):
    d = ICPDiscovery().fit(maven)
    assert d.overall_["records"] == 6711 and 0.6 < d.overall_["win_rate"] < 0.65
    assert not d.has_signal_
    assert d.validated_.empty
    assert not d.attributes_["significant"].any()
    assert d.attributes_["p_adjusted"].min() > 0.5
    assert d.notes_[0].startswith("No attribute is significant after Holm correction over")
    assert d.suggest_fit()["criteria"] == []
    assert not any(s.significant for s in d.segments_)
    md = render_markdown(d, title="Maven CRM", source="crm_sales_opportunities")
    assert "**Verdict: No significant attribute" in md


def test_ibm_finds_the_known_drivers(ibm):
    d = ICPDiscovery().fit(ibm)
    assert d.has_signal_
    validated = d.validated_["attribute"].tolist()
    assert validated[0] == "Revenue From Client Past Two Years"
    assert {"Route To Market", "Supplies Subgroup", "Competitor Type"} <= set(validated)
    assert 6 <= len(validated) <= 10
    values = d.attributes_.set_index(["attribute", "value"])
    # existing clients win far more often than new ones (coded 0 = no revenue in the past two years)
    assert values.loc[("Revenue From Client Past Two Years", "0"), "lift"] < 0.9
    assert values.loc[("Revenue From Client Past Two Years", "1"), "lift"] > 3
    assert values.loc[("Route To Market", "Reseller"), "significant"]
    assert values.loc[("Competitor Type", "None"), "lift"] > 1
    assert any("'Revenue From Client Past Two Years' is suspiciously predictive" in n for n in d.notes_)
    spec = FitSpec.model_validate(d.suggest_fit())
    assert spec.max_points == pytest.approx(40, abs=0.1)
    assert d.segments_ and d.segments_[0].significant
    assert d.best_customers_basis_ == "amount" and d.best_customers_["significant"].any()
    page = render_html(d, title="IBM win-loss", source="ibm_sales_win_loss")
    assert "Route To Market" in page and "<svg" in page
