"""SGA refinement and ROI masks on the tiny model: reproducible, decodable, bits move into the ROI."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from PIL import Image

import gencodec
from gencodec.models.base import to_tensor
from gencodec.models.registry import load_codec
from gencodec.refine.roi import MaskError, load_mask, parse_weights
from gencodec.refine.sga import SGAConfig, refine, sga_round


def test_sga_round_anneals_to_rounding() -> None:
    u = torch.linspace(-3, 3, 1001)
    gen = torch.Generator().manual_seed(0)
    hard = sga_round(u, 1e-3, gen)
    clear = (u - torch.floor(u) - 0.5).abs() > 0.05  # away from the ambiguous half-way points
    assert torch.allclose(hard[clear], torch.round(u)[clear], atol=1e-3)
    soft = sga_round(u, 0.5, gen)
    assert torch.all((soft >= torch.floor(u)) & (soft <= torch.floor(u) + 1))


def test_refined_stream_is_reproducible_and_decodes(tiny_weights, crop_image) -> None:
    kw = dict(rate=200, refine="sga", refine_steps=6, weights_dir=tiny_weights, seed=3)
    a = gencodec.encode(crop_image, **kw)
    b = gencodec.encode(crop_image, **kw)
    assert a.data == b.data
    out = gencodec.decode(a.data, weights_dir=tiny_weights)
    assert np.array_equal(out, a.reconstruction)
    c = gencodec.encode(crop_image, **{**kw, "seed": 4})
    assert c.data != a.data


def test_refinement_respects_bpp(tiny_weights, crop_image) -> None:
    hi = gencodec.encode(crop_image, rate=255, weights_dir=tiny_weights).bpp
    target = hi * 0.6
    res = gencodec.encode(crop_image, bpp=target, refine="sga", refine_steps=5, weights_dir=tiny_weights)
    assert res.bpp <= target * 1.05 and abs(res.bpp - target) / target <= 0.05


def _bits_map(problem, y: torch.Tensor) -> torch.Tensor:
    g = problem.gain(torch.tensor([problem.t0])).float()
    u = torch.round(y * g - problem.mu * g)
    s = (problem.sigma * g).clamp_min(0.11)
    c = u.abs()
    p = 0.5 * torch.erfc((c - 0.5) / (s * math.sqrt(2))) - 0.5 * torch.erfc((c + 0.5) / (s * math.sqrt(2)))
    return -torch.log2(p.clamp_min(1e-9)).sum(dim=1)[0]  # (h, w) bits per latent position


def test_roi_moves_bits_into_the_region(crop_image) -> None:
    """With the shipped model: weighting only the left half moves latent bits to the left half."""
    codec = load_codec("hyperprior")
    a = codec.analyze(crop_image)
    problem = codec.refine_problem(a, 120)
    h, w = crop_image.shape[:2]
    mask = torch.zeros(1, 1, h, w)
    mask[..., :, : w // 2] = 1.0  # left half is the region of interest
    x = to_tensor(crop_image)
    budget = float(_bits_map(problem, problem.y0).sum())
    cfg = SGAConfig(steps=12, learn_step=False, seed=0)
    plain = refine(problem, x, budget, cfg).y
    roi = refine(problem, x, budget, cfg, mask=mask, roi_weights=(1.0, 0.0)).y
    lw = problem.y0.shape[-1] // 2  # latent columns under the left half (192 px -> 12 columns, 6 left)

    def share(y: torch.Tensor) -> float:
        bits = _bits_map(problem, y)
        return float(bits[:, :lw].sum() / bits.sum())

    assert share(roi) > share(plain) + 0.02


def test_masks(tmp_path) -> None:
    Image.fromarray(np.full((10, 20), 255, np.uint8)).save(tmp_path / "m.png")
    m, notes = load_mask(tmp_path / "m.png", 40, 80)
    assert m.shape == (40, 80) and m.max() == 1.0 and not notes
    _, notes = load_mask(tmp_path / "m.png", 80, 80)
    assert notes and "aspect" in notes[0]
    Image.fromarray(np.zeros((10, 20), np.uint8)).save(tmp_path / "empty.png")
    with pytest.raises(MaskError, match="empty"):
        load_mask(tmp_path / "empty.png", 40, 80)
    with pytest.raises(MaskError, match="no such"):
        load_mask(tmp_path / "nope.png", 40, 80)
    (tmp_path / "bad.png").write_bytes(b"nope")
    with pytest.raises(MaskError, match="cannot read"):
        load_mask(tmp_path / "bad.png", 40, 80)
    assert parse_weights("1,0.2") == (1.0, 0.2)
    with pytest.raises(MaskError):
        parse_weights("1")


def test_roi_shape_checked(tiny_weights, crop_image) -> None:
    with pytest.raises(ValueError, match="image size"):
        gencodec.encode(crop_image, rate=10, roi=np.ones((3, 3), np.float32), weights_dir=tiny_weights)
