"""Input checks shared by the image metrics."""

from __future__ import annotations

import numpy as np
import torch


def check_image(img: np.ndarray, name: str = "image") -> None:
    """Raise ValueError unless ``img`` is a uint8 HxWx3 (RGB) numpy array."""
    if not isinstance(img, np.ndarray):
        raise TypeError(f"{name} must be a numpy array, got {type(img).__name__}")
    if img.dtype != np.uint8:
        raise ValueError(f"{name} must be uint8, got {img.dtype}")
    if img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"{name} must have shape HxWx3 (RGB), got {img.shape}")
    if img.shape[0] == 0 or img.shape[1] == 0:
        raise ValueError(f"{name} is empty: {img.shape}")


def check_pair(a: np.ndarray, b: np.ndarray) -> None:
    """Raise unless ``a`` and ``b`` are uint8 HxWx3 arrays of the same shape."""
    check_image(a, "a")
    check_image(b, "b")
    if a.shape != b.shape:
        raise ValueError(f"images differ in shape: {a.shape} vs {b.shape}")


def to_tensor01(img: np.ndarray) -> torch.Tensor:
    """uint8 HxWx3 array -> float32 (1, 3, H, W) tensor in [0, 1]."""
    t = torch.from_numpy(np.array(img, copy=True)).permute(2, 0, 1).unsqueeze(0)
    return t.to(torch.float32) / 255.0
