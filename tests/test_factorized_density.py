"""Ballé's factorized density: a proper distribution over the integer bins, and unlike the categorical
table's noisy rate it learns to charge a switched-off channel (z = 0 plus uniform noise) ~0 bits."""

from __future__ import annotations

import torch

from gencodec.nn.bottleneck import CategoricalPrior
from gencodec.nn.factorized_density import FactorizedDensity


def test_bin_masses_are_a_distribution_and_shapes_round_trip() -> None:
    torch.manual_seed(0)
    density = FactorizedDensity(3)
    with torch.no_grad():  # a random monotone transform, not the initial one
        for p in density.parameters():
            p.add_(torch.randn_like(p))
    grid = torch.arange(-200, 201, dtype=torch.float32).view(1, 1, -1, 1).expand(2, 3, -1, 5).contiguous()
    like = density(grid)
    assert like.shape == grid.shape
    assert torch.all(like > 0) and torch.all(like <= 1)
    assert torch.allclose(like[0, :, :, 0].sum(dim=1), torch.ones(3), atol=1e-3)  # bins tile the line
    assert torch.equal(like[0], like[1]) and torch.equal(like[..., 0], like[..., 4])  # per channel only


def _fit(model: torch.nn.Module, rate, z: torch.Tensor, steps: int = 400) -> None:
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(steps):
        bits = rate(z + torch.empty_like(z).uniform_(-0.5, 0.5))
        opt.zero_grad()
        bits.backward()
        opt.step()


def test_switched_off_channel_costs_almost_nothing_under_noise() -> None:
    torch.manual_seed(0)
    z = torch.zeros(4, 2, 8, 8)
    z[:, 1] = torch.randint(-3, 4, (4, 8, 8)).float()  # channel 1 carries ~2.8 bits per position
    density, table = FactorizedDensity(2), CategoricalPrior(2, half_range=7)

    def per_channel(likelihood: torch.Tensor) -> torch.Tensor:
        return -torch.log2(likelihood).mean(dim=(0, 2, 3))

    _fit(density, lambda v: per_channel(density(v)).sum(), z)
    _fit(table, lambda v: per_channel(table(v)[1]).sum(), z)
    with torch.no_grad():
        noisy = z + torch.empty_like(z).uniform_(-0.5, 0.5)
        d_bits, t_bits = per_channel(density(noisy)), per_channel(table(noisy)[1])
    assert d_bits[0] < 0.05 < 0.3 < t_bits[0]  # the table's interpolated log-probabilities cannot do this
    assert 2.5 < d_bits[1] < 3.3  # and the active channel is charged about its entropy, log2(7) = 2.81
