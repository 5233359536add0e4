"""A bounded fuzz run in the suite (the long run is scripts/fuzz_decode.py)."""

from __future__ import annotations

import functools

import gencodec
from gencodec.container import unpack
from gencodec.models.weights import WeightsError

from .harness import run


def test_container_parser_fuzz(tiny_weights, crop_image) -> None:
    seeds = [gencodec.encode(crop_image, rate=r, weights_dir=tiny_weights).data for r in (0, 128, 255)]
    rep = run(unpack, seeds, 3000, seed=1)
    assert not rep.failures, rep.failures[:5]
    assert rep.inputs == 3000 and sum(rep.rejected.values()) > 1000


def test_full_decode_fuzz(tiny_weights, crop_image, odd_image) -> None:
    seeds = [gencodec.encode(img, rate=r, weights_dir=tiny_weights).data
             for img in (crop_image, odd_image) for r in (0, 200)]
    decode = functools.partial(gencodec.decode, weights_dir=tiny_weights, max_pixels=1 << 20)
    rep = run(decode, seeds, 400, seed=2, allowed=(gencodec.container.BitstreamError, WeightsError))
    assert not rep.failures, rep.failures[:5]
    assert rep.decoded > 0 and rep.max_seconds < 5.0
