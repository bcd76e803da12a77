"""Customer lifetime value: BG/NBD for the number of purchases, Gamma-Gamma for their value.

Both are fitted by maximum likelihood: the log-likelihood and its gradient are
written out with ``scipy.special`` and vectorised over customers (customers
with the same summary are counted once, with a weight), and
``scipy.optimize.minimize`` (L-BFGS-B) works on the logarithms of the
parameters, which must be positive.

* :class:`BetaGeoModel` — BG/NBD (Fader, Hardie & Lee 2005, "Counting your
  customers the easy way"): while alive a customer buys at a Poisson rate
  (Gamma(r, α) across customers) and after each purchase drops out with
  probability p (Beta(a, b) across customers). Per customer it needs the
  number of *repeat* purchases ``frequency`` (x), the time of the last
  purchase since the first ``recency`` (t_x) and the time since the first
  purchase ``T``, all in the same time unit.
* :class:`GammaGammaModel` — spend per purchase (Fader, Hardie & Lee 2005,
  "RFM and CLV"; Fader & Hardie's note "The Gamma-Gamma model of monetary
  value"): a customer's purchases are Gamma(p, ν) with ν ~ Gamma(q, γ) across
  customers. Per customer it needs the number of purchases averaged and their
  mean value (both positive).

On the CDNOW sample (2,357 customers, 39 weeks) the BG/NBD fit is r = 0.243,
α = 4.414, a = 0.793, b = 2.426 and the Gamma-Gamma fit p = 6.25, q = 3.74,
γ = 15.44, as published (``tests/models/test_clv.py``).

Examples
--------
>>> import numpy as np
>>> x, t_x, T = np.array([2, 1, 0, 0, 5]), np.array([30.4, 1.7, 0, 0, 35.0]), np.array([38.9, 38.9, 38.9, 38.9, 38.9])
>>> model = BetaGeoModel().fit(x, t_x, T)
>>> sorted(model.params_)
['a', 'alpha', 'b', 'r']
>>> bool(model.p_alive(x, t_x, T)[4] > model.p_alive(x, t_x, T)[1])  # bought 6 times, lately
True
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import optimize, special
from threadpoolctl import threadpool_limits

from tierwise.errors import DataError

_MAX_LOG = 30.0  # parameters stay within exp(±30) while the optimiser searches


def _as_arrays(*values: Any) -> list[np.ndarray]:
    arrays = [np.asarray(v, dtype="float64").ravel() for v in values]
    if len({len(a) for a in arrays}) != 1:
        raise ValueError(f"inputs must have the same length, got {[len(a) for a in arrays]}")
    return arrays


class _Levels:
    """A column as its distinct values and, per row, the index of its value (few distinct values: cheap maths)."""

    def __init__(self, values: np.ndarray):
        self.values, self.index = np.unique(values, return_inverse=True)
        self.index = self.index.ravel()


def _bgnbd_design(x: np.ndarray, t_x: np.ndarray, T: np.ndarray, weights: np.ndarray | None) -> dict[str, Any]:
    """The data as the likelihood needs it, so each evaluation does as little as possible.

    Summaries built from dates take few distinct values per column: terms of
    x alone are computed once per value of x, terms of T or t_x once per value,
    customers with the same summary once per summary, and customers without a
    repeat purchase (whose likelihood depends on T alone) once per value of T.
    """
    lx, ltx, lT = _Levels(x), _Levels(t_x), _Levels(T)
    w = np.ones(len(x)) if weights is None else np.asarray(weights, dtype="float64")
    once = x == 0
    key = (lx.index.astype(np.int64) * len(ltx.values) + ltx.index) * len(lT.values) + lT.index
    unique, inverse = np.unique(key[~once], return_inverse=True)
    w1 = np.bincount(inverse.ravel(), weights=w[~once], minlength=len(unique))
    return {
        "x_levels": lx.values, "x_weight": np.bincount(lx.index, weights=w, minlength=len(lx.values)),
        "T_levels": lT.values, "tx_levels": ltx.values,
        "w0_T": np.bincount(lT.index[once], weights=w[once], minlength=len(lT.values)),
        "w": w1, "iT": unique % len(lT.values), "itx": (unique // len(lT.values)) % len(ltx.values),
        "ix": unique // (len(lT.values) * len(ltx.values)), "total": float(w.sum()),
    }


def _converged(result: optimize.OptimizeResult) -> bool:
    """Converged, or stopped by a line search that cannot improve on an optimum (the gradient is ~0 there)."""
    return bool(result.success or (np.isfinite(result.fun) and np.max(np.abs(result.jac)) < 1e-5))


def _minimise(objective, x0: np.ndarray, tol: float, max_iter: int) -> optimize.OptimizeResult:
    """L-BFGS-B on the log-parameters. BLAS runs on one thread: the likelihood's dot products are small,
    and a pool of BLAS threads waiting on a busy machine made each evaluation ten times slower."""
    bounds = [(-_MAX_LOG, _MAX_LOG)] * len(x0)
    with threadpool_limits(limits=1, user_api="blas"):
        return optimize.minimize(objective, x0, jac=True, method="L-BFGS-B", bounds=bounds,
                                 options={"maxiter": max_iter, "ftol": tol, "gtol": 1e-9})


class BetaGeoModel:
    """BG/NBD: expected purchases and the probability a customer is still active.

    Parameters
    ----------
    penalizer : float, default 0.0
        L2 penalty on the parameters (``penalizer × Σ θ²`` added to the mean
        negative log-likelihood); 0 is plain maximum likelihood.
    tol : float, default 1e-12
        Relative tolerance on the objective (L-BFGS-B's ``ftol``).
    max_iter : int, default 1000
        Most optimiser iterations.

    Attributes
    ----------
    params_ : dict
        ``r``, ``alpha``, ``a``, ``b``.
    log_likelihood_ : float
        Total log-likelihood at the optimum.
    n_customers_ : int
    converged_ : bool
    n_iter_ : int
    """

    def __init__(self, penalizer: float = 0.0, tol: float = 1e-12, max_iter: int = 1000):
        self.penalizer = penalizer
        self.tol = tol
        self.max_iter = max_iter

    # -- fitting ----------------------------------------------------------------------
    def fit(self, frequency: Any, recency: Any, T: Any, weights: Any = None) -> BetaGeoModel:
        """Fit on repeat purchases ``frequency``, ``recency`` (last minus first purchase) and age ``T``."""
        if self.penalizer < 0:
            raise ValueError(f"The 'penalizer' parameter of BetaGeoModel must be >= 0; got {self.penalizer!r}.")
        x, t_x, T = _as_arrays(frequency, recency, T)
        _check_bgnbd_inputs(x, t_x, T)
        if len(x) == 0:
            raise DataError("BG/NBD needs at least one customer")
        design = _bgnbd_design(x, t_x, T, None if weights is None else np.asarray(weights, float))
        total = design["total"]

        def objective(log_params: np.ndarray) -> tuple[float, np.ndarray]:
            params = np.exp(log_params)
            ll, grad = _bgnbd_total(params, design, gradient=True)
            value = -ll / total + self.penalizer * (params @ params)
            # d/d log θ = θ d/dθ
            g = -grad / total * params + 2 * self.penalizer * params * params
            return float(value), g

        best = _minimise(objective, np.zeros(4), self.tol, self.max_iter)
        if not np.isfinite(best.fun):  # a second start from the data's time scale
            best = _minimise(objective, np.log([0.5, max(1.0, float(np.mean(T))), 1.0, 1.0]), self.tol,
                             self.max_iter)
        r, alpha, a, b = np.exp(best.x)
        self.params_ = {"r": float(r), "alpha": float(alpha), "a": float(a), "b": float(b)}
        self.log_likelihood_ = float(_bgnbd_total(np.exp(best.x), design)[0])
        self.n_customers_ = int(round(total))
        self.converged_ = _converged(best)
        self.n_iter_ = int(best.nit)
        return self

    # -- predicting -------------------------------------------------------------------
    def _params(self) -> tuple[float, float, float, float]:
        if not hasattr(self, "params_"):
            raise ValueError("BetaGeoModel is not fitted yet: call fit first")
        p = self.params_
        return p["r"], p["alpha"], p["a"], p["b"]

    def p_alive(self, frequency: Any, recency: Any, T: Any) -> np.ndarray:
        """P(still active at T | x, t_x, T); 1 for customers with no repeat purchase."""
        r, alpha, a, b = self._params()
        x, t_x, T = _as_arrays(frequency, recency, T)
        return 1.0 / (1.0 + _odds_dropped(r, alpha, a, b, x, t_x, T))

    def expected_purchases(self, t: float, frequency: Any, recency: Any, T: Any) -> np.ndarray:
        """Expected purchases in the next ``t`` time units, given each customer's history (eq. 10 of the paper)."""
        r, alpha, a, b = self._params()
        x, t_x, T = _as_arrays(frequency, recency, T)
        # the hypergeometric term depends on (x, T) alone, which repeat a lot: computed once per pair
        lx, lT = _Levels(x), _Levels(T)
        pair, back = np.unique(lx.index.astype(np.int64) * len(lT.values) + lT.index, return_inverse=True)
        px, pT = lx.values[pair // len(lT.values)], lT.values[pair % len(lT.values)]
        hyp = special.hyp2f1(r + px, b + px, a + b + px - 1, t / (alpha + pT + t))[back.ravel()]
        first = (a + b + x - 1) / (a - 1) * (1 - ((alpha + T) / (alpha + T + t)) ** (r + x) * hyp)
        out = first / (1 + _odds_dropped(r, alpha, a, b, x, t_x, T))
        return np.where(np.isfinite(out), np.maximum(out, 0.0), np.nan)

    def expected_purchases_new(self, t: float) -> float:
        """Expected purchases in ``t`` time units by a customer just acquired (eq. 9)."""
        r, alpha, a, b = self._params()
        hyp = special.hyp2f1(r, b, a + b - 1, t / (alpha + t))
        return float((a + b - 1) / (a - 1) * (1 - (alpha / (alpha + t)) ** r * hyp))


def _odds_dropped(r: float, alpha: float, a: float, b: float, x: np.ndarray, t_x: np.ndarray,
                  T: np.ndarray) -> np.ndarray:
    """``a/(b+x-1) × ((α+T)/(α+t_x))^(r+x)`` for x > 0, else 0: the odds the customer has dropped out."""
    repeat = x > 0
    safe = np.where(repeat, b + x - 1, 1.0)
    log_odds = np.log(a) - np.log(safe) + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x))
    return np.where(repeat, np.exp(np.minimum(log_odds, 700.0)), 0.0)


def _check_bgnbd_inputs(x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> None:
    if not (np.isfinite(x).all() and np.isfinite(t_x).all() and np.isfinite(T).all()):
        raise ValueError("frequency, recency and T must be finite numbers")
    if (x < 0).any() or (x != np.floor(x)).any():
        raise ValueError("frequency (repeat purchases) must be whole numbers >= 0")
    if (t_x < 0).any() or (t_x > T + 1e-9).any():
        raise ValueError("recency must be between 0 and T (the last purchase cannot come after the end)")
    if ((x == 0) & (t_x != 0)).any():
        raise ValueError("customers without repeat purchases must have recency 0")


def _bgnbd_ll(params: np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray, *,
              gradient: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
    """Per-customer BG/NBD log-likelihood (eq. 6 of the paper) and, optionally, its gradient (4 × n)."""
    r, alpha, a, b = params
    repeat = x > 0
    a1 = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha)
    a2 = special.gammaln(a + b) + special.gammaln(b + x) - special.gammaln(b) - special.gammaln(a + b + x)
    log_at = np.log(alpha + T)
    log_atx = np.log(alpha + t_x)
    a3 = -(r + x) * log_at
    b_x1 = np.where(repeat, b + x - 1, 1.0)
    a4 = np.where(repeat, np.log(a) - np.log(b_x1) - (r + x) * log_atx, -np.inf)
    top = np.maximum(a3, a4)
    ll = a1 + a2 + top + np.log(np.exp(a3 - top) + np.exp(a4 - top))
    if not gradient:
        return ll, None
    w4 = np.exp(a4 - np.logaddexp(a3, a4))  # share of the likelihood from "dropped out after the last purchase"
    w3 = 1.0 - w4
    dg = special.digamma
    d_r = dg(r + x) - dg(r) + np.log(alpha) - w3 * log_at - w4 * log_atx
    d_alpha = r / alpha - w3 * (r + x) / (alpha + T) - w4 * (r + x) / (alpha + t_x)
    d_a = dg(a + b) - dg(a + b + x) + w4 / a
    d_b = dg(a + b) + dg(b + x) - dg(b) - dg(a + b + x) - w4 / b_x1
    return ll, np.vstack([d_r, d_alpha, d_a, d_b])


def _bgnbd_total(params: np.ndarray, d: dict[str, Any], *, gradient: bool = False
                 ) -> tuple[float, np.ndarray | None]:
    """The weighted total of :func:`_bgnbd_ll` (and its gradient) over a design from :func:`_bgnbd_design`.

    Per customer with repeat purchases the likelihood mixes "alive at T" (a3)
    and "dropped out just after the last purchase" (a4):
    ``log(e^a3 + e^a4) = a3 + softplus(a4 − a3)``, and ``expit(a4 − a3)`` is
    the share of the second, which weights its gradient.
    """
    r, alpha, a, b = params
    xl, xw = d["x_levels"], d["x_weight"]
    gl = special.gammaln
    a12 = gl(r + xl) - gl(r) + r * np.log(alpha) + gl(a + b) + gl(b + xl) - gl(b) - gl(a + b + xl)
    log_aT = np.log(alpha + d["T_levels"])
    log_atx_l = np.log(alpha + d["tx_levels"])
    w, ix, iT, itx = d["w"], d["ix"], d["iT"], d["itx"]
    rx_l = r + xl
    log_bx_l = np.log(np.where(xl > 0, b + xl - 1, 1.0))
    rx = rx_l[ix]
    lat, latx = log_aT[iT], log_atx_l[itx]
    gap = lat - latx  # >= 0: T >= t_x
    diff = np.log(a) - log_bx_l[ix] + rx * gap
    total = float(xw @ a12 - r * (d["w0_T"] @ log_aT) - w @ (rx * lat) + w @ np.logaddexp(0.0, diff))
    if not gradient:
        return total, None
    share = special.expit(diff)  # the "dropped out" share of each likelihood
    ws = w * share
    dg = special.digamma
    inv_aT, inv_atx = 1.0 / (alpha + d["T_levels"]), 1.0 / (alpha + d["tx_levels"])
    grad = np.array([
        xw @ (dg(r + xl) - dg(r) + np.log(alpha)) - d["w0_T"] @ log_aT - w @ lat + ws @ gap,
        d["total"] * r / alpha - r * (d["w0_T"] @ inv_aT)
        - w @ (rx * inv_aT[iT]) + ws @ (rx * (inv_aT[iT] - inv_atx[itx])),
        xw @ (dg(a + b) - dg(a + b + xl)) + ws.sum() / a,
        xw @ (dg(a + b) + dg(b + xl) - dg(b) - dg(a + b + xl)) - ws @ (1.0 / np.where(xl > 0, b + xl - 1, 1.0))[ix],
    ])
    return total, grad


class GammaGammaModel:
    """Gamma-Gamma: the expected value of a customer's future purchases, given their average so far.

    Parameters
    ----------
    penalizer, tol, max_iter :
        As for :class:`BetaGeoModel`.

    Attributes
    ----------
    params_ : dict
        ``p``, ``q``, ``gamma``.
    log_likelihood_ : float
    n_customers_ : int
    converged_ : bool
    population_mean_ : float
        Expected spend per purchase of a customer with no history, ``p γ / (q − 1)`` (inf when q <= 1).
    """

    def __init__(self, penalizer: float = 0.0, tol: float = 1e-12, max_iter: int = 1000):
        self.penalizer = penalizer
        self.tol = tol
        self.max_iter = max_iter

    def fit(self, frequency: Any, monetary: Any, weights: Any = None) -> GammaGammaModel:
        """Fit on the number of purchases averaged (``frequency`` >= 1) and their mean value (> 0)."""
        if self.penalizer < 0:
            raise ValueError(f"The 'penalizer' parameter of GammaGammaModel must be >= 0; got {self.penalizer!r}.")
        x, m = _as_arrays(frequency, monetary)
        if len(x) == 0:
            raise DataError("Gamma-Gamma needs at least one customer with purchases of positive value")
        if (x < 1).any() or (m <= 0).any() or not np.isfinite(m).all():
            raise ValueError("Gamma-Gamma needs frequency >= 1 and a positive mean value for every customer")
        w = np.ones(len(x)) if weights is None else np.asarray(weights, dtype="float64")
        # sorted, so the sums (and the fit, to the last bit) do not depend on the order rows came in
        order = np.lexsort((m, x))
        x, m, w = x[order], m[order], w[order]
        total = w.sum()
        lx = _Levels(x)
        d = {"w": w, "x": x, "m": m, "log_m": np.log(m), "log_x": np.log(x), "x_levels": lx.values, "ix": lx.index,
             "x_weight": np.bincount(lx.index, weights=w, minlength=len(lx.values))}

        def objective(log_params: np.ndarray) -> tuple[float, np.ndarray]:
            params = np.exp(log_params)
            ll, grad = _gg_total(params, d, gradient=True)
            value = -ll / total + self.penalizer * (params @ params)
            g = -grad / total * params + 2 * self.penalizer * params * params
            return float(value), g

        best = _minimise(objective, np.zeros(3), self.tol, self.max_iter)
        if not best.success:
            again = _minimise(objective, np.log([1.0, 2.0, float(np.median(m))]), self.tol, self.max_iter)
            best = again if again.fun < best.fun else best
        p, q, gamma = np.exp(best.x)
        self.params_ = {"p": float(p), "q": float(q), "gamma": float(gamma)}
        self.log_likelihood_ = float(_gg_total(np.exp(best.x), d)[0])
        self.n_customers_ = int(round(total))
        self.converged_ = _converged(best)
        self.n_iter_ = int(best.nit)
        self.population_mean_ = float(p * gamma / (q - 1)) if q > 1 else float("inf")
        return self

    def expected_spend(self, frequency: Any, monetary: Any) -> np.ndarray:
        """E[value of a purchase | x purchases averaging m]; the population mean where x = 0 or m is missing."""
        if not hasattr(self, "params_"):
            raise ValueError("GammaGammaModel is not fitted yet: call fit first")
        p, q, gamma = self.params_["p"], self.params_["q"], self.params_["gamma"]
        x, m = _as_arrays(frequency, monetary)
        known = (x >= 1) & np.isfinite(m) & (m > 0)
        xs, ms = np.where(known, x, 1.0), np.where(known, m, 1.0)
        conditional = p * (gamma + xs * ms) / (p * xs + q - 1)
        return np.where(known, conditional, self.population_mean_)


def _gg_ll(params: np.ndarray, x: np.ndarray, m: np.ndarray, *,
           gradient: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
    """Per-customer Gamma-Gamma log-likelihood of the mean value m of x purchases, and its gradient (3 × n)."""
    p, q, gamma = params
    px = p * x
    log_xm_g = np.log(x * m + gamma)
    ll = (special.gammaln(px + q) - special.gammaln(px) - special.gammaln(q) + q * np.log(gamma)
          + (px - 1) * np.log(m) + px * np.log(x) - (px + q) * log_xm_g)
    if not gradient:
        return ll, None
    dg = special.digamma
    d_p = x * (dg(px + q) - dg(px) + np.log(m) + np.log(x) - log_xm_g)
    d_q = dg(px + q) - dg(q) + np.log(gamma) - log_xm_g
    d_gamma = q / gamma - (px + q) / (x * m + gamma)
    return ll, np.vstack([d_p, d_q, d_gamma])


def _gg_total(params: np.ndarray, d: dict[str, Any], *, gradient: bool = False) -> tuple[float, np.ndarray | None]:
    """The weighted total of :func:`_gg_ll` (and its gradient), the terms of x alone computed per value of x."""
    p, q, gamma = params
    xl, xw, w, x, m = d["x_levels"], d["x_weight"], d["w"], d["x"], d["m"]
    gl, dg = special.gammaln, special.digamma
    per_x = gl(p * xl + q) - gl(p * xl) - gl(q) + q * np.log(gamma)
    px = p * x
    log_xm_g = np.log(x * m + gamma)
    total = float(xw @ per_x + w @ ((px - 1) * d["log_m"] + px * d["log_x"] - (px + q) * log_xm_g))
    if not gradient:
        return total, None
    grad = np.array([
        xw @ (xl * (dg(p * xl + q) - dg(p * xl))) + w @ (x * (d["log_m"] + d["log_x"] - log_xm_g)),
        xw @ (dg(p * xl + q) - dg(q) + np.log(gamma)) - w @ log_xm_g,
        xw.sum() * q / gamma - w @ ((px + q) / (x * m + gamma)),
    ])
    return total, grad


__all__ = ["BetaGeoModel", "GammaGammaModel"]
