"""``tierwise export``: Salesforce and HubSpot upsert files, changed-only exports, neutralised formulas."""

from __future__ import annotations

import csv
import json
from datetime import date

import pyarrow.parquet as pq
import pytest

from tierwise.errors import TierwiseError
from tierwise.jobs.export import export
from tierwise.jobs.score import score
from tierwise.spec.loader import SpecError

AS_OF = date(2026, 11, 1)

SPEC = """\
fit:
  weight: 100
  criteria:
    - {name: size, field: employees, bands: [{min: 1000, points: 10}, {min: 100, max: 1000, points: 5}]}
    - {name: industry, field: industry, values: {software: 10, retail: 4}}
signals: {weight: 0}
engagement: {weight: 0}
tiers: [{name: A, min_score: 80}, {name: B, min_score: 40}, {name: C, min_score: 0}]
segments:
  rules:
    - name: Enterprise
      when: "employees >= 1000"
      priority: P1
      crm: {Segment_Tier__c: Enterprise, Recommended_Motion__c: "=HYPERLINK(\\"http://evil\\")"}
  default: {name: SMB, priority: P3, crm: {Segment_Tier__c: SMB, Recommended_Motion__c: Product-Led}}
"""

ACCOUNTS = """\
account_id,name,employees,industry,owner_id
A1,Acme,5000,software,-R1
A2,Beta,300,retail,+R2
A3,Gamma,20,,@R3
A4,Delta,1500,retail,R4
"""


@pytest.fixture
def workspace(make_workspace):
    return make_workspace(SPEC, {"accounts.csv": ACCOUNTS})


def read_csv(path):
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def scores_of(spec_path, tmp_path):
    result = score(spec_path, tmp_path / "scores", as_of=AS_OF)
    return {r["account_id"]: r for r in pq.read_table(result.files["parquet"]).to_pylist()}


def test_salesforce_upsert_round_trip(workspace, tmp_path):
    result = export(workspace, tmp_path / "crm", to="salesforce", as_of=AS_OF)
    rows = read_csv(result.files["csv"])
    assert list(rows[0]) == ["Tierwise_Account_Id__c", "Segment_Tier__c", "Segment_Score__c", "Recommended_Motion__c",
                             "Industry_Priority__c", "Account_Tier__c", "Segment_Priority__c", "OwnerId"]
    expected = scores_of(workspace, tmp_path)
    assert [r["Tierwise_Account_Id__c"] for r in rows] == ["A1", "A2", "A3", "A4"]
    industry = {"A1": "software", "A2": "retail", "A3": None, "A4": "retail"}
    for row in rows:
        want = expected[row["Tierwise_Account_Id__c"]]
        assert float(row["Segment_Score__c"]) == pytest.approx(want["score"], abs=0.005)
        assert row["Account_Tier__c"] == want["tier"]
        assert row["Segment_Priority__c"] == want["priority"]
        enterprise = want["segment"] == "Enterprise"
        assert row["Segment_Tier__c"] == ("Enterprise" if enterprise else "SMB")
        # a value a spreadsheet would run is written with a leading apostrophe, and only then
        motion = "'=HYPERLINK(\"http://evil\")" if enterprise else "Product-Led"
        assert row["Recommended_Motion__c"] == motion
        owner = want["owner_id"]
        assert row["OwnerId"] == ("'" + owner if owner[0] in "-+@" else owner)
        # the top-points industry of the fit criterion is the priority industry
        assert row["Industry_Priority__c"] == ("true" if industry[row["Tierwise_Account_Id__c"]] == "software"
                                               else "false")
    job = json.loads(open(result.files["job"]).read())
    assert job == {"object": "Account", "externalIdFieldName": "Tierwise_Account_Id__c", "contentType": "CSV",
                   "operation": "upsert", "lineEnding": "LF", "columnDelimiter": "COMMA"}
    assert b"\r\n" not in open(result.files["csv"], "rb").read()


def test_only_changed_records_are_exported_again(workspace, tmp_path):
    first = export(workspace, tmp_path / "crm", to="salesforce", as_of=AS_OF)
    assert (first.summary["written"], first.summary["mode"]) == (4, "first export: all")
    second = export(workspace, tmp_path / "crm", to="salesforce", as_of=AS_OF)
    assert (second.summary["written"], second.summary["unchanged"]) == (0, 4)
    assert read_csv(second.files["csv"]) == []  # the header only: nothing to upsert
    # A2 grows into the Enterprise segment; nothing else changes
    (workspace.parent / "accounts.csv").write_text(ACCOUNTS.replace("A2,Beta,300", "A2,Beta,3000"))
    third = export(workspace, tmp_path / "crm", to="salesforce", as_of=AS_OF)
    assert [r["Tierwise_Account_Id__c"] for r in read_csv(third.files["csv"])] == ["A2"]
    everything = export(workspace, tmp_path / "crm", to="salesforce", as_of=AS_OF, all_records=True)
    assert everything.summary["written"] == 4 and everything.summary["mode"] == "all"
    # each CRM keeps its own state
    assert export(workspace, tmp_path / "crm", to="hubspot", as_of=AS_OF).summary["written"] == 4


def test_a_failed_export_leaves_the_state_as_it_was(workspace, tmp_path, monkeypatch):
    import tierwise.io.crm_export as crm

    export(workspace, tmp_path / "crm", to="salesforce", as_of=AS_OF)
    (workspace.parent / "accounts.csv").write_text(ACCOUNTS.replace("A2,Beta,300", "A2,Beta,3000"))

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(crm, "write_csv", broken)
    with pytest.raises(OSError, match="disk full"):
        export(workspace, tmp_path / "crm", to="salesforce", as_of=AS_OF)
    monkeypatch.undo()
    retried = export(workspace, tmp_path / "crm", to="salesforce", as_of=AS_OF)
    assert [r["Tierwise_Account_Id__c"] for r in read_csv(retried.files["csv"])] == ["A2"]


def test_hubspot_import_and_batch_payloads(make_workspace, tmp_path):
    spec = SPEC + "export: {hubspot: {batch_size: 3, properties: {score: score, tier: tier, motion: crm:Recommended_Motion__c}}}\n"
    ws = make_workspace(spec, {"accounts.csv": ACCOUNTS})
    result = export(ws, tmp_path / "crm", to="hubspot", as_of=AS_OF)
    rows = read_csv(result.files["csv"])
    assert list(rows[0]) == ["tierwise_account_id", "score", "tier", "motion"]
    assert len(result.files["batches"]) == 2  # 4 records, 3 per batch
    inputs = [i for path in result.files["batches"] for i in json.loads(open(path).read())["inputs"]]
    assert [i["id"] for i in inputs] == ["A1", "A2", "A3", "A4"]
    assert all(i["idProperty"] == "tierwise_account_id" for i in inputs)
    by_id = {r["tierwise_account_id"]: r for r in rows}
    for item in inputs:
        row = by_id[item["id"]]
        assert item["properties"]["score"] == row["score"]
        assert item["properties"]["tier"] == row["tier"]
        # JSON is never opened by a spreadsheet: the value is sent as it is
        assert row["motion"] in (item["properties"]["motion"], "'" + item["properties"]["motion"])
    # a smaller second export leaves no stale batch behind
    again = export(ws, tmp_path / "crm", to="hubspot", as_of=AS_OF)
    assert again.files["batches"] == []
    assert list((tmp_path / "crm" / "hubspot" / "batch_upsert").glob("*.json")) == []


def test_export_spec_mistakes_are_reported_at_their_key(make_workspace):
    ws = make_workspace(SPEC + "export: {salesforce: {fields: {Score__c: scroe}}}\n", {"accounts.csv": ACCOUNTS})
    with pytest.raises(SpecError, match=r"export\.salesforce\.fields.*unknown column 'scroe'"):
        export(ws, ws.parent / "out", to="salesforce")


def test_unknown_target(workspace, tmp_path):
    with pytest.raises(TierwiseError, match="--to must be one of salesforce, hubspot"):
        export(workspace, tmp_path / "crm", to="pipedrive")


def test_export_cli(workspace, tmp_path):
    from typer.testing import CliRunner

    from tierwise.cli.main import app

    out = tmp_path / "crm"
    result = CliRunner().invoke(app, ["export", str(workspace), "--to", "salesforce", "--out", str(out),
                                      "--as-of", "2026-11-01"])
    assert result.exit_code == 0, result.output
    assert "4 of 4 records written" in result.output
    assert (out / "salesforce" / "Account_upsert.csv").exists()
    bad = CliRunner().invoke(app, ["export", str(workspace), "--to", "pipedrive"])
    assert bad.exit_code == 1 and "--to must be one of" in bad.output
