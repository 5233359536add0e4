"""What every registered codec provides.

A codec turns an image into a list of byte sections at a rate point
(0..255, larger = more bits) and back. Encoding is split in two so rate
control can try many rate points on one analysis:

    a = codec.analyze(img)           # transforms, once per image
    enc = codec.code(a, rate)        # quantize + entropy code, cheap
    img_hat = codec.reconstruct(a, enc)   # the decoder's exact output
    img_hat == codec.decode(height, width, rate, enc.sections)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import torch
from torch.nn import functional as F

from gencodec.models.weights import WeightsEntry


@dataclass
class RefineProblem:
    """What encoder-side refinement (gencodec.refine) needs from a codec with a scalar latent y.

    All tensors float32 on the CPU. y0 is the unscaled latent, mu/sigma its prior
    (fixed hyper-latent, unscaled), gain(t) the differentiable rate gain at a
    continuous rate index t (t0 = the starting rate point), synthesize(y_hat)
    the differentiable decoder returning the padded image in [0, 1].
    """

    y0: torch.Tensor
    mu: torch.Tensor
    sigma: torch.Tensor
    t0: float
    n_rates: int
    gain: Any
    synthesize: Any
    height: int
    width: int


@dataclass
class Encoded:
    rate: int
    sections: list[bytes]
    estimated_bits: dict[str, float] = field(default_factory=dict)
    state: Any = None  # codec-private decoded latents, for reconstruct()


class Codec(Protocol):
    model_id: str
    weights: WeightsEntry
    section_names: tuple[str, ...]

    def set_device(self, device: torch.device) -> None: ...
    def analyze(self, img: np.ndarray) -> Any: ...
    def code(self, analysis: Any, rate: int, exact: bool = True) -> Encoded: ...
    def reconstruct(self, analysis: Any, encoded: Encoded) -> np.ndarray: ...
    def decode(self, height: int, width: int, rate: int, sections: list[bytes]) -> np.ndarray: ...


def to_tensor(img: np.ndarray) -> torch.Tensor:
    """uint8 HxWx3 -> float32 (1, 3, H, W) in [0, 1]."""
    return torch.from_numpy(np.array(img, dtype=np.uint8, copy=True)).permute(2, 0, 1).unsqueeze(0).float().div(255.0)


def to_uint8(x: torch.Tensor, height: int, width: int) -> np.ndarray:
    """(1, 3, H', W') in [0, 1] -> uint8 HxWx3, cropped to the original size."""
    x = x[0, :, :height, :width].detach().to(device="cpu", dtype=torch.float64)
    return (x.clamp(0, 1) * 255.0).round().to(torch.uint8).permute(1, 2, 0).contiguous().numpy()


def pad_to_multiple(x: torch.Tensor, multiple: int) -> torch.Tensor:
    """Replicate-pad bottom/right so both sides are multiples of ``multiple`` (never resize)."""
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph == 0 and pw == 0:
        return x
    return F.pad(x, (0, pw, 0, ph), mode="replicate")


def latent_size(height: int, width: int, factor: int, multiple: int) -> tuple[int, int]:
    """Latent grid size for an image padded to ``multiple`` and downsampled by ``factor``."""
    return (-(-height // multiple) * multiple // factor, -(-width // multiple) * multiple // factor)
