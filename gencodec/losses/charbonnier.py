"""Charbonnier loss (Charbonnier et al. 1994; seed 000's L_rec): mean sqrt((x - y)^2 + eps^2)."""

from __future__ import annotations

import torch


def charbonnier(
    x: torch.Tensor, y: torch.Tensor, eps: float = 1e-3, weight: torch.Tensor | None = None
) -> torch.Tensor:
    d = torch.sqrt((x.float() - y.float()).square() + eps * eps)
    if weight is not None:
        return (d * weight).sum() / (weight.sum() * x.shape[1]).clamp_min(1e-8)
    return d.mean()


def charbonnier_per_sample(x: torch.Tensor, y: torch.Tensor, eps: float = 1e-3) -> torch.Tensor:
    """Charbonnier distance of each sample of a batch: shape (B,)."""
    return torch.sqrt((x.float() - y.float()).square() + eps * eps).flatten(1).mean(dim=1)
