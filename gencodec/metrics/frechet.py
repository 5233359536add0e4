"""Patch Frechet distance on EfficientNet-Lite0 features.

Frechet distance between Gaussians fitted to two feature sets (Dowson & Landau 1982; as used by FID,
Heusel et al. 2017, eq. 6), computed on features of non-overlapping image patches as in the patch-FID
protocol of HiFiC (Mentzer et al. 2020) and MS-ILLM (Muckley et al. 2023). The backbone is
EfficientNet-Lite0, not InceptionV3, so the values are NOT FID and are not comparable to published FIDs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.linalg
import torch

from gencodec.metrics._validate import check_image
from gencodec.metrics.backbone import EfficientNetLite0Features, default_backbone


def frechet_distance(x: np.ndarray, y: np.ndarray, eps: float = 1e-6) -> float:
    """Frechet distance between N(mu_x, S_x) and N(mu_y, S_y) fitted to feature sets x (N, D) and y (M, D).

    d^2 = ||mu_x - mu_y||^2 + Tr(S_x + S_y - 2 (S_x S_y)^(1/2)), with unbiased covariances. Numerical fixes as
    usual: if the matrix square root is not finite, ``eps * I`` is added to both covariances; a negligible
    imaginary part is dropped (a large one raises); a tiny negative result from round-off is clamped to 0.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1]:
        raise ValueError(f"expected (N, D) and (M, D) feature arrays, got {x.shape} and {y.shape}")
    if min(x.shape[0], y.shape[0]) < 2:
        raise ValueError("need at least 2 feature vectors per set to estimate a covariance")
    mu_x, mu_y = x.mean(axis=0), y.mean(axis=0)
    s_x = np.atleast_2d(np.cov(x, rowvar=False))
    s_y = np.atleast_2d(np.cov(y, rowvar=False))
    covmean = scipy.linalg.sqrtm(s_x @ s_y)
    if not np.isfinite(covmean).all():
        offset = np.eye(s_x.shape[0]) * eps
        covmean = scipy.linalg.sqrtm((s_x + offset) @ (s_y + offset))
    if np.iscomplexobj(covmean):
        # only the trace is used: its imaginary part must be round-off
        max_imag = float(np.max(np.abs(np.diagonal(covmean).imag)))
        if max_imag > 1e-3 * max(1.0, float(np.max(np.abs(np.diagonal(covmean).real)))):
            raise ValueError(f"matrix square root has a large imaginary component ({max_imag:g})")
        covmean = covmean.real
    diff = mu_x - mu_y
    value = float(diff @ diff + np.trace(s_x) + np.trace(s_y) - 2.0 * np.trace(covmean))
    return max(value, 0.0)


def _patches(img: np.ndarray, patch: int) -> np.ndarray:
    """Non-overlapping patch x patch crops from the top-left corner (remainder dropped): (n, patch, patch, 3)."""
    ny, nx = img.shape[0] // patch, img.shape[1] // patch
    crops = img[: ny * patch, : nx * patch].reshape(ny, patch, nx, patch, 3).swapaxes(1, 2)
    return crops.reshape(ny * nx, patch, patch, 3)


def patch_features(
    images: Sequence[np.ndarray],
    patch: int = 64,
    backbone: EfficientNetLite0Features | None = None,
    batch_size: int = 64,
) -> np.ndarray:
    """Global-average-pooled last-tap EfficientNet-Lite0 features (320-d) of all non-overlapping patches.

    Each uint8 HxWx3 image is cut into floor(H/patch) * floor(W/patch) crops (HiFiC/MS-ILLM use 256-px crops;
    the size is a parameter here, default 64). Returns a float64 array of shape (N_patches, 320).
    """
    if patch < 1:
        raise ValueError(f"patch must be positive, got {patch}")
    net = backbone if backbone is not None else default_backbone()
    crops = []
    for i, img in enumerate(images):
        check_image(img, f"images[{i}]")
        crops.append(_patches(img, patch))
    all_crops = np.concatenate(crops, axis=0) if crops else np.zeros((0, patch, patch, 3), np.uint8)
    feats = []
    with torch.no_grad():
        for start in range(0, len(all_crops), batch_size):
            batch = torch.from_numpy(np.ascontiguousarray(all_crops[start : start + batch_size]))
            batch = batch.permute(0, 3, 1, 2).to(torch.float32) / 255.0
            feats.append(net(batch.to(net.device))[-1].mean(dim=(2, 3)).to(torch.float64).cpu().numpy())
    if not feats:
        return np.zeros((0, net.out_channels), np.float64)
    return np.concatenate(feats, axis=0)


def patch_frechet_distance(
    refs: Sequence[np.ndarray],
    recons: Sequence[np.ndarray],
    patch: int = 64,
    backbone: EfficientNetLite0Features | None = None,
) -> dict[str, Any]:
    """Patch Frechet distance (EfficientNet-Lite0 features, not FID) between references and reconstructions.

    ``refs`` and ``recons`` are paired uint8 HxWx3 images. Returns ``{"value", "n_patches", "feature_dim",
    "warning"}``; ``warning`` is None unless n_patches < feature_dim, in which case the covariance estimates
    are rank-deficient and the value is unreliable (the value is still returned).
    """
    if len(refs) != len(recons):
        raise ValueError(f"got {len(refs)} references but {len(recons)} reconstructions")
    for i, (r, c) in enumerate(zip(refs, recons, strict=True)):
        if np.shape(r) != np.shape(c):
            raise ValueError(f"pair {i} differs in shape: {np.shape(r)} vs {np.shape(c)}")
    net = backbone if backbone is not None else default_backbone()
    f_ref = patch_features(refs, patch, net)
    f_rec = patch_features(recons, patch, net)
    n, dim = f_ref.shape
    if n < 2:
        raise ValueError(f"only {n} patch(es) of {patch}x{patch}: images too small or too few")
    warning = None
    if n < dim:
        warning = f"only {n} patches for {dim}-d features: covariance is rank-deficient, value unreliable"
    return {"value": frechet_distance(f_ref, f_rec), "n_patches": n, "feature_dim": dim, "warning": warning}
