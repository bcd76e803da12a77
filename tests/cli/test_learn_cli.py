"""``tierwise icp`` and ``tierwise model``: argument checks, messages and exit codes."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from tierwise.cli.main import app

runner = CliRunner()


@pytest.fixture
def deals_csv(tmp_path):
    """600 deals: software and large companies win more often; the outcome is Won / Lost / Open."""
    rng = np.random.default_rng(3)
    lines = ["deal_id,industry,employees,days_in_stage,result"]
    for i in range(600):
        industry = rng.choice(["software", "retail", "energy"])
        employees = int(rng.integers(10, 5000))
        p = 0.15 + 0.35 * (industry == "software") + 0.2 * (employees > 1000)
        won = rng.random() < p
        result = "Open" if i % 50 == 0 else ("Won" if won else "Lost")
        lines.append(f"D{i},{industry},{employees},{int(rng.integers(1, 90))},{result}")
    path = tmp_path / "deals.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_discover_needs_a_spec_or_a_table(tmp_path):
    result = runner.invoke(app, ["icp", "discover", "--out", str(tmp_path)])
    assert result.exit_code == 1 and "give a spec" in result.output
    result = runner.invoke(app, ["icp", "discover", "--table", "x.csv", "--out", str(tmp_path)])
    assert result.exit_code == 1 and "--table needs --outcome COLUMN and --won VALUE" in result.output


def test_discover_on_a_flat_table(deals_csv, tmp_path):
    out = tmp_path / "icp"
    result = runner.invoke(app, ["icp", "discover", "--table", str(deals_csv), "--outcome", "result", "--won", "Won",
                                 "--out", str(out)])
    assert result.exit_code == 1 and "has 3 values (Lost, Open, Won); say which mean a loss with --lost" in result.output
    result = runner.invoke(app, ["icp", "discover", "--table", str(deals_csv), "--outcome", "result", "--won", "Won",
                                 "--lost", "Lost", "--out", str(out)])
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["records"] == 588 and summary["inputs"]["quarantined"] == 12
    assert summary["has_signal"] and "industry" in summary["validated_attributes"]
    assert "days_in_stage" not in summary["validated_attributes"]  # the leakage guard left it out
    assert any(f["column"] == "days_in_stage" and f["action"] == "exclude" for f in summary["leakage"])
    assert (out / "quarantine.csv").read_text().count("neither won") == 12
    assert "'deal_id' skipped: a record key" in result.output


def test_evaluate_on_a_flat_table(deals_csv, tmp_path):
    result = runner.invoke(app, ["model", "evaluate", "--table", str(deals_csv), "--outcome", "result", "--won", "Won",
                                 "--lost", "Lost", "--folds", "3", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert 0.6 < summary["auc"] <= 1 and len(summary["folds"]) == 3
    assert "days_in_stage" in summary["excluded"] and "3-fold cross-validated AUC" in result.output
    assert (tmp_path / "lift_by_decile.csv").read_text().startswith("decile,")


def test_evaluate_include_typo_names_the_features(deals_csv, tmp_path):
    result = runner.invoke(app, ["model", "evaluate", "--table", str(deals_csv), "--outcome", "result", "--won", "Won",
                                 "--lost", "Lost", "--include", "days_in_stag", "--out", str(tmp_path)])
    assert result.exit_code == 1
    assert "--include names no feature 'days_in_stag' (did you mean 'days_in_stage'?)" in result.output


def test_table_only_flags_are_refused_with_a_spec(tmp_path):
    result = runner.invoke(app, ["icp", "discover", str(tmp_path / "spec.yaml"), "--exclude", "x", "--na", "Select",
                                 "--out", str(tmp_path)])
    assert result.exit_code == 1 and "--exclude, --na only apply with --table" in result.output


def test_discover_include_typo(deals_csv, tmp_path):
    result = runner.invoke(app, ["icp", "discover", "--table", str(deals_csv), "--outcome", "result", "--won", "Won",
                                 "--lost", "Lost", "--include", "industy", "--out", str(tmp_path)])
    assert result.exit_code == 1 and "--include names no feature 'industy' (did you mean 'industry'?)" in result.output


def test_evaluate_accepts_excluding_a_skipped_identifier(deals_csv, tmp_path):
    result = runner.invoke(app, ["model", "evaluate", "--table", str(deals_csv), "--outcome", "result", "--won", "Won",
                                 "--lost", "Lost", "--exclude", "deal_id", "--exclude", "employees", "--folds", "3",
                                 "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert "employees" not in summary["features"] and "deal_id" not in summary["features"]
