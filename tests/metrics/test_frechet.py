"""Frechet distance and patch Frechet distance tests."""

from __future__ import annotations

import numpy as np
import pytest

from gencodec.metrics import frechet_distance, patch_features, patch_frechet_distance
from gencodec.metrics.backbone import EfficientNetLite0Features
from gencodec.metrics.frechet import _patches

from .images import add_noise, blur, synthetic_image


@pytest.fixture(scope="module")
def feats() -> np.ndarray:
    rng = np.random.default_rng(0)
    a = rng.normal(size=(500, 6)) @ rng.normal(size=(6, 6))  # correlated features
    return a - a.mean(axis=0)  # zero sample mean, so mean(2 * a + shift) = shift


def test_identical_sets_zero(feats: np.ndarray) -> None:
    assert frechet_distance(feats, feats.copy()) == pytest.approx(0.0, abs=1e-8)


def test_shift_gives_squared_norm(feats: np.ndarray) -> None:
    shift = np.array([1.0, -2.0, 0.5, 0.0, 3.0, 1.0])
    # same covariance: d^2 = ||shift||^2 exactly
    assert frechet_distance(feats, feats + shift) == pytest.approx(float(shift @ shift), rel=1e-7)
    # covariance scaled by 4: sqrt(S 4S) = 2S, so d^2 = ||shift||^2 + tr(S) + 4 tr(S) - 4 tr(S)
    tr = float(np.trace(np.cov(feats, rowvar=False)))
    assert frechet_distance(feats, 2 * feats + shift) == pytest.approx(float(shift @ shift) + tr, rel=1e-7)


def test_sampled_gaussians_analytic() -> None:
    rng = np.random.default_rng(1)
    mu = np.array([0.5, -0.5, 1.0])
    x = rng.normal(size=(20000, 3))
    y = mu + 2.0 * rng.normal(size=(20000, 3))
    # N(0, I) vs N(mu, 4I): ||mu||^2 + 3 * (1 + 4 - 2 * 2)
    assert frechet_distance(x, y) == pytest.approx(float(mu @ mu) + 3.0, abs=0.1)


def test_symmetric_and_rank_deficient(feats: np.ndarray) -> None:
    other = feats[::-1] * 1.5 + 0.3
    assert frechet_distance(feats, other) == pytest.approx(frechet_distance(other, feats), rel=1e-6)
    few = feats[:4]  # 4 samples in 6-d: singular covariances still give a finite value
    value = frechet_distance(few, few + 0.1)
    assert np.isfinite(value) and value >= 0.0


def test_bad_shapes_raise(feats: np.ndarray) -> None:
    with pytest.raises(ValueError):
        frechet_distance(feats, feats[:, :3])
    with pytest.raises(ValueError):
        frechet_distance(feats[:1], feats[:1])


def test_patch_cutting() -> None:
    img = synthetic_image(130, 200)
    crops = _patches(img, 64)
    assert crops.shape == (2 * 3, 64, 64, 3)
    np.testing.assert_array_equal(crops[4], img[64:128, 64:128])  # row 1, column 1


def test_patch_features(backbone: EfficientNetLite0Features) -> None:
    imgs = [synthetic_image(130, 200), synthetic_image(64, 64, seed=3), synthetic_image(40, 300, seed=4)]
    f = patch_features(imgs, patch=64, backbone=backbone)
    assert f.shape == (6 + 1 + 0, backbone.out_channels) == (7, 320)
    assert np.isfinite(f).all()
    single = patch_features([imgs[1]], patch=64, backbone=backbone)
    np.testing.assert_allclose(single[0], f[6], rtol=1e-5, atol=3e-5)  # batched vs single conv: measured max 1.1e-5 abs


def test_patch_frechet(backbone: EfficientNetLite0Features) -> None:
    refs = [synthetic_image(128, 128, seed=s) for s in range(3)]
    same = patch_frechet_distance(refs, [r.copy() for r in refs], patch=32, backbone=backbone)
    assert same["value"] == pytest.approx(0.0, abs=1e-6)
    assert same["n_patches"] == 48 and same["feature_dim"] == 320
    assert same["warning"] is not None and "48 patches" in same["warning"]
    noisy = [
        patch_frechet_distance(refs, [add_noise(r, s) for r in refs], patch=32, backbone=backbone)["value"]
        for s in (3, 30)
    ]
    assert 0.0 < noisy[0] < noisy[1]
    assert patch_frechet_distance(refs, [blur(r, 2.5) for r in refs], patch=32, backbone=backbone)["value"] > 0.0


def test_patch_frechet_no_warning_with_enough_patches(backbone: EfficientNetLite0Features) -> None:
    refs = [synthetic_image(160, 128, seed=0)]
    out = patch_frechet_distance(refs, [add_noise(refs[0], 5)], patch=8, backbone=backbone)  # 320 patches
    assert out["n_patches"] == 320 == out["feature_dim"] and out["warning"] is None
    assert out["value"] > 0.0


def test_patch_frechet_input_errors(backbone: EfficientNetLite0Features) -> None:
    refs = [synthetic_image(128, 128)]
    with pytest.raises(ValueError):
        patch_frechet_distance(refs, [], backbone=backbone)
    with pytest.raises(ValueError):
        patch_frechet_distance(refs, [synthetic_image(128, 64)], backbone=backbone)
    with pytest.raises(ValueError, match="patch"):
        patch_frechet_distance([synthetic_image(32, 32)], [synthetic_image(32, 32)], patch=64, backbone=backbone)
