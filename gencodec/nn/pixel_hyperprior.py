"""Mean-scale hyperprior in pixel space with rate-variable gains.

Minnen et al. 2018 (NeurIPS), "mean & scale hyperprior", without the
autoregressive context; plus gain vectors (``RateGain``) on y and z so one
set of weights serves a continuous range of rates.

    y = g_a(x);  z = h_a(y)
    z_hat = Q(z * gz) / gz                 categorical prior on Q(z * gz)
    mu, log_sigma = h_s(z_hat)
    y_hat = (Q(y * gy - mu * gy) + mu * gy) / gy   Gaussian N(mu*gy, sigma*gy)
    x_hat = g_s(y_hat)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from gencodec.nn.bottleneck import CategoricalPrior, GaussianConditional
from gencodec.nn.pixel_transforms import analysis, hyper_analysis, hyper_synthesis, synthesis
from gencodec.nn.rate_gain import RateGain

LOG_SIGMA_RANGE = (-6.0, 8.0)


@dataclass(frozen=True)
class HyperpriorConfig:
    n: int = 128
    m: int = 192
    n_rates: int = 6
    z_half_range: int = 15
    downsample: int = 64  # input sides must be a multiple of this

    def to_dict(self) -> dict:
        return asdict(self)


class PixelHyperprior(nn.Module):
    def __init__(self, cfg: HyperpriorConfig) -> None:
        super().__init__()
        self.cfg = cfg
        init = torch.linspace(-1.0, 1.0, cfg.n_rates).tolist()
        self.g_a = analysis(cfg.n, cfg.m)
        self.g_s = synthesis(cfg.n, cfg.m)
        self.h_a = hyper_analysis(cfg.n, cfg.m)
        self.h_s = hyper_synthesis(cfg.n, cfg.m)
        self.y_gain = RateGain(cfg.n_rates, cfg.m, init)
        self.z_gain = RateGain(cfg.n_rates, cfg.n, init)
        self.z_prior = CategoricalPrior(cfg.n, cfg.z_half_range)
        self.gaussian = GaussianConditional()

    def prior_params(self, z_hat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(mu, sigma) of y in the unscaled domain, from the dequantized z."""
        mu, log_sigma = self.h_s(z_hat).chunk(2, dim=1)
        return mu, log_sigma.clamp(*LOG_SIGMA_RANGE).exp()

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> dict[str, torch.Tensor]:
        """x in [0, 1], (B, 3, H, W); t: (B,) continuous rate indices."""
        y = self.g_a(x * 2 - 1)
        z = self.h_a(y)
        gz = self.z_gain(t)
        z_hat_s, z_like = self.z_prior(z.float() * gz)
        mu, sigma = self.prior_params((z_hat_s / gz).to(y.dtype))
        gy = self.y_gain(t)
        y_hat_s, y_like = self.gaussian(y.float() * gy, mu.float() * gy, sigma.float() * gy)
        x_hat = (self.g_s((y_hat_s / gy).to(y.dtype)) + 1) / 2
        return {"x_hat": x_hat, "y_likelihood": y_like, "z_likelihood": z_like}
