"""Lifetime value: BG/NBD and Gamma-Gamma by maximum likelihood.

On the CDNOW sample (Fader, Hardie & Lee 2005; ../shared/data/cdnow, skipped when absent) the fits
reproduce the published parameters within 1%: BG/NBD r = 0.243, alpha = 4.414, a = 0.793, b = 2.426
on the 2,357-customer summary, Gamma-Gamma p = 6.25, q = 3.74, gamma = 15.44 on the customers with
repeat purchases. Where lifetimes is installed (the test extra) the predictions match its own.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import check_grad

from tierwise.errors import DataError
from tierwise.models.clv import BetaGeoModel, GammaGammaModel, _bgnbd_design, _bgnbd_ll, _bgnbd_total, _gg_ll

BGNBD_PUBLISHED = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
GG_PUBLISHED = {"p": 6.25, "q": 3.74, "gamma": 15.44}


def _data(*parts: str) -> Path:
    for ancestor in Path(__file__).resolve().parents:
        candidate = ancestor.joinpath("shared", "data", *parts)
        if candidate.is_file():
            return candidate
    pytest.skip(f"public dataset {'/'.join(parts)} not found under ../shared/data")


@pytest.fixture(scope="module")
def cdnow() -> pd.DataFrame:
    return pd.read_csv(_data("cdnow", "cdnow_customers_summary.csv"))


@pytest.fixture(scope="module")
def cdnow_spend() -> pd.DataFrame:
    d = pd.read_csv(_data("cdnow", "cdnow_customers_summary_with_transactions.csv"))
    return d[d.x > 0]


def within(fitted: dict[str, float], published: dict[str, float], tolerance: float = 0.01) -> dict[str, float]:
    """Relative error per parameter; asserts each is within the tolerance."""
    errors = {k: abs(fitted[k] - v) / v for k, v in published.items()}
    assert all(e <= tolerance for e in errors.values()), (fitted, errors)
    return errors


# --------------------------------------------------------------------------- CDNOW


@pytest.mark.realdata
def test_bgnbd_reproduces_the_published_cdnow_fit(cdnow):
    model = BetaGeoModel().fit(cdnow.frequency, cdnow.recency, cdnow["T"])
    within(model.params_, BGNBD_PUBLISHED)
    assert model.converged_ and model.n_customers_ == 2357
    assert model.log_likelihood_ == pytest.approx(-9582.43, abs=0.01)  # the paper's LL


@pytest.mark.realdata
def test_gamma_gamma_reproduces_the_published_cdnow_fit(cdnow_spend):
    model = GammaGammaModel().fit(cdnow_spend.x, cdnow_spend.zbar)
    within(model.params_, GG_PUBLISHED)
    assert model.n_customers_ == 946
    # E[M | x, zbar] is a weighted mean of the population mean and the customer's own mean
    p, q, g = (model.params_[k] for k in ("p", "q", "gamma"))
    assert model.population_mean_ == pytest.approx(p * g / (q - 1))
    spend = model.expected_spend([1, 10], [20.0, 20.0])
    assert model.population_mean_ > spend[0] > spend[1] > 20.0


@pytest.mark.realdata
def test_predictions_match_lifetimes(cdnow, cdnow_spend):
    lifetimes = pytest.importorskip("lifetimes")
    x, t_x, T = cdnow.frequency.to_numpy(), cdnow.recency.to_numpy(), cdnow["T"].to_numpy()
    ours = BetaGeoModel().fit(x, t_x, T)
    theirs = lifetimes.BetaGeoFitter().fit(x, t_x, T)
    assert np.allclose(ours.p_alive(x, t_x, T), theirs.conditional_probability_alive(x, t_x, T), atol=1e-5)
    assert np.allclose(ours.expected_purchases(39, x, t_x, T),
                       theirs.conditional_expected_number_of_purchases_up_to_time(39, x, t_x, T), atol=1e-4)
    assert ours.expected_purchases_new(39) == pytest.approx(theirs.expected_number_of_purchases_up_to_time(39),
                                                            rel=1e-4)
    gg = GammaGammaModel().fit(cdnow_spend.x, cdnow_spend.zbar)
    theirs_gg = lifetimes.GammaGammaFitter().fit(cdnow_spend.x, cdnow_spend.zbar)
    assert np.allclose(gg.expected_spend(cdnow_spend.x, cdnow_spend.zbar),
                       theirs_gg.conditional_expected_average_profit(cdnow_spend.x, cdnow_spend.zbar), rtol=1e-4)


# --------------------------------------------------------------------------- the likelihood


def _synthetic(n: int = 3000, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Customers simulated from BG/NBD itself (r=0.5, alpha=5, a=1.2, b=3), observed for 52 weeks."""
    rng = np.random.default_rng(seed)
    lam = rng.gamma(0.5, 1 / 5.0, n)
    p = rng.beta(1.2, 3.0, n)
    T = rng.uniform(20, 52, n)
    x = np.zeros(n)
    t_x = np.zeros(n)
    for i in range(n):
        t = 0.0
        while True:
            t += rng.exponential(1 / lam[i])
            if t > T[i]:
                break
            x[i] += 1
            t_x[i] = t
            if rng.random() < p[i]:
                break
    return x, t_x, T


def test_fit_recovers_the_parameters_it_simulated():
    x, t_x, T = _synthetic(20000)
    params = BetaGeoModel().fit(x, t_x, T).params_
    assert params["r"] == pytest.approx(0.5, rel=0.1) and params["alpha"] == pytest.approx(5.0, rel=0.15)
    assert params["a"] == pytest.approx(1.2, rel=0.25) and params["b"] == pytest.approx(3.0, rel=0.3)


def test_gradients_are_exact():
    x, t_x, T = _synthetic(500)
    design = _bgnbd_design(x, t_x, T, None)
    for params in (np.array([0.3, 4.0, 0.8, 2.5]), np.array([2.0, 0.5, 3.0, 0.7])):
        assert check_grad(lambda p: _bgnbd_total(p, design)[0], lambda p: _bgnbd_total(p, design, gradient=True)[1],
                          params) < 1e-3 * np.abs(_bgnbd_total(params, design, gradient=True)[1]).max()
        # the grouped total is the plain per-customer sum
        assert _bgnbd_total(params, design)[0] == pytest.approx(_bgnbd_ll(params, x, t_x, T)[0].sum())
    m = np.random.default_rng(1).gamma(3, 10, 400)
    n = np.random.default_rng(2).integers(1, 6, 400).astype(float)
    for params in (np.array([6.0, 3.7, 15.0]), np.array([1.0, 5.0, 100.0])):
        assert check_grad(lambda p: _gg_ll(p, n, m)[0].sum(), lambda p: _gg_ll(p, n, m, gradient=True)[1].sum(axis=1),
                          params) < 1e-3 * np.abs(_gg_ll(params, n, m, gradient=True)[1].sum(axis=1)).max()


def test_weights_count_customers_as_repeated_rows():
    x, t_x, T = _synthetic(400, seed=5)
    once = BetaGeoModel().fit(np.r_[x, x[:50]], np.r_[t_x, t_x[:50]], np.r_[T, T[:50]]).params_
    weights = np.r_[np.full(50, 2.0), np.ones(len(x) - 50)]
    weighted = BetaGeoModel().fit(x, t_x, T, weights=weights).params_
    assert all(once[k] == pytest.approx(weighted[k], rel=1e-5) for k in once)


def test_predictions_behave():
    x, t_x, T = _synthetic(3000)
    model = BetaGeoModel().fit(x, t_x, T)
    # no repeat purchase: alive for sure (BG/NBD drops out only after a purchase)
    assert model.p_alive([0], [0], [30])[0] == 1.0
    # the same purchases, made long ago: less likely alive, fewer purchases expected
    assert model.p_alive([5], [5], [30])[0] < model.p_alive([5], [29], [30])[0]
    assert model.expected_purchases(10, [5], [5], [30])[0] < model.expected_purchases(10, [5], [29], [30])[0]
    # more time, more purchases
    assert model.expected_purchases(20, [3], [20], [30])[0] > model.expected_purchases(10, [3], [20], [30])[0] > 0


# --------------------------------------------------------------------------- conventions


def test_learners_follow_scikit_learn_conventions():
    for cls, args in ((BetaGeoModel, _synthetic(300)), (GammaGammaModel, ([1, 2, 3] * 20, [10.0, 20.0, 30.0] * 20))):
        model = cls(penalizer=0.0)
        assert vars(model) == {"penalizer": 0.0, "tol": 1e-12, "max_iter": 1000}  # __init__ only stores
        assert model.fit(*args) is model
        learned = {k for k in vars(model) if k not in ("penalizer", "tol", "max_iter")}
        assert learned and all(k.endswith("_") for k in learned)


def test_unfitted_and_bad_input_are_refused():
    with pytest.raises(ValueError, match="not fitted"):
        BetaGeoModel().p_alive([1], [1], [2])
    with pytest.raises(ValueError, match="not fitted"):
        GammaGammaModel().expected_spend([1], [1.0])
    with pytest.raises(ValueError, match="whole numbers"):
        BetaGeoModel().fit([1.5], [1], [2])
    with pytest.raises(ValueError, match="between 0 and T"):
        BetaGeoModel().fit([1], [3], [2])
    with pytest.raises(ValueError, match="recency 0"):
        BetaGeoModel().fit([0], [1], [2])
    with pytest.raises(ValueError, match="same length"):
        BetaGeoModel().fit([1, 2], [1], [2])
    with pytest.raises(DataError, match="at least one customer"):
        BetaGeoModel().fit([], [], [])
    with pytest.raises(ValueError, match="positive mean value"):
        GammaGammaModel().fit([1, 2], [10.0, -1.0])
    with pytest.raises(ValueError, match="penalizer"):
        BetaGeoModel(penalizer=-1).fit([1], [1], [2])


def test_fits_do_not_depend_on_row_order():
    x, t_x, T = _synthetic(2000, seed=9)
    order = np.random.default_rng(0).permutation(len(x))
    assert BetaGeoModel().fit(x, t_x, T).params_ == BetaGeoModel().fit(x[order], t_x[order], T[order]).params_
    n = np.random.default_rng(3).integers(1, 6, 500).astype(float)
    m = np.random.default_rng(4).gamma(3, 10, 500)
    order = np.random.default_rng(1).permutation(500)
    assert GammaGammaModel().fit(n, m).params_ == GammaGammaModel().fit(n[order], m[order]).params_
