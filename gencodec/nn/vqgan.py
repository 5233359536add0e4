"""VQGAN-style generative autoencoder, downsampling x16 (GLC stage I).

    l = E(x)                 continuous latent, (B, latent_dim, H/16, W/16)
    l_q, idx = VQ(l)         nearest unit-norm codebook entries
    x_hat = D(l_q)           generator / decoder

E and D are plain conv stacks (residual blocks, one attention block at the
lowest resolution). This module holds no training code; the interface other
codecs use is ``encode`` (x -> l), ``quantize`` (l -> l_q, idx) and
``decode`` (latent -> image), with images in [0, 1].
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.nn import functional as F

from gencodec.nn.blocks import AttnBlock, Downsample, ResBlock, Upsample, norm
from gencodec.nn.quantizers import CosineVectorQuantizer


@dataclass(frozen=True)
class AutoencoderConfig:
    channels: tuple[int, ...] = (64, 128, 192, 256)  # at 1/2, 1/4, 1/8, 1/16
    latent_dim: int = 32
    codebook_size: int = 4096
    decoder_depth: tuple[int, ...] = (1, 1, 2, 2)  # residual blocks per decoder level, fine to coarse

    @property
    def downsample(self) -> int:
        return 2 ** len(self.channels)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["channels"] = list(self.channels)
        d["decoder_depth"] = list(self.decoder_depth)
        return d


class Encoder(nn.Module):
    """Space-to-depth stem (no full-resolution convolutions: they cost half the time on CPU)."""

    def __init__(self, cfg: AutoencoderConfig) -> None:
        super().__init__()
        ch = cfg.channels
        layers: list[nn.Module] = [nn.PixelUnshuffle(2), nn.Conv2d(12, ch[0], 3, padding=1)]
        for a, b in zip(ch[:-1], ch[1:]):
            layers += [ResBlock(a), Downsample(a, b)]
        layers += [
            ResBlock(ch[-1]),
            AttnBlock(ch[-1]),
            ResBlock(ch[-1]),
            norm(ch[-1]),
            nn.SiLU(),
            nn.Conv2d(ch[-1], cfg.latent_dim, 1),
        ]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x * 2 - 1)


class Decoder(nn.Module):
    """Mirror of the encoder; the last layer predicts 2x2 pixel blocks (depth-to-space)."""

    def __init__(self, cfg: AutoencoderConfig) -> None:
        super().__init__()
        ch = cfg.channels[::-1]
        depth = cfg.decoder_depth[::-1]
        layers: list[nn.Module] = [nn.Conv2d(cfg.latent_dim, ch[0], 3, padding=1), ResBlock(ch[0]), AttnBlock(ch[0])]
        layers += [ResBlock(ch[0]) for _ in range(depth[0])]
        for i, (a, b) in enumerate(zip(ch[:-1], ch[1:])):
            layers += [Upsample(a, b)] + [ResBlock(b) for _ in range(depth[i + 1])]
        layers += [norm(ch[-1]), nn.SiLU(), nn.Conv2d(ch[-1], 12, 3, padding=1), nn.PixelShuffle(2)]
        self.net = nn.Sequential(*layers)

    def forward(self, latent: torch.Tensor) -> torch.Tensor:
        return (self.net(latent) + 1) / 2


class VQAutoencoder(nn.Module):
    def __init__(self, cfg: AutoencoderConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.encoder = Encoder(cfg)
        self.quantizer = CosineVectorQuantizer(cfg.codebook_size, cfg.latent_dim)
        self.decoder = Decoder(cfg)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Continuous latent l = E(x), unit-normalized per position."""
        return F.normalize(self.encoder(x).float(), dim=1)

    def quantize(self, latent: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.quantizer.lookup(latent)

    def decode(self, latent: torch.Tensor) -> torch.Tensor:
        return self.decoder(latent)

    def forward(self, x: torch.Tensor, quantize_prob: float = 1.0) -> dict[str, torch.Tensor]:
        """Training pass. Each sample is decoded from its quantized latent with probability
        ``quantize_prob`` and from its continuous (unit-norm) latent otherwise, so D also learns
        to decode the continuous latents that the latent codecs (GLC, DLF) reconstruct."""
        latent = self.encode(x)
        q = self.quantizer(latent)
        dec_in = q["latent_q"]
        if quantize_prob < 1.0:
            keep = (torch.rand(x.shape[0], 1, 1, 1) < quantize_prob).to(latent.dtype)
            dec_in = keep * q["latent_q"] + (1 - keep) * latent
        return {"x_hat": self.decode(dec_in), "latent": latent, **q}
