"""Chunked Gaussian streams (context models): one payload, chunks decoded one after the other."""

from __future__ import annotations

import numpy as np
import pytest

from gencodec.container.errors import BitstreamError
from gencodec.entropy import gaussian
from gencodec.entropy.params import SCALE_TABLE


def _sample(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, 48, n).astype(np.int16)
    return np.rint(rng.normal(0, SCALE_TABLE[idx])).astype(np.int32), idx


@pytest.mark.parametrize("n", [0, 1, 7, 500])
def test_one_chunk_is_the_plain_stream(n: int) -> None:
    q, idx = _sample(n, n)
    assert gaussian.encode_chunks([q], [idx]) == gaussian.encode(q, idx)
    assert gaussian.encode_chunks([q], [idx], exact=False) == gaussian.encode(q, idx, exact=False)


def test_chunks_round_trip_with_escapes_and_empty_chunks() -> None:
    chunks = [_sample(n, 10 + n) for n in (5, 0, 300, 1, 64)]
    chunks[2][0][[0, 7, 9]] = [300, -(2**20), 256]
    chunks[4][0][3] = -255
    payload = gaussian.encode_chunks([q for q, _ in chunks], [s for _, s in chunks])
    dec = gaussian.ChunkDecoder(payload)
    for q, s in chunks:
        assert np.array_equal(dec.decode(s), q)


def test_corrupt_chunk_stream_is_typed_or_decodes() -> None:
    chunks = [_sample(n, n) for n in (40, 80)]
    payload = bytearray(gaussian.encode_chunks([q for q, _ in chunks], [s for _, s in chunks]))
    rng = np.random.default_rng(0)
    for _ in range(40):
        bad = bytearray(payload)
        bad[rng.integers(0, len(bad))] ^= int(rng.integers(1, 256))
        try:
            dec = gaussian.ChunkDecoder(bytes(bad[: rng.integers(0, len(bad) + 1)]))
            for q, s in chunks:
                assert dec.decode(s).shape == q.shape
        except BitstreamError:
            pass
