"""LeakageGuard on synthetic frames with planted leaks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tierwise.errors import DataError
from tierwise.models.leakage import LeakageFinding, LeakageGuard, normalise_name, single_feature_auc


@pytest.fixture(scope="module")
def deals():
    """1,000 deals with honest columns, a planted leaky column and a process column."""
    rng = np.random.default_rng(3)
    n = 1000
    industry = rng.choice(["software", "retail", "fintech", "health"], n)
    employees = rng.lognormal(5, 1, n)
    logit = -1 + 1.2 * (industry == "software") + 0.3 * np.log(employees / 150)
    won = rng.random(n) < 1 / (1 + np.exp(-logit))
    X = pd.DataFrame({
        "industry": industry,
        "employees": employees,
        "region": rng.choice(["emea", "na", "apac"], n),
        # filled in by sales once the deal is decided: almost the outcome itself
        "deal_status_note": np.where(won ^ (rng.random(n) < 0.03), "contract sent", "no answer"),
        "days_in_stage": rng.integers(1, 90, n),
    })
    return X, won


@pytest.fixture(scope="module")
def guard(deals):
    X, won = deals
    return LeakageGuard().fit(X, won)


def test_planted_leak_excluded_honest_kept(guard):
    assert guard.excluded_ == ["deal_status_note", "days_in_stage"]
    assert guard.kept_ == ["industry", "employees", "region"]


def test_findings_carry_evidence(guard):
    by_kind = {(f.column, f.kind): f for f in guard.findings_}
    leak = by_kind[("deal_status_note", "auc")]
    assert leak.action == "exclude"
    assert leak.evidence["auc"] > 0.95
    assert leak.evidence["auc"] - leak.evidence["best_other_auc"] >= 0.08
    assert "AUC" in leak.reason
    process = by_kind[("days_in_stage", "process")]
    assert process.action == "exclude" and process.evidence["pattern"].startswith(r"\bdays? in")
    # every column's single-feature AUC is reported
    assert set(guard.auc_) == {"industry", "employees", "region", "deal_status_note", "days_in_stage"}
    assert 0.6 < guard.auc_["industry"]["auc"] < 0.8
    assert guard.auc_["region"]["auc"] < 0.58
    assert list(guard.summary().columns) == ["column", "kind", "action", "auc", "reason"]


def test_transform_drops_excluded(guard, deals):
    X, _ = deals
    assert list(guard.transform(X).columns) == ["industry", "employees", "region"]


def test_include_overrides_and_is_recorded(deals):
    X, won = deals
    guard = LeakageGuard(include=["days_in_stage"]).fit(X, won)
    assert "days_in_stage" in guard.kept_
    assert guard.excluded_ == ["deal_status_note"]
    finding = next(f for f in guard.findings_ if f.column == "days_in_stage")
    assert finding.action == "warn"
    assert finding.evidence["overridden"] is True
    assert "include= overrides the guard" in finding.reason


def test_exclude_forces(deals):
    X, won = deals
    guard = LeakageGuard(exclude=["region"]).fit(X, won)
    assert guard.excluded_ == ["region", "deal_status_note", "days_in_stage"]
    assert any(f.column == "region" and f.kind == "user" for f in guard.findings_)


def test_strong_but_not_alone_is_a_warning():
    """Two equally strong columns: neither is clearly ahead, so both are kept with a warning."""
    rng = np.random.default_rng(5)
    y = rng.random(2000) < 0.4
    a = np.where(y ^ (rng.random(2000) < 0.05), "yes", "no")
    b = np.where(y ^ (rng.random(2000) < 0.05), "hi", "lo")
    guard = LeakageGuard().fit(pd.DataFrame({"signal_a": a, "signal_b": b}), y)
    assert guard.excluded_ == []
    assert [(f.column, f.kind, f.action) for f in guard.findings_] == [
        ("signal_a", "auc", "warn"), ("signal_b", "auc", "warn")]


def test_missingness_warning():
    """A field filled in mostly for won deals: its missingness alone predicts the outcome."""
    rng = np.random.default_rng(6)
    y = rng.random(1000) < 0.4
    filled = np.where(y, rng.random(1000) < 0.9, rng.random(1000) < 0.2)
    budget = pd.Series(np.where(filled, rng.normal(50, 10, 1000), np.nan))
    guard = LeakageGuard().fit(pd.DataFrame({"budget": budget, "noise": rng.normal(size=1000)}), y)
    finding = next(f for f in guard.findings_ if f.kind == "missingness")
    assert finding.column == "budget" and finding.action == "warn"
    assert finding.evidence["missing_auc"] == pytest.approx(0.85, abs=0.04)


def test_timestamp_after_outcome_excluded():
    rng = np.random.default_rng(8)
    n = 300
    y = rng.random(n) < 0.5
    closed = pd.Series(pd.Timestamp("2024-06-01") + pd.to_timedelta(rng.integers(0, 100, n), unit="D"))
    X = pd.DataFrame({"segment": rng.choice(["a", "b"], n), "reason_code": rng.choice(["x", "y"], n)})
    timestamps = {
        "reason_code": closed + pd.Timedelta(days=2),  # set after the outcome
        "segment": closed - pd.Timedelta(days=30),  # known before
    }
    guard = LeakageGuard().fit(X, y, outcome_time=closed, timestamps=timestamps)
    assert guard.excluded_ == ["reason_code"]
    finding = next(f for f in guard.findings_ if f.kind == "timestamp")
    assert finding.evidence["share_after_outcome"] == 1.0
    assert finding.evidence["records_compared"] == n
    with pytest.raises(DataError, match="needs outcome_time"):
        LeakageGuard().fit(X, y, timestamps=timestamps)


def test_assessment_names_and_identifiers():
    rng = np.random.default_rng(9)
    n = 200
    y = rng.random(n) < 0.5
    X = pd.DataFrame({
        "Lead Quality": rng.choice(["high", "low"], n),
        "Prospect ID": [f"p{i}" for i in range(n)],
        "Lead Number": np.arange(n),
        "Page Views": rng.integers(0, 20, n),
    })
    guard = LeakageGuard().fit(X, y)
    assert guard.excluded_ == ["Prospect ID", "Lead Number"]
    kinds = {(f.column, f.kind, f.action) for f in guard.findings_}
    assert ("Lead Quality", "assessment", "warn") in kinds
    assert ("Prospect ID", "identifier", "exclude") in kinds


def test_single_feature_auc():
    y = np.array([0, 0, 0, 0, 1, 1, 1, 1] * 10)
    perfect = single_feature_auc(pd.Series(np.arange(80) % 8), y)
    assert perfect == {"auc": 1.0, "missing_share": 0.0, "missing_auc": 0.5}
    reversed_ = single_feature_auc(pd.Series(-(np.arange(80) % 8)), y)
    assert reversed_["auc"] == 1.0  # direction-free
    constant = single_feature_auc(pd.Series(["same"] * 80), y)
    assert constant["auc"] == 0.5


def test_normalise_name():
    assert normalise_name("Ratio_Days-Qualified To Total Days") == "ratio days qualified to total days"


def test_data_errors_and_parameters():
    X = pd.DataFrame({"x": range(10)})
    with pytest.raises(DataError, match="exactly two classes"):
        LeakageGuard().fit(X, [1] * 10)
    with pytest.raises(DataError, match="at least 2 records of each class"):
        LeakageGuard().fit(X, [1] * 9 + [0])
    with pytest.raises(ValueError, match="The 'auc_threshold' parameter of LeakageGuard must be a float in"):
        LeakageGuard(auc_threshold=0.4).fit(X, [0, 1] * 5)
    with pytest.raises(ValueError, match=r"names unknown columns: \['nope'\]"):
        LeakageGuard(include=["nope"]).fit(X, [0, 1] * 5)


def test_finding_is_a_plain_record():
    finding = LeakageFinding("stage", "process", "why", {"auc": 0.9})
    assert finding.action == "exclude"
