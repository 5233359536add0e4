"""Multi-scale SSIM (Wang, Simoncelli & Bovik 2003, "Multi-scale structural similarity for image quality
assessment"), built on SSIM (Wang et al. 2004, IEEE TIP, eqs. 6-13)."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from gencodec.metrics._validate import check_pair

MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
WIN_SIZE = 11
WIN_SIGMA = 1.5
K1, K2 = 0.01, 0.03
DATA_RANGE = 255.0


def _gaussian_1d(size: int = WIN_SIZE, sigma: float = WIN_SIGMA) -> torch.Tensor:
    coords = torch.arange(size, dtype=torch.float64) - (size // 2)
    g = torch.exp(-(coords**2) / (2.0 * sigma * sigma))
    return g / g.sum()


def _blur(x: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """Separable Gaussian filter per channel, 'valid' borders (no padding)."""
    c = x.shape[1]
    x = F.conv2d(x, g.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    return F.conv2d(x, g.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)


def _ssim_and_cs(
    x: torch.Tensor, y: torch.Tensor, g: torch.Tensor, data_range: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean SSIM and mean contrast-structure term per (batch, channel) (Wang 2004, eqs. 6-13)."""
    c1 = (K1 * data_range) ** 2
    c2 = (K2 * data_range) ** 2
    mu_x, mu_y = _blur(x, g), _blur(y, g)
    var_x = _blur(x * x, g) - mu_x**2
    var_y = _blur(y * y, g) - mu_y**2
    cov_xy = _blur(x * y, g) - mu_x * mu_y
    cs_map = (2.0 * cov_xy + c2) / (var_x + var_y + c2)
    lum_map = (2.0 * mu_x * mu_y + c1) / (mu_x**2 + mu_y**2 + c1)
    return (lum_map * cs_map).mean(dim=(2, 3)), cs_map.mean(dim=(2, 3))


def _downsample(x: torch.Tensor) -> torch.Tensor:
    """2x2 average pooling; an odd dimension is zero-padded by one pixel per side (pytorch-msssim convention)."""
    pad = [s % 2 for s in x.shape[2:]]
    return F.avg_pool2d(x, kernel_size=2, padding=pad)


def min_size(levels: int = len(MS_SSIM_WEIGHTS), win_size: int = WIN_SIZE) -> int:
    """Smallest image side for which every scale is at least ``win_size`` pixels (161 for 5 scales)."""
    return (win_size - 1) * 2 ** (levels - 1) + 1


def ms_ssim_tensor(x: torch.Tensor, y: torch.Tensor, data_range: float = DATA_RANGE) -> torch.Tensor:
    """MS-SSIM per image for (B, C, H, W) tensors with values in [0, data_range]; returns shape (B,).

    MS-SSIM = [l_M c_M s_M]^w_M * prod_{j<M} [c_j s_j]^w_j (Wang 2003, eq. 7) with M = 5 scales and the
    standard weights, 11x11 Gaussian window (sigma 1.5), K1 = 0.01, K2 = 0.03. Each per-scale term is the
    spatial mean of its map, clamped at 0 before the power. The product is formed per channel and then
    averaged over channels (as pytorch-msssim does for RGB).
    """
    if x.shape != y.shape or x.ndim != 4:
        raise ValueError(f"expected two (B, C, H, W) tensors of equal shape, got {tuple(x.shape)}, {tuple(y.shape)}")
    need = min_size()
    if min(x.shape[-2:]) < need:
        raise ValueError(
            f"MS-SSIM with {len(MS_SSIM_WEIGHTS)} scales and an {WIN_SIZE}x{WIN_SIZE} window needs images of at "
            f"least {need}x{need} pixels, got {x.shape[-2]}x{x.shape[-1]}"
        )
    g = _gaussian_1d().to(device=x.device, dtype=x.dtype)
    weights = torch.tensor(MS_SSIM_WEIGHTS, dtype=x.dtype, device=x.device)
    terms = []
    for level in range(len(MS_SSIM_WEIGHTS)):
        ssim, cs = _ssim_and_cs(x, y, g, data_range)
        if level < len(MS_SSIM_WEIGHTS) - 1:
            terms.append(torch.relu(cs))
            x, y = _downsample(x), _downsample(y)
        else:
            terms.append(torch.relu(ssim))
    stacked = torch.stack(terms, dim=0)  # (levels, B, C)
    per_channel = torch.prod(stacked ** weights.view(-1, 1, 1), dim=0)
    return per_channel.mean(dim=1)


def ms_ssim(a: np.ndarray, b: np.ndarray) -> float:
    """MS-SSIM (Wang et al. 2003) between two uint8 HxWx3 RGB images, data range 255.

    Computed in float64 on the RGB channels; see :func:`ms_ssim_tensor` for the exact definition.
    Raises ValueError if the shorter side is below :func:`min_size` (161 px).
    """
    check_pair(a, b)
    with torch.no_grad():
        x = torch.from_numpy(np.array(a, copy=True)).permute(2, 0, 1).unsqueeze(0).to(torch.float64)
        y = torch.from_numpy(np.array(b, copy=True)).permute(2, 0, 1).unsqueeze(0).to(torch.float64)
        return float(ms_ssim_tensor(x, y)[0])
