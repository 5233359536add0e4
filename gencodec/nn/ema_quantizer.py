"""Vector quantization with exponential-moving-average codebook updates.

PerCo (seed 003, sec. 3.2) replaces the codebook term of the VQ-VAE loss
(van den Oord et al. 2017, eq. 3) by EMA updates (Razavi et al. 2019) and
keeps only the commitment term beta * ||h - sg(e)||^2. Entries are low
dimensional (PerCo: 32) for better codebook usage (Yu et al. 2022).

    N_k <- d N_k + (1 - d) n_k,   m_k <- d m_k + (1 - d) sum_{h -> k} h,   e_k = m_k / N_k
with Laplace smoothing of N; unused entries are re-seeded from recent inputs.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class EMAVectorQuantizer(nn.Module):
    def __init__(self, size: int, dim: int, decay: float = 0.99, beta: float = 0.25, eps: float = 1e-5) -> None:
        super().__init__()
        self.size, self.dim, self.decay, self.beta, self.eps = size, dim, decay, beta, eps
        init = torch.randn(size, dim)
        self.register_buffer("codebook", init.clone())
        self.register_buffer("ema_count", torch.ones(size))
        self.register_buffer("ema_sum", init.clone())

    def lookup(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(quantized (B, C, H, W), indices (B, H, W)) by Euclidean nearest neighbour; no side effects."""
        flat = h.float().permute(0, 2, 3, 1).reshape(-1, self.dim)
        cb = self.codebook.float()
        with torch.autocast(h.device.type, enabled=False):  # distances in full precision, also under bf16 training
            d = flat.square().sum(1, keepdim=True) - 2 * flat @ cb.t() + cb.square().sum(1)[None]
        idx = d.argmin(dim=1).reshape(h.shape[0], h.shape[2], h.shape[3])
        return self.embed(idx), idx

    def embed(self, idx: torch.Tensor) -> torch.Tensor:
        return self.codebook[idx].permute(0, 3, 1, 2).contiguous()

    def forward(self, h: torch.Tensor) -> dict[str, torch.Tensor]:
        """Straight-through quantization; in training mode also the EMA codebook update."""
        h = h.float()
        q, idx = self.lookup(h.detach())
        if self.training:
            with torch.autocast(h.device.type, enabled=False):
                self._ema_update(h.detach(), idx)
        commit = self.beta * F.mse_loss(h, q.detach())
        return {"latent_q": h + (q - h).detach(), "indices": idx, "vq_loss": commit}

    @torch.no_grad()
    def _ema_update(self, h: torch.Tensor, idx: torch.Tensor) -> None:
        flat = h.permute(0, 2, 3, 1).reshape(-1, self.dim)
        onehot = F.one_hot(idx.flatten(), self.size).float()
        d = self.decay
        self.ema_count.mul_(d).add_(onehot.sum(0), alpha=1 - d)
        self.ema_sum.mul_(d).add_(onehot.t() @ flat, alpha=1 - d)
        n = self.ema_count.sum()
        count = (self.ema_count + self.eps) / (n + self.size * self.eps) * n
        self.codebook.copy_(self.ema_sum / count[:, None])

    @torch.no_grad()
    def restart_statistics(self) -> None:
        """Restart the EMA statistics at the current codebook (shipped weights carry the codebook only)."""
        self.ema_sum.copy_(self.codebook)
        self.ema_count.fill_(1.0)

    @torch.no_grad()
    def seed_from(self, h: torch.Tensor, generator: torch.Generator | None = None) -> None:
        """Set every entry to a random input vector (a data-driven start instead of the random init)."""
        pool = h.detach().float().permute(0, 2, 3, 1).reshape(-1, self.dim)
        pick = torch.randint(0, pool.shape[0], (self.size,), generator=generator)
        self.codebook.copy_(pool[pick])
        self.ema_sum.copy_(pool[pick])
        self.ema_count.fill_(1.0)

    @torch.no_grad()
    def restart_dead_codes(self, h: torch.Tensor, threshold: float = 1e-2) -> int:
        """Re-seed entries whose EMA usage fell below ``threshold`` with random recent inputs."""
        dead = (self.ema_count < threshold).nonzero().flatten()
        if dead.numel() == 0:
            return 0
        pool = h.detach().float().permute(0, 2, 3, 1).reshape(-1, self.dim)
        pick = torch.randint(0, pool.shape[0], (dead.numel(),))
        self.codebook[dead] = pool[pick]
        self.ema_sum[dead] = pool[pick]
        self.ema_count[dead] = 1.0
        return int(dead.numel())
