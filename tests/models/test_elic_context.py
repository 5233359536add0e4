"""The ELIC spatial-channel context model: masks, groups, and the training pass."""

from __future__ import annotations

import pytest
import torch

from gencodec.nn.elic_context import ElicContext, checkerboard, group_bounds


def _randomize(ctx: ElicContext) -> None:
    with torch.no_grad():
        for agg in ctx.aggregate:
            torch.nn.init.normal_(agg[-1].weight, std=0.2)


def test_checkerboard_and_groups() -> None:
    a = checkerboard(3, 4)
    assert a.tolist() == [[True, False, True, False], [False, True, False, True], [True, False, True, False]]
    assert group_bounds((2, 2, 4)) == [(0, 2), (2, 4), (4, 8)]
    with pytest.raises(ValueError, match="sum to M"):
        ElicContext(8, (2, 2))


def test_untrained_context_is_the_plain_hyperprior() -> None:
    torch.manual_seed(0)
    ctx = ElicContext(8, (2, 2, 4), ctx_hidden=8, param_hidden=8)
    hyper = torch.randn(1, 16, 4, 6)
    mu, sigma = ctx.prior(2, hyper, torch.randn(1, 4, 4, 6), torch.randn(1, 4, 4, 6))
    assert torch.equal(mu, hyper[:, 4:8])
    assert torch.allclose(sigma, hyper[:, 12:16].clamp(-6, 8).exp())


def test_anchor_priors_ignore_the_group_and_non_anchors_use_only_anchors() -> None:
    """The prior at an anchor must not depend on any value of its group; at a non-anchor only on the
    group's anchors (the decoder has nothing else)."""
    torch.manual_seed(1)
    ctx = ElicContext(8, (2, 2, 4), ctx_hidden=8, param_hidden=8)
    _randomize(ctx)
    hyper, prev = torch.randn(1, 16, 5, 5), torch.randn(1, 4, 5, 5)
    anchor = checkerboard(5, 5)
    y = torch.randn(1, 4, 5, 5)
    mu1, _ = ctx.prior(2, hyper, prev, y * anchor)
    mu2, _ = ctx.prior(2, hyper, prev, (y + torch.randn_like(y) * ~anchor) * anchor)  # non-anchors changed: masked
    assert torch.equal(mu1, mu2)
    mu3, _ = ctx.prior(2, hyper, prev, (y + 1.0) * anchor)
    assert not torch.equal(mu1[..., ~anchor], mu3[..., ~anchor])  # the spatial context is used
    mu4, _ = ctx.prior(2, hyper, prev + 1.0, y * anchor)
    assert not torch.equal(mu1, mu4)  # so is the channel context


def test_training_pass_shapes_and_gradients() -> None:
    torch.manual_seed(2)
    ctx = ElicContext(8, (2, 2, 4), ctx_hidden=8, param_hidden=8)
    _randomize(ctx)
    y = torch.randn(2, 8, 4, 4, requires_grad=True)
    hyper = torch.randn(2, 16, 4, 4, requires_grad=True)
    out = ctx(y, hyper, torch.full((2, 8, 1, 1), 3.0))
    assert out["y_hat"].shape == y.shape
    assert ((out["likelihood"] > 0) & (out["likelihood"] <= 1)).all()
    (-out["likelihood"].log2().sum() + out["y_hat"].square().sum()).backward()
    assert y.grad is not None and hyper.grad is not None
    assert all(p.grad is not None for p in ctx.aggregate[2].parameters())
