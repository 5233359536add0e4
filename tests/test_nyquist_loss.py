"""The Nyquist-pattern loss sees a 2-pixel grid added to an image and ignores everything else."""

from __future__ import annotations

import torch

from gencodec.losses.nyquist import nyquist_amplitude, nyquist_loss_per_sample


def _smooth(b: int = 2, size: int = 32) -> torch.Tensor:
    yy, xx = torch.meshgrid(torch.linspace(0, 1, size), torch.linspace(0, 1, size), indexing="ij")
    return (0.3 + 0.4 * torch.sin(3 * yy + 2 * xx)).expand(b, 3, size, size).clone()


def test_grid_patterns_are_measured_at_their_amplitude() -> None:
    x = _smooth()
    i = torch.arange(32).view(-1, 1) % 2
    j = torch.arange(32).view(1, -1) % 2
    for k, pattern in enumerate(((1 - 2 * i).expand(32, 32), (1 - 2 * j).expand(32, 32), (1 - 2 * ((i + j) % 2)))):
        x_hat = x + 0.01 * pattern.float()
        amp = nyquist_amplitude(x_hat) - nyquist_amplitude(x)
        assert torch.allclose(amp[:, k], torch.full_like(amp[:, k], 0.01), atol=1e-6)  # its own component
        others = [m for m in range(3) if m != k]
        assert amp[:, others].abs().max() < 1e-6  # and no other
        assert torch.allclose(nyquist_loss_per_sample(x_hat, x), torch.full((2,), 0.01 / 3), atol=1e-6)


def test_smooth_errors_cost_nothing_and_gradients_flow() -> None:
    x = _smooth()
    x_hat = (x * 0.8 + 0.15).requires_grad_(True)  # a large error with no energy at Nyquist
    loss = nyquist_loss_per_sample(x_hat, x)
    assert float(loss.detach().max()) < 2e-4 < float((x_hat.detach() - x).abs().mean())
    grid = x + 0.02 * (1 - 2 * (torch.arange(32) % 2)).float().view(1, 1, 1, -1)
    grid.requires_grad_(True)
    nyquist_loss_per_sample(grid, x).sum().backward()
    assert grid.grad.abs().sum() > 0
