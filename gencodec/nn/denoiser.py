"""Conditional latent denoiser for PerCo (seed 003, sec. 3.1-3.2): a small U-Net predicting v.

Inputs: the noisy autoencoder latent x_s, the upsampled local code (channel
concatenation, as in PerCo), and one embedding per sample that sums the
time s (sinusoidal), the text embedding (projected) and the rate point; it
modulates every residual block (FiLM: scale and shift after the norm).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.nn import functional as F

from gencodec.nn.blocks import AttnBlock, Downsample, Upsample, norm


@dataclass(frozen=True)
class DenoiserConfig:
    latent_dim: int = 32
    cond_dim: int = 64
    channels: tuple[int, int] = (128, 192)
    blocks: int = 2
    emb_dim: int = 256
    text_dim: int = 384
    n_rates: int = 3

    def to_dict(self) -> dict:
        return asdict(self)


def time_embedding(s: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal embedding of times s in [0, 1] (scaled by 1000 as in DDPM)."""
    half = dim // 2
    dtype = s.dtype if s.dtype == torch.float64 else torch.float32
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=dtype) / half)
    args = 1000.0 * s.to(dtype)[:, None] * freqs[None]
    return torch.cat([torch.sin(args), torch.cos(args)], dim=1)


class FiLMResBlock(nn.Module):
    def __init__(self, cin: int, cout: int, emb_dim: int) -> None:
        super().__init__()
        self.norm1, self.conv1 = norm(cin), nn.Conv2d(cin, cout, 3, padding=1)
        self.film = nn.Linear(emb_dim, 2 * cout)
        self.norm2, self.conv2 = norm(cout), nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()
        nn.init.zeros_(self.conv2.weight)
        nn.init.zeros_(self.conv2.bias)

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        scale, shift = self.film(emb)[:, :, None, None].chunk(2, dim=1)
        h = self.norm2(h) * (1 + scale) + shift
        return self.skip(x) + self.conv2(F.silu(h))


class LatentDenoiser(nn.Module):
    def __init__(self, cfg: DenoiserConfig) -> None:
        super().__init__()
        self.cfg = cfg
        c0, c1 = cfg.channels
        e = cfg.emb_dim
        self.time_mlp = nn.Sequential(nn.Linear(e, e), nn.SiLU(), nn.Linear(e, e))
        self.text_proj = nn.Linear(cfg.text_dim, e)
        self.rate_embed = nn.Embedding(cfg.n_rates, e)
        self.null_text = nn.Parameter(torch.zeros(cfg.text_dim))  # the learned "no caption" embedding
        self.inp = nn.Conv2d(cfg.latent_dim + cfg.cond_dim, c0, 3, padding=1)
        self.down = nn.ModuleList(FiLMResBlock(c0, c0, e) for _ in range(cfg.blocks))
        self.to_low = Downsample(c0, c1)
        self.mid = nn.ModuleList(FiLMResBlock(c1, c1, e) for _ in range(cfg.blocks))
        self.attn = AttnBlock(c1)
        self.to_high = Upsample(c1, c0)
        self.up = nn.ModuleList(FiLMResBlock(2 * c0 if i == 0 else c0, c0, e) for i in range(cfg.blocks))
        self.out = nn.Sequential(norm(c0), nn.SiLU(), nn.Conv2d(c0, cfg.latent_dim, 3, padding=1))

    def embedding(self, s: torch.Tensor, text: torch.Tensor | None, rate: torch.Tensor) -> torch.Tensor:
        """Per-sample conditioning vector; ``text`` None (or rows of NaN) selects the null embedding."""
        b = s.shape[0]
        if text is None:
            text = self.null_text.expand(b, -1)
        else:
            missing = torch.isnan(text).any(dim=1, keepdim=True)
            text = torch.where(missing, self.null_text.expand(b, -1).to(text.dtype), text.nan_to_num())
        dtype = self.text_proj.weight.dtype
        emb = self.time_mlp(time_embedding(s, self.cfg.emb_dim).to(dtype)) + self.text_proj(text.to(dtype))
        return emb + self.rate_embed(rate)

    def forward(self, x: torch.Tensor, s: torch.Tensor, cond: torch.Tensor, text: torch.Tensor | None,
                rate: torch.Tensor) -> torch.Tensor:
        """v prediction for noisy latents x at times s (B,), local condition (B, cond_dim, H, W)."""
        h, w = x.shape[-2:]
        emb = self.embedding(s, text, rate)
        hi = self.inp(torch.cat([x, cond.to(x.dtype)], dim=1))
        for blk in self.down:
            hi = blk(hi, emb)
        lo = self.to_low(hi)
        for blk in self.mid:
            lo = blk(lo, emb)
        lo = self.attn(lo)
        up = self.to_high(lo)[..., :h, :w]
        out = torch.cat([hi, up], dim=1)
        for blk in self.up:
            out = blk(out, emb)
        return self.out(out)
