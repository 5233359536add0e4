"""EffNet-Lite0 feature distance: an LPIPS-style (Zhang et al. 2018, "The Unreasonable Effectiveness of Deep
Features as a Perceptual Metric", eq. 1) distance with *no learned channel weights* on a frozen
EfficientNet-Lite0 backbone. It is not LPIPS and its values are not comparable to LPIPS values."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from gencodec.metrics._validate import check_pair, to_tensor01
from gencodec.metrics.backbone import EfficientNetLite0Features, default_backbone

NORM_EPS = 1e-10


def _unit_normalize(f: torch.Tensor) -> torch.Tensor:
    return f / (torch.sqrt(torch.sum(f * f, dim=1, keepdim=True)) + NORM_EPS)


def tap_distance(feats_a: list[torch.Tensor], feats_b: list[torch.Tensor]) -> torch.Tensor:
    """Per-image distance (B,) from two lists of tapped feature maps (B, C_l, H_l, W_l).

    d = (1/L) * sum_l mean_{h,w} sum_c (n_a - n_b)^2, with n = f / (||f||_2 over channels + 1e-10).
    """
    per_tap = []
    for fa, fb in zip(feats_a, feats_b, strict=True):
        diff = _unit_normalize(fa) - _unit_normalize(fb)
        per_tap.append((diff * diff).sum(dim=1).mean(dim=(1, 2)))
    return torch.stack(per_tap, dim=0).mean(dim=0)


class DeepFeatureLoss(nn.Module):
    """EffNet-Lite0 feature distance on (B, 3, H, W) RGB tensors in [0, 1], differentiable w.r.t. both inputs.

    Same quantity as :func:`deep_feature_distance`; ``reduction`` is "mean" (scalar over the batch) or "none"
    (shape (B,)). The backbone is frozen and holds no parameters or state-dict entries.
    """

    def __init__(
        self,
        backbone: EfficientNetLite0Features | None = None,
        weights_path: str | Path | None = None,
        reduction: str = "mean",
    ) -> None:
        super().__init__()
        if reduction not in ("mean", "none"):
            raise ValueError(f"reduction must be 'mean' or 'none', got {reduction!r}")
        self.backbone = backbone if backbone is not None else EfficientNetLite0Features(weights_path)
        self.reduction = reduction

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Distance between batches ``x`` and ``y`` of equal shape."""
        if x.shape != y.shape or x.ndim != 4 or x.shape[1] != 3:
            shapes = f"{tuple(x.shape)} and {tuple(y.shape)}"
            raise ValueError(f"expected two (B, 3, H, W) tensors of equal shape, got {shapes}")
        feats = self.backbone(torch.cat([x, y], dim=0))
        b = x.shape[0]
        d = tap_distance([f[:b] for f in feats], [f[b:] for f in feats])
        return d.mean() if self.reduction == "mean" else d


def deep_feature_distance(a: np.ndarray, b: np.ndarray, backbone: EfficientNetLite0Features | None = None) -> float:
    """EffNet-Lite0 feature distance between two uint8 HxWx3 RGB images (0 for identical images).

    Both images go through the frozen EfficientNet-Lite0 backbone (RGB in [0, 1] mapped to [-1, 1]); for each
    of its 5 taps (strides 2, 4, 8, 16, 32) the features are unit-normalised along channels,
    x / (||x||_2 + 1e-10); the squared difference is summed over channels and averaged over space; the 5 tap
    values are averaged with equal weights. This is LPIPS eq. 1 with all learned weights w_l = 1 and the
    spatial/tap averaging above -- an unweighted distance, not LPIPS.
    """
    check_pair(a, b)
    net = backbone if backbone is not None else default_backbone()
    with torch.no_grad():
        feats = net(torch.cat([to_tensor01(a), to_tensor01(b)], dim=0).to(net.device))
        return float(tap_distance([f[:1] for f in feats], [f[1:] for f in feats])[0])


def default_loss(weights_path: str | Path | None = None) -> DeepFeatureLoss:
    """A :class:`DeepFeatureLoss` sharing the cached backbone of the numpy metrics."""
    return DeepFeatureLoss(backbone=default_backbone(weights_path))
