from __future__ import annotations

import numpy as np
import pytest

from gencodec.container.errors import ParameterMismatch
from gencodec.entropy.params import (
    SCALE_TABLE,
    check_params_hash,
    mean_indices,
    means_from_indices,
    params_hash,
    scale_indices,
    scales_from_indices,
)


def test_scale_snapping_is_monotone_and_idempotent() -> None:
    s = np.exp(np.linspace(np.log(0.01), np.log(1000), 5000))
    idx = scale_indices(s)
    assert np.all(np.diff(idx) >= 0)
    assert idx.min() == 0 and idx.max() == len(SCALE_TABLE) - 1
    assert np.array_equal(scale_indices(scales_from_indices(idx)), idx)


def test_mean_snapping_is_idempotent() -> None:
    mu = np.random.default_rng(0).normal(0, 30, 1000)
    idx = mean_indices(mu)
    assert np.array_equal(mean_indices(means_from_indices(idx)), idx)
    assert np.max(np.abs(means_from_indices(idx) - mu)) <= 1 / 32 + 1e-12


def test_non_finite_parameters_rejected() -> None:
    with pytest.raises(ValueError):
        scale_indices(np.array([1.0, np.nan]))
    with pytest.raises(ValueError):
        mean_indices(np.array([np.inf]))


def test_perturbed_parameters_give_parameter_mismatch() -> None:
    """The section-4 experiment of the style guide: any changed index must be detected."""
    rng = np.random.default_rng(1)
    mu = mean_indices(rng.normal(0, 3, (1, 8, 4, 4)))
    sc = scale_indices(np.exp(rng.normal(0, 1, (1, 8, 4, 4))))
    stored = params_hash(mu, sc)
    check_params_hash(stored, mu, sc)
    detected = 0
    for i in range(200):
        m2, s2 = mu.copy(), sc.copy()
        if i % 2:
            m2.flat[i % m2.size] += 1
        else:
            s2.flat[i % s2.size] = (s2.flat[i % s2.size] + 1) % 64
        try:
            check_params_hash(stored, m2, s2)
        except ParameterMismatch:
            detected += 1
    assert detected >= 198  # a 16-bit hash misses about 1 in 65536
