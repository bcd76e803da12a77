"""Statistics helpers, checked against values computed by hand (formulas written out in the tests)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import chi2

from tierwise.models.stats import (
    adjust_p_values,
    assign_bins,
    format_number,
    holm,
    quantile_lows,
    range_label,
    two_by_two_p_value,
    weight_of_evidence,
    wilson_interval,
)

Z = 1.959963984540054  # 97.5% normal quantile


def wilson_by_hand(k: int, n: int) -> tuple[float, float]:
    p = k / n
    centre = (p + Z**2 / (2 * n)) / (1 + Z**2 / n)
    half = Z * math.sqrt(p * (1 - p) / n + Z**2 / (4 * n**2)) / (1 + Z**2 / n)
    return centre - half, centre + half


def test_wilson_known_values():
    low, high = wilson_interval([8, 0, 10], [10, 10, 10])
    assert low[0] == pytest.approx(0.4902, abs=1e-4) and high[0] == pytest.approx(0.9433, abs=1e-4)
    for i, k in enumerate((8, 0, 10)):
        assert (low[i], high[i]) == pytest.approx(wilson_by_hand(k, 10), abs=1e-12)
    assert low[1] == 0.0 and high[2] == 1.0


def test_wilson_empty_group_is_nan_and_alpha_widens():
    low, high = wilson_interval([0, 5], [0, 10])
    assert math.isnan(low[0]) and math.isnan(high[0])
    low90, high90 = wilson_interval([5], [10], alpha=0.10)
    assert high90[0] - low90[0] < high[1] - low[1]


def test_holm_known_vector():
    # sorted p * (m - rank): 0.01*4, 0.02*3, 0.03*2, 0.5*1, then made monotone
    assert holm([0.03, 0.5, 0.01, 0.02]).tolist() == pytest.approx([0.06, 0.5, 0.04, 0.06])
    assert holm([0.2, 0.4]).tolist() == pytest.approx([0.4, 0.4])
    assert holm([0.9, 0.8]).tolist() == pytest.approx([1.0, 1.0])  # capped at 1


def test_adjust_p_values_skips_nan_and_rejects_unknown_method():
    assert adjust_p_values([0.01, np.nan, 0.02], "holm")[[0, 2]].tolist() == pytest.approx([0.02, 0.02])
    assert math.isnan(adjust_p_values([0.01, np.nan], "holm")[1])
    assert adjust_p_values([0.01, 0.02], "bonferroni").tolist() == pytest.approx([0.02, 0.04])
    assert adjust_p_values([0.01, 0.02], "none").tolist() == [0.01, 0.02]
    with pytest.raises(ValueError, match="unknown correction"):
        adjust_p_values([0.1], "sidak-ish")


def test_fisher_used_for_small_cells():
    # [[3,1],[1,3]]: 70 tables with margins 4/4; P(a)=1,16,36,16,1 over 70; two-sided p = 34/70
    assert two_by_two_p_value(3, 1, 1, 3) == pytest.approx(34 / 70)


def test_chi_square_with_yates_for_large_cells():
    # expected 50 in every cell; Yates: 4 * (|10| - 0.5)^2 / 50 = 7.22
    assert two_by_two_p_value(60, 40, 40, 60) == pytest.approx(chi2.sf(7.22, 1))


def test_degenerate_tables_carry_no_evidence():
    assert two_by_two_p_value(10, 5, 0, 0) == 1.0  # no "rest" records
    assert two_by_two_p_value(10, 0, 20, 0) == 1.0  # nobody lost


def test_weight_of_evidence_by_hand():
    woe, iv = weight_of_evidence(np.array([30, 10]), np.array([10, 30]))
    # (30.5/41) / (10.5/41) with 0.5 smoothing
    assert woe[0] == pytest.approx(math.log(30.5 / 10.5)) and woe[1] == pytest.approx(-woe[0])
    assert iv.sum() == pytest.approx(2 * (20 / 41) * math.log(30.5 / 10.5))
    assert (iv >= 0).all()


def test_quantile_lows_equal_counts_and_merged_ties():
    assert quantile_lows(np.arange(100.0), 4).tolist() == [0, 25, 50, 75]
    x = np.array([0] * 8 + [3, 9, 12, 15, 20, 30], dtype=float)
    assert quantile_lows(x, 5).tolist() == [0, 3, 15]
    assert quantile_lows(np.array([5, 1, 1, np.nan, 5]), 5).tolist() == [1, 5]  # few values: one bin each
    assert quantile_lows(np.array([np.nan, np.nan]), 5).size == 0


def test_assign_bins():
    lows = np.array([0.0, 3.0, 9.0])
    got = assign_bins(np.array([-1, 0, 2.99, 3, 8.9, 9, 100, np.nan]), lows)
    assert got.tolist() == [0, 0, 0, 1, 1, 2, 2, -1]


def test_labels():
    assert format_number(5000) == "5,000"
    assert format_number(1234.5) == "1,234"  # banker's rounding of .5 is fine for labels; no decimals above 1,000
    assert format_number(12.345) == "12.35"
    assert format_number(0.01234) == "0.0123"
    assert format_number(float("nan")) == "(missing)"
    assert range_label(200, 5000) == "200–5,000"
    assert range_label(3, 3) == "3"
