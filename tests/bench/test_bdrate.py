"""Tests for the PCHIP Bjontegaard-delta math."""

import math

import numpy as np
import pytest

from gencodec.bench.bdrate import bd_metric, bd_rate

RATES = np.array([0.005, 0.01, 0.02, 0.04, 0.08])
PSNR = np.array([22.1, 24.0, 26.3, 28.2, 30.9])  # curved, increasing


def test_scaled_rates_give_minus_20_percent() -> None:
    bd, rng = bd_rate(RATES, PSNR, RATES * 0.8, PSNR)
    assert bd == pytest.approx(-20.0, abs=1e-6)
    assert rng == pytest.approx((PSNR.min(), PSNR.max()))


def test_identical_curves_give_zero() -> None:
    bd, _ = bd_rate(RATES, PSNR, RATES, PSNR)
    assert bd == pytest.approx(0.0, abs=1e-12)
    dm, rng = bd_metric(RATES, PSNR, RATES, PSNR)
    assert dm == pytest.approx(0.0, abs=1e-12)
    assert rng == pytest.approx((RATES.min(), RATES.max()))


def test_metric_shift_on_linear_log_rate_curve_is_analytic() -> None:
    slope, shift = 3.0, 1.5  # metric = slope * ln(rate) + c; B is `shift` better everywhere
    metric_a = slope * np.log(RATES) + 40.0
    metric_b = metric_a + shift
    bd, rng = bd_rate(RATES, metric_a, RATES, metric_b)
    assert bd == pytest.approx((math.exp(-shift / slope) - 1.0) * 100.0, abs=1e-9)
    assert rng == pytest.approx((metric_b.min(), metric_a.max()))
    dm, _ = bd_metric(RATES, metric_a, RATES, metric_b)
    assert dm == pytest.approx(shift, abs=1e-12)


def test_lower_is_better_metric() -> None:
    dist_a = np.array([0.6, 0.5, 0.4, 0.33, 0.25])  # e.g. LPIPS falling with rate
    bd, rng = bd_rate(RATES, dist_a, RATES * 0.8, dist_a, higher_is_better=False)
    assert bd == pytest.approx(-20.0, abs=1e-6)
    assert rng == pytest.approx((0.25, 0.6))
    # Same as negating the metric and treating it as higher-is-better.
    ref, _ = bd_rate(RATES, -dist_a, RATES * 1.3, -dist_a * 0.97)
    got, _ = bd_rate(RATES, dist_a, RATES * 1.3, dist_a * 0.97, higher_is_better=False)
    assert got == pytest.approx(ref, abs=1e-12)
    # B has a lower distance at the same rate: bd_metric is negative (better).
    dm, _ = bd_metric(RATES, dist_a, RATES, dist_a - 0.05, higher_is_better=False)
    assert dm == pytest.approx(-0.05, abs=1e-12)


def test_point_order_does_not_matter() -> None:
    perm = np.array([3, 0, 4, 1, 2])
    b_rates, b_psnr = RATES * 0.7, PSNR + 0.3
    want, _ = bd_rate(RATES, PSNR, b_rates, b_psnr)
    got, _ = bd_rate(RATES[perm], PSNR[perm], b_rates[::-1], b_psnr[::-1])
    assert got == pytest.approx(want, abs=1e-12)


def test_better_curve_gives_negative_bd_rate() -> None:
    bd, _ = bd_rate(RATES, PSNR, RATES * np.array([0.9, 0.85, 0.8, 0.75, 0.7]), PSNR)
    assert -30.0 < bd < -10.0


def test_two_points_minimum() -> None:
    bd, _ = bd_rate([0.01, 0.04], [25.0, 30.0], [0.005, 0.02], [25.0, 30.0])
    assert bd == pytest.approx(-50.0, abs=1e-9)
    with pytest.raises(ValueError, match="at least 2"):
        bd_rate([0.01], [25.0], [0.01, 0.02], [25.0, 27.0])
    with pytest.raises(ValueError, match="distinct"):
        bd_rate([0.01, 0.02], [25.0, 25.0], [0.01, 0.02], [25.0, 27.0])


def test_no_overlap_raises() -> None:
    with pytest.raises(ValueError, match="no overlap"):
        bd_rate([0.01, 0.02, 0.04], [20.0, 21.0, 22.0], [0.01, 0.02, 0.04], [23.0, 24.0, 25.0])
    with pytest.raises(ValueError, match="no overlap"):  # touching at one point is no overlap
        bd_rate([0.01, 0.02], [20.0, 22.0], [0.01, 0.02], [22.0, 24.0])
    with pytest.raises(ValueError, match="no overlap"):
        bd_metric([0.01, 0.02], [20.0, 22.0], [0.03, 0.04], [22.0, 24.0])


def test_invalid_inputs_raise() -> None:
    with pytest.raises(ValueError, match="lengths differ"):
        bd_rate([0.01, 0.02], [20.0], [0.01, 0.02], [20.0, 21.0])
    with pytest.raises(ValueError, match="> 0"):
        bd_rate([0.0, 0.02], [20.0, 21.0], [0.01, 0.02], [20.0, 21.0])
    with pytest.raises(ValueError, match="finite"):
        bd_rate([0.01, 0.02], [20.0, float("nan")], [0.01, 0.02], [20.0, 21.0])


def test_matches_reference_pchip_implementation() -> None:
    # Reference values from the `bjontegaard` package 1.3.0 (method="pchip") on the same data.
    rates_b = np.array([0.004, 0.009, 0.017, 0.03, 0.066])
    psnr_b = np.array([22.5, 24.6, 26.5, 28.9, 31.2])
    bd, rng = bd_rate(RATES, PSNR, rates_b, psnr_b)
    assert bd == pytest.approx(-29.7731103595848, abs=1e-9)
    assert rng == pytest.approx((22.5, 30.9))
    dm, rrng = bd_metric(RATES, PSNR, rates_b, psnr_b)
    assert dm == pytest.approx(1.1155246820832503, abs=1e-9)
    assert rrng == pytest.approx((0.005, 0.066))
