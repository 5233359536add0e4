"""Training-time quantization and likelihoods for the latents.

* :class:`GaussianConditional`: scalar latent y with a conditional Gaussian
  N(mu, sigma) (Minnen et al. 2018, eq. 3: p(y~|z~) = prod_i (N(mu_i, sigma_i^2)
  * U(-1/2, 1/2))(y~_i)). Rate uses additive uniform noise; the decoder input
  uses straight-through rounding around the mean, as the coder does.
* :class:`CategoricalPrior`: a per-channel categorical distribution over the
  integers in [-K, K] for the hyper-latent z. Its integer table is frozen at
  export and shipped with the weights (see ``gencodec.entropy.categorical``).
"""

from __future__ import annotations

import math

import torch
from torch import nn

SCALE_MIN = 0.11  # lower bound on sigma, equal to the coder's smallest table entry


def ste_round(x: torch.Tensor) -> torch.Tensor:
    """Round with a straight-through gradient."""
    return x + (torch.round(x) - x).detach()


def _std_normal_cdf(x: torch.Tensor) -> torch.Tensor:
    return 0.5 * torch.erfc(-x * (1.0 / math.sqrt(2.0)))


class GaussianConditional(nn.Module):
    """Quantize y around its predicted mean and return likelihoods of the noisy y."""

    def forward(
        self, y: torch.Tensor, mu: torch.Tensor, sigma: torch.Tensor, noise: bool = True
    ) -> tuple[torch.Tensor, torch.Tensor]:
        y, mu, sigma = y.float(), mu.float(), sigma.float()
        sigma = sigma.clamp_min(SCALE_MIN)
        y_hat = ste_round(y - mu) + mu
        y_rate = y + torch.empty_like(y).uniform_(-0.5, 0.5) if noise else y_hat
        centered = (y_rate - mu).abs()  # symmetric: use the lower tail for accuracy
        upper = _std_normal_cdf((0.5 - centered) / sigma)
        lower = _std_normal_cdf((-0.5 - centered) / sigma)
        likelihood = (upper - lower).clamp_min(1e-9)
        return y_hat, likelihood


class CategoricalPrior(nn.Module):
    """Per-channel categorical prior over integer hyper-latents in [-K, K].

    The log-probability of a non-integer (noisy) value is the linear
    interpolation of the table's log-probabilities at the two neighbouring
    integers, so the rate term still has a gradient with respect to z.
    """

    def __init__(self, channels: int, half_range: int = 15) -> None:
        super().__init__()
        self.half_range = half_range
        k = torch.arange(-half_range, half_range + 1, dtype=torch.float32)
        self.logits = nn.Parameter((-k.abs() * 1.0).expand(channels, -1).clone())

    def log_probs(self) -> torch.Tensor:
        return torch.log_softmax(self.logits.float(), dim=-1)

    def forward(self, z: torch.Tensor, noise: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
        """Return (z_hat, likelihood); z is (B, C, H, W).

        ``noise=False`` gives the likelihood of the rounded z, p(round(z)) -- the coded rate -- with a
        straight-through gradient to z of the central difference (log p(k+1) - log p(k-1)) / 2 (a
        one-sided difference would push every z off a peaked table's mode) and the exact gradient to
        the table.
        """
        k = self.half_range
        z = z.float().clamp(-k, k)
        z_hat = ste_round(z)
        lp = self.log_probs()  # (C, 2K+1)
        b, c, h, w = z.shape
        table = lp.unsqueeze(0).expand(b, -1, -1)  # (B, C, 2K+1)

        def at(index: torch.Tensor) -> torch.Tensor:
            return torch.gather(table, 2, index.long().view(b, c, h * w)).view(b, c, h, w)

        if not noise:
            mid = z_hat.detach() + k
            up, down = (mid + 1).clamp(max=2 * k), (mid - 1).clamp(min=0)
            slope = ((at(up) - at(down)) / (up - down)).detach()
            log_like = at(mid) + slope * (z - z.detach())
            return z_hat, log_like.exp().clamp_min(1e-9)
        pos = (z + torch.empty_like(z).uniform_(-0.5, 0.5)).clamp(-k, k) + k  # in [0, 2K]
        lo = pos.detach().floor().clamp(0, 2 * k - 1)
        frac = pos - lo
        log_like = (1 - frac) * at(lo) + frac * at(lo + 1)
        return z_hat, log_like.exp().clamp_min(1e-9)
