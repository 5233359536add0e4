"""Frozen EfficientNet-Lite0 feature extractor (Tan & Le 2019, "EfficientNet: Rethinking Model Scaling for
Convolutional Neural Networks", ICML; Lite variant: ReLU6, no squeeze-excitation, unscaled stem/head).

Own re-implementation of the stem and the 16 MBConv blocks (MobileNetV2 inverted residuals, Sandler et al.
2018). Weights are the ImageNet ones converted to safetensors by ``scripts/convert_efficientnet_lite0.py``;
no pickle is ever loaded here.
"""

from __future__ import annotations

import functools
import hashlib
import math
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from torch import nn

WEIGHTS_FILENAME = "efficientnet_lite0_features.safetensors"
DEFAULT_WEIGHTS_PATH = Path(__file__).resolve().parents[2] / "weights" / WEIGHTS_FILENAME
WEIGHTS_SHA256 = "d6ad13f8d42d3987d8f59d314f9cdfc9bb16ef11b48f8da2d1c38c9b988ddca1"

BN_EPS = 1e-3  # TensorFlow default used when the Lite models were trained
STEM_CHANNELS = 32
# Lite0 stages: (repeats, kernel, stride, expand ratio, in channels, out channels).
LITE0_STAGES: tuple[tuple[int, int, int, int, int, int], ...] = (
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
)
# The last stage at each output stride 2, 4, 8, 16, 32 is tapped.
TAP_STAGES = (0, 1, 2, 4, 6)
TAP_STRIDES = (2, 4, 8, 16, 32)
TAP_CHANNELS = tuple(LITE0_STAGES[s][5] for s in TAP_STAGES)  # (16, 24, 40, 112, 320)


class WeightsError(RuntimeError):
    """The backbone weights file is missing or is not the expected one."""


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _same_pad(x: torch.Tensor, kernel: int, stride: int) -> torch.Tensor:
    """TensorFlow 'SAME' padding: output size ceil(n / stride), extra pixel on the bottom/right."""
    pads = []
    for n in (x.shape[-1], x.shape[-2]):  # F.pad order: last dim first
        total = max((math.ceil(n / stride) - 1) * stride + kernel - n, 0)
        pads += [total // 2, total - total // 2]
    return F.pad(x, pads)


def _tensor_holder(**tensors: torch.Tensor) -> nn.Module:
    """A bare module holding the given tensors as non-persistent buffers."""
    holder = nn.Module()
    for name, t in tensors.items():
        holder.register_buffer(name, t, persistent=False)
    return holder


class ConvBNAct(nn.Module):
    """Bias-free conv + inference BatchNorm (+ optional ReLU6). Tensors are non-persistent buffers."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1, act: bool = True) -> None:
        super().__init__()
        self.kernel, self.stride, self.groups, self.act = kernel, stride, groups, act
        self.conv = _tensor_holder(weight=torch.zeros(cout, cin // groups, kernel, kernel))
        ones, zeros = torch.ones(cout), torch.zeros(cout)
        self.bn = _tensor_holder(weight=ones, bias=zeros.clone(), running_mean=zeros, running_var=ones.clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """conv -> BN (running statistics, eps 1e-3) -> ReLU6."""
        w = self.conv.weight
        if self.stride == 1:
            x = F.conv2d(x, w, padding=self.kernel // 2, groups=self.groups)
        else:
            x = F.conv2d(_same_pad(x, self.kernel, self.stride), w, stride=self.stride, groups=self.groups)
        bn = self.bn
        x = F.batch_norm(x, bn.running_mean, bn.running_var, bn.weight, bn.bias, training=False, eps=BN_EPS)
        return F.relu6(x) if self.act else x


class MBConv(nn.Module):
    """Inverted residual block: 1x1 expand, kxk depthwise, 1x1 linear projection, identity skip if shapes allow."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, expand: int) -> None:
        super().__init__()
        mid = cin * expand
        self.expand = ConvBNAct(cin, mid, 1) if expand != 1 else None
        self.depthwise = ConvBNAct(mid, mid, kernel, stride, groups=mid)
        self.project = ConvBNAct(mid, cout, 1, act=False)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Block output (drop-connect is a training-time op of the original and is absent here)."""
        y = self.expand(x) if self.expand is not None else x
        y = self.project(self.depthwise(y))
        return x + y if self.residual else y


class EfficientNetLite0Features(nn.Module):
    """Frozen EfficientNet-Lite0 feature extractor with 5 taps (strides 2, 4, 8, 16, 32).

    Input: (B, 3, H, W) RGB in [0, 1], mapped internally to [-1, 1]. Output: list of 5 feature maps with
    16, 24, 40, 112, 320 channels, taken at the ends of stages 1, 2, 3, 5 and 7 (the last stage at each
    stride); the last tap is the output of the final MBConv block (no head conv).

    All tensors are non-persistent buffers: the module has no parameters (nothing to optimise, nothing in
    a parent's ``state_dict``) but is differentiable w.r.t. its input, and it stays in eval mode.
    ``weights_path`` defaults to ``weights/efficientnet_lite0_features.safetensors`` at the repository root;
    its sha256 must equal ``expected_sha256`` or :class:`WeightsError` is raised before it is loaded.
    """

    def __init__(self, weights_path: str | Path | None = None, expected_sha256: str = WEIGHTS_SHA256) -> None:
        super().__init__()
        self.stem = ConvBNAct(3, STEM_CHANNELS, 3, stride=2)
        blocks: list[nn.Module] = []
        self.tap_blocks: list[int] = []
        for repeats, kernel, stride, expand, cin, cout in LITE0_STAGES:
            for r in range(repeats):
                blocks.append(MBConv(cin if r == 0 else cout, cout, kernel, stride if r == 0 else 1, expand))
            self.tap_blocks.append(len(blocks) - 1)
        self.tap_blocks = [self.tap_blocks[s] for s in TAP_STAGES]
        self.blocks = nn.ModuleList(blocks)
        self.load_weights(DEFAULT_WEIGHTS_PATH if weights_path is None else Path(weights_path), expected_sha256)
        self.train(False)

    def load_weights(self, path: str | Path, expected_sha256: str = WEIGHTS_SHA256) -> None:
        """Verify ``path``'s sha256, then copy its tensors into the buffers (exact key and shape match)."""
        path = Path(path)
        if not path.is_file():
            raise WeightsError(
                f"EfficientNet-Lite0 weights not found at {path}; create them with "
                "`python scripts/convert_efficientnet_lite0.py` or pass weights_path="
            )
        digest = sha256_file(path)
        if digest != expected_sha256:
            raise WeightsError(f"sha256 mismatch for {path}: got {digest}, expected {expected_sha256}")
        tensors = load_file(str(path))
        buffers = dict(self.named_buffers())
        if set(tensors) != set(buffers):
            missing, extra = sorted(set(buffers) - set(tensors)), sorted(set(tensors) - set(buffers))
            raise WeightsError(f"weights in {path} do not match the model: missing {missing[:5]}, extra {extra[:5]}")
        with torch.no_grad():
            for name, buf in buffers.items():
                if tensors[name].shape != buf.shape:
                    raise WeightsError(f"{name}: shape {tuple(tensors[name].shape)} != {tuple(buf.shape)}")
                buf.copy_(tensors[name])

    @property
    def tap_channels(self) -> tuple[int, ...]:
        """Channels of the 5 taps: (16, 24, 40, 112, 320)."""
        return TAP_CHANNELS

    @property
    def device(self) -> torch.device:
        """Device holding the weights."""
        return self.stem.conv.weight.device

    @property
    def out_channels(self) -> int:
        """Channels of the last tap (320)."""
        return TAP_CHANNELS[-1]

    def train(self, mode: bool = True) -> EfficientNetLite0Features:
        """Ignore ``mode``: the backbone is always in eval mode (inference BatchNorm)."""
        return super().train(False)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Return the 5 tapped feature maps for RGB input in [0, 1]."""
        x = self.stem(x.to(self.stem.conv.weight.dtype) * 2.0 - 1.0)
        taps = []
        for i, block in enumerate(self.blocks):
            x = block(x)
            if i in self.tap_blocks:
                taps.append(x)
        return taps


@functools.lru_cache(maxsize=4)
def _cached_backbone(path: str) -> EfficientNetLite0Features:
    return EfficientNetLite0Features(path)


def default_backbone(weights_path: str | Path | None = None) -> EfficientNetLite0Features:
    """Shared (cached per path) backbone instance for the numpy metrics."""
    return _cached_backbone(str(Path(weights_path or DEFAULT_WEIGHTS_PATH).resolve()))
