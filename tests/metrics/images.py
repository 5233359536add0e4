"""Synthetic test images and degradations for the metric tests."""

from __future__ import annotations

import numpy as np
from scipy import ndimage


def synthetic_image(h: int, w: int, seed: int = 0) -> np.ndarray:
    """Deterministic 'natural-ish' uint8 RGB image: gradients, sinusoids, a disc, a bar and mild texture."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    img = np.empty((h, w, 3))
    for c in range(3):
        fx, fy, ph = rng.uniform(0.02, 0.15), rng.uniform(0.02, 0.15), rng.uniform(0, 2 * np.pi)
        img[..., c] = 90 + 60 * np.sin(fx * xx + fy * yy + ph) + 40 * (xx / w) - 30 * (yy / h)
    disc = (yy - 0.45 * h) ** 2 + (xx - 0.6 * w) ** 2 < (0.22 * min(h, w)) ** 2
    img[disc] = [220.0, 60.0, 40.0]
    img[int(0.7 * h) : int(0.8 * h), int(0.1 * w) : int(0.5 * w)] = [30.0, 40.0, 200.0]
    img += ndimage.gaussian_filter(rng.normal(0, 12, (h, w, 3)), sigma=(1, 1, 0))
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


def add_noise(img: np.ndarray, sigma: float, seed: int = 1) -> np.ndarray:
    """Additive white Gaussian noise, clipped to uint8."""
    rng = np.random.default_rng(seed)
    return np.clip(np.round(img + rng.normal(0, sigma, img.shape)), 0, 255).astype(np.uint8)


def blur(img: np.ndarray, sigma: float) -> np.ndarray:
    """Spatial Gaussian blur, per channel."""
    out = ndimage.gaussian_filter(img.astype(np.float64), sigma=(sigma, sigma, 0))
    return np.clip(np.round(out), 0, 255).astype(np.uint8)
