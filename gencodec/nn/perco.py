"""PerCo (Careil et al., ICLR 2024; seed 003) in the shared autoencoder's latent space.

    l = E(x)                                     frozen generative encoder (x16)
    h = H_r(l)                                   hyper encoder of rate point r: stride 2^k in latent units
    z_l = VQ_r(h)                                EMA codebook of V_r entries, coded as fixed-length indices
    c = U_r(z_l)                                 upsampled to the latent grid (channel concatenation)
    v = eps_theta(l_s, s, c, text, r)            denoiser, v-prediction
    l_hat = DDIM(eps_theta, guidance on text)    x_hat = D(normalize(l_hat))

The denoiser works on x_0 = sqrt(C) l (unit-variance entries of the unit-norm
latent); the decoder normalizes l_hat, so the scale needs no inverse.
Rate point r costs (h/2^k)(w/2^k) ceil(log2 V_r) bits for an (h, w) latent.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.nn import functional as F

from gencodec.nn.blocks import ResBlock
from gencodec.nn.denoiser import DenoiserConfig, LatentDenoiser
from gencodec.nn.ema_quantizer import EMAVectorQuantizer


@dataclass(frozen=True)
class PerCoConfig:
    latent_dim: int = 32
    code_dim: int = 32
    hidden: int = 96
    # (log2 stride in latent positions, codebook size) per rate point, increasing rate
    rate_points: tuple[tuple[int, int], ...] = ((2, 256), (1, 16), (1, 512))
    denoiser: DenoiserConfig = DenoiserConfig()

    def __post_init__(self) -> None:
        if self.denoiser.latent_dim != self.latent_dim or self.denoiser.n_rates != len(self.rate_points):
            raise ValueError("denoiser config must match latent_dim and the number of rate points")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> PerCoConfig:
        den = dict(d["denoiser"])
        den["channels"] = tuple(den["channels"])
        return cls(latent_dim=d["latent_dim"], code_dim=d["code_dim"], hidden=d["hidden"],
                   rate_points=tuple((int(a), int(b)) for a, b in d["rate_points"]), denoiser=DenoiserConfig(**den))

    def bits_per_position(self, r: int) -> int:
        return math.ceil(math.log2(self.rate_points[r][1]))

    @property
    def multiple(self) -> int:
        """Latent grid multiple needed by the coarsest code grid and the denoiser's downsampling."""
        return max(2, *(2 ** k for k, _ in self.rate_points))


def hyper_encoder(latent_dim: int, hidden: int, code_dim: int, log2_stride: int) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Conv2d(latent_dim, hidden, 3, padding=1), ResBlock(hidden)]
    for _ in range(log2_stride):
        layers += [nn.SiLU(), nn.Conv2d(hidden, hidden, 4, stride=2, padding=1)]
    layers += [ResBlock(hidden), nn.SiLU(), nn.Conv2d(hidden, code_dim, 1)]
    return nn.Sequential(*layers)


class CodeUpsampler(nn.Module):
    """Quantized code grid -> local condition on the latent grid."""

    def __init__(self, code_dim: int, hidden: int, cond_dim: int, log2_stride: int) -> None:
        super().__init__()
        self.factor = 2 ** log2_stride
        self.pre = nn.Sequential(nn.Conv2d(code_dim, hidden, 3, padding=1), ResBlock(hidden))
        self.post = nn.Sequential(ResBlock(hidden), nn.SiLU(), nn.Conv2d(hidden, cond_dim, 3, padding=1))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.pre(z)
        if self.factor > 1:
            h = F.interpolate(h, scale_factor=float(self.factor), mode="nearest")
        return self.post(h)


class PerCoNet(nn.Module):
    def __init__(self, cfg: PerCoConfig) -> None:
        super().__init__()
        self.cfg = cfg
        d = cfg.denoiser
        self.hyper = nn.ModuleList(hyper_encoder(cfg.latent_dim, cfg.hidden, cfg.code_dim, k)
                                   for k, _ in cfg.rate_points)
        self.quantizers = nn.ModuleList(EMAVectorQuantizer(v, cfg.code_dim) for _, v in cfg.rate_points)
        self.upsamplers = nn.ModuleList(CodeUpsampler(cfg.code_dim, cfg.hidden, d.cond_dim, k)
                                        for k, _ in cfg.rate_points)
        self.denoiser = LatentDenoiser(d)

    @property
    def latent_scale(self) -> float:
        return math.sqrt(self.cfg.latent_dim)

    def local_code(self, latent: torch.Tensor, r: int) -> dict[str, torch.Tensor]:
        """Quantized local code of rate point r (training: EMA update + commitment loss)."""
        return self.quantizers[r](self.hyper[r](latent))

    def condition(self, z_q: torch.Tensor, r: int) -> torch.Tensor:
        return self.upsamplers[r](z_q)

    def condition_from_indices(self, idx: torch.Tensor, r: int) -> torch.Tensor:
        return self.condition(self.quantizers[r].embed(idx), r)
