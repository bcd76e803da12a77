"""Small statistics helpers for ICP discovery: intervals, tests, corrections, bins.

Thin, vectorised wrappers around statsmodels and scipy so every learner reports
the same Wilson intervals, 2x2 tests and Holm corrections.

Examples
--------
>>> low, high = wilson_interval([8], [10])
>>> round(float(low[0]), 4), round(float(high[0]), 4)
(0.4902, 0.9433)
>>> holm([0.01, 0.04, 0.03]).round(2).tolist()
[0.03, 0.06, 0.06]
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy.stats import chi2_contingency, fisher_exact
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportion_confint

#: Added to every cell of the won/lost shares before taking the weight of evidence, so a value seen only
#: in won (or only in lost) records gets a large but finite WoE.
WOE_SMOOTHING = 0.5


def wilson_interval(successes: Sequence[float] | np.ndarray, trials: Sequence[float] | np.ndarray,
                    alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of ``successes / trials`` (two-sided, level ``1 - alpha``).

    Rows with ``trials == 0`` get ``nan`` bounds.

    Parameters
    ----------
    successes, trials : array-like
        Counts of the same length.
    alpha : float, default 0.05
        One minus the confidence level.

    Returns
    -------
    (low, high) : tuple of ndarray

    Examples
    --------
    >>> low, high = wilson_interval([0, 5], [10, 10])
    >>> low.round(4).tolist(), high.round(4).tolist()
    ([0.0, 0.2366], [0.2775, 0.7634])
    """
    count = np.asarray(successes, dtype=float)
    nobs = np.asarray(trials, dtype=float)
    low = np.full(count.shape, np.nan)
    high = np.full(count.shape, np.nan)
    ok = nobs > 0
    if ok.any():
        lo, hi = proportion_confint(count[ok], nobs[ok], alpha=alpha, method="wilson")
        low[ok] = np.clip(lo, 0.0, 1.0)
        high[ok] = np.clip(hi, 0.0, 1.0)
    return low, high


#: Multiple-comparison corrections accepted by :func:`adjust_p_values` (statsmodels ``multipletests`` names).
CORRECTIONS = ("holm", "bonferroni", "fdr_bh", "none")


def adjust_p_values(p_values: Sequence[float] | np.ndarray, method: str = "holm") -> np.ndarray:
    """Adjusted p-values (``method`` in :data:`CORRECTIONS`); ``nan`` entries stay ``nan`` and are not counted.

    Examples
    --------
    >>> adjust_p_values([0.01, 0.02, np.nan, 0.03], "bonferroni").round(2).tolist()
    [0.03, 0.06, nan, 0.09]
    >>> adjust_p_values([0.01, 0.02], "none").tolist()
    [0.01, 0.02]
    """
    if method not in CORRECTIONS:
        raise ValueError(f"unknown correction {method!r}; use one of {', '.join(CORRECTIONS)}")
    p = np.asarray(p_values, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = ~np.isnan(p)
    if ok.any():
        out[ok] = p[ok] if method == "none" else multipletests(p[ok], method=method)[1]
    return out


def holm(p_values: Sequence[float] | np.ndarray) -> np.ndarray:
    """Holm step-down adjusted p-values; ``nan`` entries stay ``nan`` and are not counted.

    Examples
    --------
    >>> holm([0.01, 0.02, 0.03, 0.5]).round(3).tolist()
    [0.04, 0.06, 0.06, 0.5]
    >>> holm([]).tolist()
    []
    """
    return adjust_p_values(p_values, "holm")


def two_by_two_p_value(a: int, b: int, c: int, d: int) -> float:
    """Two-sided p-value of the 2x2 table ``[[a, b], [c, d]]``.

    Fisher's exact test when any cell is below 5, otherwise the chi-square test
    of independence (scipy's default Yates continuity correction). A table with
    an empty row or column carries no evidence: its p-value is 1.

    Examples
    --------
    >>> round(two_by_two_p_value(3, 1, 1, 3), 4)  # Fisher: a small cell
    0.4857
    >>> round(two_by_two_p_value(60, 40, 40, 60), 4)  # chi-square with Yates correction
    0.0072
    >>> two_by_two_p_value(10, 5, 0, 0)
    1.0
    """
    table = np.array([[a, b], [c, d]], dtype=np.int64)
    if (table.sum(axis=0) == 0).any() or (table.sum(axis=1) == 0).any():
        return 1.0
    if (table < 5).any():
        return float(fisher_exact(table, alternative="two-sided").pvalue)
    return float(chi2_contingency(table).pvalue)


def weight_of_evidence(won: np.ndarray, lost: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weight of evidence and information-value contribution of each group.

    ``woe = ln(share of all wins in the group / share of all losses in the group)``
    with :data:`WOE_SMOOTHING` added to each group's counts; the group's IV
    contribution is ``(win share - loss share) * woe`` (always >= 0). The
    attribute's information value is the sum over its groups.

    Parameters
    ----------
    won, lost : ndarray
        Won and lost counts per group (the groups of one attribute).

    Examples
    --------
    >>> woe, iv = weight_of_evidence(np.array([30, 10]), np.array([10, 30]))
    >>> woe.round(3).tolist(), round(float(iv.sum()), 3)
    ([1.066, -1.066], 1.04)
    """
    won = np.asarray(won, dtype=float) + WOE_SMOOTHING
    lost = np.asarray(lost, dtype=float) + WOE_SMOOTHING
    won_share = won / won.sum()
    lost_share = lost / lost.sum()
    woe = np.log(won_share / lost_share)
    return woe, (won_share - lost_share) * woe


def quantile_lows(values: np.ndarray, n_bins: int) -> np.ndarray:
    """Lower edges of up to ``n_bins`` quantile bins; duplicate edges are merged.

    The edges are observed values; bin ``i`` holds ``lows[i] <= x < lows[i+1]``
    and the last bin everything from its edge up. A variable with at most
    ``n_bins`` distinct values gets one bin per value. ``nan`` values are ignored.

    Examples
    --------
    >>> quantile_lows(np.arange(100.0), 4).tolist()
    [0.0, 25.0, 50.0, 75.0]
    >>> quantile_lows(np.array([0, 0, 0, 0, 0, 0, 0, 0, 3, 9, 12, 15, 20, 30.0]), 5).tolist()  # a tie at 0
    [0.0, 3.0, 15.0]
    """
    x = np.asarray(values, dtype=float)
    x = x[~np.isnan(x)]
    if x.size == 0:
        return np.array([], dtype=float)
    ordered = np.sort(x)
    first = np.ones(ordered.size, dtype=bool)
    first[1:] = ordered[1:] != ordered[:-1]
    if first.sum() <= n_bins:
        return ordered[first]
    return np.unique(ordered[(np.arange(n_bins) * ordered.size) // n_bins])


def assign_bins(values: np.ndarray, lows: np.ndarray) -> np.ndarray:
    """Bin index of every value (``-1`` for ``nan``), given :func:`quantile_lows` edges.

    Examples
    --------
    >>> assign_bins(np.array([-5.0, 0.0, 3.0, 4.0, 99.0, np.nan]), np.array([0.0, 3.0, 9.0])).tolist()
    [0, 0, 1, 1, 2, -1]
    """
    x = np.asarray(values, dtype=float)
    idx = np.searchsorted(lows, x, side="right") - 1
    idx = np.clip(idx, 0, max(len(lows) - 1, 0))
    idx[np.isnan(x)] = -1
    return idx.astype(np.int64)


def format_number(x: float) -> str:
    """A compact, locale-free number label: thousands separators, no trailing zeros.

    Examples
    --------
    >>> [format_number(v) for v in (5000, 200.0, 0.25, 1234567.891, -3.5, 0.000123)]
    ['5,000', '200', '0.25', '1,234,568', '-3.5', '0.000123']
    """
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "(missing)"
    x = float(x)
    if abs(x) >= 1000 or x == int(x):
        return f"{x:,.0f}"
    if abs(x) >= 1:
        return f"{x:,.2f}".rstrip("0").rstrip(".")
    return f"{x:.3g}"


def range_label(low: float, high: float) -> str:
    """``"200–5,000"`` (or ``"3"`` when both ends are equal).

    Examples
    --------
    >>> range_label(200, 5000), range_label(3, 3)
    ('200–5,000', '3')
    """
    if low == high:
        return format_number(low)
    return f"{format_number(low)}–{format_number(high)}"
