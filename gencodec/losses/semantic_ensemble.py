"""The semantic ensemble distortion of seed 000 (eq. 3) without its adversarial term:

    D = alpha * L_rec + beta * L_per + gamma * L_style     (+ delta * L_adv, added by the GAN stage)

L_rec is the Charbonnier loss, L_per the EfficientNet-Lite0 feature distance
(``gencodec.metrics.deep_features``; the seed uses VGG, unavailable here) and
L_style the L2 between Gram matrices of 16x16 patches of the same backbone's
five feature taps (``gencodec.losses.gram``). One backbone pass serves both
feature terms.

Weights: the seed's alpha = 10, beta = 1 carry over (measured on 128 px
training crops with a 4x blur: L_rec ~ 0.045, L_per ~ 0.7). Its gamma = 80
was set for VGG features; the raw Lite0 taps give L_style ~ 160 for that
blur, so gamma defaults to 1.5e-3, which puts gamma * L_style at about a
third of beta * L_per.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from gencodec.losses.charbonnier import charbonnier_per_sample
from gencodec.losses.gram import gram_style_loss
from gencodec.metrics.deep_features import tap_distance


@dataclass(frozen=True)
class EnsembleWeights:
    alpha: float = 10.0
    beta: float = 1.0
    gamma: float = 1.5e-3
    alpha_w0: float | None = None  # ConHa: pixel weight of a crop with w = 0, linear in w up to alpha (None: alpha)


class SemanticEnsemble(nn.Module):
    """Per-term distortions of x_hat against x (both (B, 3, H, W) in [0, 1]); holds no parameters."""

    def __init__(self, backbone: nn.Module, weights: EnsembleWeights | None = None, patch: int = 16) -> None:
        super().__init__()
        self.backbone = backbone
        self.weights = weights or EnsembleWeights()
        self.patch = patch

    def forward(
        self, x_hat: torch.Tensor, x: torch.Tensor, hallucination: torch.Tensor | None = None
    ) -> dict[str, torch.Tensor]:
        """{"rec", "per", "style", "distortion"}: scalars (batch means); distortion is eq. 3 without L_adv.

        ``hallucination`` (B,) is ConHa's w (seed 004, eq. 4): it scales each image's perceptual and style
        terms, ``alpha * rec + w * (beta * per + gamma * style)``; None means w = 1 (plain eq. 3). With
        ``alpha_w0`` set, the pixel weight also follows w, ``alpha_w0 + w * (alpha - alpha_w0)``: eq. 4 alone
        leaves a w = 0 crop a distortion about 13x smaller against the same rate weight, so the encoder learns to
        starve such content of bits (measured, docs/models.md); a larger pixel weight there keeps them.
        """
        b = x.shape[0]
        feats = self.backbone(torch.cat([x_hat, x], dim=0))
        fake, real = [f[:b] for f in feats], [f[b:].detach() for f in feats]
        rec = charbonnier_per_sample(x_hat, x)
        per = tap_distance([f.float() for f in fake], [f.float() for f in real])
        style = gram_style_loss(fake, real, self.patch, per_sample=True)
        w = self.weights
        perceptual = w.beta * per + w.gamma * style
        pixel = w.alpha * rec
        if hallucination is not None:
            h = hallucination.to(perceptual)
            perceptual = h * perceptual
            if w.alpha_w0 is not None:
                pixel = (w.alpha_w0 + h * (w.alpha - w.alpha_w0)) * rec
        return {"rec": rec.mean(), "per": per.mean(), "style": style.mean(),
                "distortion": (pixel + perceptual).mean()}
