"""PerCo's global section: caption + seed round trips, the smallest form wins, bad payloads are typed errors."""

from __future__ import annotations

import zlib

import pytest

from gencodec.container.errors import MalformedStream
from gencodec.entropy.caption import DEFLATE, MAX_CAPTION_BYTES, UTF8, ZLIB, decode_global, encode_global


@pytest.mark.parametrize("caption", [None, "a red boat", "  a photo of a goldfish  ", "Straße, café — 東京 🚲",
                                     "a photo of a dog " * 20])
@pytest.mark.parametrize("seed", [0, 1, 63])
def test_round_trip(caption, seed) -> None:
    data = encode_global(caption, seed)
    assert decode_global(data) == (None if caption is None else caption.strip(), seed)


def test_no_caption_and_seed_zero_cost_nothing() -> None:
    assert encode_global(None, 0) == b""
    assert encode_global(None, 5) == bytes([5 << 2])


def test_smallest_form_is_chosen() -> None:
    short = encode_global("a boat")
    assert short[0] & 3 == UTF8 and short[1:] == b"a boat"
    long = encode_global("a photo of a dog " * 20)
    assert long[0] & 3 == DEFLATE and len(long) < 40  # raw deflate beats zlib by its 6-byte wrapper
    assert len(long) == 1 + len(zlib.compress(("a photo of a dog " * 20).strip().encode(), 9)) - 6


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="empty"):
        encode_global("   ")
    with pytest.raises(ValueError, match="at most"):
        encode_global("x" * (MAX_CAPTION_BYTES + 1))
    with pytest.raises(ValueError, match="seed"):
        encode_global("a boat", 64)


@pytest.mark.parametrize("payload", [
    bytes([0]) + b"x",                                    # bytes after a caption-less header
    bytes([UTF8]),                                        # empty caption
    bytes([UTF8]) + b"\xff\xfe",                          # not UTF-8
    bytes([DEFLATE]) + b"\x00\x01",                       # broken deflate
    bytes([ZLIB]) + zlib.compress(b"a boat")[:-2],        # truncated zlib
    bytes([ZLIB]) + zlib.compress(b"a boat") + b"junk",   # trailing bytes
    bytes([ZLIB]) + zlib.compress(b"a" * 100000),         # decompression bomb
    bytes([UTF8]) + b" a boat",                           # whitespace no encoder writes
])
def test_malformed_sections_raise_typed_errors(payload) -> None:
    with pytest.raises(MalformedStream):
        decode_global(payload)
