"""GLC latent codec (Jia et al., CVPR 2024): transform coding in a VQ autoencoder's latent space.

    l = E(x)                                  frozen generative encoder (stage I)
    y = g_a(l);  z = h_a(y)
    z_hat = VQ(z, C_h)                        categorical hyper module: fixed-length indices
    mu, sigma = h_s(z_hat)
    y_hat = Q(y * g(t) - mu * g(t)) / g(t) + mu   rate-variable gains g(t)
    l_hat = g_s(y_hat);  x_hat = D(normalize(l_hat))

Code prediction (stage II loss, training only):
    D_code(l, l_hat) = alpha * CE(M_l, M^_{l_hat}) + ||l - l_hat||^2
where M_l are the VQ indices of l and M^ the codebook logits of l_hat.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from gencodec.nn.bottleneck import GaussianConditional
from gencodec.nn.latent_transforms import hyper_analysis, hyper_synthesis, latent_analysis, latent_synthesis
from gencodec.nn.quantizers import CosineVectorQuantizer
from gencodec.nn.rate_gain import RateGain

LOG_SIGMA_RANGE = (-6.0, 8.0)


@dataclass(frozen=True)
class GLCConfig:
    latent_dim: int = 32
    hidden: int = 128
    m: int = 128
    hyper_hidden: int = 96
    z_dim: int = 32
    hyper_codebook: int = 512
    n_rates: int = 5

    def to_dict(self) -> dict:
        return asdict(self)


class GLCLatentCodec(nn.Module):
    def __init__(self, cfg: GLCConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.g_a = latent_analysis(cfg.latent_dim, cfg.hidden, cfg.m)
        self.g_s = latent_synthesis(cfg.latent_dim, cfg.hidden, cfg.m)
        self.h_a = hyper_analysis(cfg.m, cfg.hyper_hidden, cfg.z_dim)
        self.h_s = hyper_synthesis(cfg.m, cfg.hyper_hidden, cfg.z_dim)
        self.hyper_vq = CosineVectorQuantizer(cfg.hyper_codebook, cfg.z_dim)
        self.y_gain = RateGain(cfg.n_rates, cfg.m, torch.linspace(-1.0, 1.0, cfg.n_rates).tolist())
        self.gaussian = GaussianConditional()

    def prior(self, z_hat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, log_sigma = self.h_s(z_hat).chunk(2, dim=1)
        return mu, log_sigma.clamp(*LOG_SIGMA_RANGE).exp()

    def forward(self, latent: torch.Tensor, t: torch.Tensor) -> dict[str, torch.Tensor]:
        y = self.g_a(latent)
        z = self.h_a(y)
        hq = self.hyper_vq(z)
        mu, sigma = self.prior(hq["latent_q"].to(y.dtype))
        g = self.y_gain(t)
        y_hat_s, y_like = self.gaussian(y.float() * g, mu.float() * g, sigma.float() * g)
        l_hat = self.g_s((y_hat_s / g).to(y.dtype)).float()
        return {
            "latent_hat": l_hat,
            "y_likelihood": y_like,
            "hyper_indices": hq["indices"],
            "hyper_vq_loss": hq["vq_loss"],
        }
