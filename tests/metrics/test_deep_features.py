"""EffNet-Lite0 feature distance tests."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gencodec.metrics import DeepFeatureLoss, deep_feature_distance
from gencodec.metrics.backbone import EfficientNetLite0Features

from .images import add_noise, blur, synthetic_image


@pytest.fixture(scope="module")
def img() -> np.ndarray:
    return synthetic_image(64, 80)


def test_identity_is_zero(img: np.ndarray, backbone: EfficientNetLite0Features) -> None:
    assert deep_feature_distance(img, img.copy(), backbone) == 0.0


def test_symmetric(img: np.ndarray, backbone: EfficientNetLite0Features) -> None:
    noisy = add_noise(img, 10)
    assert deep_feature_distance(img, noisy, backbone) == pytest.approx(
        deep_feature_distance(noisy, img, backbone), rel=1e-5
    )


def test_monotone_in_noise_and_blur(img: np.ndarray, backbone: EfficientNetLite0Features) -> None:
    noise = [deep_feature_distance(img, add_noise(img, s), backbone) for s in (3, 12, 40)]
    assert 0.0 < noise[0] < noise[1] < noise[2]
    blurred = [deep_feature_distance(img, blur(img, s), backbone) for s in (0.7, 1.5, 3.0)]
    assert 0.0 < blurred[0] < blurred[1] < blurred[2]


def test_bounded(img: np.ndarray, backbone: EfficientNetLite0Features) -> None:
    # each tap term is a mean of ||n_a - n_b||^2 with unit vectors, hence in [0, 4]
    other = synthetic_image(64, 80, seed=7)
    assert 0.0 < deep_feature_distance(img, other, backbone) <= 4.0


def test_default_backbone_used(img: np.ndarray, backbone: EfficientNetLite0Features) -> None:
    noisy = add_noise(img, 10)
    assert deep_feature_distance(img, noisy) == pytest.approx(deep_feature_distance(img, noisy, backbone), rel=1e-6)


def test_loss_matches_metric_and_has_gradients(img: np.ndarray, backbone: EfficientNetLite0Features) -> None:
    imgs = [img, synthetic_image(64, 80, seed=2)]
    recs = [add_noise(imgs[0], 8), blur(imgs[1], 1.2)]

    def batch(arrs: list[np.ndarray]) -> torch.Tensor:
        return torch.from_numpy(np.stack(arrs)).permute(0, 3, 1, 2).float() / 255.0

    loss = DeepFeatureLoss(backbone=backbone, reduction="none")
    assert list(loss.parameters()) == [] and loss.state_dict() == {}
    x, y = batch(imgs), batch(recs).requires_grad_(True)
    d = loss(x, y)
    assert d.shape == (2,)
    expected = [deep_feature_distance(a, b, backbone) for a, b in zip(imgs, recs, strict=True)]
    torch.testing.assert_close(d.detach(), torch.tensor(expected, dtype=d.dtype), rtol=1e-5, atol=1e-7)
    mean_loss = DeepFeatureLoss(backbone=backbone)(x, y)
    assert mean_loss.ndim == 0 and mean_loss.detach().item() == pytest.approx(float(d.detach().mean()), rel=1e-6)
    mean_loss.backward()
    assert y.grad is not None and y.grad.abs().sum() > 0


def test_shape_mismatch_raises(img: np.ndarray, backbone: EfficientNetLite0Features) -> None:
    with pytest.raises(ValueError):
        deep_feature_distance(img, img[:32], backbone)
    with pytest.raises(ValueError):
        DeepFeatureLoss(backbone=backbone)(torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 9))
