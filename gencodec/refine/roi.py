"""Region-of-interest masks for refinement (seed 000 eq. 7).

A mask is a grayscale or binary image of any size. Rule: it is converted to
8-bit grayscale, divided by 255 (values in [0, 1]; 0 = background,
1 = foreground), and if its size differs from the image it is resized to the
image size with bilinear interpolation (aspect ratio is not preserved; a
warning says so when it changes by more than 1%). An all-zero mask is an error.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

DEFAULT_ROI_WEIGHTS = (1.0, 0.2)  # (lambda_fg, lambda_bg): the paper's best setting


class MaskError(ValueError):
    pass


def load_mask(path: Path | str, height: int, width: int) -> tuple[np.ndarray, list[str]]:
    """Mask as float32 (H, W) in [0, 1] at the image size; returns (mask, notes)."""
    path = Path(path)
    notes: list[str] = []
    if not path.exists():
        raise MaskError(f"{path}: no such mask file")
    try:
        with Image.open(path) as im:
            im.load()
            if im.mode in ("RGBA", "LA"):
                im = im.getchannel("A") if im.mode == "RGBA" and im.getextrema()[3][0] < 255 else im.convert("L")
            m = im.convert("L")
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise MaskError(f"{path}: cannot read the mask ({exc.__class__.__name__})") from None
    if m.size != (width, height):
        src = m.size[0] / m.size[1]
        if abs(src / (width / height) - 1) > 0.01:
            notes.append(f"mask {m.size[0]}x{m.size[1]} resized to {width}x{height} (aspect ratio changed)")
        m = m.resize((width, height), Image.BILINEAR)
    arr = np.asarray(m, dtype=np.float32) / 255.0
    if arr.max() <= 0:
        raise MaskError(f"{path}: the mask is empty (all zero)")
    return arr, notes


def parse_weights(text: str) -> tuple[float, float]:
    try:
        fg, bg = (float(v) for v in text.split(","))
    except ValueError:
        raise MaskError(f"--roi-weights must be FG,BG (two numbers), got {text!r}") from None
    if fg < 0 or bg < 0 or fg + bg == 0:
        raise MaskError("--roi-weights must be non-negative and not both zero")
    return fg, bg
