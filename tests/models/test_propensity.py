"""PropensityModel: fit, calibration, reasons, save/load and data errors on small synthetic frames."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from tierwise.errors import DataError
from tierwise.models.propensity import Calibrator, Contribution, PropensityModel

FAST = {"n_estimators": 60, "min_child_samples": 10, "n_jobs": 1, "calibration": "isotonic"}


@pytest.fixture(scope="module")
def deals():
    """2,000 deals: software wins far more often, and more pricing-page visits help."""
    rng = np.random.default_rng(7)
    n = 2000
    industry = rng.choice(["software", "retail", "fintech"], n)
    visits = rng.poisson(2, n).astype(float)
    visits[rng.random(n) < 0.05] = np.nan
    logit = -1.0 + 1.5 * (industry == "software") + 0.4 * np.nan_to_num(visits) - 0.6
    won = rng.random(n) < 1 / (1 + np.exp(-logit))
    time = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.permutation(n), unit="D")
    X = pd.DataFrame({"industry": industry, "pricing_page_visit_90d": visits})
    return X, won, pd.Series(time)


@pytest.fixture(scope="module")
def model(deals):
    X, won, _ = deals
    return PropensityModel(**FAST).fit(X, won)


def test_learned_attributes(model):
    assert model.feature_names_ == ["industry", "pricing_page_visit_90d"]
    assert model.categories_ == {"industry": ["fintech", "retail", "software"]}
    assert model.classes_.tolist() == [False, True]
    assert model.n_features_in_ == 2
    assert 1 <= model.best_iteration_ <= 60
    assert model.booster_.num_trees() == model.best_iteration_
    assert model.calibrator_.method == "isotonic"


def test_auto_calibration_needs_a_thousand_records_for_isotonic(deals):
    X, won, _ = deals  # 2,000 records: a 400-record calibration holdout
    fast = {**FAST, "calibration": "auto"}
    assert PropensityModel(**fast).fit(X, won).calibrator_.method == "sigmoid"
    assert PropensityModel(**fast, calibration_share=0.5).fit(X, won).calibrator_.method == "isotonic"


def test_probabilities_rank_the_signal(model, deals):
    X, won, _ = deals
    proba = model.predict_proba(X)
    assert proba.shape == (len(X), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert ((proba >= 0) & (proba <= 1)).all()
    p = proba[:, 1]
    # Software and many visits score higher on average, as generated.
    assert p[X.industry == "software"].mean() > p[X.industry == "retail"].mean() + 0.2
    assert p[X.pricing_page_visit_90d >= 4].mean() > p[X.pricing_page_visit_90d <= 1].mean()
    # Calibrated: the mean probability is close to the win rate.
    assert abs(p.mean() - won.mean()) < 0.03


def test_calibration_keeps_the_booster_order(model, deals):
    X, _, _ = deals
    raw = model.decision_function(X)
    p = model.predict_proba(X)[:, 1]
    order = np.argsort(raw, kind="stable")
    assert (np.diff(p[order]) >= 0).all()
    # Records the booster tells apart are never tied by calibration.
    distinct_raw = len(np.unique(np.round(raw, 12)))
    assert len(np.unique(p)) == distinct_raw


def test_score_0_100(model, deals):
    X, _, _ = deals
    scores = model.score_0_100(X.head(20))
    np.testing.assert_array_equal(scores, np.round(model.predict_proba(X.head(20))[:, 1] * 100, 1))
    assert scores.min() >= 0 and scores.max() <= 100


def test_contributions_sum_to_raw_log_odds(model, deals):
    X, _, _ = deals
    head = X.head(50)
    contrib = model.contributions(head)
    assert list(contrib.columns) == ["industry", "pricing_page_visit_90d", "bias"]
    np.testing.assert_allclose(contrib.sum(axis=1).to_numpy(), model.decision_function(head), atol=1e-9)
    explained = model.explain(head, top=None)
    for i, reasons in enumerate(explained):
        total = sum(c.log_odds for c in reasons) + contrib["bias"].iloc[i]
        assert total == pytest.approx(model.decision_function(head.iloc[[i]])[0], abs=1e-9)


def test_explain_top_reasons_in_words(model, deals):
    X, _, _ = deals
    reasons = model.explain(X.head(5), top=1)
    assert [len(r) for r in reasons] == [1] * 5
    first = model.explain(X.head(1), top=2)[0]
    assert abs(first[0].log_odds) >= abs(first[1].log_odds)
    assert {c.feature for c in first} == {"industry", "pricing_page_visit_90d"}
    software = X.index[X.industry == "software"][0]
    by_feature = {c.feature: c for c in model.explain(X.loc[[software]], top=None)[0]}
    assert by_feature["industry"].value == "software"
    assert by_feature["industry"].log_odds > 0
    assert by_feature["industry"].describe().startswith("industry is software: raises the odds (+")


def test_contribution_describe():
    assert Contribution("industry", "software", 0.42).describe() == "industry is software: raises the odds (+0.42)"
    assert Contribution("visits", 4.0, 0.31).describe() == "visits = 4: raises the odds (+0.31)"
    assert Contribution("amount", 125000.0, -0.314).describe() == "amount = 125,000: lowers the odds (-0.31)"
    assert Contribution("ratio", 0.123456, 0.0).describe() == "ratio = 0.1235: no effect (+0.00)"
    assert Contribution("country", None, -0.2).describe() == "country is missing: lowers the odds (-0.20)"


def test_unseen_category_and_missing_values_score_as_missing(model):
    rows = pd.DataFrame({"industry": ["aerospace", None], "pricing_page_visit_90d": [2.0, 2.0]})
    p = model.predict_proba(rows)[:, 1]
    assert p[0] == pytest.approx(p[1])
    assert model.explain(rows, top=None)[0][0].value in ("aerospace", 2.0)


def test_save_load_round_trip(model, deals, tmp_path):
    X, _, _ = deals
    model.save(tmp_path / "m", {"trained_on": "synthetic", "records": 2000})
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == ["model.json", "model.txt"]
    doc = json.loads((tmp_path / "m" / "model.json").read_text())
    assert doc["metadata"] == {"trained_on": "synthetic", "records": 2000}
    assert set(doc["versions"]) == {"lightgbm", "sklearn", "tierwise"}
    assert doc["categories"] == {"industry": ["fintech", "retail", "software"]}
    assert doc["calibrator"]["method"] == "isotonic" and len(doc["calibrator"]["x"]) >= 2
    loaded = PropensityModel.load(tmp_path / "m")
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    np.testing.assert_array_equal(loaded.score_0_100(X), model.score_0_100(X))
    assert loaded.explain(X.head(3)) == model.explain(X.head(3))
    assert loaded.metadata_["records"] == 2000
    assert loaded.get_params() == model.get_params()


def test_load_errors(tmp_path):
    with pytest.raises(DataError, match="No saved propensity model"):
        PropensityModel.load(tmp_path)
    (tmp_path / "model.json").write_text('{"format": "other"}')
    (tmp_path / "model.txt").write_text("")
    with pytest.raises(DataError, match="is not a tierwise-propensity/1 model"):
        PropensityModel.load(tmp_path)


def test_time_holdout_calibrates_on_latest(deals):
    X, won, time = deals
    by_time = PropensityModel(**FAST).fit(X, won, time=time)
    # Same data, different holdout: a different (still valid) calibration.
    assert by_time.calibrator_ != PropensityModel(**FAST).fit(X, won).calibrator_
    p = by_time.predict_proba(X)[:, 1]
    assert abs(p.mean() - won.mean()) < 0.05


def test_sigmoid_calibration(deals):
    X, won, _ = deals
    model = PropensityModel(**{**FAST, "calibration": "sigmoid"}).fit(X, won)
    assert model.calibrator_.method == "sigmoid" and model.calibrator_.slope > 0
    p = model.predict_proba(X)[:, 1]
    assert abs(p.mean() - won.mean()) < 0.03


def test_calibrator_is_strictly_increasing():
    iso = Calibrator("isotonic", x=(0.2, 0.6), y=(0.1, 0.5))
    p = np.array([0.0, 0.1, 0.2, 0.4, 0.6, 0.9, 1.0])
    out = iso(p)
    assert (np.diff(out) > 0).all()
    np.testing.assert_allclose(out, [0.1, 0.1, 0.1, 0.3, 0.5, 0.5, 0.5], atol=1e-6)
    assert Calibrator.from_dict(iso.to_dict()) == iso


def test_same_seed_same_model(deals):
    X, won, _ = deals
    a = PropensityModel(**FAST).fit(X, won).predict_proba(X)
    b = PropensityModel(**FAST).fit(X, won).predict_proba(X)
    np.testing.assert_array_equal(a, b)


def test_bool_columns_are_numeric():
    rng = np.random.default_rng(1)
    X = pd.DataFrame({"demo_booked": rng.random(400) < 0.5, "segment": rng.choice(["smb", "ent"], 400)})
    y = rng.random(400) < np.where(X.demo_booked, 0.7, 0.2)
    model = PropensityModel(**FAST).fit(X, y)
    assert model.categories_ == {"segment": ["ent", "smb"]}
    p = model.predict_proba(X)[:, 1]
    assert p[X.demo_booked].mean() > p[~X.demo_booked].mean() + 0.3


@pytest.mark.parametrize(
    ("y", "message"),
    [
        (np.ones(200, dtype=bool), "needs both won and lost records"),
        (np.r_[np.ones(195, dtype=bool), np.zeros(5, dtype=bool)], "Too few records"),
    ],
)
def test_data_errors(y, message):
    X = pd.DataFrame({"x": np.arange(len(y), dtype=float)})
    with pytest.raises(DataError, match=message):
        PropensityModel(**FAST).fit(X, y)


def test_feature_errors():
    y = np.array([True, False] * 50)
    with pytest.raises(DataError, match="is a date"):
        PropensityModel().fit(pd.DataFrame({"d": pd.date_range("2024-01-01", periods=100)}), y)
    with pytest.raises(DataError, match="holds lists"):
        PropensityModel().fit(pd.DataFrame({"tech": [["a", "b"]] * 100}), y)
    with pytest.raises(DataError, match="at least one feature"):
        PropensityModel().fit(pd.DataFrame(index=range(100)), y)
    model = PropensityModel(**FAST).fit(pd.DataFrame({"x": np.arange(100.0)}), y)
    with pytest.raises(DataError, match=r"missing: \['x'\]"):
        model.predict_proba(pd.DataFrame({"z": [1.0]}))
    with pytest.raises(DataError, match="time is missing for 1 records"):
        PropensityModel(**FAST).fit(pd.DataFrame({"x": np.arange(100.0)}), y,
                                    time=[pd.NaT] + list(pd.date_range("2024-01-01", periods=99)))
    with pytest.raises(DataError, match="not fitted"):
        PropensityModel().predict_proba(pd.DataFrame({"x": [1.0]}))


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"n_estimators": 0}, "The 'n_estimators' parameter of PropensityModel must be an int >= 1; got 0."),
        ({"calibration": "platt"}, "The 'calibration' parameter of PropensityModel must be 'auto', 'isotonic' or 'sigmoid'"),
        ({"calibration_share": 0.7}, r"The 'calibration_share' parameter of PropensityModel must be a float in"),
        ({"learning_rate": -0.1}, r"The 'learning_rate' parameter of PropensityModel must be a float in"),
    ],
)
def test_parameter_validation(params, message):
    with pytest.raises(ValueError, match=message):
        PropensityModel(**params).fit(pd.DataFrame({"x": np.arange(100.0)}), np.array([True, False] * 50))
