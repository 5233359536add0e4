"""GLC code-prediction loss (stage II): D_code = alpha * CE(M_l, M^_{l_hat}) + ||l - l_hat||^2.

M_l are the true VQ indices of the latent; the prediction logits are the
cosine similarities of l_hat to the codebook, times a fixed scale (a
temperature), so the loss needs no extra network at inference.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

from gencodec.nn.quantizers import CosineVectorQuantizer


def code_prediction_loss(
    latent: torch.Tensor, latent_hat: torch.Tensor, indices: torch.Tensor, quantizer: CosineVectorQuantizer,
    alpha: float = 0.5, logit_scale: float = 25.0,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Per-sample D_code (B,) and diagnostics (CE, MSE, code accuracy)."""
    logits = quantizer.logits(latent_hat) * logit_scale
    ce = F.cross_entropy(logits, indices, reduction="none").mean(dim=(1, 2))
    mse = (latent.float() - latent_hat.float()).square().sum(dim=1).mean(dim=(1, 2))
    with torch.no_grad():
        acc = (logits.argmax(dim=1) == indices).float().mean().item()
    return alpha * ce + mse, {"ce": ce.mean().item(), "mse": mse.mean().item(), "code_acc": acc}
