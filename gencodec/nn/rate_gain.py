"""Rate-variable transformation by per-channel gain vectors.

One model covers a continuous range of rates: for rate index t in
[0, R-1] the latent is scaled by g(t) before rounding and divided by it
after, where log g(t) interpolates the learned log-gains of the two
neighbouring rate points (the "rate-variable transformation" of GLC; the
same idea as the gain units of Cui et al. 2021). A larger gain is a finer
quantization step (delta = 1 / g) and a higher rate.
"""

from __future__ import annotations

import torch
from torch import nn


class RateGain(nn.Module):
    def __init__(self, n_rates: int, channels: int, init_log_gains: list[float]) -> None:
        super().__init__()
        if len(init_log_gains) != n_rates:
            raise ValueError("need one initial log-gain per rate point")
        init = torch.tensor(init_log_gains, dtype=torch.float32).unsqueeze(1).repeat(1, channels)
        self.log_gain = nn.Parameter(init)

    @property
    def n_rates(self) -> int:
        return int(self.log_gain.shape[0])

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        """Gains for continuous rate indices t of shape (B,); returns (B, C, 1, 1)."""
        t = t.to(self.log_gain.dtype).clamp(0, self.n_rates - 1)
        lo = t.floor().clamp(max=self.n_rates - 2).long()
        a = (t - lo.to(t.dtype)).unsqueeze(1)
        lg = self.log_gain[lo] * (1 - a) + self.log_gain[lo + 1] * a
        return lg.exp().unsqueeze(-1).unsqueeze(-1)
