"""Discriminators for the adversarial terms.

``PatchDiscriminator`` (Isola et al. 2017, as used by VQGAN) scores patches
real/fake. ``NonBinaryDiscriminator`` is the MS-ILLM variant (Muckley et al.
2023; seed 000 eq. 4): at each position of a x16-downsampled grid it
classifies the input into one of K codebook indices of the *real* image's VQ
latent, or the extra class K meaning "fake". Both share one trunk design.

With ``code_prior`` the non-binary discriminator also takes the frozen VQ
encoder's code similarities of its input, s_k = cos(E(x), c_k), and adds
scale * (s_k - max_j s_j) to the K class logits (a projected discriminator in
the sense of Sauer et al. 2021): the real image's code is the top class from
the first step, so the trunk only has to learn "fake", and L_adv pulls the
reconstruction's codes towards the real ones at once (a 4097-way classifier
trained from scratch stayed near uniform over the few hundred steps run here).
"""

from __future__ import annotations

import math

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

    def __init__(self, num_codes: int, channels: tuple[int, ...] = (64, 128, 256, 256), code_prior: bool = False,
                 prior_scale: float = 30.0) -> None:
        super().__init__()
        self.num_codes = num_codes
        self.trunk = _trunk(channels)
        self.head = nn.Conv2d(channels[-1], num_codes + 1, 1)
        self.log_prior_scale = nn.Parameter(torch.tensor(math.log(prior_scale))) if code_prior else None

    @property
    def fake_class(self) -> int:
        return self.num_codes

    def forward(self, x: torch.Tensor, similarity: torch.Tensor | None = None) -> torch.Tensor:
        """(B, K+1, H/16, W/16) logits; ``similarity`` (B, K, H/16, W/16): the VQ code similarities of x,
        required with ``code_prior`` and refused without."""
        logits = self.head(self.trunk(x * 2 - 1))
        if (similarity is None) != (self.log_prior_scale is None):
            raise ValueError("code similarities are needed exactly when the discriminator has a code prior")
        if similarity is None:
            return logits
        if similarity.shape[1] != self.num_codes or similarity.shape[2:] != logits.shape[2:]:
            raise ValueError(f"similarities {tuple(similarity.shape)} do not match logits {tuple(logits.shape)}")
        s = similarity.float()
        prior = self.log_prior_scale.exp() * (s - s.amax(dim=1, keepdim=True).detach())
        return torch.cat([logits[:, :-1].float() + prior, logits[:, -1:].float()], dim=1)
