"""Ballé's non-parametric factorized density (seed 000 builds on it; Ballé et al. 2018, appendix 6.1).

Per channel c, a monotone function built from K small layers gives the cumulative logit:

    f_k(x) = g_k(softplus(H_k) x + b_k),   g_k(u) = u + tanh(a_k) * tanh(u)   (no g on the last layer)
    P(z~ | c) = sigmoid(f(z~ + 1/2)) - sigmoid(f(z~ - 1/2))                  the density convolved with U(-1/2, 1/2)

It is the training-time rate of the hyper-latent z under additive uniform noise. Unlike a table over
the integers it can put a channel's whole mass near 0 (a channel the model switches off then costs
~0 bits, as it does in the coded stream); the coded stream keeps the categorical table, refit to the
rounded z at export.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class FactorizedDensity(nn.Module):
    def __init__(self, channels: int, filters: tuple[int, ...] = (3, 3, 3), init_scale: float = 10.0) -> None:
        super().__init__()
        dims = (1, *filters, 1)
        scale = init_scale ** (1 / (len(filters) + 1))
        self.matrices = nn.ParameterList()
        self.biases = nn.ParameterList()
        self.factors = nn.ParameterList()
        for i in range(len(filters) + 1):
            init = math.log(math.expm1(1 / scale / dims[i + 1]))
            self.matrices.append(nn.Parameter(torch.full((channels, dims[i + 1], dims[i]), init)))
            self.biases.append(nn.Parameter(torch.rand(channels, dims[i + 1], 1) - 0.5))
            if i < len(filters):
                self.factors.append(nn.Parameter(torch.zeros(channels, dims[i + 1], 1)))

    def cumulative_logits(self, v: torch.Tensor) -> torch.Tensor:
        """v (C, 1, N) -> the cumulative logit f(v), same shape."""
        for i, (m, b) in enumerate(zip(self.matrices, self.biases, strict=True)):
            v = torch.matmul(F.softplus(m), v) + b
            if i < len(self.factors):
                v = v + torch.tanh(self.factors[i]) * torch.tanh(v)
        return v

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Likelihood of ``z`` (B, C, H, W), already noisy or rounded: the mass of [z - 1/2, z + 1/2]."""
        b, c, h, w = z.shape
        v = z.float().permute(1, 0, 2, 3).reshape(c, 1, -1)
        lower = self.cumulative_logits(v - 0.5)
        upper = self.cumulative_logits(v + 0.5)
        sign = -torch.sign(lower + upper).detach()  # evaluate in the tail where sigmoid is accurate
        like = (torch.sigmoid(sign * upper) - torch.sigmoid(sign * lower)).abs()
        return like.reshape(c, b, h, w).permute(1, 0, 2, 3).clamp_min(1e-9)
