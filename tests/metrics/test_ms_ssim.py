"""MS-SSIM tests: properties, size limit, and a cross-check against pytorch-msssim."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gencodec.metrics import ms_ssim
from gencodec.metrics.ms_ssim import min_size

from .images import add_noise, blur, synthetic_image


@pytest.fixture(scope="module")
def img() -> np.ndarray:
    return synthetic_image(176, 192)


def test_identical_is_one(img: np.ndarray) -> None:
    assert ms_ssim(img, img.copy()) == pytest.approx(1.0, abs=1e-12)


def test_monotone_in_noise_and_blur(img: np.ndarray) -> None:
    noise = [ms_ssim(img, add_noise(img, s)) for s in (3, 10, 30)]
    assert 1.0 > noise[0] > noise[1] > noise[2] > 0.0
    blurred = [ms_ssim(img, blur(img, s)) for s in (0.7, 1.5, 3.0)]
    assert 1.0 > blurred[0] > blurred[1] > blurred[2] > 0.0


def test_symmetric(img: np.ndarray) -> None:
    noisy = add_noise(img, 10)
    assert ms_ssim(img, noisy) == pytest.approx(ms_ssim(noisy, img), abs=1e-12)


def test_size_limit() -> None:
    assert min_size() == 161
    small = synthetic_image(160, 200)
    with pytest.raises(ValueError, match="at least 161x161"):
        ms_ssim(small, small)
    ok = synthetic_image(161, 163)
    assert ms_ssim(ok, ok) == pytest.approx(1.0, abs=1e-12)


def test_matches_pytorch_msssim() -> None:
    """Cross-check against the reference implementation pytorch-msssim (a test-only dependency)."""
    pm = pytest.importorskip("pytorch_msssim", reason="pytorch-msssim not installed (pip install pytorch-msssim)")

    def ref(a: np.ndarray, b: np.ndarray) -> float:
        x = torch.from_numpy(a).permute(2, 0, 1)[None].to(torch.float64)
        y = torch.from_numpy(b).permute(2, 0, 1)[None].to(torch.float64)
        return float(pm.ms_ssim(x, y, data_range=255, size_average=True))

    for h, w, seed in ((176, 192, 0), (165, 171, 3)):  # the second has odd sides (padded pooling)
        a = synthetic_image(h, w, seed)
        for b in (add_noise(a, 4), add_noise(a, 25, seed=5), blur(a, 2.0)):
            assert ms_ssim(a, b) == pytest.approx(ref(a, b), abs=1e-4)
