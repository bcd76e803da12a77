"""evaluate / cross_validate / time_holdout on hand-checkable cases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from tierwise.errors import DataError
from tierwise.models.evaluation import assign_tiers, cross_validate, evaluate, time_holdout
from tierwise.models.propensity import PropensityModel

# 20 records, p = 0.975 .. 0.025 in steps of 0.05; wins at the positions marked 1.
Y20 = np.array([1, 1, 1, 0, 1, 0, 1, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0])
P20 = np.linspace(0.975, 0.025, 20)


def test_tiny_case_by_hand():
    result = evaluate(Y20, P20)
    assert result["records"] == 20 and result["wins"] == 7
    assert result["base_rate"] == pytest.approx(0.35)
    # Wins at ranks 1,2,3,5,7,10,15: losses ranked below each win, over 7 x 13 pairs.
    below = [13, 13, 13, 12, 11, 9, 5]
    assert result["auc"] == pytest.approx(sum(below) / 91)
    # Average precision: mean of precision at each win.
    assert result["pr_auc"] == pytest.approx(np.mean([1, 1, 1, 4 / 5, 5 / 7, 6 / 10, 7 / 15]))
    assert result["brier"] == pytest.approx(np.mean((P20 - Y20) ** 2))


def test_lift_by_decile_by_hand():
    deciles = evaluate(Y20, P20)["lift_by_decile"]
    assert [d["decile"] for d in deciles] == list(range(1, 11))
    assert [d["records"] for d in deciles] == [2] * 10
    assert [d["wins"] for d in deciles] == [2, 1, 1, 1, 1, 0, 0, 1, 0, 0]
    assert deciles[0]["win_rate"] == 1.0
    assert deciles[0]["lift"] == pytest.approx(1 / 0.35)
    assert deciles[1]["lift"] == pytest.approx(0.5 / 0.35)
    assert [round(d["cumulative_share_of_wins"], 4) for d in deciles[:3]] == [round(2 / 7, 4), round(3 / 7, 4),
                                                                              round(4 / 7, 4)]
    assert deciles[-1]["cumulative_share_of_wins"] == pytest.approx(1.0)


def test_default_tiers_by_hand():
    result = evaluate(Y20, P20)
    tiers = result["by_tier"]
    # A = top 2 records, B = next 4, C = next 6, D = last 8.
    assert [(t["tier"], t["records"], t["wins"]) for t in tiers] == [("A", 2, 2), ("B", 4, 2), ("C", 6, 2),
                                                                      ("D", 8, 1)]
    assert [t["share_of_records"] for t in tiers] == pytest.approx([0.1, 0.2, 0.3, 0.4])
    assert [t["share_of_wins"] for t in tiers] == pytest.approx([2 / 7, 2 / 7, 2 / 7, 1 / 7])
    assert tiers[1]["win_rate"] == 0.5
    # Wilson 95% interval for 2 of 4.
    assert tiers[1]["ci_low"] == pytest.approx(0.15003, abs=1e-4)
    assert tiers[1]["ci_high"] == pytest.approx(0.84997, abs=1e-4)
    assert result["top_tiers_capture"] == {"tiers": ["A", "B"], "share_of_wins": pytest.approx(4 / 7),
                                           "share_of_records": pytest.approx(0.3)}


def test_given_tiers_and_shares():
    tiers = np.array(["1"] * 5 + ["2"] * 5 + ["3"] * 10)
    result = evaluate(Y20, P20, tiers=tiers)
    assert [(t["tier"], t["records"], t["wins"]) for t in result["by_tier"]] == [("1", 5, 4), ("2", 5, 2),
                                                                                 ("3", 10, 1)]
    assert result["top_tiers_capture"]["share_of_wins"] == pytest.approx(6 / 7)
    halves = evaluate(Y20, P20, tier_shares=(0.5, 0.5))["by_tier"]
    assert [(t["tier"], t["records"], t["wins"]) for t in halves] == [("A", 10, 6), ("B", 10, 1)]


def test_calibration_bins():
    calibration = evaluate(Y20, P20)["calibration"]
    assert len(calibration) == 10
    assert [c["count"] for c in calibration] == [2] * 10
    top = calibration[-1]
    assert (top["low"], top["high"]) == (0.9, 1.0)
    assert top["mean_predicted"] == pytest.approx(0.95)
    assert top["observed"] == 1.0
    sparse = evaluate(Y20, np.where(P20 > 0.5, 0.91, 0.05))["calibration"]
    assert [(c["low"], c["count"]) for c in sparse] == [(0.0, 10), (0.9, 10)]


def test_ties_share_a_tier():
    tiers = assign_tiers([0.9, 0.8, 0.8, 0.8, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1])
    # Ranks 1, 4, 4, 4, 10 x 6 (ties take the worst rank): the tied 0.8s would overfill B (2 places),
    # so all go to C; the tied 0.1s all to D. No tier holds more than its share.
    assert tiers.tolist() == ["A", "C", "C", "C", "D", "D", "D", "D", "D", "D"]
    y = [1, 1, 0, 0, 1, 0, 0, 0, 0, 0]
    by_tier = evaluate(y, [0.9, 0.8, 0.8, 0.8, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1])["by_tier"]
    assert [(t["tier"], t["records"], t["wins"]) for t in by_tier] == [("A", 1, 1), ("B", 0, 0), ("C", 3, 1),
                                                                      ("D", 6, 1)]
    with pytest.raises(ValueError, match="summing to 1"):
        assign_tiers([0.1, 0.2], shares=(0.5, 0.4))


def test_evaluate_data_errors():
    with pytest.raises(DataError, match="both won and lost"):
        evaluate([1] * 12, np.linspace(0, 1, 12))
    with pytest.raises(DataError, match="at least 10 records"):
        evaluate([1, 0, 1], [0.2, 0.3, 0.4])
    with pytest.raises(DataError, match="True/False or 1/0"):
        evaluate(["won", "lost"] * 6, np.linspace(0, 1, 12))
    with pytest.raises(DataError, match="NaN"):
        evaluate([1, 0] * 6, [np.nan] + [0.5] * 11)


@pytest.fixture(scope="module")
def frame():
    rng = np.random.default_rng(11)
    n = 1500
    X = pd.DataFrame({"segment": rng.choice(["ent", "mid", "smb"], n), "visits": rng.poisson(3, n).astype(float)})
    logit = -1.2 + 1.4 * (X.segment == "ent") + 0.25 * X.visits
    y = rng.random(n) < 1 / (1 + np.exp(-logit))
    time = pd.Series(pd.Timestamp("2023-01-01") + pd.to_timedelta(np.arange(n), unit="h"))
    return X, y, time


def make_model():
    return PropensityModel(n_estimators=40, min_child_samples=10, n_jobs=1)


def test_cross_validate_out_of_fold(frame):
    X, y, _ = frame
    seen = []

    def make():
        model = make_model()
        original = model.fit

        def fit(X_fold, y_fold, **kwargs):
            seen.append(set(X_fold.index))
            return original(X_fold, y_fold, **kwargs)

        model.fit = fit
        return model

    oof, per_fold = cross_validate(make, X, y, folds=3)
    assert len(per_fold) == 3 and not np.isnan(oof).any()
    assert [f["fold"] for f in per_fold] == [1, 2, 3]
    assert sum(f["records"] for f in per_fold) == len(X)
    # No leakage: each record is scored by the one model that did not see it.
    for train in seen:
        assert len(train) == pytest.approx(len(X) * 2 / 3, abs=2)
    counts = sum(np.isin(X.index, list(s)).astype(int) for s in seen)
    assert (counts == 2).all()  # every record is in exactly two of the three training sets
    assert evaluate(y, oof)["auc"] > 0.65
    for fold in per_fold:
        assert 0.6 < fold["auc"] < 0.9 and 0 < fold["brier"] < 0.25


def test_cross_validate_by_time(frame):
    X, y, time = frame
    oof, per_fold = cross_validate(make_model, X, y, folds=4, time=time)
    assert len(per_fold) == 4
    # TimeSeriesSplit: the earliest block is never scored.
    first_block = len(X) - 4 * (len(X) // 5)
    assert np.isnan(oof[:first_block]).all() and not np.isnan(oof[first_block:]).any()


def test_cross_validate_errors(frame):
    X, y, _ = frame
    with pytest.raises(DataError, match="same outcome"):
        cross_validate(make_model, X, np.ones(len(X), dtype=bool))
    few = np.zeros(len(X), dtype=bool)
    few[:3] = True
    with pytest.raises(DataError, match="at least 5 records of each outcome"):
        cross_validate(make_model, X, few)
    with pytest.raises(ValueError, match="The 'folds' parameter of cross_validate must be an int >= 2; got 1."):
        cross_validate(make_model, X, y, folds=1)


def test_time_holdout(frame):
    X, y, time = frame
    result = time_holdout(make_model, X, y, time=time, holdout_share=0.25)
    assert result["train_records"] == 1125 and result["test_records"] == 375
    assert result["cutoff"] == time.iloc[1125]
    assert list(result["probabilities"].index) == list(X.index[1125:])
    assert result["metrics"]["records"] == 375 and result["metrics"]["auc"] > 0.6
    # A plain scikit-learn estimator (no time= in fit) works too.
    numeric = pd.get_dummies(X, dtype=float)
    plain = time_holdout(LogisticRegression, numeric, y, time=time)
    assert plain["metrics"]["auc"] > 0.6
