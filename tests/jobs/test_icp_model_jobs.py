"""ICP discovery, lookalikes and the propensity model end to end on a generated workspace."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from tierwise.demo.generate import generate_workspace
from tierwise.errors import DataError
from tierwise.jobs.icp import discover, discover_table, lookalikes
from tierwise.jobs.model import score_accounts, train
from tierwise.jobs.score import score
from tierwise.models.propensity import PropensityModel
from tierwise.spec import load_spec


@pytest.fixture(scope="module")
def spec(tmp_path_factory) -> Path:
    return generate_workspace(tmp_path_factory.mktemp("ws"), accounts=8000, events_per_account=4, fmt="parquet",
                              mess=False)


@pytest.fixture(scope="module")
def discovered(spec, tmp_path_factory):
    return discover(spec, tmp_path_factory.mktemp("icp"))


@pytest.fixture(scope="module")
def trained(spec):
    return train(spec)


def test_discovery_finds_the_planted_icp_and_writes_every_output(discovered):
    s = discovered.summary
    assert s["has_signal"] and s["records"] > 500 and 0.1 < s["win_rate"] < 0.5
    assert s["ltv_source"] == "transactions" and s["best_customers_basis"] == "ltv"
    assert {"industry", "employees", "tech_stack"} <= set(s["validated_attributes"])
    assert s["inputs"]["opportunities"]["read"] == s["inputs"]["opportunities"]["loaded"]
    files = {k: Path(v) for k, v in discovered.files.items()}
    assert {"attributes", "markdown", "html", "suggested_fit", "summary"} <= set(files)
    header = files["attributes"].read_text().splitlines()[0].split(",")
    assert header[:8] == ["attribute", "value", "support", "win_rate", "ci_low", "ci_high", "lift", "significant"]
    attrs = pd.read_csv(files["attributes"])
    software = attrs[(attrs.attribute == "industry") & (attrs.value == "Software")].iloc[0]
    assert software.lift > 1 and software.ci_low < software.win_rate < software.ci_high
    assert json.loads(files["summary"].read_text())["has_signal"] is True
    assert "<script src=" not in files["html"].read_text()


def test_suggested_fit_is_adopted_by_the_spec_as_is(spec, discovered, tmp_path):
    suggested = yaml.safe_load(Path(discovered.files["suggested_fit"]).read_text())
    assert suggested["fit"]["criteria"], "a workspace with signal gets criteria"
    text = spec.read_text()
    doc = yaml.safe_load(text)
    doc["fit"] = suggested["fit"]
    doc["data"] = {k: {**v, "path": str(spec.parent / v["path"])} for k, v in doc["data"].items()}
    adopted = tmp_path / "spec.yaml"
    adopted.write_text(yaml.safe_dump(doc, sort_keys=False))
    result = score(adopted, tmp_path / "out")
    assert result.summary["accounts"] == 8000
    top = pd.read_parquet(tmp_path / "out" / "scores.parquet").sort_values("fit_score").iloc[-1]
    assert top.fit_score > 50


def test_discovery_reruns_are_byte_identical(spec, discovered, tmp_path):
    again = discover(spec, tmp_path)
    for key in ("attributes", "markdown", "html", "suggested_fit", "summary"):
        assert Path(again.files[key]).read_bytes() == Path(discovered.files[key]).read_bytes(), key


def test_lookalikes_rank_prospects_only(spec, tmp_path):
    result = lookalikes(spec, tmp_path)
    table = pd.read_csv(result.files["lookalikes"])
    s = result.summary
    assert len(table) == s["prospects"] == s["accounts"] - s["customers"]
    assert table.lookalike_score.is_monotonic_decreasing
    assert table.reason_1.iloc[0].endswith("as common among best customers")
    assert s["holdout_auc"] is not None and s["holdout_auc"] > 0.6


def test_training_saves_a_model_with_its_metadata(trained, spec):
    meta = json.loads((trained.model_dir / "model.json").read_text())["metadata"]
    assert meta["training_window"]["first_deal_created"] < meta["holdout"]["from"]
    opps = pd.read_parquet(spec.parent / "data" / "opportunities.parquet")
    decided = opps[opps.is_closed & (pd.to_datetime(opps.closed_at) < "2026-11-01")]
    assert (meta["deals"], meta["won"]) == (len(decided), int(decided.is_won.sum()))
    assert "industry" in meta["features"] and "prior_wins" in meta["features"]
    assert any(f.endswith("_90d") for f in meta["features"])
    assert not {"won", "amount", "cycle_days", "closed_at", "key", "account_id"} & set(meta["features"])
    assert 0.5 < trained.metrics["auc"] < 1 and len(trained.metrics["lift_by_decile"]) == 10
    assert (trained.model_dir / "report.md").read_text().startswith("# Propensity model")
    versions = json.loads((trained.model_dir / "model.json").read_text())["versions"]
    assert {"lightgbm", "sklearn", "tierwise"} <= set(versions)


def test_scoring_uses_the_saved_model_for_every_account(trained, spec, tmp_path):
    result = score_accounts(spec, tmp_path)
    table = pd.read_parquet(result["files"]["parquet"])
    assert len(table) == 8000 and table.propensity.between(0, 100).all()
    assert table.account_id.is_monotonic_increasing
    assert table.propensity_reason_1.notna().all()
    model = PropensityModel.load(trained.model_dir)
    assert model.metadata_["features"] == list(model.feature_names_)
    # reruns are byte-identical: the same scores file, and retraining gives the same model file
    again = score_accounts(spec, tmp_path / "again")
    assert Path(again["files"]["csv"]).read_bytes() == Path(result["files"]["csv"]).read_bytes()
    before = (trained.model_dir / "model.txt").read_bytes()
    train(spec)
    assert (trained.model_dir / "model.txt").read_bytes() == before


def test_propensity_as_a_score_component(trained, spec, tmp_path):
    text = spec.read_text().replace("weight: 40\n", "weight: 30\n", 1) + "propensity:\n  weight: 10\n"
    weighted = spec.parent / "spec-propensity.yaml"
    weighted.write_text(text)
    out = score(weighted, tmp_path / "scores")
    scores = pd.read_parquet(tmp_path / "scores" / "scores.parquet")
    assert "propensity_score" in scores.columns and out.summary["accounts"] == 8000
    alone = pd.read_parquet(score_accounts(weighted, tmp_path / "p")["files"]["parquet"])
    merged = scores.merge(alone, on="account_id")
    assert np.allclose(merged.propensity_score, merged.propensity)
    expected = (0.30 * merged.fit_score + 0.35 * merged.signal_score + 0.25 * merged.engagement_score
                + 0.10 * merged.propensity)
    assert np.allclose(merged.score, expected, atol=0.011)


# --------------------------------------------------------------------------- bad input


def _workspace_with(tmp_path: Path, spec: Path, opportunities: pd.DataFrame | None) -> Path:
    target = tmp_path / "ws"
    shutil.copytree(spec.parent, target, ignore=shutil.ignore_patterns("models"))
    if opportunities is None:
        text = (target / "spec.yaml").read_text().replace("  opportunities:\n    path: data/opportunities.parquet\n", "")
        (target / "spec.yaml").write_text(text)
    else:
        opportunities.to_parquet(target / "data" / "opportunities.parquet")
    return target / "spec.yaml"


def test_bad_input_says_what_is_needed(spec, tmp_path):
    opps = pd.read_parquet(spec.parent / "data" / "opportunities.parquet")
    with pytest.raises(DataError, match="data.opportunities is not set"):
        discover(_workspace_with(tmp_path / "a", spec, None), tmp_path / "out")
    lost_only = opps.assign(is_won=opps.is_won & False)
    with pytest.raises(DataError, match="are lost; discovery compares won with lost records and needs both"):
        discover(_workspace_with(tmp_path / "b", spec, lost_only), tmp_path / "out")
    with pytest.raises(DataError, match="a propensity model needs both won and lost outcomes"):
        train(_workspace_with(tmp_path / "c", spec, lost_only))
    few = opps[opps.is_closed].head(40)
    with pytest.raises(DataError, match="too few for a time-based split"):
        train(_workspace_with(tmp_path / "d", spec, few))
    open_only = opps.assign(is_closed=False, is_won=None)
    with pytest.raises(DataError, match="no closed opportunity with a result"):
        discover(_workspace_with(tmp_path / "e", spec, open_only), tmp_path / "out")


def test_scoring_without_a_trained_model(spec, tmp_path):
    target = tmp_path / "ws"
    shutil.copytree(spec.parent, target, ignore=shutil.ignore_patterns("models"))
    with pytest.raises(DataError, match="no trained model at .* run `tierwise model train"):
        score_accounts(target / "spec.yaml", tmp_path / "out")


def test_flat_table_needs_enough_records(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("a,won\n" + "".join(f"x{i % 3},{i % 2}\n" for i in range(20)))
    with pytest.raises(DataError, match="20 closed records; ICP discovery needs at least 30"):
        discover_table(path, tmp_path / "out", outcome="won", won="1")


def test_nothing_at_or_after_a_deals_creation_reaches_its_row(spec, tmp_path):
    """Events on or after a deal's creation day, and deals created later, leave its training row unchanged."""
    from tierwise.engine import connect
    from tierwise.jobs import learning
    from tierwise.jobs.workspace import load_workspace

    def rows(spec_path):
        with connect() as engine:
            ws = load_workspace(engine, load_spec(spec_path), tables=("accounts", "opportunities", "activities"))
            data = learning.prepare(ws)
            return learning.deal_frame(ws, data).set_index("key")

    before = rows(spec)
    deal = before[before.prior_deals == 0].iloc[0]
    target = tmp_path / "ws"
    shutil.copytree(spec.parent, target, ignore=shutil.ignore_patterns("models"))
    acts = pd.read_parquet(target / "data" / "activities.parquet")
    created = pd.Timestamp(deal.cutoff)
    extra = pd.DataFrame({"activity_id": ["X1", "X2"], "account_id": [deal.account_id] * 2,
                          "event_type": ["demo_request", "pricing_page_visit"],
                          "occurred_at": [created + pd.Timedelta(hours=1), created + pd.Timedelta(days=3)]})
    extra["occurred_at"] = extra["occurred_at"].astype(acts["occurred_at"].dtype)
    pd.concat([acts, extra], ignore_index=True).to_parquet(target / "data" / "activities.parquet")
    opps = pd.read_parquet(target / "data" / "opportunities.parquet")
    later = opps.iloc[[0]].assign(opportunity_id="OX", account_id=deal.account_id,
                                  created_at=(created + pd.Timedelta(days=1)).date(), is_won=True, is_closed=True)
    pd.concat([opps, later], ignore_index=True).to_parquet(target / "data" / "opportunities.parquet")
    after = rows(target / "spec.yaml")
    features = [c for c in before.columns if c not in ("tech_stack",)]
    pd.testing.assert_series_equal(after.loc[deal.name, features], before.loc[deal.name, features])
