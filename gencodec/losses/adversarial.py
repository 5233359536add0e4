"""Adversarial objectives.

* hinge loss for the patch discriminator (VQGAN);
* the non-binary MS-ILLM loss (seed 000 eq. 4):
      L_disc = E_x[CE(D(x), u(x))] + E_x^[CE(D(x^), fake)]
      L_adv  = E_x^[CE(D(x^), u(x))]
  where u(x) is the real image's codebook index at each position;
* VQGAN's adaptive weight: ||grad L_rec|| / ||grad L_adv|| at the last layer.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F


def hinge_d_loss(logits_real: torch.Tensor, logits_fake: torch.Tensor) -> torch.Tensor:
    return 0.5 * (F.relu(1.0 - logits_real.float()).mean() + F.relu(1.0 + logits_fake.float()).mean())


def hinge_g_loss(logits_fake: torch.Tensor) -> torch.Tensor:
    return -logits_fake.float().mean()


def _check(logits: torch.Tensor, target: torch.Tensor) -> None:
    if (
        logits.dim() != 4
        or target.dim() != 3
        or logits.shape[0] != target.shape[0]
        or logits.shape[2:] != target.shape[1:]
    ):
        raise ValueError(f"logits {tuple(logits.shape)} and targets {tuple(target.shape)} do not match")
    if target.dtype != torch.long:
        raise ValueError("targets must be int64 class indices")


def nonbinary_d_loss(logits_real: torch.Tensor, logits_fake: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
    _check(logits_real, codes)
    fake = torch.full_like(codes, logits_fake.shape[1] - 1)
    return F.cross_entropy(logits_real.float(), codes) + F.cross_entropy(logits_fake.float(), fake)


def nonbinary_g_loss(logits_fake: torch.Tensor, codes: torch.Tensor, per_sample: bool = False) -> torch.Tensor:
    """Generator: classify fakes as the real image's codes (scalar, or (B,) with ``per_sample``)."""
    _check(logits_fake, codes)
    if per_sample:
        return F.cross_entropy(logits_fake.float(), codes, reduction="none").flatten(1).mean(dim=1)
    return F.cross_entropy(logits_fake.float(), codes)


def adaptive_weight(
    rec_loss: torch.Tensor, adv_loss: torch.Tensor, last_layer: torch.Tensor, max_weight: float = 1e4
) -> torch.Tensor:
    g_rec = torch.autograd.grad(rec_loss, last_layer, retain_graph=True)[0]
    g_adv = torch.autograd.grad(adv_loss, last_layer, retain_graph=True)[0]
    return (g_rec.norm() / (g_adv.norm() + 1e-4)).clamp(0.0, max_weight).detach()
