"""The hific codec end to end on a tiny seeded model built in memory (no shipped weights)."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch

from gencodec.container import ParameterMismatch, pack, unpack
from gencodec.container.errors import BitstreamError, MalformedStream
from gencodec.container.format import Header
from gencodec.container.registry import model_code, section_names
from gencodec.models.hific import HiFiCCodec, build
from gencodec.models.weights import WeightsEntry
from gencodec.nn.hific import HiFiC, HiFiCConfig
from gencodec.training.export import hific_weights

TINY = HiFiCConfig(n=16, m=24, groups=(4, 4, 8, 8), ctx_hidden=8, param_hidden=16, n_rates=3)


def _codec(context: bool = True) -> HiFiCCodec:
    torch.manual_seed(0)
    net = HiFiC(TINY)
    with torch.no_grad():  # non-trivial latents and a context that changes the priors
        net.y_gain.log_gain.add_(torch.linspace(1.0, 3.0, TINY.n_rates).unsqueeze(1))
        for agg in net.context.aggregate:
            torch.nn.init.normal_(agg[-1].weight, std=0.2 if context else 0.0)
    entry = WeightsEntry("hific", "hific.safetensors", "5e" * 32, {"model": TINY.to_dict()}, "test")
    return build(entry, hific_weights(net.state_dict()))


@pytest.fixture(scope="module")
def codec() -> HiFiCCodec:
    return _codec()


@pytest.fixture(scope="module")
def image(odd_image) -> np.ndarray:
    return np.ascontiguousarray(odd_image[:41, :73])  # odd sides, padded to 64x128


def test_round_trip_is_bit_exact_through_the_container(codec, image) -> None:
    a = codec.analyze(image)
    for rate in (0, 100, 255):
        enc = codec.code(a, rate)
        data = pack(Header(model_code("hific"), codec.weights.tag, 41, 73, rate), enc.sections)
        header, sections = unpack(data)
        assert section_names(header.model, len(sections)) == ["hyper", "latent"]
        out = codec.decode(header.height, header.width, header.rate, sections)
        assert out.shape == image.shape and out.dtype == np.uint8
        assert np.array_equal(out, codec.reconstruct(a, enc))


def test_size_grows_with_the_rate_and_matches_the_estimate(codec, image) -> None:
    a = codec.analyze(image)
    encs = [codec.code(a, r) for r in (0, 64, 128, 192, 255)]
    sizes = [sum(len(s) for s in e.sections) for e in encs]
    assert sizes == sorted(sizes) and sizes[0] < sizes[-1]
    for e in encs:
        est = e.estimated_bits["latent"] / 8
        assert est - 1 <= len(e.sections[1]) <= est * 1.01 + 4
    assert len(codec.code(a, 128, exact=False).sections[1]) >= sizes[2] - len(encs[2].sections[0])


def test_decoder_walks_the_same_priors_and_the_context_matters(codec, image) -> None:
    a = codec.analyze(image)
    enc = codec.code(a, 128)
    dec = codec.decode_latent(41, 73, 128, enc.sections)
    assert len(enc.state.scale_idx) == 2 * len(TINY.groups)
    for e, d in zip(enc.state.scale_idx, dec.scale_idx, strict=True):
        assert np.array_equal(e, d)
    assert torch.equal(enc.state.y_hat, dec.y_hat)
    plain = _codec(context=False)  # same weights, context switched off: the plain hyperprior's priors
    other = plain.code(plain.analyze(image), 128).state.scale_idx
    assert any(not np.array_equal(x, y) for x, y in zip(enc.state.scale_idx[2:], other[2:]))


def test_wrong_rate_or_sections_are_typed_errors(codec, image) -> None:
    enc = codec.code(codec.analyze(image), 200)
    with pytest.raises(ParameterMismatch):
        codec.decode(41, 73, 20, enc.sections)
    with pytest.raises(MalformedStream):
        codec.decode(41, 73, 200, enc.sections[:1])
    with pytest.raises(MalformedStream):
        codec.decode(41, 73, 200, [enc.sections[0], enc.sections[1][:1]])


def test_corrupt_latent_bytes_never_crash_or_hang(codec, image) -> None:
    enc = codec.code(codec.analyze(image), 160)
    hyper, latent = enc.sections
    good = codec.decode(41, 73, 160, enc.sections)
    rng = np.random.default_rng(0)
    t0 = time.perf_counter()
    outcomes = {"error": 0, "image": 0, "same": 0}
    for i in range(24):
        bad = bytearray(latent)
        pos = i if i < len(bad) else int(rng.integers(0, len(bad)))
        bad[pos] ^= int(rng.integers(1, 256))
        if pos < 2:  # the parameter hash itself
            with pytest.raises(ParameterMismatch):
                codec.decode(41, 73, 160, [hyper, bytes(bad)])
            continue
        try:
            out = codec.decode(41, 73, 160, [hyper, bytes(bad)])
        except BitstreamError:
            outcomes["error"] += 1
            continue
        assert out.shape == image.shape
        outcomes["image" if not np.array_equal(out, good) else "same"] += 1
    assert time.perf_counter() - t0 < 60


def test_decoding_is_independent_of_the_thread_count(codec, image) -> None:
    a = codec.analyze(image)
    enc = codec.code(a, 220)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        out = codec.decode(41, 73, 220, enc.sections)
    finally:
        torch.set_num_threads(threads)
    assert np.array_equal(out, codec.reconstruct(a, enc))
