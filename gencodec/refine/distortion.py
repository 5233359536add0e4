"""The simplified semantic ensemble loss for refinement (seed 000 eq. 6, with eq. 7 for ROI).

D = alpha * Charbonnier + beta * perceptual + gamma * style (no adversarial term).
With a mask m, D_roi = lambda_fg * D(m) + lambda_bg * D(1 - m), where each term
is computed over its region only: Charbonnier weighted per pixel, the
perceptual distance map of each backbone tap weighted by the mask resampled
to that tap, and Gram-style differences of 16x16 feature patches weighted by
the mask's mean over each patch.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

from gencodec.losses.gram import patch_grams
from gencodec.metrics.backbone import default_backbone

STYLE_TAPS = (1, 2)  # strides 4 and 8


def _unit(f: torch.Tensor) -> torch.Tensor:
    return f / (f.square().sum(dim=1, keepdim=True).sqrt() + 1e-10)


class EnsembleDistortion:
    def __init__(self, target: torch.Tensor, mask: torch.Tensor | None = None,
                 roi_weights: tuple[float, float] = (1.0, 0.2),
                 alpha: float = 10.0, beta: float = 1.0, gamma: float = 10.0) -> None:
        self.net = default_backbone()
        self.x = target
        self.alpha, self.beta, self.gamma = alpha, beta, gamma
        with torch.no_grad():
            self.feats_x = self.net(target)
            # Gram matrices are taken on features divided by the target's RMS per tap, so the style term
            # has the same scale for any backbone and image (VGG-tuned gamma=80 assumes raw VGG features)
            self.rms = [f.square().mean().sqrt().clamp_min(1e-6) for f in self.feats_x]
        if mask is None:
            self.regions = [(1.0, torch.ones_like(target[:, :1]))]
        else:
            m = mask.to(target.dtype)
            self.regions = [(roi_weights[0], m), (roi_weights[1], 1 - m)]
        self.regions = [(w, m) for w, m in self.regions if w > 0 and float(m.sum()) > 0]

    def _region(self, x_hat: torch.Tensor, feats: list[torch.Tensor], m: torch.Tensor) -> dict[str, torch.Tensor]:
        msum = m.sum().clamp_min(1e-6)
        rec = (torch.sqrt((x_hat - self.x).square() + 1e-6) * m).sum() / (msum * 3)
        per = x_hat.new_zeros(())
        for fx, fy in zip(self.feats_x, feats):
            d = (_unit(fx) - _unit(fy)).square().sum(dim=1, keepdim=True)
            mt = F.adaptive_avg_pool2d(m, d.shape[-2:])
            per = per + (d * mt).sum() / mt.sum().clamp_min(1e-6)
        per = per / len(feats)
        sty = x_hat.new_zeros(())
        for i in STYLE_TAPS:
            gx = patch_grams(self.feats_x[i] / self.rms[i])  # (1, n, c, c), row-major patches
            gy = patch_grams(feats[i] / self.rms[i])
            h, w = feats[i].shape[-2:]
            p = min(16, h, w)
            mt = F.adaptive_avg_pool2d(m, (h, w))[..., : h - h % p, : w - w % p]
            wp = F.avg_pool2d(mt, p).flatten()  # mask mean per patch, same order as the Grams
            sty = sty + ((gx - gy).square().mean(dim=(2, 3))[0] * wp).sum() / wp.sum().clamp_min(1e-6)
        sty = sty / len(STYLE_TAPS)
        return {"rec": rec, "per": per, "style": sty}

    def __call__(self, x_hat: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        feats = self.net(x_hat)
        total = x_hat.new_zeros(())
        parts: dict[str, float] = {}
        for weight, m in self.regions:
            r = self._region(x_hat, feats, m)
            total = total + weight * (self.alpha * r["rec"] + self.beta * r["per"] + self.gamma * r["style"])
            for k, v in r.items():
                parts[k] = parts.get(k, 0.0) + float(v.detach())
        return total, parts
