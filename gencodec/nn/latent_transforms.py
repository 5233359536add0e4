"""Light CNN transforms that operate in the autoencoder's latent space (GLC g_a, g_s, h_a, h_s).

Latents are 16x smaller than pixels, so these run fast on a CPU. Residual
blocks here have no normalization (they must behave identically for any
image size and batch).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class PlainResBlock(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(F.gelu(self.conv1(F.gelu(x))))


def latent_analysis(latent_dim: int, hidden: int, m: int) -> nn.Sequential:
    """l (/16) -> y (/32)."""
    return nn.Sequential(
        nn.Conv2d(latent_dim, hidden, 3, padding=1), PlainResBlock(hidden), PlainResBlock(hidden),
        nn.Conv2d(hidden, hidden, 3, stride=2, padding=1), PlainResBlock(hidden), nn.GELU(),
        nn.Conv2d(hidden, m, 3, padding=1),
    )


def latent_synthesis(latent_dim: int, hidden: int, m: int) -> nn.Sequential:
    """y_hat (/32) -> l_hat (/16)."""
    return nn.Sequential(
        nn.Conv2d(m, hidden, 3, padding=1), PlainResBlock(hidden),
        nn.ConvTranspose2d(hidden, hidden, 4, stride=2, padding=1), PlainResBlock(hidden), PlainResBlock(hidden),
        nn.GELU(), nn.Conv2d(hidden, latent_dim, 3, padding=1),
    )


def hyper_analysis(m: int, hidden: int, z_dim: int) -> nn.Sequential:
    """y (/32) -> z (/128)."""
    return nn.Sequential(
        nn.Conv2d(m, hidden, 3, padding=1), nn.GELU(),
        nn.Conv2d(hidden, hidden, 3, stride=2, padding=1), nn.GELU(),
        nn.Conv2d(hidden, hidden, 3, stride=2, padding=1), nn.GELU(),
        nn.Conv2d(hidden, z_dim, 1),
    )


def hyper_synthesis(m: int, hidden: int, z_dim: int) -> nn.Sequential:
    """z_hat (/128) -> 2m prior channels (means, log-scales) at /32."""
    return nn.Sequential(
        nn.Conv2d(z_dim, hidden, 3, padding=1), nn.GELU(),
        nn.ConvTranspose2d(hidden, hidden, 4, stride=2, padding=1), nn.GELU(),
        nn.ConvTranspose2d(hidden, hidden, 4, stride=2, padding=1), nn.GELU(),
        nn.Conv2d(hidden, 2 * m, 3, padding=1),
    )
