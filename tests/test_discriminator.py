"""The non-binary discriminator (seed 000 eq. 4) with and without the VQ code prior."""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from gencodec.losses.adversarial import nonbinary_d_loss, nonbinary_g_loss
from gencodec.nn.discriminator import NonBinaryDiscriminator
from gencodec.nn.quantizers import CosineVectorQuantizer


def _similarity(k: int = 32) -> tuple[torch.Tensor, torch.Tensor, CosineVectorQuantizer]:
    torch.manual_seed(0)
    vq = CosineVectorQuantizer(k, 8)
    latent = torch.randn(2, 8, 4, 4)
    _, codes = vq.lookup(latent)
    return vq.logits(latent), codes, vq


def test_code_prior_makes_the_real_code_the_top_class_from_the_start() -> None:
    sim, codes, _ = _similarity()
    x = torch.rand(2, 3, 64, 64)
    with_prior = NonBinaryDiscriminator(32, channels=(8, 8, 8, 8), code_prior=True)(x, sim)
    assert with_prior.shape == (2, 33, 4, 4)
    assert torch.equal(with_prior[:, :32].argmax(dim=1), codes)  # untrained trunk, yet the real code wins
    torch.manual_seed(1)
    plain = NonBinaryDiscriminator(32, channels=(8, 8, 8, 8))(x)
    assert F.cross_entropy(with_prior, codes) < F.cross_entropy(plain, codes) - 0.5
    loss = nonbinary_d_loss(with_prior, with_prior, codes)
    assert torch.isfinite(loss)


def test_code_prior_passes_the_adversarial_gradient_to_the_similarities() -> None:
    sim, codes, _ = _similarity()
    wrong = torch.roll(sim, 1, dims=1).detach().requires_grad_(True)  # a reconstruction with the wrong codes
    d = NonBinaryDiscriminator(32, channels=(8, 8, 8, 8), code_prior=True)
    loss = nonbinary_g_loss(d(torch.rand(2, 3, 64, 64), wrong), codes)
    loss.backward()
    # gradient descent raises the similarity to the real code at every position
    assert bool((wrong.grad.gather(1, codes[:, None]) < 0).all())


def test_code_prior_inputs_are_checked() -> None:
    sim, _, _ = _similarity()
    x = torch.rand(2, 3, 64, 64)
    with pytest.raises(ValueError, match="exactly when"):
        NonBinaryDiscriminator(32, channels=(8, 8, 8, 8), code_prior=True)(x)
    with pytest.raises(ValueError, match="exactly when"):
        NonBinaryDiscriminator(32, channels=(8, 8, 8, 8))(x, sim)
    with pytest.raises(ValueError, match="do not match"):
        NonBinaryDiscriminator(32, channels=(8, 8, 8, 8), code_prior=True)(x, sim[:, :16])
    assert "log_prior_scale" not in NonBinaryDiscriminator(32, channels=(8, 8, 8, 8)).state_dict()
