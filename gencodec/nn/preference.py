"""Hallucination-preference model M_P of ConHa (seed 004, "Conditionally Hallucinating" compression:
sec. 3.1, appendix C, Fig. 9, Table 1).

M_P is a binary classifier on the *original* image x that predicts whether people prefer the generative
(HiFiC-like, hallucinating) reconstruction or the fidelity (MSE, hyperprior-like) one. Its output
``w = sigmoid(temperature * logit)`` scales the perceptual terms of the codec loss (eq. 4):

    L_wrdp = E_x[ lambda r(y) + d(x, x') + beta * w * (d_LPIPS(x, x') - log D(x', y)) ]

Low w: hallucinations hurt (text, small faces, straight lines); high w: texture, where a plausible sample
beats blur. The paper multiplies the logit by 100 at codec-training time (appendix C) because M_P's raw
outputs cluster in [0.5, 0.6]; here that factor is ``temperature`` (1 while M_P is trained).

Architecture (Fig. 9) on this repository's backbone instead of the paper's ResNet50: the 5 taps of the frozen
EfficientNet-Lite0 (strides 2..32) each go through a block of 1x1 convolutions (ReLU after each), are
average-pooled, concatenated and fed to 2 feed-forward layers with a ReLU in between, giving one logit. Table 1
ends every block at 16 channels; the inner widths here are smaller than the paper's (its ResNet50 taps are
wider), so the head has about 42k parameters. The backbone holds only non-persistent buffers, so it is never
part of ``state_dict()``: saved weights are the head only.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from gencodec.metrics.backbone import TAP_STRIDES, EfficientNetLite0Features, default_backbone

WEIGHTS_ID = "preference"


@dataclass(frozen=True)
class PreferenceConfig:
    # 1x1-conv widths per backbone tap (taps: 16, 24, 40, 112, 320 channels); Table 1 style, last width 16
    blocks: tuple[tuple[int, ...], ...] = ((16, 32, 16), (32, 32, 16), (32, 32, 16), (64, 32, 16), (64, 32, 16))
    hidden: int = 32  # width of the first of the 2 feed-forward layers
    temperature: float = 1.0  # w = sigmoid(temperature * logit); the paper uses 100 when training the codec

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["blocks"] = [list(b) for b in self.blocks]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PreferenceConfig:
        d = dict(d)
        if "blocks" in d:
            d["blocks"] = tuple(tuple(int(c) for c in b) for b in d["blocks"])
        return cls(**d)


def _conv_block(cin: int, widths: tuple[int, ...]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for cout in widths:
        layers += [nn.Conv2d(cin, cout, 1), nn.ReLU()]
        cin = cout
    return nn.Sequential(*layers)


class PreferenceModel(nn.Module):
    """M_P: RGB (B, 3, H, W) in [0, 1] -> logit (B,); "hallucinating model preferred" is the positive class.

    The input goes to the backbone unchanged: :class:`EfficientNetLite0Features` itself maps [0, 1] to the
    [-1, 1] range it was trained on. ``backbone`` defaults to the shared cached instance loaded from
    ``weights/efficientnet_lite0_features.safetensors`` (``weights_path`` to load another file); any module with
    the same ``tap_channels`` and forward contract works (tests pass a cheap one).
    """

    def __init__(
        self,
        cfg: PreferenceConfig | None = None,
        backbone: EfficientNetLite0Features | None = None,
        weights_path: str | Path | None = None,
    ) -> None:
        super().__init__()
        self.cfg = cfg or PreferenceConfig()
        self.backbone = backbone if backbone is not None else default_backbone(weights_path)
        taps = tuple(self.backbone.tap_channels)
        if len(taps) != len(self.cfg.blocks) or any(len(b) == 0 for b in self.cfg.blocks):
            raise ValueError(f"need one non-empty 1x1-conv block per backbone tap ({len(taps)}), got {self.cfg.blocks}")
        self.blocks = nn.ModuleList(_conv_block(c, w) for c, w in zip(taps, self.cfg.blocks, strict=True))
        feat = sum(b[-1] for b in self.cfg.blocks)
        self.fc1 = nn.Linear(feat, self.cfg.hidden)
        self.fc2 = nn.Linear(self.cfg.hidden, 1)

    def _taps(self, x: torch.Tensor) -> list[torch.Tensor]:
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(f"expected a (B, 3, H, W) RGB tensor in [0, 1], got shape {tuple(x.shape)}")
        # The backbone is frozen and w is a constant of x in eq. 4: no graph unless the input asks for one.
        with torch.set_grad_enabled(torch.is_grad_enabled() and x.requires_grad):
            taps = self.backbone(x)
        dtype = self.fc1.weight.dtype
        return [t.to(dtype) for t in taps]

    def _head(self, pooled: torch.Tensor) -> torch.Tensor:
        """(..., features) -> (...,) logits."""
        return self.fc2(F.relu(self.fc1(pooled))).squeeze(-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (B,) for whole inputs (global average pooling of every tap)."""
        pooled = [blk(t).mean(dim=(2, 3)) for blk, t in zip(self.blocks, self._taps(x), strict=True)]
        return self._head(torch.cat(pooled, dim=1))

    def weight(self, x: torch.Tensor, temperature: float | None = None) -> torch.Tensor:
        """w = sigmoid(temperature * logit) in [0, 1], shape (B,); ``temperature`` defaults to the config's."""
        t = self.cfg.temperature if temperature is None else float(temperature)
        return torch.sigmoid(self(x) * t)

    def weight_map(
        self, x: torch.Tensor, crop: int = 64, stride: int = 32, temperature: float | None = None
    ) -> torch.Tensor:
        """Per-window w (B, n_y, n_x) over ``crop`` x ``crop`` windows every ``stride`` pixels (heat maps).

        Fully convolutional: the backbone runs once on the whole image and each tap's 1x1-block output is
        average-pooled over the window's footprint, so window (i, j) covers pixels
        [i*stride, i*stride + crop) x [j*stride, j*stride + crop) and n = (side - crop) // stride + 1
        (a remainder narrower than ``stride`` at the bottom/right is not covered). Unlike ``weight`` on the
        cut-out window, the features see context across the window border; for an image of exactly
        ``crop`` x ``crop`` the single value equals ``weight(x)``. ``crop`` and ``stride`` must be multiples of
        the coarsest tap stride (32); the backbone's taps must have strides 2, 4, 8, 16, 32.
        """
        coarsest = max(TAP_STRIDES)
        if crop <= 0 or stride <= 0 or crop % coarsest or stride % coarsest:
            raise ValueError(f"crop and stride must be positive multiples of {coarsest}, got {crop} and {stride}")
        h, w = x.shape[-2:]
        if h < crop or w < crop:
            raise ValueError(f"image {h}x{w} is smaller than the {crop}x{crop} window")
        ny, nx = (h - crop) // stride + 1, (w - crop) // stride + 1
        pooled = []
        for blk, t, s in zip(self.blocks, self._taps(x), TAP_STRIDES, strict=True):
            p = F.avg_pool2d(blk(t), kernel_size=crop // s, stride=stride // s)
            pooled.append(p[:, :, :ny, :nx])
        feats = torch.cat(pooled, dim=1).permute(0, 2, 3, 1)  # (B, ny, nx, features)
        tmp = self.cfg.temperature if temperature is None else float(temperature)
        return torch.sigmoid(self._head(feats) * tmp)

