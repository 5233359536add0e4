"""Discriminators for the adversarial terms.

``PatchDiscriminator`` (Isola et al. 2017, as used by VQGAN) scores patches
real/fake. ``NonBinaryDiscriminator`` is the MS-ILLM variant (Muckley et al.
2023; seed 000 eq. 4): at each position of a x16-downsampled grid it
classifies the input into one of K codebook indices of the *real* image's VQ
latent, or the extra class K meaning "fake". Both share one trunk design.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm


def _trunk(channels: tuple[int, ...]) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Conv2d(3, channels[0], 4, stride=2, padding=1), nn.LeakyReLU(0.2, inplace=True)]
    for a, b in zip(channels[:-1], channels[1:]):
        layers += [spectral_norm(nn.Conv2d(a, b, 4, stride=2, padding=1)), nn.LeakyReLU(0.2, inplace=True)]
    return nn.Sequential(*layers)


class PatchDiscriminator(nn.Module):
    """x16 patch discriminator with one real/fake logit per position (hinge loss)."""

    def __init__(self, channels: tuple[int, ...] = (64, 128, 256, 256)) -> None:
        super().__init__()
        self.trunk = _trunk(channels)
        self.head = nn.Conv2d(channels[-1], 1, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.trunk(x * 2 - 1))


class NonBinaryDiscriminator(nn.Module):
    """x16 discriminator with K+1 logits per position (K codebook classes + fake)."""

    def __init__(self, num_codes: int, channels: tuple[int, ...] = (64, 128, 256, 256)) -> None:
        super().__init__()
        self.num_codes = num_codes
        self.trunk = _trunk(channels)
        self.head = nn.Conv2d(channels[-1], num_codes + 1, 1)

    @property
    def fake_class(self) -> int:
        return self.num_codes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.trunk(x * 2 - 1))
