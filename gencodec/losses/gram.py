"""Style loss on Gram matrices of 16x16 feature patches (seed 000, L_style; Gatys et al. 2016).

Each feature map is cut into non-overlapping 16x16 patches; the Gram matrix
of each patch (C x C, normalized by the number of positions) is compared
with L2 between the original and the reconstruction.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F


def patch_grams(f: torch.Tensor, patch: int = 16) -> torch.Tensor:
    b, c, h, w = f.shape
    p = min(patch, h, w)
    f = f[:, :, : h - h % p, : w - w % p].float()
    cols = F.unfold(f, kernel_size=p, stride=p)  # (b, c*p*p, n)
    n = cols.shape[-1]
    cols = cols.view(b, c, p * p, n).permute(0, 3, 1, 2)  # (b, n, c, p*p)
    return cols @ cols.transpose(-1, -2) / (p * p)


def gram_style_loss(
    feats_x: list[torch.Tensor], feats_y: list[torch.Tensor], patch: int = 16, per_sample: bool = False
) -> torch.Tensor:
    """Mean squared Gram difference averaged over the taps: a scalar, or (B,) with ``per_sample``
    (whose mean is the scalar: every image has the same number of patches)."""
    total = feats_x[0].new_zeros((feats_x[0].shape[0],), dtype=torch.float32)
    for fx, fy in zip(feats_x, feats_y, strict=True):
        total = total + (patch_grams(fx, patch) - patch_grams(fy, patch)).square().mean(dim=(1, 2, 3))
    total = total / len(feats_x)
    return total if per_sample else total.mean()
