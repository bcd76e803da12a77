"""ICPDiscovery on small frames whose answers are known: hand-counted tables, planted signals, pure noise."""

from __future__ import annotations

import math
import re
from datetime import datetime

import numpy as np
import pandas as pd
import pytest
from scipy.stats import chi2_contingency, fisher_exact

from tierwise.errors import DataError
from tierwise.models.discovery import ICPDiscovery
from tierwise.models.segments import Segment
from tierwise.spec.model import FitSpec


def hand_frame() -> pd.DataFrame:
    """100 deals: industry A 40 (30 won), B 60 (15 won); size 0..99."""
    won = [True] * 30 + [False] * 10 + [True] * 15 + [False] * 45
    return pd.DataFrame({"won": won, "industry": ["A"] * 40 + ["B"] * 60, "size": np.arange(100.0)})


def planted(n: int = 4000, seed: int = 0) -> pd.DataFrame:
    """software wins 45%, others 20%; employees > 5,000 add +15 points; 'aws' in tech adds +10; noise is noise."""
    rng = np.random.default_rng(seed)
    industry = rng.choice(["software", "retail", "energy", "health"], n)
    employees = rng.integers(10, 10_000, n).astype(float)
    tech = [list(rng.choice(["aws", "gcp", "okta", "slack"], rng.integers(0, 3), replace=False)) for _ in range(n)]
    has_aws = np.array(["aws" in t for t in tech])
    p = np.where(industry == "software", 0.45, 0.20) + 0.15 * (employees > 5000) + 0.10 * has_aws
    won = rng.random(n) < p
    amount = np.where(industry == "software", 50_000.0, 10_000.0) * rng.uniform(0.5, 1.5, n)
    return pd.DataFrame({"won": won, "amount": amount, "cycle_days": rng.integers(10, 100, n).astype(float),
                         "industry": industry, "employees": employees, "tech": tech,
                         "noise_cat": rng.choice(list("abcdef"), n), "noise_num": rng.normal(size=n)})


def null_frame(n: int = 3000, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "won": rng.random(n) < 0.3,
        "amount": rng.lognormal(9, 1, n),
        "industry": rng.choice(["software", "retail", "energy", "health", "media"], n),
        "region": rng.choice(["north", "south", "east", "west"], n),
        "employees": rng.lognormal(5, 1, n),
        "founded": rng.integers(1950, 2020, n),
        "tech": [list(rng.choice(["aws", "gcp", "okta"], rng.integers(0, 3), replace=False)) for _ in range(n)],
    })


# ---------------------------------------------------------------------- hand-checked numbers
def test_value_table_matches_hand_counts():
    d = ICPDiscovery(min_support=10).fit(hand_frame())
    assert d.overall_ == {"records": 100, "won": 45, "win_rate": 0.45, "ci_low": pytest.approx(0.3561, abs=1e-4),
                          "ci_high": pytest.approx(0.5475, abs=1e-4), "mean_acv": None,
                          "median_cycle_days": None, "mean_ltv": None}
    a = d.attributes_.set_index(["attribute", "value"]).loc[("industry", "A")]
    assert (a["kind"], a["support"], a["won"], a["win_rate"]) == ("categorical", 40, 30, 0.75)
    assert a["lift"] == pytest.approx(0.75 / 0.45)
    assert a["woe"] == pytest.approx(math.log((30.5 / 46) / (10.5 / 56)))
    # value vs rest: [[30, 10], [15, 45]], all cells >= 5 -> chi-square (Yates)
    assert a["p_value"] == pytest.approx(chi2_contingency([[30, 10], [15, 45]]).pvalue)
    assert math.isnan(a["low"]) and math.isnan(a["high"])
    iv = d.attribute_summary_.set_index("attribute").loc["industry", "information_value"]
    by_hand = ((30.5 / 46 - 10.5 / 56) * math.log((30.5 / 46) / (10.5 / 56))
               + (15.5 / 46 - 45.5 / 56) * math.log((15.5 / 46) / (45.5 / 56)))
    assert iv == pytest.approx(by_hand)


def test_holm_runs_over_every_value_of_every_attribute():
    d = ICPDiscovery(min_support=10, n_bins=4).fit(hand_frame())
    t = d.attributes_
    assert d.n_comparisons_ == len(t) == 2 + 4
    p = np.sort(t["p_value"].to_numpy())
    expected = np.maximum.accumulate(np.minimum(1, p * np.arange(len(p), 0, -1)))
    assert np.sort(t["p_adjusted"].to_numpy()) == pytest.approx(expected)
    assert t["significant"].tolist() == ((t["p_adjusted"] < 0.05) & (t["support"] >= 10)).tolist()


def test_numeric_bins_labels_and_bounds():
    d = ICPDiscovery(min_support=10, n_bins=4).fit(hand_frame())
    size = d.attributes_[d.attributes_["attribute"] == "size"]
    assert size["value"].tolist() == ["0–24", "25–49", "50–74", "75–99"]
    assert size["low"].tolist() == [0, 25, 50, 75] and size["high"].tolist() == [24, 49, 74, 99]
    assert size["support"].tolist() == [25] * 4
    assert size["won"].tolist() == [25, 15, 5, 0]  # won rows: 0-29 and 40-54
    assert d.bin_edges_ == {"size": [0.0, 25.0, 50.0, 75.0]}


def test_numeric_missing_and_few_distinct_values():
    frame = pd.DataFrame({"won": [True, False] * 50, "rooms": [1.0, 2.0, 2.0, 3.0, np.nan] * 20})
    d = ICPDiscovery(min_support=5).fit(frame)
    rooms = d.attributes_
    assert rooms["value"].tolist() == ["1", "2", "3", "(missing)"]
    assert rooms["support"].tolist() == [20, 40, 20, 20]
    assert math.isnan(rooms["low"].iloc[-1])


def test_categorical_missing_bool_and_int_codes():
    frame = pd.DataFrame({"won": [True, False, False, True] * 25,
                          "segment": ["smb", None, "ent", "smb"] * 25,
                          "partner": [True, False, True, True] * 25,
                          "tier": [1, 2, 2, 1] * 25})
    d = ICPDiscovery(min_support=5).fit(frame, kinds={"tier": "categorical"})
    assert d.kinds_ == {"segment": "categorical", "partner": "categorical", "tier": "categorical"}
    t = d.attributes_.set_index(["attribute", "value"])
    assert t.loc[("segment", "(missing)"), "support"] == 25
    assert t.loc[("partner", "True"), "support"] == 75
    assert t.loc[("tier", "1"), "win_rate"] == 1.0  # "1", not "1.0"
    assert d.attributes_[d.attributes_["attribute"] == "segment"]["value"].tolist() == ["smb", "ent", "(missing)"]


def test_list_attribute_one_row_per_item_against_records_without_it():
    cells = [["aws", "gcp"], ["aws", "aws"], np.array(["gcp"]), [], None, ["okta"]] * 10
    won = [True, True, False, False, False, True] * 10
    d = ICPDiscovery(min_support=5).fit(pd.DataFrame({"won": won, "tech": cells}))
    assert d.kinds_ == {"tech": "list"}
    t = d.attributes_.set_index("value")
    assert t.loc["aws", "support"] == 20  # a duplicate item in one record counts once
    assert t.loc["aws", "won"] == 20
    assert t.loc["gcp", "support"] == 20 and t.loc["gcp", "won"] == 10
    assert t.loc["okta", "support"] == 10
    # aws vs the 40 records without it (10 won): [[20, 0], [10, 30]] has a 0 cell -> Fisher
    assert t.loc["aws", "p_value"] == pytest.approx(fisher_exact([[20, 0], [10, 30]]).pvalue)
    assert set(t.index) == {"aws", "gcp", "okta"}


def test_date_columns_are_skipped_with_a_note():
    frame = hand_frame().assign(signed=pd.Timestamp("2024-01-01"), time=datetime(2024, 1, 1))
    d = ICPDiscovery(min_support=10).fit(frame)
    assert "signed" not in d.kinds_ and "time" not in d.kinds_
    assert any("'signed' holds dates" in n for n in d.notes_)


def test_group_means_are_over_won_records():
    frame = pd.DataFrame({"won": [True, True, False, True] * 10, "amount": [100.0, 300.0, 9999.0, np.nan] * 10,
                          "cycle_days": [10.0, 30.0, 999.0, 20.0] * 10, "ltv": [1.0, 2.0, 3.0, 4.0] * 10,
                          "kind": ["x", "x", "x", "y"] * 10})
    d = ICPDiscovery(min_support=5).fit(frame)
    assert d.overall_["mean_acv"] == 200.0 and d.overall_["median_cycle_days"] == 20.0
    assert d.overall_["mean_ltv"] == pytest.approx(7 / 3)
    x = d.attributes_.set_index("value").loc["x"]
    assert (x["mean_acv"], x["median_cycle_days"], x["mean_ltv"]) == (200.0, 20.0, 1.5)
    assert math.isnan(d.attributes_.set_index("value").loc["y", "mean_acv"])


# ---------------------------------------------------------------------- planted signal vs noise
@pytest.fixture(scope="module")
def fitted() -> ICPDiscovery:
    return ICPDiscovery().fit(planted())


def test_planted_signal_is_found_and_noise_is_not(fitted):
    d = fitted
    assert d.has_signal_
    sig = d.attributes_[d.attributes_["significant"]]
    assert set(sig["attribute"]) == {"industry", "employees", "tech"}
    assert set(d.validated_["attribute"]) == {"industry", "employees", "tech"}
    assert d.validated_["rank"].tolist() == [1, 2, 3]
    assert d.validated_["attribute"].iloc[0] == "industry"  # the strongest effect has the highest IV
    software = d.validated_.set_index("attribute").loc["industry"]
    assert software["best_value"] == "software" and software["lift"] > 1.4
    assert software["ci_low"] < software["win_rate"] < software["ci_high"]
    assert "software: win rate" in software["evidence"]
    summary = d.attribute_summary_.set_index("attribute")
    assert not summary.loc["noise_cat", "significant"] and not summary.loc["noise_num", "significant"]
    assert summary["information_value"].is_monotonic_decreasing
    aws = d.attributes_.set_index(["attribute", "value"]).loc[("tech", "aws")]
    assert aws["significant"] and aws["lift"] > 1
    assert re.fullmatch(r"\d+ values of 3 attributes are significant after Holm correction over "
                        f"{d.n_comparisons_} comparisons.", d.notes_[0])


def test_null_dataset_is_not_significant():
    d = ICPDiscovery().fit(null_frame())
    assert not d.has_signal_
    assert d.validated_.empty and list(d.validated_.columns)[:2] == ["rank", "attribute"]
    assert not d.attribute_summary_["significant"].any()
    assert d.notes_[0] == (f"No attribute is significant after Holm correction over {d.n_comparisons_} "
                           "comparisons: the data does not support a data-derived ICP.")
    fit = d.suggest_fit()
    assert fit == {"weight": 40.0, "criteria": []}
    FitSpec.model_validate(fit)
    assert any(n.startswith("suggest_fit: no significant") for n in d.notes_)


def test_null_false_positive_rate_is_controlled():
    hits = sum(ICPDiscovery().fit(null_frame(1500, seed)).has_signal_ for seed in range(10))
    assert hits <= 2  # family-wise error 5% per run


def test_small_values_never_significant():
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"won": np.r_[np.ones(12, bool), rng.random(988) < 0.2],
                          "vertical": ["rare"] * 12 + ["common"] * 988})
    d = ICPDiscovery(min_support=30).fit(frame)
    rare = d.attributes_.set_index("value").loc["rare"]
    assert rare["p_adjusted"] < 0.05 and not rare["significant"]
    d = ICPDiscovery(min_support=10).fit(frame)
    assert d.attributes_.set_index("value").loc["rare", "significant"]


def test_validated_is_capped_never_padded(fitted):
    d = ICPDiscovery(max_attributes=2).fit(planted())
    assert d.validated_["attribute"].tolist() == fitted.validated_["attribute"].tolist()[:2]
    assert len(fitted.validated_) == 3  # max 10, but only 3 are significant


def test_high_cardinality_values_are_grouped():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"won": rng.random(3000) < 0.3, "account": [f"acct{i}" for i in rng.integers(0, 400, 3000)]})
    d = ICPDiscovery().fit(frame)
    values = d.attributes_["value"]
    assert len(values) == 200 and values.iloc[-1] == "(other)"
    assert d.attributes_["support"].sum() == 3000
    assert any("'account' has 400 distinct values" in n for n in d.notes_)


# ---------------------------------------------------------------------- suggest_fit
def test_suggest_fit_validates_and_scales(fitted):
    fit = fitted.suggest_fit(total_points=40)
    spec = FitSpec.model_validate(fit)
    assert spec.weight == 40
    assert spec.max_points == pytest.approx(40, abs=0.05)
    by_name = {c.name: c for c in spec.criteria}
    assert set(by_name) == {"industry", "employees", "tech"}
    assert by_name["industry"].field == "industry" and list(by_name["industry"].values) == ["software"]
    assert by_name["tech"].share_of == ["aws"] and by_name["tech"].points > 0
    bands = by_name["employees"].bands
    assert bands[-1].max is None and all(b.min >= 4000 for b in bands)  # only the bins above ~5,000
    assert max(c.max_points for c in spec.criteria) == by_name["industry"].max_points  # largest WoE
    half = FitSpec.model_validate(fitted.suggest_fit(total_points=20))
    assert half.max_points == pytest.approx(20, abs=0.05)


def test_suggest_fit_names_are_snake_case_and_unique():
    rng = np.random.default_rng(0)
    x = rng.choice(["a", "b"], 3000)
    frame = pd.DataFrame({"won": rng.random(3000) < np.where(x == "a", 0.5, 0.2), "Route To-Market": x,
                          "route to market": x, "2nd Tier": x})
    fit = ICPDiscovery().fit(frame).suggest_fit()
    spec = FitSpec.model_validate(fit)
    assert sorted(c.name for c in spec.criteria) == ["f_2nd_tier", "route_to_market", "route_to_market_2"]
    assert {c.field for c in spec.criteria} == {"Route To-Market", "route to market", "2nd Tier"}


def test_suggest_fit_parameter_checks(fitted):
    with pytest.raises(ValueError, match="'total_points' parameter of suggest_fit"):
        fitted.suggest_fit(total_points=0)
    with pytest.raises(ValueError, match="not fitted"):
        ICPDiscovery().suggest_fit()


# ---------------------------------------------------------------------- best customers
def test_best_customers_over_index(fitted):
    d = fitted
    assert d.best_customers_basis_ == "amount"
    bc = d.best_customers_.set_index(["attribute", "value"])
    software = bc.loc[("industry", "software")]
    won = planted()
    won = won[won["won"]]
    assert software["support"] == (won["industry"] == "software").sum()
    assert software["share_all"] == pytest.approx((won["industry"] == "software").mean())
    assert software["share_top"] == 1.0  # amounts of software deals are 25k-75k, the others 5k-15k
    assert software["over_index"] == pytest.approx(1 / software["share_all"]) and software["significant"]
    assert not bc.loc[("industry", "retail"), "significant"] or bc.loc[("industry", "retail"), "over_index"] < 1


def test_best_customers_prefers_ltv_and_reports_absence():
    frame = planted(2000).assign(ltv=lambda f: np.where(f["industry"] == "energy", 9e5, 1e3))
    d = ICPDiscovery().fit(frame)
    assert d.best_customers_basis_ == "ltv"
    assert d.best_customers_.set_index(["attribute", "value"]).loc[("industry", "energy"), "share_top"] == 1.0
    d = ICPDiscovery().fit(planted(2000).drop(columns=["amount"]))
    assert d.best_customers_basis_ is None and d.best_customers_.empty
    assert any("neither 'ltv' nor 'amount'" in n for n in d.notes_)


# ---------------------------------------------------------------------- segments
def test_segments_from_a_planted_interaction():
    rng = np.random.default_rng(5)
    n = 6000
    industry = rng.choice(["software", "fintech", "retail", "energy"], n)
    employees = rng.integers(10, 10_000, n).astype(float)
    sweet = np.isin(industry, ["software", "fintech"]) & (employees > 2000)
    frame = pd.DataFrame({"won": rng.random(n) < np.where(sweet, 0.6, 0.15), "amount": np.full(n, 1000.0),
                          "industry": industry, "employees": employees})
    d = ICPDiscovery(max_depth=2).fit(frame)
    best = d.segments_[0]
    assert isinstance(best, Segment)
    assert best.rule.startswith("industry in {fintech, software} and employees ")
    assert best.conditions[0] == ("industry", "in", ("fintech", "software"))
    attr, op, (low, high) = best.conditions[1]
    assert (attr, op, high) == ("employees", "range", None) and 1800 < low < 2200
    # rates are the held-out half's (the tree never saw it): won / holdout_support, near the planted 60%
    assert best.significant and best.lift > 1.8 and best.win_rate == pytest.approx(best.won / best.holdout_support)
    assert best.holdout_support < best.support and best.win_rate == pytest.approx(0.6, abs=0.05)
    assert best.expected_value == pytest.approx(best.win_rate * 1000.0)
    assert best.ci_low < best.win_rate < best.ci_high
    assert all(s.lift > 1 for s in d.segments_)
    assert [s.expected_value for s in d.segments_] == sorted((s.expected_value for s in d.segments_), reverse=True)
    frame_view = d.segments_frame()
    assert frame_view["rule"].iloc[0] == best.rule and "conditions" not in frame_view
    assert best.to_dict()["conditions"][0] == ["industry", "in", ["fintech", "software"]]


def test_segments_with_list_items_and_limits(fitted):
    assert 1 <= len(fitted.segments_) <= 10
    assert all(s.support >= 80 for s in fitted.segments_)  # max(30, 2% of 4,000)
    ops = {op for s in fitted.segments_ for _, op, _ in s.conditions}
    assert ops <= {"in", "not in", "range", "range or missing", "has", "lacks"}
    d = ICPDiscovery(n_segments=2, min_segment_support=300).fit(planted())
    assert len(d.segments_) <= 2 and all(s.support >= 300 for s in d.segments_)


def test_segments_skipped_on_tiny_data_with_a_note():
    d = ICPDiscovery(min_support=30).fit(hand_frame())  # 100 records < 4 x 30
    assert d.segments_ == [] and any("Micro-segments need at least 120 records" in n for n in d.notes_)


def test_fit_is_deterministic(fitted):
    again = ICPDiscovery().fit(planted())
    pd.testing.assert_frame_equal(again.attributes_, fitted.attributes_)
    assert again.segments_ == fitted.segments_ and again.notes_ == fitted.notes_


# ---------------------------------------------------------------------- errors
@pytest.mark.parametrize(("params", "message"), [
    ({"min_support": 0}, "The 'min_support' parameter of ICPDiscovery must be an int >= 1; got 0."),
    ({"n_bins": 1}, "The 'n_bins' parameter of ICPDiscovery must be an int >= 2; got 1."),
    ({"alpha": 1.5}, "The 'alpha' parameter of ICPDiscovery must be a float in (0, 1); got 1.5."),
    ({"top_share": 0}, "The 'top_share' parameter of ICPDiscovery must be a float in (0, 1); got 0."),
    ({"correction": "magic"}, "The 'correction' parameter of ICPDiscovery must be one of"),
    ({"min_segment_support": 0}, "The 'min_segment_support' parameter of ICPDiscovery must be None or an int"),
    ({"max_depth": True}, "The 'max_depth' parameter of ICPDiscovery must be an int >= 1; got True."),
])
def test_parameter_validation(params, message):
    with pytest.raises(ValueError) as info:
        ICPDiscovery(**params).fit(hand_frame())
    assert str(info.value).startswith(message)


@pytest.mark.parametrize(("frame", "message"), [
    (pd.DataFrame({"x": [1, 2]}), "needs a 'won' column"),
    (pd.DataFrame({"won": pd.Series([], dtype=bool), "x": []}), "has no rows"),
    (pd.DataFrame({"won": [True] * 50, "x": ["a"] * 50}), "Every one of the 50 deals is won"),
    (pd.DataFrame({"won": [True, None] * 25, "x": ["a"] * 50}), "'won' is missing in 25 rows"),
    (pd.DataFrame({"won": ["yes", "no"] * 25, "x": ["a"] * 50}), "'won' must be boolean"),
    (pd.DataFrame({"won": [True, False] * 5, "x": ["a"] * 10}), "at least min_support=30 closed deals"),
    (pd.DataFrame({"won": [True, False] * 25, "amount": [1.0] * 50}), "no attribute columns"),
    (pd.DataFrame({"won": [True, False] * 25, "x": ["a", ["b"]] * 25}), None),
])
def test_data_errors(frame, message):
    if message is None:  # a text cell in a list column declared as list
        with pytest.raises(DataError, match="non-list value"):
            ICPDiscovery().fit(frame, kinds={"x": "list"})
        return
    with pytest.raises(DataError, match=message):
        ICPDiscovery().fit(frame)


def test_kinds_errors():
    with pytest.raises(DataError, match="kinds names the column 'nope'"):
        ICPDiscovery(min_support=10).fit(hand_frame(), kinds={"nope": "numeric"})
    with pytest.raises(DataError, match="must be one of categorical, numeric, list"):
        ICPDiscovery(min_support=10).fit(hand_frame(), kinds={"size": "ordinal"})
    with pytest.raises(DataError, match="holds non-numeric values such as 'A'"):
        ICPDiscovery(min_support=10).fit(hand_frame(), kinds={"industry": "numeric"})


def test_zero_one_outcome_is_accepted():
    frame = hand_frame().assign(won=lambda f: f["won"].astype(int))
    assert ICPDiscovery(min_support=10).fit(frame).overall_["won"] == 45
