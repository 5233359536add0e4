"""Peak signal-to-noise ratio on 8-bit RGB images."""

from __future__ import annotations

import math

import numpy as np

from gencodec.metrics._validate import check_pair

PEAK = 255.0


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB between two uint8 HxWx3 RGB images.

    PSNR = 10 * log10(255^2 / MSE), with the MSE taken jointly over all pixels and
    all three channels (no per-channel averaging of PSNRs, no colour conversion).
    Returns ``math.inf`` for identical images (MSE = 0).
    """
    check_pair(a, b)
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    if mse == 0.0:
        return math.inf
    return 10.0 * math.log10(PEAK * PEAK / mse)
