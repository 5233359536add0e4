"""PSNR tests."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gencodec.metrics import psnr

from .images import add_noise, synthetic_image


def test_identical_is_inf() -> None:
    img = synthetic_image(32, 48)
    assert psnr(img, img.copy()) == math.inf


def test_known_value() -> None:
    a = np.zeros((8, 8, 3), np.uint8)
    b = np.full((8, 8, 3), 10, np.uint8)
    assert psnr(a, b) == pytest.approx(10 * math.log10(255**2 / 100.0), abs=1e-12)
    # one channel off by 30 everywhere: MSE = 900 / 3 = 300
    c = a.copy()
    c[..., 1] = 30
    assert psnr(a, c) == pytest.approx(10 * math.log10(255**2 / 300.0), abs=1e-12)


def test_symmetric_and_monotone_in_noise() -> None:
    img = synthetic_image(40, 40)
    vals = [psnr(img, add_noise(img, s)) for s in (2, 6, 20)]
    assert vals[0] > vals[1] > vals[2]
    noisy = add_noise(img, 6)
    assert psnr(img, noisy) == psnr(noisy, img)


def test_no_uint8_overflow() -> None:
    a = np.zeros((4, 4, 3), np.uint8)
    b = np.full((4, 4, 3), 255, np.uint8)
    assert psnr(a, b) == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize(
    "b",
    [np.zeros((8, 9, 3), np.uint8), np.zeros((8, 8, 3), np.float32), np.zeros((8, 8), np.uint8)],
)
def test_bad_inputs_raise(b: np.ndarray) -> None:
    with pytest.raises(ValueError):
        psnr(np.zeros((8, 8, 3), np.uint8), b)
