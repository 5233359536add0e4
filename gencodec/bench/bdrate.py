"""Bjontegaard delta rate / delta metric with piecewise cubic Hermite (PCHIP) interpolation.

This is the variant used by current reference implementations (JVET/AOM CTC, VMAF's
``bd_rate_calculator``): each rate-distortion curve is interpolated with a shape-preserving
monotone PCHIP (instead of the old 3rd-order polynomial fit) and the interpolant is integrated
exactly over the overlapping interval. Rates are compared in the log domain; the log base does
not affect the result.

Minimum input: 2 distinct points per curve (with 2 points PCHIP reduces to linear
interpolation); 4 or more are recommended, as in the reference implementations.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.interpolate import PchipInterpolator

__all__ = ["MIN_POINTS", "bd_metric", "bd_rate"]

MIN_POINTS = 2
"""Minimum number of distinct points per curve."""

ArrayLike = Sequence[float] | np.ndarray


def _prepare(rate: ArrayLike, metric: ArrayLike, label: str) -> tuple[np.ndarray, np.ndarray]:
    r = np.asarray(rate, dtype=np.float64).ravel()
    m = np.asarray(metric, dtype=np.float64).ravel()
    if r.shape != m.shape:
        raise ValueError(f"curve {label}: rate and metric lengths differ ({r.size} vs {m.size})")
    if r.size < MIN_POINTS:
        raise ValueError(f"curve {label}: need at least {MIN_POINTS} points, got {r.size}")
    if not (np.all(np.isfinite(r)) and np.all(np.isfinite(m))):
        raise ValueError(f"curve {label}: rates and metrics must be finite")
    if np.any(r <= 0):
        raise ValueError(f"curve {label}: rates must be > 0 (log-rate is used)")
    return np.log(r), m


def _unique_sorted(x: np.ndarray, y: np.ndarray, keep_min: bool, label: str) -> tuple[np.ndarray, np.ndarray]:
    """Sort by ``x``; for repeated ``x`` keep the min (or max) ``y``. Needs >= MIN_POINTS distinct x."""
    order = np.lexsort((y if keep_min else -y, x))
    x, y = x[order], y[order]
    first = np.concatenate(([True], np.diff(x) > 0))
    x, y = x[first], y[first]
    if x.size < MIN_POINTS:
        raise ValueError(f"curve {label}: need at least {MIN_POINTS} distinct points, got {x.size}")
    return x, y


def _avg_over(x: np.ndarray, y: np.ndarray, lo: float, hi: float) -> float:
    """Mean of the PCHIP interpolant of ``y(x)`` over ``[lo, hi]``."""
    return float(PchipInterpolator(x, y, extrapolate=False).integrate(lo, hi)) / (hi - lo)


def bd_rate(
    rate_a: ArrayLike,
    metric_a: ArrayLike,
    rate_b: ArrayLike,
    metric_b: ArrayLike,
    higher_is_better: bool = True,
) -> tuple[float, tuple[float, float]]:
    """BD-rate of curve B versus anchor A, in percent, over their overlapping metric range.

    Negative means B needs fewer bits for the same quality. Set ``higher_is_better=False`` for
    distance metrics (LPIPS, DISTS, FID, ...). Returns ``(percent, (metric_lo, metric_hi))`` with
    the range in the metric's own units. Points may be unsorted; for repeated metric values the
    lowest rate is kept. Raises ValueError for fewer than 2 distinct points per curve or when the
    metric ranges do not overlap (an interval of positive width is required).
    """
    lr_a, m_a = _prepare(rate_a, metric_a, "A")
    lr_b, m_b = _prepare(rate_b, metric_b, "B")
    sign = 1.0 if higher_is_better else -1.0
    q_a, lr_a = _unique_sorted(sign * m_a, lr_a, keep_min=True, label="A")
    q_b, lr_b = _unique_sorted(sign * m_b, lr_b, keep_min=True, label="B")
    lo = max(q_a[0], q_b[0])
    hi = min(q_a[-1], q_b[-1])
    if not hi > lo:
        raise ValueError(
            f"no overlap between metric ranges: A [{m_a.min():g}, {m_a.max():g}], B [{m_b.min():g}, {m_b.max():g}]"
        )
    diff = _avg_over(q_b, lr_b, lo, hi) - _avg_over(q_a, lr_a, lo, hi)
    rng = (lo, hi) if higher_is_better else (-hi, -lo)
    return float(np.expm1(diff) * 100.0), (float(rng[0]), float(rng[1]))


def bd_metric(
    rate_a: ArrayLike,
    metric_a: ArrayLike,
    rate_b: ArrayLike,
    metric_b: ArrayLike,
    higher_is_better: bool = True,
) -> tuple[float, tuple[float, float]]:
    """BD-metric: mean ``metric_b - metric_a`` at equal rate over the overlapping log-rate range.

    The sign is in the metric's own units (positive is better only when ``higher_is_better``);
    ``higher_is_better`` only decides which point is kept for repeated rates. Returns
    ``(delta, (rate_lo, rate_hi))`` with the range in rate units. Raises ValueError for fewer
    than 2 distinct points per curve or when the rate ranges do not overlap.
    """
    lr_a, m_a = _prepare(rate_a, metric_a, "A")
    lr_b, m_b = _prepare(rate_b, metric_b, "B")
    lr_a, m_a = _unique_sorted(lr_a, m_a, keep_min=not higher_is_better, label="A")
    lr_b, m_b = _unique_sorted(lr_b, m_b, keep_min=not higher_is_better, label="B")
    lo = max(lr_a[0], lr_b[0])
    hi = min(lr_a[-1], lr_b[-1])
    if not hi > lo:
        raise ValueError(
            f"no overlap between rate ranges: A [{np.exp(lr_a[0]):g}, {np.exp(lr_a[-1]):g}], "
            f"B [{np.exp(lr_b[0]):g}, {np.exp(lr_b[-1]):g}]"
        )
    delta = _avg_over(lr_b, m_b, lo, hi) - _avg_over(lr_a, m_a, lo, hi)
    return float(delta), (float(np.exp(lo)), float(np.exp(hi)))
