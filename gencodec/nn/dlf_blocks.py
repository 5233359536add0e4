"""Building blocks of the DLF dual-branch codec (seed 002, Fig. 6 and appendix B).

* :class:`DetailBlock` - detail transform block (Fig. 6b): a ConvNeXt block (Liu et al. 2022) followed
  by window multi-head self-attention, W-MSA or shifted SW-MSA (Liu et al. 2021).
* :class:`InteractiveTransform` - the IT module (Fig. 6a, sec. 3.2): the detail map f_d is partitioned
  into the semantic windows (N x C x window^2) and one self-attention layer runs jointly over each
  window's semantic tokens and its detail tokens, then f_d is merged back. It lets the two bitstreams
  carry complementary information and gives the semantic tokens a view across windows.
* :func:`downsample` / :func:`upsample` - the x2 resampling around the detail bottleneck (Fig. 13).
* :class:`LatentAdaptor` - f_ada of eq. 4: fuses h_s and h_d into the generator's latent h^.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from gencodec.nn.latent_transforms import PlainResBlock
from gencodec.nn.window_attention import TransformerBlock, WindowAttention, key_mask, merge, partition


class ChannelNorm(nn.Module):
    """LayerNorm over the channels of each position of a (B, C, H, W) map."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class ConvNeXtBlock(nn.Module):
    """x + pw(GELU(pw(LN(dw7x7(x)))))."""

    def __init__(self, dim: int, expand: int = 2) -> None:
        super().__init__()
        self.dw = nn.Conv2d(dim, dim, 7, padding=3, groups=dim)
        self.norm = ChannelNorm(dim)
        self.pw1 = nn.Conv2d(dim, expand * dim, 1)
        self.pw2 = nn.Conv2d(expand * dim, dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.pw2(F.gelu(self.pw1(self.norm(self.dw(x)))))


class DetailBlock(nn.Module):
    def __init__(self, dim: int, heads: int, window: int, shift: int = 0, mlp_ratio: float = 2.0) -> None:
        super().__init__()
        self.conv = ConvNeXtBlock(dim)
        self.attn = WindowAttention(dim, heads, window, shift, mlp_ratio)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.attn(self.conv(x))


class InteractiveTransform(nn.Module):
    def __init__(self, dim: int, heads: int, window: int, mlp_ratio: float = 2.0) -> None:
        super().__init__()
        self.window = window
        self.block = TransformerBlock(dim, heads, mlp_ratio)

    def forward(self, tokens: torch.Tensor, f_d: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """tokens (B * N, T, C) of the semantic windows, f_d (B, C, H, W) -> both, updated jointly."""
        d, layout = partition(f_d, self.window)
        n = tokens.shape[1]
        seq = self.block(torch.cat([tokens.to(d.dtype), d], dim=1), key_mask(layout, f_d.shape[0], n, f_d.device))
        return seq[:, :n], merge(seq[:, n:], layout)


def downsample(dim: int, m: int) -> nn.Sequential:
    """f_d (/16, dim) -> y_d (/32, m)."""
    return nn.Sequential(nn.Conv2d(dim, dim, 3, stride=2, padding=1), nn.GELU(), nn.Conv2d(dim, m, 1))


def upsample(m: int, dim: int) -> nn.Sequential:
    """y_d^ (/32, m) -> (/16, dim) by sub-pixel convolution."""
    return nn.Sequential(nn.Conv2d(m, 4 * dim, 3, padding=1), nn.PixelShuffle(2), nn.GELU(),
                         nn.Conv2d(dim, dim, 3, padding=1))


class LatentAdaptor(nn.Module):
    """h^ = f_ada(h_d, h_s) (eq. 4): a small residual CNN on the concatenated branch features."""

    def __init__(self, dim: int, hidden: int, latent_dim: int) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(2 * dim, hidden, 3, padding=1), PlainResBlock(hidden), PlainResBlock(hidden), nn.GELU(),
            nn.Conv2d(hidden, latent_dim, 3, padding=1),
        )

    def forward(self, h_d: torch.Tensor, h_s: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([h_d, h_s.to(h_d.dtype)], dim=1))
