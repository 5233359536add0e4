"""Vector quantization with a unit-norm (cosine) codebook.

Nearest-neighbour lookup of l2-normalized vectors against l2-normalized
codes (Yu et al. 2022, ViT-VQGAN, "factorized/l2-normalized codes"), a
straight-through estimator, the VQ-VAE codebook + commitment loss
(van den Oord et al. 2017, eq. 3: ||sg[z_e] - e||^2 + beta ||z_e - sg[e]||^2),
and restarts of dead codes from recent encoder outputs during training.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class CosineVectorQuantizer(nn.Module):
    def __init__(self, size: int, dim: int, beta: float = 0.25) -> None:
        super().__init__()
        self.size, self.dim, self.beta = size, dim, beta
        self.codebook = nn.Parameter(F.normalize(torch.randn(size, dim), dim=1))
        # running code usage; persistent so a resumed run restarts exactly the same dead codes
        self.register_buffer("usage", torch.zeros(size))

    def codes(self) -> torch.Tensor:
        return F.normalize(self.codebook.float(), dim=1)

    def logits(self, latent: torch.Tensor) -> torch.Tensor:
        """Cosine similarity of each position to each code: (B, K, H, W)."""
        return torch.einsum("bchw,kc->bkhw", F.normalize(latent.float(), dim=1), self.codes())

    def lookup(self, latent: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(quantized latent, indices) without gradients or losses."""
        idx = self.logits(latent).argmax(dim=1)
        return self.embed(idx), idx

    def embed(self, idx: torch.Tensor) -> torch.Tensor:
        """Indices (B, H, W) -> unit-norm codes (B, C, H, W)."""
        return self.codes()[idx].permute(0, 3, 1, 2).contiguous()

    def forward(self, latent: torch.Tensor) -> dict[str, torch.Tensor]:
        latent = F.normalize(latent.float(), dim=1)
        with torch.no_grad():
            idx = self.logits(latent).argmax(dim=1)
        q = self.embed(idx)
        loss = F.mse_loss(q, latent.detach()) + self.beta * F.mse_loss(latent, q.detach())
        if self.training:
            with torch.no_grad():
                counts = torch.bincount(idx.flatten(), minlength=self.size).float()
                self.usage.mul_(0.99).add_(counts, alpha=0.01)
        return {"latent_q": latent + (q - latent).detach(), "indices": idx, "vq_loss": loss}

    @torch.no_grad()
    def mark_all_used(self) -> None:
        """Usage statistics are not shipped: after a warm start treat every code as alive, so the first
        dead-code restart does not re-seed a trained codebook."""
        self.usage.fill_(1.0)

    @torch.no_grad()
    def restart_dead_codes(self, latent: torch.Tensor, threshold: float = 1e-3) -> int:
        """Re-seed codes whose running usage fell below threshold with random recent latents."""
        dead = (self.usage < threshold).nonzero().flatten()
        if dead.numel() == 0:
            return 0
        pool = F.normalize(latent.detach().float(), dim=1).permute(0, 2, 3, 1).reshape(-1, self.dim)
        pick = torch.randint(0, pool.shape[0], (dead.numel(),))
        noise = 0.01 * torch.randn(dead.numel(), self.dim)
        self.codebook.data[dead] = F.normalize(pool[pick] + noise, dim=1)
        self.usage[dead] = 1.0
        return int(dead.numel())
