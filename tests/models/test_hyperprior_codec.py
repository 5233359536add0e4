"""The hyperprior codec end to end on a tiny seeded model (fast, no shipped weights needed)."""

from __future__ import annotations

import numpy as np
import pytest

import gencodec
from gencodec.container import ParameterMismatch, WeightsMismatch, pack, unpack
from gencodec.entropy import categorical, gaussian


def test_encode_decode_bit_exact(tiny_weights, crop_image, odd_image) -> None:
    for img in (crop_image, odd_image):
        for rate in (0, 100, 255):
            res = gencodec.encode(img, rate=rate, weights_dir=tiny_weights)
            out = gencodec.decode(res.data, weights_dir=tiny_weights)
            assert out.shape == img.shape and out.dtype == np.uint8
            assert np.array_equal(out, res.reconstruction)


def test_rate_points_are_monotone_in_size(tiny_weights, crop_image) -> None:
    sizes = [len(gencodec.encode(crop_image, rate=r, weights_dir=tiny_weights).data) for r in (0, 64, 128, 192, 255)]
    assert sizes == sorted(sizes) and sizes[0] < sizes[-1]


def test_real_size_matches_estimate(tiny_weights, crop_image) -> None:
    res = gencodec.encode(crop_image, rate=200, weights_dir=tiny_weights)
    for name, nbytes in res.section_bytes.items():
        est = res.estimated_bits[name] / 8
        assert est - 1 <= nbytes <= est * 1.01 + 4, (name, nbytes, est)
    assert len(res.data) == res.header_bytes + sum(res.section_bytes.values())


def test_bpp_target_within_5_percent(tiny_weights, crop_image) -> None:
    lo = gencodec.encode(crop_image, rate=0, weights_dir=tiny_weights).bpp
    hi = gencodec.encode(crop_image, rate=255, weights_dir=tiny_weights).bpp
    for target in np.linspace(lo * 1.2, hi * 0.9, 4):
        res = gencodec.encode(crop_image, bpp=float(target), weights_dir=tiny_weights)
        assert abs(res.bpp - target) / target <= 0.05, (res.bpp, target)
        assert res.bpp <= target * 1.05


def test_unreachable_target_is_a_clear_error(tiny_weights, crop_image) -> None:
    from gencodec.rate_control import RateUnreachable

    with pytest.raises(RateUnreachable, match="cannot reach"):
        gencodec.encode(crop_image, bpp=1e-5, weights_dir=tiny_weights)


def test_decoding_twice_is_identical(tiny_weights, crop_image) -> None:
    res = gencodec.encode(crop_image, rate=150, weights_dir=tiny_weights)
    a = gencodec.decode(res.data, weights_dir=tiny_weights)
    b = gencodec.decode(res.data, weights_dir=tiny_weights)
    assert np.array_equal(a, b)


def test_encoding_is_deterministic(tiny_weights, crop_image) -> None:
    a = gencodec.encode(crop_image, rate=90, weights_dir=tiny_weights).data
    b = gencodec.encode(crop_image, rate=90, weights_dir=tiny_weights).data
    assert a == b


def test_weights_tag_mismatch_refuses(tiny_weights, crop_image) -> None:
    res = gencodec.encode(crop_image, rate=10, weights_dir=tiny_weights)
    header, sections = unpack(res.data)
    other = type(header)(header.model_code, (header.weights_tag + 1) % 256, header.height, header.width, header.rate)
    with pytest.raises(WeightsMismatch, match="other 'hyperprior' weights"):
        gencodec.decode(pack(other, sections), weights_dir=tiny_weights)


def test_parameter_hash_catches_a_changed_rate(tiny_weights, crop_image) -> None:
    """Same sections under another rate point: the prior differs, so the hash must refuse."""
    res = gencodec.encode(crop_image, rate=200, weights_dir=tiny_weights)
    header, sections = unpack(res.data)
    other = type(header)(header.model_code, header.weights_tag, header.height, header.width, 40)
    with pytest.raises(ParameterMismatch):
        gencodec.decode(pack(other, sections), weights_dir=tiny_weights)


def test_sections_are_what_they_claim(tiny_weights, crop_image) -> None:
    """The hyper section alone decodes with the shipped table; the latent starts with the hash."""
    from gencodec.models.registry import load_codec

    codec = load_codec("hyperprior", tiny_weights)
    res = gencodec.encode(crop_image, rate=128, weights_dir=tiny_weights)
    _, (hyper, latent) = unpack(res.data)
    z = categorical.decode(hyper, codec.table, (128 // 64) * (192 // 64))
    assert z.shape[0] == codec.cfg.n
    assert len(latent) >= 2
    assert isinstance(gaussian.SUPPORT, int)
