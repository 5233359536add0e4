"""Windows of a feature map as token sets, and a pre-norm transformer block over token sets.

A (B, C, H, W) map is split into non-overlapping ``size`` x ``size`` windows (Swin, Liu et al. 2021):
it is zero-padded at the bottom/right to whole windows and, for a shifted window (SW-MSA), by ``shift``
at the top/left as well, so the shifted grid needs no cyclic roll. Every window becomes a sequence of
size * size tokens; positions that are padding come back as a key mask, so attention never reads them
and the result does not depend on how much padding there is. :func:`merge` inverts :func:`partition`.

The block is the standard pre-norm ViT layer (Dosovitskiy et al. 2021):
    x <- x + MHSA(LN(x));  x <- x + MLP(LN(x)),   keys restricted to valid tokens.
No normalization statistic crosses tokens, so it behaves the same for any image size and batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F


@dataclass(frozen=True)
class WindowLayout:
    height: int
    width: int
    size: int
    shift: int = 0

    @property
    def rows(self) -> int:
        return -(-(self.height + self.shift) // self.size)

    @property
    def cols(self) -> int:
        return -(-(self.width + self.shift) // self.size)

    @property
    def count(self) -> int:
        return self.rows * self.cols

    def padding(self) -> tuple[int, int, int, int]:
        """(left, right, top, bottom) in F.pad order."""
        s = self.shift
        return (s, self.cols * self.size - self.width - s, s, self.rows * self.size - self.height - s)

    def valid(self, device: torch.device | None = None) -> torch.Tensor:
        """(count, size * size) bool: True where a window token is an image position, not padding."""
        ones = torch.ones(1, 1, self.height, self.width, device=device)
        return _split(F.pad(ones, self.padding()), self.size)[..., 0] > 0.5


def _split(x: torch.Tensor, size: int) -> torch.Tensor:
    b, c, h, w = x.shape
    x = x.reshape(b, c, h // size, size, w // size, size).permute(0, 2, 4, 3, 5, 1)
    return x.reshape(b * (h // size) * (w // size), size * size, c)


def partition(x: torch.Tensor, size: int, shift: int = 0) -> tuple[torch.Tensor, WindowLayout]:
    """(B, C, H, W) -> tokens (B * N, size * size, C), windows in row-major order per image."""
    layout = WindowLayout(x.shape[2], x.shape[3], size, shift)
    return _split(F.pad(x, layout.padding()), size), layout


def merge(tokens: torch.Tensor, layout: WindowLayout) -> torch.Tensor:
    """Inverse of :func:`partition`: tokens (B * N, size * size, C) -> (B, C, H, W), padding cropped."""
    s, c = layout.size, tokens.shape[-1]
    b = tokens.shape[0] // layout.count
    x = tokens.reshape(b, layout.rows, layout.cols, s, s, c).permute(0, 5, 1, 3, 2, 4)
    x = x.reshape(b, c, layout.rows * s, layout.cols * s)
    t, left = layout.shift, layout.shift
    return x[:, :, t : t + layout.height, left : left + layout.width]


def key_mask(
    layout: WindowLayout, batch: int, lead: int = 0, device: torch.device | None = None
) -> torch.Tensor | None:
    """Attention mask (B * N, 1, 1, lead + size * size) for sequences [lead always-valid tokens, window];
    None when no window has padding (the fast unmasked path)."""
    valid = layout.valid(device)
    if bool(valid.all()):
        return None
    valid = torch.cat([torch.ones(valid.shape[0], lead, dtype=torch.bool, device=device), valid], dim=1)
    return valid.repeat(batch, 1)[:, None, None, :]


class TransformerBlock(nn.Module):
    """Pre-norm multi-head self-attention + MLP on (B, L, C) token sets."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float = 2.0) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError("dim must be a multiple of heads")
        self.heads = heads
        self.norm1 = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """``mask``: bool, broadcastable to (B, heads, L, L), True where a key may be attended to."""
        b, n, c = x.shape
        q, k, v = self.qkv(self.norm1(x)).reshape(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        a = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        x = x + self.proj(a.transpose(1, 2).reshape(b, n, c))
        return x + self.mlp(self.norm2(x))


class WindowAttention(nn.Module):
    """A :class:`TransformerBlock` applied inside (optionally shifted) windows of a (B, C, H, W) map."""

    def __init__(self, dim: int, heads: int, size: int, shift: int = 0, mlp_ratio: float = 2.0) -> None:
        super().__init__()
        self.size, self.shift = size, shift
        self.block = TransformerBlock(dim, heads, mlp_ratio)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens, layout = partition(x, self.size, self.shift)
        return merge(self.block(tokens, key_mask(layout, x.shape[0], device=x.device)), layout)
