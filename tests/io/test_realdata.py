"""Loaders and scoring on a public CRM dataset (../shared/data/crm_sales_opportunities).

The dataset's own columns are mapped onto the canonical model with ``columns:``;
expected counts are computed independently with the csv module. Skipped when
the data folder is not there.
"""

from __future__ import annotations

import csv
import json
from datetime import date
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tierwise.engine import connect
from tierwise.jobs.score import score, validate
from tierwise.jobs.workspace import load_workspace
from tierwise.spec import load_spec

pytestmark = pytest.mark.realdata

DATASET = "crm_sales_opportunities"


def _find_dataset() -> Path | None:
    """``<repo>/../shared/data/<dataset>``, looked for from every ancestor of this file."""
    for ancestor in Path(__file__).resolve().parents:
        candidate = ancestor / "shared" / "data" / DATASET
        if (candidate / "accounts.csv").is_file() and (candidate / "sales_pipeline.csv").is_file():
            return candidate
    return None


@pytest.fixture(scope="module")
def data_dir() -> Path:
    found = _find_dataset()
    if found is None:
        pytest.skip(f"public dataset {DATASET} not found under ../shared/data")
    return found


def spec_text(data_dir: Path) -> str:
    return f"""\
name: crm sales opportunities
as_of: 2017-12-31
data:
  accounts:
    path: {data_dir / 'accounts.csv'}
    columns: {{account_id: account, name: account, industry: sector, annual_revenue: revenue,
              employees: employees, country: office_location, parent_account_id: subsidiary_of}}
    attributes: {{year_established: int}}
  opportunities:
    path: {data_dir / 'sales_pipeline.csv'}
    columns: {{opportunity_id: opportunity_id, account_id: account, created_at: engage_date,
              closed_at: close_date, amount: close_value, stage: deal_stage, owner_id: sales_agent}}
  activities:        # deal stages as engagement events, dated by the engage date
    path: {data_dir / 'sales_pipeline.csv'}
    columns: {{account_id: account, event_type: deal_stage, occurred_at: engage_date, activity_id: opportunity_id}}
fit:
  weight: 60
  criteria:
    - name: size
      field: employees
      bands: [{{min: 5000, points: 10}}, {{min: 1000, max: 5000, points: 6}}, {{min: 100, max: 1000, points: 3}}]
    - name: industry
      field: industry
      values: {{software: 10, technolgy: 10, finance: 7, medical: 5}}
    - name: revenue           # revenue is in $M in this dataset
      field: annual_revenue
      at_least: 1000
      points: 5
    - name: us
      field: country
      in: [United States]
      points: 5
signals: {{weight: 0}}
engagement:
  weight: 40
  window_days: 120
  half_life_days: 30
  cap: 50
  events: {{engaging: 5, won: 10, lost: -2}}
segments:
  rules:
    - {{name: Large, when: "annual_revenue >= 1000 and year_established < 2000", priority: P1}}
    - {{name: Active, when: "event_count('won', 120) >= 3", priority: P2}}
  default: {{name: Other, priority: P5}}
"""


@pytest.fixture(scope="module")
def workspace(data_dir, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("realdata")
    (folder / "spec.yaml").write_text(spec_text(data_dir), encoding="utf-8")
    return folder / "spec.yaml"


def _csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_realdata_loads_and_reconciles(workspace, data_dir):
    accounts = _csv_rows(data_dir / "accounts.csv")
    pipeline = _csv_rows(data_dir / "sales_pipeline.csv")
    no_account = [r for r in pipeline if not r["account"].strip()]
    no_engage = [r for r in pipeline if not r["engage_date"].strip()]
    bad = {r["opportunity_id"] for r in no_account + no_engage}
    assert no_account, "the dataset has deals without an account"

    with connect() as engine:
        ws = load_workspace(engine, load_spec(workspace))
        acc, opp = ws.loads["accounts"], ws.loads["opportunities"]
        for load in ws.loads.values():
            assert load.read == load.loaded + load.quarantined, load.name

        assert (acc.read, acc.loaded, acc.quarantined) == (len(accounts), len(accounts), 0)
        assert (opp.read, opp.quarantined) == (len(pipeline), len(bad))
        assert opp.reasons["missing account_id"] == len(no_account)
        assert opp.reasons["missing created_at"] == len(no_engage)

        rows = engine.to_arrow(opp.quarantine.select("opportunity_id", "account", "_reason")).to_pylist()
        assert {r["opportunity_id"] for r in rows} == bad
        for r in rows:
            if r["account"] is None:
                assert "missing account_id" in r["_reason"], r

        (first,) = engine.to_arrow(acc.clean.filter(acc.clean.account_id == accounts[0]["account"])).to_pylist()
        assert first["industry"] == accounts[0]["sector"]
        assert first["annual_revenue"] == pytest.approx(float(accounts[0]["revenue"]))
        assert first["employees"] == int(accounts[0]["employees"])
        assert first["year_established"] == int(accounts[0]["year_established"])


def test_realdata_scores_every_account(workspace, data_dir, tmp_path):
    n_accounts = len(_csv_rows(data_dir / "accounts.csv"))
    result = score(workspace, tmp_path / "out")
    assert result.as_of == date(2017, 12, 31)
    rows = pq.read_table(result.files["parquet"]).to_pylist()
    assert len(rows) == n_accounts == result.summary["accounts"] == 85
    assert len({r["account_id"] for r in rows}) == n_accounts
    assert all(0 <= r["score"] <= 100 for r in rows)
    assert sum(t["accounts"] for t in result.summary["tiers"].values()) == n_accounts
    assert sum(s["accounts"] for s in result.summary["segments"]) == n_accounts
    assert {r["segment"] for r in rows} <= {"Large", "Active", "Other"}
    assert any(r["engagement_score"] > 0 for r in rows), "deal stages in the window feed engagement"
    assert result.summary["inputs"]["activities"]["read"] == 8800
    summary = json.loads(Path(result.files["summary"]).read_text())
    assert summary["spec"] == "crm sales opportunities"


def test_realdata_validate_writes_quarantine(workspace, tmp_path):
    result = validate(workspace, tmp_path / "out")
    text = (tmp_path / "out" / "quarantine" / "opportunities.csv").read_text()
    assert "missing account_id" in text
    assert result.quality["accounts"]["rows"] == 85
