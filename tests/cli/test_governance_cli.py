"""``tierwise score`` recording runs, ``tierwise history``, ``tierwise report`` and ``tierwise pipeline``:
exit codes, one-line errors, the files written, and the PostgreSQL store end to end."""

from __future__ import annotations

import csv
import json

import pytest
from typer.testing import CliRunner

from tierwise.cli.main import app

SPEC = """\
name: cli governance
as_of: 2026-11-01
fit:
  criteria:
    - {name: size, field: employees, bands: [{min: 1000, points: 10}, {min: 100, max: 1000, points: 5}]}
segments:
  rules:
    - {name: Big, when: "employees >= 1000", priority: P1, motion: field_sales, touches_per_month: [6, 8]}
  default: {name: Rest, priority: P5, motion: nurture, touches_per_month: 1}
"""
ACCOUNTS = "account_id,name,employees,owner_id\nA1,Acme,5000,r1\nA2,Beta,150,r1\nA3,Gamma,many,r2\nA4,Delta,20,\n"
LATER = "account_id,name,employees,owner_id\nA1,Acme,50,r1\nA2,Beta,1500,r1\nA4,Delta,20,\nA5,Eps,200,r2\n"
ACTIVITIES = "account_id,event_type,occurred_at\nA1,demo,2026-10-30\n"
OPPS = """\
opportunity_id,account_id,stage,amount,created_at,closed_at,is_closed,is_won,owner_id,stage_changed_at
O1,A1,Closed Won,100,2026-01-01,2026-02-01,true,true,r1,
O2,A2,Closed Lost,50,2026-01-01,2026-03-01,true,false,r1,
O3,A2,Proposal,500,2026-07-01,,false,,r1,2026-08-01
"""


@pytest.fixture
def runner():
    return CliRunner()


@pytest.fixture
def spec_path(make_workspace):
    return make_workspace(SPEC, {"accounts.csv": ACCOUNTS, "activities.csv": ACTIVITIES, "opportunities.csv": OPPS})


def assert_clean_error(result, *fragments: str) -> str:
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("error: "), result.stderr
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in result.stderr, (fragment, result.stderr)
    return result.stderr


def test_score_records_the_run_and_history_lists_it(runner, spec_path, tmp_path):
    out = tmp_path / "out"
    result = runner.invoke(app, ["score", str(spec_path), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "recorded in" in result.stdout
    summary = json.loads((out / "summary.json").read_text())
    run_id = summary["run"]["run_id"]
    assert run_id.startswith("2026-11-01-") and summary["run"]["history"].endswith(".tierwise/history.duckdb")
    # the same scores again: the same run, not a second one
    again = runner.invoke(app, ["score", str(spec_path), "--out", str(out)])
    assert f"run {run_id} unchanged" in again.stdout
    listed = runner.invoke(app, ["history", "list", str(spec_path)])
    assert listed.exit_code == 0, listed.output
    assert run_id in listed.stdout and listed.stdout.count("2026-11-01-") == 1
    assert "quarant" in listed.stdout and "spec 'cli governance'" in listed.stdout


def test_score_can_skip_the_history(runner, spec_path, tmp_path):
    result = runner.invoke(app, ["score", str(spec_path), "--out", str(tmp_path / "o"), "--no-history"])
    assert result.exit_code == 0, result.output
    assert not (spec_path.parent / ".tierwise" / "history.duckdb").exists()
    assert "run" not in json.loads((tmp_path / "o" / "summary.json").read_text())


def test_history_changes_exports_csv_and_json(runner, spec_path, tmp_path):
    assert runner.invoke(app, ["score", str(spec_path), "--out", str(tmp_path / "a"), "--as-of", "2026-08-01",
                               "--run-id", "q3"]).exit_code == 0
    (spec_path.parent / "accounts.csv").write_text(LATER)
    assert runner.invoke(app, ["score", str(spec_path), "--out", str(tmp_path / "b"), "--run-id", "q4"]).exit_code == 0
    result = runner.invoke(app, ["history", "changes", str(spec_path), "--csv", str(tmp_path / "c.csv"),
                                 "--json", str(tmp_path / "c.json")])
    assert result.exit_code == 0, result.output
    assert "q3" in result.stdout and "q4" in result.stdout
    with (tmp_path / "c.csv").open() as fh:
        rows = [(r["account_id"], r["change"], r["from_value"], r["to_value"], r["direction"])
                for r in csv.DictReader(fh)]
    # fit is 40% of the score and there are no events: 1000+ employees score 40 (C), fewer at most 20 (D).
    # A1 drops to 50 employees, A2 grows to 1500, A3 was quarantined in both runs, A5 is new
    assert sorted(rows) == [("A1", "segment", "Big", "Rest", ""), ("A1", "tier", "C", "D", "down"),
                            ("A2", "segment", "Rest", "Big", ""), ("A2", "tier", "D", "C", "up"),
                            ("A5", "entered", "", "D", "")]
    payload = json.loads((tmp_path / "c.json").read_text())
    assert payload["from_run"]["run_id"] == "q3" and payload["to_run"]["run_id"] == "q4"
    assert len(payload["events"]) == len(rows) and payload["counts"]["events"] == len(rows)


def test_history_errors_are_one_line(runner, spec_path, tmp_path):
    assert_clean_error(runner.invoke(app, ["history", "changes", str(spec_path)]), "holds 0 run(s)")
    assert_clean_error(runner.invoke(app, ["history", "list"]), "give a spec")
    assert_clean_error(runner.invoke(app, ["history", "list", "--history", "mysql://u:secret@h/db"]),
                       "unknown history store 'mysql://u:***@h/db'")
    runner.invoke(app, ["score", str(spec_path), "--out", str(tmp_path / "o"), "--run-id", "only"])
    assert_clean_error(runner.invoke(app, ["history", "changes", str(spec_path), "--from", "nope", "--to", "only"]),
                       "no run 'nope'")
    assert_clean_error(runner.invoke(app, ["score", str(spec_path), "--out", str(tmp_path / "o"), "--run-id",
                                           "has space"]), "run id 'has space'")
    deleted = runner.invoke(app, ["history", "delete", "only", str(spec_path)])
    assert deleted.exit_code == 0 and "deleted run only" in deleted.stdout


def test_report_scores_when_nothing_is_recorded_and_writes_every_file(runner, spec_path, tmp_path):
    out = tmp_path / "report"
    result = runner.invoke(app, ["report", str(spec_path), "--out", str(out), "--html", str(tmp_path / "r.html")])
    assert result.exit_code == 0, result.output
    for fragment in ("Segments", "Funnel against the B2B benchmarks", "guardrails:", "ICP:", "drift: no earlier run"):
        assert fragment in result.stdout, fragment
    assert (out / "scores" / "scores.parquet").exists()  # nothing recorded yet: scored (and recorded) first
    payload = json.loads((out / "report.json").read_text())
    assert [r["group"] for r in payload["performance"]["by_segment"]] == ["Big", "Rest"]
    page = (tmp_path / "r.html").read_text()  # the static report: this report's view inline, the rest empty states
    assert page.startswith("<!doctype html>") and "Win rate by segment" in page and "Big" in page
    assert "tierwise pipeline" in page and "<script" not in page
    assert not (out / "psi.csv").exists()


def test_pipeline_command(runner, spec_path, tmp_path):
    out = tmp_path / "pipeline"
    result = runner.invoke(app, ["pipeline", str(spec_path), "--out", str(out), "--html", str(tmp_path / "p.html")])
    assert result.exit_code == 0, result.output
    assert "Velocity" in result.stdout and "zombies:" in result.stdout
    for name in ("pipeline.json", "velocity.csv", "time_in_stage.csv", "stages.csv", "zombies.csv"):
        assert (out / name).exists(), name
    payload = json.loads((out / "pipeline.json").read_text())
    assert payload["open_deals"] == 1 and payload["threshold"]["open_past_threshold"] == 1  # O3: 123 days old
    assert "Velocity buckets" in (tmp_path / "p.html").read_text()


def test_pipeline_without_deals_is_a_clear_error(runner, make_workspace, tmp_path):
    spec = make_workspace(SPEC, {"accounts.csv": ACCOUNTS})
    assert_clean_error(runner.invoke(app, ["pipeline", str(spec), "--out", str(tmp_path / "p")]),
                       "needs deals: add data.opportunities")


def test_report_on_an_unknown_run(runner, spec_path, tmp_path):
    runner.invoke(app, ["score", str(spec_path), "--out", str(tmp_path / "o")])
    assert_clean_error(runner.invoke(app, ["report", str(spec_path), "--run", "nope", "--out", str(tmp_path / "r")]),
                       "no run 'nope'", "latest: 2026-11-01-")


def test_a_bad_governance_section_is_located(runner, make_workspace, tmp_path):
    spec = make_workspace(SPEC + "governance:\n  pipeline:\n    exclude_when: \"stall_reson == 'x'\"\n"
                                 "  drift: {attributes: [employes]}\n  icp: {segments: [Huge]}\n",
                          {"accounts.csv": ACCOUNTS})
    err = assert_clean_error(runner.invoke(app, ["report", str(spec), "--out", str(tmp_path / "r")]))
    assert "governance.pipeline.exclude_when: unknown column 'stall_reson'" in err
    assert "governance.drift.attributes[0]: unknown column 'employes' (did you mean 'employees'?)" in err
    assert "unknown segment 'Huge'" in err


@pytest.mark.postgres
def test_score_report_and_changes_on_postgres(runner, spec_path, tmp_path, postgres_url):
    """The team store: the same commands with --history postgresql://..."""
    ok = runner.invoke(app, ["score", str(spec_path), "--out", str(tmp_path / "a"), "--as-of", "2026-08-01",
                             "--history", postgres_url])
    assert ok.exit_code == 0, ok.output
    (spec_path.parent / "accounts.csv").write_text(LATER)
    ok = runner.invoke(app, ["score", str(spec_path), "--out", str(tmp_path / "b"), "--history", postgres_url])
    assert ok.exit_code == 0, ok.output
    assert not (spec_path.parent / ".tierwise").exists()  # nothing went to the embedded store
    listed = runner.invoke(app, ["history", "list", "--history", postgres_url])
    assert listed.exit_code == 0, listed.output
    assert listed.stdout.count("2026-08-01-") == 1 and listed.stdout.count("2026-11-01-") == 1, listed.output
    changes = runner.invoke(app, ["history", "changes", "--history", postgres_url, "--csv", str(tmp_path / "c.csv")])
    assert changes.exit_code == 0, changes.output
    assert "A1" in (tmp_path / "c.csv").read_text()
    rep = runner.invoke(app, ["report", str(spec_path), "--history", postgres_url, "--out", str(tmp_path / "r")])
    assert rep.exit_code == 0, rep.output
    payload = json.loads((tmp_path / "r" / "report.json").read_text())
    assert payload["history"].startswith("postgresql://") and payload["drift"]["migration"]["changed"] >= 1


def test_report_without_deals_or_leads(runner, make_workspace, tmp_path):
    spec = make_workspace(SPEC, {"accounts.csv": ACCOUNTS})
    result = runner.invoke(app, ["report", str(spec), "--out", str(tmp_path / "r")])
    assert result.exit_code == 0, result.output
    payload = json.loads((tmp_path / "r" / "report.json").read_text())
    assert payload["stage_conversion"] is None and payload["icp"]["notes"]
    assert {r["flag"] for r in payload["funnel"]["rows"]} == {"not measured"}
    assert [r["group"] for r in payload["performance"]["by_segment"]] == ["Big", "Rest"]
    assert any("no opportunities table" in n for n in payload["notes"])
