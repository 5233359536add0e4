"""HiFiC-style pixel codec with an ELIC context model (seed 000 sec. II.A).

The transforms are the foundation hyperprior's (GDN conv stacks, x16 for y,
x64 for z; ``gencodec.nn.pixel_transforms``) so training can start from the
shipped hyperprior; the entropy model of y adds the spatial-channel context
(``gencodec.nn.elic_context``). Rate gains on y and z make one model cover a
continuous range of rates:

    y = g_a(x);  z = h_a(y);  z_hat = Q(z * gz) / gz       categorical prior on Q(z * gz)
    hyper = h_s(z_hat)                                      (2M channels: means, log-scales)
    y_hat = context(y, hyper, gy)                           group by group, anchors then non-anchors
    x_hat = g_s(y_hat)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from gencodec.nn.bottleneck import CategoricalPrior
from gencodec.nn.elic_context import ElicContext
from gencodec.nn.pixel_transforms import analysis, hyper_analysis, hyper_synthesis, synthesis
from gencodec.nn.rate_gain import RateGain


@dataclass(frozen=True)
class HiFiCConfig:
    n: int = 128
    m: int = 192
    groups: tuple[int, ...] = (16, 16, 32, 64, 64)  # ELIC's uneven groups, scaled to M = 192
    ctx_hidden: int = 96
    param_hidden: int = 128
    n_rates: int = 6
    z_half_range: int = 15
    downsample: int = 64  # input sides must be a multiple of this

    def to_dict(self) -> dict:
        d = asdict(self)
        d["groups"] = list(self.groups)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> HiFiCConfig:
        return cls(**{**d, "groups": tuple(d.get("groups", cls.groups))})


class HiFiC(nn.Module):
    def __init__(self, cfg: HiFiCConfig) -> None:
        super().__init__()
        self.cfg = cfg
        init = torch.linspace(-1.0, 1.0, cfg.n_rates).tolist()
        self.g_a = analysis(cfg.n, cfg.m)
        self.g_s = synthesis(cfg.n, cfg.m)
        self.h_a = hyper_analysis(cfg.n, cfg.m)
        self.h_s = hyper_synthesis(cfg.n, cfg.m)
        self.context = ElicContext(cfg.m, cfg.groups, cfg.ctx_hidden, cfg.param_hidden)
        self.y_gain = RateGain(cfg.n_rates, cfg.m, init)
        self.z_gain = RateGain(cfg.n_rates, cfg.n, init)
        self.z_prior = CategoricalPrior(cfg.n, cfg.z_half_range)

    def quantize(self, x: torch.Tensor, t: torch.Tensor, noise: bool = True) -> dict[str, torch.Tensor]:
        """Everything up to y_hat: x in [0, 1] (B, 3, H, W), t (B,) continuous rate indices.

        Returns y_hat, the likelihoods of y and z, noisy (the rate R) and rounded (R*, seed eq. 2), and
        the scaled z before rounding (for a training rate under another density).
        """
        y = self.g_a(x * 2 - 1)
        z = self.h_a(y)
        gz = self.z_gain(t)
        z_scaled = z.float() * gz
        z_hat_s, z_like = self.z_prior(z_scaled, noise=noise)
        _, z_like_q = self.z_prior(z_scaled, noise=False)
        hyper = self.h_s((z_hat_s / gz).to(y.dtype))
        ctx = self.context(y, hyper, self.y_gain(t), noise=noise)
        return {"y_hat": ctx["y_hat"], "y_likelihood": ctx["likelihood"], "y_likelihood_q": ctx["likelihood_q"],
                "z_likelihood": z_like, "z_likelihood_q": z_like_q, "z_scaled": z_scaled}

    def synthesize(self, y_hat: torch.Tensor) -> torch.Tensor:
        """Image in [0, 1] (unclamped) from the unscaled y_hat."""
        return (self.g_s(y_hat) + 1) / 2

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> dict[str, torch.Tensor]:
        out = self.quantize(x, t)
        return {**out, "x_hat": self.synthesize(out["y_hat"])}
