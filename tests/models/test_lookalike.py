"""Lookalikes: planted best-customer traits rank prospects, with honest reasons."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tierwise.errors import DataError
from tierwise.models.lookalike import LookalikeModel


def _population(n: int = 4000, seed: int = 0):
    rng = np.random.default_rng(seed)
    industry = rng.choice(["software", "retail", "healthcare", "energy"], n)
    employees = np.exp(rng.normal(5, 1.5, n)).round()
    stacks = [list(rng.choice(["hubspot", "snowflake", "sap", "oracle"], rng.integers(0, 3), replace=False))
              for _ in range(n)]
    frame = pd.DataFrame({"industry": industry, "employees": employees, "tech_stack": stacks})
    # best customers: software and large, with snowflake
    looks = (industry == "software") & (employees > 200) & np.array(["snowflake" in s for s in stacks])
    best = looks & (rng.random(n) < 0.6)
    return frame, best, looks


def test_planted_profile_ranks_unseen_lookalikes_first():
    frame, best, looks = _population()
    model = LookalikeModel().fit(frame, best)
    scores = model.score(frame)
    prospects = ~best
    # prospects with the planted profile score above every-other prospect on average, by a wide margin
    assert scores[prospects & looks].mean() > scores[prospects & ~looks].mean() + 30
    assert scores.min() >= 0 and scores.max() <= 100
    top = model.explain(frame[prospects & looks].head(1))[0]
    assert any(r.startswith("industry = software") for r in top)
    assert any(r.startswith("tech_stack has snowflake") for r in top)


def test_profile_reports_over_index_and_shrinkage():
    frame, best, _ = _population()
    profile = LookalikeModel().fit(frame, best).profile()
    software = profile[(profile.attribute == "industry") & (profile.level == "software")].iloc[0]
    assert software.share_all == pytest.approx((frame.industry == "software").mean(), abs=1e-4)
    assert software.ratio > 3  # every best customer is software: shrunk below 1/share_all (~4)
    assert software.ratio < 1 / software.share_all


def test_missing_values_and_unseen_levels_do_not_break_scoring():
    frame, best, _ = _population(500)
    model = LookalikeModel().fit(frame, best)
    new = pd.DataFrame({"industry": [None, "aerospace"], "employees": [np.nan, 1e6], "tech_stack": [None, ["x"]]})
    scores = model.score(new)
    assert np.isfinite(scores).all() and len(model.explain(new)) == 2


def test_parameter_and_data_errors():
    frame, best, _ = _population(100)
    with pytest.raises(ValueError, match="The 'n_bins' parameter of LookalikeModel must be an int >= 2; got 1"):
        LookalikeModel(n_bins=1).fit(frame, best)
    with pytest.raises(DataError, match="no best customers"):
        LookalikeModel().fit(frame, np.zeros(len(frame), dtype=bool))
